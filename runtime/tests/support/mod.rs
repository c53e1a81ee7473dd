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

pub mod ops;

/// Runs each scenario (an `async fn(Harness)` of the test file) as two
/// tests, `sqlite::<name>` and `postgres::<name>`, each on a fresh
/// database (`#[macro_use] mod support;` brings it in).
/// With `configure = f;` first, `f(&mut Config)` adjusts each scenario's
/// configuration (`run_with`).
#[allow(unused_macros)]
macro_rules! on_both_backends {
    (configure = $configure:ident; $($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::support::run_with(crate::support::Backend::Sqlite, crate::$configure, crate::$scenario).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::support::run_with(crate::support::Backend::Postgres, crate::$configure, crate::$scenario).await;
                }
            )*
        }
    };
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::support::run(crate::support::Backend::Sqlite, crate::$scenario).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::support::run(crate::support::Backend::Postgres, crate::$scenario).await;
                }
            )*
        }
    };
}

use std::future::Future;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use rookery::app_spec::{
    AppSpec, AuthMethod, Migration, PermissionDef, PlanDef, QuotaDef, QuotaLimit, RoleDef, TenantResolver,
};
use rookery::config::Config;
use rookery::db::{Db, DbOptions};
use rookery::{App, TenantModel};
use serde_json::Value;
use sqlx::{PgPool, SqlitePool};
use tower::ServiceExt as _;

pub mod pair;
pub mod redis_server;

const VIEWER: &[&str] = &["members.read", "projects.read"];
const MEMBER: &[&str] = &[
    "members.read",
    "projects.read",
    "projects.write",
    "api_keys.manage",
    "deals.read",
];
/// A viewer reads their own deals only (`deals.read:own`).
const VIEWER_OWN: &[&str] = &["deals.read"];
/// A member writes and deletes their own deals only (`deals.write:own`).
const MEMBER_OWN: &[&str] = &["deals.write", "deals.delete"];
const ADMIN: &[&str] = &[
    "deals.read",
    "deals.write",
    "deals.delete",
    "deals.approve",
    "deals.assign",
    "members.read",
    "projects.read",
    "projects.write",
    "api_keys.manage",
    "members.manage",
    "roles.manage",
    "projects.delete",
    "audit.read",
    "webhooks.manage",
];
const OWNER: &[&str] = &[
    "deals.read",
    "deals.write",
    "deals.delete",
    "deals.approve",
    "deals.assign",
    "members.read",
    "projects.read",
    "projects.write",
    "api_keys.manage",
    "members.manage",
    "roles.manage",
    "projects.delete",
    "audit.read",
    "billing.manage",
    "tenant.delete",
    "tenant.export",
    "webhooks.manage",
];

/// The `deals` quota of the `basic` plan.
pub const BASIC_DEALS: u64 = 2;

/// The `members` quota of the first (default) plan.
pub const FREE_MEMBERS: u64 = 3;

/// The `api_calls` rate quota of the `metered` plan, per UTC day.
pub const METERED_CALLS: u64 = 5;

/// The `api_calls` rate quota of the `metered_big` plan, per UTC day:
/// large enough that calls are reserved in blocks of several.
pub const METERED_BIG_CALLS: u64 = 200;

/// A note: a model with one field of each kind of value the hardening
/// tests send (text, long text, JSON, decimal), audited, recording every
/// event; its permissions are the projects ones the roles already hold.
#[derive(Debug, Clone, TenantModel)]
#[rookery(
    id = "bigint",
    permissions(read = "projects.read", write = "projects.write", delete = "projects.delete"),
    audit,
    events(created, updated, deleted)
)]
pub struct Note {
    /// Title.
    #[rookery(max_len = 200, indexed, sortable)]
    pub title: String,
    /// Body.
    #[rookery(text)]
    pub body: Option<String>,
    /// Free-form facts.
    pub meta: Option<serde_json::Value>,
    /// An amount (masked in the audit log).
    #[rookery(sensitive)]
    pub amount: Option<rookery::Decimal>,
}

/// A deal: owned by a member (members write and delete their own, admins
/// any), `approved` needs `deals.approve`, `score` is the server's.
#[derive(Debug, Clone, TenantModel)]
#[rookery(
    permissions(
        read = "deals.read",
        write = "deals.write",
        delete = "deals.delete",
        assign = "deals.assign"
    ),
    audit,
    feature = "crm",
    quota = "deals"
)]
pub struct Deal {
    /// Title.
    #[rookery(max_len = 200)]
    pub title: String,
    /// Who owns it.
    #[rookery(owner)]
    pub owner: rookery::UserId,
    /// Approved by a manager.
    #[rookery(default = "false", write = "deals.approve")]
    pub approved: bool,
    /// Set by the server.
    #[rookery(read_only)]
    pub score: Option<i32>,
}

