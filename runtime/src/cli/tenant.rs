//! `<app> tenant show SLUG`, `<app> tenant plan SLUG PLAN`, `<app>
//! tenant feature SLUG FEATURE on|off|plan`, `<app> tenant delete SLUG`
//! `<app> tenant cancel-deletion SLUG` and `<app> tenant erasure
//! TENANT_ID` (what an erasure kept): the operator's view and change
//! of one tenant's plan, feature overrides (`crate::operator`) and
//! deletion (`crate::erasure`),
//! as the serving role (`DATABASE_URL`), like the operator API: it may read
//! `tenants` and change a plan (`UPDATE (plan)`), and writes the audit rows
//! through the tenant's row-level security like every other write.
//!
//! A change is published to the serving instances through Redis when
//! `REDIS_URL` is set (their next request sees it); without Redis they
//! see it when their tenant facts expire (30 seconds), which the command
//! says. The operator API (`PUT /operator/tenants/{slug}/plan`) applies it
//! at once on the instance it reaches.

use super::{CliError, failed};
use crate::auth::invalidate::Invalidation;
use crate::config::Config;
use crate::db::Db;
use crate::erasure::{self, ErasureError, Requester};
use crate::http::App;
use crate::operator::{self, OperatorError, TenantFacts, Via};

pub(super) async fn tenant(app: &App, config: Config, args: &[String]) -> Result<(), CliError> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let db = super::serving_db(&config).await?;
    db.check_migrated(app.spec()).await.map_err(failed)?;
    let result = match args.as_slice() {
        ["show", slug] => show(app, &db, slug).await,
        ["delete", slug] => delete(app, &config, &db, slug).await,
        ["cancel-deletion", slug] => cancel_deletion(app, &db, slug).await,
        ["erasure", id] => erasure_record(&db, id).await,
        ["plan", slug, plan] => change_plan(app, config, &db, slug, plan).await,
        ["feature", slug, feature, setting @ ("on" | "off" | "plan")] => {
            let enabled = match *setting {
                "on" => Some(true),
                "off" => Some(false),
                _ => None,
            };
            change_feature(app, config, &db, slug, feature, enabled).await
        }
        _ => {
            return Err(CliError::Usage(
                "tenant takes `show SLUG`, `plan SLUG PLAN`, `feature SLUG FEATURE on|off|plan`, `delete SLUG`, `cancel-deletion SLUG` or `erasure TENANT_ID`".into(),
            ));
        }
    };
    db.close().await;
    result.map_err(failed)
}

async fn show(app: &App, db: &Db, slug: &str) -> Result<(), OperatorError> {
    let facts = operator::tenant(db, app.spec(), slug).await?;
    print(&facts);
    match erasure::pending(db, facts.id).await.map_err(gone(slug))? {
        Some(p) => println!(
            "  deletion:  requested {}, erased after {}",
            p.requested_at.to_rfc3339(),
            p.erase_after.to_rfc3339()
        ),
        None => println!("  deletion:  none"),
    }
    Ok(())
}

async fn delete(app: &App, config: &Config, db: &Db, slug: &str) -> Result<(), OperatorError> {
    let facts = operator::tenant(db, app.spec(), slug).await?;
    let by = Requester::Operator("operator cli");
    let requested = erasure::request(db, facts.id, by, config.deletion_grace_days, None)
        .await
        .map_err(gone(slug))?;
    let after = requested.pending.erase_after.to_rfc3339();
    if requested.new {
        println!(
            "deletion of `{slug}` requested: every row of it is erased by the worker after {after}; `tenant cancel-deletion {slug}` keeps it"
        );
    } else {
        println!("a deletion of `{slug}` was pending already: erased after {after}");
    }
    Ok(())
}

