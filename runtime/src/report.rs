//! Error tracking: panics and 500s reported to a Sentry-compatible
//! endpoint (`SENTRY_DSN`), tagged with the request id, the route template
//! and, once authentication has named it, the tenant id.
//!
//! Behind the `sentry` cargo feature; without it, or without `SENTRY_DSN`,
//! every function here is a no-op the compiler removes (a request's `Scope` is
//! then zero-sized) and a request pays nothing.
//!
//! **Invariant (nothing secret):** an event carries the error's message
//! (its `Display`, and its sources'), the panic's message and stack, and
//! the tags above; never a header (`Authorization`, `Cookie`, API keys),
//! a body, a query string or the client's address. No request interface
//! is attached, breadcrumbs are off, `send_default_pii` is off, and
//! `before_send` drops `request`, `user` and breadcrumbs from every event
//! in case an integration ever adds them.
//!
//! Each request runs in its own hub (`Hub::new_from_top`, bound around
//! each poll of the request's future): the panic hook of
//! `sentry-panic` reports on the hub of the polling thread, so a panic in
//! a handler carries that request's tags and no other's. The hub is a
//! reporting scope only: nothing reads the tenant from it to reach data.

use crate::config::Config;
use crate::model::TenantId;

/// Error reporting while it lives: started by [`init`], flushed and
/// stopped when dropped.
#[must_use = "reporting stops when this is dropped"]
pub struct Reporting {
    #[cfg(feature = "sentry")]
    guard: sentry::ClientInitGuard,
}

impl std::fmt::Debug for Reporting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporting").finish_non_exhaustive()
    }
}

impl Reporting {
    /// Waits until every event reported so far has been sent (at most
    /// `timeout`); whether they all were.
    pub fn flush(&self, timeout: std::time::Duration) -> bool {
        #[cfg(feature = "sentry")]
        return self.guard.flush(Some(timeout));
        #[cfg(not(feature = "sentry"))]
        {
            let _ = timeout;
            true
        }
    }
}

#[cfg(feature = "sentry")]
impl Drop for Reporting {
    fn drop(&mut self) {
        ENABLED.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Set while a client is bound: requests check it before any hub work.
#[cfg(feature = "sentry")]
static ENABLED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(feature = "sentry")]
fn enabled() -> bool {
    ENABLED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Starts reporting panics and 500s to `SENTRY_DSN`, as `serve` does (for
/// a binary of your own). `None` when `SENTRY_DSN` is unset, or when this
/// build lacks the `sentry` feature (then a set `SENTRY_DSN` is logged as
/// ignored).
pub fn init(config: &Config) -> Option<Reporting> {
    let dsn = config.sentry_dsn.as_deref()?;
    #[cfg(not(feature = "sentry"))]
    {
        let _ = dsn;
        tracing::warn!("SENTRY_DSN is set, but this build has no `sentry` feature: nothing is reported");
        None
    }
    #[cfg(feature = "sentry")]
    {
        let mut options = sentry::ClientOptions::new();
        // Checked by `Config::from_vars`.
        options.dsn = dsn.parse().ok();
        options.environment = Some(config.sentry_environment.clone().into());
        options.release = config.sentry_release.clone().map(Into::into);
        options.send_default_pii = false;
        options.max_breadcrumbs = 0;
        options.before_send = Some(std::sync::Arc::new(|mut event| {
            event.request = None;
            event.user = None;
            event.breadcrumbs = Default::default();
            Some(event)
        }));
        let guard = sentry::init(options);
        // `init` binds the calling thread's hub; requests start from the
        // process's main hub, so bind it there too.
        sentry::Hub::main().bind_client(sentry::Hub::current().client());
        ENABLED.store(guard.is_enabled(), std::sync::atomic::Ordering::Relaxed);
        tracing::info!(environment = %config.sentry_environment, "reporting panics and 500s to SENTRY_DSN");
        Some(Reporting { guard })
    }
}

/// One request's reporting scope (zero-sized when reporting is off).
#[derive(Debug, Default)]
pub(crate) struct Scope {
    #[cfg(feature = "sentry")]
    hub: Option<std::sync::Arc<sentry::Hub>>,
}

impl Scope {
    /// A scope for the request `request_id` (read only when reporting is
    /// on) on the route template `route`.
    #[cfg_attr(not(feature = "sentry"), allow(unused_variables))]
    pub(crate) fn start<'a>(request_id: impl FnOnce() -> Option<&'a str>, route: &str) -> Self {
        #[cfg(feature = "sentry")]
        if enabled() {
            let hub = sentry::Hub::new_from_top(sentry::Hub::main());
            hub.configure_scope(|scope| {
                scope.set_tag("request_id", request_id().unwrap_or(""));
                scope.set_tag("route", route);
                scope.set_transaction(Some(route));
                // A trace of its own: otherwise every request's events
                // carry the process's one trace id, as if one request.
                scope.set_context("trace", sentry::protocol::TraceContext::default());
            });
            return Self {
                hub: Some(std::sync::Arc::new(hub)),
            };
        }
        Self::default()
    }

    /// Runs `poll` (one poll of the request's future) with this scope's
    /// hub as the thread's own, so a panic in it is reported with the
    /// request's tags.
    #[inline]
    pub(crate) fn run<R>(&self, poll: impl FnOnce() -> R) -> R {
        #[cfg(feature = "sentry")]
        if let Some(hub) = &self.hub {
            let outer = IN_REQUEST.replace(true);
            let _restore = Restore(outer);
            return sentry::Hub::run(std::sync::Arc::clone(hub), poll);
        }
        poll()
    }

    /// Reports a 500 answered without a panic: `error` is the handler's
    /// error when it returned one (`ApiError::Internal`).
    #[cfg_attr(not(feature = "sentry"), allow(unused_variables))]
    pub(crate) fn server_error(&self, error: Option<&(dyn std::error::Error + 'static)>) {
        #[cfg(feature = "sentry")]
        if let Some(hub) = &self.hub {
            let mut event = match error {
                Some(error) => sentry::event_from_error(error),
                None => sentry::protocol::Event {
                    message: Some(
                        "500 Internal Server Error answered without an error (a handler's own status)".into(),
                    ),
                    ..Default::default()
                },
            };
            event.level = sentry::Level::Error;
            hub.capture_event(event);
        }
    }
}

#[cfg(feature = "sentry")]
thread_local! {
    /// Whether this thread is polling a request inside its [`Scope`]: only
    /// then is the thread's hub the request's own, which [`tenant`] tags.
    static IN_REQUEST: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Puts [`IN_REQUEST`] back after a poll, also when it panicked.
#[cfg(feature = "sentry")]
struct Restore(bool);

#[cfg(feature = "sentry")]
impl Drop for Restore {
    fn drop(&mut self) {
        IN_REQUEST.set(self.0);
    }
}

/// Tags the current request's reports with its tenant, once
/// authentication has named it. Nothing when reporting is off, or outside
/// a request's [`Scope`] (the thread's own hub is never tagged).
#[cfg_attr(not(feature = "sentry"), allow(unused_variables))]
#[inline]
pub(crate) fn tenant(tenant: TenantId) {
    #[cfg(feature = "sentry")]
    if enabled() && IN_REQUEST.get() {
        sentry::Hub::current().configure_scope(|scope| scope.set_tag("tenant_id", tenant));
    }
}
