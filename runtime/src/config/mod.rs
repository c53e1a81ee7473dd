//! Configuration from the environment.
//!
//! Every variable, its default and meaning is in [`VARIABLES`]; the app's
//! `--help` prints that table, and [`Config::from_env`] refuses a value
//! outside its range naming the variable.

use std::net::SocketAddr;

mod background;
mod mail;
mod variables;

pub use background::{JobsConfig, WebhookConfig};
pub use mail::{MailConfig, SmtpConfig, SmtpTls};
pub use variables::{VARIABLES, Variable};

/// A configuration value was present but unusable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A variable did not parse.
    #[error("environment variable {name}: {message}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What was wrong.
        message: String,
    },
}

/// Runtime configuration.
#[derive(Clone)]
#[non_exhaustive]
pub struct Config {
    /// URL the server connects with.
    pub database_url: String,
    /// URL `migrate` connects with.
    pub migrate_database_url: String,
    /// PostgreSQL role serving connections switch to.
    pub db_role: String,
    /// Pool size.
    pub db_pool: u32,
    /// Listen address.
    pub bind: SocketAddr,
    /// Base domain for subdomain tenant resolution.
    pub base_domain: String,
    /// HS256 signing key.
    pub jwt_secret: Vec<u8>,
    /// Older keys still accepted for verification.
    pub jwt_previous_secrets: Vec<Vec<u8>>,
    /// Access token lifetime in seconds.
    pub access_token_ttl: i64,
    /// Pepper for API key hashes.
    pub api_key_pepper: Vec<u8>,
    /// `live` or `test`.
    pub env: String,
    /// Rate limit override: (requests, window seconds).
    pub rate_limit_override: Option<(u64, u64)>,
    /// Sign-in routes per client address: (requests, window seconds).
    pub sign_in_rate: (u64, u64),
    /// Failed password checks per account: (failures, window seconds).
    pub sign_in_account_rate: (u64, u64),
    /// How long an API request may take before it is abandoned (503).
    pub request_timeout: std::time::Duration,
    /// Whether a proxy sets `X-Forwarded-For`.
    pub trust_proxy: bool,
    /// Address of the listener that serves only `/metrics`.
    pub metrics_bind: Option<SocketAddr>,
    /// Bearer token `/metrics` requires.
    pub metrics_token: Option<Vec<u8>>,
    /// Bearer token of the operator API (`/operator`); `None`: not served.
    pub operator_token: Option<Vec<u8>>,
    /// Where panics and 500s are reported (the `sentry` feature).
    pub sentry_dsn: Option<String>,
    /// The environment reported events carry.
    pub sentry_environment: String,
    /// The release reported events carry.
    pub sentry_release: Option<String>,
    /// Redis shared by every instance (`REDIS_URL`); `None` keeps limits
    /// and caches in this process.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key (`ROOKERY_REDIS_PREFIX`, default the app's name).
    pub redis_prefix: String,
    /// The variables of the secrets generated because none were configured
    /// (`ROOKERY_JWT_SECRET`, `ROOKERY_API_KEY_PEPPER`): what they sign or
    /// hash dies with the process.
    pub ephemeral_secrets: Vec<&'static str>,
    /// Background job workers.
    pub jobs: JobsConfig,
    /// How outgoing webhooks are delivered.
    pub webhooks: WebhookConfig,
    /// How mail is sent.
    pub mail: MailConfig,
    /// Base URL of the app's web front end, without a trailing `/`: links
    /// in mail start with it.
    pub public_url: String,
    /// The key that seals webhook endpoints' signing secrets at rest
    /// (SHA-256 of `ROOKERY_WEBHOOKS_SECRET_KEY`, else an HMAC of the API
    /// key pepper).
    pub webhook_secret_key: [u8; 32],
    /// Days between an owner's request to delete the tenant and its
    /// erasure (`ROOKERY_DELETION_GRACE_DAYS`); 0 erases at the next run
    /// of the erasure job.
    pub deletion_grace_days: u32,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("db_role", &self.db_role)
            .field("bind", &self.bind)
            .field("base_domain", &self.base_domain)
            .field("env", &self.env)
            .field("metrics_bind", &self.metrics_bind)
            .field("metrics_token", &self.metrics_token.as_ref().map(|_| "***"))
            .field("operator_token", &self.operator_token.as_ref().map(|_| "***"))
            .field("sentry_dsn", &self.sentry_dsn.as_ref().map(|_| "***"))
            .field("mail", &self.mail)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

/// Where variables come from: the process environment, or a map in tests.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// The variable's value; an empty one counts as unset.
    fn var(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.is_empty())
    }

    fn parse<T: std::str::FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.var(name) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|e: T::Err| ConfigError::Invalid {
                name,
                message: e.to_string(),
            }),
        }
    }

    /// An integer variable within `range` (inclusive).
    fn ranged<T>(&self, name: &'static str, default: T, range: std::ops::RangeInclusive<T>) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let bad = || ConfigError::Invalid {
            name,
            message: format!("must be an integer from {} to {}", range.start(), range.end()),
        };
        let value = match self.var(name) {
            None => default,
            Some(text) => text.trim().parse().map_err(|_| bad())?,
        };
        if range.contains(&value) { Ok(value) } else { Err(bad()) }
    }
}

