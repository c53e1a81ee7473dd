//! The generic routes every tenant-scoped model gets:
//! `GET/POST /<path>` and `GET/PATCH/DELETE /<path>/{id}`.
//!
//! Order of checks on every route: authentication, tenant and rate limit
//! (middleware), then the model's permission, then the body, then quota,
//! then the write and its audit row in one transaction: on PostgreSQL one
//! statement, sent together with the tenant setting and committed in the
//! same round trip, unless a quota has to be counted first.
//!
//! The handlers are not generic over the model: they take its [`Crud`]
//! (its `&'static` [`ModelDef`] and the two body parsers that need its
//! types), work on [`Value`]s through the repository core and write
//! responses from the def, so the async handler stack is compiled once,
//! in the runtime, whatever the number of models. Only [`router`] and the
//! parsers are instantiated per model.

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
use crate::model::{CreateInput, KeyKind, ModelDef, RecordJson, Row, TenantModel, UpdateInput, Value};
use crate::repo::{ListQuery, Table};

/// A create body of some model, parsed by its typed input: one entry per
/// field, `None` where omitted ([`CreateInput::into_values`]).
type ParseCreate = fn(&ModelDef, &[u8]) -> Result<Vec<Option<Value>>, ApiError>;
/// An update body of some model, parsed by its typed input
/// ([`UpdateInput::into_changes`]).
type ParseUpdate = fn(&ModelDef, &[u8]) -> Result<Vec<(usize, Value)>, ApiError>;

/// What the routes of one model need: its description, and the parsers of
/// its bodies (the only steps that need its Rust types).
#[derive(Clone, Copy)]
struct Crud {
    def: &'static ModelDef,
    create: ParseCreate,
    update: ParseUpdate,
}

/// The list / get / create / update / delete routes of model `M`.
pub fn router<M: TenantModel>() -> Router<AppState> {
    routes(Crud {
        def: M::def(),
        create: parse_create::<M>,
        update: parse_update::<M>,
    })
}

/// A create body of `M` as values.
fn parse_create<M: TenantModel>(def: &ModelDef, body: &[u8]) -> Result<Vec<Option<Value>>, ApiError> {
    super::body::deserialize_model::<M::Create>(def, body).map(CreateInput::into_values)
}

/// An update body of `M` as changes.
fn parse_update<M: TenantModel>(def: &ModelDef, body: &[u8]) -> Result<Vec<(usize, Value)>, ApiError> {
    super::body::deserialize_model::<M::Update>(def, body).map(UpdateInput::into_changes)
}

/// The routes of `crud`'s model; every handler is a closure over `crud`,
/// made here once for all models.
fn routes(crud: Crud) -> Router<AppState> {
    let path = crud.def.path;
    Router::new()
        .route(
            &format!("/{path}"),
            get(move |state: State<AppState>, principal: Principal, query: RawQuery| {
                list(crud.def, state, principal, query)
            })
            .post(
                move |state: State<AppState>, principal: Principal, headers: HeaderMap, body: Bytes| {
                    create(crud, state, principal, headers, body)
                },
            ),
        )
        .route(
            &format!("/{path}/{{id}}"),
            get(move |state: State<AppState>, principal: Principal, id: Path<String>| {
                read(crud.def, state, principal, id)
            })
            .patch(
                move |state: State<AppState>,
                      principal: Principal,
                      id: Path<String>,
                      headers: HeaderMap,
                      body: Bytes| { update(crud, state, principal, id, headers, body) },
            )
            .delete(
                move |state: State<AppState>, principal: Principal, id: Path<String>, headers: HeaderMap| {
                    remove(crud.def, state, principal, id, headers)
                },
            ),
        )
}

/// The key in a path of a model keyed by `def.key`.
fn parse_id(def: &ModelDef, raw: &str) -> Result<Value, ApiError> {
    // An id that cannot exist is a missing row, not a bad request.
    match def.key {
        KeyKind::BigInt => raw.parse().map(Value::BigInt).map_err(|_| ApiError::NotFound),
        KeyKind::Uuid => uuid::Uuid::parse_str(raw)
            .map(Value::Uuid)
            .map_err(|_| ApiError::NotFound),
    }
}

