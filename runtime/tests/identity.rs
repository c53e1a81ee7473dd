//! Identity routes end to end, through the router, on SQLite and on
//! PostgreSQL (row-level security on): sign-up, login, refresh rotation and
//! reuse detection, API keys, invitations and the members quota, and the
//! tenant boundary of every credential.

#[macro_use]
mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::Harness;

const PW: &str = "correct horse battery";

on_both_backends!(
    signup_login_me,
    signup_validates_and_conflicts,
    failed_signup_leaves_nothing_behind,
    login_failures_look_alike,
    wrong_passwords_lock_the_account_not_the_address,
    login_is_scoped_to_the_tenant,
    refresh_rotates_and_detects_reuse,
    logout_revokes,
    api_keys_lifecycle,
    roles_bound_what_can_be_granted,
    invitation_flow_and_members_quota,
    invitation_tokens_are_single_use_and_expire,
    a_token_without_a_named_tenant_is_told_so,
    operations_enforce_their_permission,
);

/// There is no default tenant, not even the token's: a request that names
/// none is refused, and the problem says what to send.
async fn a_token_without_a_named_tenant_is_told_so(h: Harness) {
    let signup = h.signup("acme", "ada@example.com", PW).await;
    let token = signup.str("access_token");
    let tenant = signup.body["tenant"]["id"].as_str().unwrap().to_owned();
    let missing = h.call("GET", "/me", None, Some(&token), None).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN, "{missing:?}");
    let detail = missing.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("names no tenant") && detail.contains("X-Tenant"),
        "{missing:?}"
    );
    let malformed = h.call("GET", "/me", Some("Not A Tenant!"), Some(&token), None).await;
    assert_eq!(malformed.status, StatusCode::FORBIDDEN);
    assert!(
        malformed.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("not a tenant id or slug"),
        "{malformed:?}"
    );
    let named = h.call("GET", "/me", Some(&tenant), Some(&token), None).await;
    assert_eq!(named.status, StatusCode::OK, "{named:?}");
}

