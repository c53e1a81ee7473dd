//! `taskboard worker` processes on PostgreSQL (migrated as a non-superuser
//! owner, served and worked as a member of `taskboard_app`), and the
//! in-process worker of `taskboard serve` on SQLite, running the example's
//! `ArchiveSummary` job that `POST /projects/{id}/archive` enqueues.
//!
//! A job is held in flight without a sleep or a test-only job type: the
//! test takes `LOCK TABLE audit_log IN EXCLUSIVE MODE` in a transaction of
//! its own, so the job's audit insert waits on it (seen in
//! `pg_stat_activity`) until the test commits. Leases are aged through
//! the side door (`UPDATE rookery_jobs`) instead of waiting them out.
//! Every wait polls the database or reads the worker's log, bounded by a
//! generous deadline.

mod support;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Database, JWT_SECRET, Server, binary, call};

const DEADLINE: Duration = Duration::from_secs(120);
const UNLIMITED: [(&str, &str); 2] = [("RATE_LIMIT_MAX", "1000000"), ("RATE_LIMIT_WINDOW_SECS", "60")];
const SUMMARIES: &str = "SELECT count(*) FROM audit_log WHERE action = 'project.archive_summary'";

/// A `taskboard worker` process whose log lines the test can wait for.
struct Worker {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Worker {
    /// Starts a worker on `db` and returns once it logged that it started.
    fn start(db: &Database) -> Self {
        let mut child = Command::new(binary("taskboard"))
            .arg("worker")
            .env_remove("REDIS_URL")
            .env("DATABASE_URL", &db.serving_url)
            .env("ROOKERY_JWT_SECRET", JWT_SECRET)
            .env("ROOKERY_JOBS_POLL_MS", "50")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start taskboard worker");
        let stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut worker = Self { child, lines };
        worker.wait_for_line("job worker started");
        worker
    }

    /// Reads the worker's log until a line contains `text`.
    fn wait_for_line(&mut self, text: &str) {
        let until = Instant::now() + DEADLINE;
        let mut seen = Vec::new();
        loop {
            let left = until.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return,
                Ok(line) => seen.push(line),
                Err(_) => panic!("the worker never logged `{text}`:\n{}", seen.join("\n")),
            }
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal}");
    }

    /// Waits for the process to exit (polled, bounded).
    fn exited(&mut self) -> std::process::ExitStatus {
        let until = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < until, "the worker did not exit");
            std::thread::yield_now();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The database as the superuser sees it (every tenant, the queue table),
/// on one connection kept open for the test.
struct Inspector {
    rt: tokio::runtime::Runtime,
    pool: sqlx::PgPool,
}

impl Inspector {
    fn new(db: &Database) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let pool = rt.block_on(sqlx::PgPool::connect(&db.url)).unwrap();
        Self { rt, pool }
    }

    fn scalar(&self, sql: &str) -> i64 {
        self.text(&format!("SELECT ({sql})::text")).parse().unwrap()
    }

    fn text(&self, sql: &str) -> String {
        self.rt.block_on(async {
            sqlx::query_scalar::<_, Option<String>>(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_one(&self.pool)
                .await
                .unwrap()
                .unwrap_or_default()
        })
    }

    fn exec(&self, sql: &str) {
        self.rt
            .block_on(sqlx::query(sqlx::AssertSqlSafe(sql.to_owned())).execute(&self.pool))
            .unwrap();
    }

    /// Polls until `sql` answers `want`, yielding between tries.
    fn wait_for(&self, sql: &str, want: i64) {
        let until = Instant::now() + DEADLINE;
        loop {
            let got = self.scalar(sql);
            if got == want {
                return;
            }
            assert!(Instant::now() < until, "`{sql}` stayed {got}, never {want}");
            std::thread::yield_now();
        }
    }

    /// The archive job's (state, attempts, last error, worker).
    fn job(&self) -> (String, i64, String, String) {
        let row = |col: &str| {
            self.text(&format!(
                "SELECT {col}::text FROM rookery_jobs WHERE kind = 'project_archive_summary'"
            ))
        };
        (
            row("state"),
            row("attempts").parse().unwrap(),
            row("last_error"),
            row("locked_by"),
        )
    }

    /// Holds `EXCLUSIVE` on `audit_log` (inserts wait, reads do not) until
    /// the returned sender is dropped or sent to.
    fn lock_audit_log(db: &Database) -> (mpsc::Sender<()>, std::thread::JoinHandle<()>) {
        let url = db.url.clone();
        let (release, released) = mpsc::channel::<()>();
        let (locked, is_locked) = mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let pool = sqlx::PgPool::connect(&url).await.unwrap();
                let mut tx = pool.begin().await.unwrap();
                sqlx::query("LOCK TABLE audit_log IN EXCLUSIVE MODE")
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                locked.send(()).unwrap();
                let _ = released.recv();
                tx.commit().await.unwrap();
                pool.close().await;
            });
        });
        is_locked.recv().expect("the lock was taken");
        (release, holder)
    }
}