/// Whether `role` is a plain lowercase SQL name PostgreSQL keeps as is.
fn is_role_name(role: &str) -> bool {
    let mut chars = role.chars();
    role.len() <= 63
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

fn random_secret() -> Vec<u8> {
    use rand::RngCore as _;
    let mut bytes = vec![0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// `<n>/s`, `<n>/m` or `<n>/h` as (requests, window seconds).
fn parse_rate(name: &'static str, text: &str) -> Result<(u64, u64), ConfigError> {
    let bad = || ConfigError::Invalid {
        name,
        message: format!("`{text}` is not `<n>/s`, `<n>/m` or `<n>/h`"),
    };
    let (n, unit) = text.split_once('/').ok_or_else(bad)?;
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    let window = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(bad()),
    };
    if n == 0 { Err(bad()) } else { Ok((n, window)) }
}

/// Old signing keys still accepted: comma-separated, each at least 32 bytes
/// (an empty or short entry would let anyone forge tokens).
fn previous_secrets(list: Option<&str>) -> Result<Vec<Vec<u8>>, ConfigError> {
    let Some(list) = list else { return Ok(Vec::new()) };
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s.len() >= 32 {
                Ok(s.as_bytes().to_vec())
            } else {
                Err(ConfigError::Invalid {
                    name: "ROOKERY_JWT_PREVIOUS_SECRETS",
                    message: "every key must be at least 32 bytes".into(),
                })
            }
        })
        .collect()
}

impl Config {
    /// Reads the configuration of app `app_name` from the environment.
    pub fn from_env(app_name: &str) -> Result<Self, ConfigError> {
        Self::from_vars(app_name, &|name| std::env::var(name).ok())
    }