/// A gadget's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, rookery::ModelEnum)]
pub enum GadgetKind {
    /// Small.
    Small,
    /// Large.
    Large,
}

/// A gadget: every field type the notes lack, recording its events (the
/// event's data must be the row's JSON whatever the type).
#[derive(Debug, Clone, TenantModel)]
#[rookery(
    permissions(read = "projects.read", write = "projects.write", delete = "projects.delete"),
    events(created, updated, deleted)
)]
pub struct Gadget {
    /// A count.
    pub count: i32,
    /// A big number.
    pub big: Option<i64>,
    /// A flag.
    pub flag: bool,
    /// A day.
    pub day: Option<rookery::chrono::NaiveDate>,
    /// An instant.
    pub at: Option<rookery::chrono::DateTime<rookery::chrono::Utc>>,
    /// A code.
    pub code: Option<rookery::uuid::Uuid>,
    /// Its kind.
    pub kind: GadgetKind,
    /// A price.
    pub price: Option<rookery::Decimal>,
    /// Free-form facts.
    pub doc: Option<serde_json::Value>,
    /// The note it belongs to.
    pub note: Option<NoteId>,
    /// Who owns it.
    pub owner: Option<rookery::UserId>,
}

/// A lead's stage, declared in pipeline order (not alphabetical: a sort by
/// stage must follow this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, rookery::ModelEnum)]
pub enum Stage {
    /// Just in.
    New,
    /// Worth a call.
    Qualified,
    /// Signed.
    Won,
    /// Gone.
    Lost,
}

/// A lead: the list features (range and `in` filters on numbers, dates
/// and enums, `q=` over its name and notes, enum sort), an email unique
/// without regard to case and a URL; owned like a deal (a viewer reads
/// their own only), without the deals' feature and quota.
#[derive(Debug, Clone, TenantModel)]
#[rookery(
    id = "bigint",
    permissions(
        read = "deals.read",
        write = "deals.write",
        delete = "deals.delete",
        assign = "deals.assign"
    )
)]
pub struct Lead {
    /// Name.
    #[rookery(max_len = 200, searchable)]
    pub name: String,
    /// Notes.
    #[rookery(text, searchable)]
    pub notes: Option<String>,
    /// Stage.
    #[rookery(indexed, sortable, default = "new")]
    pub stage: Stage,
    /// Amount.
    #[rookery(indexed, sortable)]
    pub amount: rookery::Decimal,
    /// Seats.
    #[rookery(indexed, min = 0)]
    pub seats: i32,
    /// Expected close.
    #[rookery(indexed)]
    pub close_date: Option<rookery::chrono::NaiveDate>,
    /// Last seen.
    #[rookery(indexed)]
    pub seen_at: Option<rookery::chrono::DateTime<rookery::chrono::Utc>>,
    /// Contact address.
    #[rookery(email, unique, indexed)]
    pub email: Option<String>,
    /// Web site.
    #[rookery(url)]
    pub site: Option<String>,
    /// Who owns it.
    #[rookery(owner)]
    pub owner: rookery::UserId,
}

const PG_LEADS: &str = "
CREATE TABLE leads (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    name text NOT NULL CHECK (char_length(name) <= 200),
    notes text,
    stage text NOT NULL DEFAULT 'new' CHECK (stage IN ('new', 'qualified', 'won', 'lost')),
    amount numeric NOT NULL, seats integer NOT NULL CHECK (seats >= 0),
    close_date date, seen_at timestamptz, email text, site text, owner_id uuid NOT NULL,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES memberships (tenant_id, user_id));
CREATE UNIQUE INDEX leads_tenant_id_email_key ON leads (tenant_id, lower(email));
CREATE INDEX leads_tenant_id_owner_id_idx ON leads (tenant_id, owner_id);
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX leads_name_search ON leads USING gin (name gin_trgm_ops);
CREATE INDEX leads_notes_search ON leads USING gin (notes gin_trgm_ops);
ALTER TABLE leads ENABLE ROW LEVEL SECURITY; ALTER TABLE leads FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON leads
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
";

const SQLITE_LEADS: &str = "
CREATE TABLE leads (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE, id INTEGER NOT NULL,
    name TEXT NOT NULL CHECK (length(name) <= 200),
    notes TEXT,
    stage TEXT NOT NULL DEFAULT 'new' CHECK (stage IN ('new', 'qualified', 'won', 'lost')),
    amount TEXT NOT NULL, seats INTEGER NOT NULL CHECK (seats >= 0),
    close_date TEXT, seen_at TEXT, email TEXT, site TEXT, owner_id TEXT NOT NULL,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES memberships (tenant_id, user_id));
