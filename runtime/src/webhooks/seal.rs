//! Signing secrets at rest: sealed with ChaCha20-Poly1305 under the
//! server's key (`ROOKERY_WEBHOOKS_SECRET_KEY`), bound to the tenant and
//! the endpoint they belong to, so a copy of the database alone signs
//! nothing, and a sealed secret moved to another row does not open.
//!
//! Stored as `v1.<base64url of nonce ‖ ciphertext ‖ tag>`; the nonce is 96
//! random bits per seal.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use uuid::Uuid;

use super::signing::Secret;
use crate::model::TenantId;

const VERSION: &str = "v1.";

/// The key that seals endpoints' secrets. `Debug` shows nothing of it.
#[derive(Clone)]
pub struct SealingKey([u8; 32]);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(***)")
    }
}

/// A sealed secret that does not open: another key sealed it (the key
/// changed), or the stored text was altered or moved to another endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the endpoint's signing secret cannot be opened (was ROOKERY_WEBHOOKS_SECRET_KEY changed?): rotate the endpoint's secret"
)]
pub struct Unsealable;

impl SealingKey {
    /// The key of 32 bytes `key` (the configuration's).
    pub fn new(key: [u8; 32]) -> Self {
        Self(key)
    }

    fn aead(&self) -> LessSafeKey {
        LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &self.0).expect("a 32-byte key"))
    }

    /// `secret` sealed for endpoint `endpoint` of `tenant`.
    pub fn seal(&self, tenant: TenantId, endpoint: Uuid, secret: &Secret) -> String {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut sealed = secret.expose().into_bytes();
        self.aead()
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad(tenant, endpoint)),
                &mut sealed,
            )
            .expect("ChaCha20-Poly1305 seals any length a secret has");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// The secret `text` seals for endpoint `endpoint` of `tenant`.
    pub fn open(&self, tenant: TenantId, endpoint: Uuid, text: &str) -> Result<Secret, Unsealable> {
        let bytes = text
            .strip_prefix(VERSION)
            .and_then(|b| URL_SAFE_NO_PAD.decode(b).ok())
            .filter(|b| b.len() > NONCE_LEN)
            .ok_or(Unsealable)?;
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Unsealable)?;
        let mut sealed = sealed.to_vec();
        let plain = self
            .aead()
            .open_in_place(nonce, Aad::from(aad(tenant, endpoint)), &mut sealed)
            .map_err(|_| Unsealable)?;
        let text = std::str::from_utf8(plain).map_err(|_| Unsealable)?;
        Secret::parse(text).map_err(|_| Unsealable)
    }
}

/// What a sealed secret is bound to: its tenant and its endpoint.
fn aad(tenant: TenantId, endpoint: Uuid) -> [u8; 32] {
    let mut aad = [0u8; 32];
    aad[..16].copy_from_slice(tenant.0.as_bytes());
    aad[16..].copy_from_slice(endpoint.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::{SealingKey, Unsealable};
    use crate::model::TenantId;
    use crate::webhooks::Secret;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_tenant_and_endpoint() {
        let key = SealingKey::new([7; 32]);
        let (tenant, endpoint) = (TenantId::new_v7(), uuid::Uuid::now_v7());
        let secret = Secret::generate();
        let sealed = key.seal(tenant, endpoint, &secret);
        assert!(sealed.starts_with("v1."), "{sealed}");
        assert!(!sealed.contains(&secret.expose()[6..]), "the secret is not in the text");
        assert_ne!(key.seal(tenant, endpoint, &secret), sealed, "a fresh nonce per seal");
        assert_eq!(key.open(tenant, endpoint, &sealed), Ok(secret));
        assert_eq!(
            SealingKey::new([8; 32]).open(tenant, endpoint, &sealed),
            Err(Unsealable),
            "another key"
        );
        assert_eq!(
            key.open(TenantId::new_v7(), endpoint, &sealed),
            Err(Unsealable),
            "another tenant"
        );
        assert_eq!(
            key.open(tenant, uuid::Uuid::now_v7(), &sealed),
            Err(Unsealable),
            "another endpoint"
        );
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(key.open(tenant, endpoint, &altered), Err(Unsealable), "altered");
        assert_eq!(key.open(tenant, endpoint, "whsec_plain"), Err(Unsealable));
        assert_eq!(format!("{key:?}"), "SealingKey(***)");
    }
}
