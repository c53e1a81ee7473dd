//! Reading the audit log: one tenant's rows, newest first, filtered by
//! actor, action, model (target type), record (target id) and time, in
//! pages that a cursor continues (`GET /audit-log`). Every filter is a
//! bound parameter.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::db::{Bind, DbError, DbRow, Mode, TenantTx};
use crate::model::{FieldType, Value};
use crate::repo::{DEFAULT_LIMIT, ListQueryError, MAX_LIMIT};

/// What to list: every filter is optional and they combine with AND.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct AuditQuery {
    /// `actor`: rows of this actor (a user's or an API key's id).
    pub actor: Option<Uuid>,
    /// `action`: this action exactly (`project.update`, `auth.sign_in_failed`).
    pub action: Option<String>,
    /// `model`: this target type (a model's name, `api_key`, `member`, …).
    pub model: Option<String>,
    /// `record`: this target id (with `model`, one record's history).
    pub record: Option<String>,
    /// `from`: at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// `to`: before this instant.
    pub to: Option<DateTime<Utc>>,
    /// `limit`: at most this many rows (1 to [`MAX_LIMIT`], default
    /// [`DEFAULT_LIMIT`]).
    pub limit: u32,
    /// `cursor`: the page after the row it names (`next_cursor`).
    cursor: Option<(DateTime<Utc>, Uuid)>,
}

fn err(parameter: &str, message: impl Into<String>) -> ListQueryError {
    ListQueryError {
        parameter: parameter.to_owned(),
        message: message.into(),
    }
}

fn instant(parameter: &str, value: &str) -> Result<DateTime<Utc>, ListQueryError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| err(parameter, "expected an RFC 3339 instant, e.g. 2026-01-31T12:00:00Z"))
}

impl AuditQuery {
    /// The first page of everything.
    pub fn new() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            ..Self::default()
        }
    }

    /// Parses query parameters (`actor`, `action`, `model`, `record`,
    /// `from`, `to`, `limit`, `cursor`); an unknown one is refused.
    pub fn parse<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, ListQueryError> {
        let mut query = Self::new();
        for (key, value) in params {
            if value.contains('\0') {
                return Err(err(key, "must not contain U+0000"));
            }
            match key {
                "actor" => {
                    query.actor = Some(Uuid::parse_str(value).map_err(|_| err("actor", "expected a UUID"))?);
                }
                "action" => query.action = Some(value.to_owned()),
                "model" => query.model = Some(value.to_owned()),
                "record" => query.record = Some(value.to_owned()),
                "from" => query.from = Some(instant("from", value)?),
                "to" => query.to = Some(instant("to", value)?),
                "limit" => {
                    query.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| err("limit", format!("limit must be an integer from 1 to {MAX_LIMIT}")))?;
                }
                "cursor" => {
                    query.cursor =
                        Some(decode_cursor(value).ok_or_else(|| err("cursor", "not a cursor of this list"))?);
                }
                other => {
                    return Err(err(
                        other,
                        "unknown parameter; the audit log filters by actor, action, model, record, from and to",
                    ));
                }
            }
        }
        Ok(query)
    }
}

fn decode_cursor(cursor: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let (at, id): (String, Uuid) = serde_json::from_slice(&bytes).ok()?;
    Some((DateTime::parse_from_rfc3339(&at).ok()?.with_timezone(&Utc), id))
}

fn encode_cursor(at: DateTime<Utc>, id: Uuid) -> String {
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&(at, id)).unwrap_or_default())
}

/// One row of the audit log, as `GET /audit-log` answers it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AuditRow {
    /// The row's id.
    pub id: Uuid,
    /// When.
    pub at: DateTime<Utc>,
    /// `user`, `api_key`, `system` or `anonymous`.
    pub actor_type: String,
    /// The user's or key's id (`None` for `system` and `anonymous`).
    pub actor_id: Option<Uuid>,
    /// `<model>.<create|update|delete>` or a platform action.
    pub action: String,
    /// The model or resource.
    pub target_type: Option<String>,
    /// The target's id, as text.
    pub target_id: Option<String>,
    /// The request's id.
    pub request_id: Option<String>,
    /// Facts beside the action.
    pub metadata: Option<serde_json::Value>,
    /// The values a model write changed (`{field: {before, after}}`).
    pub changes: Option<serde_json::Value>,
    /// Its place in the tenant's hash chain, once sealed.
    pub seq: Option<i64>,
}

