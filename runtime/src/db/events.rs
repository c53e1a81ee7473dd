//! Domain events' storage: the `rookery_events` table (platform tables,
//! version 5) and the fan-out that turns an event into deliveries, in the
//! transaction that records the event.
//!
//! An event is a row written in the same transaction as the write it
//! records, so it exists only if that write committed. In that same
//! transaction each enabled endpoint of the tenant subscribed to the
//! event's type gets one delivery (`rookery_webhook_deliveries`, unique
//! per endpoint and event) and the delivery its first job: nothing can be
//! lost between the write and the queue, and no fan-out can make a second
//! delivery of one event to one endpoint. An event no enabled endpoint
//! subscribes to is not stored at all (the insert's own `WHERE`): only
//! deliveries read events, and most tenants of most apps subscribe to
//! nothing, so their writes skip the event's row, indexes, foreign key
//! and trigger.
//!
//! On PostgreSQL the fan-out is the trigger `rookery_event_fan_out` (run
//! as the serving role, under row-level security, inside the statement
//! that inserts the event), so a generated write stays one statement;
//! on SQLite the runtime runs the same steps after the insert.

use chrono::{DateTime, Utc};
use serde_json::json;
use uuid::Uuid;

use super::bind::{Bind, format_datetime};
use super::queue::{NewJob, enqueue};
use super::tx::{Conn, TenantTx, Writes};
use super::{DbError, Dialect};
use crate::model::{FieldType, Value};

/// The job that makes one delivery attempt (`rookery::webhooks`).
pub(crate) const DELIVER_JOB: &str = "rookery.webhooks.deliver";
/// Its queue: slow endpoints never hold up the app's own jobs.
pub(crate) const DELIVER_QUEUE: &str = "webhooks";
/// Runs of one attempt's job when the job itself fails (the database
/// down while it records); the retry schedule is the webhooks module's.
pub(crate) const DELIVER_MAX_ATTEMPTS: u32 = 5;

