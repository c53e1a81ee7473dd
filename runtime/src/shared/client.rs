//! The Redis handle: one multiplexed connection, the scripts, and what
//! happens when Redis does not answer (see the module above).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, LazyLock, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, RedisError, Script, Value};

use super::keys::{self, Key};
use super::{Checked, Count, Counter, Revocations, Stats, Unavailable, script};
use crate::model::{TenantId, UserId};

/// How long one connection attempt or one reply may take. A request pays
/// it at most once per outage: after that, calls do not wait for Redis.
const TIMEOUT: Duration = Duration::from_millis(500);
/// How often a down Redis is tried again.
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// Invalidations kept while Redis is down, oldest dropped first.
const PENDING: usize = 1024;
/// How long a tenant's facts version lives without a change.
const FACTS_VERSION_TTL: u64 = 86_400;

static COUNT: LazyLock<Script> = LazyLock::new(|| Script::new(script::COUNT));
static FACTS: LazyLock<Script> = LazyLock::new(|| Script::new(&script::facts_script()));
static REVOKE: LazyLock<Script> = LazyLock::new(|| Script::new(&script::revoke_script()));
static REVOCATIONS: LazyLock<Script> = LazyLock::new(|| Script::new(script::REVOCATIONS));

/// The Redis every instance shares. Cloning it is cheap (one `Arc`).
#[derive(Clone)]
pub(crate) struct Redis(Arc<Inner>);

struct Inner {
    client: redis::Client,
    prefix: Box<str>,
    /// Made on first use (inside the runtime); replaced by a probe that
    /// reconnected after an outage.
    conn: RwLock<Option<ConnectionManager>>,
    down: AtomicBool,
    since: Mutex<Option<Instant>>,
    /// Milliseconds after `epoch` before which no probe starts.
    probe_at: AtomicU64,
    probing: AtomicBool,
    epoch: Instant,
    /// Writes for the other instances that Redis did not take, with their script.
    pending: Mutex<VecDeque<(&'static Script, Cmd)>>,
    fallbacks: AtomicU64,
    outages: AtomicU64,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.0.prefix)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn connection_config() -> ConnectionManagerConfig {
    // No retries inside the client: a failed call marks Redis down and the
    // probe reconnects, so no request waits through a backoff.
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(TIMEOUT))
        .set_response_timeout(Some(TIMEOUT))
        .set_number_of_retries(0)
}

impl Redis {
    /// A handle on `url` for keys under `prefix`; connects on first use.
    pub(crate) fn new(url: &str, prefix: &str) -> Result<Self, RedisError> {
        Ok(Self(Arc::new(Inner {
            client: redis::Client::open(url)?,
            prefix: prefix.into(),
            conn: RwLock::new(None),
            down: AtomicBool::new(false),
            since: Mutex::new(None),
            probe_at: AtomicU64::new(0),
            probing: AtomicBool::new(false),
            epoch: Instant::now(),
            pending: Mutex::new(VecDeque::new()),
            fallbacks: AtomicU64::new(0),
            outages: AtomicU64::new(0),
        })))
    }

    /// How Redis has done since start-up.
    pub(crate) fn stats(&self) -> Stats {
        Stats {
            fallbacks: self.0.fallbacks.load(Relaxed),
            outages: self.0.outages.load(Relaxed),
            down: self.is_down(),
        }
    }

    /// Whether Redis is down (calls answer [`Unavailable`] without trying).
    pub(crate) fn is_down(&self) -> bool {
        self.0.down.load(Relaxed)
    }

    /// Counts `cost` (1, or -1 to give one back) on `counter` in its
    /// current window of `window` seconds.
    pub(crate) async fn count(&self, counter: Counter<'_>, window: u64, cost: i8) -> Result<Count, Unavailable> {
        let key = Key::counter(&self.0.prefix, counter);
        let mut cmd = script::invocation(&COUNT, &[&key]);
        cmd.arg(window).arg(cost);
        let value = self.call(&COUNT, &cmd).await?;
        script::count(&value).ok_or_else(|| self.malformed("count"))
    }

    /// Counts one API request of `tenant` (none when `window` is 0) and
    /// reads its facts' version and the revocations' generation.
    pub(crate) async fn check(&self, tenant: TenantId, window: u64) -> Result<Checked, Unavailable> {
        let prefix = &self.0.prefix;
        let keys = [
            &Key::counter(prefix, Counter::Api(tenant)),
            &Key::facts(prefix, tenant),
            &Key::generation(prefix),
        ];
        let mut cmd = script::invocation(&COUNT, &keys);
        cmd.arg(window).arg(1);
        let value = self.call(&COUNT, &cmd).await?;
        script::checked(&value).ok_or_else(|| self.malformed("check"))
    }

    /// The current version of `tenant`'s facts (0: never changed).
    pub(crate) async fn facts_version(&self, tenant: TenantId) -> Result<u64, Unavailable> {
        let checked = Box::pin(self.check(tenant, 0)).await?;
        Ok(checked.facts)
    }

    /// Every revocation still in force, and their generation.
    pub(crate) async fn revocations(&self) -> Result<Revocations, Unavailable> {
        let prefix = &self.0.prefix;
        let cmd = script::invocation(&REVOCATIONS, &[&Key::revoked(prefix), &Key::generation(prefix)]);
        let value = self.call(&REVOCATIONS, &cmd).await?;
        script::revocations(&value).ok_or_else(|| self.malformed("revocations"))
    }

