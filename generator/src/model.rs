//! The generator's model (IR): a checked [`Spec`] plus the hand-written
//! models, with every derived name computed (tables, columns, Rust idents,
//! flattened roles, parsed rates and quotas). Templates and the migration
//! planner read only this; neither converts a case or pluralises a word.

use std::collections::{BTreeSet, HashMap, HashSet};

use anyhow::{Context as _, Result, bail};
use heck::{ToSnakeCase as _, ToUpperCamelCase as _};
use serde::Serialize;

use rookery_macros_core::Kind as HandKind;

use crate::handwritten::{HandModel, Handwritten};
use crate::spec::{self, FieldKind, IdType, Price, QuotaValue, Spec};

/// The whole app.
#[derive(Debug, Clone, Serialize)]
pub struct App {
    /// Crate name.
    pub name: String,
    /// Human-readable name.
    pub title: String,
    /// API path prefix, `/api/v1` by default.
    pub api_prefix: String,
    /// `TenantResolver` variants, in order.
    pub resolvers: Vec<&'static str>,
    /// `AuthMethod` variants, in order.
    pub auth_methods: Vec<&'static str>,
    /// Roles with inheritance flattened, in spec order.
    pub roles: Vec<Role>,
    /// The permission catalogue: what a role, and a tenant's custom role,
    /// may grant.
    pub permissions: Vec<Permission>,
    /// Permissions that need a plan feature: `(permission, feature)`.
    pub gated_permissions: Vec<(String, String)>,
    /// The plan feature API keys need.
    pub api_key_feature: Option<String>,
    /// Features, in spec order.
    pub features: Vec<Feature>,
    /// Plans, in spec order (the first one is the default).
    pub plans: Vec<Plan>,
    /// Spec models first (spec order), then hand-written ones (by path).
    pub models: Vec<Model>,
    /// Periodic jobs of `[jobs]`, in spec order.
    pub schedules: Vec<Schedule>,
}

/// A periodic job: the job type's name, its cron schedule, and whether it
/// runs once per tenant.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    /// The job type's `NAME`.
    pub job: String,
    /// Cron schedule, UTC.
    pub cron: String,
    /// Once per tenant at each occurrence.
    pub per_tenant: bool,
    /// The hand-written job type's path (`crate::jobs::Digest`).
    pub rust_path: String,
}

/// A role and every permission it has.
#[derive(Debug, Clone, Serialize)]
pub struct Role {
    /// Role name.
    pub name: String,
    /// On every row: sorted, deduplicated, inherited grants included.
    pub permissions: Vec<String>,
    /// On own rows only (`x.y:own`), those also granted on every row left
    /// out: sorted, deduplicated, inherited grants included.
    pub own: Vec<String>,
}

/// A permission of the catalogue.
#[derive(Debug, Clone, Serialize)]
pub struct Permission {
    /// Permission name.
    pub name: String,
    /// `[permissions]`'s description, if declared.
    pub description: Option<String>,
    /// May be granted on own rows only.
    pub ownable: bool,
}

/// A feature.
#[derive(Debug, Clone, Serialize)]
pub struct Feature {
    /// Feature name.
    pub name: String,
    /// Human-readable title.
    pub title: String,
}

/// The period of a rate or a periodic quota (`rookery::app_spec::Period`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Period {
    /// One second.
    Second,
    /// One minute.
    Minute,
    /// One hour.
    Hour,
    /// One day.
    Day,
    /// One month.
    Month,
}

/// `requests` per `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rate {
    /// Requests allowed per period.
    pub requests: u64,
    /// The window.
    pub period: Period,
}

/// One quota of a plan: a count, or a count per period.
#[derive(Debug, Clone, Serialize)]
pub struct Quota {
    /// Quota name.
    pub name: String,
    /// The limit.
    pub limit: u64,
    /// `Some` for a periodic quota (`"1000/month"`).
    pub period: Option<Period>,
}

/// A plan.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Plan name.
    pub name: String,
    /// Features it unlocks.
    pub features: Vec<String>,
    /// Quotas, in spec order.
    pub quotas: Vec<Quota>,
    /// Per-tenant request rate.
    pub rate_limit: Option<Rate>,
    /// Monthly price in minor units.
    pub monthly_price: Option<u64>,
    /// Trial length in days.
    pub trial_days: Option<u32>,
}

/// Primary key kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    /// `bigint` identity.
    Bigint,
    /// UUID v7.
    Uuid,
}

/// The storage type of a field, as named in the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Short text.
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
    /// Calendar date.
    Date,
    /// Instant.
    Datetime,
    /// UUID.
    Uuid,
    /// Closed set of strings.
    Enum,
    /// JSON document.
    Json,
    /// Reference to a model or a user.
    Ref,
    /// Email address (text).
    Email,
    /// Absolute http(s) URL (text).
    Url,
}

impl Kind {
    /// The spec name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Text => "text",
            Self::Int => "int",
            Self::Bigint => "bigint",
            Self::Decimal => "decimal",
            Self::Bool => "bool",
            Self::Date => "date",
            Self::Datetime => "datetime",
            Self::Uuid => "uuid",
            Self::Enum => "enum",
            Self::Json => "json",
            Self::Ref => "ref",
            Self::Email => "email",
            Self::Url => "url",
        }
    }
}

