//! HTTP: the app builder, shared state, problem+json errors, health and
//! OpenAPI.

mod audit_log;
mod auth;
mod background;
pub(crate) mod body;
pub(crate) mod crud;
mod deletion;
mod error;
mod export;
mod health;
pub(crate) mod idempotency;
mod identity;
pub(crate) use identity::erase_by_email;
mod metrics;
pub(crate) mod openapi;
mod operation;
mod operator;
mod quotas;
mod request;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, Request};
use axum::middleware;
use tower::util::MapRequestLayer;
use tower_http::request_id::PropagateRequestIdLayer;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::app_spec::AppSpec;
use crate::auth::invalidate::Invalidation;
use crate::auth::revoked::Revocations;
use crate::auth::token::TokenKeys;
use crate::config::Config;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::model::{ModelDef, TenantModel};
use crate::ratelimit::RateLimiter;
use crate::shared::Redis;
use crate::tenant::TenantDirectory;

struct Inner {
    spec: &'static AppSpec,
    config: Config,
    db: Db,
    keys: TokenKeys,
    revocations: Revocations,
    redis: Option<Redis>,
    tenants: TenantDirectory,
    limiter: RateLimiter,
    sign_in_limiter: RateLimiter<std::net::IpAddr>,
    account_limiter: RateLimiter<[u8; 32]>,
    models: Vec<&'static ModelDef>,
    metrics: Metrics,
    mailer: crate::mail::Mailer,
    /// Per table, the tables a delete of its rows cascades to.
    cascades: std::collections::HashMap<&'static str, Vec<crate::repo::Cascade>>,
    /// Outgoing webhooks, when the spec declares the `webhooks` feature.
    webhooks: Option<webhooks::WebhookState>,
    /// Requests and active members counted since the last flush.
    usage: Arc<crate::usage::Tally>,
    /// This process's reservations of the tenants' rate quotas.
    quotas: crate::quota::Quotas,
    /// Tenants that wrote since the last audit seal.
    audit_pending: Arc<crate::audit::chain::Pending>,
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
    /// Revoked access tokens.
    pub(crate) fn revocations(&self) -> &Revocations {
        &self.inner.revocations
    }
    /// The Redis every instance shares (`REDIS_URL`), if any.
    pub(crate) fn redis(&self) -> Option<&Redis> {
        self.inner.redis.as_ref()
    }

    /// Applies `change` in this process and tells every other instance
    /// (`auth::invalidate`): call it after a change of a tenant's plan or
    /// slug, or a member's removal or role, committed.
    pub(crate) async fn invalidate(&self, change: Invalidation) {
        self.verifier().invalidate(change).await;
    }

    /// [`AppState::invalidate`], for the runtime's own tests.
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub async fn test_invalidate(&self, change: Invalidation) {
        self.invalidate(change).await;
    }

    /// Tries Redis now instead of at the next probe (tests that restarted
    /// it); whether it answered. `None` without Redis.
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub async fn test_reconnect_redis(&self) -> Option<bool> {
        match self.redis() {
            Some(redis) => Some(redis.reconnect().await),
            None => None,
        }
    }

    /// Redis's counters: (calls answered in process because Redis failed
    /// or was down, outages, down now). `None` without Redis.
    #[cfg(feature = "testing")]
    #[doc(hidden)]
    pub fn test_redis_stats(&self) -> Option<(u64, u64, bool)> {
        self.redis().map(|redis| {
            let stats = redis.stats();
            (stats.fallbacks, stats.outages, stats.down)
        })
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

    /// The app's metrics (`/metrics`).
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The app's mailer: [`TenantTx::send_mail`](crate::TenantTx::send_mail)
    /// queues a message with it.
    pub fn mailer(&self) -> &crate::mail::Mailer {
        &self.inner.mailer
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
    mail: Arc<crate::mail::Templates>,
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
            mail: Arc::default(),
            event_types: Vec::new(),
        }
    }

    /// Uses `source` as mail template `name`: replaces the runtime's own
    /// (`invitation`) or adds one for
    /// [`TenantTx::send_mail`](crate::TenantTx::send_mail). A template is a
    /// minijinja file with a `subject`, a `text` and optionally an `html`
    /// block (escaped for HTML); a variable it uses that the mail does not
    /// give fails the render.
    ///
    /// # Panics
    ///
    /// When the template does not compile or lacks a `subject` or `text`
    /// block, or `name` is not letters, digits, `_` and `-`.
    ///
    /// ```
    /// fn app(spec: &'static rookery::app_spec::AppSpec) -> rookery::App {
    ///     rookery::App::new(spec).mail_template(
    ///         "invitation",
    ///         "{% block subject %}Join {{ tenant.name }}{% endblock %}\n\
    ///          {% block text %}{{ inviter }} invited you: {{ accept_url }}{% endblock %}",
    ///     )
    /// }
    /// ```
    pub fn mail_template(mut self, name: &str, source: &str) -> Self {
        Arc::make_mut(&mut self.mail)
            .add(name, source)
            .unwrap_or_else(|e| panic!("{e}"));
        self
    }