/// The event-type rule every type follows (the Standard Webhooks `type`
/// the signature covers): 1 to 128 of `A-Z`, `a-z`, `0-9`, `_` and `.`.
pub(crate) fn is_event_type(text: &str) -> bool {
    (1..=128).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

/// The job of attempt `attempt` (counted over the delivery's life) of
/// `delivery`, step `step` of the retry schedule (1 after a fan-out or a
/// redelivery), due at `run_at`. Its idempotency key makes one job per
/// attempt, however often it is enqueued.
pub(crate) fn delivery_job(delivery: Uuid, attempt: u32, step: u32) -> (serde_json::Value, String) {
    (
        json!({ "delivery": delivery, "attempt": attempt, "step": step }),
        format!("delivery:{delivery}:{attempt}"),
    )
}

fn new_job<'a>(payload: &'a serde_json::Value, key: &'a str, run_at: Option<DateTime<Utc>>) -> NewJob<'a> {
    NewJob {
        queue: DELIVER_QUEUE,
        kind: DELIVER_JOB,
        payload,
        key: Some(key),
        run_at,
        max_attempts: DELIVER_MAX_ATTEMPTS,
    }
}

impl<M: Writes> TenantTx<M> {
    /// Records a domain event of your own in this transaction: it is
    /// delivered to the tenant's enabled webhook endpoints subscribed to
    /// `event_type` if and only if the transaction commits. Returns the
    /// event's id (the deliveries' `webhook-id`). An event no enabled
    /// endpoint subscribes to when it is recorded is not stored (nothing
    /// would read it). The repository's writes record their models'
    /// events themselves, by the same rule.
    ///
    /// `event_type` is 1 to 128 of `A-Z`, `a-z`, `0-9`, `_` and `.`
    /// (`invoice.paid`); register it with `App::event_type` so endpoints
    /// can subscribe to it.
    ///
    /// ```no_run
    /// # async fn f(db: &rookery::Db, tenant: rookery::TenantId) -> Result<(), rookery::ApiError> {
    /// let mut tx = db.begin_write(tenant).await?;
    /// // … the write the event is about …
    /// tx.emit("invoice.paid", &rookery::serde_json::json!({ "invoice": 42 })).await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub async fn emit(&mut self, event_type: &str, data: &serde_json::Value) -> Result<Uuid, DbError> {
        if !is_event_type(event_type) {
            return Err(DbError::EventType(event_type.to_owned()));
        }
        let id = Uuid::now_v7();
        self.record_event(id, event_type, data.clone(), Utc::now(), Store::IfSubscribed)
            .await?;
        Ok(id)
    }

    /// Inserts the event and (on SQLite; PostgreSQL's trigger does it in
    /// the insert) fans it out; with [`Store::IfSubscribed`] only when an
    /// enabled endpoint of the tenant subscribes to its type (one
    /// statement either way).
    pub(crate) async fn record_event(
        &mut self,
        id: Uuid,
        event_type: &str,
        data: serde_json::Value,
        at: DateTime<Utc>,
        store: Store,
    ) -> Result<(), DbError> {
        let binds = vec![
            Bind::new(Value::Uuid(self.tenant().0), FieldType::Uuid),
            Bind::new(Value::Uuid(id), FieldType::Uuid),
            Bind::new(Value::Text(event_type.to_owned()), FieldType::Text),
            Bind::new(Value::Json(data), FieldType::Json),
            Bind::new(Value::DateTime(at), FieldType::DateTime),
        ];
        let sql = if store == Store::IfSubscribed {
            let subscribed = match self.dialect() {
                Dialect::Postgres => SUBSCRIBED_PG,
                Dialect::Sqlite => SUBSCRIBED_SQLITE,
            };
            let subscribed = subscribed.replace("{tenant}", "$1").replace("{type}", "$3");
            format!("INSERT INTO rookery_events ({EVENT_COLUMNS}) SELECT $1, $2, $3, $4, $5 WHERE {subscribed}")
        } else {
            format!("INSERT INTO rookery_events ({EVENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5)")
        };
        let inserted = self.execute(sql, binds).await?;
        if inserted == 1 && self.dialect() == Dialect::Sqlite {
            self.fan_out_here(id, event_type, at).await?;
        }
        Ok(())
    }

    /// SQLite's fan-out: a delivery and its first job for every enabled
    /// endpoint subscribed to `event_type` (PostgreSQL's trigger runs the
    /// same steps).
    async fn fan_out_here(&mut self, event: Uuid, event_type: &str, at: DateTime<Utc>) -> Result<(), DbError> {
        let tenant = self.tenant();
        let Some(Conn::Sqlite(conn)) = self.explicit_conn() else {
            return Ok(());
        };
        let tenant_text = tenant.0.hyphenated().to_string();
        let endpoints: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM rookery_webhook_endpoints
             WHERE tenant_id = $1 AND enabled AND EXISTS (SELECT 1 FROM json_each(event_types) WHERE value = $2)
             ORDER BY id",
        )
        .bind(&tenant_text)
        .bind(event_type)
        .fetch_all(&mut *conn)
        .await?;
        for endpoint in endpoints {
            let delivery = Uuid::now_v7();
            let added = sqlx::query(
                "INSERT INTO rookery_webhook_deliveries
                     (tenant_id, id, endpoint_id, event_id, state, attempts, next_attempt_at, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, 'pending', 0, $5, $5, $5)
                 ON CONFLICT (tenant_id, endpoint_id, event_id) DO NOTHING",
            )
            .bind(&tenant_text)
            .bind(delivery.hyphenated().to_string())
            .bind(&endpoint)
            .bind(event.hyphenated().to_string())
            .bind(format_datetime(at))
            .execute(&mut *conn)
            .await?
            .rows_affected();
            if added == 1 {
                let (payload, key) = delivery_job(delivery, 1, 1);
                enqueue(Conn::Sqlite(&mut *conn), Some(tenant), &new_job(&payload, &key, None)).await?;
            }
        }
        Ok(())
    }

    /// Enqueues attempt `attempt` (schedule step `step`) of `delivery`, due
    /// at `run_at`, in this transaction (a retry, a redelivery, a test
    /// event). `false`: that attempt's job was enqueued already.
    pub(crate) async fn enqueue_delivery(
        &mut self,
        delivery: Uuid,
        attempt: u32,
        step: u32,
        run_at: Option<DateTime<Utc>>,
    ) -> Result<bool, DbError> {
        let tenant = self.tenant();
        let (payload, key) = delivery_job(delivery, attempt, step);
        let job = new_job(&payload, &key, run_at);
        let conn = self.explicit_conn().ok_or(DbError::OneStatement)?;
        Ok(super::deadline::within(enqueue(conn, Some(tenant), &job))
            .await?
            .created)
    }
}

/// Which events [`TenantTx::record_event`] stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Store {
    /// Every one (the endpoint test's event, delivered to its one endpoint).
    Always,
    /// Only one an enabled endpoint of the tenant subscribes to: nothing
    /// reads an event nobody receives.
    IfSubscribed,
}

