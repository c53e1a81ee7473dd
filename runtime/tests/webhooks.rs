//! Outgoing webhooks against a real receiver that verifies every delivery
//! with the official Standard Webhooks library (`support/receiver.rs`):
//! signatures and rotation, failures by status, timeout, an endpoint that
//! never answers, redirects, and the SSRF refusals. Outcomes are asserted
//! by kind; the only time bound is "before the slow endpoint would have
//! answered", far from the configured timeout.

#[path = "support/receiver.rs"]
mod receiver;

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use receiver::Receiver;
use rookery::config::WebhookConfig;
use rookery::webhooks::{
    AddressClass, DeliveryError, FailureKind, Message, ROTATION_GRACE, SNIPPET, Secret, SigningKeys, WebhookClient,
};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

/// A client for the receiver on loopback: the switch on, one second to
/// answer.
fn loopback_client() -> WebhookClient {
    let mut config = WebhookConfig::default();
    config.allow_loopback = true;
    config.timeout = Duration::from_secs(1);
    config.connect_timeout = Duration::from_secs(1);
    WebhookClient::new(&config)
}

fn message(id: &str) -> Message {
    Message::new(id, "project.created", Utc::now(), &json!({"id": 7, "name": "Apollo"})).unwrap()
}

/// Delivers to `/ok/<marker>` with the switch on and returns the next
/// record, which must be that one: nothing arrived in between.
async fn nothing_else_arrived(receiver: &mut Receiver, keys: &SigningKeys, marker: &str) {
    let path = format!("/ok/{marker}");
    let outcome = loopback_client()
        .deliver(&receiver.url(&path), keys, &message("msg_marker"))
        .await;
    assert!(outcome.delivered(), "{outcome:?}");
    assert_eq!(
        receiver.next().await["path"],
        path.as_str(),
        "a request arrived that should not have"
    );
}

#[tokio::test]
async fn a_signed_delivery_is_verified_by_the_official_library() {
    let secret = Secret::generate();
    let mut receiver = Receiver::start(&[("endpoint", &secret)]).await;
    let message = message("msg_01JAPOLLO");
    let outcome = loopback_client()
        .deliver(&receiver.url("/ok/hooks?x=1"), &SigningKeys::new(secret), &message)
        .await;
    assert!(outcome.delivered(), "{outcome:?}");
    assert_eq!(
        (outcome.status, outcome.kind(), outcome.response.as_str()),
        (Some(200), None, "ok")
    );
    let seen = receiver.next().await;
    assert_eq!(seen["path"], "/ok/hooks?x=1");
    assert_eq!(seen["verified"], json!({"endpoint": true}), "{seen}");
    assert_eq!(seen["headers"]["webhook-id"], "msg_01JAPOLLO");
    assert!(
        seen["headers"]["webhook-timestamp"]
            .as_str()
            .unwrap()
            .parse::<i64>()
            .is_ok()
    );
    assert_eq!(seen["payload"]["type"], "project.created");
    assert_eq!(seen["payload"]["data"], json!({"id": 7, "name": "Apollo"}));
    assert!(seen["user_agent"].as_str().unwrap().starts_with("Rookery-Webhooks/"));
}

#[tokio::test]
async fn during_a_rotation_the_new_and_the_old_secret_both_verify() {
    let (old, new) = (Secret::generate(), Secret::generate());
    // Each name is a `Webhook` that knows that one secret only.
    let mut receiver = Receiver::start(&[("old", &old), ("new", &new)]).await;
    let url = receiver.url("/ok/rotation");
    let client = loopback_client();
    let now = Utc::now();
    let verified = |seen: &Value| seen["verified"].clone();

    let before = SigningKeys::new(old.clone());
    assert!(client.deliver(&url, &before, &message("msg_before")).await.delivered());
    assert_eq!(verified(&receiver.next().await), json!({"old": true, "new": false}));

    let during = before.rotate(new.clone(), now, ROTATION_GRACE);
    assert!(client.deliver(&url, &during, &message("msg_during")).await.delivered());
    let seen = receiver.next().await;
    assert_eq!(verified(&seen), json!({"old": true, "new": true}), "{seen}");
    assert_eq!(
        seen["headers"]["webhook-signature"]
            .as_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );

    let after = SigningKeys::new(new).with_retiring(old, now - TimeDelta::seconds(1));
    assert!(client.deliver(&url, &after, &message("msg_after")).await.delivered());
    let seen = receiver.next().await;
    assert_eq!(verified(&seen), json!({"old": false, "new": true}), "{seen}");
    assert_eq!(seen["errors"]["old"], "No matching signature found");
}

