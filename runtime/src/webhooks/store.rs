//! Webhook endpoints in the tenant's transaction: the rows of
//! `rookery_webhook_endpoints` (platform tables, version 5). Every
//! statement binds the transaction's tenant as `$1`; the signing secrets
//! stay sealed here (`seal`), opened only by the delivery job and the
//! rotation.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::{Bind, DbError, DbRow, Mode, TenantTx, Writes};
use crate::model::{DecodeError, FieldType, TenantId, Value};

/// An endpoint as the API shows it (its sealed secrets are never shown).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Endpoint {
    pub(crate) id: Uuid,
    pub(crate) url: String,
    pub(crate) description: String,
    pub(crate) event_types: Vec<String>,
    pub(crate) enabled: bool,
    /// Why the platform disabled it (`gone`, `failing`), if it did.
    pub(crate) disabled_reason: Option<String>,
    /// Since when every attempt failed, if the last one did.
    pub(crate) failing_since: Option<DateTime<Utc>>,
    /// Until when the secret it replaced still signs, after a rotation.
    pub(crate) previous_secret_until: Option<DateTime<Utc>>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    #[serde(skip)]
    pub(crate) secret: String,
    #[serde(skip)]
    pub(crate) retiring_secret: Option<String>,
}

/// The columns [`read_endpoint`] reads, in order (`e.` qualified).
pub(crate) const ENDPOINT_COLUMNS: &str = "e.id, e.url, e.description, e.event_types, e.enabled, e.disabled_reason, \
     e.failing_since, e.retiring_until, e.created_at, e.updated_at, e.secret, e.retiring_secret";
/// How many [`ENDPOINT_COLUMNS`] there are.
pub(crate) const ENDPOINT_WIDTH: usize = 12;

/// Reads a row's columns in order.
pub(crate) struct Read<'r> {
    row: &'r DbRow,
    next: usize,
}

fn decode(expected: &'static str, found: &Value) -> DbError {
    DbError::Decode(DecodeError::new(expected, found))
}

impl<'r> Read<'r> {
    pub(crate) fn new(row: &'r DbRow, from: usize) -> Self {
        Self { row, next: from }
    }

    fn value(&mut self, ty: FieldType) -> Result<Value, DbError> {
        self.next += 1;
        Ok(self.row.value(self.next - 1, ty)?)
    }

    pub(crate) fn uuid(&mut self) -> Result<Uuid, DbError> {
        match self.value(FieldType::Uuid)? {
            Value::Uuid(v) => Ok(v),
            other => Err(decode("uuid", &other)),
        }
    }

    pub(crate) fn text(&mut self) -> Result<String, DbError> {
        self.opt_text()?.ok_or_else(|| decode("text", &Value::Null))
    }

    pub(crate) fn opt_text(&mut self) -> Result<Option<String>, DbError> {
        match self.value(FieldType::Text)? {
            Value::Text(v) => Ok(Some(v)),
            Value::Null => Ok(None),
            other => Err(decode("text", &other)),
        }
    }

    pub(crate) fn time(&mut self) -> Result<DateTime<Utc>, DbError> {
        self.opt_time()?.ok_or_else(|| decode("datetime", &Value::Null))
    }

    pub(crate) fn opt_time(&mut self) -> Result<Option<DateTime<Utc>>, DbError> {
        match self.value(FieldType::DateTime)? {
            Value::DateTime(v) => Ok(Some(v)),
            Value::Null => Ok(None),
            other => Err(decode("datetime", &other)),
        }
    }

    pub(crate) fn boolean(&mut self) -> Result<bool, DbError> {
        match self.value(FieldType::Bool)? {
            Value::Bool(v) => Ok(v),
            other => Err(decode("bool", &other)),
        }
    }

    pub(crate) fn opt_int(&mut self) -> Result<Option<i32>, DbError> {
        match self.value(FieldType::Int)? {
            Value::Int(v) => Ok(Some(v)),
            Value::Null => Ok(None),
            other => Err(decode("int", &other)),
        }
    }

    pub(crate) fn int(&mut self) -> Result<i32, DbError> {
        self.opt_int()?.ok_or_else(|| decode("int", &Value::Null))
    }

    pub(crate) fn json(&mut self) -> Result<serde_json::Value, DbError> {
        match self.value(FieldType::Json)? {
            Value::Json(v) => Ok(v),
            other => Err(decode("json", &other)),
        }
    }
}

