//! The delivery log: `rookery_webhook_deliveries` (one per endpoint and
//! event, with its last attempt's outcome) and `rookery_webhook_attempts`
//! (every attempt), in the tenant's transaction.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use super::store::{
    ENDPOINT_COLUMNS, ENDPOINT_WIDTH, Endpoint, Read, int, opt_int, opt_text, opt_time, read_endpoint, tenant, text,
    time, uuid,
};
use crate::db::{DbError, DbRow, Mode, TenantTx, Writes};

/// A delivery as the API lists it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Delivery {
    pub(crate) id: Uuid,
    pub(crate) endpoint_id: Uuid,
    pub(crate) event_id: Uuid,
    pub(crate) event_type: String,
    /// `pending` (an attempt is due), `delivered` or `failed` (given up).
    pub(crate) status: String,
    /// Attempts made so far.
    pub(crate) attempts: i32,
    /// The last attempt's response status, if it got one.
    pub(crate) response_code: Option<i32>,
    /// The last attempt's latency in milliseconds.
    pub(crate) latency_ms: Option<i32>,
    /// Why the last attempt failed (a kind: `status`, `timeout`, …).
    pub(crate) error: Option<String>,
    pub(crate) last_attempt_at: Option<DateTime<Utc>>,
    pub(crate) next_attempt_at: Option<DateTime<Utc>>,
    pub(crate) created_at: DateTime<Utc>,
}

/// One attempt.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Attempt {
    pub(crate) attempt: i32,
    /// `delivered` or `failed`.
    pub(crate) status: &'static str,
    pub(crate) response_code: Option<i32>,
    pub(crate) latency_ms: i32,
    /// The failure's kind (`status`, `timeout`, `connect`, …).
    pub(crate) error: Option<String>,
    /// What went wrong, in words.
    pub(crate) error_detail: Option<String>,
    /// The start of the response body (at most 1 KiB).
    pub(crate) response: String,
    pub(crate) at: DateTime<Utc>,
}

const DELIVERY_COLUMNS: &str = "d.id, d.endpoint_id, d.event_id, v.type, d.state, d.attempts, d.last_status, \
     d.last_latency_ms, d.last_error, d.last_attempt_at, d.next_attempt_at, d.created_at";
const DELIVERY_FROM: &str = "rookery_webhook_deliveries d JOIN rookery_events v \
     ON v.tenant_id = d.tenant_id AND v.id = d.event_id";

fn read_delivery(row: &DbRow) -> Result<Delivery, DbError> {
    let mut r = Read::new(row, 0);
    Ok(Delivery {
        id: r.uuid()?,
        endpoint_id: r.uuid()?,
        event_id: r.uuid()?,
        event_type: r.text()?,
        status: r.text()?,
        attempts: r.int()?,
        response_code: r.opt_int()?,
        latency_ms: r.opt_int()?,
        error: r.opt_text()?,
        last_attempt_at: r.opt_time()?,
        next_attempt_at: r.opt_time()?,
        created_at: r.time()?,
    })
}

/// Up to `limit` deliveries to endpoint `endpoint`, newest first, from
/// after `(created_at, id)` `after` (a page's cursor).
pub(crate) async fn list(
    tx: &mut TenantTx<impl Mode>,
    endpoint: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u32,
) -> Result<Vec<Delivery>, DbError> {
    let mut binds = vec![tenant(tx.tenant()), uuid(endpoint), int(i64::from(limit))];
    let page = match after {
        None => "",
        Some((at, id)) => {
            binds.push(time(at));
            binds.push(uuid(id));
            " AND (d.created_at < $4 OR (d.created_at = $4 AND d.id < $5))"
        }
    };
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} WHERE d.tenant_id = $1 AND d.endpoint_id = $2{page} \
         ORDER BY d.created_at DESC, d.id DESC LIMIT $3"
    );
    let rows = tx.fetch_all(sql, binds).await?;
    rows.iter().map(read_delivery).collect()
}

