//! Key names (see the table in `shared`), written on the stack: no
//! allocation per request.

use std::fmt::Write as _;

use super::Counter;
use crate::model::{TenantId, UserId};

/// A key: the prefix and a few parts.
pub(crate) struct Key {
    bytes: [u8; 192],
    len: usize,
}

impl Key {
    fn new(prefix: &str) -> Self {
        let mut key = Self {
            bytes: [0; 192],
            len: 0,
        };
        key.push(prefix);
        key
    }

    fn push(&mut self, part: &str) {
        let end = (self.len + part.len()).min(self.bytes.len());
        self.bytes[self.len..end].copy_from_slice(&part.as_bytes()[..end - self.len]);
        self.len = end;
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }

    /// The counter key of `counter`.
    pub(crate) fn counter(prefix: &str, counter: Counter<'_>) -> Self {
        let mut key = Self::new(prefix);
        match counter {
            Counter::Api(tenant) => {
                key.push(":rl:api:");
                key.tenant(tenant);
            }
            Counter::SignIn(ip) => {
                key.push(":rl:sign-in:");
                let _ = write!(key, "{ip}");
            }
            Counter::Account(hash) => {
                key.push(":rl:account:");
                for b in hash {
                    let _ = write!(key, "{b:02x}");
                }
            }
        }
        key
    }

    /// The version key of a tenant's facts.
    pub(crate) fn facts(prefix: &str, tenant: TenantId) -> Self {
        let mut key = Self::new(prefix);
        key.push(":facts:");
        key.tenant(tenant);
        key
    }

    /// The revocations' sorted set.
    pub(crate) fn revoked(prefix: &str) -> Self {
        let mut key = Self::new(prefix);
        key.push(":revoked");
        key
    }

    /// The revocations' generation.
    pub(crate) fn generation(prefix: &str) -> Self {
        let mut key = Self::new(prefix);
        key.push(":revoked:generation");
        key
    }

    fn tenant(&mut self, tenant: TenantId) {
        let mut buffer = uuid::Uuid::encode_buffer();
        self.push(tenant.0.hyphenated().encode_lower(&mut buffer));
    }
}

impl std::fmt::Write for Key {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push(s);
        Ok(())
    }
}

/// A member of the revocations' set: `<tenant>:<user>`.
pub(crate) fn member(tenant: TenantId, user: UserId) -> String {
    format!("{}:{}", tenant.0, user.0)
}

/// The tenant and user of a member of the revocations' set.
pub(crate) fn parse_member(member: &[u8]) -> Option<(TenantId, UserId)> {
    let (tenant, user) = std::str::from_utf8(member).ok()?.split_once(':')?;
    Some((TenantId(tenant.parse().ok()?), UserId(user.parse().ok()?)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{TenantId, UserId};

    #[test]
    fn keys_carry_the_prefix_and_the_tenant() {
        let tenant: TenantId = "0192f1a2-7b3c-7d4e-8f90-123456789abc".parse().unwrap();
        let key = Key::counter("taskboard", Counter::Api(tenant));
        assert_eq!(key.as_bytes(), b"taskboard:rl:api:0192f1a2-7b3c-7d4e-8f90-123456789abc");
        let key = Key::facts("taskboard", tenant);
        assert_eq!(key.as_bytes(), b"taskboard:facts:0192f1a2-7b3c-7d4e-8f90-123456789abc");
        let ip = Key::counter("t", Counter::SignIn("::1".parse().unwrap()));
        assert_eq!(ip.as_bytes(), b"t:rl:sign-in:::1");
        let account = Key::counter("t", Counter::Account(&[0xab; 32]));
        assert_eq!(account.as_bytes().len(), "t:rl:account:".len() + 64);
        assert_eq!(Key::generation("t").as_bytes(), b"t:revoked:generation");
    }

    #[test]
    fn members_round_trip() {
        let (tenant, user) = (TenantId::new_v7(), UserId::new_v7());
        assert_eq!(parse_member(member(tenant, user).as_bytes()), Some((tenant, user)));
        assert_eq!(parse_member(b"nonsense"), None);
    }
}
