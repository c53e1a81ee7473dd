//! Connections kept between one-message statements, and their hand-over
//! to statements waiting for one.
//!
//! A connection that finished a one-message statement is left exactly as
//! it was found, so instead of going back to sqlx's pool, which pings
//! every returned connection (one more round trip, about a tenth of the
//! server's CPU per read), it waits here for the next statement, or goes
//! straight to a statement already waiting. The cache holds at most half
//! the pool and keeps nothing while an explicit transaction waits for the
//! pool.
//!
//! **Invariant:** only a connection in [`State::Clean`] is cached or
//! handed over; [`Conn`]'s drop sends every other one back to the pool
//! (whose ping drains what a finished message left unread) or closes it.
//!
//! **Lifetimes:** a connection kept here bypasses the pool's
//! `max_lifetime` and `idle_timeout`, so the cache applies both itself
//! ([`Limits`], the pool's own values): one idle here for `idle_timeout`
//! is closed instead of handed out, and one this cache has held for
//! `max_lifetime` is closed instead of being kept or handed over. sqlx
//! does not tell a connection's age, so "held" counts from the moment the
//! cache took it from the pool; each time it goes back, the pool checks
//! its true age. A connection thus lives at most about twice
//! `max_lifetime`, never indefinitely.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::postgres::PgPool;
use sqlx::{Executor as _, Postgres};
use tokio::sync::oneshot;

use super::{Access, Outcome};
use crate::db::bind::Bind;
use crate::model::TenantId;

/// The pool's limits on a connection's life, applied to the ones kept here.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Closed once held this long (sqlx's `max_lifetime`).
    pub(crate) max_lifetime: Option<Duration>,
    /// Closed once idle here this long (sqlx's `idle_timeout`).
    pub(crate) idle_timeout: Option<Duration>,
}

impl Limits {
    /// The limits `pool` applies to its own idle connections.
    pub(crate) fn of(pool: &PgPool) -> Self {
        Self {
            max_lifetime: pool.options().get_max_lifetime(),
            idle_timeout: pool.options().get_idle_timeout(),
        }
    }

    /// Whether a connection held since `held` is past `max_lifetime` (a
    /// zero limit keeps nothing).
    fn expired(&self, held: Instant, now: Instant) -> bool {
        self.max_lifetime
            .is_some_and(|max| now.saturating_duration_since(held) >= max)
    }

    /// Whether a connection idle since `idle` is past `idle_timeout`.
    fn stale(&self, idle: Instant, now: Instant) -> bool {
        self.idle_timeout
            .is_some_and(|max| now.saturating_duration_since(idle) >= max)
    }
}

/// A pool connection and when this cache took it from the pool.
#[derive(Debug)]
pub(crate) struct Held {
    conn: PoolConnection<Postgres>,
    since: Instant,
}

impl Held {
    /// Closes the connection instead of returning it to the pool.
    fn close(mut self) {
        self.conn.close_on_drop();
    }
}

/// Connections that finished a one-message statement, kept for the next
/// one, and the statements waiting for one.
#[derive(Debug, Default)]
struct Idle {
    /// Each with the moment it was put here, oldest first.
    conns: Vec<(Held, Instant)>,
    /// First come, first served; a waiter that got a connection from the
    /// pool meanwhile has dropped its receiver and is skipped.
    waiters: VecDeque<oneshot::Sender<Held>>,
    /// Under the lock every statement takes anyway: reading them costs
    /// nothing more (and tests may change them).
    limits: Limits,
}

impl Idle {
    /// Gives `held` to the first waiter still waiting; back when there is none.
    fn hand_over(&mut self, mut held: Held) -> Option<Held> {
        while let Some(waiter) = self.waiters.pop_front() {
            match waiter.send(held) {
                Ok(()) => return None,
                Err(back) => held = back,
            }
        }
        Some(held)
    }
}