CREATE UNIQUE INDEX leads_tenant_id_email_key ON leads (tenant_id, lower(email));
CREATE INDEX leads_tenant_id_owner_id_idx ON leads (tenant_id, owner_id);
";

const PG_NOTES: &str = "
CREATE TABLE notes (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id bigint GENERATED BY DEFAULT AS IDENTITY,
    title text NOT NULL CHECK (char_length(title) <= 200),
    body text, meta jsonb, amount numeric,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id));
ALTER TABLE notes ENABLE ROW LEVEL SECURITY; ALTER TABLE notes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notes
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
CREATE TABLE gadgets (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    count integer NOT NULL, big bigint, flag boolean NOT NULL, day date, at timestamptz, code uuid,
    kind text NOT NULL CHECK (kind IN ('small', 'large')), price numeric, doc jsonb,
    note_id bigint, owner_id uuid,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, note_id) REFERENCES notes (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, owner_id) REFERENCES memberships (tenant_id, user_id));
ALTER TABLE gadgets ENABLE ROW LEVEL SECURITY; ALTER TABLE gadgets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON gadgets
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
CREATE TABLE deals (
    tenant_id uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id uuid NOT NULL,
    title text NOT NULL CHECK (char_length(title) <= 200),
    owner_id uuid NOT NULL, approved boolean NOT NULL, score integer,
    created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES memberships (tenant_id, user_id));
CREATE INDEX deals_tenant_id_owner_id_idx ON deals (tenant_id, owner_id);
ALTER TABLE deals ENABLE ROW LEVEL SECURITY; ALTER TABLE deals FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON deals
    USING (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))
    WITH CHECK (tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid));
";

const SQLITE_NOTES: &str = "
CREATE TABLE notes (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE, id INTEGER NOT NULL,
    title TEXT NOT NULL CHECK (length(title) <= 200),
    body TEXT, meta TEXT, amount TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id));
CREATE TABLE gadgets (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE, id TEXT NOT NULL,
    count INTEGER NOT NULL, big INTEGER, flag INTEGER NOT NULL, day TEXT, at TEXT, code TEXT,
    kind TEXT NOT NULL CHECK (kind IN ('small', 'large')), price TEXT, doc TEXT,
    note_id INTEGER, owner_id TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, note_id) REFERENCES notes (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, owner_id) REFERENCES memberships (tenant_id, user_id));
CREATE TABLE deals (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE, id TEXT NOT NULL,
    title TEXT NOT NULL CHECK (length(title) <= 200),
    owner_id TEXT NOT NULL, approved INTEGER NOT NULL, score INTEGER,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, owner_id) REFERENCES memberships (tenant_id, user_id));
";

/// The permission catalogue: deals have an owner (their permissions may be
/// granted on own rows, `deals.assign` excepted), projects do not.
const PERMISSIONS: &[PermissionDef] = &[
    permission("deals.read", true),
    permission("deals.write", true),
    permission("deals.delete", true),
    permission("deals.approve", true),
    permission("deals.assign", false),
    permission("projects.read", false),
    permission("projects.write", false),
    permission("projects.delete", false),
    permission("members.read", false),
    permission("members.manage", false),
    permission("roles.manage", false),
    permission("api_keys.manage", false),
    permission("audit.read", false),
    permission("billing.manage", false),
    permission("tenant.delete", false),
    permission("tenant.export", false),
    permission("webhooks.manage", false),
];