    /// Gives `tenant`'s facts a new version: every instance reloads them
    /// on its next request for the tenant. Kept and sent later when Redis
    /// is down.
    pub(crate) async fn bump_facts(&self, tenant: TenantId) {
        let mut cmd = script::invocation(&FACTS, &[&Key::facts(&self.0.prefix, tenant)]);
        cmd.arg(FACTS_VERSION_TTL);
        self.deliver(&FACTS, cmd).await;
    }

    /// Refuses `user`'s access tokens for `tenant` issued up to `cutoff`
    /// (unix milliseconds) on every instance, for `keep` seconds (the access
    /// token lifetime). Kept and sent later when Redis is down.
    pub(crate) async fn revoke(&self, tenant: TenantId, user: UserId, cutoff: i64, keep: i64) {
        let prefix = &self.0.prefix;
        let mut cmd = script::invocation(&REVOKE, &[&Key::revoked(prefix), &Key::generation(prefix)]);
        cmd.arg(keys::member(tenant, user)).arg(cutoff).arg(keep);
        self.deliver(&REVOKE, cmd).await;
    }

    /// Whether Redis answers now; on start-up, and by tests (`testing`)
    /// that restarted Redis and will not wait for the probe.
    pub(crate) async fn reconnect(&self) -> bool {
        self.probe().await
    }

    /// Sends `cmd` now or, when Redis is down or fails, keeps it for later.
    async fn deliver(&self, script: &'static Script, cmd: Cmd) {
        if self.call(script, &cmd).await.is_ok() {
            return;
        }
        let mut pending = lock(&self.0.pending);
        if pending.len() >= PENDING {
            pending.pop_front();
            tracing::warn!(
                kept = PENDING,
                "Redis down: dropped the oldest invalidation kept for it"
            );
        }
        pending.push_back((script, cmd));
    }

    /// One script call; any failure marks Redis down.
    async fn call(&self, script: &Script, cmd: &Cmd) -> Result<Value, Unavailable> {
        if self.is_down() {
            self.0.fallbacks.fetch_add(1, Relaxed);
            self.maybe_probe();
            return Err(Unavailable);
        }
        let mut conn = self.connection();
        send(&mut conn, script, cmd).await.map_err(|err| {
            self.0.fallbacks.fetch_add(1, Relaxed);
            self.mark_down(&err);
            Unavailable
        })
    }

    fn connection(&self) -> ConnectionManager {
        if let Some(conn) = self.0.conn.read().unwrap_or_else(PoisonError::into_inner).as_ref() {
            return conn.clone();
        }
        let mut slot = self.0.conn.write().unwrap_or_else(PoisonError::into_inner);
        slot.get_or_insert_with(|| self.manager()).clone()
    }

    fn manager(&self) -> ConnectionManager {
        ConnectionManager::new_lazy_with_config(self.0.client.clone(), connection_config())
            .expect("a lazy manager without a push sender is always accepted")
    }

    fn malformed(&self, what: &'static str) -> Unavailable {
        // A reply of the wrong shape is a bug or a foreign key in our
        // prefix, not an outage: log it and fall back without marking down.
        self.0.fallbacks.fetch_add(1, Relaxed);
        tracing::error!(what, "unexpected reply from Redis; answered in process");
        Unavailable
    }

    fn millis(&self) -> u64 {
        u64::try_from(self.0.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn mark_down(&self, err: &RedisError) {
        self.0.probe_at.store(self.millis() + millis(PROBE_EVERY), Relaxed);
        if !self.0.down.swap(true, Relaxed) {
            self.0.outages.fetch_add(1, Relaxed);
            *lock(&self.0.since) = Some(Instant::now());
            tracing::warn!(
                error = %err,
                "Redis unreachable: rate limits count per instance, plan and member changes made elsewhere \
                 reach this instance through a 5-second cache until Redis answers again"
            );
        }
    }

    /// Starts a probe in the background unless one runs or ran too recently.
    fn maybe_probe(&self) {
        if self.millis() < self.0.probe_at.load(Relaxed) || self.0.probing.swap(true, Relaxed) {
            return;
        }
        let this = self.clone();
        tokio::spawn(async move {
            this.probe().await;
        });
    }

    /// A new connection, a `PING`, then the kept writes; on success Redis
    /// is up, else down until the next probe.
    async fn probe(&self) -> bool {
        self.0.probing.store(true, Relaxed);
        let fresh = self.manager();
        let mut conn = fresh.clone();
        let mut outcome = redis::cmd("PING").query_async::<Value>(&mut conn).await.map(drop);
        while outcome.is_ok() {
            let Some((script, cmd)) = lock(&self.0.pending).pop_front() else {
                break;
            };
            outcome = send(&mut conn, script, &cmd).await.map(drop);
            if outcome.is_err() {
                lock(&self.0.pending).push_front((script, cmd));
            }
        }
        let up = match outcome {
            Ok(()) => {
                *self.0.conn.write().unwrap_or_else(PoisonError::into_inner) = Some(fresh);
                if self.0.down.swap(false, Relaxed) {
                    let down_for = lock(&self.0.since).take().map(|t| t.elapsed());
                    tracing::info!(
                        down_for = ?down_for,
                        fallbacks = self.0.fallbacks.load(Relaxed),
                        "Redis reachable again: limits and invalidations are shared again"
                    );
                }
                true
            }
            Err(err) => {
                self.mark_down(&err);
                false
            }
        };
        self.0.probing.store(false, Relaxed);
        up
    }
}

/// `EVALSHA`, loading the script first when Redis does not know it (after
/// its restart).
async fn send(conn: &mut ConnectionManager, script: &Script, cmd: &Cmd) -> Result<Value, RedisError> {
    match cmd.query_async::<Value>(conn).await {
        Err(err) if err.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
            script.load_async(conn).await?;
            cmd.query_async::<Value>(conn).await
        }
        other => other,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