/// Delivery `id` to endpoint `endpoint`, if the tenant has it.
pub(crate) async fn get(tx: &mut TenantTx<impl Mode>, endpoint: Uuid, id: Uuid) -> Result<Option<Delivery>, DbError> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM {DELIVERY_FROM} WHERE d.tenant_id = $1 AND d.endpoint_id = $2 AND d.id = $3"
    );
    let row = tx
        .fetch_optional(sql, vec![tenant(tx.tenant()), uuid(endpoint), uuid(id)])
        .await?;
    row.as_ref().map(read_delivery).transpose()
}

/// Every attempt of delivery `delivery`, oldest first.
pub(crate) async fn attempts(tx: &mut TenantTx<impl Mode>, delivery: Uuid) -> Result<Vec<Attempt>, DbError> {
    let rows = tx
        .fetch_all(
            "SELECT attempt, status, latency_ms, error_kind, error, response, at FROM rookery_webhook_attempts \
             WHERE tenant_id = $1 AND delivery_id = $2 ORDER BY attempt"
                .into(),
            vec![tenant(tx.tenant()), uuid(delivery)],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let mut r = Read::new(row, 0);
            let attempt = r.int()?;
            let response_code = r.opt_int()?;
            let latency_ms = r.int()?;
            let error = r.opt_text()?;
            Ok(Attempt {
                attempt,
                status: if error.is_none() { "delivered" } else { "failed" },
                response_code,
                latency_ms,
                error,
                error_detail: r.opt_text()?,
                response: r.text()?,
                at: r.time()?,
            })
        })
        .collect()
}

/// What the delivery job needs: the delivery's state, its endpoint, its event.
#[derive(Debug)]
pub(crate) struct Due {
    pub(crate) state: String,
    pub(crate) attempts: i32,
    pub(crate) endpoint: Endpoint,
    pub(crate) event_id: Uuid,
    pub(crate) event_type: String,
    pub(crate) data: serde_json::Value,
    pub(crate) occurred_at: DateTime<Utc>,
}

/// Delivery `id` with its endpoint and event; `None` when it is gone (its
/// endpoint was deleted).
pub(crate) async fn due(tx: &mut TenantTx<impl Mode>, id: Uuid) -> Result<Option<Due>, DbError> {
    let sql = format!(
        "SELECT d.state, d.attempts, {ENDPOINT_COLUMNS}, v.id, v.type, v.data, v.occurred_at \
         FROM rookery_webhook_deliveries d \
         JOIN rookery_webhook_endpoints e ON e.tenant_id = d.tenant_id AND e.id = d.endpoint_id \
         JOIN rookery_events v ON v.tenant_id = d.tenant_id AND v.id = d.event_id \
         WHERE d.tenant_id = $1 AND d.id = $2"
    );
    let Some(row) = tx.fetch_optional(sql, vec![tenant(tx.tenant()), uuid(id)]).await? else {
        return Ok(None);
    };
    let mut r = Read::new(&row, 0);
    let (state, attempts) = (r.text()?, r.int()?);
    let endpoint = read_endpoint(&row, 2)?;
    let mut r = Read::new(&row, 2 + ENDPOINT_WIDTH);
    Ok(Some(Due {
        state,
        attempts,
        endpoint,
        event_id: r.uuid()?,
        event_type: r.text()?,
        data: r.json()?,
        occurred_at: r.time()?,
    }))
}

/// One attempt's outcome, as recorded.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) status: Option<u16>,
    pub(crate) latency_ms: i64,
    pub(crate) error_kind: Option<&'static str>,
    pub(crate) error: Option<String>,
    pub(crate) response: String,
}

