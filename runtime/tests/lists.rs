//! Lists and fields users expect, on both dialects: range and `in`
//! filters parsed by the field's type and bound (SQL metacharacters stay
//! data), the `q=` search within the caller's tenant and scope, the
//! optional total, enum sort in declared order with the cursor, `email` and
//! `url` fields (an email unique without regard to case), and decimals
//! sent as JSON numbers.

#[macro_use]
mod support;

use axum::http::StatusCode;
use serde_json::{Value, json};
use support::{Harness, Reply};

const PW: &str = "correct horse battery";

on_both_backends!(
    range_and_in_filters_parse_by_type,
    filter_and_search_values_stay_data,
    search_stays_in_the_tenant_and_the_scope,
    count_totals_the_filtered_rows,
    enum_sort_follows_declared_order_across_pages,
    emails_and_urls_are_checked_and_emails_unique_without_case,
    decimals_are_accepted_as_json_numbers_exactly,
);

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

async fn owner(h: &Harness) -> String {
    h.signup("acme", "olga@example.com", PW).await.str("access_token")
}

async fn create(h: &Harness, token: &str, lead: Value) -> Reply {
    h.call("POST", "/leads", Some("acme"), Some(token), Some(lead)).await
}

async fn lead(h: &Harness, token: &str, lead: Value) -> Value {
    let reply = create(h, token, lead).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
    reply.body
}

async fn list(h: &Harness, token: &str, query: &str) -> Reply {
    h.call("GET", &format!("/leads?{query}"), Some("acme"), Some(token), None)
        .await
}

/// The names of the rows of a list that must succeed, in order.
async fn names(h: &Harness, token: &str, query: &str) -> Vec<String> {
    let reply = list(h, token, query).await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {reply:?}");
    reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn sorted_names(h: &Harness, token: &str, query: &str) -> Vec<String> {
    let mut names = names(h, token, query).await;
    names.sort();
    names
}

/// A 400 problem naming `parameter`.
fn assert_bad_parameter(reply: &Reply, parameter: &str) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    let text = reply.body.to_string();
    assert!(text.contains(parameter), "names `{parameter}`: {reply:?}");
}

async fn pipeline(h: &Harness, token: &str) {
    for (name, amount, seats, close, stage, seen) in [
        ("alpha", "9.5", 1, "2026-01-15", "new", "2026-01-01T10:00:00Z"),
        ("bravo", "10", 5, "2026-02-01", "qualified", "2026-01-02T10:00:00Z"),
        ("charlie", "10.00", 10, "2026-03-31", "won", "2026-01-03T10:00:00Z"),
        ("delta", "250.75", 0, "2026-12-31", "lost", "2026-01-04T10:00:00Z"),
    ] {
        lead(
            h,
            token,
            json!({"name": name, "amount": amount, "seats": seats, "close_date": close, "stage": stage, "seen_at": seen}),
        )
        .await;
    }
    // No close date, no time seen: never in a range.
    lead(h, token, json!({"name": "echo", "amount": "0", "seats": 3})).await;
}

