//! The audit log: one row per write of an audited model, in the same
//! transaction as the write, so an audit row exists exactly when the write
//! committed. Values are never recorded, only which fields changed.

use chrono::Utc;
use uuid::Uuid;

use crate::auth::Principal;
use crate::db::{Bind, DbError, TenantTx};
use crate::model::{FieldType, Value};

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

/// Writes `entry` inside `tx` (which must belong to the principal's tenant).
pub async fn record(tx: &mut TenantTx, principal: &Principal, entry: Entry<'_>) -> Result<(), DbError> {
    let tenant = tx.tenant();
    debug_assert_eq!(tenant, principal.tenant);
    let binds = vec![
        Bind::new(Value::Uuid(tenant.0), FieldType::Uuid),
        Bind::new(Value::Uuid(Uuid::now_v7()), FieldType::Uuid),
        Bind::new(Value::Text(principal.actor.kind().to_owned()), FieldType::Text),
        Bind::new(Value::Uuid(principal.actor.id()), FieldType::Uuid),
        Bind::new(Value::Text(entry.action.to_owned()), FieldType::Text),
        Bind::new(Value::Text(entry.target_type.to_owned()), FieldType::Text),
        Bind::new(Value::Text(entry.target_id), FieldType::Text),
        Bind::new(
            entry.request_id.map_or(Value::Null, |r| Value::Text(r.to_owned())),
            FieldType::Text,
        ),
        Bind::new(entry.metadata.map_or(Value::Null, Value::Json), FieldType::Json),
        Bind::new(Value::DateTime(Utc::now()), FieldType::DateTime),
    ];
    tx.execute(
        "INSERT INTO audit_log (tenant_id, id, actor_type, actor_id, action, target_type, target_id, request_id, metadata, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            .into(),
        binds,
    )
    .await?;
    Ok(())
}