/// What a reference does when its target is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// Refuse the delete.
    Restrict,
    /// Delete the referencing rows too.
    Cascade,
    /// Null the reference column only (optional references), keeping
    /// `tenant_id` and the row.
    SetNull,
}

/// The target of a reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Reference {
    /// Referenced model name (`project`), or `user`.
    pub model: String,
    /// Referenced table (`projects`, or `memberships`).
    pub table: String,
    /// Referenced column (`id`, or `user_id`).
    pub column: String,
    /// Key type of the referenced table.
    pub key: Key,
}

/// A declared field.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// Field name in JSON (`project`).
    pub name: String,
    /// Rust identifier (`project`, or `r#type`).
    pub ident: String,
    /// SQL column (`project_id`).
    pub column: String,
    /// Storage type.
    pub kind: Kind,
    /// Rust type as written in generated code (`Option<super::ProjectId>`).
    pub rust_type: String,
    /// May be null.
    pub optional: bool,
    /// Default as TOML literal text (`active`, `false`, `0`).
    pub default: Option<String>,
    /// Unique per tenant.
    pub unique: bool,
    /// Indexed.
    pub indexed: bool,
    /// Sortable.
    pub sortable: bool,
    /// Matched by the list's `q=` search.
    pub searchable: bool,
    /// Maximum length in characters.
    pub max_len: Option<u32>,
    /// Minimum value.
    pub min: Option<i64>,
    /// Maximum value.
    pub max: Option<i64>,
    /// Allowed values (enum).
    pub values: Vec<String>,
    /// Reference target (ref).
    pub reference: Option<Reference>,
    /// Reference behaviour on delete.
    pub on_delete: OnDelete,
    /// Previous field name, to rename the column keeping the data.
    pub renamed_from: Option<String>,
    /// The row's owner (a required ref to `user`).
    pub owner: bool,
    /// The permission setting it needs.
    pub write: Option<String>,
    /// Set by the server only.
    pub read_only: bool,
    /// Masked in the audit log.
    pub sensitive: bool,
    /// The items of its `#[rookery(...)]` attribute, as Rust tokens.
    pub rookery_attrs: Vec<String>,
    /// One-line doc comment.
    pub doc: String,
}

/// A variant of a generated enum.
#[derive(Debug, Clone, Serialize)]
pub struct Variant {
    /// Rust variant name (`Active`).
    pub name: String,
    /// Stored value (`active`).
    pub value: String,
    /// Whether the derive's default (snake_case of the variant) differs
    /// from the value, so the value must be spelled out.
    pub rename: bool,
    /// Doc comment.
    pub doc: String,
}

/// An enum generated for an `enum` field.
#[derive(Debug, Clone, Serialize)]
pub struct Enum {
    /// Rust type name (`ProjectStatus`).
    pub name: String,
    /// Variants in spec order.
    pub variants: Vec<Variant>,
    /// Doc comment.
    pub doc: String,
}

/// Default list order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Sort {
    /// Field or implicit column name as written (`created_at`).
    pub field: String,
    /// SQL column (`created_at`, `project_id`).
    pub column: String,
    /// Newest / largest first.
    pub descending: bool,
}

/// Permissions guarding a model's routes.
#[derive(Debug, Clone, Serialize)]
pub struct Permissions {
    /// List and get.
    pub read: String,
    /// Create and update.
    pub write: String,
    /// Delete.
    pub delete: String,
    /// Giving a row to another member.
    pub assign: Option<String>,
}

/// A tenant-scoped model.
#[derive(Debug, Clone, Serialize)]
pub struct Model {
    /// Singular snake-case name (`project`).
    pub name: String,
    /// Rust struct name (`Project`).
    pub struct_name: String,
    /// Rust id alias name (`ProjectId`).
    pub id_type: String,
    /// Table (`projects`).
    pub table: String,
    /// URL segment under the API prefix (`projects`).
    pub path: String,
    /// Primary key kind.
    pub key: Key,
    /// Fields in column order.
    pub fields: Vec<Field>,
    /// Enums generated for its enum fields.
    pub enums: Vec<Enum>,
    /// Route permissions.
    pub permissions: Permissions,
    /// Plan quota counted by its rows.
    pub quota: Option<String>,
    /// Audited.
    pub audit: bool,
    /// Webhook events.
    pub events: Vec<String>,
    /// Default sort.
    pub sort: Sort,
    /// Previous model name, to rename the table keeping the data.
    pub renamed_from: Option<String>,
    /// The plan feature its routes need.
    pub feature: Option<String>,
    /// Generated from the spec (`true`) or hand-written.
    pub generated: bool,
    /// Path of the type from `src/generated/mod.rs` (`models::Project`,
    /// `crate::notes::Note`).
    pub rust_path: String,
    /// File stem of the generated module (`project`).
    pub module: String,
    /// The module as a Rust identifier (`r#type` for a keyword).
    pub module_ident: String,
    /// Items of the struct's `#[rookery(...)]` attribute.
    pub rookery_attrs: Vec<String>,
    /// Doc comment.
    pub doc: String,
}

