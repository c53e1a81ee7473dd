//! HTTP: the app builder, shared state, problem+json errors, health and
//! OpenAPI.

mod auth;
mod background;
pub(crate) mod body;
pub(crate) mod crud;
mod error;
mod health;
mod identity;
pub(crate) mod openapi;
mod operation;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Request};
use axum::middleware;
use tower::util::MapRequestLayer;
use tower_http::request_id::{PropagateRequestIdLayer, RequestId};
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::app_spec::AppSpec;
use crate::auth::token::TokenKeys;
use crate::config::Config;
use crate::db::Db;
use crate::model::{ModelDef, TenantModel};
use crate::ratelimit::RateLimiter;
use crate::tenant::TenantDirectory;

struct Inner {
    spec: &'static AppSpec,
    config: Config,
    db: Db,
    keys: TokenKeys,
    tenants: TenantDirectory,
    limiter: RateLimiter,
    sign_in_limiter: RateLimiter<std::net::IpAddr>,
    account_limiter: RateLimiter<[u8; 32]>,
    models: Vec<&'static ModelDef>,
    /// Per table, the tables a delete of its rows cascades to.
    cascades: std::collections::HashMap<&'static str, Vec<crate::repo::Cascade>>,
    /// Outgoing webhooks, when the spec declares the `webhooks` feature.
    webhooks: Option<webhooks::WebhookState>,
}

/// State shared by every handler: the spec, configuration, pool, token
/// keys, tenant cache and rate limiter. A handler takes it as
/// `State(state): State<AppState>` and reaches the database through
/// [`AppState::db`].
///
/// ```
/// use rookery::axum::extract::State;
/// use rookery::{ApiError, AppState, Principal};
///
/// async fn members(State(state): State<AppState>, principal: Principal) -> Result<String, ApiError> {
///     let mut tx = state.db().begin(principal.tenant).await?;
///     let (n,): (i64,) = tx.sql("SELECT count(*) FROM memberships WHERE tenant_id = $1").fetch_one().await?;
///     tx.finish_read();
///     Ok(format!("{n} members in {}", state.spec().title))
/// }
/// ```
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("app", &self.inner.spec.name)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The app's static description.
    pub fn spec(&self) -> &'static AppSpec {
        self.inner.spec
    }
    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }
    /// The pool.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }
    /// Access token keys.
    pub(crate) fn keys(&self) -> &TokenKeys {
        &self.inner.keys
    }
    /// The tenant cache.
    pub(crate) fn tenants(&self) -> &TenantDirectory {
        &self.inner.tenants
    }
    /// The rate limiter.
    pub(crate) fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }
    /// The per-client-address limiter of the sign-in routes.
    pub(crate) fn sign_in_limiter(&self) -> &RateLimiter<std::net::IpAddr> {
        &self.inner.sign_in_limiter
    }

    /// Failed password checks per account (SHA-256 of the lowercased email).
    pub(crate) fn account_limiter(&self) -> &RateLimiter<[u8; 32]> {
        &self.inner.account_limiter
    }
    /// Every registered model.
    pub fn models(&self) -> &[&'static ModelDef] {
        &self.inner.models
    }

    /// The tables a delete of `table`'s rows cascades to (`on_delete =
    /// "cascade"` references, transitively).
    pub(crate) fn cascades(&self, table: &str) -> &[crate::repo::Cascade] {
        self.inner.cascades.get(table).map_or(&[], Vec::as_slice)
    }

    /// The webhook routes' services and the event types endpoints may
    /// subscribe to; `None` when the spec has no `webhooks` feature.
    pub(crate) fn webhooks(&self) -> Option<&webhooks::WebhookState> {
        self.inner.webhooks.as_ref()
    }
}

pub use operation::Operation;

