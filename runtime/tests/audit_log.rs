//! The audit log users read and trust, through the router, on SQLite and
//! on PostgreSQL (row-level security on, the serving role's least
//! privilege): `GET /audit-log` with each filter and its cursor, before and
//! after values with sensitive fields masked, the platform's own events,
//! tenant isolation, and the hash chain: sealed under concurrent writes,
//! and a row edited or deleted behind the app's back found by the
//! verifier, which names the first broken row.

#[macro_use]
mod support;

use axum::http::StatusCode;
use rookery::audit::chain::{self, Problem};
use rookery::config::Config;
use serde_json::{Value, json};
use support::{Harness, Reply};

const PW: &str = "correct horse battery";

on_both_backends!(
    configure = configure;
    writes_record_before_and_after_and_mask_sensitive_fields,
    the_log_filters_and_pages_newest_first,
    platform_events_are_audited_without_secrets,
    another_tenants_rows_never_appear,
    concurrent_writes_are_sealed_into_one_chain,
    a_sealing_round_seals_each_tenant_it_wrote_for_into_its_own_chain,
    the_verifier_names_a_changed_and_a_deleted_row,
    the_serving_role_cannot_rewrite_sealed_rows,
);

fn configure(config: &mut Config) {
    config.sign_in_rate = (10_000, 60);
}

/// A tenant's owner: tenant id, user id, access token.
struct Owner {
    tenant: rookery::TenantId,
    user: String,
    token: String,
}

async fn owner(h: &Harness, slug: &str) -> Owner {
    let reply = h.signup(slug, &format!("owner@{slug}.test"), PW).await;
    Owner {
        tenant: reply.body["tenant"]["id"]
            .as_str()
            .expect("tenant")
            .parse()
            .expect("id"),
        user: reply.str_at("user", "id"),
        token: reply.str("access_token"),
    }
}

trait At {
    fn str_at(&self, outer: &str, inner: &str) -> String;
}

impl At for Reply {
    fn str_at(&self, outer: &str, inner: &str) -> String {
        self.body[outer][inner].as_str().expect("a string").to_owned()
    }
}

async fn call(h: &Harness, slug: &str, method: &str, path: &str, token: &str, body: Option<Value>) -> Reply {
    h.call(method, path, Some(slug), Some(token), body).await
}

/// `GET /audit-log?<query>` on `slug`, expecting 200: the page.
async fn log(h: &Harness, slug: &str, token: &str, query: &str) -> Value {
    let reply = call(h, slug, "GET", &format!("/audit-log?{query}"), token, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.body
}

fn actions(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|r| r["action"].as_str().expect("action").to_owned())
        .collect()
}