/// Builds the IR from a checked spec and the hand-written models.
/// `kept` holds the key type of every table the last migration left
/// (from `migrations/rookery.snapshot.json`): a model that does not say
/// `id` keeps its table's key; a new one gets uuid v7 ids, which reveal
/// nothing about other tenants (a bigint identity is one sequence for all).
pub fn build(spec: &Spec, hand: &Handwritten, kept: &HashMap<String, Key>) -> Result<App> {
    let name = spec.app.name.get_ref().clone();
    let title = spec.app.title.clone().unwrap_or_else(|| name.to_upper_camel_case());
    let api_prefix = spec.app.api_prefix.as_ref().map_or_else(
        || "/api/v1".to_owned(),
        |p| p.get_ref().trim_end_matches('/').to_owned(),
    );

    let resolvers = spec
        .tenancy
        .resolve
        .iter()
        .map(|r| match r {
            spec::TenantResolver::Subdomain => "Subdomain",
            spec::TenantResolver::Header => "Header",
        })
        .collect();
    let mut auth_methods = Vec::new();
    for m in &spec.auth.methods {
        auth_methods.push(match m.get_ref() {
            spec::AuthMethod::Password => "Password",
            spec::AuthMethod::ApiKey => "ApiKey",
            other => bail!("auth method {other:?} is not supported by the runtime yet"),
        });
    }

    let roles = flatten_roles(spec)?;
    let features = spec
        .features
        .iter()
        .map(|(n, f)| Feature {
            name: n.get_ref().clone(),
            title: f.title.clone(),
        })
        .collect();
    let plans = spec
        .plans
        .iter()
        .map(|(n, p)| plan(n.get_ref(), p))
        .collect::<Result<_>>()?;

    // Every model a reference can name: spec models by name, hand-written ones
    // by struct name (their id alias is `<Struct>Id`).
    let mut targets: HashMap<String, Target> = HashMap::new();
    for (n, m) in &spec.models {
        let n = n.get_ref();
        let table = plural(n);
        let key = match m.id.as_ref().map(|s| *s.get_ref()) {
            Some(IdType::Uuid) => Key::Uuid,
            Some(IdType::Bigint) => Key::Bigint,
            None => {
                let previous = m.renamed_from.as_ref().map(|r| plural(r.get_ref()));
                kept.get(&table)
                    .or_else(|| previous.and_then(|p| kept.get(&p)))
                    .copied()
                    .unwrap_or(Key::Uuid)
            }
        };
        targets.insert(
            n.clone(),
            Target {
                table,
                key,
                id_path: format!("super::{}Id", n.to_upper_camel_case()),
            },
        );
    }
    let mut hand_by_struct: HashMap<String, String> = HashMap::new();
    for h in &hand.models {
        let name = h.name.clone();
        if targets.contains_key(&name) {
            bail!(
                "hand-written model `{}` ({}) has the same name as the spec model `{name}`",
                h.struct_name,
                h.file
            );
        }
        let table = h.resolved_table.clone();
        // The derive used to name tables `<name>s`; one made then keeps
        // its name only by saying so (the derive cannot see the snapshot).
        let old_default = format!("{name}s");
        if h.table.is_none() && old_default != table && kept.contains_key(&old_default) && !kept.contains_key(&table) {
            bail!(
                "hand-written model `{}` ({}): its table is `{old_default}`, and a model without `table` is now named by the English plural, `{table}`; add `table = \"{old_default}\"` to its #[rookery(...)] to keep it",
                h.struct_name,
                h.file
            );
        }
        // The derive cannot see the snapshot: a hand-written model keeps
        // bigint keys only by saying so.
        if !h.explicit_key && kept.get(&table) == Some(&Key::Bigint) {
            bail!(
                "hand-written model `{}` ({}): table `{table}` has bigint ids, and a model without `id` now gets uuid v7 ids; add `id = \"bigint\"` to its #[rookery(...)] to keep them",
                h.struct_name,
                h.file
            );
        }
        targets.insert(
            name.clone(),
            Target {
                table,
                key: h.key,
                id_path: format!("{}::{}Id", h.module_path, h.struct_name),
            },
        );
        hand_by_struct.insert(h.struct_name.clone(), name);
    }

    let mut models = Vec::new();
    for (n, m) in &spec.models {
        models.push(spec_model(n.get_ref(), m, &targets)?);
    }
    for h in &hand.models {
        models.push(hand_model(h, hand, &targets, &hand_by_struct)?);
    }
    let mut tables = HashSet::new();
    for m in &models {
        if !tables.insert(m.table.clone()) {
            bail!("two models use the table `{}`", m.table);
        }
        if PLATFORM_TABLES.contains(&m.table.as_str()) || m.table.starts_with("rookery_") {
            bail!(
                "model `{}` uses the table `{}`, which belongs to the platform",
                m.name,
                m.table
            );
        }
    }

    Ok(App {
        name,
        title,
        api_prefix,
        resolvers,
        auth_methods,
        roles,
        permissions: crate::check::permissions(spec, hand)
            .into_iter()
            .map(|(name, description, ownable)| Permission {
                name,
                description,
                ownable,
            })
            .collect(),
        gated_permissions: spec
            .permissions
            .iter()
            .filter_map(|(p, d)| d.feature.as_ref().map(|f| (p.get_ref().clone(), f.get_ref().clone())))
            .collect(),
        api_key_feature: spec
            .auth
            .api_keys
            .as_ref()
            .and_then(|k| k.feature.as_ref())
            .map(|f| f.get_ref().clone()),
        features,
        plans,
        models,
        schedules: spec
            .jobs
            .iter()
            .map(|(name, job)| Schedule {
                job: name.get_ref().clone(),
                cron: job.schedule.get_ref().clone(),
                per_tenant: job.per_tenant,
                // The checker made sure exactly one type has the name.
                rust_path: hand
                    .jobs
                    .iter()
                    .find(|j| j.name == *name.get_ref())
                    .map(|j| j.rust_path.clone())
                    .unwrap_or_default(),
            })
            .collect(),
    })
}

