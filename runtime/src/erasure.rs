//! Tenant deletion: an owner asks (`POST /tenant/deletion`, or the
//! operator: `<app> tenant delete`), a grace period runs
//! (`ROOKERY_DELETION_GRACE_DAYS`, 30 by default) during which the tenant
//! works as before (so it can export its data) and the request can be
//! cancelled, then the platform's job `rookery.erase_due_tenants` erases
//! every row of the tenant, one transaction per tenant.
//!
//! What is kept afterwards: one row of `rookery_tenant_erasures` (the
//! tenant's id, when deletion was asked and done, the rows each table
//! lost) and the platform's audit rows of the request, a cancellation and
//! the erasure, which name the tenant by id only. No slug, name, email or
//! other personal data. Accounts that were members of the tenant and of no
//! other tenant are deleted with it.
//!
//! The erasure job runs every hour, and once more at each request's
//! `erase_after` (enqueued with the request): whichever comes first finds
//! the tenant due. On PostgreSQL the erasure is the owner's function,
//! which checks the grace period itself (`db/erasure.rs`).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{self, Entry};
use crate::db::erasure::{Erased, PLATFORM_TABLES, Pending};
use crate::db::{Db, DbError, NewJob};
use crate::jobs::{Job, JobContext, JobError, Registry, Schedule};
use crate::model::{FieldType, ModelDef, TenantId, UserId};

/// The permission whose holders ask for and cancel a deletion, and are
/// mailed about it.
pub(crate) const PERMISSION: &str = "tenant.delete";
/// The notice job `mail` registers (a level above: named, not imported),
/// payload `{"state": "requested" | "cancelled"}`.
pub(crate) const NOTIFY_JOB: &str = "rookery.mail.tenant_deletion";
/// Its queue.
pub(crate) const NOTIFY_QUEUE: &str = "mail";

/// Who asked for (or cancelled) a deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Requester {
    /// A member, signed in.
    User(UserId),
    /// The platform's operator (`<app> tenant delete`): who, as the
    /// platform's audit names them.
    Operator(&'static str),
}

impl Requester {
    fn platform_actor(self) -> String {
        match self {
            Self::User(user) => format!("user {user}"),
            Self::Operator(who) => who.to_owned(),
        }
    }

    fn user(self) -> Option<UserId> {
        match self {
            Self::User(user) => Some(user),
            Self::Operator(_) => None,
        }
    }
}

/// What a deletion request, a cancellation or a look could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ErasureError {
    /// No tenant has the id: it was erased (its credentials outlived it in
    /// a cache).
    #[error("the tenant no longer exists")]
    UnknownTenant,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A deletion request's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Requested {
    /// The pending deletion (the earlier one when one was pending).
    pub(crate) pending: Pending,
    /// Whether this request made it (`false`: one was pending already,
    /// whose grace period is kept).
    pub(crate) new: bool,
}

/// The tenants erased by one run, and the last failure.
#[derive(Debug, Default)]
pub(crate) struct Run {
    /// Each tenant erased, with its record.
    pub(crate) erased: Vec<(TenantId, Erased)>,
    /// The last tenant that could not be erased, and why.
    pub(crate) failed: Option<(TenantId, DbError)>,
}

/// Asks for `tenant`'s deletion, erased `grace_days` from now: the
/// request on its row, the erasure job enqueued for then, a row in the
/// platform's audit and one in the tenant's (`tenant.deletion_requested`),
/// one transaction. A deletion already pending is answered as it is. The
/// caller marks the tenant's audit as pending a seal.
pub(crate) async fn request(
    db: &Db,
    tenant: TenantId,
    by: Requester,
    grace_days: u32,
    request_id: Option<&str>,
) -> Result<Requested, ErasureError> {
    let mut tx = db.begin_platform().await?;
    let state = tx.pending_deletion(tenant, true).await?;
    if let Some(pending) = state.ok_or(ErasureError::UnknownTenant)? {
        drop(tx);
        return Ok(Requested { pending, new: false });
    }
    let pending = tx.request_deletion(tenant, by.user(), grace_days).await?;
    let (now, erase_after) = (pending.requested_at, pending.erase_after);
    let key = format!("deletion:{tenant}:{}", erase_after.timestamp_micros());
    let payload = serde_json::Value::Null;
    tx.enqueue_job(
        None,
        &NewJob {
            queue: EraseDueTenants::QUEUE,
            kind: EraseDueTenants::NAME,
            payload: &payload,
            key: Some(&key),
            run_at: Some(erase_after),
            max_attempts: EraseDueTenants::MAX_ATTEMPTS,
        },
    )
    .await?;
    let detail = json!({ "tenant": tenant, "erase_after": erase_after, "grace_days": grace_days });
    tx.audit_platform(&by.platform_actor(), "tenant.deletion_request", &detail)
        .await?;
    let mut tx = tx.into_tenant(tenant).await?;
    let metadata = json!({ "erase_after": erase_after, "grace_days": grace_days });
    record(&mut tx, by, "tenant.deletion_requested", request_id, metadata).await?;
    notify(&mut tx, "requested", now).await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant, %erase_after, "tenant deletion requested");
    Ok(Requested { pending, new: true })
}

