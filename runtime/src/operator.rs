//! The platform operator's changes to one tenant: its plan, the seam
//! billing drives later, and per-tenant feature overrides beside the plan
//! (a feature turned on or off for this tenant whatever its plan says). The operator API (`http/operator`, behind
//! `ROOKERY_OPERATOR_TOKEN`) and the app's `tenant` command both call
//! these, then make every instance hear of the change
//! (`auth::invalidate`): the plan holds on the next request of every
//! instance that shares Redis, and of this process.
//!
//! A change is one transaction: the tenant's row, a row in the tenant's
//! own audit log (`actor_type` `operator`) and one in the platform's audit
//! (who: `operator api` or `operator cli`), so it is recorded exactly when
//! it happened. Setting the plan a tenant already has changes and records
//! nothing.

use serde::Serialize;
use serde_json::json;

use crate::app_spec::{AppSpec, PlanDef};
use crate::audit::{self, Entry};
use crate::db::{Bind, Db, DbError, DbRow, Dialect};
use crate::model::{DecodeError, FieldType, TenantId, Value};

/// Where an operator's change came from, as the platform's audit names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// The operator API.
    Api,
    /// The app binary's `tenant` command.
    Cli,
}

impl Via {
    fn actor(self) -> &'static str {
        match self {
            Self::Api => "operator api",
            Self::Cli => "operator cli",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Api => "api",
            Self::Cli => "cli",
        }
    }
}

/// A tenant as the operator sees it: its plan and what the plan unlocks.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub(crate) struct TenantFacts {
    /// Id.
    pub(crate) id: TenantId,
    /// Slug.
    pub(crate) slug: String,
    /// Display name.
    pub(crate) name: String,
    /// The plan.
    pub(crate) plan: &'static str,
    /// The features the tenant has (its plan's, with the overrides).
    pub(crate) features: Vec<&'static str>,
    /// The operator's overrides, feature → on or off.
    pub(crate) overrides: serde_json::Map<String, serde_json::Value>,
}

/// A feature override change, done or found unnecessary.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub(crate) struct FeatureChange {
    /// The tenant after the change.
    #[serde(flatten)]
    pub(crate) tenant: TenantFacts,
    /// Whether anything changed.
    pub(crate) changed: bool,
}

/// A plan change, done or found unnecessary.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub(crate) struct PlanChange {
    /// The tenant after the change.
    #[serde(flatten)]
    pub(crate) tenant: TenantFacts,
    /// The plan before.
    pub(crate) from: String,
    /// Whether anything changed (`false`: it had the plan already).
    pub(crate) changed: bool,
}

/// What an operator's request could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum OperatorError {
    /// No tenant has the slug.
    #[error("no tenant `{0}`")]
    UnknownTenant(String),
    /// The spec declares no such feature.
    #[error("unknown feature `{feature}`; the features are {known}")]
    UnknownFeature {
        /// The feature asked for.
        feature: String,
        /// The spec's features, comma-separated.
        known: String,
    },
    /// The spec declares no such plan.
    #[error("unknown plan `{plan}`; the plans are {known}")]
    UnknownPlan {
        /// The plan asked for.
        plan: String,
        /// The spec's plans, comma-separated.
        known: String,
    },
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// The tenant `slug`.
pub(crate) async fn tenant(db: &Db, spec: &'static AppSpec, slug: &str) -> Result<TenantFacts, OperatorError> {
    let mut tx = db.begin_platform_read().await?;
    let row = tx
        .fetch_optional(
            "SELECT id, slug, name, plan, feature_overrides FROM tenants WHERE slug = $1".into(),
            vec![text(slug)],
        )
        .await?;
    drop(tx);
    let row = row.ok_or_else(|| OperatorError::UnknownTenant(slug.to_owned()))?;
    let stored = decode(&row)?;
    let current = effective_plan(spec, &stored.plan).ok_or_else(|| unknown_plan(spec, &stored.plan))?;
    Ok(facts(spec, stored, current))
}

