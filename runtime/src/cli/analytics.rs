//! `<app> usage [--tenant SLUG] [--days N]`: the operator's table of usage
//! per UTC day and tenant ([`Db::usage`]).

use std::fmt::Write as _;

use super::{CliError, failed, owner_only};
use crate::config::Config;
use crate::db::{Db, DbOptions, UsageDay, UsageQuery};
use crate::http::App;

/// The longest `--days`: usage is kept 400 days.
const MAX_DAYS: u32 = 400;

/// Every tenant's usage (or SLUG's), which only the tables' owner may
/// read: it connects as `migrate` does, like `mail`.
pub(super) async fn usage(app: &App, config: Config, args: &[String]) -> Result<(), CliError> {
    let mut slug = None;
    let mut days = 7;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| CliError::Usage(format!("{flag} needs a value")))?;
        match flag.as_str() {
            "--tenant" => slug = Some(value.clone()),
            "--days" => {
                days = value
                    .parse()
                    .ok()
                    .filter(|d| (1..=MAX_DAYS).contains(d))
                    .ok_or_else(|| CliError::Usage(format!("--days must be a number of days, 1-{MAX_DAYS}")))?;
            }
            other => return Err(CliError::Usage(format!("unknown flag `{other}`"))),
        }
    }
    let db = Db::connect(&config.migrate_database_url, &DbOptions::migrating())
        .await
        .map_err(failed)?;
    db.check_migrated(app.spec()).await.map_err(failed)?;
    let mut query = UsageQuery::last_days(days);
    if let Some(slug) = &slug {
        let tenant = db
            .tenant_by_slug(slug)
            .await
            .map_err(failed)?
            .ok_or_else(|| CliError::Failed(format!("no tenant has slug `{slug}`")))?;
        query = query.tenant(tenant);
    }
    let usage = db.usage(&query).await.map_err(owner_only("usage"))?;
    db.close().await;
    let models: Vec<&str> = app.models().iter().map(|m| m.name).collect();
    print!("{}", table(&usage, &models));
    if usage.is_empty() {
        println!("no usage recorded from {} to {} (UTC)", query.from, query.to);
    }
    Ok(())
}

/// The table `usage` prints: a line per day and tenant, a column per model
/// (`models` first, in their order, then any other the rows name); `-`
/// where the day's rows were not counted.
fn table(usage: &[UsageDay], models: &[&str]) -> String {
    let mut columns: Vec<&str> = models.to_vec();
    for day in usage {
        for model in day.rows.keys() {
            if !columns.contains(&model.as_str()) {
                columns.push(model);
            }
        }
    }
    let slug_width = usage.iter().map(|d| d.slug.len()).max().unwrap_or(0).max(6);
    let mut out = format!(
        "{:<10}  {:<slug_width$}  {:>10}  {:>7}",
        "day", "tenant", "requests", "members"
    );
    for column in &columns {
        let _ = write!(out, "  {column:>8}");
    }
    out.push('\n');
    for day in usage {
        let _ = write!(
            out,
            "{:<10}  {:<slug_width$}  {:>10}  {:>7}",
            day.day.to_string(),
            day.slug,
            day.requests,
            day.active_members
        );
        for column in &columns {
            let rows = day.rows.get(*column).map_or_else(|| "-".to_owned(), u64::to_string);
            let _ = write!(out, "  {rows:>width$}", width = column.len().max(8));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::table;
    use crate::db::UsageDay;

    fn day(day: &str, slug: &str, requests: u64, active_members: u64) -> UsageDay {
        UsageDay {
            day: day.parse().unwrap(),
            tenant: crate::TenantId::new_v7(),
            slug: slug.into(),
            requests,
            active_members,
            rows: Default::default(),
        }
    }

    #[test]
    fn the_table_has_a_column_per_model_and_a_dash_where_rows_were_not_counted() {
        let mut counted = day("2026-05-01", "acme", 1200, 3);
        counted.rows = [("project".into(), 4), ("task".into(), 10), ("retired".into(), 1)].into();
        let fresh = day("2026-05-02", "globex-industries", 2, 1);
        let text = table(&[counted, fresh], &["project", "task"]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "day         tenant               requests  members   project      task   retired",
                "2026-05-01  acme                     1200        3         4        10         1",
                "2026-05-02  globex-industries           2        1         -         -         -",
            ]
        );
    }
}
