//! The spec file (`rookery.toml`) as serde types.
//!
//! Every name a diagnostic may point at is wrapped in [`Spanned`], so checks
//! can report a line and column. Unknown keys are refused
//! (`deny_unknown_fields`). The JSON Schema in `schemas/rookery.schema.json`
//! is generated from these types with schemars.

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

/// A whole spec file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Rookery spec", description = "A Rookery SaaS spec (rookery.toml).")]
pub struct Spec {
    /// The application.
    pub app: AppSpec,
    /// How tenants are kept apart and resolved.
    #[serde(default)]
    pub tenancy: TenancySpec,
    /// How users and machines sign in.
    #[serde(default)]
    pub auth: AuthSpec,
    /// Features that plans can unlock.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, FeatureSpec>")]
    pub features: IndexMap<Spanned<String>, FeatureSpec>,
    /// Permissions that hand-written code checks, beyond those the models
    /// and the platform name: `"deals.approve" = { description = "..." }`.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, PermissionSpec>")]
    pub permissions: IndexMap<Spanned<String>, PermissionSpec>,
    /// Roles: what each grants and which roles it inherits.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, RoleSpec>")]
    pub roles: IndexMap<Spanned<String>, RoleSpec>,
    /// Plans: features, quotas, rate limits and prices.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, PlanSpec>")]
    pub plans: IndexMap<Spanned<String>, PlanSpec>,
    /// Tenant-scoped models.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, ModelSpec>")]
    pub models: IndexMap<Spanned<String>, ModelSpec>,
    /// Periodic jobs, by the `NAME` of the hand-written job type that runs
    /// them: `nightly_digest = { schedule = "0 6 * * *", per_tenant = true }`.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, JobSpec>")]
    pub jobs: IndexMap<Spanned<String>, JobSpec>,
}

/// A periodic job of `[jobs]`: a hand-written `rookery::jobs::Job` whose
/// `NAME` is the key, run at every occurrence of `schedule`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// When: five-field cron in UTC (minute hour day-of-month month
    /// day-of-week), or `@hourly`, `@daily`, `@weekly`, `@monthly`.
    #[schemars(with = "String")]
    pub schedule: Spanned<String>,
    /// `true`: once per tenant at each occurrence (the job gets that
    /// tenant's transactions); `false` (default): one platform job.
    #[serde(default)]
    pub per_tenant: bool,
}

/// A permission of `[permissions]`, checked by hand-written code.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionSpec {
    /// What the permission allows, for whoever decides who gets it.
    pub description: String,
    /// The plan feature the permission needs: a tenant whose plan lacks it
    /// is refused the permission (403 `feature-not-in-plan`), whatever the
    /// caller's role.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub feature: Option<Spanned<String>>,
}

/// `[app]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AppSpec {
    /// Crate and binary name: lowercase letters, digits and `_`.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Human-readable name.
    #[serde(default)]
    pub title: Option<String>,
    /// Path prefix of the generated API (default `/api/v1`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub api_prefix: Option<Spanned<String>>,
}

/// How tenant data is separated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenancyModel {
    /// One schema, `tenant_id` on every row, PostgreSQL row-level security.
    #[default]
    Shared,
    /// One PostgreSQL schema per tenant (not built yet).
    Schema,
    /// One database per tenant (not built yet).
    Database,
}

/// How a request names its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TenantResolver {
    /// `acme.example.com` names tenant `acme`.
    Subdomain,
    /// The `X-Tenant` header carries the tenant's id or slug.
    Header,
}

/// `[tenancy]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenancySpec {
    /// Isolation model.
    #[serde(default)]
    #[schemars(with = "Option<TenancyModel>")]
    pub model: Option<Spanned<TenancyModel>>,
    /// Resolvers tried in order; a token's tenant must agree with the result.
    #[serde(default = "default_resolvers")]
    pub resolve: Vec<TenantResolver>,
}

impl Default for TenancySpec {
    fn default() -> Self {
        Self {
            model: None,
            resolve: default_resolvers(),
        }
    }
}

fn default_resolvers() -> Vec<TenantResolver> {
    vec![TenantResolver::Subdomain, TenantResolver::Header]
}

/// A sign-in method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// Email and password.
    Password,
    /// API keys for machines.
    ApiKey,
    /// Google sign-in (not built yet).
    Google,
    /// GitHub sign-in (not built yet).
    Github,
    /// Enterprise OIDC (not built yet).
    Oidc,
    /// Enterprise SAML (not built yet).
    Saml,
}

/// `[auth]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthSpec {
    /// Enabled sign-in methods.
    #[serde(default = "default_methods")]
    #[schemars(with = "Vec<AuthMethod>")]
    pub methods: Vec<Spanned<AuthMethod>>,
    /// API keys' options (with the `api_key` method).
    #[serde(default)]
    pub api_keys: Option<ApiKeysSpec>,
}

