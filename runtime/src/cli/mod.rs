//! The generated app's command line: `serve` (default), `migrate`,
//! `worker`, `jobs`, `mail`, `platform-audit`, `audit`, `usage`, `tenant`, `user`, `token`.

mod analytics;
mod audit;
mod tenant;
mod user;

use std::process::ExitCode;

use crate::config::Config;
use crate::db::{Db, DbOptions};
use crate::http::App;

const COMMANDS: &str = "usage: <app> [serve | migrate | worker | jobs (list [--dead] | retry ID) | mail (list | show ID) | platform-audit [--limit N] | audit (verify | seal) [--tenant SLUG] | usage [--tenant SLUG] [--days N] | tenant (show SLUG | plan SLUG PLAN | feature SLUG FEATURE on|off|plan | delete SLUG | cancel-deletion SLUG | erasure TENANT_ID) | user erase EMAIL | token --tenant ID --user ID --role ROLE [--ttl SECONDS]]

  serve     migrate (SQLite only), then serve the API (default); refuses a
            database behind this build's migrations; also runs the job
            workers when ROOKERY_JOBS_IN_SERVE (default on SQLite)
  migrate   apply pending migrations as ROOKERY_MIGRATE_DATABASE_URL (default
            DATABASE_URL), then grant ROOKERY_DB_ROLE the app's privileges
  worker    run the background job workers and schedules until SIGTERM or
            Ctrl-C (any number of them, on any number of machines)
  jobs      list: jobs per queue and state, then the newest 20 jobs (--dead:
            the dead ones, with their last error); retry ID: run a dead job
            again with fresh attempts
  mail      list: the newest 20 messages of every tenant, queued, sent,
            failed or in the outbox (where mail stays without SMTP_URL);
            show ID: one message, with both parts while it is in the outbox;
            as ROOKERY_MIGRATE_DATABASE_URL (the tables' owner), like migrate
  platform-audit  the platform's cross-tenant work, newest first (default
            50): schedules fanned out, prunes, platform jobs' transactions;
            as the tables' owner, like mail
  audit     verify: recompute every tenant's audit hash chain (or SLUG's) and
            name the first changed or missing row, exit status 1 when one is
            broken; seal: seal the rows not sealed yet; as the tables'
            owner, like mail
  usage     per UTC day and tenant: API requests, active members and rows
            per model, the last N days (default 7, today included), every
            tenant or SLUG's; as ROOKERY_MIGRATE_DATABASE_URL, like mail
  tenant    show SLUG: a tenant's plan and features; plan SLUG PLAN: put
            the tenant on PLAN; feature SLUG FEATURE on|off|plan: the
            feature on or off for this tenant whatever its plan, or back to
            the plan's (each audited in its log and the platform's),
            published to the serving instances through Redis; delete SLUG:
            erase every row of the tenant after ROOKERY_DELETION_GRACE_DAYS
            (the worker's job does); cancel-deletion SLUG: keep it;
            erasure TENANT_ID: what was kept of an erased tenant (when, rows
            per table); as the serving role (DATABASE_URL)
  user      erase EMAIL: erase the account's personal data on its owner's
            request (its memberships end, its email and password go; refused
            while it is a tenant's only owner); as the serving role
  token     print an access token (development and benchmarks); --ttl
            overrides ROOKERY_ACCESS_TOKEN_TTL, negative for an expired one";

/// The usage text: the commands, then every environment variable with its
/// default, from the table `Config` reads.
fn usage(app: &str) -> String {
    use std::fmt::Write as _;
    let mut text = COMMANDS.replace("<app>", app);
    text.push_str("\n\nEnvironment (default in brackets):\n");
    for var in crate::config::VARIABLES {
        let _ = writeln!(
            text,
            "  {:<30} [{}]\n  {:<30} {}",
            var.name,
            var.default.replace("<app>", app),
            "",
            var.meaning
        );
    }
    text
}

/// Runs the app's command line and returns its exit code.
pub fn main(app: App) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    init_tracing();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let name = app.spec().name;
    match runtime.block_on(run(app, &args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Usage(msg)) => {
            // The synopsis only: the whole text (every variable) would push
            // the error off the screen.
            let synopsis = COMMANDS.lines().next().unwrap_or_default().replace("<app>", name);
            eprintln!("error: {msg}\n\n{synopsis}\n\n`{name} --help` explains every command and environment variable.");
            ExitCode::from(2)
        }
        Err(CliError::Failed(msg)) => {
            // Runtime errors say `<app> migrate`: name the binary instead.
            eprintln!("error: {}", msg.replace("<app>", name));
            ExitCode::FAILURE
        }
    }
}

enum CliError {
    Usage(String),
    Failed(String),
}

fn failed(err: impl std::fmt::Display) -> CliError {
    CliError::Failed(err.to_string())
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

async fn run(app: App, args: &[String]) -> Result<(), CliError> {
    if let Some("-h" | "--help" | "help") = args.first().map(String::as_str) {
        println!("{}", usage(app.spec().name));
        return Ok(());
    }
    let config = Config::from_env(app.spec().name).map_err(failed)?;
    if matches!(args.first().map(String::as_str), None | Some("serve" | "worker")) {
        app.check_jobs().map_err(CliError::Failed)?;
    }
    match args.first().map(String::as_str) {
        None | Some("serve") => serve(app, config).await,
        Some("migrate") => migrate(&app, &config).await,
        Some("worker") => worker(app, config).await,
        Some("jobs") => jobs(&app, config, &args[1..]).await,
        Some("mail") => mail(&app, config, &args[1..]).await,
        Some("platform-audit") => platform_audit(&app, config, &args[1..]).await,
        Some("usage") => analytics::usage(&app, config, &args[1..]).await,
        Some("tenant") => tenant::tenant(&app, config, &args[1..]).await,
        Some("user") => user::user(&app, config, &args[1..]).await,
        Some("audit") => audit::audit(&app, config, &args[1..]).await,
        Some("token") => token(&app, config, &args[1..]),
        Some(other) => Err(CliError::Usage(format!("unknown command `{other}`"))),
    }
}

async fn migrate(app: &App, config: &Config) -> Result<(), CliError> {
    let db = Db::connect(&config.migrate_database_url, &DbOptions::migrating())
        .await
        .map_err(failed)?;
    db.migrate(app.spec(), &config.db_role).await.map_err(failed)?;
    db.close().await;
    tracing::info!("migrations applied");
    Ok(())
}

async fn serve(app: App, config: Config) -> Result<(), CliError> {
    // Flushed when serving stops.
    let _reporting = crate::report::init(&config);
    for name in &config.ephemeral_secrets {
        let dies = if *name == "ROOKERY_JWT_SECRET" {
            "access tokens"
        } else {
            "API keys (and stored webhook secrets, unless ROOKERY_WEBHOOKS_SECRET_KEY is set)"
        };
        tracing::warn!("{name} not set: using a random key; {dies} die with this process");
    }
    if config.webhooks.allow_loopback {
        tracing::warn!(
            "ROOKERY_WEBHOOKS_ALLOW_LOOPBACK=true: webhooks may be delivered to this machine's loopback services, over plain http; for tests and development only"
        );
    }
    if config.database_url.starts_with("sqlite:") {
        // The embedded default migrates itself so `cargo run` just works.
        migrate(&app, &config).await?;
    }
    let db = serving_db(&config).await?;
    db.check_migrated(app.spec()).await.map_err(failed)?;
    let bind = config.bind;
    // Workers in this process stop after the server: requests that
    // enqueued jobs have committed by then.
    let (stop_workers, workers_stopped) = tokio::sync::oneshot::channel::<()>();
    if config.jobs.in_serve {
        log_mail(&app, &config);
    } else {
        tracing::info!(
            "no job workers in this process (ROOKERY_JOBS_IN_SERVE=false): jobs, mail and webhook deliveries wait for `{} worker`",
            app.spec().name
        );
    }
    let state = app.state(config, db.clone());
    let workers = state.config().jobs.in_serve.then(|| {
        let worker = app
            .worker(db.clone(), state.config())
            .with_metrics_of(&state)
            .with_invalidations_of(&state);
        tokio::spawn(worker.run(async {
            let _ = workers_stopped.await;
        }))
    });
    let metrics = match state.config().metrics_bind {
        Some(addr) => Some(serve_metrics(&app, state.clone(), addr).await?),
        None => None,
    };
    if state.config().metrics_bind.is_none() && state.config().metrics_token.is_some() {
        tracing::info!("metrics at /metrics, behind ROOKERY_METRICS_TOKEN");
    }
    if let Some(redis) = state.redis() {
        // Not a reason to refuse to start: without it, each instance
        // limits on its own until Redis answers (the failure is logged).
        if redis.reconnect().await {
            tracing::info!("Redis reachable: rate limits and invalidations shared by every instance");
        }
    }
    // Usage counted by the requests, written every minute and once more
    // when serving stops.
    let (stop_flushing, flushing_stopped) = tokio::sync::oneshot::channel::<()>();
    let flusher = tokio::spawn(crate::usage::flush_every(
        state.usage().clone(),
        db.clone(),
        crate::usage::FLUSH_INTERVAL,
        async {
            let _ = flushing_stopped.await;
        },
    ));
    // The audit rows of the tenants written to, sealed into their hash
    // chains every few seconds and once more when serving stops.
    let (stop_sealing, sealing_stopped) = tokio::sync::oneshot::channel::<()>();
    let sealer = tokio::spawn(crate::audit::chain::seal_every(
        state.audit_pending().clone(),
        db.clone(),
        crate::audit::chain::SEAL_INTERVAL,
        async {
            let _ = sealing_stopped.await;
        },
    ));
    let router = app.router(state.clone());
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| failed(format!("cannot listen on {bind}: {e}")))?;
    tracing::info!(app = app.spec().name, %bind, "serving; OpenAPI at /openapi.json, docs at /docs");
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .map_err(failed)?;
    let _ = stop_flushing.send(());
    let _ = flusher.await;
    // Reserved calls of rate quotas that no request spent go back to
    // their windows, so the next process starts where this one stopped.
    if state.release_quotas().await.is_err() {
        tracing::warn!("some reserved quota calls could not be given back: they stay counted until their window ends");
    }
    let _ = stop_sealing.send(());
    let _ = sealer.await;
    let _ = stop_workers.send(());
    if let Some(workers) = workers {
        let _ = workers.await;
    }
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    db.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn serving_db(config: &Config) -> Result<Db, CliError> {
    let options = DbOptions {
        max_connections: config.db_pool,
        ..DbOptions::serving(config.db_role.clone())
    };
    Db::connect(&config.database_url, &options).await.map_err(failed)
}

/// `<app> worker`: the job workers and schedules, as the serving role.
async fn worker(app: App, config: Config) -> Result<(), CliError> {
    let db = serving_db(&config).await?;
    db.check_migrated(app.spec()).await.map_err(failed)?;
    log_mail(&app, &config);
    let state = app.state(config, db.clone());
    // A worker's metrics (its runs, the queue) on its own listener.
    let metrics = match state.config().metrics_bind {
        Some(addr) => Some(serve_metrics(&app, state.clone(), addr).await?),
        None => None,
    };
    app.worker(db.clone(), state.config())
        .with_metrics_of(&state)
        .with_invalidations_of(&state)
        .run(shutdown_signal())
        .await;
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    db.close().await;
    Ok(())
}

/// `<app> jobs list [--dead]` and `<app> jobs retry ID`.
async fn jobs(app: &App, config: Config, args: &[String]) -> Result<(), CliError> {
    let db = serving_db(&config).await?;
    db.check_migrated(app.spec()).await.map_err(failed)?;
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["list"] | ["list", "--dead"] | [] => {
            let dead = args.get(1).is_some();
            let stats = db.queue_stats().await.map_err(failed)?;
            println!("{:<16} {:<8} {:>8}  oldest due", "queue", "state", "jobs");
            for s in &stats {
                let oldest = s.oldest_due.map(|t| t.to_rfc3339()).unwrap_or_default();
                println!("{:<16} {:<8} {:>8}  {oldest}", s.queue, s.state, s.jobs);
            }
            let rows = db.list_jobs(dead.then_some("dead"), 20).await.map_err(failed)?;
            println!();
            for j in rows {
                let tenant = j.tenant.map_or_else(|| "platform".to_owned(), |t| t.to_string());
                println!(
                    "{} {:<6} {:<12} {:<24} tenant {tenant} attempts {} due {}{}",
                    j.id,
                    j.state,
                    j.queue,
                    j.kind,
                    j.attempts,
                    j.run_at.to_rfc3339(),
                    j.last_error
                        .map(|e| format!("\n    last error: {e}"))
                        .unwrap_or_default()
                );
            }
        }
        ["retry", id] => {
            let id: uuid::Uuid = id
                .parse()
                .map_err(|_| CliError::Usage("jobs retry needs a job id".into()))?;
            if !db.retry_dead_job(id).await.map_err(failed)? {
                return Err(CliError::Failed(format!("no dead job has id {id}")));
            }
            println!("job {id} is ready again");
        }
        _ => return Err(CliError::Usage("jobs takes `list [--dead]` or `retry ID`".into())),
    }
    db.close().await;
    Ok(())
}

/// Starts the listener that serves only `/metrics` (`ROOKERY_METRICS_BIND`).
async fn serve_metrics(
    app: &App,
    state: crate::http::AppState,
    addr: std::net::SocketAddr,
) -> Result<tokio::task::JoinHandle<()>, CliError> {
    let token = state.config().metrics_token.is_some();
    let router = app.metrics_router(state);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| failed(format!("cannot listen on {addr} (ROOKERY_METRICS_BIND): {e}")))?;
    if token {
        tracing::info!(%addr, "metrics at /metrics on their own listener, behind ROOKERY_METRICS_TOKEN");
    } else {
        tracing::info!(%addr, "metrics at /metrics on their own listener, without a token: keep it off the public network");
    }
    Ok(tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            tracing::error!(error = %err, "the metrics listener stopped");
        }
    }))
}