/// Reads [`ENDPOINT_COLUMNS`] from column `from` on.
pub(crate) fn read_endpoint(row: &DbRow, from: usize) -> Result<Endpoint, DbError> {
    let mut r = Read::new(row, from);
    Ok(Endpoint {
        id: r.uuid()?,
        url: r.text()?,
        description: r.text()?,
        event_types: serde_json::from_value(r.json()?).unwrap_or_default(),
        enabled: r.boolean()?,
        disabled_reason: r.opt_text()?,
        failing_since: r.opt_time()?,
        previous_secret_until: r.opt_time()?,
        created_at: r.time()?,
        updated_at: r.time()?,
        secret: r.text()?,
        retiring_secret: r.opt_text()?,
    })
}

pub(crate) fn tenant(tenant: TenantId) -> Bind {
    uuid(tenant.0)
}

pub(crate) fn uuid(v: Uuid) -> Bind {
    Bind::new(Value::Uuid(v), FieldType::Uuid)
}

pub(crate) fn text(v: impl Into<String>) -> Bind {
    Bind::new(Value::Text(v.into()), FieldType::Text)
}

pub(crate) fn opt_text(v: Option<String>) -> Bind {
    Bind::new(v.map_or(Value::Null, Value::Text), FieldType::Text)
}

pub(crate) fn time(v: DateTime<Utc>) -> Bind {
    Bind::new(Value::DateTime(v), FieldType::DateTime)
}

pub(crate) fn opt_time(v: Option<DateTime<Utc>>) -> Bind {
    Bind::new(v.map_or(Value::Null, Value::DateTime), FieldType::DateTime)
}

pub(crate) fn int(v: i64) -> Bind {
    Bind::new(Value::Int(i32::try_from(v).unwrap_or(i32::MAX)), FieldType::Int)
}

pub(crate) fn opt_int(v: Option<i64>) -> Bind {
    Bind::new(
        v.map_or(Value::Null, |v| Value::Int(i32::try_from(v).unwrap_or(i32::MAX))),
        FieldType::Int,
    )
}

fn boolean(v: bool) -> Bind {
    Bind::new(Value::Bool(v), FieldType::Bool)
}

fn types(v: &[String]) -> Bind {
    Bind::new(Value::Json(serde_json::json!(v)), FieldType::Json)
}

/// A new endpoint's row.
#[derive(Debug)]
pub(crate) struct NewEndpoint<'a> {
    pub(crate) id: Uuid,
    pub(crate) url: &'a str,
    pub(crate) description: &'a str,
    pub(crate) event_types: &'a [String],
    pub(crate) secret: String,
    pub(crate) created_by: Uuid,
    pub(crate) at: DateTime<Utc>,
}

/// The tenant's endpoints, oldest first.
pub(crate) async fn list(tx: &mut TenantTx<impl Mode>) -> Result<Vec<Endpoint>, DbError> {
    let sql = format!(
        "SELECT {ENDPOINT_COLUMNS} FROM rookery_webhook_endpoints e WHERE e.tenant_id = $1 ORDER BY e.created_at, e.id"
    );
    let rows = tx.fetch_all(sql, vec![tenant(tx.tenant())]).await?;
    rows.iter().map(|r| read_endpoint(r, 0)).collect()
}

/// The endpoint `id`, if the tenant has it.
pub(crate) async fn get(tx: &mut TenantTx<impl Mode>, id: Uuid) -> Result<Option<Endpoint>, DbError> {
    let sql =
        format!("SELECT {ENDPOINT_COLUMNS} FROM rookery_webhook_endpoints e WHERE e.tenant_id = $1 AND e.id = $2");
    let row = tx.fetch_optional(sql, vec![tenant(tx.tenant()), uuid(id)]).await?;
    row.map(|r| read_endpoint(&r, 0)).transpose()
}

/// How many endpoints the tenant has.
pub(crate) async fn count(tx: &mut TenantTx<impl Mode>) -> Result<i64, DbError> {
    let row = tx
        .fetch_optional(
            "SELECT count(*) FROM rookery_webhook_endpoints WHERE tenant_id = $1".into(),
            vec![tenant(tx.tenant())],
        )
        .await?;
    match row.map(|r| r.value(0, FieldType::BigInt)).transpose()? {
        Some(Value::BigInt(n)) => Ok(n),
        _ => Ok(0),
    }
}

/// Inserts a new, enabled endpoint.
pub(crate) async fn insert(tx: &mut TenantTx<impl Writes>, new: &NewEndpoint<'_>) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO rookery_webhook_endpoints (tenant_id, id, url, description, event_types, enabled, secret, \
         created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)"
            .into(),
        vec![
            tenant(tx.tenant()),
            uuid(new.id),
            text(new.url),
            text(new.description),
            types(new.event_types),
            boolean(true),
            text(new.secret.clone()),
            uuid(new.created_by),
            time(new.at),
        ],
    )
    .await?;
    Ok(())
}