#[tokio::test]
async fn an_error_status_is_a_failure_with_the_status_recorded() {
    let secret = Secret::generate();
    let mut receiver = Receiver::start(&[("endpoint", &secret)]).await;
    let keys = SigningKeys::new(secret);
    let client = loopback_client();
    let outcome = client
        .deliver(&receiver.url("/status/500"), &keys, &message("msg_500"))
        .await;
    assert!(!outcome.delivered());
    assert_eq!(outcome.error, Some(DeliveryError::Status { status: 500 }));
    assert_eq!((outcome.status, outcome.response.as_str()), (Some(500), "status 500"));
    assert!(outcome.error.as_ref().unwrap().retryable());
    assert_eq!(
        receiver.next().await["verified"]["endpoint"],
        true,
        "it was delivered, and refused"
    );

    let busy = client
        .deliver(&receiver.url("/status/503"), &keys, &message("msg_503"))
        .await;
    assert_eq!(
        (busy.status, busy.retry_after),
        (Some(503), Some(Duration::from_secs(7)))
    );
    let gone = client
        .deliver(&receiver.url("/status/410"), &keys, &message("msg_410"))
        .await;
    assert!(gone.gone() && !gone.delivered());
}

/// The receiver would answer after 60 seconds; the client gives up after
/// its configured one. "Well before 60" cannot flake; "about 1" could.
#[tokio::test]
async fn a_slow_endpoint_and_one_that_never_answers_fail_within_the_timeout() {
    let secret = Secret::generate();
    let mut receiver = Receiver::start(&[("endpoint", &secret)]).await;
    let keys = SigningKeys::new(secret);
    let client = loopback_client();
    for path in ["/sleep/60", "/hang"] {
        let started = Instant::now();
        let outcome = client.deliver(&receiver.url(path), &keys, &message("msg_slow")).await;
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{path} took {:?}",
            started.elapsed()
        );
        let after = Duration::from_secs(1);
        assert_eq!(outcome.error, Some(DeliveryError::Timeout { after }), "{path}");
        assert_eq!((outcome.status, outcome.kind()), (None, Some(FailureKind::Timeout)));
        assert_eq!(receiver.next().await["path"], path);
    }
    // A listener that never accepts: the connection opens (the kernel's
    // backlog) and nothing ever answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", silent.local_addr().unwrap());
    let outcome = client.deliver(&url, &keys, &message("msg_silent")).await;
    assert_eq!(outcome.kind(), Some(FailureKind::Timeout), "{outcome:?}");
}

#[tokio::test]
async fn a_redirect_is_a_failure_and_is_not_followed() {
    let secret = Secret::generate();
    let mut receiver = Receiver::start(&[("endpoint", &secret)]).await;
    let keys = SigningKeys::new(secret);
    let outcome = loopback_client()
        .deliver(&receiver.url("/redirect"), &keys, &message("msg_redirect"))
        .await;
    let location = Some("/ok/redirected".to_owned());
    assert_eq!(outcome.error, Some(DeliveryError::Redirect { status: 302, location }));
    assert_eq!(outcome.status, Some(302));
    assert_eq!(receiver.next().await["path"], "/redirect");
    nothing_else_arrived(&mut receiver, &keys, "after-redirect").await;
}

