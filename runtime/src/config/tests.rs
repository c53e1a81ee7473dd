//! The configuration's rules: every variable range-checked and named,
//! the help table complete, secrets redacted.

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
    assert_eq!(defaults.deletion_grace_days, 30);
    assert_eq!(
        config(&[("ROOKERY_DELETION_GRACE_DAYS", "0")])
            .unwrap()
            .deletion_grace_days,
        0
    );
    for (name, value) in [
        ("ROOKERY_DB_POOL", "0"),
        ("ROOKERY_DB_POOL", "-1"),
        ("ROOKERY_DB_POOL", "many"),
        ("ROOKERY_ACCESS_TOKEN_TTL", "-5"),
        ("ROOKERY_ACCESS_TOKEN_TTL", "0"),
        ("ROOKERY_REQUEST_TIMEOUT", "0"),
        ("ROOKERY_DELETION_GRACE_DAYS", "-1"),
        ("ROOKERY_DELETION_GRACE_DAYS", "366"),
        ("PORT", "0"),
        ("PORT", "70000"),
        ("RATE_LIMIT_MAX", "0"),
        ("ROOKERY_DB_ROLE", "Web App"),
        ("ROOKERY_DB_ROLE", "x\"; DROP TABLE users; --"),
        ("ROOKERY_TRUST_PROXY", "yes please"),
        ("ROOKERY_ENV", "prod"),
        ("ROOKERY_JWT_SECRET", "short"),
        ("ROOKERY_METRICS_TOKEN", "short"),
        ("ROOKERY_METRICS_BIND", "nowhere"),
        ("ROOKERY_METRICS_BIND", "127.0.0.1:3000"),
        ("ROOKERY_WEBHOOKS_ALLOW_LOOPBACK", "1"),
        ("ROOKERY_WEBHOOKS_TIMEOUT", "0"),
        ("ROOKERY_WEBHOOKS_TIMEOUT", "61"),
        ("ROOKERY_WEBHOOKS_CONNECT_TIMEOUT", "0"),
        ("ROOKERY_WEBHOOKS_SECRET_KEY", "short"),
        ("ROOKERY_JOBS_CONCURRENCY", "0"),
        ("ROOKERY_JOBS_LEASE", "1"),
        ("ROOKERY_JOBS_POLL_MS", "5"),
        ("ROOKERY_JOBS_TENANT_CAP", "-1"),
        ("ROOKERY_JOBS_QUEUES", "mail:0"),
        ("ROOKERY_JOBS_QUEUES", "a b"),
        ("ROOKERY_JOBS_QUEUES", "mail,mail"),
        ("ROOKERY_JOBS_IN_SERVE", "sometimes"),
        ("SMTP_URL", "http://mail.example.com"),
        ("SMTP_URL", "smtp://mail.example.com?tls=sometimes"),
        ("MAIL_FROM", "not an address"),
        ("ROOKERY_PUBLIC_URL", "app.example.com"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("REDIS_URL", "rediss://cache.internal:6380"),
        ("REDIS_URL", "redis://[::1"),
        ("ROOKERY_REDIS_PREFIX", "with space"),
        ("ROOKERY_REDIS_PREFIX", &"x".repeat(65)),
    ] {
        let message = refused(&[(name, value)]);
        assert!(message.contains(name), "{name}={value}: {message}");
    }
    let range = refused(&[("ROOKERY_DB_POOL", "0")]);
    assert!(range.contains("1 to 1000"), "{range}");
    assert_eq!(config(&[("ROOKERY_DB_ROLE", "web_app")]).unwrap().db_role, "web_app");
    assert_eq!((defaults.redis_url, defaults.redis_prefix.as_str()), (None, "acme"));
    let redis = config(&[("REDIS_URL", "redis://:hunter2@cache:6379/2")]).unwrap();
    assert_eq!(redis.redis_url.as_deref(), Some("redis://:hunter2@cache:6379/2"));
    assert!(!format!("{redis:?}").contains("hunter2"), "the password is redacted");
}

#[test]
fn the_help_table_names_every_variable_read() {
    let source = include_str!("mod.rs");
    let (code, _) = source.split_once("#[cfg(test)]").unwrap();
    let (_, reads) = code.split_once("pub fn from_vars").unwrap();
    // The mail variables are read in `config/mail.rs`,
    let (mail, _) = include_str!("mail.rs").split_once("#[cfg(test)]").unwrap();
    // The jobs' and webhooks' in `config/background.rs`.
    let background = include_str!("background.rs");
    let mut read: Vec<&str> = [reads, mail, background]
        .iter()
        .flat_map(|code| code.split('"'))
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
fn metrics_and_reporting_are_off_unless_configured_and_secrets_are_redacted() {
    let defaults = config(&[]).unwrap();
    assert_eq!((defaults.metrics_bind, defaults.metrics_token.is_none()), (None, true));
    assert!(defaults.sentry_dsn.is_none());
    assert_eq!(defaults.sentry_environment, "test", "ROOKERY_ENV by default");
    let token = "metrics-token-metrics-token";
    let dsn = "https://public-key@errors.example.com/42";
    let set = config(&[
        ("ROOKERY_METRICS_BIND", "0.0.0.0:9464"),
        ("ROOKERY_METRICS_TOKEN", token),
        ("SENTRY_DSN", dsn),
    ])
    .unwrap();
    assert_eq!(set.metrics_bind, Some(([0, 0, 0, 0], 9464).into()));
    let debug = format!("{set:?}");
    assert!(!debug.contains(token) && !debug.contains("public-key"), "{debug}");
    assert!(
        refused(&[
            ("ROOKERY_BIND", "0.0.0.0:3000"),
            ("ROOKERY_METRICS_BIND", "127.0.0.1:3000")
        ])
        .contains("ROOKERY_METRICS_BIND")
    );
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
fn job_queues_parse_with_their_concurrency() {
    let jobs = config(&[("ROOKERY_JOBS_QUEUES", " default:8, mail ")]).unwrap().jobs;
    assert_eq!(jobs.queues, [("default".to_owned(), 8), ("mail".to_owned(), 0)]);
    assert!(
        config(&[]).unwrap().jobs.in_serve,
        "the embedded default runs workers in serve"
    );
    let pg = config(&[("DATABASE_URL", "postgres://x@localhost/db")]).unwrap().jobs;
    assert!(!pg.in_serve, "PostgreSQL runs `<app> worker`");
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
