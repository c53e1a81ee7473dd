//! The tenant export (`GET /tenant/export`), tried to break on both
//! dialects: the archive holds every row of the tenant (across pages),
//! its members and its audit log, and nothing of any other tenant; only a
//! person holding `tenant.export` gets it, and asking is audited.

#[macro_use]
mod support;

use std::collections::BTreeMap;
use std::io::Read as _;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};
use support::{Harness, RawReply};

const PW: &str = "correct horse battery";

on_both_backends!(
    the_archive_holds_every_row_of_the_tenant_and_no_other,
    only_a_person_with_the_permission_exports,
);

async fn export(h: &Harness, tenant: &str, bearer: &str) -> RawReply {
    let request = Request::builder()
        .method("GET")
        .uri("/api/v1/tenant/export")
        .header("x-tenant", tenant)
        .header("authorization", format!("Bearer {bearer}"))
        .body(Body::empty())
        .expect("request");
    h.send(request).await
}

/// The archive's files, by path, each as its JSON lines.
fn unpack(reply: &RawReply) -> BTreeMap<String, Vec<Value>> {
    let mut archive = tar::Archive::new(reply.body.as_slice());
    let mut out = BTreeMap::new();
    for entry in archive.entries().expect("a tar archive") {
        let mut entry = entry.expect("an entry");
        let path = entry.path().expect("a path").display().to_string();
        let mut text = String::new();
        entry.read_to_string(&mut text).expect("UTF-8");
        let values = if path.ends_with(".json") {
            vec![serde_json::from_str(&text).expect("JSON")]
        } else {
            text.lines()
                .map(|l| serde_json::from_str(l).expect("a JSON line"))
                .collect()
        };
        out.insert(path, values);
    }
    out
}

/// Every line of the files under `dir`, in archive order.
fn lines<'a>(files: &'a BTreeMap<String, Vec<Value>>, dir: &str) -> Vec<&'a Value> {
    files
        .iter()
        .filter(|(path, _)| path.starts_with(dir))
        .flat_map(|(_, values)| values)
        .collect()
}

async fn deal(h: &Harness, tenant: &str, token: &str, title: &str) -> String {
    let created = h
        .call(
            "POST",
            "/deals",
            Some(tenant),
            Some(token),
            Some(json!({ "title": title })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    created.str("id")
}

async fn the_archive_holds_every_row_of_the_tenant_and_no_other(h: Harness) {
    let olga = h.signup("acme", "olga@example.com", PW).await.str("access_token");
    h.set_plan("acme", "pro").await;
    let gus = h.signup("globex", "gus@example.com", PW).await.str("access_token");
    h.set_plan("globex", "pro").await;
    // More than one page of deals (the list's 100), and globex's beside them.
    let mut ours = Vec::new();
    for i in 0..130 {
        ours.push(deal(&h, "acme", &olga, &format!("acme {i}")).await);
    }
    let theirs = deal(&h, "globex", &gus, "globex's secret").await;
    // A custom role each: only acme's is in acme's archive.
    for (tenant, token, name) in [("acme", &olga, "closer"), ("globex", &gus, "globex-role")] {
        let body = json!({ "name": name, "grants": ["deals.read"] });
        let created = h.call("POST", "/roles", Some(tenant), Some(token), Some(body)).await;
        assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    }

    let reply = export(&h, "acme", &olga).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.headers["content-type"], "application/x-tar");
    assert!(
        reply.headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("acme-export.tar"),
        "{reply:?}"
    );
    let files = unpack(&reply);
    let deals = lines(&files, "models/deals/");
    assert!(
        files.contains_key("models/deals/000002.jsonl"),
        "two pages: {:?}",
        files.keys()
    );
    let mut ids: Vec<String> = deals.iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect();
    ids.sort();
    ours.sort();
    assert_eq!(ids, ours, "every deal of acme, once each");
    assert!(deals.iter().all(|d| d["title"].as_str().unwrap().starts_with("acme")));
    // Nothing of globex anywhere in the archive.
    let text = String::from_utf8_lossy(&reply.body);
    assert!(
        !text.contains(&theirs) && !text.contains("globex") && !text.contains("gus@"),
        "globex leaked"
    );

    let members = lines(&files, "members/");
    assert_eq!(members.len(), 1);
    assert_eq!(
        (&members[0]["email"], &members[0]["role"]),
        (&json!("olga@example.com"), &json!("owner"))
    );
    let roles = lines(&files, "roles/");
    assert_eq!(roles.len(), 1, "{roles:?}");
    assert_eq!(
        (&roles[0]["name"], &roles[0]["grants"]),
        (&json!("closer"), &json!(["deals.read"]))
    );
    let audit = lines(&files, "audit_log/");
    assert!(
        audit.iter().any(|r| r["action"] == "tenant.export"),
        "the export itself is audited first"
    );
    let manifest = &files["manifest.json"][0];
    assert_eq!(manifest["tenant"]["slug"], "acme");
    assert_eq!(manifest["rows"]["models/deals"], 130);
    assert_eq!(manifest["rows"]["members"], 1);
    assert_eq!(manifest["rows"]["audit_log"], audit.len());
    // Globex's own export has its one deal only.
    let other = unpack(&export(&h, "globex", &gus).await);
    let theirs_listed: Vec<_> = lines(&other, "models/deals/").iter().map(|d| d["id"].clone()).collect();
    assert_eq!(theirs_listed, [json!(theirs)]);
}

async fn only_a_person_with_the_permission_exports(h: Harness) {
    let olga = h.signup("acme", "olga@example.com", PW).await.str("access_token");
    h.set_plan("acme", "pro").await;
    let invited = h
        .call(
            "POST",
            "/invitations",
            Some("acme"),
            Some(&olga),
            Some(json!({ "email": "ann@example.com", "role": "admin" })),
        )
        .await;
    let body = json!({ "token": invited.str("token"), "password": PW });
    let ann = h
        .call("POST", "/invitations/accept", Some("acme"), None, Some(body))
        .await
        .str("access_token");
    // An admin lacks `tenant.export`; the owner's API key is no person.
    let refused = export(&h, "acme", &ann).await;
    refused.assert_problem(StatusCode::FORBIDDEN);
    let key = h
        .call(
            "POST",
            "/api-keys",
            Some("acme"),
            Some(&olga),
            Some(json!({ "name": "backup", "role": "owner" })),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{key:?}");
    export(&h, "acme", &key.str("key"))
        .await
        .assert_problem(StatusCode::FORBIDDEN);
    // Acme's token on globex's export: refused before anything is read.
    h.signup("globex", "gus@example.com", PW).await;
    export(&h, "globex", &olga).await.assert_problem(StatusCode::FORBIDDEN);
    assert_eq!(
        h.count("SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.export'")
            .await,
        0,
        "no refused export is recorded as one"
    );
}
