//! Test harness for the runtime's HTTP API: a test app spec with the
//! platform tables, and a fresh database per test on SQLite (a temporary
//! file) or PostgreSQL (a new database, migrated by a non-superuser owner,
//! served by a member of `testapp_app` so row-level security applies,
//! dropped afterwards; `rookery::db::test_cluster`).
//!
//! PostgreSQL: `DATABASE_URL_ADMIN` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) must reach a role that may
//! create databases and roles.

#![allow(dead_code, unreachable_pub, missing_docs)]

use std::future::Future;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use rookery::App;
use rookery::app_spec::{AppSpec, AuthMethod, Migration, PlanDef, QuotaDef, QuotaLimit, RoleDef, TenantResolver};
use rookery::config::Config;
use rookery::db::{Db, DbOptions};
use serde_json::Value;
use sqlx::{PgPool, SqlitePool};
use tower::ServiceExt as _;

const VIEWER: &[&str] = &["members.read", "projects.read"];
const MEMBER: &[&str] = &["members.read", "projects.read", "projects.write", "api_keys.manage"];
const ADMIN: &[&str] = &[
    "members.read",
    "projects.read",
    "projects.write",
    "api_keys.manage",
    "members.manage",
    "projects.delete",
    "audit.read",
];
const OWNER: &[&str] = &[
    "members.read",
    "projects.read",
    "projects.write",
    "api_keys.manage",
    "members.manage",
    "projects.delete",
    "audit.read",
    "billing.manage",
    "tenant.delete",
];

/// The `members` quota of the first (default) plan.
pub const FREE_MEMBERS: u64 = 3;

/// Roles owner > admin > member > viewer (owner first: a tenant's creator
/// gets it); plans `free` (first, 3 members) and `pro` (unlimited).
pub static TEST_SPEC: AppSpec = AppSpec {
    name: "testapp",
    title: "Test app",
    api_prefix: "/api/v1",
    resolvers: &[TenantResolver::Subdomain, TenantResolver::Header],
    auth_methods: &[AuthMethod::Password, AuthMethod::ApiKey],
    roles: &[
        RoleDef {
            name: "owner",
            permissions: OWNER,
        },
        RoleDef {
            name: "admin",
            permissions: ADMIN,
        },
        RoleDef {
            name: "member",
            permissions: MEMBER,
        },
        RoleDef {
            name: "viewer",
            permissions: VIEWER,
        },
    ],
    features: &[],
    plans: &[
        PlanDef {
            name: "free",
            features: &[],
            quotas: &[QuotaDef {
                name: "members",
                limit: QuotaLimit::Count(FREE_MEMBERS),
            }],
            rate_limit: None,
            monthly_price: Some(0),
            trial_days: None,
        },
        PlanDef {
            name: "pro",
            features: &[],
            quotas: &[],
            rate_limit: None,
            monthly_price: Some(4900),
            trial_days: None,
        },
    ],
    postgres_migrations: &[Migration {
        version: 1,
        name: "platform",
        sql: include_str!("../../../generator/templates/platform/postgres.sql"),
    }],
    sqlite_migrations: &[Migration {
        version: 1,
        name: "platform",
        sql: include_str!("../../../generator/templates/platform/sqlite.sql"),
    }],
};

/// Which database a test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A pool that bypasses the app (owner / superuser) to inspect rows.
#[derive(Clone)]
enum Inspect {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The app under test and a side door into its database.
pub struct Harness {
    router: Router,
    inspect: Inspect,
}

/// One HTTP exchange's outcome.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// `body[key]` as a string (panics with the whole reply when absent).
    pub fn str(&self, key: &str) -> String {
        self.body[key]
            .as_str()
            .unwrap_or_else(|| panic!("no string `{key}` in {self:?}"))
            .to_owned()
    }
}

