//! The generic routes every tenant-scoped model gets:
//! `GET/POST /<path>` and `GET/PATCH/DELETE /<path>/{id}`.
//!
//! Order of checks on every route: authentication, tenant and rate limit
//! (middleware), then the model's permission, then the body, then quota,
//! then the write and its audit row in one transaction: on PostgreSQL one
//! statement, sent together with the tenant setting and committed in the
//! same round trip, unless a quota has to be counted first.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{ApiError, AppState, request_id};
use crate::app_spec::QuotaLimit;
use crate::audit::Stamp;
use crate::auth::Principal;
use crate::db::{TenantTx, Writes};
use crate::model::{Id, ModelDef, Record, TenantModel};
use crate::repo::{ListQuery, Page};

/// The list / get / create / update / delete routes of model `M`.
pub fn router<M: TenantModel>() -> Router<AppState> {
    let def = M::def();
    Router::new()
        .route(&format!("/{}", def.path), get(list::<M>).post(create::<M>))
        .route(
            &format!("/{}/{{id}}", def.path),
            get(read::<M>).patch(update::<M>).delete(remove::<M>),
        )
}

fn parse_id<M: TenantModel>(raw: &str) -> Result<Id<M>, ApiError> {
    // An id that cannot exist is a missing row, not a bad request.
    raw.parse().map_err(|_| ApiError::NotFound)
}

/// A create or update body of model `def`: JSON (415), an object (400),
/// its decimals exact (422, before serde would round them), then the
/// typed parse (400).
fn parse_body<T: serde::de::DeserializeOwned>(
    def: &ModelDef,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, ApiError> {
    super::body::media_type(headers)?;
    super::body::object(body)?;
    let errors = crate::repo::inexact_decimals(def, body);
    if !errors.is_empty() {
        return Err(ApiError::Invalid(errors));
    }
    super::body::deserialize_model(def, body)
}

async fn list<M: TenantModel>(
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<M>>, ApiError> {
    let def = M::def();
    principal.require(def.permissions.read)?;
    let pairs: Vec<_> = form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()).collect();
    let query = ListQuery::parse(def, pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))?;
    let mut tx = state.db().begin(principal.tenant).await?;
    let page = tx.repo::<M>().list(&query).await?;
    tx.finish_read();
    Ok(Json(page))
}

async fn read<M: TenantModel>(
    State(state): State<AppState>,
    principal: Principal,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let def = M::def();
    principal.require(def.permissions.read)?;
    let id = parse_id::<M>(&raw)?;
    let mut tx = state.db().begin(principal.tenant).await?;
    let record = tx.repo::<M>().get(id).await?.ok_or(ApiError::NotFound)?;
    tx.finish_read();
    Ok(Json(record).into_response())
}

/// The model's count quota on the caller's plan, if it has one.
fn count_quota<M: TenantModel>(principal: &Principal) -> Option<(&'static str, u64)> {
    let quota = M::def().quota?;
    match principal.info.plan.quota(quota) {
        Some(QuotaLimit::Count(limit)) => Some((quota, limit)),
        _ => None,
    }
}

async fn check_quota<M: TenantModel>(tx: &mut TenantTx, quota: &str, limit: u64) -> Result<(), ApiError> {
    tx.lock_quota(quota).await?;
    let used = tx.repo::<M>().count().await?;
    if u64::try_from(used).unwrap_or(0) >= limit {
        return Err(ApiError::QuotaExceeded {
            quota: quota.to_owned(),
            limit,
        });
    }
    Ok(())
}

fn stamp<'a>(principal: &'a Principal, headers: &'a HeaderMap) -> Stamp<'a> {
    Stamp {
        actor: principal.actor,
        request_id: request_id(headers),
        metadata: None,
    }
}

async fn create<M: TenantModel>(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let def = M::def();
    principal.require(def.permissions.write)?;
    let input: M::Create = parse_body(def, &headers, &body)?;
    let quota = count_quota::<M>(&principal);
    // Without a quota to count first, the insert and its audit row are one
    // statement, which commits in the same round trip on PostgreSQL.
    let record = match quota {
        Some((quota, limit)) => {
            let mut tx = state.db().begin_write(principal.tenant).await?;
            check_quota::<M>(&mut tx, quota, limit).await?;
            let record = insert::<M>(&mut tx, input, &principal, &headers).await?;
            tx.commit().await?;
            record
        }
        None => {
            let mut tx = state.db().begin_write_one(principal.tenant).await?;
            let record = insert::<M>(&mut tx, input, &principal, &headers).await?;
            tx.commit().await?;
            record
        }
    };
    let location = format!(
        "{}/{}/{}",
        state.spec().api_prefix.trim_end_matches('/'),
        def.path,
        record.id
    );
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(record)).into_response())
}

async fn insert<M: TenantModel>(
    tx: &mut TenantTx<impl Writes>,
    input: M::Create,
    principal: &Principal,
    headers: &HeaderMap,
) -> Result<Record<M>, ApiError> {
    Ok(if M::def().audit {
        tx.repo::<M>().create_audited(input, stamp(principal, headers)).await?
    } else {
        tx.repo::<M>().create(input).await?
    })
}

async fn update<M: TenantModel>(
    State(state): State<AppState>,
    principal: Principal,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let def = M::def();
    principal.require(def.permissions.write)?;
    let id = parse_id::<M>(&raw)?;
    let patch: M::Update = parse_body(def, &headers, &body)?;
    // One statement (with its audit row): one round trip on PostgreSQL.
    let mut tx = state.db().begin_write_one(principal.tenant).await?;
    let record = if def.audit {
        tx.repo::<M>()
            .update_audited(id, patch, stamp(&principal, &headers))
            .await?
    } else {
        tx.repo::<M>().update(id, patch).await?
    };
    let record = record.ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    Ok(Json(record).into_response())
}

async fn remove<M: TenantModel>(
    State(state): State<AppState>,
    principal: Principal,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let def = M::def();
    principal.require(def.permissions.delete)?;
    let id = parse_id::<M>(&raw)?;
    let cascades = state.cascades(def.table);
    let gone = if def.audit && !cascades.is_empty() {
        // The audit row says what went with the row: counted first, in
        // the delete's transaction.
        let mut tx = state.db().begin_write(principal.tenant).await?;
        let gone = tx
            .repo::<M>()
            .delete_audited_cascading(id, stamp(&principal, &headers), cascades)
            .await?;
        if gone {
            tx.commit().await?;
        }
        gone
    } else {
        // One statement (with its audit row): one round trip on PostgreSQL.
        let mut tx = state.db().begin_write_one(principal.tenant).await?;
        let gone = if def.audit {
            tx.repo::<M>().delete_audited(id, stamp(&principal, &headers)).await?
        } else {
            tx.repo::<M>().delete(id).await?
        };
        if gone {
            tx.commit().await?;
        }
        gone
    };
    if !gone {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