/// Tables created by the platform migration.
pub const PLATFORM_TABLES: &[&str] = &crate::check::names::PLATFORM_TABLES;

struct Target {
    table: String,
    key: Key,
    id_path: String,
}

/// English plural of a snake-case name: `project` → `projects`,
/// `category` → `categories`, `box` → `boxes`.
/// The checker's rule, so both stages agree.
pub fn plural(name: &str) -> String {
    crate::check::names::table_name(name)
}

/// The suffix of a grant on own rows only (`deals.write:own`).
pub const OWN_SUFFIX: &str = ":own";

fn flatten_roles(spec: &Spec) -> Result<Vec<Role>> {
    fn collect(spec: &Spec, name: &str, seen: &mut Vec<String>, out: &mut BTreeSet<String>) -> Result<()> {
        if seen.iter().any(|s| s == name) {
            seen.push(name.to_owned());
            bail!("role inheritance cycle: {}", seen.join(" → "));
        }
        let (_, role) = spec
            .roles
            .iter()
            .find(|(n, _)| n.get_ref() == name)
            .with_context(|| format!("unknown role `{name}`"))?;
        seen.push(name.to_owned());
        out.extend(role.grants.iter().map(|g| g.get_ref().clone()));
        for parent in &role.inherits {
            collect(spec, parent.get_ref(), seen, out)?;
        }
        seen.pop();
        Ok(())
    }
    spec.roles
        .keys()
        .map(|n| {
            let mut out = BTreeSet::new();
            collect(spec, n.get_ref(), &mut Vec::new(), &mut out)?;
            // `x.y:own` reaches own rows; `x.y` (any row) covers it.
            let (own, any): (BTreeSet<String>, BTreeSet<String>) =
                out.into_iter().partition(|g| g.ends_with(OWN_SUFFIX));
            let own = own
                .into_iter()
                .map(|g| g.trim_end_matches(OWN_SUFFIX).to_owned())
                .filter(|g| !any.contains(g))
                .collect();
            Ok(Role {
                name: n.get_ref().clone(),
                permissions: any.into_iter().collect(),
                own,
            })
        })
        .collect()
}

fn period(unit: &str) -> Option<Period> {
    Some(match unit {
        "s" | "sec" | "second" => Period::Second,
        "m" | "min" | "minute" => Period::Minute,
        "h" | "hour" => Period::Hour,
        "d" | "day" => Period::Day,
        "month" => Period::Month,
        _ => return None,
    })
}

/// Parses `"<n>/<unit>"`.
pub fn parse_rate(text: &str) -> Option<(u64, Period)> {
    let (n, unit) = text.split_once('/')?;
    Some((n.trim().parse().ok()?, period(unit.trim())?))
}

fn plan(name: &str, p: &spec::PlanSpec) -> Result<Plan> {
    let mut quotas = Vec::new();
    for (q, v) in &p.quotas {
        let (limit, period) = match v.get_ref() {
            QuotaValue::Count(n) => (*n, None),
            QuotaValue::Rate(text) => {
                let (n, p) = parse_rate(text).with_context(|| {
                    format!(
                        "plan `{name}`: quota `{}` = {text:?} is not `<n>/<period>`",
                        q.get_ref()
                    )
                })?;
                (n, Some(p))
            }
        };
        quotas.push(Quota {
            name: q.get_ref().clone(),
            limit,
            period,
        });
    }
    let rate_limit = match &p.rate_limit {
        None => None,
        Some(r) => {
            let (requests, period) = parse_rate(r.get_ref())
                .filter(|(n, _)| u32::try_from(*n).is_ok())
                .with_context(|| format!("plan `{name}`: rate_limit {:?} is not `<n>/<s|m|h>`", r.get_ref()))?;
            Some(Rate { requests, period })
        }
    };
    let monthly_price = match p.price.as_ref().map(|p| p.get_ref()) {
        Some(Price::Fixed(f)) => f.monthly,
        _ => None,
    };
    Ok(Plan {
        name: name.to_owned(),
        features: p.features.iter().map(|f| f.get_ref().clone()).collect(),
        quotas,
        rate_limit,
        monthly_price,
        trial_days: p.trial_days,
    })
}

