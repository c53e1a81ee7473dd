//! The audit log: one row per write of an audited model and per platform
//! event (sign-in, API keys, members, invitations), in the same
//! transaction as the write, so an audit row exists exactly when the write
//! committed.
//!
//! **Values.** A model write records the values it changed (`changes`):
//! a create the fields after, an update the before and after of the fields
//! whose value changed, a delete the fields before. A field marked
//! sensitive (`sensitive = true`, `#[rookery(sensitive)]`) is recorded as
//! `{"masked": true}`: that it was set or changed, never to what. Secrets
//! (password hashes, key and token hashes, tokens) are no model fields and
//! never reach the log.
//!
//! **One round trip.** The generic writes (`Repo::create_audited` and its
//! siblings) write the row in the same statement as the change on
//! PostgreSQL, a data-modifying `WITH` (an update reads its before values
//! `FOR UPDATE` in that statement); elsewhere [`record`] follows the write
//! in its transaction (an update reads the row first).
//!
//! **Tamper evidence** ([`chain`]): rows are inserted unchained, so
//! concurrent writes of a tenant never wait for each other; the sealer
//! gives them the tenant's next sequence numbers and chain hashes in
//! batches, and `<app> audit verify` recomputes every chain.
//!
//! **Reading**: [`list`] (`GET /audit-log`).

pub mod chain;
mod list;

pub use list::{AuditPage, AuditQuery, AuditRow, list};

use chrono::Utc;
use uuid::Uuid;

use crate::db::{Bind, DbError, TenantTx, Writes};
use crate::model::{Actor, FieldType, TenantId, Value};

/// The audit log's columns, in the order [`values`] fills them.
pub(crate) const COLUMNS: &str =
    "tenant_id, id, actor_type, actor_id, action, target_type, target_id, request_id, metadata, at, changes";

/// One audit entry.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// `<model>.<create|update|delete>` or a platform action such as `api_key.create`.
    pub action: &'a str,
    /// Model or resource name.
    pub target_type: &'a str,
    /// The target's id, as text.
    pub target_id: String,
    /// The request id, when there is one.
    pub request_id: Option<&'a str>,
    /// Extra facts (never secrets or field values).
    pub metadata: Option<serde_json::Value>,
}

/// Who wrote, for the audit row a generic write records with itself: the
/// action (`<model>.<verb>`) and the target (the written row) come from
/// the write.
#[derive(Debug, Clone)]
pub struct Stamp<'a> {
    /// Who wrote.
    pub actor: Actor,
    /// The request id, when there is one.
    pub request_id: Option<&'a str>,
    /// Extra facts (never secrets or field values).
    pub metadata: Option<serde_json::Value>,
}

/// `stamp` with `fields` (the JSON names of the fields a write changed)
/// recorded in its metadata: added to a metadata object, or beside other
/// metadata as `extra`.
pub(crate) fn with_fields<'a>(stamp: Stamp<'a>, fields: &[&str]) -> Stamp<'a> {
    with_fact(stamp, "fields", serde_json::Value::from(fields))
}

/// `stamp` with `key: value` added to its metadata object (other metadata
/// kept beside it as `extra`).
pub(crate) fn with_fact<'a>(mut stamp: Stamp<'a>, key: &str, value: serde_json::Value) -> Stamp<'a> {
    stamp.metadata = Some(match stamp.metadata.take() {
        None => serde_json::json!({ key: value }),
        Some(serde_json::Value::Object(mut map)) => {
            map.insert(key.into(), value);
            serde_json::Value::Object(map)
        }
        Some(extra) => serde_json::json!({ key: value, "extra": extra }),
    });
    stamp
}

impl<'a> Stamp<'a> {
    /// The entry for `action` on `target_type` row `target_id`.
    pub(crate) fn entry(&self, action: &'a str, target_type: &'a str, target_id: String) -> Entry<'a> {
        Entry {
            action,
            target_type,
            target_id,
            request_id: self.request_id,
            metadata: self.metadata.clone(),
        }
    }
}