async fn range_and_in_filters_parse_by_type(h: Harness) {
    let token = owner(&h).await;
    pipeline(&h, &token).await;
    let cases: &[(&str, &[&str])] = &[
        // Decimals compare as numbers on both dialects (`9.5 < 10`, `10 = 10.00`).
        ("amount[gte]=10", &["bravo", "charlie", "delta"]),
        ("amount[gt]=10", &["delta"]),
        ("amount[lt]=10", &["alpha", "echo"]),
        ("amount[lte]=10.0", &["alpha", "bravo", "charlie", "echo"]),
        ("amount=10", &["bravo", "charlie"]),
        ("amount[gte]=1&amount[lt]=100", &["alpha", "bravo", "charlie"]),
        ("seats[gt]=1&seats[lte]=5", &["bravo", "echo"]),
        ("seats[in]=0,10", &["charlie", "delta"]),
        ("close_date[lt]=2026-03-01", &["alpha", "bravo"]),
        ("close_date[gte]=2026-03-31", &["charlie", "delta"]),
        (
            "seen_at[gte]=2026-01-02T10:00:00Z&seen_at[lt]=2026-01-04T10:00:00Z",
            &["bravo", "charlie"],
        ),
        // An offset is an instant like any other.
        ("seen_at[gt]=2026-01-03T11:00:00%2B01:00", &["delta"]),
        ("stage[in]=new,lost", &["alpha", "delta", "echo"]),
        ("stage[in]=won", &["charlie"]),
        ("stage=qualified&amount[gte]=5", &["bravo"]),
    ];
    for (query, expected) in cases {
        assert_eq!(sorted_names(&h, &token, query).await, *expected, "{query}");
    }
    for (query, parameter) in [
        ("amount[gte]=ten", "amount[gte]"),
        ("seats[gt]=1.5", "seats[gt]"),
        ("close_date[lt]=31.12.2026", "close_date[lt]"),
        ("seen_at[gte]=yesterday", "seen_at[gte]"),
        ("stage[in]=new,closed", "stage[in]"),
        ("stage[gt]=new", "stage[gt]"),
        ("amount[between]=1", "amount[between]"),
        ("amount[gte]=1&amount[gte]=2", "amount[gte]"),
        ("notes[in]=a", "notes[in]"),
        ("count=maybe", "count"),
    ] {
        assert_bad_parameter(&list(&h, &token, query).await, parameter);
    }
}

/// Strings that would change a statement if they were formatted in.
const HOSTILE: &[&str] = &[
    "' OR '1'='1",
    "x'); DROP TABLE leads; --",
    "\" OR 1=1 --",
    "%",
    "_",
    "\\",
    "%_%",
    "a%b",
    "100%",
    "$1",
    "?",
    "); SELECT pg_sleep(0); --",
    "' UNION SELECT tenant_id FROM tenants --",
];

async fn filter_and_search_values_stay_data(h: Harness) {
    let token = owner(&h).await;
    for (i, name) in HOSTILE.iter().enumerate() {
        lead(&h, &token, json!({"name": name, "amount": "1", "seats": i})).await;
    }
    lead(&h, &token, json!({"name": "plain", "amount": "1", "seats": 99})).await;
    let all = names(&h, &token, "limit=100").await.len();
    assert_eq!(all, HOSTILE.len() + 1);
    for word in HOSTILE {
        // Each hostile string is searched for as text: only the rows that
        // contain it (ignoring case), never more.
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("q", word)
            .append_pair("limit", "100")
            .finish();
        let found = names(&h, &token, &query).await;
        let words: Vec<&str> = word.split_whitespace().collect();
        let expected: Vec<&str> = HOSTILE
            .iter()
            .chain(["plain"].iter())
            .copied()
            .filter(|name| words.iter().all(|w| name.to_lowercase().contains(&w.to_lowercase())))
            .collect();
        let mut found_sorted = found.clone();
        found_sorted.sort();
        let mut expected_sorted: Vec<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        expected_sorted.sort();
        assert_eq!(found_sorted, expected_sorted, "q={word:?}");
        assert!(found.len() < all, "q={word:?} does not match everything");
        // As an email filter: no match, no error (the address is bound).
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("email", word)
            .finish();
        assert!(names(&h, &token, &query).await.is_empty(), "email={word:?}");
        // As an enum value or a number: refused by its type, naming it.
        for key in ["stage[in]", "seats[gte]", "amount[lt]", "close_date[gt]"] {
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair(key, word)
                .finish();
            assert_bad_parameter(&list(&h, &token, &query).await, key);
        }
    }
    // The table is still there, with every row.
    assert_eq!(names(&h, &token, "limit=100").await.len(), all);
}