/// `[auth].api_keys`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiKeysSpec {
    /// The plan feature API keys need: creating one, and every request
    /// made with one (a key of a tenant that loses the feature stops
    /// working until it gets it back).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub feature: Option<Spanned<String>>,
}

impl Default for AuthSpec {
    fn default() -> Self {
        Self {
            methods: default_methods(),
            api_keys: None,
        }
    }
}

fn default_methods() -> Vec<Spanned<AuthMethod>> {
    vec![Spanned::new(0..0, AuthMethod::Password)]
}

/// `[features.<name>]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FeatureSpec {
    /// Human-readable name.
    pub title: String,
}

/// `[roles.<name>]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// Roles whose grants this role also has.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub inherits: Vec<Spanned<String>>,
    /// Permissions, `<resource>.<action>`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub grants: Vec<Spanned<String>>,
}

/// `[plans.<name>]`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanSpec {
    /// Price; stored now, billed by the billing integration.
    #[serde(default)]
    #[schemars(with = "Option<Price>")]
    pub price: Option<Spanned<Price>>,
    /// Free trial length.
    #[serde(default)]
    pub trial_days: Option<u32>,
    /// Whether the price is per member.
    #[serde(default)]
    pub per_seat: bool,
    /// Features this plan unlocks.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub features: Vec<Spanned<String>>,
    /// Quotas: a count (`projects = 3`) or a rate (`api_calls = "1000/month"`).
    #[serde(default)]
    #[schemars(with = "IndexMap<String, QuotaValue>")]
    pub quotas: IndexMap<Spanned<String>, Spanned<QuotaValue>>,
    /// Usage-based prices per metered quota.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, MeteredPrice>")]
    pub metered: IndexMap<Spanned<String>, MeteredPrice>,
    /// Per-tenant request rate, `"<n>/<s|m|h>"`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub rate_limit: Option<Spanned<String>>,
}

/// A plan's price.
// Deserialized by hand rather than `untagged`: serde's untagged buffering
// would lose toml's spans and unknown-key errors inside the table.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(untagged)]
pub enum Price {
    /// `"custom"`: negotiated, not self-serve (checked to be exactly `custom`).
    Custom(#[schemars(schema_with = "custom_price_schema")] String),
    /// Fixed prices in minor units.
    Fixed(FixedPrice),
}

/// Fixed prices in minor units (cents).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixedPrice {
    /// Monthly price.
    #[serde(default)]
    pub monthly: Option<u64>,
    /// Yearly price.
    #[serde(default)]
    pub yearly: Option<u64>,
    /// ISO 4217 currency, lowercase (default `usd`).
    #[serde(default)]
    #[schemars(with = "Option<String>", regex(pattern = "^[a-z]{3}$"))]
    pub currency: Option<Spanned<String>>,
}

fn custom_price_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "const": "custom" })
}

/// A quota's limit.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(untagged)]
pub enum QuotaValue {
    /// At most this many (rows, members).
    Count(u64),
    /// At most this many per period, `"1000/month"`.
    Rate(String),
}

/// Price of a metered quota.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeteredPrice {
    /// Price in minor units per `per` units.
    pub unit_amount: u64,
    /// Units per `unit_amount` (default 1).
    #[serde(default)]
    pub per: Option<u64>,
}

/// `[models.<name>]`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Fields, in column order.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, FieldSpec>")]
    pub fields: IndexMap<Spanned<String>, FieldSpec>,
    /// Permissions guarding reads, writes and deletes.
    #[serde(default)]
    pub permissions: Option<PermissionsSpec>,
    /// Plan quota counted by this model's rows.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub quota: Option<Spanned<String>>,
    /// Record every write in the audit log.
    #[serde(default)]
    pub audit: bool,
    /// Domain events its writes record (`created`, `updated`, `deleted`),
    /// each in the write's transaction, delivered to the webhook endpoints
    /// of tenants whose plan has the feature `webhooks`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub events: Vec<Spanned<String>>,
    /// Primary key type.
    #[serde(default)]
    #[schemars(with = "Option<IdType>")]
    pub id: Option<Spanned<IdType>>,
    /// Default list order, a field or implicit column, `-` for descending
    /// (default `-created_at`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub sort: Option<Spanned<String>>,
    /// The model's previous name, to rename its table keeping the data.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub renamed_from: Option<Spanned<String>>,
    /// The plan feature its routes need: without it, every route of the
    /// model answers 403 `feature-not-in-plan`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub feature: Option<Spanned<String>>,
}

/// Primary key type. Without `id`, a new model gets `uuid` and an
/// existing table keeps the key it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdType {
    /// `bigint` identity: one sequence for every tenant, so ids tell a
    /// tenant how many rows the others made.
    Bigint,
    /// UUID v7 (the default for new models): reveals nothing about other
    /// tenants; sorts by creation time.
    Uuid,
}

