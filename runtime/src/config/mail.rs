//! Mail settings from the environment (`SMTP_URL`, `MAIL_FROM`,
//! `ROOKERY_PUBLIC_URL`), parsed into plain data; the `mail` module builds
//! the transport from them.

use super::{ConfigError, Env};

/// How this process sends mail.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MailConfig {
    /// The `From` of every message (`MAIL_FROM`): `Name <address>` or an
    /// address.
    pub from: String,
    /// The SMTP server (`SMTP_URL`); `None`: mail stays in the outbox
    /// table, for `<app> mail list`.
    pub smtp: Option<SmtpConfig>,
}

/// An SMTP server, from `SMTP_URL`. The password is redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmtpConfig {
    /// Host name or IP address.
    pub host: String,
    /// Port (default 465 with implicit TLS, else 587).
    pub port: u16,
    /// How the connection is encrypted.
    pub tls: SmtpTls,
    /// Login, percent-decoded.
    pub username: Option<String>,
    /// Password, percent-decoded.
    pub password: Option<String>,
}

/// How an SMTP connection is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SmtpTls {
    /// TLS from the first byte (`smtps://`, port 465).
    Implicit,
    /// `STARTTLS`, and no message is sent to a server that does not offer
    /// it (`smtp://`, the default, `tls=required`).
    Required,
    /// `STARTTLS` when the server offers it, plain text otherwise
    /// (`tls=opportunistic`: an attacker on the path can strip it).
    Opportunistic,
    /// Plain text (`tls=none`: a relay on this machine, a test server).
    None,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

impl SmtpConfig {
    /// The server as a URL without its password, for logs.
    pub fn redacted(&self) -> String {
        let scheme = if self.tls == SmtpTls::Implicit { "smtps" } else { "smtp" };
        let user = match (&self.username, &self.password) {
            (Some(u), Some(_)) => format!("{u}:***@"),
            (Some(u), None) => format!("{u}@"),
            _ => String::new(),
        };
        let tls = match self.tls {
            SmtpTls::Implicit | SmtpTls::Required => "",
            SmtpTls::Opportunistic => "?tls=opportunistic",
            SmtpTls::None => "?tls=none",
        };
        format!("{scheme}://{user}{}:{}{tls}", self.host, self.port)
    }

    /// Whether the server is on this machine (a local relay).
    pub fn is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

/// Reads the mail settings and `ROOKERY_PUBLIC_URL` (whose default is
/// `http://localhost:<port>`). `live`: `ROOKERY_ENV=live`, which needs
/// `MAIL_FROM` with `SMTP_URL`, and refuses plain text to another machine.
pub(super) fn from_env(
    env: &Env<'_>,
    app_name: &str,
    live: bool,
    port: u16,
) -> Result<(MailConfig, String), ConfigError> {
    let invalid = |name: &'static str| move |message: String| ConfigError::Invalid { name, message };
    let smtp = env
        .var("SMTP_URL")
        .map(|url| parse_smtp_url(&url))
        .transpose()
        .map_err(invalid("SMTP_URL"))?;
    let from = match env.var("MAIL_FROM") {
        Some(from) => check_from(&from).map_err(invalid("MAIL_FROM"))?,
        None if live && smtp.is_some() => {
            return Err(invalid("MAIL_FROM")(
                "ROOKERY_ENV=live with SMTP_URL needs MAIL_FROM set (the default is a localhost address)".into(),
            ));
        }
        None => format!("{app_name} <no-reply@localhost>"),
    };
    if let Some(smtp) = &smtp
        && live
        && matches!(smtp.tls, SmtpTls::None | SmtpTls::Opportunistic)
        && !smtp.is_loopback()
    {
        return Err(invalid("SMTP_URL")(
            "ROOKERY_ENV=live sends mail in plain text only to this machine: use smtps:// or STARTTLS (the default)"
                .into(),
        ));
    }
    let public_url = match env.var("ROOKERY_PUBLIC_URL") {
        Some(url) => check_public_url(&url).map_err(invalid("ROOKERY_PUBLIC_URL"))?,
        None => format!("http://localhost:{port}"),
    };
    Ok((MailConfig { from, smtp }, public_url))
}

/// `smtp[s]://[user[:password]@]host[:port][?tls=required|opportunistic|none]`.
pub(super) fn parse_smtp_url(text: &str) -> Result<SmtpConfig, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("not a URL: {e}"))?;
    let implicit = match url.scheme() {
        "smtps" => true,
        "smtp" => false,
        other => return Err(format!("the scheme must be `smtp` or `smtps`, not `{other}`")),
    };
    let host = url.host_str().filter(|h| !h.is_empty()).ok_or("no host")?.to_owned();
    if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
        return Err("takes no path and no fragment".into());
    }
    let mut tls = if implicit { SmtpTls::Implicit } else { SmtpTls::Required };
    for (key, value) in url.query_pairs() {
        match (key.as_ref(), value.as_ref()) {
            ("tls", _) if implicit => return Err("`tls=` is for smtp://; smtps:// is TLS from the start".into()),
            ("tls", "required" | "starttls") => tls = SmtpTls::Required,
            ("tls", "opportunistic") => tls = SmtpTls::Opportunistic,
            ("tls", "none") => tls = SmtpTls::None,
            ("tls", other) => {
                return Err(format!(
                    "`tls={other}`: use `required` (STARTTLS, the default), `opportunistic` or `none`"
                ));
            }
            (other, _) => return Err(format!("unknown parameter `{other}` (only `tls`)")),
        }
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .map(|s| s.into_owned())
            .map_err(|_| "the user or password is not UTF-8 once percent-decoded".to_owned())
    };
    let username = match url.username() {
        "" => None,
        user => Some(decode(user)?),
    };
    let password = url.password().map(decode).transpose()?;
    Ok(SmtpConfig {
        host,
        port: url.port().unwrap_or(if implicit { 465 } else { 587 }),
        tls,
        username,
        password,
    })
}