/// Puts the tenant `slug` on `plan`, recorded in its audit log and the
/// platform's. The caller invalidates the tenant's facts afterwards.
pub(crate) async fn set_plan(
    db: &Db,
    spec: &'static AppSpec,
    slug: &str,
    plan: &str,
    via: Via,
) -> Result<PlanChange, OperatorError> {
    let to = spec.plan(plan).ok_or_else(|| unknown_plan(spec, plan))?;
    let mut tx = db.begin_platform().await?;
    // The row locked (PostgreSQL; SQLite's write transaction holds the
    // database), so `from` is the plan this change replaced.
    let lock = match tx.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    let row = tx
        .fetch_optional(
            format!("SELECT id, slug, name, plan, feature_overrides FROM tenants WHERE slug = $1{lock}"),
            vec![text(slug)],
        )
        .await?
        .ok_or_else(|| OperatorError::UnknownTenant(slug.to_owned()))?;
    let stored = decode(&row)?;
    let (id, from) = (stored.id, stored.plan.clone());
    if from == to.name {
        drop(tx);
        return Ok(PlanChange {
            tenant: facts(spec, stored, to),
            from,
            changed: false,
        });
    }
    tx.execute(
        "UPDATE tenants SET plan = $2 WHERE id = $1".into(),
        vec![Bind::new(Value::Uuid(id.0), FieldType::Uuid), text(to.name)],
    )
    .await?;
    let detail = json!({ "tenant": id, "from": from, "to": to.name });
    tx.audit_platform(via.actor(), "tenant.plan_change", &detail).await?;
    let mut tx = tx.into_tenant(id).await?;
    let entry = Entry {
        action: "tenant.plan_changed",
        target_type: "tenant",
        target_id: id.0.to_string(),
        request_id: None,
        metadata: Some(json!({ "from": from, "to": to.name, "via": via.name() })),
    };
    audit::record_operator(&mut tx, entry).await?;
    tx.commit().await?;
    tracing::info!(tenant = %id, from = %from, to = to.name, via = via.name(), "plan changed by the operator");
    Ok(PlanChange {
        tenant: facts(spec, stored, to),
        from,
        changed: true,
    })
}

/// Turns `feature` on (`Some(true)`) or off (`Some(false)`) for the tenant
/// `slug` whatever its plan says, or back to the plan's (`None`), recorded
/// in its audit log and the platform's. The caller invalidates the
/// tenant's facts afterwards.
pub(crate) async fn set_feature(
    db: &Db,
    spec: &'static AppSpec,
    slug: &str,
    feature: &str,
    enabled: Option<bool>,
    via: Via,
) -> Result<FeatureChange, OperatorError> {
    let feature = spec
        .features
        .iter()
        .find(|f| f.name == feature)
        .map(|f| f.name)
        .ok_or_else(|| OperatorError::UnknownFeature {
            feature: feature.to_owned(),
            known: spec.features.iter().map(|f| f.name).collect::<Vec<_>>().join(", "),
        })?;
    let mut tx = db.begin_platform().await?;
    let lock = match tx.dialect() {
        Dialect::Postgres => " FOR UPDATE",
        Dialect::Sqlite => "",
    };
    let row = tx
        .fetch_optional(
            format!("SELECT id, slug, name, plan, feature_overrides FROM tenants WHERE slug = $1{lock}"),
            vec![text(slug)],
        )
        .await?
        .ok_or_else(|| OperatorError::UnknownTenant(slug.to_owned()))?;
    let mut stored = decode(&row)?;
    let plan = effective_plan(spec, &stored.plan).ok_or_else(|| unknown_plan(spec, &stored.plan))?;
    let before = stored.overrides.get(feature).and_then(serde_json::Value::as_bool);
    if before == enabled {
        drop(tx);
        return Ok(FeatureChange {
            tenant: facts(spec, stored, plan),
            changed: false,
        });
    }
    match enabled {
        Some(on) => stored.overrides.insert(feature.to_owned(), on.into()),
        None => stored.overrides.remove(feature),
    };
    let id = stored.id;
    let json = serde_json::Value::Object(stored.overrides.clone()).to_string();
    tx.execute(
        "UPDATE tenants SET feature_overrides = $2 WHERE id = $1".into(),
        vec![Bind::new(Value::Uuid(id.0), FieldType::Uuid), text(&json)],
    )
    .await?;
    let change = json!({ "feature": feature, "from": before, "to": enabled });
    let detail = json!({ "tenant": id, "feature": feature, "from": before, "to": enabled });
    tx.audit_platform(via.actor(), "tenant.feature_override", &detail)
        .await?;
    let mut tx = tx.into_tenant(id).await?;
    let mut metadata = change;
    metadata["via"] = via.name().into();
    let entry = Entry {
        action: "tenant.feature_changed",
        target_type: "tenant",
        target_id: id.0.to_string(),
        request_id: None,
        metadata: Some(metadata),
    };
    audit::record_operator(&mut tx, entry).await?;
    tx.commit().await?;
    tracing::info!(tenant = %id, feature, enabled = ?enabled, via = via.name(), "feature override changed by the operator");
    Ok(FeatureChange {
        tenant: facts(spec, stored, plan),
        changed: true,
    })
}

