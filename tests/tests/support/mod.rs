//! Running the built binaries against a fresh PostgreSQL database.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// The directory holding the workspace's built binaries (`target/debug`).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/debug/deps/<test> -> target/debug
    exe.parent().and_then(Path::parent).expect("target dir").to_path_buf()
}

/// A built binary of the workspace; panics with the build command when missing.
pub fn binary(name: &str) -> PathBuf {
    let path = bin_dir().join(name);
    assert!(
        path.exists(),
        "{} is not built; run `cargo build --workspace` (scripts/test does)",
        path.display()
    );
    path
}

/// The taskboard app built the way a user builds it (see
/// [`generated_project`]): `taskboard_e2e`; the committed example is
/// `taskboard`.
pub fn generated_taskboard() -> PathBuf {
    generated_project("taskboard_e2e", &workspace().join("examples/taskboard/rookery.toml"))
}

/// The app of `spec` built the way a user builds it: `rookery new <name>` in
/// a scratch folder under `target/`, `spec` put in place of the starter
/// spec, everything generated from it afresh by `rookery generate`, then
/// `cargo build`. Returns the built binary `<name>` (the crate's name, not
/// the spec's app name).
///
/// The test processes share one copy per name: a file lock serialises
/// them, the project is made again only when the spec or the generator
/// changed, and `cargo build` is a quick no-op when nothing did. The
/// project builds into the workspace's target folder with the workspace's
/// `Cargo.lock`, offline, so it reuses every dependency the workspace
/// already compiled: only the app itself compiles.
pub fn generated_project(name: &str, spec: &Path) -> PathBuf {
    use std::hash::{Hash as _, Hasher as _};
    let root = bin_dir().join("e2e");
    std::fs::create_dir_all(&root).unwrap();
    let lock = std::fs::File::create(root.join(format!("{name}.lock"))).unwrap();
    lock.lock().expect("lock target/debug/e2e");
    let rookery = binary("rookery");
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::fs::read(spec).unwrap().hash(&mut hasher);
    std::fs::read(&rookery).unwrap().hash(&mut hasher);
    // A spec that schedules jobs needs the job types it names, written by
    // hand beside it (`src/jobs.rs`), as a user would write them.
    let jobs = spec.parent().expect("the spec's folder").join("src/jobs.rs");
    let jobs = std::fs::read_to_string(spec)
        .unwrap()
        .contains("[jobs.")
        .then_some(jobs);
    if let Some(jobs) = &jobs {
        std::fs::read(jobs).unwrap().hash(&mut hasher);
    }
    let stamp = format!("{:016x}", hasher.finish());
    let project = root.join(name);
    let stamp_path = root.join(format!("{name}.stamp"));
    let run = |args: &[&str]| {
        let out = Command::new(&rookery).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "rookery {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    if std::fs::read_to_string(&stamp_path).ok().as_deref() != Some(stamp.as_str()) {
        let _ = std::fs::remove_dir_all(&project);
        let _ = std::fs::remove_file(&stamp_path);
        let root_str = root.display().to_string();
        let runtime = workspace().join("runtime").display().to_string();
        run(&["new", name, "--path", &root_str, "--rookery-path", &runtime]);
        // Start over from the spec: no starter models, no migrations.
        std::fs::copy(spec, project.join("rookery.toml")).unwrap();
        if let Some(jobs) = &jobs {
            std::fs::copy(jobs, project.join("src/jobs.rs")).unwrap();
            let main = project.join("src/main.rs");
            let text = std::fs::read_to_string(&main).unwrap();
            std::fs::write(&main, format!("{text}\nmod jobs;\n")).unwrap();
        }
        std::fs::remove_dir_all(project.join("src/generated")).unwrap();
        std::fs::remove_dir_all(project.join("migrations")).unwrap();
        run(&["generate", "--project", &project.display().to_string()]);
        // Under target/, inside the Rookery workspace: `rookery new` gave
        // the project a `[workspace]` of its own, or cargo would refuse it.
        let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
        assert!(manifest.contains("\n[workspace]\n"), "{manifest}");
        std::fs::copy(workspace().join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
        std::fs::write(&stamp_path, &stamp).unwrap();
    }
    let target = bin_dir().parent().expect("target dir").to_path_buf();
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--offline", "--quiet", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building the generated {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(lock);
    bin_dir().join(name)
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

pub fn admin_url() -> String {
    std::env::var("DATABASE_URL_ADMIN").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh database of the taskboard app, set up as the README says
/// (`rookery::db::test_cluster`): `owner_url` migrates as a non-superuser
/// owner, `serving_url` serves as a member of `taskboard_app`, and `url`
/// is the superuser's, for inspection only. Dropped at the end.
pub struct Database {
    pub name: String,
    pub url: String,
    pub owner_url: String,
    pub serving_url: String,
    pg: rookery::db::test_cluster::PgTestDb,
    rt: tokio::runtime::Runtime,
}

impl Database {
    pub fn create() -> Self {
        Self::create_for("taskboard")
    }

    /// A fresh database for app `app` (its group role is `<app>_app`).
    pub fn create_for(app: &str) -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let pg = rt.block_on(rookery::db::test_cluster::create(&admin_url(), app));
        Self {
            name: pg.name.clone(),
            url: pg.superuser_url(),
            owner_url: pg.owner_url.clone(),
            serving_url: pg.serving_url.clone(),
            pg,
            rt,
        }
    }

    /// Runs a scalar query as the superuser (which sees every tenant).
    /// `bin migrate` as the README says: as the non-superuser owner, for
    /// the app's group role (of which the serving login is a member).
    pub fn migrate_with(&self, bin: &Path) {
        let migrate = Command::new(bin)
            .arg("migrate")
            .env("ROOKERY_MIGRATE_DATABASE_URL", &self.owner_url)
            .env("DATABASE_URL", &self.serving_url)
            .output()
            .unwrap();
        assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    }

    pub fn scalar(&self, sql: &str) -> i64 {
        self.rt.block_on(async {
            let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
            let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            n
        })
    }
}

impl Database {
    /// Whether `sql`, run as the serving role (`<app>_app`, through its
    /// login member), is refused.
    pub fn refused_as_serving_role(&self, sql: &str) -> bool {
        self.rt.block_on(async {
            let pool = sqlx::PgPool::connect(&self.serving_url).await.unwrap();
            let mut tx = pool.begin().await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {}", self.pg.group_role)))
                .execute(&mut *tx)
                .await
                .unwrap();
            let refused = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut *tx)
                .await
                .is_err();
            drop(tx);
            pool.close().await;
            refused
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        self.rt.block_on(self.pg.drop_database());
    }
}

pub const JWT_SECRET: &str = "e2e-secret-e2e-secret-e2e-secret-e2e";

/// A running app server.
pub struct Server {
    child: Child,
    pub base: String,
    /// What it logged up to the line saying it serves.
    pub startup_log: Vec<String>,
    log: std::sync::mpsc::Receiver<String>,
}

impl Server {
    /// Starts `bin serve` with `env`, and returns once it logged that it serves.
    pub fn start(bin: &Path, env: &[(&str, &str)]) -> Self {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            // scripts/test exports REDIS_URL; a server shares it only when
            // its test says so (with a prefix of its own), or parallel
            // tests would share their limits.
            .env_remove("REDIS_URL")
            .env("ROOKERY_BIND", format!("127.0.0.1:{port}"))
            .env("ROOKERY_JWT_SECRET", JWT_SECRET)
            .env("ROOKERY_API_KEY_PEPPER", "e2e-pepper-e2e-pepper")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start the server");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        loop {
            match lines.next() {
                Some(Ok(line)) => {
                    let ready = line.contains("serving");
                    seen.push(line);
                    if ready {
                        break;
                    }
                }
                _ => panic!("server exited before serving:\n{}", seen.join("\n")),
            }
        }
        // Keep draining the log so the server never blocks on a full pipe,
        // for `wait_for_log`.
        let (send, log) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in lines.by_ref().map_while(Result::ok) {
                let _ = send.send(line);
            }
        });
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            startup_log: seen,
            log,
        }
    }

    /// The next line it logs (after the start-up) that contains `needle`:
    /// the server says when something happened, so nothing sleeps. Panics
    /// when a minute passes without one (a guard, not a timing assertion).
    pub fn wait_for_log(&mut self, needle: &str) -> String {
        loop {
            match self.log.recv_timeout(std::time::Duration::from_secs(60)) {
                Ok(line) if line.contains(needle) => return line,
                Ok(_) => {}
                Err(e) => panic!("the server logged no `{needle}`: {e}"),
            }
        }
    }

    /// Sends SIGTERM and waits: graceful shutdown must exit 0.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// One HTTP exchange.