/// The columns of `rookery_events`, in the order writes bind them.
pub(crate) const EVENT_COLUMNS: &str = "tenant_id, id, type, data, occurred_at";

/// PostgreSQL: whether an enabled endpoint of tenant `{tenant}` subscribes
/// to event type `{type}` (SQL expressions, replaced by the caller), as the
/// fan-out trigger decides it.
pub(crate) const SUBSCRIBED_PG: &str = "EXISTS (SELECT FROM rookery_webhook_endpoints e \
     WHERE e.tenant_id = {tenant} AND e.enabled AND e.event_types ? {type})";

/// SQLite: the same, over a JSON array of types.
const SUBSCRIBED_SQLITE: &str = "EXISTS (SELECT 1 FROM rookery_webhook_endpoints e \
     WHERE e.tenant_id = {tenant} AND e.enabled \
     AND EXISTS (SELECT 1 FROM json_each(e.event_types) WHERE value = {type}))";

/// The fan-out trigger and the serving role's privileges on the webhook
/// tables (`{schema}` and `{role}` quoted), installed by every `migrate`
/// once the tables exist. The trigger runs as whoever inserts the event
/// (the serving role): row-level security confines it to the event's
/// tenant, and it enqueues through the queue's own function.
pub(super) const FUNCTIONS: &str = r"
REVOKE ALL ON rookery_events, rookery_webhook_endpoints, rookery_webhook_deliveries, rookery_webhook_attempts FROM {role};
GRANT SELECT, INSERT, DELETE ON rookery_events TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON rookery_webhook_endpoints TO {role};
GRANT SELECT, INSERT, UPDATE ON rookery_webhook_deliveries TO {role};
GRANT SELECT, INSERT ON rookery_webhook_attempts TO {role};

CREATE OR REPLACE FUNCTION rookery_event_fan_out() RETURNS trigger
LANGUAGE plpgsql VOLATILE SECURITY INVOKER SET search_path = {schema}, pg_temp AS $rookery$
DECLARE
    added bigint;
BEGIN
    WITH deliveries AS (
        INSERT INTO rookery_webhook_deliveries
            (tenant_id, id, endpoint_id, event_id, state, attempts, next_attempt_at, created_at, updated_at)
        SELECT NEW.tenant_id, gen_random_uuid(), e.id, NEW.id, 'pending', 0, NEW.occurred_at,
               NEW.occurred_at, NEW.occurred_at
        FROM rookery_webhook_endpoints e
        WHERE e.tenant_id = NEW.tenant_id AND e.enabled AND e.event_types ? NEW.type
        ON CONFLICT (tenant_id, endpoint_id, event_id) DO NOTHING
        RETURNING tenant_id, id)
    SELECT count(*) INTO added
    FROM deliveries d,
         LATERAL rookery_job_enqueue(gen_random_uuid(), d.tenant_id, 'webhooks', 'rookery.webhooks.deliver',
                                     jsonb_build_object('delivery', d.id, 'attempt', 1, 'step', 1),
                                     'delivery:' || d.id::text || ':1', NULL, 5, 10) j;
    RETURN NULL;
END
$rookery$;
CREATE OR REPLACE TRIGGER rookery_event_fan_out AFTER INSERT ON rookery_events
    FOR EACH ROW EXECUTE FUNCTION rookery_event_fan_out();
REVOKE ALL ON FUNCTION rookery_event_fan_out() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rookery_event_fan_out() TO {role};
";

#[cfg(test)]
mod tests {
    use super::{FUNCTIONS, delivery_job, is_event_type};

    #[test]
    fn event_types_are_what_a_signature_can_carry() {
        for ok in ["project.created", "invoice_paid", "a", &"x".repeat(128)] {
            assert!(is_event_type(ok), "{ok}");
        }
        for bad in ["", "project created", "project-created", "é", &"x".repeat(129)] {
            assert!(!is_event_type(bad), "{bad}");
        }
    }

    #[test]
    fn the_trigger_enqueues_the_job_the_runtime_would() {
        let (payload, key) = delivery_job(uuid::Uuid::nil(), 1, 1);
        assert_eq!(payload["attempt"], 1);
        assert_eq!(key, format!("delivery:{}:1", uuid::Uuid::nil()));
        let call = format!("'webhooks', '{}'", super::DELIVER_JOB);
        assert!(FUNCTIONS.contains(&call), "the trigger names the job and queue");
        assert!(FUNCTIONS.contains(&format!("NULL, {}, 10", super::DELIVER_MAX_ATTEMPTS)));
        assert_eq!(super::DELIVER_QUEUE, "webhooks");
    }
}
