//! Resource-level permissions, tried to break on both dialects: a deal has
//! an owner (a member), members write and delete their own deals only
//! (`deals.write:own`), viewers read their own only (`deals.read:own`),
//! admins and owners reach every deal; `approved` needs `deals.approve`,
//! `score` is the server's, and giving a deal away needs `deals.assign`.

#[macro_use]
mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::{Harness, Reply};

const PW: &str = "correct horse battery";

on_both_backends!(
    own_rows_versus_any_row,
    a_scope_narrows_lists_and_reads,
    the_owner_defaults_to_the_caller_and_is_not_theirs_to_give,
    guarded_fields_refuse_the_whole_write,
    a_hand_written_route_keeps_the_field_rules,
    an_api_key_acts_for_its_creator,
    a_scoped_list_pages_through_its_own_rows_only,
    naming_yourself_owner_needs_no_assign,
);

/// A problem+json answer with `status`.
trait Problem {
    fn assert_problem(&self, status: StatusCode);
}

impl Problem for Reply {
    fn assert_problem(&self, status: StatusCode) {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(self.body["status"], status.as_u16(), "{self:?}");
    }
}

/// Invites `email` as `role` and returns their access token and user id.
async fn join(h: &Harness, token: &str, email: &str, role: &str) -> (String, String) {
    let invited = h
        .call(
            "POST",
            "/invitations",
            Some("acme"),
            Some(token),
            Some(json!({ "email": email, "role": role })),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{invited:?}");
    let body = json!({ "token": invited.str("token"), "password": PW });
    let accepted = h
        .call("POST", "/invitations/accept", Some("acme"), None, Some(body))
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{accepted:?}");
    let token = accepted.str("access_token");
    let me = h.call("GET", "/me", Some("acme"), Some(&token), None).await;
    (token, me.str("user_id"))
}

/// The owner's token and user id, a member's (`ann`) and another member's (`ben`).
struct Team {
    owner: String,
    owner_id: String,
    ann: String,
    ann_id: String,
    ben: String,
    ben_id: String,
}

async fn team(h: &Harness) -> Team {
    let owner = h.signup("acme", "olga@example.com", PW).await.str("access_token");
    // Unlimited members.
    h.set_plan("acme", "pro").await;
    let me = h.call("GET", "/me", Some("acme"), Some(&owner), None).await;
    let (ann, ann_id) = join(h, &owner, "ann@example.com", "member").await;
    let (ben, ben_id) = join(h, &owner, "ben@example.com", "member").await;
    Team {
        owner_id: me.str("user_id"),
        owner,
        ann,
        ann_id,
        ben,
        ben_id,
    }
}

async fn create(h: &Harness, token: &str, body: Value) -> Reply {
    h.call("POST", "/deals", Some("acme"), Some(token), Some(body)).await
}

async fn deal(h: &Harness, token: &str, title: &str) -> String {
    let created = create(h, token, json!({ "title": title })).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    created.str("id")
}

async fn get(h: &Harness, token: &str, id: &str) -> Reply {
    h.call("GET", &format!("/deals/{id}"), Some("acme"), Some(token), None)
        .await
}

async fn patch(h: &Harness, token: &str, id: &str, body: Value) -> Reply {
    h.call("PATCH", &format!("/deals/{id}"), Some("acme"), Some(token), Some(body))
        .await
}

fn titles(reply: &Reply) -> Vec<String> {
    let mut titles: Vec<String> = reply.body["data"]
        .as_array()
        .expect("a page")
        .iter()
        .map(|d| d["title"].as_str().unwrap_or_default().to_owned())
        .collect();
    titles.sort();
    titles
}

fn refused_fields(reply: &Reply) -> Vec<(String, String)> {
    reply.assert_problem(StatusCode::FORBIDDEN);
    assert_eq!(
        reply.body["type"], "https://rookery.dev/problems/field-not-writable",
        "{reply:?}"
    );
    reply.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn own_rows_versus_any_row(h: Harness) {
    let t = team(&h).await;
    let anns = deal(&h, &t.ann, "ann's").await;
    let bens = deal(&h, &t.ben, "ben's").await;

    // Ann reads every deal (`deals.read` on any row) but writes her own only.
    assert_eq!(get(&h, &t.ann, &bens).await.status, StatusCode::OK);
    let refused = patch(&h, &t.ann, &bens, json!({ "title": "taken over" })).await;
    refused.assert_problem(StatusCode::FORBIDDEN);
    assert!(refused.str("detail").contains("your own rows only"), "{refused:?}");
    let refused = h
        .call("DELETE", &format!("/deals/{bens}"), Some("acme"), Some(&t.ann), None)
        .await;
    refused.assert_problem(StatusCode::FORBIDDEN);
    assert_eq!(get(&h, &t.ben, &bens).await.body["title"], "ben's");

    let renamed = patch(&h, &t.ann, &anns, json!({ "title": "ann's, renamed" })).await;
    assert_eq!(renamed.status, StatusCode::OK, "{renamed:?}");

    // The owner reaches every deal.
    let edited = patch(&h, &t.owner, &bens, json!({ "title": "edited by the owner" })).await;
    assert_eq!(edited.status, StatusCode::OK, "{edited:?}");
    let gone = h
        .call("DELETE", &format!("/deals/{bens}"), Some("acme"), Some(&t.ben), None)
        .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{gone:?}");

    // Another tenant's deal answers exactly as a missing one, also to a
    // scoped writer.
    let globex = h.signup("globex", "gus@example.com", PW).await.str("access_token");
    h.set_plan("globex", "pro").await;
    let theirs = h
        .call(
            "POST",
            "/deals",
            Some("globex"),
            Some(&globex),
            Some(json!({ "title": "theirs" })),
        )
        .await
        .str("id");
    let missing = uuid::Uuid::now_v7().to_string();
    for id in [&theirs, &missing] {
        let read = get(&h, &t.ann, id).await;
        read.assert_problem(StatusCode::NOT_FOUND);
        let write = patch(&h, &t.ann, id, json!({ "title": "x" })).await;
        write.assert_problem(StatusCode::NOT_FOUND);
        assert_eq!(write.body, get(&h, &t.ann, &missing).await.body);
    }
    let theirs_now = h
        .call("GET", &format!("/deals/{theirs}"), Some("globex"), Some(&globex), None)
        .await;
    assert_eq!(theirs_now.body["title"], "theirs");
}

async fn a_scope_narrows_lists_and_reads(h: Harness) {
    let t = team(&h).await;
    let (vic, vic_id) = join(&h, &t.owner, "vic@example.com", "viewer").await;
    deal(&h, &t.ann, "ann's").await;
    // Given to the viewer by the owner (who holds `deals.assign`).
    let given = create(&h, &t.owner, json!({ "title": "vic's", "owner": vic_id })).await;
    assert_eq!(given.status, StatusCode::CREATED, "{given:?}");
    assert_eq!(given.body["owner"], vic_id.as_str());
    let anns = deal(&h, &t.ann, "ann's second").await;

    let listed = h.call("GET", "/deals", Some("acme"), Some(&vic), None).await;
    assert_eq!(titles(&listed), ["vic's"]);
    // Paging through the scoped list never reaches others' rows.
    let paged = h.call("GET", "/deals?limit=1", Some("acme"), Some(&vic), None).await;
    assert_eq!(titles(&paged), ["vic's"]);
    assert!(paged.body.get("next_cursor").is_none(), "{paged:?}");
    // Others' deals are invisible to the viewer: 404, not 403.
    get(&h, &vic, &anns).await.assert_problem(StatusCode::NOT_FOUND);
    assert_eq!(get(&h, &vic, &given.str("id")).await.status, StatusCode::OK);
    // And not writable at all (no `deals.write`).
    patch(&h, &vic, &given.str("id"), json!({ "title": "x" }))
        .await
        .assert_problem(StatusCode::FORBIDDEN);

    let all = h.call("GET", "/deals", Some("acme"), Some(&t.ann), None).await;
    assert_eq!(titles(&all), ["ann's", "ann's second", "vic's"]);
}

async fn the_owner_defaults_to_the_caller_and_is_not_theirs_to_give(h: Harness) {
    let t = team(&h).await;
    let created = create(&h, &t.ann, json!({ "title": "mine" })).await;
    assert_eq!(created.body["owner"], t.ann_id.as_str(), "{created:?}");
    let id = created.str("id");

    // Naming someone else needs `deals.assign`: on create and on update.
    let given = create(&h, &t.ann, json!({ "title": "for ben", "owner": t.ben_id })).await;
    assert_eq!(
        refused_fields(&given),
        [("owner".to_owned(), "needs_permission".to_owned())]
    );
    let moved = patch(&h, &t.ann, &id, json!({ "owner": t.ben_id })).await;
    assert_eq!(
        refused_fields(&moved),
        [("owner".to_owned(), "needs_permission".to_owned())]
    );
    assert_eq!(get(&h, &t.ann, &id).await.body["owner"], t.ann_id.as_str());
    // Naming herself on her own deal changes nothing and is allowed.
    let same = patch(&h, &t.ann, &id, json!({ "owner": t.ann_id })).await;
    assert_eq!(same.status, StatusCode::OK, "{same:?}");
    let listed = h.call("GET", "/deals", Some("acme"), Some(&t.owner), None).await;
    assert_eq!(titles(&listed), ["mine"]);

    // The owner may give it away; Ann then no longer writes it.
    let reassigned = patch(&h, &t.owner, &id, json!({ "owner": t.ben_id })).await;
    assert_eq!(reassigned.body["owner"], t.ben_id.as_str(), "{reassigned:?}");
    patch(&h, &t.ann, &id, json!({ "title": "still mine?" }))
        .await
        .assert_problem(StatusCode::FORBIDDEN);
    assert_eq!(
        patch(&h, &t.ben, &id, json!({ "title": "ben's now" })).await.status,
        StatusCode::OK
    );

    // Only a member of this tenant can own a row: another tenant's user
    // or no one at all is refused, and nothing is written.
    let outsider = h.signup("globex", "gus@example.com", PW).await.str("access_token");
    let gus = h
        .call("GET", "/me", Some("globex"), Some(&outsider), None)
        .await
        .str("user_id");
    for stranger in [gus, uuid::Uuid::now_v7().to_string()] {
        let refused = create(&h, &t.owner, json!({ "title": "nobody's", "owner": stranger })).await;
        refused.assert_problem(StatusCode::UNPROCESSABLE_ENTITY);
    }
    let listed = h.call("GET", "/deals", Some("acme"), Some(&t.owner), None).await;
    assert_eq!(titles(&listed), ["ben's now"]);
    let _ = t.owner_id;
}

async fn guarded_fields_refuse_the_whole_write(h: Harness) {
    let t = team(&h).await;
    let audited = "SELECT COUNT(*) FROM audit_log WHERE action LIKE 'deal.%'";

    // Approving on create, or setting the server's score, refuses it all.
    let before = h.count(audited).await;
    let refused = create(
        &h,
        &t.ann,
        json!({ "title": "pre-approved", "approved": true, "score": 99 }),
    )
    .await;
    let mut fields = refused_fields(&refused);
    fields.sort();
    assert_eq!(
        fields,
        [
            ("approved".to_owned(), "needs_permission".to_owned()),
            ("score".to_owned(), "read_only".to_owned())
        ]
    );
    assert_eq!(h.count("SELECT COUNT(*) FROM deals").await, 0);
    assert_eq!(h.count(audited).await, before);

    let id = deal(&h, &t.ann, "plain").await;
    let before = h.count(audited).await;
    // A PATCH that also renames changes nothing when one field is refused.
    let refused = patch(&h, &t.ann, &id, json!({ "title": "renamed", "approved": true })).await;
    assert_eq!(
        refused_fields(&refused),
        [("approved".to_owned(), "needs_permission".to_owned())]
    );
    let refused = patch(&h, &t.ann, &id, json!({ "score": 1 })).await;
    assert_eq!(refused_fields(&refused), [("score".to_owned(), "read_only".to_owned())]);
    let now = get(&h, &t.ann, &id).await;
    assert_eq!(
        (now.body["title"].clone(), now.body["approved"].clone()),
        (json!("plain"), json!(false))
    );
    assert_eq!(h.count(audited).await, before);
    // Even the owner never sets the score; the owner may approve.
    let refused = patch(&h, &t.owner, &id, json!({ "score": 1 })).await;
    assert_eq!(refused_fields(&refused), [("score".to_owned(), "read_only".to_owned())]);
    let approved = patch(&h, &t.owner, &id, json!({ "approved": true })).await;
    assert_eq!(approved.body["approved"], true, "{approved:?}");
    assert_eq!(h.count(audited).await, before + 1);
}

async fn a_hand_written_route_keeps_the_field_rules(h: Harness) {
    let t = team(&h).await;
    let id = deal(&h, &t.ann, "by hand").await;
    let path = format!("/deals/{id}/approve");
    let refused = h.call("POST", &path, Some("acme"), Some(&t.ann), None).await;
    assert_eq!(
        refused_fields(&refused),
        [("approved".to_owned(), "needs_permission".to_owned())]
    );
    assert_eq!(get(&h, &t.ann, &id).await.body["approved"], false);
    // A deal that does not exist answers 404 even to one who may approve.
    let missing = format!("/deals/{}/approve", uuid::Uuid::now_v7());
    h.call("POST", &missing, Some("acme"), Some(&t.owner), None)
        .await
        .assert_problem(StatusCode::NOT_FOUND);
    let approved = h.call("POST", &path, Some("acme"), Some(&t.owner), None).await;
    assert_eq!(approved.status, StatusCode::OK, "{approved:?}");
    assert_eq!(approved.body["approved"], true);
}

async fn an_api_key_acts_for_its_creator(h: Harness) {
    let t = team(&h).await;
    let key = h
        .call(
            "POST",
            "/api-keys",
            Some("acme"),
            Some(&t.ann),
            Some(json!({ "name": "ann's script", "role": "member" })),
        )
        .await;
    assert_eq!(key.status, StatusCode::CREATED, "{key:?}");
    let key = key.str("key");
    let made = create(&h, &key, json!({ "title": "scripted" })).await;
    assert_eq!(made.body["owner"], t.ann_id.as_str(), "{made:?}");
    let bens = deal(&h, &t.ben, "ben's").await;
    patch(&h, &key, &bens, json!({ "title": "x" }))
        .await
        .assert_problem(StatusCode::FORBIDDEN);
    let renamed = patch(&h, &key, &made.str("id"), json!({ "title": "scripted, renamed" })).await;
    assert_eq!(renamed.status, StatusCode::OK, "{renamed:?}");
    // A key cannot hand out more than its creator reaches: an admin key.
    let stronger = h
        .call(
            "POST",
            "/api-keys",
            Some("acme"),
            Some(&t.ann),
            Some(json!({ "name": "escalate", "role": "admin" })),
        )
        .await;
    stronger.assert_problem(StatusCode::FORBIDDEN);
}

/// Paging a scoped list in a chosen order reaches every one of the
/// caller's rows, once each, in order, and nobody else's.
async fn a_scoped_list_pages_through_its_own_rows_only(h: Harness) {
    let t = team(&h).await;
    let (vic, vic_id) = join(&h, &t.owner, "vic@example.com", "viewer").await;
    for title in ["c", "a", "e"] {
        let given = create(&h, &t.owner, json!({ "title": title, "owner": vic_id })).await;
        assert_eq!(given.status, StatusCode::CREATED, "{given:?}");
    }
    // Others' rows sort between and around the viewer's.
    for title in ["b", "d", "f", "0"] {
        deal(&h, &t.ann, title).await;
    }
    let mut seen = Vec::new();
    let mut path = "/deals?limit=1&sort=created_at".to_owned();
    loop {
        let page = h.call("GET", &path, Some("acme"), Some(&vic), None).await;
        assert_eq!(page.status, StatusCode::OK, "{page:?}");
        seen.extend(titles(&page));
        let Some(next) = page.body.get("next_cursor").and_then(Value::as_str) else {
            break;
        };
        path = format!("/deals?limit=1&sort=created_at&cursor={next}");
        assert!(seen.len() <= 3, "more pages than rows: {seen:?}");
    }
    assert_eq!(seen, ["c", "a", "e"], "in the order they were made");
}

/// With `deals.write` on every row but no `deals.assign`, the owner may be
/// named only as the caller: on a row someone else owns that is a change
/// of owner (refused), on one's own it is no change.
async fn naming_yourself_owner_needs_no_assign(h: Harness) {
    let t = team(&h).await;
    let (ada, ada_id) = join(&h, &t.owner, "ada@example.com", "admin").await;
    let bens = deal(&h, &t.ben, "ben's").await;
    let admins = deal(&h, &ada, "ada's").await;
    // The admin holds `deals.assign`: taking Ben's deal is allowed.
    let taken = patch(&h, &ada, &bens, json!({ "owner": ada_id })).await;
    assert_eq!(taken.status, StatusCode::OK, "{taken:?}");
    assert_eq!(taken.body["owner"], ada_id.as_str());
    // Ann (own rows only, no assign) cannot take it back for herself,
    // nor reach it at all: it is not her row.
    let refused = patch(&h, &t.ann, &bens, json!({ "owner": t.ann_id })).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    assert_eq!(get(&h, &t.ann, &bens).await.body["owner"], ada_id.as_str());
    let same = patch(&h, &ada, &admins, json!({ "owner": ada_id })).await;
    assert_eq!(same.status, StatusCode::OK, "{same:?}");
}