/// One page of the audit log, newest first.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct AuditPage {
    /// The rows.
    pub data: Vec<AuditRow>,
    /// The cursor of the next page, absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

const SELECT: &str = "SELECT id, at, actor_type, actor_id, action, target_type, target_id, request_id, metadata, changes, seq \
                      FROM audit_log WHERE tenant_id = $1";

fn text(row: &DbRow, i: usize) -> Result<Option<String>, DbError> {
    Ok(match row.value(i, FieldType::Text)? {
        Value::Text(s) => Some(s),
        _ => None,
    })
}

fn json(row: &DbRow, i: usize) -> Result<Option<serde_json::Value>, DbError> {
    Ok(match row.value(i, FieldType::Json)? {
        Value::Json(j) => Some(j),
        _ => None,
    })
}

pub(super) fn decode(row: &DbRow) -> Result<AuditRow, DbError> {
    let uuid = |i| -> Result<Option<Uuid>, DbError> {
        Ok(match row.value(i, FieldType::Uuid)? {
            Value::Uuid(u) => Some(u),
            _ => None,
        })
    };
    let missing = || DbError::Sqlx(sqlx::Error::Decode("audit_log: a required column is null".into()));
    Ok(AuditRow {
        id: uuid(0)?.ok_or_else(missing)?,
        at: match row.value(1, FieldType::DateTime)? {
            Value::DateTime(at) => at,
            _ => return Err(missing()),
        },
        actor_type: text(row, 2)?.ok_or_else(missing)?,
        actor_id: uuid(3)?,
        action: text(row, 4)?.ok_or_else(missing)?,
        target_type: text(row, 5)?,
        target_id: text(row, 6)?,
        request_id: text(row, 7)?,
        metadata: json(row, 8)?,
        changes: json(row, 9)?,
        seq: match row.value(10, FieldType::BigInt)? {
            Value::BigInt(n) => Some(n),
            _ => None,
        },
    })
}

/// One page of the audit log of `tx`'s tenant, as `query` filters it.
pub async fn list<M: Mode>(tx: &mut TenantTx<M>, query: &AuditQuery) -> Result<AuditPage, DbError> {
    let mut binds = vec![Bind::new(Value::Uuid(tx.tenant().0), FieldType::Uuid)];
    let mut sql = String::from(SELECT);
    let mut and = |sql: &mut String, cond: &str, value: Value, ty: FieldType| {
        binds.push(Bind::new(value, ty));
        let _ = write!(sql, " AND {cond} ${}", binds.len());
    };
    if let Some(actor) = query.actor {
        and(&mut sql, "actor_id =", Value::Uuid(actor), FieldType::Uuid);
    }
    for (cond, value) in [
        ("action =", &query.action),
        ("target_type =", &query.model),
        ("target_id =", &query.record),
    ] {
        if let Some(value) = value {
            and(&mut sql, cond, Value::Text(value.clone()), FieldType::Text);
        }
    }
    if let Some(from) = query.from {
        and(&mut sql, "at >=", Value::DateTime(from), FieldType::DateTime);
    }
    if let Some(to) = query.to {
        and(&mut sql, "at <", Value::DateTime(to), FieldType::DateTime);
    }
    if let Some((at, id)) = query.cursor {
        binds.push(Bind::new(Value::DateTime(at), FieldType::DateTime));
        binds.push(Bind::new(Value::Uuid(id), FieldType::Uuid));
        let n = binds.len();
        let _ = write!(sql, " AND (at, id) < (${}, ${n})", n - 1);
    }
    binds.push(Bind::new(Value::BigInt(i64::from(query.limit) + 1), FieldType::BigInt));
    let _ = write!(sql, " ORDER BY at DESC, id DESC LIMIT ${}", binds.len());
    let rows = tx.fetch_all(sql, binds).await?;
    let mut data = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if data.len() > query.limit as usize {
        data.truncate(query.limit as usize);
        data.last().map(|last| encode_cursor(last.at, last.id))
    } else {
        None
    };
    Ok(AuditPage { data, next_cursor })
}