const fn permission(name: &'static str, ownable: bool) -> PermissionDef {
    PermissionDef {
        name,
        description: None,
        ownable,
    }
}

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
            own: &[],
        },
        RoleDef {
            name: "admin",
            permissions: ADMIN,
            own: &[],
        },
        RoleDef {
            name: "member",
            permissions: MEMBER,
            own: MEMBER_OWN,
        },
        RoleDef {
            name: "viewer",
            permissions: VIEWER,
            own: VIEWER_OWN,
        },
    ],
    permissions: PERMISSIONS,
    features: &[
        rookery::app_spec::FeatureDef {
            name: "webhooks",
            title: "Webhooks",
        },
        rookery::app_spec::FeatureDef {
            name: "api_access",
            title: "API access",
        },
        rookery::app_spec::FeatureDef {
            name: "crm",
            title: "Deals",
        },
        rookery::app_spec::FeatureDef {
            name: "approvals",
            title: "Approving deals",
        },
    ],
    plans: &[
        PlanDef {
            name: "free",
            features: &["api_access"],
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
            features: &["webhooks", "api_access", "crm", "approvals"],
            quotas: &[],
            rate_limit: None,
            monthly_price: Some(4900),
            trial_days: None,
        },
        // API keys, and five API calls a day.
        PlanDef {
            name: "metered",
            features: &["api_access"],
            quotas: &[QuotaDef {
                name: "api_calls",
                limit: QuotaLimit::PerPeriod(METERED_CALLS, rookery::app_spec::Period::Day),
            }],
            rate_limit: None,
            monthly_price: Some(0),
            trial_days: None,
        },
        // Deals (two at most) and 200 API calls a day.
        PlanDef {
            name: "metered_big",
            features: &["api_access", "crm"],
            quotas: &[
                QuotaDef {
                    name: "api_calls",
                    limit: QuotaLimit::PerPeriod(METERED_BIG_CALLS, rookery::app_spec::Period::Day),
                },
                QuotaDef {
                    name: "deals",
                    limit: QuotaLimit::Count(BASIC_DEALS),
                },
            ],
            rate_limit: None,
            monthly_price: Some(1900),
            trial_days: None,
        },
        // Deals (two at most) without approvals, and no API keys.
        PlanDef {
            name: "basic",
            features: &["crm"],
            quotas: &[QuotaDef {
                name: "deals",
                limit: QuotaLimit::Count(BASIC_DEALS),
            }],
            rate_limit: None,
            monthly_price: Some(900),
            trial_days: None,
        },
    ],
    gates: rookery::app_spec::Gates {
        permissions: &[("deals.approve", "approvals")],
        api_keys: Some("api_access"),
    },
    schedules: &[],
    postgres_migrations: &[
        Migration {
            version: 1,
            name: "platform",
            sql: concat!(
                include_str!("../../../generator/templates/platform/postgres/1_base.sql"),
                include_str!("../../../generator/templates/platform/postgres/2_jobs.sql"),
                include_str!("../../../generator/templates/platform/postgres/3_idempotency.sql"),
                include_str!("../../../generator/templates/platform/postgres/4_mail.sql"),
                include_str!("../../../generator/templates/platform/postgres/5_webhooks.sql"),
                include_str!("../../../generator/templates/platform/postgres/6_platform_audit.sql"),
                include_str!("../../../generator/templates/platform/postgres/7_usage.sql"),
                include_str!("../../../generator/templates/platform/postgres/8_members.sql"),
                include_str!("../../../generator/templates/platform/postgres/9_quotas.sql"),
                include_str!("../../../generator/templates/platform/postgres/10_audit.sql"),
                include_str!("../../../generator/templates/platform/postgres/11_overrides.sql"),
                include_str!("../../../generator/templates/platform/postgres/12_roles.sql"),
                include_str!("../../../generator/templates/platform/postgres/13_deletion.sql"),
                include_str!("../../../generator/templates/platform/postgres/14_audit_index.sql")
            ),
        },
        Migration {
            version: 2,
            name: "notes",
            sql: PG_NOTES,
        },
        Migration {
            version: 3,
            name: "leads",
            sql: PG_LEADS,
        },
    ],
    sqlite_migrations: &[
        Migration {
            version: 1,
            name: "platform",
            sql: concat!(
                include_str!("../../../generator/templates/platform/sqlite/1_base.sql"),
                include_str!("../../../generator/templates/platform/sqlite/2_jobs.sql"),
                include_str!("../../../generator/templates/platform/sqlite/3_idempotency.sql"),
                include_str!("../../../generator/templates/platform/sqlite/4_mail.sql"),
                include_str!("../../../generator/templates/platform/sqlite/5_webhooks.sql"),
                include_str!("../../../generator/templates/platform/sqlite/6_platform_audit.sql"),
                include_str!("../../../generator/templates/platform/sqlite/7_usage.sql"),
                include_str!("../../../generator/templates/platform/sqlite/8_members.sql"),
                include_str!("../../../generator/templates/platform/sqlite/9_quotas.sql"),
                include_str!("../../../generator/templates/platform/sqlite/10_audit.sql"),
                include_str!("../../../generator/templates/platform/sqlite/11_overrides.sql"),
                include_str!("../../../generator/templates/platform/sqlite/12_roles.sql"),
                include_str!("../../../generator/templates/platform/sqlite/13_deletion.sql"),
                include_str!("../../../generator/templates/platform/sqlite/14_audit_index.sql")
            ),
        },
        Migration {
            version: 2,
            name: "notes",
            sql: SQLITE_NOTES,
        },
        Migration {
            version: 3,
            name: "leads",
            sql: SQLITE_LEADS,
        },
    ],
};