/// Records attempt `attempt` of delivery `delivery`. `false`: it was
/// recorded already (a run of the same job that lost its lease).
pub(crate) async fn record_attempt(
    tx: &mut TenantTx<impl Writes>,
    delivery: Uuid,
    attempt: u32,
    outcome: &Outcome,
    at: DateTime<Utc>,
) -> Result<bool, DbError> {
    let added = tx
        .execute(
            "INSERT INTO rookery_webhook_attempts (tenant_id, id, delivery_id, attempt, status, latency_ms, \
             error_kind, error, response, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (tenant_id, delivery_id, attempt) DO NOTHING"
                .into(),
            vec![
                tenant(tx.tenant()),
                uuid(Uuid::now_v7()),
                uuid(delivery),
                int(i64::from(attempt)),
                opt_int(outcome.status.map(i64::from)),
                int(outcome.latency_ms),
                opt_text(outcome.error_kind.map(str::to_owned)),
                opt_text(outcome.error.clone()),
                text(outcome.response.clone()),
                time(at),
            ],
        )
        .await?;
    Ok(added == 1)
}

/// Sets the delivery's state after attempt `attempt` (`outcome`, when one
/// was made): `pending` with the next attempt's time, `delivered` or
/// `failed`.
pub(crate) async fn settle(
    tx: &mut TenantTx<impl Writes>,
    delivery: Uuid,
    attempt: u32,
    state: &str,
    next: Option<DateTime<Utc>>,
    outcome: &Outcome,
    at: DateTime<Utc>,
) -> Result<(), DbError> {
    tx.execute(
        "UPDATE rookery_webhook_deliveries SET state = $3, attempts = $4, next_attempt_at = $5, \
         last_attempt_at = $6, last_status = $7, last_latency_ms = $8, last_error = $9, updated_at = $6 \
         WHERE tenant_id = $1 AND id = $2"
            .into(),
        vec![
            tenant(tx.tenant()),
            uuid(delivery),
            text(state),
            int(i64::from(attempt)),
            opt_time(next),
            time(at),
            opt_int(outcome.status.map(i64::from)),
            opt_int(Some(outcome.latency_ms)),
            opt_text(outcome.error_kind.map(str::to_owned)),
        ],
    )
    .await?;
    Ok(())
}

/// Gives up delivery `delivery` without an attempt (its endpoint is
/// disabled): `failed`, with `reason` as its last error.
pub(crate) async fn abandon(tx: &mut TenantTx<impl Writes>, delivery: Uuid, reason: &str) -> Result<(), DbError> {
    tx.execute(
        "UPDATE rookery_webhook_deliveries SET state = 'failed', next_attempt_at = NULL, last_error = $3, \
         updated_at = $4 WHERE tenant_id = $1 AND id = $2 AND state = 'pending'"
            .into(),
        vec![tenant(tx.tenant()), uuid(delivery), text(reason), time(Utc::now())],
    )
    .await?;
    Ok(())
}

/// Makes a delivery that is not pending pending again, due now (a
/// redelivery). `false`: it is pending already.
pub(crate) async fn reopen(tx: &mut TenantTx<impl Writes>, delivery: Uuid, at: DateTime<Utc>) -> Result<bool, DbError> {
    let changed = tx
        .execute(
            "UPDATE rookery_webhook_deliveries SET state = 'pending', next_attempt_at = $3, updated_at = $3 \
             WHERE tenant_id = $1 AND id = $2 AND state <> 'pending'"
                .into(),
            vec![tenant(tx.tenant()), uuid(delivery), time(at)],
        )
        .await?;
    Ok(changed == 1)
}

/// A delivery of event `event` to endpoint `endpoint` (a test event's),
/// pending now. Its id.
pub(crate) async fn insert(
    tx: &mut TenantTx<impl Writes>,
    endpoint: Uuid,
    event: Uuid,
    at: DateTime<Utc>,
) -> Result<Uuid, DbError> {
    let id = Uuid::now_v7();
    tx.execute(
        "INSERT INTO rookery_webhook_deliveries (tenant_id, id, endpoint_id, event_id, state, attempts, \
         next_attempt_at, created_at, updated_at) VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5)"
            .into(),
        vec![tenant(tx.tenant()), uuid(id), uuid(endpoint), uuid(event), time(at)],
    )
    .await?;
    Ok(id)
}
