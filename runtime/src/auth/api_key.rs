//! API keys: `<app>_<env>_<prefix>_<secret><checksum>`, shown once, stored
//! as HMAC-SHA256 under a server-side pepper, compared in constant time.
//!
//! The 8-character prefix is stored in clear to find the row; the checksum
//! (CRC-free: the first 4 base62 characters of a SHA-256 of the rest) lets
//! the server reject typos and scanners without touching the database.

use hmac::{Hmac, Mac};
use rand::Rng as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PREFIX_LEN: usize = 8;
const SECRET_LEN: usize = 32;
const CHECK_LEN: usize = 4;

fn random_base62(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn checksum(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    digest
        .iter()
        .take(CHECK_LEN)
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// A freshly generated key: the full text (shown once) and its prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewApiKey {
    /// The whole key, to show the user once.
    pub key: String,
    /// The lookup prefix, stored in clear.
    pub prefix: String,
}

/// Generates a key for app `app` in environment `env` (`live` / `test`).
pub(crate) fn generate(app: &str, env: &str) -> NewApiKey {
    let prefix = random_base62(PREFIX_LEN);
    let body = format!("{app}_{env}_{prefix}_{}", random_base62(SECRET_LEN));
    let key = format!("{body}{}", checksum(&body));
    NewApiKey { key, prefix }
}

/// Whether `token` looks like a key of this app (so it is not a JWT).
pub(crate) fn looks_like_key(app: &str, token: &str) -> bool {
    token
        .strip_prefix(app)
        .is_some_and(|rest| rest.starts_with("_live_") || rest.starts_with("_test_"))
}

/// The lookup prefix of a well-formed key with a valid checksum.
pub(crate) fn parse(app: &str, env: &str, key: &str) -> Option<String> {
    let rest = key
        .strip_prefix(app)?
        .strip_prefix('_')?
        .strip_prefix(env)?
        .strip_prefix('_')?;
    let (prefix, tail) = rest.split_once('_')?;
    if prefix.len() != PREFIX_LEN || tail.len() != SECRET_LEN + CHECK_LEN || !tail.is_ascii() {
        return None;
    }
    let (body, check) = key.split_at(key.len() - CHECK_LEN);
    (checksum(body) == check).then(|| prefix.to_owned())
}

/// The stored hash of a key.
pub(crate) fn hash(pepper: &[u8], key: &str) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(pepper).expect("HMAC accepts any key length");
    mac.update(key.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Whether `key` hashes to `stored`, in constant time.
pub(crate) fn verify(pepper: &[u8], key: &str, stored: &[u8]) -> bool {
    hash(pepper, key).ct_eq(stored).into()
}

/// How far behind a key's recorded last use may be: a use is written when
/// the last one recorded is older than this, or came from another address,
/// so a busy key costs one write a minute, not one per request.
pub(crate) const LAST_USE_PRECISION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// When and from which address a key was last used, as its row says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LastUse {
    /// When.
    pub at: Option<chrono::DateTime<chrono::Utc>>,
    /// From where (the client's address, as `ROOKERY_TRUST_PROXY` reads it).
    pub ip: Option<String>,
}

impl LastUse {
    /// Whether a use from `ip` at `now` is to be written.
    pub(crate) fn stale(&self, ip: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.ip.as_deref() != Some(ip) || self.at.is_none_or(|at| now - at >= LAST_USE_PRECISION)
    }
}

/// A random opaque token (refresh tokens, invitations) and its SHA-256.
pub(crate) fn opaque_token() -> (String, Vec<u8>) {
    let token = random_base62(43);
    let digest = Sha256::digest(token.as_bytes()).to_vec();
    (token, digest)
}

/// The SHA-256 of an opaque token.
pub(crate) fn opaque_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_verify() {
        let k = generate("taskboard", "live");
        assert!(k.key.starts_with("taskboard_live_"));
        assert!(looks_like_key("taskboard", &k.key));
        assert_eq!(parse("taskboard", "live", &k.key), Some(k.prefix.clone()));
        let stored = hash(b"pepper", &k.key);
        assert!(verify(b"pepper", &k.key, &stored));
        assert!(!verify(b"other pepper", &k.key, &stored));
    }

    #[test]
    fn a_use_is_written_once_a_minute_or_from_a_new_address() {
        let now = chrono::Utc::now();
        assert!(LastUse::default().stale("10.0.0.1", now), "never used");
        let last = LastUse {
            at: Some(now - chrono::TimeDelta::seconds(5)),
            ip: Some("10.0.0.1".into()),
        };
        assert!(!last.stale("10.0.0.1", now));
        assert!(last.stale("10.0.0.2", now), "another address");
        assert!(last.stale("10.0.0.1", now + LAST_USE_PRECISION), "a minute later");
    }

    #[test]
    fn refuses_typos_other_envs_and_other_apps() {
        let k = generate("taskboard", "test");
        let mut typo = k.key.clone().into_bytes();
        let i = typo.len() - 10;
        typo[i] = if typo[i] == b'a' { b'b' } else { b'a' };
        assert_eq!(parse("taskboard", "test", std::str::from_utf8(&typo).unwrap()), None);
        assert_eq!(parse("taskboard", "live", &k.key), None);
        assert_eq!(parse("other", "test", &k.key), None);
        assert!(!looks_like_key("taskboard", "eyJhbGciOi.x.y"));
    }
}