/// Cancels `tenant`'s pending deletion (`tenant.deletion_cancelled` in
/// both audits); whether one was pending. The caller marks the tenant's
/// audit as pending a seal.
pub(crate) async fn cancel(
    db: &Db,
    tenant: TenantId,
    by: Requester,
    request_id: Option<&str>,
) -> Result<bool, ErasureError> {
    let mut tx = db.begin_platform().await?;
    let Some(pending) = tx
        .pending_deletion(tenant, true)
        .await?
        .ok_or(ErasureError::UnknownTenant)?
    else {
        drop(tx);
        return Ok(false);
    };
    tx.cancel_deletion(tenant).await?;
    let detail = json!({ "tenant": tenant, "erase_after": pending.erase_after });
    tx.audit_platform(&by.platform_actor(), "tenant.deletion_cancel", &detail)
        .await?;
    let mut tx = tx.into_tenant(tenant).await?;
    let metadata = json!({ "requested_at": pending.requested_at, "erase_after": pending.erase_after });
    record(&mut tx, by, "tenant.deletion_cancelled", request_id, metadata).await?;
    notify(&mut tx, "cancelled", Utc::now()).await?;
    tx.commit().await?;
    tracing::info!(tenant = %tenant, "tenant deletion cancelled");
    Ok(true)
}

/// Enqueues the owners' notice (`mail`'s `tenant_deletion`) in the change's
/// transaction.
async fn notify(tx: &mut crate::db::TenantTx, state: &str, at: DateTime<Utc>) -> Result<(), DbError> {
    let key = format!("{state}:{}", at.timestamp_micros());
    let payload = json!({ "state": state });
    let job = NewJob {
        queue: NOTIFY_QUEUE,
        kind: NOTIFY_JOB,
        payload: &payload,
        key: Some(&key),
        run_at: None,
        max_attempts: 10,
    };
    tx.enqueue_job(&job).await.map(drop)
}

/// `tenant`'s pending deletion, if any.
pub(crate) async fn pending(db: &Db, tenant: TenantId) -> Result<Option<Pending>, ErasureError> {
    let mut tx = db.begin_platform_read().await?;
    let pending = tx.pending_deletion(tenant, false).await?;
    drop(tx);
    pending.ok_or(ErasureError::UnknownTenant)
}

async fn record(
    tx: &mut crate::db::TenantTx,
    by: Requester,
    action: &str,
    request_id: Option<&str>,
    metadata: serde_json::Value,
) -> Result<(), DbError> {
    let entry = Entry {
        action,
        target_type: "tenant",
        target_id: tx.tenant().to_string(),
        request_id,
        metadata: Some(metadata),
    };
    match by {
        Requester::User(user) => audit::record(tx, crate::model::Actor::User(user), entry).await,
        Requester::Operator(_) => audit::record_operator(tx, entry).await,
    }
}

