//! Configuration from the environment.
//!
//! Every variable, its default and meaning is in [`VARIABLES`]; the app's
//! `--help` prints that table, and [`Config::from_env`] refuses a value
//! outside its range naming the variable.

use std::net::SocketAddr;

/// One environment variable the app reads.
#[derive(Debug, Clone, Copy)]
pub struct Variable {
    /// Its name.
    pub name: &'static str,
    /// Its default, as text (`<app>` stands for the app's name).
    pub default: &'static str,
    /// What it does and the values it accepts.
    pub meaning: &'static str,
}

const fn v(name: &'static str, default: &'static str, meaning: &'static str) -> Variable {
    Variable { name, default, meaning }
}

/// Every variable [`Config::from_env`] reads.
pub const VARIABLES: &[Variable] = &[
    v(
        "DATABASE_URL",
        "sqlite:<app>.sqlite",
        "postgres://… or sqlite:…, picked at start-up",
    ),
    v(
        "ROOKERY_MIGRATE_DATABASE_URL",
        "DATABASE_URL",
        "URL `migrate` connects with (the tables' owner)",
    ),
    v(
        "ROOKERY_DB_ROLE",
        "<app>_app",
        "PostgreSQL group role `serve` switches to and `migrate` grants (a lowercase SQL name)",
    ),
    v("ROOKERY_DB_POOL", "16", "pool size, 1-1000"),
    v("ROOKERY_BIND", "127.0.0.1:3000", "listen address, host:port"),
    v(
        "PORT",
        "3000",
        "listen port on 127.0.0.1 when ROOKERY_BIND is unset, 1-65535",
    ),
    v(
        "ROOKERY_BASE_DOMAIN",
        "localhost",
        "`acme.<base domain>` resolves tenant `acme`",
    ),
    v(
        "ROOKERY_JWT_SECRET",
        "random per process",
        "HS256 signing key, at least 32 bytes (also JWT_SECRET)",
    ),
    v("JWT_SECRET", "none", "read when ROOKERY_JWT_SECRET is unset"),
    v(
        "ROOKERY_JWT_PREVIOUS_SECRETS",
        "none",
        "comma-separated old signing keys still accepted, each at least 32 bytes",
    ),
    v(
        "ROOKERY_ACCESS_TOKEN_TTL",
        "900",
        "access token lifetime, seconds, 60-86400",
    ),
    v(
        "ROOKERY_API_KEY_PEPPER",
        "random per process",
        "secret API key hashes are keyed with, at least 16 bytes",
    ),
    v(
        "ROOKERY_ENV",
        "test",
        "`live` or `test`: the <env> part of API keys; `live` needs both secrets set",
    ),
    v(
        "RATE_LIMIT_MAX",
        "the plan's rate_limit",
        "requests per window for every tenant, overriding the plans, 1 or more",
    ),
    v(
        "RATE_LIMIT_WINDOW_SECS",
        "60",
        "window of RATE_LIMIT_MAX, seconds, 1-86400",
    ),
    v(
        "ROOKERY_SIGN_IN_RATE",
        "30/m",
        "sign-in requests per client address, <n>/s, /m or /h",
    ),
    v(
        "ROOKERY_SIGN_IN_ACCOUNT_RATE",
        "10/h",
        "failed password checks per account, from any address, <n>/s, /m or /h",
    ),
    v(
        "ROOKERY_REQUEST_TIMEOUT",
        "30",
        "seconds an API request's database work may take, 1-3600; then 503",
    ),
    v(
        "ROOKERY_TRUST_PROXY",
        "false",
        "`true`: take the client address from the first X-Forwarded-For hop",
    ),
    v(
        "ROOKERY_JOBS_IN_SERVE",
        "true on SQLite, false on PostgreSQL",
        "`true`: `serve` runs the job workers in its own process (else run `<app> worker`)",
    ),
    v(
        "ROOKERY_JOBS_QUEUES",
        "every queue, ROOKERY_JOBS_CONCURRENCY each",
        "queues a worker takes, comma-separated, each optionally `name:concurrency` (`default:8,mail:2`)",
    ),
    v(
        "ROOKERY_JOBS_CONCURRENCY",
        "4",
        "jobs run at once per queue and process, 1-1000",
    ),
    v(
        "ROOKERY_JOBS_TENANT_CAP",
        "half the queue's concurrency, at least 1",
        "jobs of one tenant run at once per queue (per claiming process), 0 for no bound, 0-1000",
    ),
    v(
        "ROOKERY_JOBS_LEASE",
        "60",
        "seconds a claimed job stays leased without a heartbeat (a killed worker's jobs run again after it), 5-3600",
    ),
    v(
        "ROOKERY_JOBS_POLL_MS",
        "1000",
        "milliseconds between polls of an idle queue (PostgreSQL also wakes workers on enqueue), 10-60000",
    ),
    v(
        "ROOKERY_WEBHOOKS_ALLOW_LOOPBACK",
        "false",
        "`true`: webhooks may be delivered to loopback addresses, over plain http too (tests and development only; private ranges stay refused; refused with ROOKERY_ENV=live)",
    ),
    v(
        "ROOKERY_WEBHOOKS_TIMEOUT",
        "10",
        "seconds one webhook delivery may take in all, 1-60",
    ),
    v(
        "ROOKERY_WEBHOOKS_SECRET_KEY",
        "derived from ROOKERY_API_KEY_PEPPER",
        "key that seals webhook endpoints' signing secrets at rest, at least 32 bytes; changing it makes the stored secrets unreadable (rotate them)",
    ),
    v(
        "ROOKERY_WEBHOOKS_CONNECT_TIMEOUT",
        "5",
        "seconds a webhook delivery may take to resolve and connect, 1-60",
    ),
];

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
    /// Whether secrets were generated because none were configured.
    pub ephemeral_secrets: bool,
    /// Background job workers.
    pub jobs: JobsConfig,
    /// How outgoing webhooks are delivered.
    pub webhooks: WebhookConfig,
    /// The key that seals webhook endpoints' signing secrets at rest
    /// (SHA-256 of `ROOKERY_WEBHOOKS_SECRET_KEY`, else an HMAC of the API
    /// key pepper).
    pub webhook_secret_key: [u8; 32],
}