/// `MAIL_FROM` must be a mailbox: `Name <address>` or an address.
pub(super) fn check_from(text: &str) -> Result<String, String> {
    let text = text.trim();
    text.parse::<lettre::message::Mailbox>()
        .map(|_| text.to_owned())
        .map_err(|e| format!("`{text}` is not `Name <address>` or an address: {e}"))
}

/// `ROOKERY_PUBLIC_URL`: an `http(s)` base URL, kept without a trailing `/`.
pub(super) fn check_public_url(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text.trim()).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("must be an http:// or https:// URL".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("takes no query and no fragment".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<super::super::Config, ConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        super::super::Config::from_vars("acme", &move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    fn refused(vars: &[(&str, &str)]) -> String {
        match config(vars) {
            Ok(_) => panic!("{vars:?} was accepted"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn mail_defaults_to_the_outbox_and_live_refuses_plain_text_abroad() {
        let defaults = config(&[]).unwrap();
        assert_eq!(defaults.mail.smtp, None, "no SMTP_URL: the outbox");
        assert_eq!(defaults.mail.from, "acme <no-reply@localhost>");
        assert_eq!(defaults.public_url, "http://localhost:3000");
        assert_eq!(config(&[("PORT", "8080")]).unwrap().public_url, "http://localhost:8080");
        let smtp = config(&[("SMTP_URL", "smtps://u:p%40ss@smtp.example.com")]).unwrap();
        assert!(!format!("{smtp:?}").contains("p@ss"), "the SMTP password is redacted");
        let live = [
            ("ROOKERY_ENV", "live"),
            ("ROOKERY_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("ROOKERY_API_KEY_PEPPER", "0123456789abcdef"),
        ];
        let with = |more: &[(&'static str, &'static str)]| [&live[..], more].concat();
        let from = ("MAIL_FROM", "Acme <no-reply@acme.test>");
        let message = refused(&with(&[("SMTP_URL", "smtps://smtp.example.com")]));
        assert!(message.contains("MAIL_FROM"), "{message}");
        assert!(config(&with(&[("SMTP_URL", "smtps://smtp.example.com"), from])).is_ok());
        for plain in [
            "smtp://smtp.example.com?tls=none",
            "smtp://smtp.example.com?tls=opportunistic",
        ] {
            let message = refused(&with(&[("SMTP_URL", plain), from]));
            assert!(message.contains("SMTP_URL"), "{message}");
        }
        assert!(
            config(&with(&[("SMTP_URL", "smtp://localhost:25?tls=none"), from])).is_ok(),
            "a relay on this machine"
        );
    }

    #[test]
    fn smtp_urls_parse_with_secure_defaults() {
        let plain = parse_smtp_url("smtp://mail.example.com").unwrap();
        assert_eq!(
            (plain.port, plain.tls),
            (587, SmtpTls::Required),
            "STARTTLS unless told otherwise"
        );
        let implicit = parse_smtp_url("smtps://apikey:s%40cret%2F1@smtp.example.com").unwrap();
        assert_eq!((implicit.port, implicit.tls), (465, SmtpTls::Implicit));
        assert_eq!(implicit.username.as_deref(), Some("apikey"));
        assert_eq!(implicit.password.as_deref(), Some("s@cret/1"), "percent-decoded");
        assert_eq!(implicit.redacted(), "smtps://apikey:***@smtp.example.com:465");
        assert!(!format!("{implicit:?}").contains("cret"), "the password is redacted");
        let local = parse_smtp_url("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!((local.port, local.tls), (2525, SmtpTls::None));
        assert!(local.is_loopback());
        assert!(!plain.is_loopback());
        assert_eq!(parse_smtp_url("smtp://h?tls=starttls").unwrap().tls, SmtpTls::Required);
        assert_eq!(
            parse_smtp_url("smtp://h?tls=opportunistic").unwrap().tls,
            SmtpTls::Opportunistic
        );
        for bad in [
            "http://mail.example.com",
            "smtp://",
            "smtps://h?tls=none",
            "smtp://h?tls=maybe",
            "smtp://h?timeout=3",
            "smtp://h/ehlo",
            "mail.example.com:587",
        ] {
            assert!(parse_smtp_url(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn from_and_public_url_are_checked() {
        assert!(check_from("Acme <no-reply@acme.test>").is_ok());
        assert!(check_from("no-reply@acme.test").is_ok());
        assert!(check_from("not an address").is_err());
        assert_eq!(
            check_public_url("https://app.acme.test/").unwrap(),
            "https://app.acme.test"
        );
        assert_eq!(
            check_public_url("http://localhost:3000/app").unwrap(),
            "http://localhost:3000/app"
        );
        assert!(check_public_url("ftp://acme.test").is_err());
        assert!(check_public_url("https://acme.test/?x=1").is_err());
    }
}
