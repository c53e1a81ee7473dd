//! `<app> user erase EMAIL`: the operator erases one person's personal
//! data on their request (GDPR), as `DELETE /me` does for the person
//! themselves: their memberships end in every tenant (audited in each as
//! `member.erased`, by the operator), their email becomes a placeholder
//! and their password goes. Refused while they are a tenant's only owner.
//! As the serving role (`DATABASE_URL`).

use super::{CliError, failed};
use crate::config::Config;
use crate::http::App;

pub(super) async fn user(app: &App, config: Config, args: &[String]) -> Result<(), CliError> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ["erase", email] = args.as_slice() else {
        return Err(CliError::Usage("user takes `erase EMAIL`".into()));
    };
    let db = super::serving_db(&config).await?;
    db.check_migrated(app.spec()).await.map_err(failed)?;
    let state = app.state(config, db.clone());
    let outcome = crate::http::erase_by_email(&state, email).await;
    db.close().await;
    match outcome.map_err(failed)? {
        Some((user, tenants)) => {
            println!("personal data of user {user} erased; memberships ended in {tenants} tenant(s)");
            Ok(())
        }
        None => Err(CliError::Failed(format!("no account has the email `{email}`"))),
    }
}
