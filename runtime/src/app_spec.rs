//! The static description of an app, emitted by the generator into
//! `src/generated/mod.rs`: roles (already flattened), plans, features,
//! tenancy options and the embedded migrations.

/// How a request names its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TenantResolver {
    /// `acme.<base domain>` names the tenant with slug `acme`.
    Subdomain,
    /// The `X-Tenant` header carries the tenant's id or slug.
    Header,
}

/// A sign-in method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthMethod {
    /// Email and password.
    Password,
    /// API keys.
    ApiKey,
}

/// A role with every permission it has, inherited ones included.
#[derive(Debug, Clone, Copy)]
pub struct RoleDef {
    /// Role name.
    pub name: &'static str,
    /// Every permission the role has on any row (inheritance already
    /// flattened).
    pub permissions: &'static [&'static str],
    /// Permissions the role has on its own rows only (`deals.write:own` in
    /// the spec: rows whose owner field names the caller), and not on any
    /// row: a permission in `permissions` is never repeated here.
    pub own: &'static [&'static str],
}

/// A permission of the app's catalogue: one a role may grant, and so one a
/// tenant's custom role may grant (`rbac::custom`).
#[derive(Debug, Clone, Copy)]
pub struct PermissionDef {
    /// Permission name (`projects.write`).
    pub name: &'static str,
    /// What it allows, when the spec's `[permissions]` says.
    pub description: Option<&'static str>,
    /// Whether it may be granted on own rows only (`projects.write:own`):
    /// every model that uses it has an owner field, and it is no model's
    /// `assign` permission.
    pub ownable: bool,
}

/// A feature a plan can unlock.
#[derive(Debug, Clone, Copy)]
pub struct FeatureDef {
    /// Feature name.
    pub name: &'static str,
    /// Human-readable title.
    pub title: &'static str,
}

/// The period of a rate or a periodic quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// One second.
    Second,
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One day.
    Day,
    /// One calendar month.
    Month,
}

impl Period {
    /// Length in seconds (a month counts as 30 days).
    pub const fn seconds(self) -> u64 {
        match self {
            Self::Second => 1,
            Self::Minute => 60,
            Self::Hour => 3600,
            Self::Day => 86_400,
            Self::Month => 30 * 86_400,
        }
    }
}

/// A plan's limit on one quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaLimit {
    /// At most this many (rows of a model, members).
    Count(u64),
    /// At most this many per period (metered).
    PerPeriod(u64, Period),
}

/// A quota of a plan.
#[derive(Debug, Clone, Copy)]
pub struct QuotaDef {
    /// Quota name (`projects`, `members`, `api_calls`).
    pub name: &'static str,
    /// The limit.
    pub limit: QuotaLimit,
}

/// A request rate: `requests` per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests allowed per period.
    pub requests: u32,
    /// The window.
    pub period: Period,
}

/// A plan.
#[derive(Debug, Clone, Copy)]
pub struct PlanDef {
    /// Plan name.
    pub name: &'static str,
    /// Features the plan unlocks.
    pub features: &'static [&'static str],
    /// Quotas; a quota not listed is unlimited.
    pub quotas: &'static [QuotaDef],
    /// Per-tenant request rate; `None` is unlimited.
    pub rate_limit: Option<Rate>,
    /// Monthly price in minor units (`None`: custom or not sold monthly).
    pub monthly_price: Option<u64>,
    /// Trial length in days.
    pub trial_days: Option<u32>,
}

impl PlanDef {
    /// The limit of quota `name`, if the plan sets one.
    pub fn quota(&self, name: &str) -> Option<QuotaLimit> {
        self.quotas.iter().find(|q| q.name == name).map(|q| q.limit)
    }
}

/// A periodic job of the spec's `[jobs]`: the hand-written job type whose
/// `NAME` is `job` runs at every occurrence of `cron`.
#[derive(Debug, Clone, Copy)]
pub struct ScheduleDef {
    /// The job type's `NAME`.
    pub job: &'static str,
    /// Five-field cron in UTC (or `@daily` and the like).
    pub cron: &'static str,
    /// Once per tenant at each occurrence, rather than one platform job.
    pub per_tenant: bool,
}

/// One migration, embedded in the binary.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Version (the `NNNN` of `NNNN_name.sql`).
    pub version: i64,
    /// Description (the `name` of `NNNN_name.sql`).
    pub name: &'static str,
    /// SQL text.
    pub sql: &'static str,
}

/// What needs a plan feature besides models and routes (those say so
/// themselves: `ModelDef::feature`, `Operation::feature`).
#[derive(Debug, Clone, Copy)]
pub struct Gates {
    /// Permissions that need a feature, `(permission, feature)`: a caller
    /// whose tenant lacks the feature is refused the permission with 403
    /// `feature-not-in-plan`, whatever their role.
    pub permissions: &'static [(&'static str, &'static str)],
    /// The feature API keys need: creating one, and every request made
    /// with one.
    pub api_keys: Option<&'static str>,
}

impl Gates {
    /// Nothing gated.
    pub const NONE: Self = Self {
        permissions: &[],
        api_keys: None,
    };

    /// The feature `permission` needs, if any.
    pub fn permission(&self, permission: &str) -> Option<&'static str> {
        self.permissions
            .iter()
            .find(|(p, _)| *p == permission)
            .map(|(_, feature)| *feature)
    }
}

/// Everything the generator knows about an app, as static data.
#[derive(Debug, Clone, Copy)]
pub struct AppSpec {
    /// App name (crate and binary).
    pub name: &'static str,
    /// Human-readable name.
    pub title: &'static str,
    /// Path prefix of the API (`/api/v1`).
    pub api_prefix: &'static str,
    /// Tenant resolvers, in order.
    pub resolvers: &'static [TenantResolver],
    /// Enabled sign-in methods.
    pub auth_methods: &'static [AuthMethod],
    /// Roles, flattened. The first role is the one a tenant's creator gets.
    pub roles: &'static [RoleDef],
    /// Every permission a role may grant (the models', the declared ones,
    /// the platform's), in the spec's order.
    pub permissions: &'static [PermissionDef],
    /// Features.
    pub features: &'static [FeatureDef],
    /// Plans. The first plan is the one a new tenant gets.
    pub plans: &'static [PlanDef],
    /// Permissions and API keys behind plan features.
    pub gates: Gates,
    /// Periodic jobs (`[jobs]`), which the app registers by name.
    pub schedules: &'static [ScheduleDef],
    /// PostgreSQL migrations, by version.
    pub postgres_migrations: &'static [Migration],
    /// SQLite migrations, by version.
    pub sqlite_migrations: &'static [Migration],
}

impl AppSpec {
    /// The role called `name`.
    pub fn role(&self, name: &str) -> Option<&'static RoleDef> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// The permission called `name`, if the app has it.
    pub fn permission(&self, name: &str) -> Option<&'static PermissionDef> {
        self.permissions.iter().find(|p| p.name == name)
    }

    /// The plan called `name`.
    pub fn plan(&self, name: &str) -> Option<&'static PlanDef> {
        self.plans.iter().find(|p| p.name == name)
    }
}
