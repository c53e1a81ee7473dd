//! Standard Webhooks signatures: `v1,<base64 HMAC-SHA256>` of
//! `{webhook-id}.{webhook-timestamp}.{body}` with a symmetric secret
//! shown to the endpoint's owner as `whsec_<base64>`. During a rotation a
//! delivery is signed with the new secret and each retiring one until its
//! grace window ends: `webhook-signature` lists them all, space-separated,
//! and a receiver that knows any one of them verifies it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// The prefix of a serialised secret.
const PREFIX: &str = "whsec_";
/// Bytes of a generated secret (256 bits; the spec asks for 24 to 64).
const GENERATED: usize = 32;
/// Bytes a secret must have: at least 24 (192 bits), at most 64.
const LENGTH: std::ops::RangeInclusive<usize> = 24..=64;

/// Standard base64, padded or not: what the official libraries read.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How long the old secret keeps signing after a rotation, so receivers
/// can switch without a delivery failing.
pub const ROTATION_GRACE: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// A secret was not `whsec_<base64>` of 24 to 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The text after `whsec_` is not base64.
    #[error("a webhook secret is `whsec_` and base64")]
    NotBase64,
    /// The secret decodes to too few or too many bytes.
    #[error("a webhook secret must be 24 to 64 bytes, not {0}")]
    Length(usize),
}

/// An endpoint's signing secret. `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl Secret {
    /// A new random secret of 32 bytes (rand's thread generator: a CSPRNG
    /// seeded and reseeded from the operating system).
    pub fn generate() -> Self {
        use rand::RngCore as _;
        let mut bytes = vec![0u8; GENERATED];
        rand::rng().fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// Reads `whsec_<base64>` (padded or not; the prefix may be left out,
    /// as the official libraries allow).
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.trim().strip_prefix(PREFIX).unwrap_or(text.trim());
        let bytes = LENIENT.decode(encoded).map_err(|_| SecretError::NotBase64)?;
        if LENGTH.contains(&bytes.len()) {
            Ok(Self(bytes))
        } else {
            Err(SecretError::Length(bytes.len()))
        }
    }

    /// The secret as the endpoint's owner is shown it and the database
    /// keeps it: `whsec_<base64>`.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The secrets an endpoint signs with: its current one and, during a
/// rotation, the ones it replaced, each until its grace window ends.
#[derive(Debug, Clone)]
pub struct SigningKeys {
    current: Secret,
    retiring: Vec<(Secret, DateTime<Utc>)>,
}

impl SigningKeys {
    /// Signs with `current` alone.
    pub fn new(current: Secret) -> Self {
        Self {
            current,
            retiring: Vec::new(),
        }
    }

    /// Also signs with `secret` until `until` (a secret rotated away
    /// earlier, as stored).
    pub fn with_retiring(mut self, secret: Secret, until: DateTime<Utc>) -> Self {
        self.retiring.push((secret, until));
        self
    }

    /// Rotates to `new` at `now`: the current secret keeps signing for
    /// `grace`; retiring secrets whose window has ended are dropped.
    pub fn rotate(mut self, new: Secret, now: DateTime<Utc>, grace: chrono::TimeDelta) -> Self {
        let old = std::mem::replace(&mut self.current, new);
        self.retiring.retain(|(_, until)| *until > now);
        self.retiring.push((old, now + grace));
        self
    }

    /// The secret new deliveries are signed with first.
    pub fn current(&self) -> &Secret {
        &self.current
    }

    /// The retiring secrets with the end of their windows, as the database
    /// should keep them.
    pub fn retiring(&self) -> &[(Secret, DateTime<Utc>)] {
        &self.retiring
    }

    /// The `webhook-signature` header at `now`: the current secret's
    /// signature, then each retiring secret's still in its window,
    /// space-separated.
    pub fn signature_header(&self, id: &str, timestamp: i64, body: &[u8], now: DateTime<Utc>) -> String {
        let mut header = self.current.sign(id, timestamp, body);
        for (secret, until) in &self.retiring {
            if *until > now {
                header.push(' ');
                header.push_str(&secret.sign(id, timestamp, body));
            }
        }
        header
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use chrono::{TimeDelta, TimeZone as _, Utc};

    use super::{Secret, SecretError, SigningKeys};

    /// The official Python library's published vector
    /// (standard-webhooks `libraries/python/tests/test_webhooks.py`,
    /// `test_sign_function`).
    #[test]
    fn signs_the_published_test_vector() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signature = secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#);
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn generated_secrets_are_whsec_base64_of_32_random_bytes() {
        let a = Secret::generate();
        let text = a.expose();
        let encoded = text.strip_prefix("whsec_").expect("prefixed");
        assert_eq!(
            base64::engine::general_purpose::STANDARD.decode(encoded).unwrap().len(),
            32
        );
        assert_eq!(Secret::parse(&text).unwrap(), a, "round trip");
        assert_ne!(Secret::generate(), a);
        assert_eq!(format!("{a:?}"), "Secret(***)", "Debug shows nothing");
    }

    #[test]
    fn parsing_accepts_what_the_official_libraries_accept_and_refuses_weak_keys() {
        let unpadded = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(), unpadded);
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        assert_eq!(Secret::parse(&format!("whsec_{short}")), Err(SecretError::Length(16)));
        assert_eq!(Secret::parse("whsec_not base64!"), Err(SecretError::NotBase64));
        assert_eq!(Secret::parse("whsec_"), Err(SecretError::Length(0)));
    }

    #[test]
    fn a_rotation_signs_with_both_secrets_until_the_grace_window_ends() {
        let (old, new) = (Secret::generate(), Secret::generate());
        let now = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        let keys = SigningKeys::new(old.clone()).rotate(new.clone(), now, TimeDelta::hours(24));
        let (id, ts, body) = ("msg_1", now.timestamp(), b"{}");
        let during = keys.signature_header(id, ts, body, now + TimeDelta::hours(23));
        assert_eq!(during, format!("{} {}", new.sign(id, ts, body), old.sign(id, ts, body)));
        let after = keys.signature_header(id, ts, body, now + TimeDelta::hours(24));
        assert_eq!(
            after,
            new.sign(id, ts, body),
            "the old secret stops at the window's end"
        );
        let again = keys.rotate(Secret::generate(), now + TimeDelta::hours(25), TimeDelta::hours(24));
        assert_eq!(again.retiring().len(), 1, "expired retiring secrets are dropped");
        assert_eq!(again.retiring()[0].0, new);
    }
}
