//! `GET /members`: the tenant's members with their email and role.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{tenant_bind, text, time, uuid};
use crate::auth::Principal;
use crate::db::DbError;
use crate::http::{ApiError, AppState};
use crate::model::UserId;

const READ: &str = "members.read";

#[derive(Serialize)]
pub(super) struct Member {
    user_id: UserId,
    email: String,
    role: String,
    created_at: DateTime<Utc>,
}

/// `GET /members`, oldest first.
pub(super) async fn list(State(state): State<AppState>, principal: Principal) -> Result<Json<Vec<Member>>, ApiError> {
    principal.require(READ)?;
    let mut tx = state.db().begin(principal.tenant).await?;
    let rows = tx
        .fetch_all(
            "SELECT m.user_id, u.email, m.role, m.created_at FROM memberships m JOIN users u ON u.id = m.user_id \
             WHERE m.tenant_id = $1 ORDER BY m.created_at, m.user_id"
                .into(),
            vec![tenant_bind(principal.tenant)],
        )
        .await?;
    tx.finish_read();
    let members = rows
        .iter()
        .map(|row| {
            Ok(Member {
                user_id: UserId(uuid(row, 0)?),
                email: text(row, 1)?,
                role: text(row, 2)?,
                created_at: time(row, 3)?,
            })
        })
        .collect::<Result<Vec<_>, DbError>>()?;
    Ok(Json(members))
}
