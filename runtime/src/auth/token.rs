//! Access tokens: HS256 JWTs, algorithm pinned, keys rotatable.
//!
//! Claims: `sub` (user id), `tid` (tenant id), `role`, `iat`, `exp`.
//! Verification needs no database round trip.

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::model::{TenantId, UserId};

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: String,
    /// The tenant the token is valid for.
    pub tid: String,
    /// The user's role in that tenant.
    pub role: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Expires at (unix seconds).
    pub exp: i64,
}

/// Signing and verification keys.
#[derive(Clone)]
pub struct TokenKeys {
    signing: EncodingKey,
    verifying: Vec<DecodingKey>,
    validation: Validation,
    ttl: i64,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("keys", &self.verifying.len())
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// A verified access token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedToken<'a> {
    /// The user.
    pub user: UserId,
    /// The tenant.
    pub tenant: TenantId,
    /// The role name.
    pub role: &'a str,
}

impl TokenKeys {
    /// Keys from the current secret and older ones still accepted.
    pub fn new(secret: &[u8], previous: &[Vec<u8>], ttl_seconds: i64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        validation.validate_exp = true;
        let mut verifying = vec![DecodingKey::from_secret(secret)];
        verifying.extend(previous.iter().map(|k| DecodingKey::from_secret(k)));
        Self {
            signing: EncodingKey::from_secret(secret),
            verifying,
            validation,
            ttl: ttl_seconds,
        }
    }

    /// Access token lifetime in seconds.
    pub fn ttl(&self) -> i64 {
        self.ttl
    }

    /// Issues an access token.
    pub fn issue(&self, user: UserId, tenant: TenantId, role: &str) -> Result<String, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user.to_string(),
            tid: tenant.to_string(),
            role: role.to_owned(),
            iat: now,
            exp: now + self.ttl,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.signing)
    }

    /// Verifies a token against every accepted key; `None` when the
    /// signature, algorithm, expiry or claims are wrong.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        self.verifying
            .iter()
            .find_map(|key| jsonwebtoken::decode::<Claims>(token, key, &self.validation).ok())
            .map(|data| data.claims)
    }
}

impl Claims {
    /// The typed ids of the claims; `None` when they are not ids.
    pub fn parsed(&self) -> Option<VerifiedToken<'_>> {
        Some(VerifiedToken {
            user: self.sub.parse().ok()?,
            tenant: self.tid.parse().ok()?,
            role: &self.role,
        })
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn issued_tokens_verify_and_carry_the_tenant() {
        let keys = TokenKeys::new(SECRET, &[], 60);
        let (user, tenant) = (UserId::new_v7(), TenantId::new_v7());
        let token = keys.issue(user, tenant, "admin").unwrap();
        let claims = keys.verify(&token).unwrap();
        let parsed = claims.parsed().unwrap();
        assert_eq!((parsed.user, parsed.tenant, parsed.role), (user, tenant, "admin"));
    }

    #[test]
    fn refuses_forged_expired_and_algorithm_swapped_tokens() {
        let keys = TokenKeys::new(SECRET, &[], 60);
        let other = TokenKeys::new(b"another-secret-another-secret-xx", &[], 60);
        let token = other.issue(UserId::new_v7(), TenantId::new_v7(), "owner").unwrap();
        assert!(keys.verify(&token).is_none(), "wrong key");

        let expired = TokenKeys::new(SECRET, &[], -10)
            .issue(UserId::new_v7(), TenantId::new_v7(), "owner")
            .unwrap();
        assert!(keys.verify(&expired).is_none(), "expired");

        // alg = none, same claims, no signature.
        let good = keys.issue(UserId::new_v7(), TenantId::new_v7(), "owner").unwrap();
        let claims = good.split('.').nth(1).unwrap();
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(keys.verify(&format!("{header}.{claims}.")).is_none(), "alg none");
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &keys.verify(&good).unwrap(),
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap();
        assert!(keys.verify(&hs512).is_none(), "algorithm swapped");
    }

    #[test]
    fn rotated_keys_still_verify() {
        let old = b"old-secret-old-secret-old-secret".to_vec();
        let before = TokenKeys::new(&old, &[], 60)
            .issue(UserId::new_v7(), TenantId::new_v7(), "viewer")
            .unwrap();
        let after = TokenKeys::new(SECRET, &[old], 60);
        assert!(after.verify(&before).is_some());
    }
}