/// Says where this process's workers put mail.
fn log_mail(app: &App, config: &Config) {
    let name = app.spec().name;
    match &config.mail.smtp {
        Some(smtp) => {
            tracing::info!(server = %smtp.redacted(), from = %config.mail.from, "mail is sent over SMTP");
            if matches!(
                smtp.tls,
                crate::config::SmtpTls::None | crate::config::SmtpTls::Opportunistic
            ) && !smtp.is_loopback()
            {
                tracing::warn!(server = %smtp.redacted(), "SMTP_URL allows plain text to another machine: the password and the mail can be read on the way");
            }
        }
        None if config.database_url.starts_with("sqlite:") => tracing::info!(
            "SMTP_URL not set: mail stays in the outbox; read it with `{name} mail list` and `{name} mail show ID`"
        ),
        None => tracing::warn!(
            "SMTP_URL not set: mail is not delivered but kept in the outbox table (rookery_mail); read it with `{name} mail list`, set SMTP_URL to send it"
        ),
    }
}

/// `<app> platform-audit [--limit N]`: the platform scope's audit, which
/// only the tables' owner may read (the serving role may only append).
async fn platform_audit(app: &App, config: Config, args: &[String]) -> Result<(), CliError> {
    let limit = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => 50,
        ["--limit", n] => n
            .parse()
            .map_err(|_| CliError::Usage("--limit takes a number of rows".into()))?,
        _ => return Err(CliError::Usage("platform-audit takes `--limit N` or nothing".into())),
    };
    let db = Db::connect(&config.migrate_database_url, &DbOptions::migrating())
        .await
        .map_err(failed)?;
    db.check_migrated(app.spec()).await.map_err(failed)?;
    let rows = db
        .platform_audit(limit)
        .await
        .map_err(owner_only("the platform audit"))?;
    if rows.is_empty() {
        println!("no platform work recorded");
    }
    for row in rows {
        println!(
            "{} {:<20} {} {}",
            row.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            row.action,
            row.actor,
            row.detail
        );
    }
    db.close().await;
    Ok(())
}