/// A Rust string literal for `s`.
pub fn rust_str(s: &str) -> String {
    format!("{s:?}")
}

fn rust_ident(name: &str) -> String {
    if crate::keywords::RUST.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_owned()
    }
}

/// TOML literal text of a default: strings unquoted, others as written.
fn default_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[allow(clippy::too_many_lines)]
fn spec_model(name: &str, m: &spec::ModelSpec, targets: &HashMap<String, Target>) -> Result<Model> {
    let struct_name = name.to_upper_camel_case();
    let table = plural(name);
    let key = targets[name].key;
    let mut fields = Vec::new();
    let mut enums = Vec::new();
    for (fname, f) in &m.fields {
        let fname = fname.get_ref();
        let kind = kind_of(*f.kind.get_ref());
        let mut reference = None;
        let (column, base_type) = match kind {
            Kind::Ref => {
                let to =
                    f.to.as_ref()
                        .with_context(|| format!("`{name}.{fname}`: a ref needs `to`"))?
                        .get_ref();
                if to == "user" {
                    reference = Some(user_ref());
                    (crate::naming::ref_column(fname), "rookery::UserId".to_owned())
                } else {
                    let t = targets
                        .get(to)
                        .with_context(|| format!("`{name}.{fname}`: unknown model `{to}`"))?;
                    reference = Some(Reference {
                        model: to.clone(),
                        table: t.table.clone(),
                        column: "id".into(),
                        key: t.key,
                    });
                    (crate::naming::ref_column(fname), t.id_path.clone())
                }
            }
            Kind::Enum => {
                let enum_name = format!("{struct_name}{}", fname.to_upper_camel_case());
                let values: Vec<String> = f
                    .values
                    .as_ref()
                    .with_context(|| format!("`{name}.{fname}`: an enum needs `values`"))?
                    .get_ref()
                    .iter()
                    .map(|v| v.get_ref().clone())
                    .collect();
                enums.push(make_enum(&enum_name, &format!("{name}.{fname}"), &values)?);
                (fname.clone(), enum_name)
            }
            other => (fname.clone(), scalar_rust_type(other).to_owned()),
        };
        let values = match kind {
            Kind::Enum => f
                .values
                .as_ref()
                .map(|v| v.get_ref().iter().map(|s| s.get_ref().clone()).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let on_delete = match f.on_delete.as_ref().map(|s| s.get_ref().as_str()) {
            Some("cascade") => OnDelete::Cascade,
            Some("set_null") => OnDelete::SetNull,
            None | Some("restrict") => OnDelete::Restrict,
            Some(other) => bail!("`{name}.{fname}`: on_delete = {other:?} (restrict, cascade or set_null)"),
        };
        let max_len = match &f.max_len {
            Some(n) => Some(
                u32::try_from(*n.get_ref())
                    .ok()
                    .filter(|n| *n > 0)
                    .with_context(|| format!("`{name}.{fname}`: max_len must be a positive integer"))?,
            ),
            None => None,
        };
        let mut field = Field {
            name: fname.clone(),
            ident: rust_ident(fname),
            column,
            kind,
            rust_type: if f.optional {
                format!("Option<{base_type}>")
            } else {
                base_type
            },
            optional: f.optional,
            default: f.default.as_ref().map(|d| default_text(d.get_ref())),
            unique: f.unique,
            indexed: f.indexed,
            sortable: f.sortable,
            searchable: f.is_searchable(),
            max_len,
            min: f.min.as_ref().map(|v| *v.get_ref()),
            max: f.max.as_ref().map(|v| *v.get_ref()),
            values,
            reference,
            on_delete,
            renamed_from: f.renamed_from.as_ref().map(|r| r.get_ref().clone()),
            owner: f.is_owner(),
            write: f.write.as_ref().map(|w| w.get_ref().clone()),
            read_only: f.is_read_only(),
            sensitive: f.is_sensitive(),
            rookery_attrs: Vec::new(),
            doc: String::new(),
        };
        field.rookery_attrs = field_attrs(&field);
        field.doc = field_doc(&field);
        fields.push(field);
    }
    let permissions = match &m.permissions {
        Some(p) => Permissions {
            read: p.read.get_ref().clone(),
            write: p.write.get_ref().clone(),
            delete: p.delete.as_ref().unwrap_or(&p.write).get_ref().clone(),
            assign: p.assign.as_ref().map(|a| a.get_ref().clone()),
        },
        None => default_permissions(&table),
    };
    let sort = sort_of(m.sort.as_ref().map(|s| s.get_ref().as_str()), &fields)
        .with_context(|| format!("model `{name}`: unknown sort key"))?;
    let mut model = Model {
        name: name.to_owned(),
        id_type: format!("{struct_name}Id"),
        rust_path: format!("models::{struct_name}"),
        struct_name,
        path: table.clone(),
        table,
        key,
        fields,
        enums,
        permissions,
        quota: m.quota.as_ref().map(|q| q.get_ref().clone()),
        audit: m.audit,
        // In one order, however the spec lists them: the derive's.
        events: ["created", "updated", "deleted"]
            .into_iter()
            .filter(|e| m.events.iter().any(|x| x.get_ref() == e))
            .map(str::to_owned)
            .collect(),
        sort,
        renamed_from: m.renamed_from.as_ref().map(|r| r.get_ref().clone()),
        feature: m.feature.as_ref().map(|f| f.get_ref().clone()),
        generated: true,
        module: name.to_owned(),
        module_ident: rust_ident(name),
        rookery_attrs: Vec::new(),
        doc: String::new(),
    };
    model.rookery_attrs = model_attrs(&model);
    model.doc = format!(
        "A `{}` of a tenant, stored in `{}` and served under `{}`.",
        model.name, model.table, model.path
    );
    Ok(model)
}

fn user_ref() -> Reference {
    Reference {
        model: "user".into(),
        table: "memberships".into(),
        column: "user_id".into(),
        key: Key::Uuid,
    }
}

fn default_permissions(table: &str) -> Permissions {
    Permissions {
        read: format!("{table}.read"),
        write: format!("{table}.write"),
        delete: format!("{table}.delete"),
        assign: None,
    }
}

fn kind_of(k: FieldKind) -> Kind {
    match k {
        FieldKind::String => Kind::String,
        FieldKind::Text => Kind::Text,
        FieldKind::Int => Kind::Int,
        FieldKind::Bigint => Kind::Bigint,
        FieldKind::Decimal => Kind::Decimal,
        FieldKind::Bool => Kind::Bool,
        FieldKind::Date => Kind::Date,
        FieldKind::Datetime => Kind::Datetime,
        FieldKind::Uuid => Kind::Uuid,
        FieldKind::Enum => Kind::Enum,
        FieldKind::Json => Kind::Json,
        FieldKind::Ref => Kind::Ref,
        FieldKind::Email => Kind::Email,
        FieldKind::Url => Kind::Url,
    }
}

fn scalar_rust_type(k: Kind) -> &'static str {
    match k {
        Kind::String | Kind::Text | Kind::Email | Kind::Url => "String",
        Kind::Int => "i32",
        Kind::Bigint => "i64",
        Kind::Decimal => "rookery::Decimal",
        Kind::Bool => "bool",
        Kind::Date => "rookery::chrono::NaiveDate",
        Kind::Datetime => "rookery::chrono::DateTime<rookery::chrono::Utc>",
        Kind::Uuid => "rookery::uuid::Uuid",
        Kind::Json => "rookery::serde_json::Value",
        Kind::Enum | Kind::Ref => unreachable!("enum and ref types are named by the model"),
    }
}

/// The Rust variant of an enum value: `in_progress` → `InProgress`; `V1`
/// for `1`; `SelfValue` for `self` (`Self` is a keyword).
pub fn variant_name(value: &str) -> String {
    let name = value.to_upper_camel_case();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("V{name}")
    } else if name == "Self" {
        "SelfValue".to_owned()
    } else {
        name
    }
}