type MailTuple = (String, String, String, Option<String>, Option<String>, Option<String>);

/// A stored mail message, as the side door reads it.
#[derive(Debug, Clone)]
pub struct MailRow {
    pub to: String,
    pub state: String,
    pub subject: String,
    pub text: Option<String>,
    pub html: Option<String>,
    pub last_error: Option<String>,
}

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
    /// The router of the metrics listener (`App::metrics_router`).
    metrics: Router,
    inspect: Inspect,
    /// The app's state (to reach below the API: invalidations, Redis).
    pub state: rookery::AppState,
    /// The URL `migrate` uses: the tables' owner on PostgreSQL.
    owner_url: String,
    /// The group role the serving pool switches to (PostgreSQL).
    serving_role: String,
}

/// One HTTP exchange's outcome.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

/// One HTTP exchange's outcome with its headers and the body's bytes.
pub struct RawReply {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for RawReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawReply")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl RawReply {
    /// The `Content-Type` header ("" when absent).
    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The body as JSON (panics with the whole reply when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {self:?}"))
    }

    /// Panics unless this is an RFC 9457 problem for `status`.
    pub fn assert_problem(&self, status: StatusCode) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.content_type(), "application/problem+json", "{self:?}");
        let body = self.json();
        assert!(body["type"].is_string(), "{body}");
        assert!(body["title"].is_string(), "{body}");
        assert_eq!(body["status"], status.as_u16(), "{body}");
    }
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
    /// The app's pool (the serving role on PostgreSQL).
    pub fn db(&self) -> &Db {
        self.state.db()
    }

    /// The app's configuration.
    pub fn config(&self) -> &Config {
        self.state.config()
    }

    /// The metrics listener's `/metrics`, as text (no token configured).
    pub async fn metrics_text(&self) -> String {
        let request = Request::get("/metrics").body(Body::empty()).expect("request");
        let response = self.metrics.clone().oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("text")
    }

    /// A pool as `migrate` and the operator's commands open it: the
    /// tables' owner on PostgreSQL (close it when done).
    pub async fn owner_db(&self) -> Db {
        Db::connect(&self.owner_url, &DbOptions::migrating())
            .await
            .expect("connect as the owner")
    }

    /// The app restarted: this instance's pool closed (nothing given back
    /// unless the test did), a new pool on the same database and a new
    /// state, as a new process would have them.
    pub async fn restarted(&self) -> Harness {
        self.db().close().await;
        let config = self.state.config().clone();
        let db = Db::connect(&config.database_url, &DbOptions::serving(&self.serving_role))
            .await
            .expect("connect again");
        let (state, router, metrics) = router_for(db, config);
        Harness {
            router,
            metrics,
            inspect: self.inspect.clone(),
            state,
            owner_url: self.owner_url.clone(),
            serving_role: self.serving_role.clone(),
        }
    }

    /// Signs up tenant `slug` and returns its id.
    pub async fn tenant(&self, slug: &str) -> rookery::TenantId {
        let reply = self
            .signup(slug, &format!("owner@{slug}.test"), "correct horse battery")
            .await;
        reply.body["tenant"]["id"]
            .as_str()
            .expect("tenant id")
            .parse()
            .expect("a tenant id")
    }

    /// Serves the app and its metrics listener on two ports of 127.0.0.1
    /// for the rest of the test: `(api, metrics)`.
    pub async fn serve(&self) -> (std::net::SocketAddr, std::net::SocketAddr) {
        let mut addrs = Vec::new();
        for router in [self.router.clone(), self.metrics.clone()] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            addrs.push(listener.local_addr().expect("address"));
            let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
            tokio::spawn(async move { axum::serve(listener, service).await.expect("serve") });
        }
        (addrs[0], addrs[1])
    }

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

    /// Sends `request` as it is (its URI is not prefixed).
    pub async fn send(&self, request: Request<Body>) -> RawReply {
        let response = self.router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        RawReply { status, headers, body }
    }

    /// Sends `method path` (under the API prefix) on tenant `tenant` as
    /// `bearer`, with `body` sent as it is, as `application/json`.
    pub async fn send_json(
        &self,
        method: &str,
        path: &str,
        tenant: &str,
        bearer: Option<&str>,
        body: &str,
    ) -> RawReply {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("/api/v1{path}"))
            .header("x-tenant", tenant)
            .header("content-type", "application/json");
        if let Some(token) = bearer {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        self.send(request.body(Body::from(body.to_owned())).expect("request"))
            .await
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

    /// Every job in the queue: kind, state, attempts, last error and tenant
    /// (as text), oldest first.
    pub async fn job_rows(&self) -> Vec<(String, String, i64, Option<String>, Option<String>)> {
        match &self.inspect {
            Inspect::Sqlite(pool) => sqlx::query_as(
                "SELECT kind, state, attempts, last_error, tenant_id FROM rookery_jobs ORDER BY created_at, id",
            )
            .fetch_all(pool)
            .await
            .expect("jobs"),
            Inspect::Postgres(pool) => sqlx::query_as(
                "SELECT kind, state, attempts::bigint, last_error, tenant_id::text FROM rookery_jobs ORDER BY created_at, id",
            )
            .fetch_all(pool)
            .await
            .expect("jobs"),
        }
    }

    /// Every stored mail message, oldest first.
    pub async fn mail_rows(&self) -> Vec<MailRow> {
        let sql = "SELECT to_address, state, subject, text_body, html_body, last_error FROM rookery_mail \
                   ORDER BY created_at, id";
        let rows: Vec<MailTuple> = match &self.inspect {
            Inspect::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await.expect("mail"),
            Inspect::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await.expect("mail"),
        };
        rows.into_iter()
            .map(|(to, state, subject, text, html, last_error)| MailRow {
                to,
                state,
                subject,
                text,
                html,
                last_error,
            })
            .collect()
    }

    /// Makes every waiting job due now (the side door moves the jobs
    /// instead of the clock).
    pub async fn make_jobs_due(&self) {
        self.exec(
            "UPDATE rookery_jobs SET run_at = now() - interval '1 second', fair_at = now() - interval '1 second' \
             WHERE state = 'ready'",
            "UPDATE rookery_jobs SET run_at = '2000-01-01T00:00:00.000000Z', fair_at = '2000-01-01T00:00:00.000000Z' \
             WHERE state = 'ready'",
        )
        .await;
    }

    /// Puts tenant `slug` on plan `plan` (beside the app: before its first
    /// authenticated request, so no cached plan is in the way).
    pub async fn set_plan(&self, slug: &str, plan: &str) {
        let sql = "UPDATE tenants SET plan = $1 WHERE slug = $2 RETURNING id";
        let id: String = match &self.inspect {
            Inspect::Sqlite(pool) => sqlx::query_scalar(sql)
                .bind(plan)
                .bind(slug)
                .fetch_one(pool)
                .await
                .expect("set the plan"),
            Inspect::Postgres(pool) => {
                let id: uuid::Uuid = sqlx::query_scalar(sql)
                    .bind(plan)
                    .bind(slug)
                    .fetch_one(pool)
                    .await
                    .expect("set the plan");
                id.to_string()
            }
        };
        // As the operator's plan change does: every instance's next
        // request sees it.
        let tenant = id.parse().expect("a tenant id");
        self.state
            .test_invalidate(rookery::auth::invalidate::Invalidation::Tenant(tenant))
            .await;
    }

    /// Every event: its tenant (as text), type and data, oldest first.
    pub async fn events(&self) -> Vec<(String, String, Value)> {
        let rows: Vec<(String, String, String)> = match &self.inspect {
            Inspect::Sqlite(pool) => {
                sqlx::query_as("SELECT tenant_id, type, data FROM rookery_events ORDER BY occurred_at, id")
                    .fetch_all(pool)
                    .await
                    .expect("events")
            }
            Inspect::Postgres(pool) => {
                sqlx::query_as("SELECT tenant_id::text, type, data::text FROM rookery_events ORDER BY occurred_at, id")
                    .fetch_all(pool)
                    .await
                    .expect("events")
            }
        };
        rows.into_iter()
            .map(|(t, k, d)| (t, k, serde_json::from_str(&d).expect("event data is JSON")))
            .collect()
    }

    /// Every audit row's action and request id, oldest first.
    pub async fn audit_request_ids(&self) -> Vec<(String, Option<String>)> {
        let sql = "SELECT action, request_id FROM audit_log ORDER BY at, id";
        match &self.inspect {
            Inspect::Sqlite(pool) => sqlx::query_as(sql).fetch_all(pool).await.expect("audit"),
            Inspect::Postgres(pool) => sqlx::query_as(sql).fetch_all(pool).await.expect("audit"),
        }
    }

    /// Every table of the database that has a `tenant_id` column, read
    /// from the catalogue (so a table added later is not forgotten), with
    /// how many of its rows belong to `tenant`.
    pub async fn rows_of_tenant(&self, tenant: rookery::TenantId) -> std::collections::BTreeMap<String, i64> {
        let mut out = std::collections::BTreeMap::new();
        match &self.inspect {
            Inspect::Sqlite(pool) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' \
                     AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'tenant_id') ORDER BY m.name",
                )
                .fetch_all(pool)
                .await
                .expect("tables");
                for t in tables {
                    let sql = format!("SELECT count(*) FROM \"{t}\" WHERE tenant_id = $1");
                    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .bind(tenant.0.to_string())
                        .fetch_one(pool)
                        .await
                        .expect("count");
                    out.insert(t, n);
                }
            }
            Inspect::Postgres(pool) => {
                let tables: Vec<String> = sqlx::query_scalar(
                    "SELECT c.table_name::text FROM information_schema.columns c \
                     JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
                     WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id' AND t.table_type = 'BASE TABLE' \
                     ORDER BY 1",
                )
                .fetch_all(pool)
                .await
                .expect("tables");
                for t in tables {
                    let sql = format!("SELECT count(*) FROM \"{t}\" WHERE tenant_id = $1");
                    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                        .bind(tenant.0)
                        .fetch_one(pool)
                        .await
                        .expect("count");
                    out.insert(t, n);
                }
            }
        }
        out
    }

    /// Every row of `table` as one JSON text each (beside the app).
    pub async fn rows_as_text(&self, table: &str) -> Vec<String> {
        match &self.inspect {
            Inspect::Sqlite(pool) => {
                let columns: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid")
                    .bind(table)
                    .fetch_all(pool)
                    .await
                    .expect("columns");
                let pairs: Vec<String> = columns.iter().map(|c| format!("'{c}', \"{c}\"")).collect();
                let sql = format!("SELECT json_object({}) FROM \"{table}\"", pairs.join(", "));
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_all(pool)
                    .await
                    .expect("rows")
            }
            Inspect::Postgres(pool) => {
                let sql = format!("SELECT row_to_json(t)::text FROM \"{table}\" t");
                sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_all(pool)
                    .await
                    .expect("rows")
            }
        }
    }

    /// Runs SQL as the tables' owner (PostgreSQL; the database file on
    /// SQLite), as a hand-written migration would.
    pub async fn exec_as_owner(&self, postgres: &str, sqlite: &str) {
        match &self.inspect {
            Inspect::Sqlite(pool) => sqlx::raw_sql(sqlx::AssertSqlSafe(sqlite.to_owned()))
                .execute(pool)
                .await
                .map(drop)
                .expect("exec"),
            Inspect::Postgres(_) => {
                use sqlx::Connection as _;
                let mut conn = sqlx::PgConnection::connect(&self.owner_url)
                    .await
                    .expect("the owner connects");
                sqlx::raw_sql(sqlx::AssertSqlSafe(postgres.to_owned()))
                    .execute(&mut conn)
                    .await
                    .map(drop)
                    .expect("exec as the owner");
            }
        }
    }

    /// A connection to the app's database as its serving role (PostgreSQL
    /// only): the login the app serves with, switched to the group role.
    pub async fn serving_connection(&self) -> sqlx::PgConnection {
        use sqlx::Connection as _;
        let mut conn = sqlx::PgConnection::connect(&self.state.config().database_url)
            .await
            .expect("connect as the serving login");
        let set = format!("SET ROLE \"{}\"", self.serving_role);
        sqlx::raw_sql(sqlx::AssertSqlSafe(set))
            .execute(&mut conn)
            .await
            .expect("switch to the group role");
        conn
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
    // The routes' and the worker's configurations are built apart: one key.
    config.webhook_secret_key = [7; 32];
    config.env = "test".into();
    config.rate_limit_override = None;
    // scripts/test exports REDIS_URL for the tests that ask for Redis
    // (tests/instances.rs, each with a prefix of its own); the others keep
    // their limits in process, or parallel tests would share them.
    config.redis_url = None;
    // The webhook receiver listens on loopback; an endpoint that never
    // answers gives up after a second.
    config.webhooks.allow_loopback = true;
    config.webhooks.timeout = std::time::Duration::from_secs(1);
    config.webhooks.connect_timeout = std::time::Duration::from_secs(1);
    config
}