/// The tables to empty, in order: the app's model tables children first
/// (a model that references another is emptied before it, whatever its
/// `on_delete`; a model in a reference cycle after the others, in the
/// app's order), then the platform's ([`PLATFORM_TABLES`]).
pub(crate) fn tables(models: &[&'static ModelDef]) -> Vec<&'static str> {
    let refs = |m: &ModelDef| -> Vec<&'static str> {
        m.fields
            .iter()
            .filter_map(|f| match f.ty {
                FieldType::Ref(target) if target.table != m.table => Some(target.table),
                _ => None,
            })
            .collect()
    };
    let mut left: Vec<&'static ModelDef> = models.to_vec();
    let mut out: Vec<&'static str> = Vec::with_capacity(models.len() + PLATFORM_TABLES.len());
    while !left.is_empty() {
        // A model nothing left references goes next.
        let next = left
            .iter()
            .position(|m| !left.iter().any(|other| refs(other).contains(&m.table)))
            .unwrap_or(0);
        out.push(left.remove(next).table);
    }
    out.extend_from_slice(PLATFORM_TABLES);
    out
}

/// Erases every tenant whose deletion is due at `now` (at most 100 a
/// run; the next takes the rest), each in its own transaction with its
/// row in the platform's audit (`tenant.erase`, as `actor`).
pub(crate) async fn erase_due(
    db: &Db,
    models: &[&'static ModelDef],
    actor: &str,
    now: DateTime<Utc>,
) -> Result<Run, DbError> {
    let mut tx = db.begin_platform_read().await?;
    let due = tx.due_deletions(now, 100).await?;
    drop(tx);
    let tables = tables(models);
    let mut run = Run::default();
    for tenant in due {
        match erase_one(db, tenant, &tables, actor).await {
            Ok(Some(erased)) => run.erased.push((tenant, erased)),
            // Cancelled meanwhile, or erased by another worker.
            Ok(None) => {}
            Err(err) => {
                tracing::error!(tenant = %tenant, error = %err, "tenant erasure failed; the next run tries again");
                run.failed = Some((tenant, err));
            }
        }
    }
    Ok(run)
}

async fn erase_one(db: &Db, tenant: TenantId, tables: &[&str], actor: &str) -> Result<Option<Erased>, DbError> {
    let mut tx = db.begin_platform().await?;
    let Some(erased) = tx.erase_tenant(tenant, tables).await? else {
        drop(tx);
        return Ok(None);
    };
    let detail = json!({ "tenant": tenant, "requested_at": erased.requested_at, "rows": erased.rows });
    tx.audit_platform(actor, "tenant.erase", &detail).await?;
    tx.commit().await?;
    tracing::info!(target: "rookery::platform", tenant = %tenant, "tenant erased");
    Ok(Some(erased))
}

/// What a worker lends the erasure job to tell every instance that a
/// tenant is gone (`Worker::with_invalidations_of`: the app's
/// `Invalidation::Tenant`, through Redis), so its credentials are refused
/// at once rather than when its cached facts expire.
#[derive(Clone)]
pub(crate) struct Forget(pub(crate) Arc<dyn Fn(TenantId) -> BoxFuture + Send + Sync>);

type BoxFuture = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// The platform job that erases the tenants whose grace period has passed.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct EraseDueTenants;

impl Job for EraseDueTenants {
    const NAME: &'static str = "rookery.erase_due_tenants";
    const QUEUE: &'static str = "rookery";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        if ctx.tenant().is_some() {
            return Err(JobError::permanent("the erasure is a platform job"));
        }
        let models = ctx
            .resource::<crate::usage::Models>()
            .ok_or_else(|| JobError::permanent("this worker was not given the app's models (use App::worker)"))?
            .clone();
        let run = erase_due(ctx.db(), &models.0, &ctx.actor(), Utc::now()).await?;
        if let Some(forget) = ctx.resource::<Forget>() {
            for (tenant, _) in &run.erased {
                (forget.0)(*tenant).await;
            }
        }
        match run.failed {
            Some((tenant, err)) => Err(JobError::retry(format!("erasing tenant {tenant} failed: {err}"))),
            None => Ok(()),
        }
    }
}

/// Registers the erasure job, every hour at minute 7.
pub(crate) fn register(jobs: &mut Registry) {
    jobs.add::<EraseDueTenants>();
    jobs.schedule(Schedule::new::<EraseDueTenants>("7 * * * *", false).expect("a valid schedule"));
}

#[cfg(test)]
mod tests {
    use super::tables;
    use crate::model::{FieldDef, OnDelete};

    fn reference(column: &'static str, table: &'static str) -> FieldDef {
        crate::model::fixtures::reference(column, table, OnDelete::Restrict)
    }

    use crate::model::fixtures::model as def;

    #[test]
    fn children_are_emptied_before_what_they_reference() {
        // Declared parents first, as specs usually are; a self-reference
        // and a reference to the members do not hold anything up.
        let models = vec![
            def("projects", vec![reference("owner_id", "memberships")]),
            def(
                "tasks",
                vec![reference("project_id", "projects"), reference("parent_id", "tasks")],
            ),
            def(
                "comments",
                vec![reference("task_id", "tasks"), reference("project_id", "projects")],
            ),
            def("tags", vec![]),
        ];
        let order = tables(&models);
        let at = |t: &str| order.iter().position(|x| *x == t).unwrap();
        assert!(
            at("comments") < at("tasks") && at("tasks") < at("projects"),
            "{order:?}"
        );
        assert!(at("projects") < at("memberships"), "{order:?}");
        assert_eq!(order.len(), 4 + super::PLATFORM_TABLES.len());
        // A cycle still lists every table once.
        let cycle = vec![
            def("a", vec![reference("b_id", "b")]),
            def("b", vec![reference("a_id", "a")]),
        ];
        let order = tables(&cycle);
        assert_eq!(&order[..2], ["a", "b"]);
    }

    #[test]
    fn platform_children_come_before_their_parents() {
        let order = super::PLATFORM_TABLES;
        let at = |t: &str| order.iter().position(|x| *x == t).unwrap();
        assert!(at("rookery_webhook_attempts") < at("rookery_webhook_deliveries"));
        assert!(at("rookery_webhook_deliveries") < at("rookery_webhook_endpoints"));
        assert!(at("rookery_webhook_deliveries") < at("rookery_events"));
        for t in ["api_keys", "refresh_tokens", "invitations"] {
            assert!(at(t) < at("memberships"), "{t}");
        }
        assert_eq!(
            order.last(),
            Some(&"memberships"),
            "models' references to members go first"
        );
    }
}