async fn signup_login_me(h: Harness) {
    let signup = h.signup("acme", "Ada@Example.com", PW).await;
    assert_eq!(signup.body["tenant"]["slug"], "acme");
    assert_eq!(signup.body["tenant"]["name"], "ACME");
    assert_eq!(signup.body["tenant"]["plan"], "free", "the first plan");
    assert_eq!(signup.body["user"]["email"], "ada@example.com");
    assert_eq!(signup.body["token_type"], "Bearer");
    assert_eq!(signup.body["expires_in"], 900);
    assert!(signup.body.get("password").is_none());

    let login = h.login("acme", "ada@example.com", PW).await;
    assert_eq!(login.status, StatusCode::OK, "{login:?}");
    let token = login.str("access_token");
    assert!(!login.str("refresh_token").is_empty());

    let me = h.call("GET", "/me", Some("acme"), Some(&token), None).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.body["user_id"], signup.body["user"]["id"]);
    assert_eq!(me.body["tenant_id"], signup.body["tenant"]["id"]);
    assert_eq!(me.body["role"], "owner", "the first role");
    assert!(
        me.body["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("members.manage"))
    );
    assert_eq!(me.body["via"], "user");

    // The sign-up's own token works too, by tenant id as well as by slug.
    let tenant_id = signup.body["tenant"]["id"].as_str().unwrap().to_owned();
    let me = h
        .call("GET", "/me", Some(&tenant_id), Some(&signup.str("access_token")), None)
        .await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(
        h.call("GET", "/me", Some("acme"), None, None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.audit_rows()
            .await
            .iter()
            .filter(|(a, _)| a == "tenant.create")
            .count(),
        1
    );
}

async fn signup_validates_and_conflicts(h: Harness) {
    let bad = json!({ "tenant_slug": "1-Bad", "tenant_name": " ", "email": "not-an-email", "password": "short" });
    let reply = h.call("POST", "/auth/signup", None, None, Some(bad)).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{reply:?}");
    let fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["tenant_slug", "tenant_name", "email", "password"]);

    let unknown_field =
        json!({ "tenant_slug": "acme", "tenant_name": "A", "email": "a@b.co", "password": PW, "role": "owner" });
    assert_eq!(
        h.call("POST", "/auth/signup", None, None, Some(unknown_field))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );

    h.signup("acme", "ada@example.com", PW).await;
    // An existing account cannot sign up again, even with its password:
    // sign-up is no password oracle.
    let body = json!({ "tenant_slug": "acme-two", "tenant_name": "X", "email": "ADA@example.com", "password": PW });
    let right = h.call("POST", "/auth/signup", None, None, Some(body)).await;
    assert_eq!(right.status, StatusCode::CONFLICT, "{right:?}");
    // Slug taken.
    let body = json!({ "tenant_slug": "acme", "tenant_name": "X", "email": "bob@example.com", "password": PW });
    let reply = h.call("POST", "/auth/signup", None, None, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{reply:?}");
    // Existing email, wrong password.
    let body = json!({ "tenant_slug": "other", "tenant_name": "X", "email": "ada@example.com", "password": "wrong password!" });
    let reply = h.call("POST", "/auth/signup", None, None, Some(body)).await;
    assert_eq!(reply.status, StatusCode::CONFLICT, "{reply:?}");
    assert!(!reply.body.to_string().contains("password!"));
    assert_eq!(reply.body, right.body, "right and wrong passwords answer alike");

    assert_eq!(h.count("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(h.count("SELECT COUNT(*) FROM tenants").await, 1);
}

async fn failed_signup_leaves_nothing_behind(h: Harness) {
    h.signup("acme", "ada@example.com", PW).await;
    let before = (
        h.count("SELECT COUNT(*) FROM users").await,
        h.count("SELECT COUNT(*) FROM tenants").await,
        h.count("SELECT COUNT(*) FROM memberships").await,
        h.count("SELECT COUNT(*) FROM refresh_tokens").await,
    );
    for body in [
        json!({ "tenant_slug": "acme", "tenant_name": "Dup", "email": "new@example.com", "password": PW }),
        json!({ "tenant_slug": "fresh", "tenant_name": "Fresh", "email": "ada@example.com", "password": "not her password" }),
        json!({ "tenant_slug": "fresh", "tenant_name": "Fresh", "email": "new@example.com", "password": "short" }),
    ] {
        let reply = h.call("POST", "/auth/signup", None, None, Some(body)).await;
        assert!(reply.status.is_client_error(), "{reply:?}");
    }
    let after = (
        h.count("SELECT COUNT(*) FROM users").await,
        h.count("SELECT COUNT(*) FROM tenants").await,
        h.count("SELECT COUNT(*) FROM memberships").await,
        h.count("SELECT COUNT(*) FROM refresh_tokens").await,
    );
    assert_eq!(before, after);
    assert_eq!(before, (1, 1, 1, 1));
}

async fn login_failures_look_alike(h: Harness) {
    h.signup("acme", "ada@example.com", PW).await;
    let wrong_password = h.login("acme", "ada@example.com", "not the password").await;
    let unknown_email = h.login("acme", "nobody@example.com", PW).await;
    assert_eq!(wrong_password.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown_email.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong_password.body, unknown_email.body);
    assert!(!wrong_password.body.to_string().contains("not the password"));
}

/// Ten failed password checks per account and hour (the default), from
/// any address: then even the right password waits. Right passwords do not
/// count, other accounts are unaffected, and unknown emails lock the same
/// way (a 429 says nothing about whether an account exists).
async fn wrong_passwords_lock_the_account_not_the_address(h: Harness) {
    h.signup("acme", "ada@example.com", PW).await;
    h.signup("beta", "bob@example.com", PW).await;
    for _ in 0..9 {
        assert_eq!(
            h.login("acme", "ada@example.com", "wrong").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        h.login("acme", "ADA@example.com", PW).await.status,
        StatusCode::OK,
        "9 failures: still in"
    );
    assert_eq!(
        h.login("acme", "ada@example.com", "wrong").await.status,
        StatusCode::UNAUTHORIZED
    );
    let locked = h.login("acme", "ada@example.com", PW).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{locked:?}");
    assert_eq!(
        h.login("beta", "bob@example.com", PW).await.status,
        StatusCode::OK,
        "another account"
    );
    for _ in 0..10 {
        assert_eq!(
            h.login("acme", "nobody@example.com", "wrong").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        locked.body,
        h.login("acme", "nobody@example.com", PW).await.body,
        "unknown emails lock alike"
    );
}

async fn login_is_scoped_to_the_tenant(h: Harness) {
    h.signup("acme", "ada@example.com", PW).await;
    let globex = h.signup("globex", "bob@example.com", PW).await;
    // Ada is not a member of globex: the same answer as a wrong password.
    let reply = h.login("globex", "ada@example.com", PW).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.body,
        h.login("acme", "ada@example.com", "wrong password").await.body
    );
    // No tenant: the account's own tenant (tests/tenants.rs), never one it
    // is not a member of; an unknown one: refused before any credential check.
    let body = json!({ "email": "ada@example.com", "password": PW });
    let anywhere = h.call("POST", "/auth/login", None, None, Some(body.clone())).await;
    assert_eq!(anywhere.status, StatusCode::OK, "{anywhere:?}");
    assert_eq!(anywhere.body["tenant"]["slug"], "acme");
    assert_eq!(
        h.login("initech", "ada@example.com", PW).await.status,
        StatusCode::FORBIDDEN
    );
    // A token of acme on globex's header.
    let token = h.login("acme", "ada@example.com", PW).await.str("access_token");
    assert_eq!(
        h.call("GET", "/me", Some("globex"), Some(&token), None).await.status,
        StatusCode::FORBIDDEN
    );
    let globex_id = globex.body["tenant"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        h.call("GET", "/me", Some(&globex_id), Some(&token), None).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        h.call("GET", "/me", None, Some(&token), None).await.status,
        StatusCode::FORBIDDEN
    );
}

async fn refresh(h: &Harness, tenant: &str, token: &str) -> support::Reply {
    h.call(
        "POST",
        "/auth/refresh",
        Some(tenant),
        None,
        Some(json!({ "refresh_token": token })),
    )
    .await
}

async fn refresh_rotates_and_detects_reuse(h: Harness) {
    let signup = h.signup("acme", "ada@example.com", PW).await;
    h.signup("globex", "bob@example.com", PW).await;
    let first = signup.str("refresh_token");

    // Another tenant's header does not find the token.
    assert_eq!(refresh(&h, "globex", &first).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh(&h, "acme", "no-such-token").await.status,
        StatusCode::UNAUTHORIZED
    );

    let rotated = refresh(&h, "acme", &first).await;
    assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
    let second = rotated.str("refresh_token");
    assert_ne!(first, second);
    let me = h
        .call("GET", "/me", Some("acme"), Some(&rotated.str("access_token")), None)
        .await;
    assert_eq!(me.status, StatusCode::OK);

    // A second session of the same user, then the first token is replayed.
    let other_session = h.login("acme", "ada@example.com", PW).await.str("refresh_token");
    let replay = refresh(&h, "acme", &first).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    // Theft detected: every refresh token of the user in acme is revoked.
    assert_eq!(refresh(&h, "acme", &second).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refresh(&h, "acme", &other_session).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.count("SELECT COUNT(*) FROM refresh_tokens WHERE revoked_at IS NULL AND tenant_id IN (SELECT id FROM tenants WHERE slug = 'acme')").await, 0);
    // Bob's session in globex is untouched.
    assert_eq!(
        h.count("SELECT COUNT(*) FROM refresh_tokens WHERE revoked_at IS NULL")
            .await,
        1
    );

    // Signing in again works; an expired token does not refresh.
    let fresh = h.login("acme", "ada@example.com", PW).await.str("refresh_token");
    h.exec(
        "UPDATE refresh_tokens SET expires_at = now() - interval '1 second' WHERE revoked_at IS NULL",
        "UPDATE refresh_tokens SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE revoked_at IS NULL",
    )
    .await;
    assert_eq!(refresh(&h, "acme", &fresh).await.status, StatusCode::UNAUTHORIZED);
}

async fn logout_revokes(h: Harness) {
    h.signup("acme", "ada@example.com", PW).await;
    let token = h.login("acme", "ada@example.com", PW).await.str("refresh_token");
    let body = json!({ "refresh_token": token });
    assert_eq!(
        h.call("POST", "/auth/logout", Some("acme"), None, Some(body.clone()))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.call("POST", "/auth/logout", Some("acme"), None, Some(body))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(refresh(&h, "acme", &token).await.status, StatusCode::UNAUTHORIZED);
    let unknown = json!({ "refresh_token": "unknown" });
    assert_eq!(
        h.call("POST", "/auth/logout", Some("acme"), None, Some(unknown))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
}

async fn api_keys_lifecycle(h: Harness) {
    let acme = h.signup("acme", "ada@example.com", PW).await.str("access_token");
    let globex = h.signup("globex", "bob@example.com", PW).await.str("access_token");

    let created = h
        .call(
            "POST",
            "/api-keys",
            Some("acme"),
            Some(&acme),
            Some(json!({ "name": "CI", "role": "member" })),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    let key = created.str("key");
    let id = created.str("id");
    assert!(key.starts_with("testapp_test_"), "{key}");
    assert!(key.contains(&created.str("prefix")));
    assert_eq!(created.body["role"], "member");

    let list = h.call("GET", "/api-keys", Some("acme"), Some(&acme), None).await;
    assert_eq!(list.status, StatusCode::OK);
    let keys = list.body.as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["id"], id.as_str());
    assert!(keys[0].get("key").is_none() && keys[0].get("key_hash").is_none());
    assert!(!list.body.to_string().contains(&key));
    // Another tenant sees none of acme's keys.
    let other = h.call("GET", "/api-keys", Some("globex"), Some(&globex), None).await;
    assert_eq!(other.body, json!([]));

    // The key works on its tenant only.
    let me = h.call("GET", "/me", Some("acme"), Some(&key), None).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(
        (me.body["via"].as_str(), me.body["role"].as_str()),
        (Some("api_key"), Some("member"))
    );
    assert_eq!(
        h.call("GET", "/me", Some("globex"), Some(&key), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.call("GET", "/me", None, Some(&key), None).await.status,
        StatusCode::FORBIDDEN
    );

    // Unknown and other-tenant ids answer 404.
    let unknown = format!("/api-keys/{}", uuid::Uuid::now_v7());
    assert_eq!(
        h.call("DELETE", &unknown, Some("acme"), Some(&acme), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.call("DELETE", "/api-keys/not-a-uuid", Some("acme"), Some(&acme), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let path = format!("/api-keys/{id}");
    assert_eq!(
        h.call("DELETE", &path, Some("globex"), Some(&globex), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        h.call("GET", "/me", Some("acme"), Some(&key), None).await.status,
        StatusCode::OK
    );

    assert_eq!(
        h.call("DELETE", &path, Some("acme"), Some(&acme), None).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        h.call("GET", "/me", Some("acme"), Some(&key), None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.call("DELETE", &path, Some("acme"), Some(&acme), None).await.status,
        StatusCode::NO_CONTENT
    );
    let list = h.call("GET", "/api-keys", Some("acme"), Some(&acme), None).await;
    assert!(list.body[0]["revoked_at"].is_string());

    let audit = h.audit_rows().await;
    let actions: Vec<&str> = audit
        .iter()
        .map(|(a, _)| a.as_str())
        .filter(|a| a.starts_with("api_key."))
        .collect();
    assert_eq!(actions, ["api_key.create", "api_key.revoke"]);
    for (_, metadata) in &audit {
        assert!(
            !metadata.contains(&key) && !metadata.contains(&created.str("prefix")),
            "{metadata}"
        );
    }
}

/// Invites `email` with `role` into `tenant` as `token`, and accepts it as a
/// new account; returns the invitee's access token.
async fn join(h: &Harness, tenant: &str, token: &str, email: &str, role: &str) -> String {
    let invited = h
        .call(
            "POST",
            "/invitations",
            Some(tenant),
            Some(token),
            Some(json!({ "email": email, "role": role })),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{invited:?}");
    let body = json!({ "token": invited.str("token"), "password": PW });
    let accepted = h
        .call("POST", "/invitations/accept", Some(tenant), None, Some(body))
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{accepted:?}");
    assert_eq!(accepted.body["role"], role);
    accepted.str("access_token")
}

async fn roles_bound_what_can_be_granted(h: Harness) {
    let owner = h.signup("acme", "ada@example.com", PW).await.str("access_token");
    let viewer = join(&h, "acme", &owner, "vic@example.com", "viewer").await;
    let member = join(&h, "acme", &owner, "meg@example.com", "member").await;

    // A viewer lacks api_keys.manage.
    let reply = h
        .call(
            "POST",
            "/api-keys",
            Some("acme"),
            Some(&viewer),
            Some(json!({ "name": "k", "role": "viewer" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    assert_eq!(
        h.call("GET", "/api-keys", Some("acme"), Some(&viewer), None)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // ... and members.manage, but may read the members.
    let reply = h
        .call(
            "POST",
            "/invitations",
            Some("acme"),
            Some(&viewer),
            Some(json!({ "email": "x@example.com", "role": "viewer" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        h.call("GET", "/members", Some("acme"), Some(&viewer), None)
            .await
            .status,
        StatusCode::OK
    );

    // A member manages keys, but not with a role above its own.
    for role in ["admin", "owner"] {
        let reply = h
            .call(
                "POST",
                "/api-keys",
                Some("acme"),
                Some(&member),
                Some(json!({ "name": "k", "role": role })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{role}: {reply:?}");
    }
    for role in ["member", "viewer"] {
        let reply = h
            .call(
                "POST",
                "/api-keys",
                Some("acme"),
                Some(&member),
                Some(json!({ "name": "k", "role": role })),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{role}: {reply:?}");
    }
    // A key cannot lift itself either: a member-role key minting an admin key.
    let key = h
        .call(
            "POST",
            "/api-keys",
            Some("acme"),
            Some(&member),
            Some(json!({ "name": "k", "role": "member" })),
        )
        .await
        .str("key");
    let reply = h
        .call(
            "POST",
            "/api-keys",
            Some("acme"),
            Some(&key),
            Some(json!({ "name": "k2", "role": "admin" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // Unknown roles and empty names are field errors.
    let reply = h
        .call(
            "POST",
            "/api-keys",
            Some("acme"),
            Some(&owner),
            Some(json!({ "name": " ", "role": "root" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.body["errors"].as_array().unwrap().len(), 2);
    assert_eq!(h.count("SELECT COUNT(*) FROM api_keys").await, 3);
}

async fn invitation_flow_and_members_quota(h: Harness) {
    let h = &h;
    let owner = h.signup("acme", "ada@example.com", PW).await.str("access_token");
    h.signup("globex", "bob@example.com", PW).await;

    // Bob (an existing account) is invited to acme and proves his password.
    let invited = h
        .call(
            "POST",
            "/invitations",
            Some("acme"),
            Some(&owner),
            Some(json!({ "email": "Bob@Example.com", "role": "admin" })),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{invited:?}");
    assert_eq!(invited.body["email"], "bob@example.com");
    assert!(invited.body["expires_at"].is_string());
    let token = invited.str("token");
    let accept = |password: &str, tenant: &str, email: Option<&str>| {
        let mut body = json!({ "token": token, "password": password });
        if let Some(email) = email {
            body["email"] = json!(email);
        }
        let tenant = tenant.to_owned();
        async move {
            h.call("POST", "/invitations/accept", Some(&tenant), None, Some(body))
                .await
        }
    };
    assert_eq!(
        accept(PW, "globex", None).await.status,
        StatusCode::UNAUTHORIZED,
        "another tenant's header"
    );
    assert_eq!(
        accept("not bob's password", "acme", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        accept(PW, "acme", Some("eve@example.com")).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let accepted = accept(PW, "acme", Some("bob@example.com")).await;
    assert_eq!(accepted.status, StatusCode::OK, "{accepted:?}");
    let me = h
        .call("GET", "/me", Some("acme"), Some(&accepted.str("access_token")), None)
        .await;
    assert_eq!(me.body["role"], "admin");
    assert_eq!(h.login("acme", "bob@example.com", PW).await.status, StatusCode::OK);
    assert_eq!(h.login("globex", "bob@example.com", PW).await.status, StatusCode::OK);

    // Already a member.
    let again = h
        .call(
            "POST",
            "/invitations",
            Some("acme"),
            Some(&owner),
            Some(json!({ "email": "bob@example.com", "role": "viewer" })),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // Quota: 2 members + 1 pending invitation = 3 = the free plan's limit.
    let pending = h
        .call(
            "POST",
            "/invitations",
            Some("acme"),
            Some(&owner),
            Some(json!({ "email": "cy@example.com", "role": "viewer" })),
        )
        .await;
    assert_eq!(pending.status, StatusCode::CREATED);
    let over = h
        .call(
            "POST",
            "/invitations",
            Some("acme"),
            Some(&owner),
            Some(json!({ "email": "di@example.com", "role": "viewer" })),
        )
        .await;
    assert_eq!(over.status, StatusCode::FORBIDDEN, "{over:?}");
    assert_eq!(over.body["type"], "https://rookery.dev/problems/quota-exceeded");
    assert_eq!(
        h.count("SELECT COUNT(*) FROM memberships").await,
        3,
        "acme 2 + globex 1"
    );

    // A new account: the password rule applies, then it joins.
    let body = json!({ "token": pending.str("token"), "password": "short" });
    let reply = h
        .call("POST", "/invitations/accept", Some("acme"), None, Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = json!({ "token": pending.str("token"), "password": PW });
    let reply = h
        .call("POST", "/invitations/accept", Some("acme"), None, Some(body))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body["user"]["email"], "cy@example.com");

    let members = h.call("GET", "/members", Some("acme"), Some(&owner), None).await;
    assert_eq!(members.status, StatusCode::OK);
    let rows: Vec<(String, String)> = members
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["email"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("ada@example.com".into(), "owner".into()),
            ("bob@example.com".into(), "admin".into()),
            ("cy@example.com".into(), "viewer".into())
        ]
    );
    // Still full: 3 members.
    let over = h
        .call(
            "POST",
            "/invitations",
            Some("acme"),
            Some(&owner),
            Some(json!({ "email": "di@example.com", "role": "viewer" })),
        )
        .await;
    assert_eq!(over.status, StatusCode::FORBIDDEN);
    // Invitation tokens are never audited.
    for (_, metadata) in h.audit_rows().await {
        assert!(!metadata.contains(&token) && !metadata.contains(&pending.str("token")));
    }
}

async fn invitation_tokens_are_single_use_and_expire(h: Harness) {
    let h = &h;
    let owner = h.signup("acme", "ada@example.com", PW).await.str("access_token");
    let invite = |email: &'static str| {
        let owner = owner.clone();
        async move {
            let reply = h
                .call(
                    "POST",
                    "/invitations",
                    Some("acme"),
                    Some(&owner),
                    Some(json!({ "email": email, "role": "viewer" })),
                )
                .await;
            assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
            reply.str("token")
        }
    };
    let used = invite("cy@example.com").await;
    let accept = |token: String| async move {
        h.call(
            "POST",
            "/invitations/accept",
            Some("acme"),
            None,
            Some(json!({ "token": token, "password": PW })),
        )
        .await
    };
    assert_eq!(accept(used.clone()).await.status, StatusCode::OK);
    assert_eq!(accept(used).await.status, StatusCode::GONE);
    assert_eq!(accept("no-such-token".into()).await.status, StatusCode::UNAUTHORIZED);

    let expiring = invite("di@example.com").await;
    // A viewer cannot invite (no members.manage).
    let viewer = h.login("acme", "cy@example.com", PW).await.str("access_token");
    let reply = h
        .call(
            "POST",
            "/invitations",
            Some("acme"),
            Some(&viewer),
            Some(json!({ "email": "e@example.com", "role": "viewer" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    // Full (2 members + 1 pending) until the invitation expires.
    let reply = h
        .call(
            "POST",
            "/invitations",
            Some("acme"),
            Some(&owner),
            Some(json!({ "email": "e@example.com", "role": "viewer" })),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    h.exec(
        "UPDATE invitations SET expires_at = now() - interval '1 second' WHERE accepted_at IS NULL",
        "UPDATE invitations SET expires_at = '2000-01-01T00:00:00.000000Z' WHERE accepted_at IS NULL",
    )
    .await;
    assert_eq!(accept(expiring).await.status, StatusCode::GONE);
    invite("e@example.com").await;
}

/// An `Operation`'s permission is enforced before its handler runs, even
/// when the handler checks nothing itself.
async fn operations_enforce_their_permission(h: Harness) {
    let owner = h.signup("acme", "ada@example.com", PW).await.str("access_token");
    let viewer = join(&h, "acme", &owner, "vic@example.com", "viewer").await;
    let member = join(&h, "acme", &owner, "meg@example.com", "member").await;
    let refused = h.call("POST", "/guarded", Some("acme"), Some(&viewer), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{refused:?}");
    assert_eq!(refused.body["detail"], "missing permission `projects.write`");
    let anonymous = h.call("POST", "/guarded", Some("acme"), None, None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{anonymous:?}");
    let allowed = h.call("POST", "/guarded", Some("acme"), Some(&member), None).await;
    assert_eq!(
        (allowed.status, &allowed.body),
        (StatusCode::OK, &json!("ran")),
        "{allowed:?}"
    );
}

/// A typo in an `Operation`'s permission or feature refuses to build the
/// app instead of refusing every caller.
#[test]
fn operations_naming_unknown_permissions_or_features_are_refused() {
    async fn handler() {}
    let typo = std::panic::catch_unwind(|| {
        rookery::App::new(&support::TEST_SPEC)
            .operation(rookery::Operation::get("/x").permission("projects.wrte"), handler)
    });
    let message = *typo.unwrap_err().downcast::<String>().unwrap();
    assert!(
        message.contains("no role grants the permission `projects.wrte`"),
        "{message}"
    );
    let feature = std::panic::catch_unwind(|| {
        rookery::App::new(&support::TEST_SPEC).operation(rookery::Operation::get("/x").feature("sso"), handler)
    });
    let message = *feature.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("declares no feature `sso`"), "{message}");
}
