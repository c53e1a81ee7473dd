//! `<app> audit verify [--tenant SLUG]` and `<app> audit seal [--tenant
//! SLUG]`: the operator's check of every tenant's audit hash chain
//! ([`crate::audit::chain`]), as the tables' owner, like `usage`.

use super::{CliError, failed};
use crate::audit::chain;
use crate::config::Config;
use crate::db::{Db, DbOptions};
use crate::http::App;

pub(super) async fn audit(app: &App, config: Config, args: &[String]) -> Result<(), CliError> {
    let (verb, rest) = match args.split_first() {
        Some((verb, rest)) if verb == "verify" || verb == "seal" => (verb.as_str(), rest),
        _ => {
            return Err(CliError::Usage(
                "audit takes `verify [--tenant SLUG]` or `seal [--tenant SLUG]`".into(),
            ));
        }
    };
    let slug = match rest {
        [] => None,
        [flag, slug] if flag == "--tenant" => Some(slug.clone()),
        _ => {
            return Err(CliError::Usage(format!(
                "audit {verb} takes `--tenant SLUG` or nothing"
            )));
        }
    };
    let db = Db::connect(&config.migrate_database_url, &DbOptions::migrating())
        .await
        .map_err(failed)?;
    db.check_migrated(app.spec()).await.map_err(failed)?;
    let only = match &slug {
        Some(slug) => Some(
            db.tenant_by_slug(slug)
                .await
                .map_err(failed)?
                .ok_or_else(|| CliError::Failed(format!("no tenant has slug `{slug}`")))?,
        ),
        None => None,
    };
    if verb == "seal" {
        for (tenant, slug) in db.tenant_slugs().await.map_err(failed)? {
            if only.is_none_or(|t| t == tenant) {
                let n = chain::seal(&db, tenant).await.map_err(failed)?;
                println!("{slug}: sealed {n} rows");
            }
        }
        db.close().await;
        return Ok(());
    }
    let reports = chain::verify_all(&db, only).await.map_err(failed)?;
    db.close().await;
    let mut broken = 0;
    for (tenant, slug, report) in &reports {
        match &report.broken {
            Some(b) => {
                broken += 1;
                println!(
                    "{slug} ({tenant}): BROKEN: {b}; {} rows before it verified",
                    report.sealed
                );
            }
            None => {
                let head = report.head.as_ref().map_or_else(
                    || "empty chain".to_owned(),
                    |(seq, hash)| format!("head seq {seq} hash {hash}"),
                );
                println!(
                    "{slug} ({tenant}): ok, {} sealed rows verified ({head}), {} not sealed yet",
                    report.sealed, report.unsealed
                );
            }
        }
    }
    if broken > 0 {
        return Err(CliError::Failed(format!(
            "the audit chain is broken in {broken} of {} tenants",
            reports.len()
        )));
    }
    Ok(())
}