async fn cancel_deletion(app: &App, db: &Db, slug: &str) -> Result<(), OperatorError> {
    let facts = operator::tenant(db, app.spec(), slug).await?;
    let cancelled = erasure::cancel(db, facts.id, Requester::Operator("operator cli"), None)
        .await
        .map_err(gone(slug))?;
    if cancelled {
        println!("deletion of `{slug}` cancelled");
    } else {
        println!("no deletion of `{slug}` was pending");
    }
    Ok(())
}

/// What was kept of erased tenant `id`: the proof of its erasure.
async fn erasure_record(db: &Db, id: &str) -> Result<(), OperatorError> {
    let tenant: crate::TenantId = id.parse().map_err(|_| OperatorError::UnknownTenant(id.to_owned()))?;
    let record = db
        .erasure_record(tenant)
        .await?
        .ok_or_else(|| OperatorError::UnknownTenant(id.to_owned()))?;
    println!(
        "tenant {tenant} erased\n  requested: {}\n  erased:    {}\n  rows:      {}",
        record.requested_at.to_rfc3339(),
        record.erased_at.to_rfc3339(),
        record.rows
    );
    Ok(())
}

/// An erasure's error as the operator's: the tenant erased meanwhile is
/// unknown.
fn gone(slug: &str) -> impl Fn(ErasureError) -> OperatorError + '_ {
    move |err| match err {
        ErasureError::UnknownTenant => OperatorError::UnknownTenant(slug.to_owned()),
        ErasureError::Db(db) => OperatorError::Db(db),
    }
}

async fn change_plan(app: &App, config: Config, db: &Db, slug: &str, plan: &str) -> Result<(), OperatorError> {
    let change = operator::set_plan(db, app.spec(), slug, plan, Via::Cli).await?;
    print(&change.tenant);
    if !change.changed {
        println!("unchanged: `{slug}` was on `{plan}` already");
        return Ok(());
    }
    println!("plan changed: {} -> {}", change.from, change.tenant.plan);
    publish(app, config, db, change.tenant.id, slug).await;
    Ok(())
}

async fn change_feature(
    app: &App,
    config: Config,
    db: &Db,
    slug: &str,
    feature: &str,
    enabled: Option<bool>,
) -> Result<(), OperatorError> {
    let change = operator::set_feature(db, app.spec(), slug, feature, enabled, Via::Cli).await?;
    print(&change.tenant);
    if !change.changed {
        println!("unchanged");
        return Ok(());
    }
    match enabled {
        Some(on) => println!(
            "feature `{feature}` {} for `{slug}` whatever its plan",
            if on { "on" } else { "off" }
        ),
        None => println!("feature `{feature}` follows the plan of `{slug}` again"),
    }
    publish(app, config, db, change.tenant.id, slug).await;
    Ok(())
}

/// Tells the serving instances through Redis, and says what reached them.
async fn publish(app: &App, config: Config, db: &Db, tenant: crate::TenantId, slug: &str) {
    let state = app.state(config, db.clone());
    match state.redis() {
        Some(redis) if redis.reconnect().await => {
            state.invalidate(Invalidation::Tenant(tenant)).await;
            if redis.is_down() {
                println!("Redis did not take the change: serving instances see it within 30 s");
            } else {
                println!("published through Redis: every serving instance sees it on its next request");
            }
        }
        Some(_) => println!("Redis unreachable: serving instances see it within 30 s"),
        None => println!(
            "no REDIS_URL: serving instances see it within 30 s (for at once, use the operator API under /operator/tenants/{slug})"
        ),
    }
}

fn print(t: &TenantFacts) {
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(", ")
        }
    };
    let overrides = t
        .overrides
        .iter()
        .map(|(f, on)| format!("{f} {}", if on.as_bool() == Some(true) { "on" } else { "off" }))
        .collect();
    println!(
        "{} ({})\n  id:        {}\n  plan:      {}\n  features:  {}\n  overrides: {}",
        t.slug,
        t.name,
        t.id,
        t.plan,
        list(t.features.iter().map(|f| (*f).to_owned()).collect()),
        list(overrides),
    );
}
