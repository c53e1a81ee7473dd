//! Redis dying under load and coming back (a redis-server of this test's
//! own, never the machine's): every request is still answered, limits
//! count per instance meanwhile, a member removed during the outage is
//! refused where it was removed at once and on the other instance as soon
//! as Redis answers again, and the limits are shared again after it.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use rookery::auth::invalidate::Invalidation;
use rookery::config::Config;
use support::pair::{counted, run_pair};
use support::redis_server::RedisServer;
use support::{Backend, Harness, RawReply};

/// A limit the load never reaches: every request is counted, none refused.
fn counted_not_refused(config: &mut Config) {
    config.rate_limit_override = Some((1 << 40, 1_000_000_000));
}

async fn me(h: &Harness, tenant: &str, bearer: &str) -> RawReply {
    h.send_json("GET", "/me", tenant, Some(bearer), "").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_answered_while_redis_dies_and_comes_back() {
    let mut redis = tokio::task::spawn_blocking(RedisServer::start).await.unwrap();
    let url = redis.url();
    run_pair(Backend::Sqlite, &url.clone(), counted_not_refused, |p| async move {
        let p = Arc::new(p);
        let acme = Arc::new(p.tenant("acme", "free").await);
        let gone = p.tenant("gone", "free").await;
        for h in [&p.a, &p.b] {
            assert_eq!(me(h, "acme", &acme.owner_token).await.status, StatusCode::OK);
        }
        assert_eq!(counted(&url, &p.prefix, acme.id).await, 2, "counted in Redis");
        assert_eq!(p.a.state.test_redis_stats(), Some((0, 0, false)));

        // Load on both instances while Redis dies and comes back.
        let stop = Arc::new(AtomicBool::new(false));
        let load: Vec<_> = (0..2)
            .map(|i| {
                let (p, acme, stop) = (Arc::clone(&p), Arc::clone(&acme), Arc::clone(&stop));
                tokio::spawn(async move {
                    let mut statuses = Vec::new();
                    while !stop.load(Ordering::Relaxed) && statuses.len() < 100_000 {
                        let h = if i % 2 == 0 { &p.a } else { &p.b };
                        statuses.push(me(h, "acme", &acme.owner_token).await.status);
                        // Without Redis a request never waits: let the test's own steps run.
                        tokio::task::yield_now().await;
                    }
                    statuses
                })
            })
            .collect();

        tokio::task::block_in_place(|| redis.kill());
        for h in [&p.a, &p.b] {
            for _ in 0..3 {
                assert_eq!(
                    me(h, "acme", &acme.owner_token).await.status,
                    StatusCode::OK,
                    "fails open"
                );
            }
            let (fallbacks, outages, down) = h.state.test_redis_stats().unwrap();
            assert!(fallbacks >= 3 && outages == 1 && down, "{fallbacks} {outages} {down}");
        }
        // A member removed while Redis is down: refused here at once, and
        // the change is kept for Redis.
        p.remove_member(gone.id, gone.member).await;
        let change = Invalidation::Member {
            tenant: gone.id,
            user: gone.member,
        };
        p.a.state.test_invalidate(change).await;
        me(&p.a, "gone", &gone.member_token)
            .await
            .assert_problem(StatusCode::UNAUTHORIZED);

        // Back, empty (no persistence), on the same port.
        tokio::task::block_in_place(|| redis.restart());
        assert_eq!(p.a.state.test_reconnect_redis().await, Some(true));
        assert_eq!(p.b.state.test_reconnect_redis().await, Some(true));
        // The kept revocation reached Redis, so the other instance refuses too.
        me(&p.b, "gone", &gone.member_token)
            .await
            .assert_problem(StatusCode::UNAUTHORIZED);
        stop.store(true, Ordering::Relaxed);
        let mut answered = 0;
        for task in load {
            let statuses = task.await.unwrap();
            assert!(statuses.iter().all(|s| *s == StatusCode::OK), "{statuses:?}");
            answered += statuses.len();
        }
        assert!(answered > 0, "the load ran");
        // Shared again: the new Redis counts both instances' requests.
        let before = counted(&url, &p.prefix, acme.id).await;
        for h in [&p.a, &p.b] {
            assert_eq!(me(h, "acme", &acme.owner_token).await.status, StatusCode::OK);
        }
        assert_eq!(counted(&url, &p.prefix, acme.id).await, before + 2);
        for h in [&p.a, &p.b] {
            let (_, outages, down) = h.state.test_redis_stats().unwrap();
            assert_eq!((outages, down), (1, false));
        }
        drop(redis);
    })
    .await;
}