/// Connections that finished a one-message statement, kept for the next one.
#[derive(Debug)]
pub(crate) struct Cache {
    idle: Mutex<Idle>,
    cap: usize,
    /// Set when the pool closes: from then on nothing is cached.
    closed: AtomicBool,
    /// Tasks waiting for a connection from the pool itself (explicit
    /// transactions): while there are any, finished statements hand their
    /// connections back to the pool instead of keeping them.
    waiting: AtomicUsize,
}

impl Cache {
    /// A cache holding at most half of a pool of `max_connections`, each
    /// connection within `limits`.
    pub(crate) fn new(max_connections: u32, limits: Limits) -> Self {
        Self {
            idle: Mutex::new(Idle {
                limits,
                ..Idle::default()
            }),
            cap: usize::try_from(max_connections / 2).unwrap_or(0),
            closed: AtomicBool::new(false),
            waiting: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Idle> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A connection for one-message statements: a cached one when nobody
    /// waits for one, else the first of one from the pool and one another
    /// statement finishes with (in the order the statements came).
    pub(crate) async fn acquire(self: &Arc<Self>, pool: &PgPool) -> Result<Conn, sqlx::Error> {
        let now = Instant::now();
        let mut retired = Vec::new();
        let waiting = {
            let mut idle = self.lock();
            idle.waiters.retain(|w| !w.is_closed());
            let mut cached = idle.conns.pop();
            if let Some((held, since)) =
                cached.take_if(|(held, since)| idle.limits.stale(*since, now) || idle.limits.expired(held.since, now))
            {
                // The newest is stale, so all are: none is handed out.
                if idle.limits.stale(since, now) {
                    retired.extend(idle.conns.drain(..).map(|(held, _)| held));
                }
                retired.push(held);
            }
            match cached {
                Some((held, _)) if idle.waiters.is_empty() => Ok(held),
                cached => {
                    let (tx, rx) = oneshot::channel();
                    idle.waiters.push_back(tx);
                    if let Some(held) = cached.and_then(|(held, _)| idle.hand_over(held)) {
                        idle.conns.push((held, now));
                    }
                    Err(rx)
                }
            }
        };
        retired.into_iter().for_each(Held::close);
        let held = match waiting {
            Ok(held) => held,
            // Boxed: sqlx's acquire is a future of kilobytes, which would
            // otherwise be part of (and copied with) every request's future.
            Err(handed) => Box::pin(Self::wait(pool, handed)).await?,
        };
        Ok(Conn {
            held: Some(held),
            cache: Arc::clone(self),
            state: State::Settles,
        })
    }

    /// Waits for the pool and for a hand-over at once. A connection handed
    /// over skips the pool's ping: under load, when every connection is
    /// busy, most statements get theirs this way.
    ///
    /// Below its size the pool opens a connection inside its acquire's
    /// future. Cut off by a hand-over, that acquire would drop the
    /// half-open connection (a backend forked and abandoned) and leave the
    /// pool as short as before for the next wait to connect again: under
    /// load, where a hand-over nearly always comes first, a storm of
    /// connections that never serve (`CHANGELOG.md`). So there the
    /// acquire runs as a task of its own, which losing the race only
    /// detaches: the connection it opens goes to the pool.
    async fn wait(pool: &PgPool, handed: oneshot::Receiver<Held>) -> Result<Held, sqlx::Error> {
        if pool.size() < pool.options().get_max_connections() {
            let opening = tokio::spawn({
                let pool = pool.clone();
                async move { pool.acquire().await }
            });
            let from_pool = async {
                match opening.await {
                    Ok(conn) => conn,
                    Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
                    // Cancelled: only when the runtime shuts down.
                    Err(_) => Err(sqlx::Error::PoolClosed),
                }
            };
            Self::first_of(from_pool, handed).await
        } else {
            Self::first_of(pool.acquire(), handed).await
        }
    }

    /// The first of `from_pool` and a hand-over (`from_pool` when the
    /// cache closed).
    async fn first_of(
        from_pool: impl Future<Output = Result<PoolConnection<Postgres>, sqlx::Error>>,
        handed: oneshot::Receiver<Held>,
    ) -> Result<Held, sqlx::Error> {
        tokio::pin!(from_pool);
        let conn = tokio::select! {
            held = handed => match held {
                Ok(held) => return Ok(held),
                // The cache closed: the pool answers.
                Err(_) => from_pool.await,
            },
            conn = &mut from_pool => conn,
        };
        Ok(Held {
            conn: conn?,
            since: Instant::now(),
        })
    }

    /// Keeps or hands over a connection known clean, unless the pool is
    /// closing, a transaction waits for the pool, or it is past its
    /// lifetime (then it is closed).
    fn put(&self, held: Held) {
        let now = Instant::now();
        // Checked under the lock `close` takes, so nothing is cached
        // after the pool began to close.
        let mut idle = self.lock();
        if idle.limits.expired(held.since, now) {
            drop(idle);
            return held.close();
        }
        if self.closed.load(Ordering::SeqCst) || self.waiting.load(Ordering::SeqCst) > 0 {
            drop(idle);
            return drop(held); // back to the pool, which pings it
        }
        let Some(held) = idle.hand_over(held) else { return };
        // The oldest idle one may have outstayed `idle_timeout`.
        let stale = match idle.conns.first() {
            Some((_, since)) if idle.limits.stale(*since, now) => Some(idle.conns.remove(0).0),
            _ => None,
        };
        let spare = if idle.conns.len() < self.cap {
            idle.conns.push((held, now));
            None
        } else {
            Some(held)
        };
        drop(idle);
        if let Some(stale) = stale {
            stale.close();
        }
        drop(spare); // back to the pool, which pings it
    }

    /// Runs `pool_op` (anything that takes a connection from `pool`)
    /// counted as waiting, after handing one cached connection back when the
    /// pool has none idle: nobody waits for the pool while connections sit
    /// here.
    pub(crate) async fn waiting_for<T>(&self, pool: &PgPool, pool_op: impl Future<Output = T>) -> T {
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        if pool.num_idle() == 0 {
            let spare = self.lock().conns.pop();
            drop(spare); // back to the pool, which pings it
        }
        pool_op.await
    }

    /// Lets every cached connection go back to the pool and caches no more
    /// (the pool is closing: it waits for every connection to come back).
    pub(crate) fn close(&self) {
        let mut idle = self.lock();
        self.closed.store(true, Ordering::SeqCst);
        idle.conns.clear();
        // Waiters get the pool's answer.
        idle.waiters.clear();
    }

    /// Connections kept here, and statements and transactions waiting for
    /// a connection (for `/metrics`; one lock, at scrape time only).
    pub(crate) fn counts(&self) -> (usize, usize) {
        let idle = self.lock();
        let handed = idle.waiters.iter().filter(|w| !w.is_closed()).count();
        (idle.conns.len(), handed + self.waiting.load(Ordering::Relaxed))
    }

    /// How many tasks wait for the pool right now (tests wait for a waiter).
    #[cfg(feature = "testing")]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Takes a cached connection, if any (tests look at what it carries).
    #[cfg(feature = "testing")]
    pub(crate) fn take_idle(&self) -> Option<PoolConnection<Postgres>> {
        self.lock().conns.pop().map(|(held, _)| held.conn)
    }

    /// Caches `conn` as it is (tests plant a connection in a bad state).
    #[cfg(feature = "testing")]
    pub(crate) fn put_idle(&self, conn: PoolConnection<Postgres>) {
        let now = Instant::now();
        self.lock().conns.push((Held { conn, since: now }, now));
    }

    /// The limits in force (tests).
    #[cfg(feature = "testing")]
    pub(crate) fn limits(&self) -> Limits {
        self.lock().limits
    }

    /// Replaces the limits (tests set zero limits instead of waiting).
    #[cfg(feature = "testing")]
    pub(crate) fn set_limits(&self, limits: Limits) {
        self.lock().limits = limits;
    }
}

/// What is known of a lent connection's server session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// As it was found: no transaction, no setting, nothing unread. The
    /// only state in which it is cached or handed over.
    Clean,
    /// Nothing stays open once the server has finished what was sent: a
    /// one-message or one-statement read (an implicit transaction, ended
    /// by PostgreSQL, at the message's end or the statement's `Sync`,
    /// whether it succeeds or fails) that was cut off or failed, or a
    /// connection not used yet. Back to the pool, whose ping flushes what
    /// is unsent and reads what is unread before anyone else gets it.
    Settles,
    /// Possibly inside a transaction (a write or a bound-parameter
    /// transaction cut off mid-flight, whose `COMMIT` or `ROLLBACK` may
    /// never come; a failed `ROLLBACK`) or out of step with the server (an
    /// I/O or protocol error). Closed: the pool's ping would end neither.
    Unknown,
}

/// A connection lent to one transaction of one-message statements.
#[derive(Debug)]
pub(crate) struct Conn {
    held: Option<Held>,
    cache: Arc<Cache>,
    state: State,
}

impl Conn {
    /// Runs one statement ([`super::run`]). The connection counts as clean
    /// when it succeeded, or when a database error (the server answered,
    /// so the protocol is in step) was followed by a `ROLLBACK` that
    /// succeeded; while it runs, it counts as [`State::Settles`] for a
    /// one-message read and [`State::Unknown`] for anything else, which is
    /// what a drop mid-flight finds.
    pub(crate) async fn run(
        &mut self,
        access: Access,
        tenant: TenantId,
        sql: &str,
        binds: &[Bind],
    ) -> Result<Outcome, sqlx::Error> {
        let conn = &mut self.held.as_mut().ok_or(sqlx::Error::PoolClosed)?.conn;
        let plan = super::plan(access, tenant, sql, binds);
        self.state = match (&plan, access) {
            (super::Plan::Message { .. } | super::Plan::Lateral(_), Access::Read) => State::Settles,
            _ => State::Unknown,
        };
        match super::run(conn, access, tenant, sql, binds, plan).await {
            Ok(outcome) => {
                self.state = State::Clean;
                Ok(outcome)
            }
            Err(err @ sqlx::Error::Database(_)) => {
                // Ends a write's transaction, which the failed statement
                // left open and failed; after a read there is none and
                // PostgreSQL only warns. One more round trip, on errors only.
                if conn.execute("ROLLBACK").await.is_ok() {
                    self.state = State::Clean;
                } else {
                    self.state = State::Unknown;
                }
                Err(err)
            }
            Err(err) => {
                self.state = State::Unknown;
                Err(err)
            }
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let Some(held) = self.held.take() else { return };
        match self.state {
            State::Clean => self.cache.put(held),
            State::Settles => drop(held), // back to the pool, which pings it
            State::Unknown => held.close(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_retire_by_held_and_idle_time() {
        let t0 = Instant::now();
        let later = |s| t0 + Duration::from_secs(s);
        let limits = Limits {
            max_lifetime: Some(Duration::from_secs(1800)),
            idle_timeout: Some(Duration::from_secs(600)),
        };
        assert!(!limits.expired(t0, later(1799)));
        assert!(limits.expired(t0, later(1800)));
        assert!(!limits.stale(t0, later(599)));
        assert!(limits.stale(t0, later(600)));
        // A clock read before `held` (another thread) is not an age.
        assert!(!limits.expired(later(5), t0));
        let none = Limits::default();
        assert!(!none.expired(t0, later(1 << 40)) && !none.stale(t0, later(1 << 40)));
        let zero = Limits {
            max_lifetime: Some(Duration::ZERO),
            idle_timeout: Some(Duration::ZERO),
        };
        assert!(zero.expired(t0, t0) && zero.stale(t0, t0), "zero keeps nothing");
    }
}