/// What an update sets (`None`: kept).
#[derive(Debug, Default)]
pub(crate) struct Changes<'a> {
    pub(crate) url: Option<&'a str>,
    pub(crate) description: Option<&'a str>,
    pub(crate) event_types: Option<&'a [String]>,
    pub(crate) enabled: Option<bool>,
}

/// Applies `changes` to endpoint `id`; enabling one clears why it was
/// disabled and its failing run. `false`: the tenant has no such endpoint.
pub(crate) async fn update(
    tx: &mut TenantTx<impl Writes>,
    id: Uuid,
    changes: &Changes<'_>,
    at: DateTime<Utc>,
) -> Result<bool, DbError> {
    let mut binds = vec![tenant(tx.tenant()), uuid(id), time(at)];
    let mut sets = String::from("updated_at = $3");
    let mut set = |column: &str, bind: Bind| {
        binds.push(bind);
        sets.push_str(&format!(", {column} = ${}", binds.len()));
    };
    if let Some(url) = changes.url {
        set("url", text(url));
    }
    if let Some(description) = changes.description {
        set("description", text(description));
    }
    if let Some(event_types) = changes.event_types {
        set("event_types", types(event_types));
    }
    if let Some(enabled) = changes.enabled {
        set("enabled", boolean(enabled));
        if enabled {
            sets.push_str(", disabled_reason = NULL, failing_since = NULL");
        }
    }
    let sql = format!("UPDATE rookery_webhook_endpoints SET {sets} WHERE tenant_id = $1 AND id = $2");
    Ok(tx.execute(sql, binds).await? == 1)
}

/// Stores a rotation's secrets (sealed) and the old one's window.
pub(crate) async fn set_secrets(
    tx: &mut TenantTx<impl Writes>,
    id: Uuid,
    secret: String,
    retiring: Option<(String, DateTime<Utc>)>,
    at: DateTime<Utc>,
) -> Result<bool, DbError> {
    let (retiring, until) = retiring.map_or((None, None), |(s, u)| (Some(s), Some(u)));
    let changed = tx
        .execute(
            "UPDATE rookery_webhook_endpoints SET secret = $3, retiring_secret = $4, retiring_until = $5, \
             updated_at = $6 WHERE tenant_id = $1 AND id = $2"
                .into(),
            vec![
                tenant(tx.tenant()),
                uuid(id),
                text(secret),
                opt_text(retiring),
                opt_time(until),
                time(at),
            ],
        )
        .await?;
    Ok(changed == 1)
}

/// Deletes endpoint `id` and, by cascade, its deliveries.
pub(crate) async fn delete(tx: &mut TenantTx<impl Writes>, id: Uuid) -> Result<bool, DbError> {
    let gone = tx
        .execute(
            "DELETE FROM rookery_webhook_endpoints WHERE tenant_id = $1 AND id = $2".into(),
            vec![tenant(tx.tenant()), uuid(id)],
        )
        .await?;
    Ok(gone == 1)
}

/// Records the endpoint's health after an attempt: `since` the start of
/// its run of failures, or `None` after a delivery. Writes only on a change.
pub(crate) async fn set_failing(
    tx: &mut TenantTx<impl Writes>,
    id: Uuid,
    since: Option<DateTime<Utc>>,
) -> Result<(), DbError> {
    let (sql, binds) = match since {
        None => (
            "UPDATE rookery_webhook_endpoints SET failing_since = NULL WHERE tenant_id = $1 AND id = $2 \
             AND failing_since IS NOT NULL",
            vec![tenant(tx.tenant()), uuid(id)],
        ),
        Some(since) => (
            "UPDATE rookery_webhook_endpoints SET failing_since = $3 WHERE tenant_id = $1 AND id = $2 \
             AND failing_since IS NULL",
            vec![tenant(tx.tenant()), uuid(id), time(since)],
        ),
    };
    tx.execute(sql.into(), binds).await?;
    Ok(())
}

/// Disables endpoint `id` for `reason`. `false`: it was not enabled (an
/// owner or another attempt disabled it first).
pub(crate) async fn disable(
    tx: &mut TenantTx<impl Writes>,
    id: Uuid,
    reason: &str,
    at: DateTime<Utc>,
) -> Result<bool, DbError> {
    let changed = tx
        .execute(
            "UPDATE rookery_webhook_endpoints SET enabled = $3, disabled_reason = $4, updated_at = $5 \
             WHERE tenant_id = $1 AND id = $2 AND enabled"
                .into(),
            vec![tenant(tx.tenant()), uuid(id), boolean(false), text(reason), time(at)],
        )
        .await?;
    Ok(changed == 1)
}