fn make_enum(name: &str, field: &str, values: &[String]) -> Result<Enum> {
    let mut seen = HashSet::new();
    let mut variants = Vec::new();
    for v in values {
        let vname = variant_name(v);
        if !seen.insert(vname.clone()) {
            bail!("`{field}`: two values map to the Rust variant `{vname}`");
        }
        variants.push(Variant {
            rename: rookery_macros_core::snake_case(&vname) != *v,
            doc: format!("Stored as `{}`.", one_line(v)),
            name: vname,
            value: v.clone(),
        });
    }
    Ok(Enum {
        name: name.to_owned(),
        variants,
        doc: format!("The values of `{field}`."),
    })
}

fn sort_of(text: Option<&str>, fields: &[Field]) -> Option<Sort> {
    let text = text.unwrap_or("-created_at");
    let (descending, field) = match text.strip_prefix('-') {
        Some(f) => (true, f),
        None => (false, text),
    };
    let column = if ["id", "created_at", "updated_at"].contains(&field) {
        field.to_owned()
    } else {
        fields.iter().find(|f| f.name == field)?.column.clone()
    };
    Some(Sort {
        field: field.to_owned(),
        column,
        descending,
    })
}

fn sort_text(s: &Sort) -> String {
    format!("{}{}", if s.descending { "-" } else { "" }, s.field)
}