    /// A mailer for this app's templates, sending as `config` says
    /// (`SMTP_URL`, `MAIL_FROM`): give it to the workers
    /// ([`Worker::with_mailer`](crate::jobs::Worker::with_mailer)).
    pub fn mailer(&self, config: &crate::config::MailConfig) -> crate::mail::Mailer {
        crate::mail::Mailer::new(self.spec, self.mail.clone(), config)
    }

    /// Registers model `M`: its routes under the API prefix and its OpenAPI paths.
    ///
    /// # Panics
    ///
    /// When the model needs a plan feature the spec does not declare (its
    /// routes could never be used).
    pub fn model<M: TenantModel>(mut self) -> Self {
        let def = M::def();
        if let Some(feature) = def.feature {
            assert!(
                self.spec.features.iter().any(|f| f.name == feature),
                "model `{}` needs the feature `{feature}`, which rookery.toml does not declare under [features]",
                def.name
            );
        }
        self.models.push(def);
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

    /// Whether the spec's `[jobs]` schedules only registered job types (the
    /// CLI says so in one line before it serves or works).
    pub(crate) fn check_jobs(&self) -> Result<(), String> {
        self.jobs.with_spec(self.spec).map(drop)
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

    /// The shared state for `config` on pool `db`. With
    /// [`Config::redis_url`] the state reaches Redis on first use (it
    /// needs the Tokio runtime then, not now).
    ///
    /// # Panics
    ///
    /// When `config.redis_url` is not a Redis URL this build can use
    /// ([`Config::from_env`] refuses those).
    pub fn state(&self, config: Config, db: Db) -> AppState {
        let keys = TokenKeys::new(
            &config.jwt_secret,
            &config.jwt_previous_secrets,
            config.access_token_ttl,
        );
        let redis = config.redis_url.as_deref().map(|url| {
            Redis::new(url, &config.redis_prefix)
                .unwrap_or_else(|err| panic!("REDIS_URL `{}`: {err}", crate::config::redact_url(url)))
        });
        let revocations = Revocations::new(config.access_token_ttl);
        let mailer = self.mailer(&config.mail);
        AppState {
            inner: Arc::new(Inner {
                spec: self.spec,
                mailer,
                db,
                revocations,
                keys,
                redis,
                tenants: TenantDirectory::default(),
                limiter: RateLimiter::default(),
                sign_in_limiter: RateLimiter::default(),
                account_limiter: RateLimiter::default(),
                models: self.models.clone(),
                metrics: Metrics::default(),
                cascades: self
                    .models
                    .iter()
                    .map(|m| (m.table, crate::repo::cascades(&self.models, m.table)))
                    .filter(|(_, c)| !c.is_empty())
                    .collect(),
                webhooks: webhooks::declared(self.spec)
                    .then(|| webhooks::WebhookState::new(&config, self.event_types())),
                usage: Arc::default(),
                quotas: crate::quota::Quotas::default(),
                audit_pending: Arc::default(),
                config,
            }),
        }
    }

    /// The complete router: health, OpenAPI, auth routes and every model's
    /// routes under the API prefix.
    ///
    /// # Panics
    ///
    /// As [`App::worker`] does, so a server whose workers run elsewhere
    /// still refuses an app that cannot run its spec's schedules.
    pub fn router(&self, state: AppState) -> Router {
        if let Err(e) = self.jobs.with_spec(self.spec) {
            panic!("{e}");
        }
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
            .merge(if audit_log::served(self.spec) {
                audit_log::routes()
            } else {
                Router::new()
            })
            .route_layer(middleware::from_fn_with_state(state.clone(), auth::authenticate))
            .merge(quotas::routes().route_layer(middleware::from_fn_with_state(
                state.clone(),
                auth::authenticate_unmetered,
            )));
        let public = crate::http::identity::public_routes()
            .route_layer(middleware::from_fn_with_state(state.clone(), auth::limit_sign_in));
        let api = public
            .merge(protected)
            .layer(middleware::from_fn_with_state(state.clone(), request::request_timeout));
        let api = if prefix.is_empty() {
            api
        } else {
            Router::new().nest(prefix, api)
        };
        let router = Router::new().merge(health::routes()).merge(openapi::routes(
            self.spec,
            &self.models,
            &self.operations,
            &self.event_types(),
        ));
        let router = if metrics::on_api_listener(&state) {
            router.merge(metrics::routes())
        } else {
            router
        };
        router
            .merge(operator::routes(&state))
            .merge(api)
            .fallback(request::unmatched)
            // After every route is in: axum still sets `Allow`.
            .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
            .with_state(state)
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
            }))
            .layer(MapRequestLayer::new(request::set_request_id))
    }
}

impl App {
    /// The router of the metrics listener (`ROOKERY_METRICS_BIND`): only
    /// `GET /metrics`, behind `ROOKERY_METRICS_TOKEN` when that is set.
    /// `serve` runs it on its own listener; a binary of your own can too.
    pub fn metrics_router(&self, state: AppState) -> Router {
        metrics::routes()
            .fallback(|| async { ApiError::NotFound })
            .with_state(state)
    }
}

/// The request id of a request (set by the app's middleware): the
/// client's `X-Request-Id` when it is 1 to 64 characters of
/// `[A-Za-z0-9._:-]`, else a generated UUID.
pub fn request_id(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get(REQUEST_ID).and_then(|v| v.to_str().ok())
}