async fn note(h: &Harness, slug: &str, token: &str, body: Value) -> String {
    let reply = call(h, slug, "POST", "/notes", token, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body["id"].to_string()
}

async fn writes_record_before_and_after_and_mask_sensitive_fields(h: Harness) {
    let o = owner(&h, "acme").await;
    let t = &o.token;
    let id = note(
        &h,
        "acme",
        t,
        json!({ "title": "a", "amount": "1.50", "meta": { "k": 1 } }),
    )
    .await;
    let path = format!("/notes/{id}");
    for body in [
        json!({ "title": "b" }),
        json!({ "title": "b" }),
        json!({ "amount": "2.75" }),
        json!({ "meta": { "k": 2 }, "body": "text" }),
    ] {
        let reply = call(&h, "acme", "PATCH", &path, t, Some(body)).await;
        assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    }
    let reply = call(&h, "acme", "DELETE", &path, t, None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{reply:?}");

    let page = log(&h, "acme", t, &format!("model=note&record={id}")).await;
    assert_eq!(
        actions(&page),
        [
            "note.delete",
            "note.update",
            "note.update",
            "note.update",
            "note.update",
            "note.create"
        ]
    );
    let changes: Vec<&Value> = page["data"].as_array().unwrap().iter().map(|r| &r["changes"]).collect();
    let masked = json!({ "masked": true });
    // Newest first: the delete has every field before it.
    assert_eq!(
        *changes[0],
        json!({ "title": { "before": "b" }, "body": { "before": "text" }, "meta": { "before": { "k": 2 } }, "amount": masked })
    );
    // An update has the fields whose value changed, before and after.
    assert_eq!(
        *changes[1],
        json!({ "meta": { "before": { "k": 1 }, "after": { "k": 2 } }, "body": { "before": null, "after": "text" } })
    );
    // A sensitive field: that it changed, never the amounts.
    assert_eq!(*changes[2], json!({ "amount": masked }));
    // Writing the same value again changes nothing.
    assert_eq!(*changes[3], json!({}));
    assert_eq!(*changes[4], json!({ "title": { "before": "a", "after": "b" } }));
    // The create has every field after it.
    assert_eq!(
        *changes[5],
        json!({ "title": { "after": "a" }, "body": { "after": null }, "meta": { "after": { "k": 1 } }, "amount": masked })
    );
    // The amounts are nowhere in the log.
    let raw = h
        .count("SELECT count(*) FROM audit_log WHERE CAST(changes AS TEXT) LIKE '%1.5%' OR CAST(changes AS TEXT) LIKE '%2.75%'")
        .await;
    assert_eq!(raw, 0);
}

async fn the_log_filters_and_pages_newest_first(h: Harness) {
    let o = owner(&h, "acme").await;
    let t = &o.token;
    let before = rookery::chrono::Utc::now();
    let mut ids = Vec::new();
    for title in ["one", "two", "three", "four", "five"] {
        ids.push(note(&h, "acme", t, json!({ "title": title })).await);
    }
    let path = format!("/notes/{}", ids[1]);
    let reply = call(&h, "acme", "PATCH", &path, t, Some(json!({ "title": "deux" }))).await;
    assert_eq!(reply.status, StatusCode::OK);

    // Pages of two, newest first, continued by the cursor, each row once.
    let mut seen = Vec::new();
    let mut query = "model=note&limit=2".to_owned();
    loop {
        let page = log(&h, "acme", t, &query).await;
        assert!(page["data"].as_array().unwrap().len() <= 2);
        seen.extend(page["data"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("model=note&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    let ats: Vec<(String, String)> = seen
        .iter()
        .map(|r| {
            (
                r["at"].as_str().unwrap().to_owned(),
                r["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut sorted = ats.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(ats, sorted, "newest first");
    assert_eq!(seen[0]["action"], "note.update");

    // Each filter.
    assert_eq!(actions(&log(&h, "acme", t, "action=note.create").await).len(), 5);
    assert_eq!(
        actions(&log(&h, "acme", t, "action=note.update").await),
        ["note.update"]
    );
    let by_actor = log(&h, "acme", t, &format!("actor={}&model=note", o.user)).await;
    assert_eq!(actions(&by_actor).len(), 6);
    assert!(
        by_actor["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["actor_type"] == "user")
    );
    let nobody = rookery::uuid::Uuid::now_v7();
    assert!(actions(&log(&h, "acme", t, &format!("actor={nobody}")).await).is_empty());
    let record = log(&h, "acme", t, &format!("model=note&record={}", ids[1])).await;
    assert_eq!(actions(&record), ["note.update", "note.create"]);
    let from = before.to_rfc3339_opts(rookery::chrono::SecondsFormat::Micros, true);
    assert_eq!(
        actions(&log(&h, "acme", t, &format!("model=note&from={from}")).await).len(),
        6
    );
    assert!(actions(&log(&h, "acme", t, &format!("model=note&to={from}")).await).is_empty());
    let later = (rookery::chrono::Utc::now() + rookery::chrono::Duration::hours(1))
        .to_rfc3339_opts(rookery::chrono::SecondsFormat::Secs, true);
    assert!(actions(&log(&h, "acme", t, &format!("from={later}")).await).is_empty());
    assert_eq!(
        actions(&log(&h, "acme", t, &format!("model=note&to={later}")).await).len(),
        6
    );

    // Bad parameters are 400s; a reader without `audit.read` is refused.
    for bad in [
        "actor=nope",
        "from=yesterday",
        "limit=0",
        "cursor=zzz",
        "colour=red",
        "model=a%00b",
    ] {
        let reply = call(&h, "acme", "GET", &format!("/audit-log?{bad}"), t, None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}: {reply:?}");
    }
    let invited = call(
        &h,
        "acme",
        "POST",
        "/invitations",
        t,
        Some(json!({ "email": "v@acme.test", "role": "viewer" })),
    )
    .await;
    let body = json!({ "token": invited.str("token"), "password": PW });
    let viewer = h
        .call("POST", "/invitations/accept", Some("acme"), None, Some(body))
        .await;
    let reply = call(&h, "acme", "GET", "/audit-log", &viewer.str("access_token"), None).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
}

async fn platform_events_are_audited_without_secrets(h: Harness) {
    let o = owner(&h, "acme").await;
    let t = &o.token;
    // Sign-ins: a wrong password, an address nobody has, then a success.
    let wrong = "wrong horse battery staple";
    assert_eq!(
        h.login("acme", "owner@acme.test", wrong).await.status,
        StatusCode::UNAUTHORIZED
    );
    let stranger = "stranger@elsewhere.test";
    assert_eq!(h.login("acme", stranger, wrong).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(h.login("acme", "owner@acme.test", PW).await.status, StatusCode::OK);
    let failed = log(&h, "acme", t, "action=auth.sign_in_failed").await;
    let rows = failed["data"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{failed}");
    // Newest first: the stranger is nobody, the member is named.
    assert_eq!(rows[0]["actor_type"], "anonymous");
    assert!(rows[0]["actor_id"].is_null());
    assert_eq!(rows[0]["metadata"]["reason"], "unknown_account");
    assert_eq!(rows[1]["actor_id"], o.user.as_str());
    assert_eq!(rows[1]["metadata"]["reason"], "wrong_password");
    let signed_in = log(&h, "acme", t, "action=auth.sign_in").await;
    assert_eq!(signed_in["data"][0]["actor_id"], o.user.as_str());

    // API keys created and revoked.
    let key = call(
        &h,
        "acme",
        "POST",
        "/api-keys",
        t,
        Some(json!({ "name": "ci", "role": "member" })),
    )
    .await;
    assert_eq!(key.status, StatusCode::CREATED, "{key:?}");
    let key_id = key.str("id");
    let revoked = call(&h, "acme", "DELETE", &format!("/api-keys/{key_id}"), t, None).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let keys = log(&h, "acme", t, &format!("model=api_key&record={key_id}")).await;
    assert_eq!(actions(&keys), ["api_key.revoke", "api_key.create"]);

    // A member joins, has their role changed, and is removed.
    let invited = call(
        &h,
        "acme",
        "POST",
        "/invitations",
        t,
        Some(json!({ "email": "bo@acme.test", "role": "viewer" })),
    )
    .await;
    let body = json!({ "token": invited.str("token"), "password": PW });
    let bo = h
        .call("POST", "/invitations/accept", Some("acme"), None, Some(body))
        .await;
    let bo_id = bo.str_at("user", "id");
    let path = format!("/members/{bo_id}");
    let changed = call(&h, "acme", "PATCH", &path, t, Some(json!({ "role": "member" }))).await;
    assert_eq!(changed.status, StatusCode::OK, "{changed:?}");
    assert_eq!(
        call(&h, "acme", "DELETE", &path, t, None).await.status,
        StatusCode::NO_CONTENT
    );
    let member = log(&h, "acme", t, &format!("model=member&record={bo_id}")).await;
    let member_actions = actions(&member);
    assert!(
        member_actions.contains(&"member.role_changed".to_owned()),
        "{member_actions:?}"
    );
    assert!(
        member_actions.contains(&"member.removed".to_owned()),
        "{member_actions:?}"
    );
    let all = log(&h, "acme", t, "limit=100").await;
    let all_actions = actions(&all);
    assert!(
        all_actions.iter().any(|a| a.starts_with("invitation.")),
        "{all_actions:?}"
    );

    // No secret and no typed address of a stranger is anywhere in the log.
    let text = all.to_string();
    for secret in [
        PW,
        wrong,
        stranger,
        key.str("key").as_str(),
        invited.str("token").as_str(),
    ] {
        assert!(!text.contains(secret), "{secret} in the log");
    }
}

async fn another_tenants_rows_never_appear(h: Harness) {
    let acme = owner(&h, "acme").await;
    let beta = owner(&h, "beta").await;
    let beta_note = note(&h, "beta", &beta.token, json!({ "title": "beta's" })).await;
    note(&h, "acme", &acme.token, json!({ "title": "acme's" })).await;
    let page = log(&h, "acme", &acme.token, "limit=100").await;
    for row in page["data"].as_array().unwrap() {
        assert_ne!(row["actor_id"], beta.user.as_str(), "{row}");
        assert!(!row.to_string().contains("beta's"), "{row}");
    }
    assert!(actions(&log(&h, "acme", &acme.token, &format!("model=note&record={beta_note}")).await).is_empty());
    assert!(actions(&log(&h, "acme", &acme.token, &format!("actor={}", beta.user)).await).is_empty());
    // Beta's token on acme is refused, not answered with beta's rows.
    let reply = call(&h, "acme", "GET", "/audit-log", &beta.token, None).await;
    assert!(reply.status.is_client_error(), "{reply:?}");
    // Sealing and verifying one tenant touch no other's chain.
    chain::seal(h.db(), beta.tenant).await.expect("seal beta");
    let owner_db = h.owner_db().await;
    let reports = chain::verify_all(&owner_db, Some(acme.tenant)).await.expect("verify");
    owner_db.close().await;
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].2.sealed, 0, "acme was never sealed");
    assert!(reports[0].2.unsealed > 0);
}

async fn concurrent_writes_are_sealed_into_one_chain(h: Harness) {
    let o = owner(&h, "acme").await;
    // Writers and sealers at once: no writer waits for the chain, and every
    // row ends in it exactly once.
    let h = std::sync::Arc::new(h);
    let mut tasks = Vec::new();
    for i in 0..12 {
        let (h, token) = (h.clone(), o.token.clone());
        tasks.push(tokio::spawn(async move {
            note(&h, "acme", &token, json!({ "title": format!("n{i}") })).await;
        }));
    }
    for _ in 0..3 {
        let (h, tenant) = (h.clone(), o.tenant);
        tasks.push(tokio::spawn(async move {
            chain::seal(h.db(), tenant).await.expect("seal");
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    chain::seal(h.db(), o.tenant).await.expect("seal the rest");
    let owner_db = h.owner_db().await;
    let report = &chain::verify_all(&owner_db, Some(o.tenant)).await.expect("verify")[0].2;
    owner_db.close().await;
    assert!(report.broken.is_none(), "{report:?}");
    assert_eq!(report.unsealed, 0);
    let total = h.count("SELECT count(*) FROM audit_log").await;
    assert_eq!(report.sealed, u64::try_from(total).unwrap());
    assert_eq!(report.head.as_ref().map(|(seq, _)| *seq), Some(total));
    // The log shows each row's place in the chain.
    let page = log(&h, "acme", &o.token, "limit=100").await;
    let mut seqs: Vec<i64> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["seq"].as_i64().expect("sealed"))
        .collect();
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=total).collect::<Vec<_>>());
}

async fn a_sealing_round_seals_each_tenant_it_wrote_for_into_its_own_chain(h: Harness) {
    // `serve`'s round seals many tenants in one transaction, each under its
    // own setting and lock: every tenant written to gets a chain of its
    // own, from 1, and nobody else's rows.
    // 34 tenants: more than one group of 32 on PostgreSQL.
    let mut owners = Vec::new();
    for i in 0..34 {
        let slug = format!("t{i}");
        let o = owner(&h, &slug).await;
        for n in 0..=(i % 4) {
            note(&h, &slug, &o.token, json!({ "title": format!("{slug} {n}") })).await;
        }
        owners.push(o);
    }
    // In the round, t1 has nothing left to seal (sealed by hand), and t5's
    // chain has a head its new row continues.
    chain::seal(h.db(), owners[1].tenant).await.expect("seal t1");
    chain::seal(h.db(), owners[5].tenant).await.expect("seal t5");
    note(&h, "t5", &owners[5].token, json!({ "title": "t5 after" })).await;
    h.state.seal_audit().await.expect("the round");
    let owner_db = h.owner_db().await;
    let mut sealed = 0;
    for (i, o) in owners.iter().enumerate() {
        let report = &chain::verify_all(&owner_db, Some(o.tenant)).await.expect("verify")[0].2;
        assert!(report.broken.is_none(), "{report:?}");
        assert_eq!(report.unsealed, 0, "{report:?}");
        assert!(
            report.sealed > u64::try_from(i % 4).unwrap(),
            "its notes at least: {report:?}"
        );
        let head = report.head.as_ref().map(|(seq, _)| u64::try_from(*seq).unwrap());
        assert_eq!(head, Some(report.sealed), "one chain from 1 without gaps: {report:?}");
        sealed += report.sealed;
    }
    owner_db.close().await;
    let total = h.count("SELECT count(*) FROM audit_log").await;
    assert_eq!(
        sealed,
        u64::try_from(total).unwrap(),
        "every row in its own tenant's chain"
    );
    // A second round has nothing left to do and breaks nothing.
    h.state.seal_audit().await.expect("an empty round");
}

async fn the_verifier_names_a_changed_and_a_deleted_row(h: Harness) {
    let mut owners = Vec::new();
    for slug in ["acme", "beta", "gamma"] {
        let o = owner(&h, slug).await;
        for title in ["a", "b", "c", "d"] {
            note(&h, slug, &o.token, json!({ "title": title })).await;
        }
        chain::seal(h.db(), o.tenant).await.expect("seal");
        owners.push(o);
    }
    let owner_db = h.owner_db().await;
    let mut gamma_sealed = 0;
    for (_, slug, report) in chain::verify_all(&owner_db, None).await.expect("verify") {
        assert!(report.broken.is_none(), "{slug}: {report:?}");
        assert!(report.sealed >= 5, "{slug}: {report:?}");
        if slug == "gamma" {
            gamma_sealed = report.sealed;
        }
    }
    // Behind the app's back, as a superuser: acme's row 3 edited, beta's
    // row 4 deleted.
    h.exec(
        "UPDATE audit_log SET metadata = '{\"forged\": true}' WHERE seq = 3 AND tenant_id = (SELECT id FROM tenants WHERE slug = 'acme')",
        "UPDATE audit_log SET metadata = '{\"forged\": true}' WHERE seq = 3 AND tenant_id = (SELECT id FROM tenants WHERE slug = 'acme')",
    )
    .await;
    h.exec(
        "DELETE FROM audit_log WHERE seq = 4 AND tenant_id = (SELECT id FROM tenants WHERE slug = 'beta')",
        "DELETE FROM audit_log WHERE seq = 4 AND tenant_id = (SELECT id FROM tenants WHERE slug = 'beta')",
    )
    .await;
    let reports = chain::verify_all(&owner_db, None).await.expect("verify");
    let by_slug = |slug: &str| reports.iter().find(|(_, s, _)| s == slug).expect("tenant").2.clone();
    let acme = by_slug("acme").broken.expect("acme is broken");
    assert_eq!(acme.seq, 3);
    assert!(matches!(acme.problem, Problem::Changed { .. }), "{acme:?}");
    assert!(acme.to_string().contains("seq 3"), "{acme}");
    let beta = by_slug("beta").broken.expect("beta is broken");
    assert_eq!((beta.seq, beta.problem.clone()), (4, Problem::Missing { found: 5 }));
    assert!(by_slug("gamma").broken.is_none());
    // A row slipped in with a forged place in the chain is found too: a
    // copy of gamma's row 2 as the next row.
    h.exec(
        "INSERT INTO audit_log (tenant_id, id, actor_type, actor_id, action, target_type, target_id, request_id, metadata, at, changes, seq, hash) \
         SELECT tenant_id, '018f0000-0000-7000-8000-000000000001', actor_type, actor_id, 'note.delete', target_type, target_id, request_id, metadata, at, changes, \
         (SELECT max(seq) + 1 FROM audit_log WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'gamma')), hash \
         FROM audit_log WHERE seq = 2 AND tenant_id = (SELECT id FROM tenants WHERE slug = 'gamma')",
        "INSERT INTO audit_log (tenant_id, id, actor_type, actor_id, action, target_type, target_id, request_id, metadata, at, changes, seq, hash) \
         SELECT tenant_id, '018f0000-0000-7000-8000-000000000001', actor_type, actor_id, 'note.delete', target_type, target_id, request_id, metadata, at, changes, \
         (SELECT max(seq) + 1 FROM audit_log WHERE tenant_id = (SELECT id FROM tenants WHERE slug = 'gamma')), hash \
         FROM audit_log WHERE seq = 2 AND tenant_id = (SELECT id FROM tenants WHERE slug = 'gamma')",
    )
    .await;
    let gamma = chain::verify_all(&owner_db, Some(owners[2].tenant))
        .await
        .expect("verify");
    let forged = gamma[0].2.broken.clone().expect("gamma is broken");
    assert_eq!(u64::try_from(forged.seq).unwrap(), gamma_sealed + 1, "{forged:?}");
    owner_db.close().await;
}

async fn the_serving_role_cannot_rewrite_sealed_rows(h: Harness) {
    let o = owner(&h, "acme").await;
    note(&h, "acme", &o.token, json!({ "title": "a" })).await;
    chain::seal(h.db(), o.tenant).await.expect("the serving role seals");
    // On SQLite there are no roles: the app's own statements never touch
    // a sealed row, and the verifier is what finds one that did.
    if h.db().dialect() == rookery::db::Dialect::Postgres {
        // Resealing a sealed row reaches nothing (the restrictive policy).
        let mut tx = h.db().begin_write(o.tenant).await.expect("begin");
        let resealed = tx
            .sql("UPDATE audit_log SET seq = seq + 100, hash = hash WHERE tenant_id = $1 AND seq IS NOT NULL")
            .execute()
            .await;
        tx.commit().await.expect("commit");
        assert_eq!(resealed.expect("its own columns, no row"), 0);
        // Nor through the sealer's functions, which also give the
        // transaction its own tenant back after working in others.
        let other = owner(&h, "beta").await;
        let mut tx = h.db().begin_write(o.tenant).await.expect("begin");
        let through_sealer = tx
            .sql(
                "SELECT rookery_audit_seal(jsonb_build_object($1::text, (SELECT jsonb_agg(jsonb_build_object(\
                 'id', id, 'seq', seq + 100, 'hash', encode(hash, 'hex'))) FROM audit_log WHERE tenant_id = $1)))",
            )
            .fetch_all::<(i64,)>()
            .await
            .expect("the function runs");
        assert_eq!(through_sealer, [(0,)], "a sealed row is sealed once");
        note(&h, "beta", &other.token, json!({ "title": "b" })).await;
        let elsewhere = tx
            .sql("SELECT count(id) FROM rookery_audit_unsealed(ARRAY[$2::uuid], 10) WHERE tenant <> $1")
            .bind(other.tenant.0)
            .fetch_all::<(i64,)>()
            .await
            .expect("the function runs");
        assert!(
            elsewhere[0].0 > 0,
            "beta's unsealed rows, read in beta's setting: {elsewhere:?}"
        );
        let back = tx
            .sql("SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND current_setting('app.tenant_id') = $1::text")
            .fetch_all::<(i64,)>()
            .await
            .expect("read");
        tx.commit().await.expect("commit");
        assert!(back[0].0 > 0, "the transaction's tenant again: {back:?}");
        for sql in [
            "UPDATE audit_log SET action = 'forged' WHERE tenant_id = $1",
            "UPDATE audit_log SET changes = NULL WHERE tenant_id = $1",
            "DELETE FROM audit_log WHERE tenant_id = $1",
        ] {
            let mut tx = h.db().begin_write(o.tenant).await.expect("begin");
            let refused = tx.sql(sql).execute().await;
            assert!(refused.is_err(), "{sql} was allowed");
        }
    }
    let owner_db = h.owner_db().await;
    let report = &chain::verify_all(&owner_db, Some(o.tenant)).await.expect("verify")[0].2;
    owner_db.close().await;
    assert!(report.broken.is_none(), "{report:?}");
}
