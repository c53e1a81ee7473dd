//! Usage analytics on SQLite and on PostgreSQL (served by a member of the
//! app's group role, read as the tables' owner): requests and active
//! members counted per tenant and day once flushed, nothing lost by a
//! failed flush, rows per model counted by the daily job in each tenant's
//! transaction (a run again writes the same counts; old usage is pruned),
//! and tenants kept apart, also when a request tries to cross them.

mod support;

use axum::http::StatusCode;
use rookery::TenantId;
use rookery::chrono::{NaiveDate, Utc};
use rookery::db::{Db, UsageDay, UsageQuery};
use serde_json::json;
use support::{Backend, Harness};

macro_rules! on_both_backends {
    ($($scenario:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::support::run(crate::Backend::Sqlite, crate::$scenario).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    crate::support::run(crate::Backend::Postgres, crate::$scenario).await;
                }
            )*
        }
    };
}

on_both_backends!(
    requests_and_active_members_are_counted_per_tenant_and_day,
    a_failed_flush_loses_nothing,
    the_daily_job_counts_each_tenants_rows_and_prunes_old_usage,
    a_request_cannot_count_for_another_tenant,
);

const PW: &str = "correct horse battery";

/// Every tenant's usage of the last two days, as the operator reads it.
async fn report(h: &Harness) -> Vec<UsageDay> {
    let owner = h.owner_db().await;
    let usage = owner.usage(&UsageQuery::last_days(2)).await.expect("the report");
    owner.close().await;
    usage
}

/// `slug`'s usage on `day`.
fn of<'a>(usage: &'a [UsageDay], slug: &str, day: NaiveDate) -> Option<&'a UsageDay> {
    usage.iter().find(|d| d.slug == slug && d.day == day)
}

/// A tenant and its owner's access token.
async fn tenant(h: &Harness, slug: &str) -> (TenantId, String) {
    let reply = h.signup(slug, &format!("owner@{slug}.test"), PW).await;
    let id = reply.body["tenant"]["id"].as_str().unwrap().parse().unwrap();
    (id, reply.str("access_token"))
}

/// Invites `email` into `slug` as `token` (one request of the owner) and
/// accepts; the new member's access token.
async fn join(h: &Harness, slug: &str, token: &str, email: &str) -> String {
    let body = json!({ "email": email, "role": "member" });
    let invited = h
        .call("POST", "/invitations", Some(slug), Some(token), Some(body))
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{invited:?}");
    let body = json!({ "token": invited.str("token"), "password": PW });
    let accepted = h
        .call("POST", "/invitations/accept", Some(slug), None, Some(body))
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{accepted:?}");
    accepted.str("access_token")
}