async fn search_stays_in_the_tenant_and_the_scope(h: Harness) {
    let token = owner(&h).await;
    h.set_plan("acme", "pro").await;
    let (viewer, viewer_id) = join(&h, &token, "vera@example.com", "viewer").await;
    lead(&h, &token, json!({"name": "Acme Robotics", "amount": "1", "seats": 1})).await;
    lead(
        &h,
        &token,
        json!({"name": "Globex", "notes": "met the ACME buyer at the fair", "amount": "1", "seats": 1}),
    )
    .await;
    lead(
        &h,
        &token,
        json!({"name": "Vera's acme deal", "amount": "1", "seats": 1, "owner": viewer_id}),
    )
    .await;
    lead(&h, &token, json!({"name": "Initech", "amount": "1", "seats": 1})).await;
    // Another tenant's acme never shows.
    let other = h.signup("umbrella", "ursula@example.com", PW).await.str("access_token");
    let theirs = h
        .call(
            "POST",
            "/leads",
            Some("umbrella"),
            Some(&other),
            Some(json!({"name": "Umbrella acme", "amount": "1", "seats": 1})),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{theirs:?}");

    // Case-insensitive, over the name and the notes.
    assert_eq!(
        sorted_names(&h, &token, "q=acme").await,
        ["Acme Robotics", "Globex", "Vera's acme deal"]
    );
    assert_eq!(sorted_names(&h, &token, "q=ROBOT").await, ["Acme Robotics"]);
    // Every word must be found (in any searchable field).
    assert_eq!(sorted_names(&h, &token, "q=acme%20fair").await, ["Globex"]);
    assert_eq!(sorted_names(&h, &token, "q=acme%20initech").await, Vec::<String>::new());
    // An empty search is no search.
    assert_eq!(names(&h, &token, "q=%20").await.len(), 4);
    // A viewer reads their own leads only: the search too.
    assert_eq!(sorted_names(&h, &viewer, "q=acme").await, ["Vera's acme deal"]);
    assert_eq!(names(&h, &viewer, "q=globex").await, Vec::<String>::new());
    // Together with filters and the total.
    let page = list(&h, &token, "q=acme&count=true&limit=1").await;
    assert_eq!(page.body["total"], 3, "{page:?}");
    assert_eq!(page.body["data"].as_array().unwrap().len(), 1);
    // A model without searchable fields has no `q`.
    let notes = h.call("GET", "/notes?q=x", Some("acme"), Some(&token), None).await;
    assert_bad_parameter(&notes, "q");
    let long = format!("q={}", "a".repeat(rookery::repo::MAX_SEARCH_LEN + 1));
    assert_bad_parameter(&list(&h, &token, &long).await, "q");
}

async fn count_totals_the_filtered_rows(h: Harness) {
    let token = owner(&h).await;
    h.set_plan("acme", "pro").await;
    let (viewer, viewer_id) = join(&h, &token, "vera@example.com", "viewer").await;
    pipeline(&h, &token).await;
    lead(
        &h,
        &token,
        json!({"name": "vera's", "amount": "20", "seats": 2, "owner": viewer_id}),
    )
    .await;
    // Without `count`, no total: the list shape is as it was.
    let plain = list(&h, &token, "").await;
    assert_eq!(plain.status, StatusCode::OK);
    assert!(plain.body.get("total").is_none(), "{plain:?}");
    assert_eq!(list(&h, &token, "count=false").await.body.get("total"), None);
    let all = list(&h, &token, "count=true&limit=2").await;
    assert_eq!(all.body["total"], 6, "{all:?}");
    assert_eq!(all.body["data"].as_array().unwrap().len(), 2);
    // The total stays the same on the next page.
    let cursor = all.str("next_cursor");
    let next = list(&h, &token, &format!("count=true&limit=2&cursor={cursor}")).await;
    assert_eq!(next.body["total"], 6, "{next:?}");
    // Under filters.
    assert_eq!(list(&h, &token, "count=true&amount[gte]=10").await.body["total"], 4);
    assert_eq!(list(&h, &token, "count=true&stage[in]=won,lost").await.body["total"], 2);
    assert_eq!(list(&h, &token, "count=true&seats[gt]=100").await.body["total"], 0);
    // Under the caller's scope: a viewer counts their own.
    assert_eq!(list(&h, &viewer, "count=true").await.body["total"], 1);
}

async fn enum_sort_follows_declared_order_across_pages(h: Harness) {
    let token = owner(&h).await;
    // Declared order: new, qualified, won, lost (alphabetical would be
    // lost, new, qualified, won). Created out of order, two per stage.
    for (name, stage) in [
        ("w1", "won"),
        ("l1", "lost"),
        ("n1", "new"),
        ("q1", "qualified"),
        ("l2", "lost"),
        ("w2", "won"),
        ("q2", "qualified"),
        ("n2", "new"),
    ] {
        lead(
            &h,
            &token,
            json!({"name": name, "stage": stage, "amount": "1", "seats": 1}),
        )
        .await;
    }
    for (sort, expected) in [
        ("stage", ["n1", "n2", "q1", "q2", "w1", "w2", "l1", "l2"]),
        ("-stage", ["l2", "l1", "w2", "w1", "q2", "q1", "n2", "n1"]),
    ] {
        // Pages of 3: the cursor continues within a stage and across stages.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let query = match &cursor {
                Some(c) => format!("sort={sort}&limit=3&cursor={c}"),
                None => format!("sort={sort}&limit=3"),
            };
            let page = list(&h, &token, &query).await;
            assert_eq!(page.status, StatusCode::OK, "{page:?}");
            for row in page.body["data"].as_array().unwrap() {
                seen.push(row["name"].as_str().unwrap().to_owned());
            }
            match page.body.get("next_cursor").and_then(Value::as_str) {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        assert_eq!(seen, expected, "sort={sort}");
    }
    // Sorted and filtered at once.
    assert_eq!(
        names(&h, &token, "sort=stage&stage[in]=lost,new").await,
        ["n1", "n2", "l1", "l2"]
    );
    // A cursor of another sort is refused.
    let page = list(&h, &token, "sort=stage&limit=1").await;
    let cursor = page.str("next_cursor");
    assert_bad_parameter(
        &list(&h, &token, &format!("sort=-stage&cursor={cursor}")).await,
        "cursor",
    );
}

async fn emails_and_urls_are_checked_and_emails_unique_without_case(h: Harness) {
    let token = owner(&h).await;
    let base = || json!({"name": "x", "amount": "1", "seats": 1});
    let with = |key: &str, value: &str| {
        let mut body = base();
        body[key] = json!(value);
        body
    };
    for bad in [
        "ann",
        "ann@localhost",
        "ann@@example.com",
        " ann@example.com",
        "ann lee@example.com",
        "ann@exa_mple.com",
    ] {
        let reply = create(&h, &token, with("email", bad)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {reply:?}");
        assert_eq!(reply.body["errors"][0]["field"], "email", "{reply:?}");
    }
    for bad in [
        "ftp://example.com",
        "javascript:alert(1)",
        "example.com",
        "https://",
        "https://exa mple.com",
        "//example.com",
    ] {
        let reply = create(&h, &token, with("site", bad)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}: {reply:?}");
        assert_eq!(reply.body["errors"][0]["field"], "site", "{reply:?}");
    }
    let mut good = with("email", "Ann.Lee@Example.com");
    good["site"] = json!("https://example.com/about?x=1#team");
    let ann = lead(&h, &token, good).await;
    // Stored as written.
    assert_eq!(ann["email"], "Ann.Lee@Example.com");
    assert_eq!(ann["site"], "https://example.com/about?x=1#team");
    // The same address in other case is taken: 409 naming the field.
    let again = create(&h, &token, with("email", "ann.lee@EXAMPLE.COM")).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{again:?}");
    assert!(again.body.to_string().contains("email"), "{again:?}");
    // Through PATCH too, and nothing changes.
    let other = lead(&h, &token, with("email", "bob@example.com")).await;
    let id = other["id"].as_i64().unwrap();
    let patch = h
        .call(
            "PATCH",
            &format!("/leads/{id}"),
            Some("acme"),
            Some(&token),
            Some(json!({"email": "ANN.LEE@example.com"})),
        )
        .await;
    assert_eq!(patch.status, StatusCode::CONFLICT, "{patch:?}");
    let bad_patch = h
        .call(
            "PATCH",
            &format!("/leads/{id}"),
            Some("acme"),
            Some(&token),
            Some(json!({"site": "mailto:bob@example.com"})),
        )
        .await;
    assert_eq!(bad_patch.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad_patch:?}");
    let read = h
        .call("GET", &format!("/leads/{id}"), Some("acme"), Some(&token), None)
        .await;
    assert_eq!(read.body["email"], "bob@example.com");
    assert_eq!(read.body["site"], Value::Null);
    // Several leads without an address.
    lead(&h, &token, base()).await;
    lead(&h, &token, base()).await;
    // The filter ignores case as the uniqueness does.
    assert_eq!(names(&h, &token, "email=ANN.LEE%40example.COM").await.len(), 1);
    assert_eq!(
        names(&h, &token, "email[in]=bob%40EXAMPLE.com,nobody%40example.com")
            .await
            .len(),
        1
    );
    // Unique per tenant: another tenant may use the address.
    let other = h.signup("umbrella", "ursula@example.com", PW).await.str("access_token");
    let theirs = h
        .call(
            "POST",
            "/leads",
            Some("umbrella"),
            Some(&other),
            Some(with("email", "ann.lee@example.com")),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{theirs:?}");
}

async fn decimals_are_accepted_as_json_numbers_exactly(h: Harness) {
    let token = owner(&h).await;
    // Sent as raw JSON: more digits than an f64 holds must survive.
    for (sent, stored) in [
        ("12.50", "12.50"),
        ("-0.1234567890123456789", "-0.1234567890123456789"),
        ("79228162514264337593543950335", "79228162514264337593543950335"),
        ("1.5e2", "150"),
        ("\"7.25\"", "7.25"),
    ] {
        let body = format!(r#"{{"name": "n", "seats": 1, "amount": {sent}}}"#);
        let reply = h.send_json("POST", "/leads", "acme", Some(&token), &body).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "{sent}: {:?}",
            String::from_utf8_lossy(&reply.body)
        );
        let json: Value = serde_json::from_slice(&reply.body).unwrap();
        // Answers write a string, as before.
        assert_eq!(json["amount"], json!(stored), "{sent}");
        let id = json["id"].as_i64().unwrap();
        let patch = format!(r#"{{"amount": {sent}}}"#);
        let reply = h
            .send_json("PATCH", &format!("/leads/{id}"), "acme", Some(&token), &patch)
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{sent}");
        let json: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(json["amount"], json!(stored), "{sent}");
    }
    for (sent, code) in [
        (format!("0.{}", "1".repeat(29)), "too_precise"),
        ("1e400".to_owned(), "too_precise"),
    ] {
        let body = format!(r#"{{"name": "n", "seats": 1, "amount": {sent}}}"#);
        let reply = h.send_json("POST", "/leads", "acme", Some(&token), &body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{sent}");
        let json: Value = serde_json::from_slice(&reply.body).unwrap();
        assert_eq!(json["errors"][0]["code"], code, "{json}");
        assert_eq!(json["errors"][0]["field"], "amount", "{json}");
    }
    // Other types are read as before: a number is no string.
    let body = r#"{"name": 5, "seats": 1, "amount": 1}"#;
    let reply = h.send_json("POST", "/leads", "acme", Some(&token), body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let body = r#"{"name": "n", "seats": "1", "amount": 1}"#;
    let reply = h.send_json("POST", "/leads", "acme", Some(&token), body).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}