    /// Reads the configuration of app `app_name` from `get` (a variable's
    /// value by name), as [`Config::from_env`] does from the environment.
    pub fn from_vars(app_name: &str, get: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(get);
        let database_url = env
            .var("DATABASE_URL")
            .unwrap_or_else(|| format!("sqlite:{app_name}.sqlite"));
        let migrate_database_url = env
            .var("ROOKERY_MIGRATE_DATABASE_URL")
            .unwrap_or_else(|| database_url.clone());
        let bind = match (env.var("ROOKERY_BIND"), env.var("PORT")) {
            (Some(_), _) | (None, None) => env.parse("ROOKERY_BIND", SocketAddr::from(([127, 0, 0, 1], 3000)))?,
            (None, Some(_)) => SocketAddr::from(([127, 0, 0, 1], env.ranged("PORT", 3000u16, 1..=u16::MAX)?)),
        };
        let mut ephemeral = Vec::new();
        let jwt_secret = match env.var("ROOKERY_JWT_SECRET").or_else(|| env.var("JWT_SECRET")) {
            Some(s) if s.len() >= 32 => s.into_bytes(),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "ROOKERY_JWT_SECRET",
                    message: "must be at least 32 bytes".into(),
                });
            }
            None => {
                ephemeral.push("ROOKERY_JWT_SECRET");
                random_secret()
            }
        };
        let api_key_pepper = match env.var("ROOKERY_API_KEY_PEPPER") {
            Some(p) if p.len() >= 16 => p.into_bytes(),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "ROOKERY_API_KEY_PEPPER",
                    message: "must be at least 16 bytes".into(),
                });
            }
            None => {
                ephemeral.push("ROOKERY_API_KEY_PEPPER");
                random_secret()
            }
        };
        let rate_limit_override = match env.var("RATE_LIMIT_MAX") {
            None => None,
            Some(_) => Some((
                env.ranged("RATE_LIMIT_MAX", 1u64, 1..=u64::MAX)?,
                env.ranged("RATE_LIMIT_WINDOW_SECS", 60u64, 1..=86_400)?,
            )),
        };
        let key_env = env.var("ROOKERY_ENV").unwrap_or_else(|| "test".into());
        if !matches!(key_env.as_str(), "live" | "test") {
            return Err(ConfigError::Invalid {
                name: "ROOKERY_ENV",
                message: "must be `live` or `test`".into(),
            });
        }
        if key_env == "live" && !ephemeral.is_empty() {
            return Err(ConfigError::Invalid {
                name: "ROOKERY_JWT_SECRET",
                message: "ROOKERY_ENV=live needs ROOKERY_JWT_SECRET and ROOKERY_API_KEY_PEPPER set".into(),
            });
        }
        let (webhooks, webhook_secret_key) = background::webhooks_from_env(&env, key_env == "live", &api_key_pepper)?;
        let (mail, public_url) = mail::from_env(&env, app_name, key_env == "live", bind.port())?;
        let db_role = env.var("ROOKERY_DB_ROLE").unwrap_or_else(|| default_role(app_name));
        let embedded = database_url.starts_with("sqlite:");
        if !is_role_name(&db_role) {
            return Err(ConfigError::Invalid {
                name: "ROOKERY_DB_ROLE",
                message: format!(
                    "`{db_role}` is not a role name: lowercase letters, digits and `_`, starting with a letter or `_`, at most 63"
                ),
            });
        }
        let metrics_bind: Option<SocketAddr> = match env.var("ROOKERY_METRICS_BIND") {
            None => None,
            Some(_) => Some(env.parse("ROOKERY_METRICS_BIND", bind)?),
        };
        if metrics_bind.is_some_and(|m| {
            m.port() == bind.port() && (m.ip() == bind.ip() || m.ip().is_unspecified() || bind.ip().is_unspecified())
        }) {
            return Err(ConfigError::Invalid {
                name: "ROOKERY_METRICS_BIND",
                message: "must not be the API's own address (ROOKERY_BIND)".into(),
            });
        }
        let metrics_token = match env.var("ROOKERY_METRICS_TOKEN") {
            Some(t) if t.len() >= 16 => Some(t.into_bytes()),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "ROOKERY_METRICS_TOKEN",
                    message: "must be at least 16 bytes".into(),
                });
            }
            None => None,
        };
        let operator_token = match env.var("ROOKERY_OPERATOR_TOKEN") {
            Some(t) if t.len() >= 32 => Some(t.into_bytes()),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "ROOKERY_OPERATOR_TOKEN",
                    message: "must be at least 32 bytes".into(),
                });
            }
            None => None,
        };
        let sentry_dsn = env.var("SENTRY_DSN");
        #[cfg(feature = "sentry")]
        if let Some(dsn) = &sentry_dsn {
            dsn.parse::<sentry::types::Dsn>().map_err(|e| ConfigError::Invalid {
                name: "SENTRY_DSN",
                message: e.to_string(),
            })?;
        }
        let redis_url = env.var("REDIS_URL");
        if let Some(url) = &redis_url {
            check_redis_url(url)?;
        }
        let redis_prefix = env.var("ROOKERY_REDIS_PREFIX").unwrap_or_else(|| app_name.to_owned());
        if !is_key_prefix(&redis_prefix) {
            return Err(ConfigError::Invalid {
                name: "ROOKERY_REDIS_PREFIX",
                message: format!("`{redis_prefix}` is not 1-64 of A-Z a-z 0-9 . _ : -"),
            });
        }
        Ok(Self {
            database_url,
            migrate_database_url,
            db_role,
            db_pool: env.ranged("ROOKERY_DB_POOL", 16, 1..=1000)?,
            bind,
            base_domain: env.var("ROOKERY_BASE_DOMAIN").unwrap_or_else(|| "localhost".into()),
            jwt_secret,
            jwt_previous_secrets: previous_secrets(env.var("ROOKERY_JWT_PREVIOUS_SECRETS").as_deref())?,
            access_token_ttl: env.ranged("ROOKERY_ACCESS_TOKEN_TTL", 900, 60..=86_400)?,
            api_key_pepper,
            env: key_env.clone(),
            rate_limit_override,
            sign_in_rate: parse_rate(
                "ROOKERY_SIGN_IN_RATE",
                env.var("ROOKERY_SIGN_IN_RATE").as_deref().unwrap_or("30/m"),
            )?,
            sign_in_account_rate: parse_rate(
                "ROOKERY_SIGN_IN_ACCOUNT_RATE",
                env.var("ROOKERY_SIGN_IN_ACCOUNT_RATE").as_deref().unwrap_or("10/h"),
            )?,
            request_timeout: std::time::Duration::from_secs(env.ranged("ROOKERY_REQUEST_TIMEOUT", 30, 1..=3600)?),
            trust_proxy: env.parse("ROOKERY_TRUST_PROXY", false)?,
            metrics_bind,
            metrics_token,
            operator_token,
            sentry_dsn,
            sentry_environment: env.var("SENTRY_ENVIRONMENT").unwrap_or_else(|| key_env.clone()),
            sentry_release: env.var("SENTRY_RELEASE"),
            redis_url,
            redis_prefix,
            ephemeral_secrets: ephemeral,
            jobs: background::jobs_from_env(&env, embedded)?,
            webhooks,
            mail,
            public_url,
            webhook_secret_key,
            deletion_grace_days: env.ranged("ROOKERY_DELETION_GRACE_DAYS", 30, 0..=365)?,
        })
    }
}