pub fn call(
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> (u16, Value, Vec<(String, String)>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let url = format!("{base}{path}");
    let mut req = ureq::http::Request::builder().method(method).uri(&url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let response = match body {
        Some(b) => agent.run(
            req.header("content-type", "application/json")
                .body(b.to_string())
                .unwrap(),
        ),
        None => agent.run(req.body(()).unwrap()),
    }
    .expect("request");
    let status = response.status().as_u16();
    let headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let text = response.into_body().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null), headers)
}

/// Applies migration `files` (`NNNN_name.sql`, every one so far, in order)
/// with the app's own runner, as `<app> migrate` does: connected to `url`
/// (on PostgreSQL, the non-superuser owner's) and granting `role`.
pub async fn migrate_files(url: &str, app: &'static str, role: &str, files: &[PathBuf]) {
    if let Err(e) = try_migrate_files(url, app, role, files).await {
        panic!("migrating {files:?}: {e}");
    }
}

/// [`migrate_files`], returning the runner's error (the pool is closed
/// either way, so a failed SQLite migration's transaction is rolled back).
pub async fn try_migrate_files(
    url: &str,
    app: &'static str,
    role: &str,
    files: &[PathBuf],
) -> Result<(), rookery::db::DbError> {
    let migrations: Vec<rookery::app_spec::Migration> = files
        .iter()
        .map(|path| {
            let stem = path.file_stem().and_then(|s| s.to_str()).expect("file name");
            let (version, name) = stem.split_once('_').expect("NNNN_name.sql");
            rookery::app_spec::Migration {
                version: version.parse().expect("NNNN"),
                name: Box::leak(name.to_owned().into_boxed_str()),
                sql: Box::leak(std::fs::read_to_string(path).expect("migration").into_boxed_str()),
            }
        })
        .collect();
    let migrations: &'static [rookery::app_spec::Migration] = Box::leak(migrations.into_boxed_slice());
    let spec: &'static rookery::app_spec::AppSpec = Box::leak(Box::new(rookery::app_spec::AppSpec {
        name: app,
        schedules: &[],
        postgres_migrations: migrations,
        sqlite_migrations: migrations,
        ..taskboard::generated::SPEC
    }));
    let db = rookery::db::Db::connect(url, &rookery::db::DbOptions::migrating())
        .await
        .expect("connect to migrate");
    let result = db.migrate(spec, role).await;
    db.close().await;
    result
}

/// `rookery generate [extra] --project dir`, without colours.
pub fn rookery_generate(dir: &Path, extra: &[&str]) -> std::process::Output {
    Command::new(binary("rookery"))
        .arg("generate")
        .args(extra)
        .arg("--project")
        .arg(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("run rookery")
}
