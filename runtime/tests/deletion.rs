//! Tenant deletion (`/tenant/deletion`, the erasure job), tried to break
//! on both dialects: after the erasure no table with a `tenant_id` (read
//! from the database's catalogue, so a table added later is checked too)
//! holds a row of the deleted tenant, while every row of another tenant
//! stays; nothing is erased before the grace period has passed or after a
//! cancellation; only an owner, signed in, who confirms with the slug
//! asks; what is kept names nobody. One person's erasure:
//! `personal_data.rs`.

#[macro_use]
mod support;

use axum::http::StatusCode;
use rookery::TenantId;
use serde_json::{Value, json};
use support::{Backend, Harness, Reply};

const PW: &str = "correct horse battery";

on_both_backends!(
    a_deleted_tenant_leaves_no_row_behind,
    nothing_is_erased_before_the_grace_period_or_after_a_cancellation,
    only_an_owner_signed_in_and_confirming_asks,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_grace_period_of_zero_erases_at_the_next_run() {
    support::run_with(Backend::Sqlite, |c| c.deletion_grace_days = 0, grace_zero).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_grace_period_of_zero_erases_at_the_next_run() {
    support::run_with(Backend::Postgres, |c| c.deletion_grace_days = 0, grace_zero).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_write_the_erasure_waits_for_is_erased_too() {
    support::run_with(Backend::Postgres, |c| c.deletion_grace_days = 0, write_during_erasure).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_the_serving_role_cannot_erase_early() {
    support::run(Backend::Postgres, serving_role_cannot_erase_early).await;
}

struct Owner {
    tenant: TenantId,
    user: String,
    access: String,
}

async fn owner(h: &Harness, slug: &str, email: &str) -> Owner {
    let reply = h.signup(slug, email, PW).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    h.set_plan(slug, "pro").await;
    Owner {
        tenant: reply.body["tenant"]["id"].as_str().unwrap().parse().unwrap(),
        user: reply.body["user"]["id"].as_str().unwrap().to_owned(),
        access: reply.str("access_token"),
    }
}

async fn ok(reply: Reply, status: StatusCode) -> Value {
    assert_eq!(reply.status, status, "{reply:?}");
    reply.body
}

/// Fills `slug` with a row of everything a tenant can have: models with
/// events and audit rows, a deal owned by a member (a reference to the
/// membership that restricts), an invited member (who is also `shared`'s
/// member of the other tenant when given), an API key and its use, a
/// webhook endpoint with deliveries and their jobs, a pending invitation
/// (mailed), usage and an idempotency key.
async fn fill(h: &Harness, slug: &str, o: &Owner, member_email: &str) {
    let call = |method: &'static str, path: &'static str, body: Option<Value>| {
        h.call(method, path, Some(slug), Some(&o.access), body)
    };
    ok(
        h.call(
            "POST",
            "/webhooks/endpoints",
            Some(slug),
            Some(&o.access),
            Some(json!({ "url": "http://127.0.0.1:9/hook", "event_types": ["note.created"] })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    ok(
        call("POST", "/notes", Some(json!({ "title": format!("{slug} note") }))).await,
        StatusCode::CREATED,
    )
    .await;
    let invite = ok(
        call(
            "POST",
            "/invitations",
            Some(json!({ "email": member_email, "role": "admin" })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let joined = h
        .call(
            "POST",
            "/invitations/accept",
            Some(slug),
            None,
            Some(json!({ "token": invite["token"], "password": PW, "email": member_email })),
        )
        .await;
    let member = ok(joined, StatusCode::OK).await;
    let member_access = member["access_token"].as_str().unwrap().to_owned();
    ok(
        h.call(
            "POST",
            "/deals",
            Some(slug),
            Some(&member_access),
            Some(json!({ "title": format!("{slug} deal") })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    ok(
        call(
            "POST",
            "/leads",
            Some(json!({ "name": "Lead", "amount": 10, "seats": 1, "email": "lead@example.com" })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    ok(
        call(
            "POST",
            "/invitations",
            Some(json!({ "email": format!("pending@{slug}.test"), "role": "viewer" })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let key = ok(
        call("POST", "/api-keys", Some(json!({ "name": "ci", "role": "admin" }))).await,
        StatusCode::CREATED,
    )
    .await;
    ok(
        h.call("GET", "/notes", Some(slug), Some(key["key"].as_str().unwrap()), None)
            .await,
        StatusCode::OK,
    )
    .await;
    h.state.flush_usage().await.expect("usage written");
    h.state.seal_audit().await.expect("audit sealed");
}

async fn ask(h: &Harness, slug: &str, token: &str, confirm: &str) -> Reply {
    h.call(
        "POST",
        "/tenant/deletion",
        Some(slug),
        Some(token),
        Some(json!({ "confirm": confirm })),
    )
    .await
}

async fn drain(h: &Harness) {
    support::app()
        .worker(h.db().clone(), h.config())
        .with_invalidations_of(&h.state)
        .drain()
        .await
        .expect("the worker drains");
}

/// Rows of `tenant` in every table that has a `tenant_id`, those with none left out.
async fn left(h: &Harness, tenant: TenantId) -> Vec<(String, i64)> {
    h.rows_of_tenant(tenant)
        .await
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect()
}

async fn a_deleted_tenant_leaves_no_row_behind(h: Harness) {
    let acme = owner(&h, "acme", "olga@example.com").await;
    let globex = owner(&h, "globex", "gus@example.com").await;
    // Ann is a member of both; Mia of acme only.
    fill(&h, "acme", &acme, "mia@example.com").await;
    fill(&h, "globex", &globex, "ann@example.com").await;
    let invite = ok(
        h.call(
            "POST",
            "/invitations",
            Some("acme"),
            Some(&acme.access),
            Some(json!({ "email": "ann@example.com", "role": "viewer" })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let joined = h
        .call(
            "POST",
            "/invitations/accept",
            Some("acme"),
            None,
            Some(json!({ "token": invite["token"], "password": PW })),
        )
        .await;
    ok(joined, StatusCode::OK).await;
    let before_acme = left(&h, acme.tenant).await;
    let tables: Vec<&str> = before_acme.iter().map(|(t, _)| t.as_str()).collect();
    for table in [
        "notes",
        "deals",
        "leads",
        "memberships",
        "api_keys",
        "refresh_tokens",
        "invitations",
        "audit_log",
        "rookery_events",
        "rookery_webhook_endpoints",
        "rookery_webhook_deliveries",
        "rookery_jobs",
        "rookery_mail",
        "rookery_usage_days",
    ] {
        assert!(tables.contains(&table), "acme has rows in {table}: {before_acme:?}");
    }
    let before_globex = h.rows_of_tenant(globex.tenant).await;

    let reply = ok(ask(&h, "acme", &acme.access, "acme").await, StatusCode::ACCEPTED).await;
    assert_eq!(reply["pending"], true);
    assert_eq!(reply["requested_by"], json!(acme.user));
    // The grace period passed (the side door moves the tenant's
    // deadline and the job, not the clock).
    h.exec(
        "UPDATE tenants SET erase_after = now() - interval '1 second' WHERE slug = 'acme'",
        "UPDATE tenants SET erase_after = '2000-01-01T00:00:00.000000Z' WHERE slug = 'acme'",
    )
    .await;
    h.make_jobs_due().await;
    drain(&h).await;

    assert_eq!(left(&h, acme.tenant).await, vec![], "no row of acme is left");
    assert_eq!(h.count("SELECT count(*) FROM tenants WHERE slug = 'acme'").await, 0);
    // Every row of globex is still there, its jobs apart (the worker ran
    // the deliveries' jobs, which are kept done).
    let after_globex = h.rows_of_tenant(globex.tenant).await;
    for (table, n) in &before_globex {
        if table != "rookery_jobs" && table != "rookery_webhook_attempts" && table != "rookery_webhook_deliveries" {
            assert_eq!(after_globex.get(table), Some(n), "{table} of globex");
        }
    }
    assert!(after_globex["rookery_jobs"] > 0);
    // Olga and Mia were members of acme only: their accounts are gone.
    // Ann, a member of globex, keeps hers and signs in there.
    for email in ["olga@example.com", "mia@example.com"] {
        assert_eq!(
            h.rows_as_text("users")
                .await
                .iter()
                .filter(|r| r.contains(email))
                .count(),
            0,
            "{email}"
        );
    }
    ok(h.login("globex", "ann@example.com", PW).await, StatusCode::OK).await;
    assert_ne!(h.login("acme", "ann@example.com", PW).await.status, StatusCode::OK);

    // What is kept: the erasure record and the platform's audit, naming
    // the tenant by id only.
    let record = h.rows_as_text("rookery_tenant_erasures").await;
    assert_eq!(record.len(), 1, "{record:?}");
    let platform = h.rows_as_text("rookery_platform_audit").await;
    for text in record.iter().chain(&platform) {
        for personal in ["acme", "ACME", "olga", "mia@", "example.com", "pending@"] {
            assert!(!text.contains(personal), "`{personal}` kept in {text}");
        }
    }
    let kept: Value = serde_json::from_str(&record[0]).unwrap();
    assert_eq!(kept["erased_tenant_id"], json!(acme.tenant.to_string()));
    let counts: Value = match &kept["row_counts"] {
        Value::String(text) => serde_json::from_str(text).unwrap(),
        other => other.clone(),
    };
    for (table, n) in &before_acme {
        match table.as_str() {
            // The erasure job and the deliveries' jobs ran meanwhile, and
            // the owners' notice may have been mailed before the erasure.
            "rookery_jobs" | "rookery_mail" => {}
            // The request itself is audited.
            "audit_log" => assert_eq!(counts[table], json!(n + 1), "{table} in {counts}"),
            _ => assert_eq!(counts[table], json!(n), "{table} in {counts}"),
        }
    }
    assert_eq!(counts["users"], 2, "{counts}");
    assert!(
        platform.iter().any(|r| r.contains("tenant.erase"))
            && platform.iter().any(|r| r.contains("tenant.deletion_request")),
        "{platform:?}"
    );
}

async fn nothing_is_erased_before_the_grace_period_or_after_a_cancellation(h: Harness) {
    let acme = owner(&h, "acme", "olga@example.com").await;
    let reply = ok(ask(&h, "acme", &acme.access, "acme").await, StatusCode::ACCEPTED).await;
    let erase_after: chrono::DateTime<chrono::Utc> = reply["erase_after"].as_str().unwrap().parse().unwrap();
    let days = (erase_after - chrono::Utc::now()).num_days();
    assert!((29..=30).contains(&days), "30 days by default: {reply}");
    // Asked again: the same deadline, not a new one.
    let again = ok(ask(&h, "acme", &acme.access, "acme").await, StatusCode::ACCEPTED).await;
    assert_eq!(again["erase_after"], reply["erase_after"]);
    // The tenant works during the grace period and shows the deletion.
    let shown = ok(
        h.call("GET", "/tenant/deletion", Some("acme"), Some(&acme.access), None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["erase_after"], reply["erase_after"]);
    ok(
        h.call(
            "POST",
            "/notes",
            Some("acme"),
            Some(&acme.access),
            Some(json!({ "title": "still here" })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    // Every job made due: the erasure runs and finds nothing due.
    h.make_jobs_due().await;
    drain(&h).await;
    assert_eq!(h.count("SELECT count(*) FROM tenants WHERE slug = 'acme'").await, 1);
    assert_eq!(h.count("SELECT count(*) FROM notes").await, 1);
    // The owner was told, once, with the deadline.
    let mail = h.mail_rows().await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0].to, "olga@example.com");
    assert!(mail[0].subject.starts_with("ACME will be deleted on "), "{mail:?}");
    assert!(
        mail[0].text.as_deref().unwrap_or("").contains("/tenant/export"),
        "{mail:?}"
    );

    // Cancelled, then the old deadline passes: nothing happens.
    let cancelled = h
        .call("DELETE", "/tenant/deletion", Some("acme"), Some(&acme.access), None)
        .await;
    assert_eq!(cancelled.status, StatusCode::NO_CONTENT, "{cancelled:?}");
    let shown = ok(
        h.call("GET", "/tenant/deletion", Some("acme"), Some(&acme.access), None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown, json!({ "pending": false }));
    h.exec(
        "UPDATE rookery_jobs SET run_at = now() - interval '1 second', fair_at = now() - interval '1 second', state = 'ready' \
         WHERE kind = 'rookery.erase_due_tenants'",
        "UPDATE rookery_jobs SET run_at = '2000-01-01T00:00:00.000000Z', fair_at = '2000-01-01T00:00:00.000000Z', state = 'ready' \
         WHERE kind = 'rookery.erase_due_tenants'",
    )
    .await;
    drain(&h).await;
    assert_eq!(h.count("SELECT count(*) FROM tenants WHERE slug = 'acme'").await, 1);
    assert_eq!(h.count("SELECT count(*) FROM rookery_tenant_erasures").await, 0);
    let mail = h.mail_rows().await;
    assert_eq!(mail.len(), 2, "{mail:?}");
    assert_eq!(mail[1].subject, "The deletion of ACME was cancelled", "{mail:?}");
    // Both are in the tenant's audit log.
    let actions: Vec<String> = h.audit_rows().await.into_iter().map(|(a, _)| a).collect();
    assert!(actions.contains(&"tenant.deletion_requested".to_owned()), "{actions:?}");
    assert!(actions.contains(&"tenant.deletion_cancelled".to_owned()), "{actions:?}");
    assert_eq!(
        actions.iter().filter(|a| *a == "tenant.deletion_requested").count(),
        1,
        "asking again records nothing"
    );
}

async fn only_an_owner_signed_in_and_confirming_asks(h: Harness) {
    let acme = owner(&h, "acme", "olga@example.com").await;
    let key = ok(
        h.call(
            "POST",
            "/api-keys",
            Some("acme"),
            Some(&acme.access),
            Some(json!({ "name": "ci", "role": "owner" })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let key = key["key"].as_str().unwrap();
    let invite = ok(
        h.call(
            "POST",
            "/invitations",
            Some("acme"),
            Some(&acme.access),
            Some(json!({ "email": "ann@example.com", "role": "admin" })),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let ann = ok(
        h.call(
            "POST",
            "/invitations/accept",
            Some("acme"),
            None,
            Some(json!({ "token": invite["token"], "password": PW })),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let ann = ann["access_token"].as_str().unwrap();

    let wrong = ask(&h, "acme", &acme.access, "ACME").await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{wrong:?}");
    assert_eq!(wrong.body["errors"][0]["field"], "confirm", "{wrong:?}");
    assert_eq!(ask(&h, "acme", ann, "acme").await.status, StatusCode::FORBIDDEN);
    assert_eq!(ask(&h, "acme", key, "acme").await.status, StatusCode::FORBIDDEN);
    let missing = h
        .call(
            "POST",
            "/tenant/deletion",
            Some("acme"),
            Some(&acme.access),
            Some(json!({})),
        )
        .await;
    assert!(missing.status.is_client_error(), "{missing:?}");
    assert_eq!(
        h.count("SELECT count(*) FROM tenants WHERE erase_after IS NOT NULL")
            .await,
        0
    );
    ok(ask(&h, "acme", &acme.access, "acme").await, StatusCode::ACCEPTED).await;
    // Any member sees it; only the owner cancels.
    let shown = ok(
        h.call("GET", "/tenant/deletion", Some("acme"), Some(ann), None).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["pending"], true);
    assert_eq!(
        h.call("DELETE", "/tenant/deletion", Some("acme"), Some(ann), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
}

async fn grace_zero(h: Harness) {
    let acme = owner(&h, "acme", "olga@example.com").await;
    let globex = owner(&h, "globex", "gus@example.com").await;
    // A table of a hand-written migration, unknown to the runtime, whose
    // reference to the tenant does not cascade: the erasure finds it in
    // the catalogue and empties it before the tenant's row.
    let pg = format!(
        "CREATE TABLE extra_things (tenant_id uuid NOT NULL REFERENCES tenants (id), note text NOT NULL); \
         INSERT INTO extra_things VALUES ('{a}', 'a'), ('{a}', 'b'), ('{g}', 'c');",
        a = acme.tenant,
        g = globex.tenant
    );
    let sqlite = format!(
        "CREATE TABLE extra_things (tenant_id TEXT NOT NULL REFERENCES tenants (id), note TEXT NOT NULL); \
         INSERT INTO extra_things VALUES ('{a}', 'a'), ('{a}', 'b'), ('{g}', 'c');",
        a = acme.tenant,
        g = globex.tenant
    );
    h.exec_as_owner(&pg, &sqlite).await;
    ok(ask(&h, "acme", &acme.access, "acme").await, StatusCode::ACCEPTED).await;
    drain(&h).await;
    assert_eq!(left(&h, acme.tenant).await, vec![]);
    assert_eq!(h.count("SELECT count(*) FROM tenants").await, 1);
    assert!(!left(&h, globex.tenant).await.is_empty());
    assert_eq!(
        h.count("SELECT count(*) FROM extra_things").await,
        1,
        "globex's row stays"
    );
    // The erased tenant's credentials open nothing, at once: the worker
    // told the app it is gone.
    let login = h.login("acme", "olga@example.com", PW).await;
    assert!(login.status.is_client_error(), "{login:?}");
    let after = h
        .call("GET", "/tenant/deletion", Some("acme"), Some(&acme.access), None)
        .await;
    assert!(after.status.is_client_error(), "{after:?}");
}

async fn serving_role_cannot_erase_early(h: Harness) {
    let acme = owner(&h, "acme", "olga@example.com").await;
    ok(ask(&h, "acme", &acme.access, "acme").await, StatusCode::ACCEPTED).await;
    let mut conn = h.serving_connection().await;
    let erased: Option<Value> = sqlx::query_scalar("SELECT rookery_erase_tenant($1, 'memberships,audit_log')")
        .bind(acme.tenant.0)
        .fetch_one(&mut conn)
        .await
        .expect("the function answers");
    assert_eq!(erased, None, "the grace period runs: nothing erased");
    assert_eq!(h.count("SELECT count(*) FROM memberships").await, 1);
    // Asking again with no grace keeps the pending deadline.
    let (after,): (chrono::DateTime<chrono::Utc>,) =
        sqlx::query_as("SELECT o_erase_after FROM rookery_request_deletion($1, NULL, 0)")
            .bind(acme.tenant.0)
            .fetch_one(&mut conn)
            .await
            .expect("the function answers");
    assert!((after - chrono::Utc::now()).num_days() >= 29, "{after}");
    let erased: Option<Value> = sqlx::query_scalar("SELECT rookery_erase_tenant($1, '')")
        .bind(acme.tenant.0)
        .fetch_one(&mut conn)
        .await
        .expect("the function answers");
    assert_eq!(erased, None);
    // Nor behind the function's back.
    for refused in [
        "DELETE FROM tenants",
        "DELETE FROM audit_log",
        "DELETE FROM memberships",
        "UPDATE tenants SET slug = 'gone'",
        "UPDATE tenants SET erase_after = now() - interval '1 day'",
        "UPDATE tenants SET deletion_requested_at = NULL, erase_after = NULL",
        "INSERT INTO rookery_tenant_erasures VALUES (gen_random_uuid(), now(), now(), '{}')",
        "UPDATE users SET email = 'x@example.com'",
    ] {
        let err = sqlx::raw_sql(refused).execute(&mut conn).await;
        assert!(err.is_err(), "{refused} was allowed");
    }
    // The account function changes only the user the transaction names.
    let err = sqlx::query("SELECT rookery_erase_user($1, 'x@erased.invalid')")
        .bind(uuid::Uuid::parse_str(&acme.user).unwrap())
        .execute(&mut conn)
        .await;
    assert!(err.is_err(), "an account erased without naming it");
    assert_eq!(
        h.count("SELECT count(*) FROM users WHERE email = 'olga@example.com'")
            .await,
        1
    );
}

/// A write of the tenant that began before the erasure holds its
/// reference to the tenant's row: the erasure waits for it (its row lock),
/// then erases what it wrote. A write after the erasure finds no tenant.
async fn write_during_erasure(h: Harness) {
    use sqlx::Connection as _;
    let acme = owner(&h, "acme", "olga@example.com").await;
    ok(ask(&h, "acme", &acme.access, "acme").await, StatusCode::ACCEPTED).await;
    let mut writer = h.serving_connection().await;
    let mut tx = writer.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(acme.tenant.0.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("INSERT INTO notes (tenant_id, title, created_at, updated_at) VALUES ($1, 'late', now(), now())")
        .bind(acme.tenant.0)
        .execute(&mut *tx)
        .await
        .unwrap();
    let worker = support::app().worker(h.db().clone(), h.config());
    let erasure = tokio::spawn(async move { worker.drain().await.expect("drains") });
    // Until the erasure waits on the writer's lock (the database says so).
    let mut waiting = false;
    for _ in 0..10_000 {
        if h.count("SELECT count(*) FROM pg_locks WHERE NOT granted").await > 0 {
            waiting = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(waiting, "the erasure never waited for the writer");
    tx.commit().await.unwrap();
    erasure.await.unwrap();
    assert_eq!(left(&h, acme.tenant).await, vec![], "the late note is erased too");
    // And a write now has no tenant to belong to.
    let mut tx = writer.begin().await.unwrap();
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(acme.tenant.0.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    let late = sqlx::query(
        "INSERT INTO notes (tenant_id, title, created_at, updated_at) VALUES ($1, 'too late', now(), now())",
    )
    .bind(acme.tenant.0)
    .execute(&mut *tx)
    .await;
    assert!(late.is_err(), "a row of an erased tenant was written");
}