/// `<app> mail list` and `<app> mail show ID`: every tenant's mail, which
/// only the tables' owner may read (on PostgreSQL the serving role reads
/// its tenants' messages only, through row-level security).
async fn mail(app: &App, config: Config, args: &[String]) -> Result<(), CliError> {
    let db = Db::connect(&config.migrate_database_url, &DbOptions::migrating())
        .await
        .map_err(failed)?;
    db.check_migrated(app.spec()).await.map_err(failed)?;
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["list"] | [] => {
            let messages = db.list_mail(20).await.map_err(owner_only("mail"))?;
            if messages.is_empty() {
                println!("no mail");
            }
            for m in messages {
                println!(
                    "{} {:<6} {} {:<16} tenant {} to {}\n    subject: {}{}",
                    m.id,
                    m.state,
                    m.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    m.template,
                    m.tenant,
                    m.to,
                    m.subject,
                    m.last_error
                        .map(|e| format!("\n    last error: {e}"))
                        .unwrap_or_default()
                );
            }
        }
        ["show", id] => {
            let id: uuid::Uuid = id
                .parse()
                .map_err(|_| CliError::Usage("mail show needs a message id (`mail list`)".into()))?;
            let m = db
                .show_mail(id)
                .await
                .map_err(owner_only("mail"))?
                .ok_or_else(|| CliError::Failed(format!("no message has id {id}")))?;
            println!(
                "Id: {}\nState: {}\nTenant: {}\nTemplate: {}",
                m.id, m.state, m.tenant, m.template
            );
            println!("Date: {}", m.created_at.to_rfc2822());
            if let Some(sent) = m.sent_at {
                println!("Sent: {}", sent.to_rfc2822());
            }
            println!("From: {}\nTo: {}\nSubject: {}", m.from, m.to, m.subject);
            if let Some(error) = &m.last_error {
                println!("Last error: {error}");
            }
            match (&m.text, &m.html) {
                (Some(text), html) => {
                    println!("\n{text}");
                    if let Some(html) = html {
                        println!("----- text/html -----\n{html}");
                    }
                }
                (None, _) => println!("\n(only the outbox keeps a message readable; this one is {})", m.state),
            }
        }
        _ => return Err(CliError::Usage("mail takes `list` or `show ID`".into())),
    }
    db.close().await;
    Ok(())
}