impl Harness {
    /// Sends `method path` (under the API prefix) naming tenant `tenant`
    /// in `X-Tenant`, with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        tenant: Option<&str>,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = Request::builder().method(method).uri(format!("/api/v1{path}"));
        if let Some(tenant) = tenant {
            request = request.header("x-tenant", tenant);
        }
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .expect("request");
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).expect("JSON body")
        };
        Reply { status, body }
    }

    /// `POST /auth/signup`, expecting 201.
    pub async fn signup(&self, slug: &str, email: &str, password: &str) -> Reply {
        let body = serde_json::json!({ "tenant_slug": slug, "tenant_name": slug.to_uppercase(), "email": email, "password": password });
        let reply = self.call("POST", "/auth/signup", None, None, Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        reply
    }

    /// `POST /auth/login` on tenant `slug`.
    pub async fn login(&self, slug: &str, email: &str, password: &str) -> Reply {
        let body = serde_json::json!({ "email": email, "password": password });
        self.call("POST", "/auth/login", Some(slug), None, Some(body)).await
    }

    /// A `SELECT COUNT(*) …` run beside the app (no RLS).
    pub async fn count(&self, sql: &'static str) -> i64 {
        match &self.inspect {
            Inspect::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.expect("count"),
            Inspect::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await.expect("count"),
        }
    }

    /// Runs a statement beside the app, in the backend's own dialect.
    pub async fn exec(&self, postgres: &'static str, sqlite: &'static str) {
        match &self.inspect {
            Inspect::Sqlite(pool) => sqlx::query(sqlite).execute(pool).await.map(drop).expect("exec"),
            Inspect::Postgres(pool) => sqlx::query(postgres).execute(pool).await.map(drop).expect("exec"),
        }
    }

    /// Every audit row's action and metadata (as text), oldest first.
    pub async fn audit_rows(&self) -> Vec<(String, String)> {
        match &self.inspect {
            Inspect::Sqlite(pool) => {
                sqlx::query_as("SELECT action, COALESCE(metadata, '') FROM audit_log ORDER BY at, id")
                    .fetch_all(pool)
                    .await
                    .expect("audit")
            }
            Inspect::Postgres(pool) => {
                sqlx::query_as("SELECT action, COALESCE(metadata::text, '') FROM audit_log ORDER BY at, id")
                    .fetch_all(pool)
                    .await
                    .expect("audit")
            }
        }
    }
}

fn config(database_url: &str) -> Config {
    let mut config = Config::from_env("testapp").expect("config");
    config.database_url = database_url.to_owned();
    config.migrate_database_url = database_url.to_owned();
    config.base_domain = "localhost".into();
    config.jwt_secret = b"test-secret-test-secret-test-secret!".to_vec();
    config.jwt_previous_secrets = Vec::new();
    config.access_token_ttl = 900;
    config.api_key_pepper = b"test-pepper".to_vec();
    config.env = "test".into();
    config.rate_limit_override = None;
    config
}

fn router(db: Db, url: &str) -> Router {
    let app = App::new(&TEST_SPEC);
    let state = app.state(config(url), db);
    app.router(state)
}

/// Runs `scenario` against a fresh database of `backend`, then removes the
/// database (also when the scenario panics, whose panic is then resumed).
pub async fn run<F, Fut>(backend: Backend, scenario: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Sqlite => run_sqlite(scenario).await,
        Backend::Postgres => run_postgres(scenario).await,
    }
}

async fn finish(outcome: Result<(), tokio::task::JoinError>) {
    if let Err(err) = outcome {
        match err.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(err) => panic!("scenario did not finish: {err}"),
        }
    }
}

async fn run_sqlite<F, Fut>(scenario: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite:{}", dir.path().join("app.sqlite").display());
    let db = Db::connect(&url, &DbOptions::serving("unused_on_sqlite"))
        .await
        .expect("connect");
    db.migrate(&TEST_SPEC, "unused_on_sqlite").await.expect("migrate");
    let inspect = SqlitePool::connect(&url).await.expect("inspect pool");
    let harness = Harness {
        router: router(db.clone(), &url),
        inspect: Inspect::Sqlite(inspect.clone()),
    };
    let outcome = tokio::spawn(scenario(harness)).await;
    db.close().await;
    inspect.close().await;
    finish(outcome).await;
}

fn admin_url() -> String {
    std::env::var("DATABASE_URL_ADMIN").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn run_postgres<F, Fut>(scenario: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    // As the README says: a non-superuser owner migrates, a member of the
    // app's group role serves.
    let pg = rookery::db::test_cluster::create(&admin_url(), TEST_SPEC.name).await;
    let owner = Db::connect(&pg.owner_url, &DbOptions::migrating())
        .await
        .expect("connect as owner");
    owner.migrate(&TEST_SPEC, &pg.group_role).await.expect("migrate");
    owner.close().await;
    let db = Db::connect(&pg.serving_url, &DbOptions::serving(&pg.group_role))
        .await
        .expect("connect as the serving role");
    let inspect = PgPool::connect(&pg.superuser_url()).await.expect("inspect pool");
    let harness = Harness {
        router: router(db.clone(), &pg.serving_url),
        inspect: Inspect::Postgres(inspect.clone()),
    };
    let outcome = tokio::spawn(scenario(harness)).await;
    db.close().await;
    inspect.close().await;
    pg.drop_database().await;
    finish(outcome).await;
}