/// Where the audit row's `target_id` comes from.
pub(crate) enum Target<'a> {
    /// A known id.
    Id(String),
    /// An SQL expression over the write's returned row (`id::text`).
    Expr(&'a str),
}

/// Where the audit row's `changes` come from.
pub(crate) enum Changes {
    /// None recorded (a platform event).
    None,
    /// Computed already.
    Json(serde_json::Value),
    /// An SQL expression over the write's rows.
    Expr(String),
}

/// The value expressions of one audit row in [`COLUMNS`] order, its
/// values pushed onto `binds` as parameters.
pub(crate) fn values(
    tenant: TenantId,
    stamp: Stamp<'_>,
    action: &str,
    target_type: &str,
    target: (Target<'_>, Changes),
    binds: &mut Vec<Bind>,
) -> String {
    fn param(binds: &mut Vec<Bind>, value: Value, ty: FieldType) -> String {
        binds.push(Bind::new(value, ty));
        format!("${}", binds.len())
    }
    let (target, changes) = target;
    let target_id = match target {
        Target::Id(id) => param(binds, Value::Text(id), FieldType::Text),
        Target::Expr(expr) => expr.to_owned(),
    };
    let request_id = stamp.request_id.map_or(Value::Null, |r| Value::Text(r.to_owned()));
    let actor = stamp.actor;
    [
        param(binds, Value::Uuid(tenant.0), FieldType::Uuid),
        param(binds, Value::Uuid(Uuid::now_v7()), FieldType::Uuid),
        param(binds, Value::Text(actor.kind().to_owned()), FieldType::Text),
        param(binds, Value::Uuid(actor.id()), FieldType::Uuid),
        param(binds, Value::Text(action.to_owned()), FieldType::Text),
        param(binds, Value::Text(target_type.to_owned()), FieldType::Text),
        target_id,
        param(binds, request_id, FieldType::Text),
        param(binds, stamp.metadata.map_or(Value::Null, Value::Json), FieldType::Json),
        param(binds, Value::DateTime(Utc::now()), FieldType::DateTime),
        match changes {
            Changes::None => "NULL".to_owned(),
            Changes::Json(json) => param(binds, Value::Json(json), FieldType::Json),
            Changes::Expr(expr) => expr,
        },
    ]
    .join(", ")
}

/// Writes `entry`, done by the platform itself (`actor_type` `system`, no
/// actor id: a job, not a person, acted), inside `tx` (in its tenant).
pub(crate) async fn record_system(tx: &mut TenantTx<impl Writes>, entry: Entry<'_>) -> Result<(), DbError> {
    record_unattributed(tx, "system", entry).await
}

/// Writes `entry`, done by the platform's operator (`actor_type`
/// `operator`, no actor id: the operator is nobody of the tenant's),
/// inside `tx` (in its tenant).
pub(crate) async fn record_operator(tx: &mut TenantTx<impl Writes>, entry: Entry<'_>) -> Result<(), DbError> {
    record_unattributed(tx, "operator", entry).await
}

async fn record_unattributed(
    tx: &mut TenantTx<impl Writes>,
    kind: &'static str,
    entry: Entry<'_>,
) -> Result<(), DbError> {
    let p = |value: Value, ty: FieldType| Bind::new(value, ty);
    let binds = vec![
        p(Value::Uuid(tx.tenant().0), FieldType::Uuid),
        p(Value::Uuid(Uuid::now_v7()), FieldType::Uuid),
        p(Value::Text(kind.to_owned()), FieldType::Text),
        p(Value::Text(entry.action.to_owned()), FieldType::Text),
        p(Value::Text(entry.target_type.to_owned()), FieldType::Text),
        p(Value::Text(entry.target_id), FieldType::Text),
        p(
            entry.request_id.map_or(Value::Null, |r| Value::Text(r.to_owned())),
            FieldType::Text,
        ),
        p(entry.metadata.map_or(Value::Null, Value::Json), FieldType::Json),
        p(Value::DateTime(Utc::now()), FieldType::DateTime),
    ];
    tx.execute(
        format!("INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, NULL, $4, $5, $6, $7, $8, $9, NULL)"),
        binds,
    )
    .await?;
    Ok(())
}

/// Writes `entry`, done by `actor`, inside `tx` (in its tenant).
pub async fn record(tx: &mut TenantTx<impl Writes>, actor: Actor, entry: Entry<'_>) -> Result<(), DbError> {
    record_changes(tx, actor, entry, Changes::None).await
}

/// [`record`] with the `changes` of a model write.
pub(crate) async fn record_changes(
    tx: &mut TenantTx<impl Writes>,
    actor: Actor,
    entry: Entry<'_>,
    changes: Changes,
) -> Result<(), DbError> {
    let tenant = tx.tenant();
    let mut binds = Vec::with_capacity(11);
    let stamp = Stamp {
        actor,
        request_id: entry.request_id,
        metadata: entry.metadata,
    };
    let target = (Target::Id(entry.target_id), changes);
    let values = values(tenant, stamp, entry.action, entry.target_type, target, &mut binds);
    tx.execute(format!("INSERT INTO audit_log ({COLUMNS}) VALUES ({values})"), binds)
        .await?;
    Ok(())
}

/// Who a platform event names ([`record_platform`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlatformActor {
    /// A member or an API key (`principal.actor`).
    Actor(Actor),
    /// Someone not signed in, whose claim is not recorded (a failed
    /// sign-in with an address that is no member of the tenant):
    /// `actor_type` `anonymous`, no actor id.
    Anonymous,
    /// The platform itself (a job): `actor_type` `system`, no actor id.
    System,
}