/// Whether `prefix` may start every Redis key of the app.
fn is_key_prefix(prefix: &str) -> bool {
    (1..=64).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Refuses a `REDIS_URL` this build cannot use: not a plain `redis://`
/// or `redis+unix://` URL (TLS is not built in), or any URL when the
/// `redis` feature is off.
fn check_redis_url(url: &str) -> Result<(), ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        name: "REDIS_URL",
        message,
    };
    if !cfg!(feature = "redis") {
        return Err(invalid(
            "this build has no Redis support: enable rookery's `redis` feature (on by default)".into(),
        ));
    }
    if url.starts_with("rediss://") {
        return Err(invalid(
            "TLS (`rediss://`) is not built in: reach Redis over a private network or a TLS tunnel".into(),
        ));
    }
    if !(url.starts_with("redis://") || url.starts_with("redis+unix://") || url.starts_with("unix://")) {
        return Err(invalid(format!("`{}` is not a redis:// URL", redact_url(url))));
    }
    #[cfg(feature = "redis")]
    if let Err(err) = redis::Client::open(url) {
        return Err(invalid(format!("`{}`: {err}", redact_url(url))));
    }
    Ok(())
}

/// The PostgreSQL group role an app serves as unless `ROOKERY_DB_ROLE`
/// says otherwise: `<app>_app`, one per app, so that two apps on one
/// cluster cannot reach each other's tables.
pub fn default_role(app: &str) -> String {
    format!("{app}_app")
}

/// The URL without its password, for error messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let creds = &url[scheme + 3..at];
            match creds.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &creds[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests;