/// How this process runs background jobs (`ROOKERY_JOBS_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobsConfig {
    /// Whether `serve` runs workers too.
    pub in_serve: bool,
    /// Queues to work and their concurrency; empty: every queue of the app
    /// at [`JobsConfig::concurrency`].
    pub queues: Vec<(String, u32)>,
    /// Jobs at once per queue.
    pub concurrency: u32,
    /// Jobs of one tenant at once per queue; `None`: half the queue's
    /// concurrency, at least 1; `Some(0)`: no bound.
    pub tenant_cap: Option<u32>,
    /// Lease of a claimed job.
    pub lease: std::time::Duration,
    /// Poll interval of an idle queue.
    pub poll: std::time::Duration,
}

/// How outgoing webhooks are delivered (`ROOKERY_WEBHOOKS_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookConfig {
    /// Loopback addresses (and plain `http`) are allowed: tests and
    /// development only. Private, link-local and other internal ranges
    /// are refused all the same.
    pub allow_loopback: bool,
    /// How long one delivery may take in all: resolving, connecting, TLS,
    /// sending and the response's status and headers.
    pub timeout: std::time::Duration,
    /// How long resolving the host and connecting may take.
    pub connect_timeout: std::time::Duration,
}

impl Default for WebhookConfig {
    /// No loopback, 10 seconds in all, 5 to connect.
    fn default() -> Self {
        Self {
            allow_loopback: false,
            timeout: std::time::Duration::from_secs(10),
            connect_timeout: std::time::Duration::from_secs(5),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("db_role", &self.db_role)
            .field("bind", &self.bind)
            .field("base_domain", &self.base_domain)
            .field("env", &self.env)
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
        let mut ephemeral = false;
        let jwt_secret = match env.var("ROOKERY_JWT_SECRET").or_else(|| env.var("JWT_SECRET")) {
            Some(s) if s.len() >= 32 => s.into_bytes(),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "ROOKERY_JWT_SECRET",
                    message: "must be at least 32 bytes".into(),
                });
            }
            None => {
                ephemeral = true;
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
                ephemeral = true;
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
        if key_env == "live" && ephemeral {
            return Err(ConfigError::Invalid {
                name: "ROOKERY_JWT_SECRET",
                message: "ROOKERY_ENV=live needs ROOKERY_JWT_SECRET and ROOKERY_API_KEY_PEPPER set".into(),
            });
        }
        let webhooks = WebhookConfig {
            allow_loopback: env.parse("ROOKERY_WEBHOOKS_ALLOW_LOOPBACK", false)?,
            timeout: std::time::Duration::from_secs(env.ranged("ROOKERY_WEBHOOKS_TIMEOUT", 10, 1..=60)?),
            connect_timeout: std::time::Duration::from_secs(env.ranged(
                "ROOKERY_WEBHOOKS_CONNECT_TIMEOUT",
                5,
                1..=60,
            )?),
        };
        if key_env == "live" && webhooks.allow_loopback {
            return Err(ConfigError::Invalid {
                name: "ROOKERY_WEBHOOKS_ALLOW_LOOPBACK",
                message: "is for tests and development; ROOKERY_ENV=live refuses it".into(),
            });
        }
        let webhook_secret_key = match env.var("ROOKERY_WEBHOOKS_SECRET_KEY") {
            Some(k) if k.len() >= 32 => {
                use sha2::Digest as _;
                sha2::Sha256::digest(k.as_bytes()).into()
            }
            Some(_) => {
                return Err(ConfigError::Invalid {
                    name: "ROOKERY_WEBHOOKS_SECRET_KEY",
                    message: "must be at least 32 bytes".into(),
                });
            }
            None => {
                use hmac::Mac as _;
                let mut mac =
                    hmac::Hmac::<sha2::Sha256>::new_from_slice(&api_key_pepper).expect("HMAC takes any key length");
                mac.update(b"rookery webhooks secret key");
                mac.finalize().into_bytes().into()
            }
        };
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
            env: key_env,
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
            ephemeral_secrets: ephemeral,
            jobs: JobsConfig {
                in_serve: env.parse("ROOKERY_JOBS_IN_SERVE", embedded)?,
                queues: queues(env.var("ROOKERY_JOBS_QUEUES").as_deref())?,
                concurrency: env.ranged("ROOKERY_JOBS_CONCURRENCY", 4, 1..=1000)?,
                tenant_cap: match env.var("ROOKERY_JOBS_TENANT_CAP") {
                    None => None,
                    Some(_) => Some(env.ranged("ROOKERY_JOBS_TENANT_CAP", 0, 0..=1000)?),
                },
                lease: std::time::Duration::from_secs(env.ranged("ROOKERY_JOBS_LEASE", 60, 5..=3600)?),
                poll: std::time::Duration::from_millis(env.ranged("ROOKERY_JOBS_POLL_MS", 1000, 10..=60_000)?),
            },
            webhooks,
            webhook_secret_key,
        })
    }
}