/// Records a platform event in the audit log of `tx`'s tenant, in `tx`:
/// `action` (`plan.changed`, `tenant.export_requested`, …) on `target`
/// (`(target_type, target_id)`, e.g. `("tenant", id)`), with `metadata`
/// (facts, never secrets or personal data beyond ids). The row is sealed
/// into the tenant's hash chain like every other.
///
/// ```no_run
/// # async fn plan_changed(db: rookery::Db, tenant: rookery::TenantId, who: rookery::Actor) -> Result<(), rookery::DbError> {
/// use rookery::audit::{self, PlatformActor};
/// let mut tx = db.begin_write(tenant).await?;
/// // … the change itself …
/// let facts = rookery::serde_json::json!({ "from": "free", "to": "growth" });
/// audit::record_platform(&mut tx, PlatformActor::Actor(who), "plan.changed", ("tenant", tenant.to_string()), Some(facts)).await?;
/// tx.commit().await
/// # }
/// ```
pub async fn record_platform(
    tx: &mut TenantTx<impl Writes>,
    actor: PlatformActor,
    action: &str,
    target: (&str, String),
    metadata: Option<serde_json::Value>,
) -> Result<(), DbError> {
    let (target_type, target_id) = target;
    match actor {
        PlatformActor::Actor(actor) => {
            let entry = Entry {
                action,
                target_type,
                target_id,
                request_id: None,
                metadata,
            };
            record(tx, actor, entry).await
        }
        PlatformActor::Anonymous | PlatformActor::System => {
            let kind = if actor == PlatformActor::System {
                "system"
            } else {
                "anonymous"
            };
            let p = |value: Value, ty: FieldType| Bind::new(value, ty);
            let binds = vec![
                p(Value::Uuid(tx.tenant().0), FieldType::Uuid),
                p(Value::Uuid(Uuid::now_v7()), FieldType::Uuid),
                p(Value::Text(kind.to_owned()), FieldType::Text),
                p(Value::Text(action.to_owned()), FieldType::Text),
                p(Value::Text(target_type.to_owned()), FieldType::Text),
                p(Value::Text(target_id), FieldType::Text),
                p(metadata.map_or(Value::Null, Value::Json), FieldType::Json),
                p(Value::DateTime(Utc::now()), FieldType::DateTime),
            ];
            tx.execute(
                format!("INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, NULL, $4, $5, $6, NULL, $7, $8, NULL)"),
                binds,
            )
            .await?;
            Ok(())
        }
    }
}