/// A hand-written route: axum's own `Json` extractor, whose rejections
/// the app turns into problems like its own errors.
async fn echo(_: rookery::auth::Principal, axum::Json(body): axum::Json<Echo>) -> axum::Json<Echo> {
    axum::Json(body)
}

#[derive(serde::Deserialize, serde::Serialize)]
struct Echo {
    word: String,
}

/// A hand-written route that panics (the operations tests).
async fn panics(_: rookery::auth::Principal) -> StatusCode {
    panic!("the handler panicked");
}

/// A hand-written route that fails with an internal error whose source
/// is a database error (the operations tests).
async fn fails(_: rookery::auth::Principal) -> Result<StatusCode, rookery::ApiError> {
    let io = std::io::Error::other("the disk is on fire");
    Err(rookery::ApiError::internal(rookery::DbError::Sqlx(sqlx::Error::Io(io))))
}

/// A hand-written route whose handler checks nothing itself: its
/// `Operation` says what it needs.
async fn guarded() -> axum::Json<&'static str> {
    axum::Json("ran")
}

/// `POST /deals/{id}/approve`, hand-written: approves through the guarded
/// repository, so the field rule of `approved` holds here too.
async fn approve_deal(
    axum::extract::State(state): axum::extract::State<rookery::AppState>,
    principal: rookery::Principal,
    axum::extract::Path(id): axum::extract::Path<rookery::uuid::Uuid>,
) -> Result<axum::Json<DealRecord>, rookery::ApiError> {
    let mut tx = state.db().begin_write(principal.tenant).await?;
    let patch = UpdateDeal {
        approved: Some(true),
        ..Default::default()
    };
    let deal = tx
        .guarded::<Deal>(&principal)
        .update(rookery::Id::new(id), patch)
        .await?
        .ok_or(rookery::ApiError::NotFound)?;
    tx.commit().await?;
    Ok(axum::Json(deal))
}

