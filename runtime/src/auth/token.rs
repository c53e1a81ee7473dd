//! Access tokens: HS256 JWTs, algorithm pinned, keys rotatable.
//!
//! Claims: `sub` (user id), `tid` (tenant id), `role`, `iat`, `exp`.
//! `iat` has milliseconds (a JWT NumericDate may have a fraction), so a
//! revocation refuses the tokens issued before it and not the ones its
//! member gets by refreshing in the same second.
//! Verification needs no database round trip. A token that verified is
//! remembered until it expires, keyed by its exact text: the signature
//! check and the claims' parsing are a twentieth of a request's CPU, and a
//! client sends the same token with every request.
//!
//! A token is a bearer credential: nothing in it changes when its member
//! is removed or their role changes. Such a change refuses the member's
//! tokens issued until then (`auth::revoked`, on every instance) and
//! [`TokenKeys::forget`]s the ones remembered here.

// Public under the `testing` feature (the runtime's own tests mint tokens),
// crate-internal otherwise.
#![allow(unreachable_pub)]

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::model::{TenantId, UserId};

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The user.
    pub sub: String,
    /// The tenant the token is valid for.
    pub tid: String,
    /// The user's role in that tenant.
    pub role: String,
    /// Issued at (unix seconds, with milliseconds in tokens issued here).
    pub iat: f64,
    /// Expires at (unix seconds).
    pub exp: i64,
}

/// How many verified tokens are remembered; past that the memory is
/// emptied and starts again.
const REMEMBERED: usize = 16_384;

/// Signing and verification keys.
#[derive(Clone)]
pub struct TokenKeys {
    signing: EncodingKey,
    verifying: Vec<DecodingKey>,
    validation: Validation,
    ttl: i64,
    /// Tokens that verified, by their text.
    verified: Arc<RwLock<HashMap<Box<str>, Arc<Claims>>>>,
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
            verified: Arc::default(),
        }
    }

    /// Access token lifetime in seconds.
    pub fn ttl(&self) -> i64 {
        self.ttl
    }

    /// Issues an access token.
    pub fn issue(&self, user: UserId, tenant: TenantId, role: &str) -> Result<String, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now();
        let claims = Claims {
            sub: user.to_string(),
            tid: tenant.to_string(),
            role: role.to_owned(),
            iat: now.timestamp_millis() as f64 / 1000.0,
            exp: now.timestamp() + self.ttl,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.signing)
    }

    /// Verifies a token against every accepted key; `None` when the
    /// signature, algorithm, expiry or claims are wrong. The expiry is
    /// checked on every call, also for a token that verified before.
    pub fn verify(&self, token: &str) -> Option<Arc<Claims>> {
        self.verify_at(
            token,
            i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap_or(i64::MAX),
        )
    }

    /// [`TokenKeys::verify`] at unix time `now` for remembered tokens
    /// (jsonwebtoken reads the clock itself for new ones).
    fn verify_at(&self, token: &str, now: i64) -> Option<Arc<Claims>> {
        let remembered = self
            .verified
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(token)
            .cloned();
        if let Some(claims) = remembered {
            // jsonwebtoken's rule with leeway 0: expired when exp < now.
            return (claims.exp >= now).then_some(claims);
        }
        let claims = self
            .verifying
            .iter()
            .find_map(|key| jsonwebtoken::decode::<Claims>(token, key, &self.validation).ok())
            .map(|data| Arc::new(data.claims))?;
        let mut verified = self.verified.write().unwrap_or_else(|e| e.into_inner());
        if verified.len() >= REMEMBERED {
            verified.clear();
        }
        verified.insert(token.into(), Arc::clone(&claims));
        Some(claims)
    }
}

impl TokenKeys {
    /// Drops the remembered tokens of `user` in `tenant` (after a
    /// revocation: they are checked again, and refused, on their next use).
    pub(crate) fn forget(&self, tenant: TenantId, user: UserId) {
        let mut verified = self.verified.write().unwrap_or_else(|e| e.into_inner());
        verified.retain(|_, claims| {
            claims
                .parsed()
                .is_none_or(|token| token.tenant != tenant || token.user != user)
        });
    }
}

impl Claims {
    /// When the token was issued, in unix milliseconds.
    pub(crate) fn issued_at_millis(&self) -> i64 {
        // In range for any date a token can carry; `as` saturates beyond.
        (self.iat * 1000.0).round() as i64
    }

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
    fn remembered_tokens_still_expire_and_only_their_exact_text_hits() {
        let keys = TokenKeys::new(SECRET, &[], 60);
        let token = keys.issue(UserId::new_v7(), TenantId::new_v7(), "owner").unwrap();
        let claims = keys.verify(&token).unwrap();
        assert_eq!(keys.verify_at(&token, claims.exp).as_deref(), Some(&*claims));
        assert!(
            keys.verify_at(&token, claims.exp + 1).is_none(),
            "expired while remembered"
        );
        // The same claims with another signature are not the remembered token.
        let (body, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
        let forged = format!("{body}.{flipped}{}", &signature[1..]);
        assert!(keys.verify(&forged).is_none());
        // Past the bound the memory starts again; verification still works.
        for _ in 0..=REMEMBERED {
            let other = keys.issue(UserId::new_v7(), TenantId::new_v7(), "owner").unwrap();
            assert!(keys.verify(&other).is_some());
        }
        assert!(keys.verified.read().unwrap().len() <= REMEMBERED);
        assert!(keys.verify(&token).is_some());
    }

    #[test]
    fn forgets_the_tokens_of_one_member_only() {
        let keys = TokenKeys::new(SECRET, &[], 60);
        let (tenant, user) = (TenantId::new_v7(), UserId::new_v7());
        let token = keys.issue(user, tenant, "member").unwrap();
        let other = keys.issue(UserId::new_v7(), tenant, "member").unwrap();
        let elsewhere = keys.issue(user, TenantId::new_v7(), "member").unwrap();
        for t in [&token, &other, &elsewhere] {
            assert!(keys.verify(t).is_some());
        }
        keys.forget(tenant, user);
        let remembered = keys.verified.read().unwrap();
        assert!(!remembered.contains_key(token.as_str()));
        assert!(remembered.contains_key(other.as_str()) && remembered.contains_key(elsewhere.as_str()));
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
            &*keys.verify(&good).unwrap(),
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