fn model_attrs(m: &Model) -> Vec<String> {
    let assign = match &m.permissions.assign {
        Some(a) => format!(", assign = {}", rust_str(a)),
        None => String::new(),
    };
    let mut out = vec![
        format!("table = {}", rust_str(&m.table)),
        format!("id = {}", rust_str(if m.key == Key::Uuid { "uuid" } else { "bigint" })),
        format!(
            "permissions(read = {}, write = {}, delete = {}{assign})",
            rust_str(&m.permissions.read),
            rust_str(&m.permissions.write),
            rust_str(&m.permissions.delete)
        ),
    ];
    if let Some(q) = &m.quota {
        out.push(format!("quota = {}", rust_str(q)));
    }
    if m.audit {
        out.push("audit".into());
    }
    if let Some(f) = &m.feature {
        out.push(format!("feature = {}", rust_str(f)));
    }
    if !m.events.is_empty() {
        out.push(format!("events({})", m.events.join(", ")));
    }
    out.push(format!("sort = {}", rust_str(&sort_text(&m.sort))));
    out
}

fn field_attrs(f: &Field) -> Vec<String> {
    let mut out = Vec::new();
    match f.kind {
        Kind::Text => out.push("text".into()),
        Kind::Email => out.push("email".into()),
        Kind::Url => out.push("url".into()),
        _ => {}
    }
    if let Some(n) = f.max_len {
        out.push(format!("max_len = {n}"));
    }
    if let Some(n) = f.min {
        out.push(format!("min = {n}"));
    }
    if let Some(n) = f.max {
        out.push(format!("max = {n}"));
    }
    if let Some(d) = &f.default {
        out.push(format!("default = {}", rust_str(d)));
    }
    for (on, word) in [
        (f.unique, "unique"),
        (f.indexed, "indexed"),
        (f.sortable, "sortable"),
        (f.searchable, "searchable"),
    ] {
        if on {
            out.push(word.into());
        }
    }
    if f.kind == Kind::Ref {
        match f.on_delete {
            OnDelete::Restrict => {}
            OnDelete::Cascade => out.push("on_delete = \"cascade\"".into()),
            OnDelete::SetNull => out.push("on_delete = \"set_null\"".into()),
        }
    }
    if f.owner {
        out.push("owner".into());
    }
    if let Some(w) = &f.write {
        out.push(format!("write = {}", rust_str(w)));
    }
    if f.read_only {
        out.push("read_only".into());
    }
    if f.sensitive {
        out.push("sensitive".into());
    }
    out
}

fn field_doc(f: &Field) -> String {
    let mut parts = vec![match &f.reference {
        Some(r) if r.model == "user" => "a member of the tenant".to_owned(),
        Some(r) => format!("a `{}` of the same tenant", r.model),
        None => f.kind.as_str().to_owned(),
    }];
    if f.optional {
        parts.push("optional".into());
    }
    if let Some(n) = f.max_len {
        parts.push(format!("at most {n} characters"));
    }
    if let Some(n) = f.min {
        parts.push(format!("at least {n}"));
    }
    if let Some(n) = f.max {
        parts.push(format!("at most {n}"));
    }
    if let Some(d) = &f.default {
        if d.is_empty() {
            parts.push("default empty".into());
        } else {
            parts.push(format!("default `{}`", one_line(d)));
        }
    }
    if f.searchable {
        parts.push("searchable (`q=`)".into());
    }
    if f.unique && f.kind == Kind::Email {
        parts.push("unique per tenant, ignoring case".into());
    } else if f.unique {
        parts.push("unique per tenant".into());
    }
    if f.owner {
        parts.push("the row's owner (the caller when omitted)".into());
    }
    if let Some(w) = &f.write {
        parts.push(format!("setting it needs `{w}`"));
    }
    if f.read_only {
        parts.push("set by the server only".into());
    }
    if f.sensitive {
        parts.push("masked in the audit log".into());
    }
    format!("`{}`: {}.", f.name, parts.join(", "))
}