/// Builds an app: the generated spec, its models, and hand-written routes.
///
/// ```
/// # #[derive(Debug, Clone, rookery::TenantModel)]
/// # #[rookery(permissions(read = "notes.read", write = "notes.write"))]
/// # pub struct Note { pub body: String }
/// async fn hello(_: rookery::Principal) -> &'static str {
///     "hello"
/// }
///
/// fn app(spec: &'static rookery::app_spec::AppSpec) -> rookery::App {
///     rookery::App::new(spec)
///         .model::<Note>()
///         .operation(rookery::Operation::get("/hello"), hello)
/// }
/// ```
#[derive(Debug)]
pub struct App {
    spec: &'static AppSpec,
    models: Vec<&'static ModelDef>,
    routes: Router<AppState>,
    operations: Vec<Operation>,
    jobs: crate::jobs::Registry,
    /// Event types of hand-written code ([`App::event_type`]).
    event_types: Vec<String>,
}

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

impl App {
    /// An app with no models yet.
    pub fn new(spec: &'static AppSpec) -> Self {
        Self {
            spec,
            models: Vec::new(),
            routes: Router::new(),
            operations: Vec::new(),
            jobs: background::platform_jobs(),
            event_types: Vec::new(),
        }
    }

    /// Registers model `M`: its routes under the API prefix and its OpenAPI paths.
    pub fn model<M: TenantModel>(mut self) -> Self {
        self.models.push(M::def());
        self.routes = self.routes.merge(crud::router::<M>());
        self
    }

    /// Serves `handler` as the hand-written route `operation` describes,
    /// under the API prefix, authenticated like the generated routes (the
    /// handler takes a [`Principal`](crate::auth::Principal)), and lists it
    /// in `/openapi.json`. The operation's [`permission`](Operation::permission)
    /// and [`feature`](Operation::feature) are enforced before the handler
    /// runs.
    ///
    /// # Panics
    ///
    /// When the operation names a permission no role grants or a feature
    /// the spec does not declare (a typo would otherwise refuse every
    /// caller), or when its method and path are already routed.
    ///
    /// ```
    /// use rookery::axum::Json;
    /// use rookery::http::{ApiError, Operation};
    /// use rookery::{App, auth::Principal};
    ///
    /// async fn ping(principal: Principal) -> Result<Json<&'static str>, ApiError> {
    ///     principal.require("projects.read")?;
    ///     Ok(Json("pong"))
    /// }
    ///
    /// fn app(spec: &'static rookery::app_spec::AppSpec) -> App {
    ///     App::new(spec).operation(
    ///         Operation::get("/ping").summary("Answers pong").permission("projects.read")
    ///             .response(200, "pong", Some(serde_json::json!({"type": "string"}))),
    ///         ping,
    ///     )
    /// }
    /// ```
    pub fn operation<H, T>(mut self, operation: Operation, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        let filter = axum::routing::MethodFilter::try_from(operation.method.clone())
            .expect("Operation only makes GET, POST, PUT, PATCH and DELETE");
        let guard = operation.guard(self.spec).unwrap_or_else(|e| panic!("{e}"));
        let route = axum::routing::on(filter, handler);
        let route = if guard.is_empty() {
            route
        } else {
            route.route_layer(middleware::from_fn(move |request, next| {
                guard.clone().enforce(request, next)
            }))
        };
        self.routes = self.routes.route(&operation.path, route);
        self.operations.push(operation);
        self
    }

    /// Adds hand-written routes under the API prefix; they are
    /// authenticated like the generated ones (use the
    /// [`Principal`](crate::auth::Principal) extractor), but
    /// `/openapi.json` cannot see them: prefer [`App::operation`].
    pub fn routes(mut self, routes: Router<AppState>) -> Self {
        self.routes = self.routes.merge(routes);
        self
    }

    /// The OpenAPI document `/openapi.json` serves.
    pub fn openapi(&self) -> serde_json::Value {
        openapi::build(self.spec, &self.models, &self.operations, &self.event_types())
    }

