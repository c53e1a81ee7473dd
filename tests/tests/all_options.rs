//! The spec that uses every option of every field type
//! (`generator/tests/generate/all_options/rookery.toml`), generated, built
//! and served on SQLite and on PostgreSQL: what `rookery check` accepts
//! builds and serves. Decimal bounds hold in the API and in the database,
//! decimals sort as numbers, a ref named `owner_id` is stored in
//! `owner_id`, and models and fields named by SQL and Rust keywords
//! (`order`, `type`, `group`, `where`) work on every route.

mod support;

use std::path::PathBuf;

use serde_json::{Value, json};
use support::{Database, Server, call};

fn app() -> PathBuf {
    let spec = support::workspace().join("generator/tests/generate/all_options/rookery.toml");
    support::generated_project("all_options_e2e", &spec)
}

fn req(base: &str, method: &str, path: &str, auth: &[(&str, &str)], body: Option<Value>) -> (u16, Value) {
    let (status, body, _) = call(base, method, path, auth, body.as_ref());
    (status, body)
}

/// Runs SQL straight on the app's database, as its owner.
type Sql<'a> = &'a dyn Fn(&str) -> Result<(), String>;

/// Signs up, creates products through the API and checks every rule
/// that involves the database; `sql` reaches the database directly.
fn exercise(base: &str, sql: Sql<'_>) {
    let (s, body) = req(
        base,
        "POST",
        "/api/v1/auth/signup",
        &[],
        Some(
            json!({"tenant_slug": "acme", "tenant_name": "Acme", "email": "ada@acme.test", "password": "correct horse battery"}),
        ),
    );
    assert_eq!(s, 201, "{body}");
    let token = format!("Bearer {}", body["access_token"].as_str().unwrap());
    let tenant = body["tenant"]["id"].as_str().unwrap().to_owned();
    let auth = [("authorization", token.as_str()), ("x-tenant", tenant.as_str())];
    let (s, me) = req(base, "GET", "/api/v1/me", &auth, None);
    assert_eq!(s, 200, "{me}");
    let user = me["user_id"].as_str().unwrap().to_owned();
    let (s, category) = req(
        base,
        "POST",
        "/api/v1/categories",
        &auth,
        Some(json!({"label": "tools"})),
    );
    assert_eq!(s, 201, "{category}");
    let category = category["id"].as_str().unwrap().to_owned();
    let product = |sku: &str, weight: i64, price: Option<&str>| {
        let mut body = json!({
            "sku": sku, "body": "…", "extra": {"k": [1]}, "category": category,
            "owner_id": user, "weight": weight.to_string(),
        });
        if let Some(price) = price {
            body["price"] = json!(price);
        }
        req(base, "POST", "/api/v1/products", &auth, Some(body))
    };

    // Decimal bounds (min 0, max 10), exactly, in the API.
    for (price, code) in [("10.01", "too_large"), ("-0.001", "too_small"), ("100", "too_large")] {
        let (s, body) = product("bad", 0, Some(price));
        assert_eq!(s, 422, "{price}: {body}");
        let codes: Vec<_> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
            .collect();
        assert_eq!(codes, [("price", code)], "{price}: {body}");
    }
    let mut ids = Vec::new();
    for (sku, weight, price) in [
        ("a", 1, Some("9.5")),
        ("b", 2, Some("10")),
        ("c", 3, Some("2")),
        ("d", 4, None),
    ] {
        let (s, body) = product(sku, weight, price);
        assert_eq!(s, 201, "{sku}: {body}");
        assert_eq!(body["owner_id"], json!(user), "{body}");
        ids.push(body["id"].clone());
    }

    // Sorted as numbers (text order would be 10, 2, 9.5, 9.50), page by page.
    let mut prices = Vec::new();
    let mut path = "/api/v1/products?sort=price&limit=1".to_owned();
    loop {
        let (s, page) = req(base, "GET", &path, &auth, None);
        assert_eq!(s, 200, "{page}");
        for row in page["data"].as_array().unwrap() {
            prices.push(row["price"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/products?sort=price&limit=1&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(prices, ["2", "9.5", "9.50", "10"]);
    // The default sort is `-price` (equal prices by id, also descending); a
    // filter on a decimal matches the number.
    let (_, page) = req(base, "GET", "/api/v1/products?limit=2", &auth, None);
    let first: Vec<_> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sku"].clone())
        .collect();
    assert_eq!(first, [json!("b"), json!("d")], "{page}");
    let (s, page) = req(base, "GET", "/api/v1/products?price=9.50", &auth, None);
    assert_eq!(s, 200, "{page}");
    let skus: Vec<_> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["sku"].clone())
        .collect();
    assert_eq!(skus, [json!("d"), json!("a")], "{page}");

    // The database's CHECK agrees with the API, as numbers.
    let set_price = |price: &str| sql(&format!("UPDATE products SET price = {price} WHERE id = {}", ids[0]));
    for inside in ["'9.99'", "'10'", "'0'", "'10.000'"] {
        set_price(inside).unwrap_or_else(|e| panic!("{inside} is within the bounds: {e}"));
    }
    for outside in ["'10.5'", "'-1'", "'11'"] {
        assert!(set_price(outside).is_err(), "{outside} is outside the bounds");
    }
    // A reference named `owner_id` is stored in column `owner_id`.
    sql("UPDATE products SET owner_id = owner_id").unwrap();

    // SQL and Rust keywords as names: JSON names as written, every route.
    let mut orders = Vec::new();
    for (group, kind) in [("b", "sale"), ("a", "self"), ("c", "sale")] {
        let body = json!({"group": group, "type": kind, "limit": 2, "select": ids[0]});
        let (s, order) = req(base, "POST", "/api/v1/orders", &auth, Some(body));
        assert_eq!(s, 201, "{order}");
        assert_eq!(
            (&order["type"], &order["default"]),
            (&json!(kind), &json!(false)),
            "{order}"
        );
        orders.push(order["id"].clone());
    }
    let (s, page) = req(base, "GET", "/api/v1/orders?limit=2", &auth, None);
    assert_eq!(s, 200, "{page}");
    let groups: Vec<_> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["group"].clone())
        .collect();
    assert_eq!(groups, [json!("a"), json!("b")], "sorted by `group`: {page}");
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = req(
        base,
        "GET",
        &format!("/api/v1/orders?limit=2&cursor={cursor}"),
        &auth,
        None,
    );
    assert_eq!(rest["data"][0]["group"], json!("c"), "{rest}");
    let (_, sales) = req(base, "GET", "/api/v1/orders?type=sale&group=c", &auth, None);
    assert_eq!(sales["data"].as_array().unwrap().len(), 1, "{sales}");
    // Orders have the default key, uuid v7: a JSON string.
    let one = format!("/api/v1/orders/{}", orders[0].as_str().unwrap());
    let (s, changed) = req(
        base,
        "PATCH",
        &one,
        &auth,
        Some(json!({"user": "ada", "default": true, "limit": 11})),
    );
    assert_eq!(s, 422, "`limit` is at most 10: {changed}");
    let (s, changed) = req(
        base,
        "PATCH",
        &one,
        &auth,
        Some(json!({"user": "ada", "default": true})),
    );
    assert_eq!(s, 200, "{changed}");
    assert_eq!((&changed["user"], &changed["default"]), (&json!("ada"), &json!(true)));
    let other = format!("/api/v1/orders/{}", orders[1].as_str().unwrap());
    let (s, clash) = req(base, "PATCH", &other, &auth, Some(json!({"user": "ada"})));
    assert_eq!(s, 409, "`user` is unique: {clash}");
    let (s, kind) = req(
        base,
        "POST",
        "/api/v1/types",
        &auth,
        Some(json!({"order": orders[0], "where": "here"})),
    );
    assert_eq!(s, 201, "{kind}");
    assert_eq!((&kind["order"], &kind["where"]), (&orders[0], &json!("here")), "{kind}");
    let (s, _) = req(base, "DELETE", &one, &auth, None);
    assert_eq!(s, 204);
    let (_, kinds) = req(base, "GET", "/api/v1/types", &auth, None);
    assert_eq!(kinds["data"], json!([]), "the delete cascaded: {kinds}");
}

#[test]
fn every_option_builds_and_serves_on_sqlite() {
    let bin = app();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("app.sqlite");
    let url = format!("sqlite:{}", file.display());
    let server = Server::start(&bin, &[("DATABASE_URL", &url)]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = rt.block_on(sqlx::SqlitePool::connect(&url)).unwrap();
    let sql = |text: &str| {
        rt.block_on(sqlx::query(sqlx::AssertSqlSafe(text.to_owned())).execute(&pool))
            .map(drop)
            .map_err(|e| e.to_string())
    };
    exercise(&server.base, &sql);
    rt.block_on(pool.close());
    assert!(server.stop().success());
}

#[test]
fn every_option_builds_and_serves_on_postgres() {
    let bin = app();
    // As the README says: a non-superuser owner migrates, a member of
    // `catalogue_app` serves; the superuser only inspects.
    let db = Database::create_for("catalogue");
    db.migrate_with(&bin);
    let server = Server::start(&bin, &[("DATABASE_URL", &db.serving_url)]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = rt.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
    let sql = |text: &str| {
        rt.block_on(sqlx::query(sqlx::AssertSqlSafe(text.to_owned())).execute(&pool))
            .map(drop)
            .map_err(|e| e.to_string())
    };
    exercise(&server.base, &sql);
    rt.block_on(pool.close());
    assert!(server.stop().success());
}