#[tokio::test]
async fn internal_addresses_are_refused_and_nothing_is_sent() {
    let secret = Secret::generate();
    let mut receiver = Receiver::start(&[("endpoint", &secret)]).await;
    let keys = SigningKeys::new(secret);
    let port = receiver.port();
    let strict = WebhookClient::new(&WebhookConfig::default());
    let cases = [
        (format!("https://127.0.0.1:{port}/ok/leak"), AddressClass::Loopback),
        (format!("https://[::1]:{port}/ok/leak"), AddressClass::Loopback),
        (
            format!("https://[::ffff:127.0.0.1]:{port}/ok/leak"),
            AddressClass::Loopback,
        ),
        (format!("https://2130706433:{port}/ok/leak"), AddressClass::Loopback),
        ("https://10.0.0.1/".to_owned(), AddressClass::Private),
        ("https://192.168.1.1/".to_owned(), AddressClass::Private),
        (
            "https://169.254.169.254/latest/meta-data/".to_owned(),
            AddressClass::LinkLocal,
        ),
        ("https://100.64.0.1/".to_owned(), AddressClass::SharedAddressSpace),
        ("https://0.0.0.0/".to_owned(), AddressClass::Unspecified),
        ("https://[fd00::1]/".to_owned(), AddressClass::Private),
    ];
    for (url, class) in &cases {
        let outcome = strict.deliver(url, &keys, &message("msg_ssrf")).await;
        assert!(
            matches!(&outcome.error, Some(DeliveryError::RefusedAddress { class: c, .. }) if c == class),
            "{url}: {outcome:?}"
        );
    }
    // A name is judged by what it resolves to, when the attempt connects.
    let outcome = strict
        .deliver(
            &format!("https://localhost:{port}/ok/leak"),
            &keys,
            &message("msg_ssrf"),
        )
        .await;
    match &outcome.error {
        Some(DeliveryError::RefusedAddress { host, address, class }) => {
            assert_eq!((host.as_str(), *class), ("localhost", AddressClass::Loopback));
            assert!(address.is_loopback());
        }
        other => panic!("localhost was not refused: {other:?}"),
    }
    let plain = strict
        .deliver(&receiver.url("/ok/leak"), &keys, &message("msg_ssrf"))
        .await;
    assert_eq!(
        plain.error,
        Some(DeliveryError::InsecureScheme),
        "http needs the switch"
    );
    // With the switch on, private and metadata addresses stay refused.
    for url in ["https://10.0.0.1/", "https://169.254.169.254/", "http://[fe80::1]/"] {
        let outcome = loopback_client().deliver(url, &keys, &message("msg_ssrf")).await;
        assert_eq!(outcome.kind(), Some(FailureKind::RefusedAddress), "{url}");
    }
    nothing_else_arrived(&mut receiver, &keys, "after-ssrf").await;
}

#[tokio::test]
async fn registration_vets_the_url_and_its_addresses() {
    let strict = WebhookClient::new(&WebhookConfig::default());
    for url in ["https://localhost/", "https://10.1.2.3/", "https://[::1]/"] {
        let refused = strict.vet(url).await.unwrap_err();
        assert_eq!(refused.kind(), FailureKind::RefusedAddress, "{url}");
        assert!(refused.to_string().contains("not delivered there"), "{refused}");
    }
    assert_eq!(
        strict.vet("http://localhost/").await,
        Err(DeliveryError::InsecureScheme)
    );
    assert!(!strict.vet("ftp://localhost/").await.unwrap_err().retryable());
    assert_eq!(loopback_client().vet("http://localhost:9/").await, Ok(()));
}

#[tokio::test]
async fn tls_failures_and_large_answers() {
    let secret = Secret::generate();
    let mut receiver = Receiver::start(&[("endpoint", &secret)]).await;
    let keys = SigningKeys::new(secret);
    let client = loopback_client();
    // https to a server that answers in plain HTTP at once.
    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/", plain.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let (mut socket, _) = plain.accept().await.unwrap();
        let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
        socket
    });
    let outcome = client.deliver(&url, &keys, &message("msg_tls")).await;
    assert_eq!(outcome.kind(), Some(FailureKind::Tls), "{outcome:?}");
    drop(server.await.unwrap());
    // A 1 MiB answer: read up to the cap, a short prefix kept.
    let big = client.deliver(&receiver.url("/big"), &keys, &message("msg_big")).await;
    assert!(big.delivered(), "{big:?}");
    assert_eq!(big.response, "x".repeat(SNIPPET));
    assert_eq!(receiver.next().await["path"], "/big");
}
