//! Configuration from the environment.
//!
//! | variable | default | meaning |
//! | --- | --- | --- |
//! | `DATABASE_URL` | `sqlite:<app>.sqlite` | `postgres://…` or `sqlite:…`, picked at start-up |
//! | `ROOKERY_MIGRATE_DATABASE_URL` | `DATABASE_URL` | URL `migrate` uses (the owner role) |
//! | `ROOKERY_DB_ROLE` | `rookery_app` | PostgreSQL role `serve` switches to on each connection |
//! | `ROOKERY_DB_POOL` | `16` | pool size |
//! | `ROOKERY_BIND` | `127.0.0.1:3000` | listen address (`PORT` alone sets the port) |
//! | `ROOKERY_BASE_DOMAIN` | `localhost` | `acme.<base domain>` resolves tenant `acme` |
//! | `ROOKERY_JWT_SECRET` (or `JWT_SECRET`) | random per process | HS256 signing key, ≥ 32 bytes |
//! | `ROOKERY_JWT_PREVIOUS_SECRETS` | none | comma-separated old keys still accepted (rotation) |
//! | `ROOKERY_ACCESS_TOKEN_TTL` | `900` | access token lifetime, seconds |
//! | `ROOKERY_API_KEY_PEPPER` | random per process | server-side secret API key hashes are keyed with |
//! | `ROOKERY_ENV` | `test` | `live` or `test`: the `<env>` part of API keys |
//! | `RATE_LIMIT_MAX` + `RATE_LIMIT_WINDOW_SECS` | the plan's `rate_limit` | override every plan's rate |
//! | `ROOKERY_SIGN_IN_RATE` | `30/m` | sign-in routes per client address (`<n>/s`, `/m`, `/h`) |
//! | `ROOKERY_SIGN_IN_ACCOUNT_RATE` | `10/h` | failed password checks per account (email), from any address |
//! | `ROOKERY_REQUEST_TIMEOUT` | `30` | seconds an API request may take; then 503 and its transaction rolls back |
//! | `ROOKERY_TRUST_PROXY` | `false` | take the client address from the first `X-Forwarded-For` hop |

use std::net::SocketAddr;

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
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &crate::db::redact_url(&self.database_url))
            .field("db_role", &self.db_role)
            .field("bind", &self.bind)
            .field("base_domain", &self.base_domain)
            .field("env", &self.env)
            .finish_non_exhaustive()
    }
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn parse<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|e: T::Err| ConfigError::Invalid {
            name,
            message: e.to_string(),
        }),
    }
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
        let database_url = var("DATABASE_URL").unwrap_or_else(|| format!("sqlite:{app_name}.sqlite"));
        let migrate_database_url = var("ROOKERY_MIGRATE_DATABASE_URL").unwrap_or_else(|| database_url.clone());
        let bind = match (var("ROOKERY_BIND"), var("PORT")) {
            (Some(_), _) | (None, None) => parse("ROOKERY_BIND", SocketAddr::from(([127, 0, 0, 1], 3000)))?,
            (None, Some(_)) => SocketAddr::from(([127, 0, 0, 1], parse("PORT", 3000u16)?)),
        };
        let mut ephemeral = false;
        let jwt_secret = match var("ROOKERY_JWT_SECRET").or_else(|| var("JWT_SECRET")) {
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
        let api_key_pepper = match var("ROOKERY_API_KEY_PEPPER") {
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
        let rate_limit_override = match var("RATE_LIMIT_MAX") {
            None => None,
            Some(_) => Some((
                parse("RATE_LIMIT_MAX", 0u64)?,
                parse("RATE_LIMIT_WINDOW_SECS", 60u64)?.max(1),
            )),
        };
        let env = var("ROOKERY_ENV").unwrap_or_else(|| "test".into());
        if !matches!(env.as_str(), "live" | "test") {
            return Err(ConfigError::Invalid {
                name: "ROOKERY_ENV",
                message: "must be `live` or `test`".into(),
            });
        }
        if env == "live" && ephemeral {
            return Err(ConfigError::Invalid {
                name: "ROOKERY_JWT_SECRET",
                message: "ROOKERY_ENV=live needs ROOKERY_JWT_SECRET and ROOKERY_API_KEY_PEPPER set".into(),
            });
        }
        Ok(Self {
            database_url,
            migrate_database_url,
            db_role: var("ROOKERY_DB_ROLE").unwrap_or_else(|| "rookery_app".into()),
            db_pool: parse("ROOKERY_DB_POOL", 16)?,
            bind,
            base_domain: var("ROOKERY_BASE_DOMAIN").unwrap_or_else(|| "localhost".into()),
            jwt_secret,
            jwt_previous_secrets: previous_secrets(var("ROOKERY_JWT_PREVIOUS_SECRETS").as_deref())?,
            access_token_ttl: parse("ROOKERY_ACCESS_TOKEN_TTL", 900)?,
            api_key_pepper,
            env,
            rate_limit_override,
            sign_in_rate: parse_rate(
                "ROOKERY_SIGN_IN_RATE",
                var("ROOKERY_SIGN_IN_RATE").as_deref().unwrap_or("30/m"),
            )?,
            sign_in_account_rate: parse_rate(
                "ROOKERY_SIGN_IN_ACCOUNT_RATE",
                var("ROOKERY_SIGN_IN_ACCOUNT_RATE").as_deref().unwrap_or("10/h"),
            )?,
            request_timeout: std::time::Duration::from_secs(parse("ROOKERY_REQUEST_TIMEOUT", 30)?),
            trust_proxy: parse("ROOKERY_TRUST_PROXY", false)?,
            ephemeral_secrets: ephemeral,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::previous_secrets;

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