/// `n` authenticated requests of `token` on `slug`.
async fn requests(h: &Harness, slug: &str, token: &str, n: usize) {
    for _ in 0..n {
        let reply = h.call("GET", "/notes", Some(slug), Some(token), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    }
}

/// Whether the UTC day is still `day` (a test that crosses midnight has
/// its counts on two days, and compares nothing).
fn still(day: NaiveDate) -> bool {
    Utc::now().date_naive() == day
}

async fn requests_and_active_members_are_counted_per_tenant_and_day(h: Harness) {
    let today = Utc::now().date_naive();
    let (_, acme) = tenant(&h, "acme").await;
    let (_, globex) = tenant(&h, "globex").await;
    let bob = join(&h, "acme", &acme, "bob@acme.test").await;
    requests(&h, "acme", &acme, 3).await;
    requests(&h, "acme", &bob, 2).await;
    // An API key's requests count; the key is no member.
    let key = h
        .call(
            "POST",
            "/api-keys",
            Some("globex"),
            Some(&globex),
            Some(json!({ "name": "ci", "role": "member" })),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{key:?}");
    requests(&h, "globex", &key.str("key"), 2).await;
    requests(&h, "globex", &globex, 4).await;
    // Sign-up, login and accepting an invitation are nobody's request yet.
    assert_eq!(h.login("acme", "bob@acme.test", PW).await.status, StatusCode::OK);

    assert!(report(&h).await.is_empty(), "nothing is written before a flush");
    h.state.flush_usage().await.expect("flush");
    h.state.flush_usage().await.expect("a flush with nothing counted");
    let usage = report(&h).await;
    if !still(today) {
        return;
    }
    let acme_today = of(&usage, "acme", today).expect("acme's day");
    // The invitation, then 3 by the owner and 2 by bob.
    assert_eq!((acme_today.requests, acme_today.active_members), (6, 2), "{usage:?}");
    assert!(acme_today.rows.is_empty(), "rows are the daily job's");
    let globex_today = of(&usage, "globex", today).expect("globex's day");
    // The key's creation and 4 by the owner, 2 by the key.
    assert_eq!(
        (globex_today.requests, globex_today.active_members),
        (7, 1),
        "{usage:?}"
    );
    assert_eq!(usage.len(), 2, "{usage:?}");

    // A second flush adds to the day; a member counts once.
    requests(&h, "acme", &bob, 1).await;
    h.state.flush_usage().await.expect("flush");
    let usage = report(&h).await;
    if !still(today) {
        return;
    }
    let acme_today = of(&usage, "acme", today).unwrap();
    assert_eq!((acme_today.requests, acme_today.active_members), (7, 2), "{usage:?}");
    // The operator's reading of one tenant.
    let owner = h.owner_db().await;
    let globex_id = of(&usage, "globex", today).unwrap().tenant;
    let only = owner.usage(&UsageQuery::last_days(1).tenant(globex_id)).await.unwrap();
    owner.close().await;
    assert_eq!(only.iter().map(|d| d.slug.as_str()).collect::<Vec<_>>(), ["globex"]);
}

async fn a_failed_flush_loses_nothing(h: Harness) {
    let today = Utc::now().date_naive();
    let (_, acme) = tenant(&h, "acme").await;
    let (_, globex) = tenant(&h, "globex").await;
    requests(&h, "acme", &acme, 3).await;
    requests(&h, "globex", &globex, 2).await;

    // No database at all: the flush stops at once and keeps everything.
    let closed = Db::connect("sqlite::memory:", &rookery::db::DbOptions::migrating())
        .await
        .unwrap();
    closed.close().await;
    assert!(h.state.test_flush_usage_into(&closed).await.is_err());
    // The database refuses the statements (the table moved away): each
    // tenant's counts are kept.
    h.exec(
        "ALTER TABLE rookery_usage_days RENAME TO rookery_usage_days_aside",
        "ALTER TABLE rookery_usage_days RENAME TO rookery_usage_days_aside",
    )
    .await;
    assert!(h.state.flush_usage().await.is_err());
    h.exec(
        "ALTER TABLE rookery_usage_days_aside RENAME TO rookery_usage_days",
        "ALTER TABLE rookery_usage_days_aside RENAME TO rookery_usage_days",
    )
    .await;
    requests(&h, "acme", &acme, 1).await;
    h.state.flush_usage().await.expect("the database is back");
    let usage = report(&h).await;
    if !still(today) {
        return;
    }
    assert_eq!(of(&usage, "acme", today).map(|d| d.requests), Some(4), "{usage:?}");
    assert_eq!(of(&usage, "globex", today).map(|d| d.requests), Some(2), "{usage:?}");
    // Written once: nothing of a failed flush was also committed.
    h.state.flush_usage().await.unwrap();
    assert_eq!(report(&h).await, usage);
}

async fn the_daily_job_counts_each_tenants_rows_and_prunes_old_usage(h: Harness) {
    let (acme_id, acme) = tenant(&h, "acme").await;
    let (globex_id, globex) = tenant(&h, "globex").await;
    for title in ["one", "two"] {
        let body = json!({ "title": title });
        let reply = h.call("POST", "/notes", Some("acme"), Some(&acme), Some(body)).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    }
    let body = json!({ "title": "theirs" });
    let reply = h
        .call("POST", "/notes", Some("globex"), Some(&globex), Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    // Usage of long ago: one day past the retention, one inside it.
    let yesterday = Utc::now().date_naive().pred_opt().unwrap();
    let old = |days: u64| yesterday - rookery::chrono::Days::new(days);
    for tenant in [acme_id, globex_id] {
        let mut tx = h.db().begin_write(tenant).await.unwrap();
        for day in [old(401), old(399)] {
            tx.sql("INSERT INTO rookery_usage_days (tenant_id, day, requests) VALUES ($1, $2, 5)")
                .bind(day)
                .execute()
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }

    // Yesterday's count, as the schedule enqueues it at 23:55 UTC.
    let worker = support::app().worker(h.db().clone(), h.config());
    let at = yesterday.and_hms_opt(23, 55, 0).unwrap().and_utc();
    assert_eq!(worker.fire_schedules(at).await.unwrap(), 1);
    let drained = worker.drain().await.unwrap();
    assert_eq!((drained.done, drained.dead), (3, 0), "the fan-out and a job per tenant");
    let counted = |usage: &[UsageDay], slug: &str| -> Vec<(String, u64)> {
        let day = of(usage, slug, yesterday).unwrap_or_else(|| panic!("{slug} in {usage:?}"));
        day.rows.iter().map(|(m, n)| (m.clone(), *n)).collect()
    };
    let usage = report(&h).await;
    assert_eq!(
        counted(&usage, "acme"),
        [
            ("deal".into(), 0),
            ("gadget".into(), 0),
            ("lead".into(), 0),
            ("note".into(), 2)
        ]
    );
    assert_eq!(
        counted(&usage, "globex"),
        [
            ("deal".into(), 0),
            ("gadget".into(), 0),
            ("lead".into(), 0),
            ("note".into(), 1)
        ]
    );
    assert_eq!(
        of(&usage, "acme", yesterday).unwrap().requests,
        0,
        "no requests that day"
    );

    // The job runs again (delivery is at least once): the same day's
    // counts are replaced, not added to.
    let body = json!({ "title": "three" });
    let reply = h.call("POST", "/notes", Some("acme"), Some(&acme), Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    h.exec(
        "UPDATE rookery_jobs SET state = 'ready', finished_at = NULL WHERE kind = 'rookery.count_usage'",
        "UPDATE rookery_jobs SET state = 'ready', finished_at = NULL WHERE kind = 'rookery.count_usage'",
    )
    .await;
    assert_eq!(worker.drain().await.unwrap().done, 2);
    let usage = report(&h).await;
    assert_eq!(
        counted(&usage, "acme"),
        [
            ("deal".into(), 0),
            ("gadget".into(), 0),
            ("lead".into(), 0),
            ("note".into(), 3)
        ]
    );
    assert_eq!(
        counted(&usage, "globex"),
        [
            ("deal".into(), 0),
            ("gadget".into(), 0),
            ("lead".into(), 0),
            ("note".into(), 1)
        ]
    );

    // Past the retention, gone; inside it, kept.
    let owner = h.owner_db().await;
    let long_ago = UsageQuery {
        from: old(500),
        to: old(300),
        tenant: None,
    };
    let kept = owner.usage(&long_ago).await.unwrap();
    owner.close().await;
    let kept: Vec<(&str, NaiveDate)> = kept.iter().map(|d| (d.slug.as_str(), d.day)).collect();
    assert_eq!(kept, [("acme", old(399)), ("globex", old(399))]);
}

async fn a_request_cannot_count_for_another_tenant(h: Harness) {
    let today = Utc::now().date_naive();
    let (acme_id, acme) = tenant(&h, "acme").await;
    let (globex_id, globex) = tenant(&h, "globex").await;
    requests(&h, "globex", &globex, 1).await;
    // Acme's token on globex's host or header is refused, and counted
    // nowhere.
    for _ in 0..3 {
        let reply = h.call("GET", "/notes", Some("globex"), Some(&acme), None).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    }
    h.state.flush_usage().await.unwrap();
    let usage = report(&h).await;
    if !still(today) {
        return;
    }
    assert_eq!(of(&usage, "acme", today), None, "{usage:?}");
    assert_eq!(of(&usage, "globex", today).map(|d| d.requests), Some(1), "{usage:?}");

    // A tenant's own statements see its own usage only; on PostgreSQL the
    // serving role is confined by row-level security, not by the SQL.
    requests(&h, "acme", &acme, 2).await;
    h.state.flush_usage().await.unwrap();
    let postgres = h.db().dialect() == rookery::db::Dialect::Postgres;
    let unfiltered = if postgres {
        "SELECT count(*) FROM rookery_usage_days WHERE $1::uuid IS NOT NULL"
    } else {
        "SELECT count(*) FROM rookery_usage_days WHERE tenant_id = $1"
    };
    for tenant in [acme_id, globex_id] {
        let mut tx = h.db().begin(tenant).await.unwrap();
        let (seen,): (i64,) = tx.sql(unfiltered).fetch_one().await.unwrap();
        tx.finish_read();
        assert_eq!(seen, 1, "{tenant}: its own day only");
    }
    if !postgres {
        return;
    }
    // Under acme's setting: no row of globex's, read or written.
    let mut tx = h.db().begin_write(acme_id).await.unwrap();
    let forged = tx
        .sql("INSERT INTO rookery_usage_days (tenant_id, day, requests) SELECT $2, $3, 1000 WHERE $1::uuid IS NOT NULL")
        .bind(globex_id.0)
        .bind(today.pred_opt().unwrap())
        .execute()
        .await;
    assert!(forged.unwrap_err().to_string().contains("row-level security"));
    drop(tx);
    // What the serving role may not do at all.
    for sql in [
        "UPDATE rookery_usage_days SET day = day - 1 WHERE $1::uuid IS NOT NULL",
        "UPDATE rookery_usage_members SET user_id = $1",
        "UPDATE rookery_usage_rows SET model = 'forged' WHERE $1::uuid IS NOT NULL",
        "SELECT count(*) FROM rookery_usage_report(current_date - 1, current_date, NULL) WHERE $1::uuid IS NOT NULL",
    ] {
        let mut tx = h.db().begin_write(acme_id).await.unwrap();
        let err = tx.sql(sql).execute().await.expect_err(sql).to_string();
        assert!(err.contains("permission denied"), "{sql}: {err}");
    }
    // The operator's report, as the serving role: refused.
    let err = h.db().usage(&UsageQuery::last_days(1)).await.unwrap_err().to_string();
    assert!(err.contains("permission denied"), "{err}");
}