/// `ROOKERY_JOBS_QUEUES`: `name[:concurrency]`, comma-separated.
fn queues(text: Option<&str>) -> Result<Vec<(String, u32)>, ConfigError> {
    let bad = |message: String| ConfigError::Invalid {
        name: "ROOKERY_JOBS_QUEUES",
        message,
    };
    let mut out: Vec<(String, u32)> = Vec::new();
    for entry in text.unwrap_or("").split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (name, n) = match entry.split_once(':') {
            Some((name, n)) => (
                name.trim(),
                n.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| bad(format!("`{entry}`: the concurrency must be an integer from 1 to 1000")))?,
            ),
            None => (entry, 0),
        };
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(bad(format!("`{name}` is not a queue name (letters, digits, `_`, `-`)")));
        }
        if out.iter().any(|(q, _)| q == name) {
            return Err(bad(format!("queue `{name}` is listed twice")));
        }
        out.push((name.to_owned(), n));
    }
    Ok(out)
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
mod tests {
    use super::previous_secrets;

    fn config(vars: &[(&str, &str)]) -> Result<super::Config, super::ConfigError> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        super::Config::from_vars("acme", &move |name| {
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
    fn every_variable_is_range_checked_and_named() {
        let defaults = config(&[]).unwrap();
        assert_eq!(defaults.db_role, "acme_app", "one group role per app");
        assert_eq!(defaults.db_pool, 16);
        for (name, value) in [
            ("ROOKERY_DB_POOL", "0"),
            ("ROOKERY_DB_POOL", "-1"),
            ("ROOKERY_DB_POOL", "many"),
            ("ROOKERY_ACCESS_TOKEN_TTL", "-5"),
            ("ROOKERY_ACCESS_TOKEN_TTL", "0"),
            ("ROOKERY_REQUEST_TIMEOUT", "0"),
            ("PORT", "0"),
            ("PORT", "70000"),
            ("RATE_LIMIT_MAX", "0"),
            ("ROOKERY_DB_ROLE", "Web App"),
            ("ROOKERY_DB_ROLE", "x\"; DROP TABLE users; --"),
            ("ROOKERY_TRUST_PROXY", "yes please"),
            ("ROOKERY_ENV", "prod"),
            ("ROOKERY_JWT_SECRET", "short"),
            ("ROOKERY_WEBHOOKS_ALLOW_LOOPBACK", "1"),
            ("ROOKERY_WEBHOOKS_TIMEOUT", "0"),
            ("ROOKERY_WEBHOOKS_TIMEOUT", "61"),
            ("ROOKERY_WEBHOOKS_CONNECT_TIMEOUT", "0"),
            ("ROOKERY_WEBHOOKS_SECRET_KEY", "short"),
        ] {
            let message = refused(&[(name, value)]);
            assert!(message.contains(name), "{name}={value}: {message}");
        }
        let range = refused(&[("ROOKERY_DB_POOL", "0")]);
        assert!(range.contains("1 to 1000"), "{range}");
        assert_eq!(config(&[("ROOKERY_DB_ROLE", "web_app")]).unwrap().db_role, "web_app");
    }

    #[test]
    fn the_help_table_names_every_variable_read() {
        let source = include_str!("config.rs");
        let (code, _) = source.split_once("#[cfg(test)]").unwrap();
        let (_, reads) = code.split_once("pub fn from_vars").unwrap();
        let mut read: Vec<&str> = reads
            .split('"')
            .filter(|s| s.len() > 2 && s.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .collect();
        read.sort_unstable();
        read.dedup();
        for name in &read {
            assert!(
                super::VARIABLES.iter().any(|v| v.name == *name),
                "{name} is read but missing from VARIABLES"
            );
        }
        for v in super::VARIABLES {
            assert!(read.contains(&v.name), "{} is listed but never read", v.name);
        }
    }

    #[test]
    fn webhooks_refuse_loopback_in_live() {
        let defaults = config(&[]).unwrap().webhooks;
        assert_eq!(defaults, super::WebhookConfig::default());
        assert!(!defaults.allow_loopback, "loopback is off unless asked for");
        let on = config(&[("ROOKERY_WEBHOOKS_ALLOW_LOOPBACK", "true")]).unwrap().webhooks;
        assert!(on.allow_loopback);
        let live = [
            ("ROOKERY_ENV", "live"),
            ("ROOKERY_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("ROOKERY_API_KEY_PEPPER", "0123456789abcdef"),
        ];
        assert!(config(&live).is_ok());
        let message = refused(&[live[0], live[1], live[2], ("ROOKERY_WEBHOOKS_ALLOW_LOOPBACK", "true")]);
        assert!(message.contains("ROOKERY_WEBHOOKS_ALLOW_LOOPBACK"), "{message}");
    }

    #[test]
    fn the_webhook_secret_key_is_its_own_or_the_peppers() {
        let pepper = [("ROOKERY_API_KEY_PEPPER", "0123456789abcdef")];
        let derived = config(&pepper).unwrap().webhook_secret_key;
        assert_eq!(
            config(&pepper).unwrap().webhook_secret_key,
            derived,
            "stable with the pepper"
        );
        let other = config(&[("ROOKERY_API_KEY_PEPPER", "fedcba9876543210")]).unwrap();
        assert_ne!(other.webhook_secret_key, derived);
        let own = [
            pepper[0],
            ("ROOKERY_WEBHOOKS_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ];
        let own = config(&own).unwrap().webhook_secret_key;
        assert_ne!(own, derived);
        assert_eq!(
            config(&[("ROOKERY_WEBHOOKS_SECRET_KEY", "0123456789abcdef0123456789abcdef")])
                .unwrap()
                .webhook_secret_key,
            own,
            "its own key does not depend on the pepper"
        );
    }

    #[test]
    fn rates_parse() {
        assert_eq!(super::parse_rate("X", "30/m").unwrap(), (30, 60));
        assert_eq!(super::parse_rate("X", "5/s").unwrap(), (5, 1));
        assert!(super::parse_rate("X", "0/m").is_err());
        assert!(super::parse_rate("X", "5/day").is_err());
    }

    #[test]
    fn previous_secrets_refuse_short_keys_and_skip_empty_entries() {
        let long = "0123456789abcdef0123456789abcdef";
        assert_eq!(previous_secrets(None).unwrap().len(), 0);
        assert_eq!(
            previous_secrets(Some(&format!("{long},"))).unwrap(),
            vec![long.as_bytes().to_vec()]
        );
        assert_eq!(previous_secrets(Some(&format!(" {long} ,, {long}"))).unwrap().len(), 2);
        assert!(
            previous_secrets(Some(&format!("{long},old"))).is_err(),
            "a short old key would be forgeable"
        );
    }
}