/// A create or update body of model `def`: JSON (415), an object (400),
/// its decimals exact (422, before serde would round them; a JSON number
/// is read from its text), then the typed parse `parse` (400).
fn parse_body<T>(
    def: &'static ModelDef,
    headers: &HeaderMap,
    body: &Bytes,
    parse: fn(&ModelDef, &[u8]) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    super::body::media_type(headers)?;
    super::body::object(body)?;
    match crate::repo::exact_decimals(def, body).map_err(ApiError::Invalid)? {
        Some(quoted) => parse(def, &quoted),
        None => parse(def, body),
    }
}

/// A stored row as the response body.
fn json(row: &Row) -> Json<RecordJson<'_>> {
    Json(RecordJson::from(row))
}

async fn list(
    def: &'static ModelDef,
    State(state): State<AppState>,
    principal: Principal,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let scope = principal.model_scope(def, def.permissions.read)?;
    let pairs: Vec<_> = form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()).collect();
    let query = ListQuery::parse(def, pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))?;
    let mut tx = state.db().begin(principal.tenant).await?;
    let page = Table::new(&mut tx, def).owned_by(scope.owner()).list(&query).await?;
    tx.finish_read();
    Ok(Json(page).into_response())
}

async fn read(
    def: &'static ModelDef,
    State(state): State<AppState>,
    principal: Principal,
    Path(raw): Path<String>,
) -> Result<Response, ApiError> {
    let scope = principal.model_scope(def, def.permissions.read)?;
    let id = parse_id(def, &raw)?;
    let mut tx = state.db().begin(principal.tenant).await?;
    let row = Table::new(&mut tx, def)
        .owned_by(scope.owner())
        .get(id)
        .await?
        .ok_or(ApiError::NotFound)?;
    tx.finish_read();
    Ok(json(&row).into_response())
}

/// The model's count quota on the caller's plan, if it has one.
fn count_quota(def: &ModelDef, principal: &Principal) -> Option<(&'static str, u64)> {
    let quota = def.quota?;
    match principal.info.plan.quota(quota) {
        Some(QuotaLimit::Count(limit)) => Some((quota, limit)),
        _ => None,
    }
}

async fn check_quota(tx: &mut TenantTx, def: &'static ModelDef, quota: &str, limit: u64) -> Result<(), ApiError> {
    tx.lock_quota(quota).await?;
    let used = Table::new(tx, def).count().await?;
    if u64::try_from(used).unwrap_or(0) >= limit {
        return Err(ApiError::QuotaExceeded {
            quota: quota.to_owned(),
            limit,
        });
    }
    Ok(())
}

/// The audit stamp of a write by `principal` in the request of `headers`,
/// if the model `def` is audited.
fn stamp<'a>(def: &ModelDef, principal: &'a Principal, headers: &'a HeaderMap) -> Option<Stamp<'a>> {
    def.audit.then(|| Stamp {
        actor: principal.actor,
        request_id: request_id(headers),
        metadata: None,
    })
}

async fn create(
    crud: Crud,
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let def = crud.def;
    principal.model_scope(def, def.permissions.write)?;
    let mut input = parse_body(def, &headers, &body, crud.create)?;
    principal.check_create(def, &mut input)?;
    let quota = count_quota(def, &principal);
    // Without a quota to count first, the insert and its audit row are one
    // statement, which commits in the same round trip on PostgreSQL.
    let row = match quota {
        Some((quota, limit)) => {
            let mut tx = state.db().begin_write(principal.tenant).await?;
            check_quota(&mut tx, def, quota, limit).await?;
            let row = insert(&mut tx, def, input, &principal, &headers).await?;
            tx.commit().await?;
            row
        }
        None => {
            let mut tx = state.db().begin_write_one(principal.tenant).await?;
            let row = insert(&mut tx, def, input, &principal, &headers).await?;
            tx.commit().await?;
            row
        }
    };
    let location = format!(
        "{}/{}/{}",
        state.spec().api_prefix.trim_end_matches('/'),
        def.path,
        crate::repo::to_text(row.id())
    );
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], json(&row)).into_response())
}