/// Waits until the archive job runs and its audit insert waits on the lock.
fn wait_until_held(inspect: &Inspector) {
    inspect.wait_for(
        "SELECT count(*) FROM rookery_jobs WHERE kind = 'project_archive_summary' AND state = 'running'",
        1,
    );
    inspect.wait_for(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND usename = 'taskboard_web' AND wait_event_type = 'Lock'",
        1,
    );
}

/// A tenant's owner, signed up through the API.
struct Owner {
    base: String,
    auth: String,
    tenant: String,
}

impl Owner {
    fn sign_up(base: &str, slug: &str) -> Self {
        let body = json!({"tenant_slug": slug, "tenant_name": slug, "email": format!("owner@{slug}.test"), "password": "correct horse battery"});
        let (status, body, _) = call(base, "POST", "/api/v1/auth/signup", &[], Some(&body));
        assert_eq!(status, 201, "{body}");
        Self {
            base: base.to_owned(),
            auth: format!("Bearer {}", body["access_token"].as_str().unwrap()),
            tenant: body["tenant"]["id"].as_str().unwrap().to_owned(),
        }
    }

    fn post(&self, path: &str, body: Option<Value>) -> Value {
        let headers = [
            ("authorization", self.auth.as_str()),
            ("x-tenant", self.tenant.as_str()),
        ];
        let (status, answer, _) = call(&self.base, "POST", &format!("/api/v1{path}"), &headers, body.as_ref());
        assert!((200..300).contains(&status), "POST {path}: {status} {answer}");
        answer
    }

    /// Creates a project and archives it: one `ArchiveSummary` job.
    fn archive_new_project(&self, name: &str) {
        let project = self.post("/projects", Some(json!({"name": name})));
        self.post(&format!("/projects/{}/archive", project["id"]), None);
    }
}

fn serve_on_postgres() -> (Database, Server) {
    let db = Database::create();
    db.migrate_with(&binary("taskboard"));
    let server = Server::start(
        &binary("taskboard"),
        &[("DATABASE_URL", &db.serving_url), UNLIMITED[0], UNLIMITED[1]],
    );
    (db, server)
}

#[test]
fn two_workers_share_the_queue_and_each_archive_runs_once() {
    let (db, server) = serve_on_postgres();
    let inspect = Inspector::new(&db);
    let mut workers = [Worker::start(&db), Worker::start(&db)];
    // The free plan allows three projects per tenant: six archives in all.
    for slug in ["alpha", "beta"] {
        let owner = Owner::sign_up(&server.base, slug);
        for n in 0..3 {
            owner.archive_new_project(&format!("{slug}-{n}"));
        }
    }
    inspect.wait_for(
        "SELECT count(*) FROM rookery_jobs WHERE kind = 'project_archive_summary' AND state = 'done'",
        6,
    );
    assert_eq!(inspect.scalar(SUMMARIES), 6);
    assert_eq!(
        inspect.scalar(
            "SELECT count(DISTINCT (tenant_id, target_id)) FROM audit_log WHERE action = 'project.archive_summary'"
        ),
        6,
        "one summary per archived project"
    );
    assert_eq!(
        inspect.scalar("SELECT max(attempts) FROM rookery_jobs WHERE kind = 'project_archive_summary'"),
        1,
        "no job ran twice"
    );
    for worker in &mut workers {
        worker.signal("-TERM");
        assert!(worker.exited().success());
    }
}