fn router(db: Db, url: &str, configure: fn(&mut Config)) -> (rookery::AppState, Router, Router) {
    router_for(db, configured(url, configure))
}

/// The test app on `db` with `config`: its state, its router and the
/// router of its metrics listener.
fn router_for(db: Db, config: Config) -> (rookery::AppState, Router, Router) {
    let app = app();
    let state = app.state(config, db);
    (state.clone(), app.router(state.clone()), app.metrics_router(state))
}

/// The app under test: its models, hand-written routes and event types.
/// Its [`App::worker`] runs the jobs the routes enqueue.
pub fn app() -> App {
    App::new(&TEST_SPEC)
        .model::<Note>()
        .model::<Gadget>()
        .model::<Deal>()
        .model::<Lead>()
        .event_type("note.shared")
        .operation(
            rookery::Operation::post("/guarded").permission("projects.write"),
            guarded,
        )
        .routes(
            Router::new()
                .route("/echo", axum::routing::post(echo))
                .route("/deals/{id}/approve", axum::routing::post(approve_deal))
                .route("/bare-conflict", axum::routing::get(|| async { StatusCode::CONFLICT }))
                .route("/panics", axum::routing::get(panics))
                .route("/fails", axum::routing::get(fails))
                .route(
                    "/own-conflict",
                    axum::routing::get(|| async {
                        (StatusCode::CONFLICT, axum::Json(serde_json::json!({ "mine": true })))
                    }),
                ),
        )
}

