//! Password hashing: argon2id with the crate's defaults (the OWASP minimum:
//! 19 MiB, two passes, one lane), PHC strings at rest.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

/// Shortest accepted password.
pub(crate) const MIN_PASSWORD_LEN: usize = 10;

/// Hashes a password into a PHC string.
pub(crate) fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default().hash_password(password.as_bytes())?.to_string())
}

/// Whether `password` matches the PHC string `hash` (constant time).
pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

/// A PHC string for no password, verified against when the account does not
/// exist, so a login takes as long for an unknown email as for a known one.
pub(crate) fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("rookery-dummy-password").unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash_password("correct horse battery").unwrap();
        let b = hash_password("correct horse battery").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify_password("correct horse battery", &a));
        assert!(!verify_password("correct horse batterz", &a));
        assert!(!verify_password("x", "not a phc string"));
    }
}