#[test]
fn sigterm_lets_the_job_in_flight_finish() {
    let (db, server) = serve_on_postgres();
    let inspect = Inspector::new(&db);
    Owner::sign_up(&server.base, "alpha").archive_new_project("apollo");
    let (release, holder) = Inspector::lock_audit_log(&db);
    let mut worker = Worker::start(&db);
    wait_until_held(&inspect);
    worker.signal("-TERM");
    worker.wait_for_line("finishing jobs in flight");
    // Stopping, but the job holds it: still running, nothing written.
    assert_eq!(inspect.job().0, "running");
    assert_eq!(inspect.scalar(SUMMARIES), 0);
    release.send(()).unwrap();
    holder.join().unwrap();
    assert!(worker.exited().success(), "a graceful stop exits 0");
    let (state, attempts, ..) = inspect.job();
    assert_eq!((state.as_str(), attempts), ("done", 1));
    assert_eq!(inspect.scalar(SUMMARIES), 1);
}

#[test]
fn sigkill_mid_job_leaves_the_job_to_another_worker() {
    let (db, server) = serve_on_postgres();
    let inspect = Inspector::new(&db);
    Owner::sign_up(&server.base, "alpha").archive_new_project("apollo");
    let (release, holder) = Inspector::lock_audit_log(&db);
    let mut dying = Worker::start(&db);
    wait_until_held(&inspect);
    let pid = dying.child.id();
    assert!(inspect.job().3.starts_with(&format!("{pid}-")), "{:?}", inspect.job());
    dying.signal("-KILL");
    assert!(!dying.exited().success());
    // Another worker finds the job leased to the dead one until the lease
    // runs out (aged here instead of waiting ROOKERY_JOBS_LEASE).
    let mut other = Worker::start(&db);
    assert_eq!(inspect.job().0, "running");
    inspect.exec("UPDATE rookery_jobs SET locked_until = now() - interval '1 second' WHERE state = 'running'");
    // The dead worker's insert was never committed: releasing the lock
    // lets it finish its statement, then its connection is gone.
    release.send(()).unwrap();
    holder.join().unwrap();
    inspect.wait_for(
        "SELECT count(*) FROM rookery_jobs WHERE kind = 'project_archive_summary' AND state = 'done'",
        1,
    );
    let (_, attempts, last_error, _) = inspect.job();
    assert_eq!(attempts, 2, "the killed run counted");
    assert_eq!(
        last_error,
        "the worker stopped before the job finished (its lease ran out)"
    );
    assert_eq!(inspect.scalar(SUMMARIES), 1, "the killed run wrote nothing");
    other.signal("-TERM");
    assert!(other.exited().success());
}

#[test]
fn serve_on_sqlite_runs_the_job_in_process() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("taskboard.db").display());
    let server = Server::start(
        &binary("taskboard"),
        &[
            ("DATABASE_URL", &url),
            ("ROOKERY_JOBS_POLL_MS", "50"),
            UNLIMITED[0],
            UNLIMITED[1],
        ],
    );
    Owner::sign_up(&server.base, "alpha").archive_new_project("apollo");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let pool = rt.block_on(sqlx::SqlitePool::connect(&url)).unwrap();
    let count = |sql: &str| -> i64 {
        rt.block_on(sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned())).fetch_one(&pool))
            .unwrap()
    };
    let done = "SELECT count(*) FROM rookery_jobs WHERE kind = 'project_archive_summary' AND state = 'done'";
    let until = Instant::now() + DEADLINE;
    while count(done) != 1 {
        assert!(Instant::now() < until, "the job never ran without a worker process");
        std::thread::yield_now();
    }
    assert_eq!(count(SUMMARIES), 1);
    rt.block_on(pool.close());
    assert!(server.stop().success());
}