/// A model's permissions.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionsSpec {
    /// Needed to list and get.
    #[schemars(with = "String")]
    pub read: Spanned<String>,
    /// Needed to create and update.
    #[schemars(with = "String")]
    pub write: Spanned<String>,
    /// Needed to delete (default: `write`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub delete: Option<Spanned<String>>,
    /// Needed to give a row to another member: to create it owned by
    /// someone else, or to change its `owner` field. Without it, a row
    /// belongs to whoever created it.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub assign: Option<Spanned<String>>,
}

/// A field's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// Short text (`max_len` recommended).
    String,
    /// Long text.
    Text,
    /// 32-bit integer.
    Int,
    /// 64-bit integer.
    Bigint,
    /// Exact decimal.
    Decimal,
    /// Boolean.
    Bool,
    /// Calendar date, `YYYY-MM-DD`.
    Date,
    /// Instant, RFC 3339.
    Datetime,
    /// UUID.
    Uuid,
    /// One of `values`.
    Enum,
    /// JSON document.
    Json,
    /// Reference to a model of the same tenant, or to `user`.
    Ref,
    /// An email address: validated on write, compared and unique without
    /// regard to case.
    Email,
    /// An absolute `http` or `https` URL.
    Url,
}

/// `fields.<name>`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Type.
    #[serde(rename = "type")]
    #[schemars(with = "FieldKind")]
    pub kind: Spanned<FieldKind>,
    /// May be null / omitted.
    #[serde(default)]
    pub optional: bool,
    /// Value used when a create request omits the field.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub default: Option<Spanned<toml::Value>>,
    /// Unique within a tenant.
    #[serde(default)]
    pub unique: bool,
    /// Indexed; also usable as a list filter.
    #[serde(default)]
    pub indexed: bool,
    /// Usable as a list sort key.
    #[serde(default)]
    pub sortable: bool,
    /// Matched by the list's text search `?q=` (string, text, email and url
    /// fields); indexed for it on PostgreSQL (a trigram index).
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub searchable: Option<Spanned<bool>>,
    /// Maximum length in characters (string, text).
    #[serde(default)]
    #[schemars(with = "Option<u32>")]
    pub max_len: Option<Spanned<i64>>,
    /// Minimum value (int, bigint, decimal).
    #[serde(default)]
    #[schemars(with = "Option<i64>")]
    pub min: Option<Spanned<i64>>,
    /// Maximum value (int, bigint, decimal).
    #[serde(default)]
    #[schemars(with = "Option<i64>")]
    pub max: Option<Spanned<i64>>,
    /// Allowed values (enum).
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub values: Option<Spanned<Vec<Spanned<String>>>>,
    /// Referenced model, or `user` (ref).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub to: Option<Spanned<String>>,
    /// `restrict` (default) or `cascade` (ref).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub on_delete: Option<Spanned<String>>,
    /// The field's previous name, to rename its column keeping the data.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub renamed_from: Option<Spanned<String>>,
    /// The row's owner: a required `ref` to `user` that defaults to the
    /// caller. Grants scoped to own rows (`deals.write:own`) reach the rows
    /// it names; naming anyone else needs the model's `assign`.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub owner: Option<Spanned<bool>>,
    /// The permission a client needs to set or change the field, besides
    /// the model's `write` (`approved` needs `deals.approve`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub write: Option<Spanned<String>>,
    /// Set by the server only: a client body that names it is refused
    /// (403 `field-not-writable`); hand-written code sets it.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub read_only: Option<Spanned<bool>>,
    /// Its values are masked in the audit log (`{"masked": true}` in
    /// place of before and after): a salary, a personal note.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub sensitive: Option<Spanned<bool>>,
}

impl FieldSpec {
    /// `owner = true`.
    pub fn is_owner(&self) -> bool {
        self.owner.as_ref().is_some_and(|o| *o.get_ref())
    }

    /// `searchable = true`.
    pub fn is_searchable(&self) -> bool {
        self.searchable.as_ref().is_some_and(|o| *o.get_ref())
    }

    /// `read_only = true`.
    pub fn is_read_only(&self) -> bool {
        self.read_only.as_ref().is_some_and(|o| *o.get_ref())
    }

    /// `sensitive = true`.
    pub fn is_sensitive(&self) -> bool {
        self.sensitive.as_ref().is_some_and(|o| *o.get_ref())
    }
}

/// The JSON Schema of [`Spec`], pretty-printed with a final newline, as
/// committed in `schemas/rookery.schema.json`.
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(Spec);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

impl<'de> Deserialize<'de> for Price {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Price;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a price table such as `{ monthly = 4900 }`, or the string \"custom\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Price, E> {
                Ok(Price::Custom(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Price, A::Error> {
                FixedPrice::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Price::Fixed)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

impl<'de> Deserialize<'de> for QuotaValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = QuotaValue;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a count (a non-negative integer) or a rate such as \"1000/month\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<QuotaValue, E> {
                Ok(QuotaValue::Count(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<QuotaValue, E> {
                u64::try_from(v)
                    .map(QuotaValue::Count)
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<QuotaValue, E> {
                Ok(QuotaValue::Rate(v.to_owned()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}