fn hand_model(
    h: &HandModel,
    hand: &Handwritten,
    targets: &HashMap<String, Target>,
    hand_by_struct: &HashMap<String, String>,
) -> Result<Model> {
    let name = h.name.clone();
    let table = h.resolved_table.clone();
    let mut fields = Vec::new();
    for hf in &h.fields {
        let whr = || format!("{}: field `{}` of `{}`", h.file, hf.name, h.struct_name);
        let optional = hf.ty.optional;
        let mut reference = None;
        let mut values = Vec::new();
        // The type was recognised by the derive's rule (`rookery_macros_core::recognise`);
        // what is left here is resolving enum and model names.
        let kind = match &hf.ty.kind {
            HandKind::String if hf.text => Kind::Text,
            HandKind::String if hf.email => Kind::Email,
            HandKind::String if hf.url => Kind::Url,
            HandKind::String => Kind::String,
            HandKind::Int => Kind::Int,
            HandKind::BigInt => Kind::Bigint,
            HandKind::Decimal => Kind::Decimal,
            HandKind::Bool => Kind::Bool,
            HandKind::Date => Kind::Date,
            HandKind::DateTime => Kind::Datetime,
            HandKind::Uuid => Kind::Uuid,
            HandKind::Json => Kind::Json,
            HandKind::User => {
                reference = Some(user_ref());
                Kind::Ref
            }
            HandKind::Enum { name: enum_name } => match hand.enums.iter().find(|e| e.name == *enum_name) {
                Some(e) => {
                    values.clone_from(&e.values);
                    Kind::Enum
                }
                None => bail!(
                    "{}: `{enum_name}` is not a `#[derive(ModelEnum)]` enum in src/ (a field's type is String, i32, i64, Decimal, bool, NaiveDate, DateTime<Utc>, Uuid, serde_json::Value, a ModelEnum enum, an `<Model>Id` or UserId, optionally in Option<…>)",
                    whr()
                ),
            },
            HandKind::Ref { model: target } => {
                let model = hand_by_struct
                    .get(target)
                    .cloned()
                    .unwrap_or_else(|| target.to_snake_case());
                let Some(t) = targets.get(&model) else {
                    bail!("{}: `{target}Id` names no model of the spec or src/", whr());
                };
                reference = Some(Reference {
                    model,
                    table: t.table.clone(),
                    column: "id".into(),
                    key: t.key,
                });
                Kind::Ref
            }
        };
        let column = hf.column.clone().unwrap_or_else(|| {
            if kind == Kind::Ref {
                crate::naming::ref_column(&hf.name)
            } else {
                hf.name.clone()
            }
        });
        let on_delete = hf.on_delete.unwrap_or(OnDelete::Restrict);
        let mut field = Field {
            ident: rust_ident(&hf.name),
            name: hf.name.clone(),
            column,
            kind,
            rust_type: String::new(),
            optional,
            default: hf.default.clone(),
            unique: hf.unique,
            indexed: hf.indexed,
            sortable: hf.sortable,
            searchable: hf.searchable,
            max_len: hf.max_len,
            min: hf.min,
            max: hf.max,
            values,
            reference,
            on_delete,
            renamed_from: hf.renamed_from.clone(),
            owner: hf.owner,
            write: hf.write.clone(),
            read_only: hf.read_only,
            sensitive: hf.sensitive,
            rookery_attrs: Vec::new(),
            doc: String::new(),
        };
        field.doc = field_doc(&field);
        fields.push(field);
    }
    let sort = sort_of(h.sort.as_deref(), &fields)
        .with_context(|| format!("{}: `{}` has an unknown sort key", h.file, h.struct_name))?;
    let permissions = match &h.permissions {
        Some((read, write, delete)) => Permissions {
            read: read.clone(),
            write: write.clone(),
            delete: delete.clone().unwrap_or_else(|| write.clone()),
            assign: h.assign.clone(),
        },
        None => default_permissions(&table),
    };
    Ok(Model {
        id_type: format!("{}Id", h.struct_name),
        rust_path: format!("{}::{}", h.module_path, h.struct_name),
        struct_name: h.struct_name.clone(),
        path: table.clone(),
        table,
        key: h.key,
        fields,
        enums: Vec::new(),
        permissions,
        quota: h.quota.clone(),
        audit: h.audit,
        events: h.events.clone(),
        sort,
        renamed_from: h.renamed_from.clone(),
        feature: h.feature.clone(),
        generated: false,
        module_ident: rust_ident(&name),
        module: name.clone(),
        rookery_attrs: Vec::new(),
        doc: format!("Hand-written `{}` ({}).", h.struct_name, h.file),
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals() {
        for (s, p) in [
            ("project", "projects"),
            ("category", "categories"),
            ("day", "days"),
            ("box", "boxes"),
            ("match", "matches"),
        ] {
            assert_eq!(plural(s), p);
        }
    }

    /// Every scalar type the templates write is read back by the derive's
    /// rule as the same kind: generated models and hand-written ones mean
    /// one thing.
    #[test]
    fn emitted_types_are_recognised_as_their_kind() {
        for kind in [
            Kind::String,
            Kind::Int,
            Kind::Bigint,
            Kind::Decimal,
            Kind::Bool,
            Kind::Date,
            Kind::Datetime,
            Kind::Uuid,
            Kind::Json,
        ] {
            let text = scalar_rust_type(kind);
            let ty: syn::Type = syn::parse_str(text).expect("a type");
            let stored = rookery_macros_core::recognise(&ty).unwrap_or_else(|e| panic!("{text}: {e}"));
            let back = match stored.kind {
                HandKind::String => Kind::String,
                HandKind::Int => Kind::Int,
                HandKind::BigInt => Kind::Bigint,
                HandKind::Decimal => Kind::Decimal,
                HandKind::Bool => Kind::Bool,
                HandKind::Date => Kind::Date,
                HandKind::DateTime => Kind::Datetime,
                HandKind::Uuid => Kind::Uuid,
                HandKind::Json => Kind::Json,
                other => panic!("{text}: {other:?}"),
            };
            assert_eq!((back, stored.optional), (kind, false), "{text}");
        }
        let user: syn::Type = syn::parse_str("Option<rookery::UserId>").expect("a type");
        assert_eq!(
            rookery_macros_core::recognise(&user).map(|s| s.kind).ok(),
            Some(HandKind::User)
        );
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("5/s"), Some((5, Period::Second)));
        assert_eq!(parse_rate("1000/month"), Some((1000, Period::Month)));
        assert_eq!(parse_rate("x/s"), None);
        assert_eq!(parse_rate("5/fortnight"), None);
    }
}