fn configured(url: &str, configure: fn(&mut Config)) -> Config {
    let mut config = config(url);
    configure(&mut config);
    config
}

/// Runs `scenario` against a fresh database of `backend`, then removes the
/// database (also when the scenario panics, whose panic is then resumed).
pub async fn run<F, Fut>(backend: Backend, scenario: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_with(backend, |_| {}, scenario).await;
}

/// [`run`] with the app's configuration changed by `configure`.
pub async fn run_with<F, Fut>(backend: Backend, configure: fn(&mut Config), scenario: F)
where
    F: FnOnce(Harness) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Sqlite => run_sqlite(configure, scenario).await,
        Backend::Postgres => run_postgres(configure, scenario).await,
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

async fn run_sqlite<F, Fut>(configure: fn(&mut Config), scenario: F)
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
    let (state, router, metrics) = router(db.clone(), &url, configure);
    let harness = Harness {
        router,
        metrics,
        inspect: Inspect::Sqlite(inspect.clone()),
        state,
        owner_url: url.clone(),
        serving_role: "unused_on_sqlite".into(),
    };
    let outcome = tokio::spawn(scenario(harness)).await;
    db.close().await;
    inspect.close().await;
    finish(outcome).await;
}

fn admin_url() -> String {
    std::env::var("DATABASE_URL_ADMIN").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

async fn run_postgres<F, Fut>(configure: fn(&mut Config), scenario: F)
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
    let (state, router, metrics) = router(db.clone(), &pg.serving_url, configure);
    let harness = Harness {
        router,
        metrics,
        inspect: Inspect::Postgres(inspect.clone()),
        state,
        owner_url: pg.owner_url.clone(),
        serving_role: pg.group_role.clone(),
    };
    let outcome = tokio::spawn(scenario(harness)).await;
    db.close().await;
    inspect.close().await;
    pg.drop_database().await;
    finish(outcome).await;
}