/// A row of `SELECT id, slug, name, plan, feature_overrides FROM tenants`.
struct Stored {
    id: TenantId,
    slug: String,
    name: String,
    plan: String,
    /// As stored (features the spec no longer has included).
    overrides: serde_json::Map<String, serde_json::Value>,
}

fn decode(row: &DbRow) -> Result<Stored, DbError> {
    let text = |i| match row.value(i, FieldType::Text)? {
        Value::Text(text) => Ok(text),
        other => Err(DbError::Decode(DecodeError::new("text", &other))),
    };
    let id = match row.value(0, FieldType::Uuid)? {
        Value::Uuid(id) => TenantId(id),
        other => return Err(DbError::Decode(DecodeError::new("uuid", &other))),
    };
    Ok(Stored {
        id,
        slug: text(1)?,
        name: text(2)?,
        plan: text(3)?,
        overrides: serde_json::from_str(&text(4)?).unwrap_or_default(),
    })
}

/// The plan a stored name means: a plan the spec no longer has falls back
/// to the first plan, as serving does (`tenant::TenantDirectory`).
fn effective_plan(spec: &'static AppSpec, name: &str) -> Option<&'static PlanDef> {
    spec.plan(name).or_else(|| spec.plans.first())
}

fn unknown_plan(spec: &AppSpec, plan: &str) -> OperatorError {
    OperatorError::UnknownPlan {
        plan: plan.to_owned(),
        known: spec.plans.iter().map(|p| p.name).collect::<Vec<_>>().join(", "),
    }
}

fn facts(spec: &'static AppSpec, stored: Stored, plan: &'static PlanDef) -> TenantFacts {
    let overrides =
        crate::tenant::FeatureOverrides::parse(spec, &serde_json::Value::Object(stored.overrides).to_string());
    let info = crate::tenant::TenantInfo {
        overrides,
        ..crate::tenant::TenantInfo::new(stored.id, stored.slug, plan)
    };
    let features = spec
        .features
        .iter()
        .map(|f| f.name)
        .filter(|f| info.has_feature(f))
        .collect();
    TenantFacts {
        id: info.id,
        slug: info.slug.clone(),
        name: stored.name,
        plan: plan.name,
        features,
        overrides: info.overrides.iter().map(|(f, on)| (f.to_owned(), on.into())).collect(),
    }
}

fn text(value: &str) -> Bind {
    Bind::new(Value::Text(value.to_owned()), FieldType::Text)
}