/// A refusal of the operator's functions (every tenant's `what`) says
/// whom they are for.
fn owner_only(what: &'static str) -> impl Fn(crate::db::DbError) -> CliError {
    move |err| match &err {
        crate::db::DbError::Sqlx(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501") => {
            CliError::Failed(format!(
                "reading {what} across tenants is for the tables' owner: set ROOKERY_MIGRATE_DATABASE_URL to the URL `<app> migrate` uses"
            ))
        }
        _ => failed(err),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn token(app: &App, config: Config, args: &[String]) -> Result<(), CliError> {
    let mut tenant = None;
    let mut user = None;
    let mut role = None;
    let mut ttl = config.access_token_ttl;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| CliError::Usage(format!("{flag} needs a value")))?;
        match flag.as_str() {
            "--tenant" => {
                tenant = Some(
                    value
                        .parse()
                        .map_err(|_| CliError::Usage("--tenant must be a tenant id".into()))?,
                )
            }
            "--user" => {
                user = Some(
                    value
                        .parse()
                        .map_err(|_| CliError::Usage("--user must be a user id".into()))?,
                )
            }
            "--role" => role = Some(value.clone()),
            "--ttl" => {
                ttl = value
                    .parse()
                    .map_err(|_| CliError::Usage("--ttl must be a number of seconds".into()))?
            }
            other => return Err(CliError::Usage(format!("unknown flag `{other}`"))),
        }
    }
    let (Some(tenant), Some(user), Some(role)) = (tenant, user, role) else {
        return Err(CliError::Usage("token needs --tenant, --user and --role".into()));
    };
    if app.spec().role(&role).is_none() {
        return Err(CliError::Usage(format!("unknown role `{role}`")));
    }
    let keys = crate::auth::token::TokenKeys::new(&config.jwt_secret, &config.jwt_previous_secrets, ttl);
    println!("{}", keys.issue(user, tenant, &role).map_err(failed)?);
    Ok(())
}