async fn insert(
    tx: &mut TenantTx<impl Writes>,
    def: &'static ModelDef,
    input: Vec<Option<Value>>,
    principal: &Principal,
    headers: &HeaderMap,
) -> Result<Row, ApiError> {
    Ok(Table::new(tx, def)
        .insert(input, stamp(def, principal, headers))
        .await?)
}

async fn update(
    crud: Crud,
    State(state): State<AppState>,
    principal: Principal,
    Path(raw): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let def = crud.def;
    principal.model_scope(def, def.permissions.write)?;
    let id = parse_id(def, &raw)?;
    let changes = parse_body(def, &headers, &body, crud.update)?;
    let scope = within_read(&principal, def, principal.check_update(def, &changes)?);
    // One statement (with its audit row): one round trip on PostgreSQL.
    let mut tx = state.db().begin_write_one(principal.tenant).await?;
    let row = Table::new(&mut tx, def)
        .owned_by(scope.owner())
        .update(id.clone(), changes, stamp(def, &principal, &headers))
        .await?;
    let Some(row) = row else {
        drop(tx);
        return Err(missed(&state, def, &principal, scope, id, def.permissions.write).await);
    };
    tx.commit().await?;
    Ok(json(&row).into_response())
}

async fn remove(
    def: &'static ModelDef,
    State(state): State<AppState>,
    principal: Principal,
    Path(raw): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let scope = within_read(&principal, def, principal.model_scope(def, def.permissions.delete)?);
    let id = parse_id(def, &raw)?;
    let cascades = state.cascades(def.table);
    let gone = match stamp(def, &principal, &headers) {
        Some(stamp) if !cascades.is_empty() => {
            // The audit row says what went with the row: counted first, in
            // the delete's transaction.
            let mut tx = state.db().begin_write(principal.tenant).await?;
            let gone = Table::new(&mut tx, def)
                .owned_by(scope.owner())
                .delete_cascading(id.clone(), stamp, cascades)
                .await?;
            if gone {
                tx.commit().await?;
            }
            gone
        }
        stamp => {
            // One statement (with its audit row): one round trip on PostgreSQL.
            let mut tx = state.db().begin_write_one(principal.tenant).await?;
            let gone = Table::new(&mut tx, def)
                .owned_by(scope.owner())
                .delete(id.clone(), stamp)
                .await?;
            if gone {
                tx.commit().await?;
            }
            gone
        }
    };
    if !gone {
        return Err(missed(&state, def, &principal, scope, id, def.permissions.delete).await);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// A write's `scope` narrowed to what the caller can read too: a row
/// outside the read scope answers 404 to a write as to a read, and no
/// write answers with (or confirms) a row the caller could not get.
fn within_read(principal: &Principal, def: &ModelDef, scope: crate::auth::Scope) -> crate::auth::Scope {
    match principal.scope(def.permissions.read) {
        Ok(read) => scope.and(read),
        Err(_) => scope,
    }
}

/// The answer to a write under `scope` that found no row `id`: 404 when
/// the caller cannot see the row either (missing, another tenant's, or
/// outside their read scope: invariant 5), 403 when they can read it but
/// `permission` reaches their own rows only. Decided on this failure path
/// only, by a read of its own.
async fn missed(
    state: &AppState,
    def: &'static ModelDef,
    principal: &Principal,
    scope: crate::auth::Scope,
    id: Value,
    permission: &str,
) -> ApiError {
    if scope.owner().is_none() {
        return ApiError::NotFound;
    }
    let Ok(read) = principal.model_scope(def, def.permissions.read) else {
        return ApiError::NotFound;
    };
    let visible = async {
        let mut tx = state.db().begin(principal.tenant).await?;
        let row = Table::new(&mut tx, def).owned_by(read.owner()).get(id).await?;
        tx.finish_read();
        Ok::<_, ApiError>(row.is_some())
    };
    match visible.await {
        Ok(true) => ApiError::NotOwner(permission.to_owned()),
        Ok(false) => ApiError::NotFound,
        Err(err) => err,
    }
}
