//! The text formats of the `email` and `url` field types, checked on every
//! write (create and update, generated route or hand-written code).
//!
//! Hand-rolled on purpose: an email check can only be a sanity check (the
//! real test is a mail that arrives), and the identity routes already use
//! this rule for sign-in addresses, so both agree. URLs are parsed by the
//! `url` crate (WHATWG URL, already a dependency), after refusing what its
//! parser would silently repair (surrounding spaces, tabs and newlines).

/// The longest email address accepted, in characters (RFC 5321's path
/// limit, less the angle brackets).
pub(crate) const MAX_EMAIL_LEN: usize = 254;

/// The longest URL accepted when a `url` field declares no `max_len`.
pub(crate) const MAX_URL_LEN: usize = 2048;

/// Whether `text` is an email address as Rookery reads one: at most
/// [`MAX_EMAIL_LEN`] characters, a non-empty local part without `@`,
/// whitespace or control characters, `@`, then a domain of at least two
/// dot-separated labels of ASCII letters, digits and `-`. Nothing is
/// trimmed.
pub(crate) fn is_email(text: &str) -> bool {
    let label = |l: &str| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    text.chars().count() <= MAX_EMAIL_LEN
        && text.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !local.chars().any(|c| c.is_whitespace() || c.is_control())
                && domain.contains('.')
                && domain.split('.').all(label)
        })
}

/// Whether `text` is an absolute `http` or `https` URL with a host, as
/// written: no whitespace or control character anywhere (the WHATWG parser
/// would strip them), at most [`MAX_URL_LEN`] characters.
pub(crate) fn is_url(text: &str) -> bool {
    if text.chars().count() > MAX_URL_LEN || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    // The scheme as written (the parser lower-cases it).
    let written = text.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
    if !matches!(written.as_deref(), Some("http" | "https")) {
        return false;
    }
    url::Url::parse(text).is_ok_and(|url| url.host_str().is_some_and(|h| !h.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::{is_email, is_url};

    #[test]
    fn emails() {
        for (text, ok) in [
            ("ann@example.com", true),
            ("Ann.Lee+crm@Mail.Example.co.uk", true),
            ("ann@localhost", false),
            ("ann@example..com", false),
            ("@example.com", false),
            ("ann@@example.com", false),
            (" ann@example.com", false),
            ("ann lee@example.com", false),
            ("ann@exa_mple.com", false),
            ("ann@example.com'; DROP TABLE leads; --", false),
            ("", false),
        ] {
            assert_eq!(is_email(text), ok, "{text:?}");
        }
        assert!(!is_email(&format!("{}@example.com", "a".repeat(250))));
    }

    #[test]
    fn urls() {
        for (text, ok) in [
            ("https://example.com", true),
            ("http://example.com:8080/a/b?c=d#e", true),
            ("HTTPS://EXAMPLE.COM/", true),
            ("https://[::1]/", true),
            ("ftp://example.com", false),
            ("javascript:alert(1)", false),
            ("mailto:ann@example.com", false),
            ("//example.com", false),
            ("example.com", false),
            ("https://", false),
            ("https:example.com", false),
            (" https://example.com", false),
            ("https://exa\tmple.com", false),
            ("https://exa mple.com", false),
            ("", false),
        ] {
            assert_eq!(is_url(text), ok, "{text:?}");
        }
    }
}
