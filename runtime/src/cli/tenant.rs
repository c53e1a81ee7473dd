//! `<app> tenant show SLUG` and `<app> tenant plan SLUG PLAN`: the
//! operator's view and change of one tenant's plan (`crate::operator`),
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
use crate::http::App;
use crate::operator::{self, OperatorError, TenantFacts, Via};

pub(super) async fn tenant(app: &App, config: Config, args: &[String]) -> Result<(), CliError> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let db = super::serving_db(&config).await?;
    db.check_migrated(app.spec()).await.map_err(failed)?;
    let result = match args.as_slice() {
        ["show", slug] => operator::tenant(&db, app.spec(), slug).await.map(|t| print(&t)),
        ["plan", slug, plan] => change_plan(app, config, &db, slug, plan).await,
        _ => {
            return Err(CliError::Usage("tenant takes `show SLUG` or `plan SLUG PLAN`".into()));
        }
    };
    db.close().await;
    result.map_err(failed)
}

async fn change_plan(app: &App, config: Config, db: &Db, slug: &str, plan: &str) -> Result<(), OperatorError> {
    let change = operator::set_plan(db, app.spec(), slug, plan, Via::Cli).await?;
    print(&change.tenant);
    if !change.changed {
        println!("unchanged: `{slug}` was on `{plan}` already");
        return Ok(());
    }
    println!("plan changed: {} -> {}", change.from, change.tenant.plan);
    let state = app.state(config, db.clone());
    match state.redis() {
        Some(redis) if redis.reconnect().await => {
            state.invalidate(Invalidation::Tenant(change.tenant.id)).await;
            if redis.is_down() {
                println!("Redis did not take the change: serving instances see it within 30 s");
            } else {
                println!("published through Redis: every serving instance sees it on its next request");
            }
        }
        Some(_) => println!("Redis unreachable: serving instances see it within 30 s"),
        None => println!(
            "no REDIS_URL: serving instances see it within 30 s (for at once, use the operator API: PUT /operator/tenants/{slug}/plan)"
        ),
    }
    Ok(())
}

fn print(t: &TenantFacts) {
    println!(
        "{} ({})\n  id:       {}\n  plan:     {}\n  features: {}",
        t.slug,
        t.name,
        t.id,
        t.plan,
        if t.features.is_empty() {
            "none".to_owned()
        } else {
            t.features.join(", ")
        }
    );
}