    /// The app's static description.
    pub fn spec(&self) -> &'static AppSpec {
        self.spec
    }

    /// The registered models.
    pub fn models(&self) -> &[&'static ModelDef] {
        &self.models
    }

    /// The shared state for `config` on pool `db`.
    pub fn state(&self, config: Config, db: Db) -> AppState {
        let keys = TokenKeys::new(
            &config.jwt_secret,
            &config.jwt_previous_secrets,
            config.access_token_ttl,
        );
        AppState {
            inner: Arc::new(Inner {
                spec: self.spec,
                db,
                keys,
                tenants: TenantDirectory::default(),
                limiter: RateLimiter::default(),
                sign_in_limiter: RateLimiter::default(),
                account_limiter: RateLimiter::default(),
                models: self.models.clone(),
                cascades: self
                    .models
                    .iter()
                    .map(|m| (m.table, crate::repo::cascades(&self.models, m.table)))
                    .filter(|(_, c)| !c.is_empty())
                    .collect(),
                webhooks: webhooks::declared(self.spec)
                    .then(|| webhooks::WebhookState::new(&config, self.event_types())),
                config,
            }),
        }
    }

    /// The complete router: health, OpenAPI, auth routes and every model's
    /// routes under the API prefix.
    pub fn router(&self, state: AppState) -> Router {
        let prefix = self.spec.api_prefix.trim_end_matches('/');
        let protected = self
            .routes
            .clone()
            .merge(crate::http::identity::protected_routes())
            .merge(if webhooks::declared(self.spec) {
                webhooks::routes()
            } else {
                Router::new()
            })
            .route_layer(middleware::from_fn_with_state(state.clone(), auth::authenticate));
        let public = crate::http::identity::public_routes()
            .route_layer(middleware::from_fn_with_state(state.clone(), auth::limit_sign_in));
        let api = public
            .merge(protected)
            .layer(middleware::from_fn_with_state(state.clone(), request_timeout));
        let api = if prefix.is_empty() {
            api
        } else {
            Router::new().nest(prefix, api)
        };
        Router::new()
            .merge(health::routes())
            .merge(openapi::routes(self.spec, &self.models, &self.operations, &self.event_types()))
            .merge(api)
            .fallback(|| async { ApiError::NotFound })
            // After every route is in: axum still sets `Allow`.
            .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
            .with_state(state)
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
            }))
            .layer(MapRequestLayer::new(set_request_id))
    }
}

/// Longest client request id kept.
const MAX_REQUEST_ID: usize = 64;

/// Whether a client's `X-Request-Id` is kept: 1 to 64 characters of
/// `[A-Za-z0-9._:-]`. It goes into logs and audit rows verbatim.
fn fit_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Gives the request a request id: the client's `X-Request-Id` when it
/// is [`fit_request_id`] (and given once), else a new UUID in its place.
/// (tower-http's `SetRequestIdLayer` keeps any id the client sends.)
fn set_request_id(mut request: axum::extract::Request) -> axum::extract::Request {
    let headers = request.headers_mut();
    let mut ids = headers.get_all(REQUEST_ID).iter();
    let fit = match (ids.next(), ids.next()) {
        (Some(id), None) => fit_request_id(id.as_bytes()),
        _ => false,
    };
    if !fit {
        let mut buffer = uuid::Uuid::encode_buffer();
        let id = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buffer);
        headers.insert(REQUEST_ID, HeaderValue::from_str(id).expect("a UUID is a header value"));
    }
    // As tower-http's layer did, for handlers that read the extension.
    if let Some(id) = request.headers().get(REQUEST_ID).cloned() {
        request.extensions_mut().insert(RequestId::new(id));
    }
    request
}

/// Gives an API request `ROOKERY_REQUEST_TIMEOUT` for its database work
/// (`db::deadline`): a step that would pass it fails, the handler answers
/// 503 and its transaction rolls back. Nothing is cancelled from outside,
/// so a `COMMIT` that started always finishes and is reported. An error
/// response that is not a problem yet (axum's rejections) leaves as one.
async fn request_timeout(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let deadline = tokio::time::Instant::now() + state.config().request_timeout;
    let response = crate::db::deadline::scope(deadline, next.run(request)).await;
    // Here, in a layer every API request passes anyway, rather than in a
    // layer of its own: each `Router::layer` costs a boxed future per request.
    error::ensure_problem(response)
}

/// The request id of a request (set by the app's middleware): the
/// client's `X-Request-Id` when it is 1 to 64 characters of
/// `[A-Za-z0-9._:-]`, else a generated UUID.
pub fn request_id(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(REQUEST_ID).and_then(|v| v.to_str().ok())
}
