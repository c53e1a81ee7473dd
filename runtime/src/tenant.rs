//! Tenant resolution: which tenant a request names, by subdomain or the
//! `X-Tenant` header, and a small cache of tenant facts (slug, plan),
//! invalidated on every instance when they change.
//!
//! Fail closed: no default tenant exists; a request that names no tenant,
//! an unknown one, or two different ones is refused.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::app_spec::{AppSpec, PlanDef, TenantResolver};
use crate::db::{Bind, Db, DbError};
use crate::model::{FieldType, TenantId, Value};
use crate::rbac::CustomRoles;
use crate::shared::Redis;

/// The header that names a tenant by id or slug.
pub(crate) const TENANT_HEADER: &str = "x-tenant";

/// How a request named its tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TenantRef {
    /// By id.
    Id(TenantId),
    /// By slug.
    Slug(String),
}

/// Why a request's tenant could not be determined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ResolveError {
    /// No resolver found a tenant.
    #[error("the request names no tenant (use the tenant's subdomain or the X-Tenant header)")]
    Missing,
    /// Two resolvers found different tenants.
    #[error("the subdomain and the X-Tenant header name different tenants")]
    Conflict,
    /// The header is not an id or a slug.
    #[error("the X-Tenant header is not a tenant id or slug")]
    Malformed,
}

impl ResolveError {
    /// The same sentence, static, for a problem's `detail`.
    pub(crate) fn detail(&self) -> &'static str {
        match self {
            Self::Missing => {
                "the request names no tenant: send the X-Tenant header (the tenant's id or slug) or use its subdomain; a token does not choose the tenant"
            }
            Self::Conflict => "the subdomain and the X-Tenant header name different tenants",
            Self::Malformed => "the X-Tenant header is not a tenant id or slug",
        }
    }
}

pub(crate) fn parse_ref(text: &str) -> Option<TenantRef> {
    if let Ok(id) = text.parse::<TenantId>() {
        return Some(TenantRef::Id(id));
    }
    let valid = text.len() >= 2
        && text.len() <= 63
        && text.starts_with(|c: char| c.is_ascii_lowercase())
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    valid.then(|| TenantRef::Slug(text.to_owned()))
}

/// What a request says about its tenant, as the bytes of its headers.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Naming<'a> {
    /// The `Host` header.
    pub host: Option<&'a [u8]>,
    /// The [`TENANT_HEADER`] header.
    pub header: Option<&'a [u8]>,
}

/// The tenant a request names, by the app's resolvers in order. When
/// several name one, they must agree.
pub(crate) fn resolve(spec: &AppSpec, base_domain: &str, naming: Naming<'_>) -> Result<TenantRef, ResolveError> {
    let mut found: Option<TenantRef> = None;
    for resolver in spec.resolvers {
        let candidate = match resolver {
            TenantResolver::Header => match naming.header {
                None => None,
                Some(v) => Some(
                    std::str::from_utf8(v)
                        .ok()
                        .and_then(parse_ref)
                        .ok_or(ResolveError::Malformed)?,
                ),
            },
            TenantResolver::Subdomain => naming
                .host
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|host| subdomain(host, base_domain))
                .and_then(parse_ref),
        };
        match (&found, candidate) {
            (_, None) => {}
            (None, Some(c)) => found = Some(c),
            (Some(a), Some(b)) if *a == b => {}
            // An id and a slug may name the same tenant; the caller checks.
            (Some(TenantRef::Id(_)), Some(TenantRef::Slug(_))) | (Some(TenantRef::Slug(_)), Some(TenantRef::Id(_))) => {
                return Err(ResolveError::Conflict);
            }
            (Some(_), Some(_)) => return Err(ResolveError::Conflict),
        }
    }
    found.ok_or(ResolveError::Missing)
}

/// `acme` for `acme.example.com:3000` under base domain `example.com`.
fn subdomain<'h>(host: &'h str, base_domain: &str) -> Option<&'h str> {
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let label = host.strip_suffix(base_domain)?.strip_suffix('.')?;
    (!label.is_empty() && !label.contains('.')).then_some(label)
}

/// What the runtime needs to know about a tenant on every request.
#[derive(Debug, Clone)]
pub struct TenantInfo {
    /// Id.
    pub id: TenantId,
    /// Slug.
    pub slug: String,
    /// Current plan.
    pub plan: &'static PlanDef,
    /// The operator's per-tenant feature overrides, beside the plan.
    pub(crate) overrides: FeatureOverrides,
    /// The tenant's custom roles.
    pub(crate) roles: CustomRoles,
}

impl TenantInfo {
    /// The facts of a tenant without overrides (a new tenant).
    pub(crate) fn new(id: TenantId, slug: String, plan: &'static PlanDef) -> Self {
        Self {
            id,
            slug,
            plan,
            overrides: FeatureOverrides::default(),
            roles: CustomRoles::default(),
        }
    }

    /// Whether the tenant has `feature`: the operator's override for this
    /// tenant when there is one, else whether its plan unlocks it.
    pub fn has_feature(&self, feature: &str) -> bool {
        self.overrides
            .get(feature)
            .unwrap_or_else(|| self.plan.features.contains(&feature))
    }
}

/// A tenant's feature overrides: each a feature of the spec turned on or
/// off for this tenant whatever its plan says (`tenants.feature_overrides`,
/// a JSON object of booleans; set by the operator). Nothing allocated for
/// the tenants that have none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FeatureOverrides(Option<Arc<[(&'static str, bool)]>>);

impl FeatureOverrides {
    /// The overrides stored as `json`, keeping only features `spec`
    /// declares (a feature the spec dropped means nothing any more).
    pub(crate) fn parse(spec: &AppSpec, json: &str) -> Self {
        let Ok(map) = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json) else {
            return Self::default();
        };
        let list: Vec<(&'static str, bool)> = spec
            .features
            .iter()
            .filter_map(|f| {
                map.get(f.name)
                    .and_then(serde_json::Value::as_bool)
                    .map(|on| (f.name, on))
            })
            .collect();
        Self((!list.is_empty()).then(|| list.into()))
    }

    /// The override of `feature`, if the operator set one.
    pub(crate) fn get(&self, feature: &str) -> Option<bool> {
        self.0
            .as_deref()?
            .iter()
            .find(|(f, _)| *f == feature)
            .map(|(_, on)| *on)
    }

    /// Every override, in the spec's order of features.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&'static str, bool)> + '_ {
        self.0.as_deref().unwrap_or_default().iter().copied()
    }
}

/// How long tenant facts are kept: changes made through the runtime reach
/// every instance at once (`invalidate`); this bounds changes made around
/// it (SQL by hand, another program).
const TTL: Duration = Duration::from_secs(30);
/// How long they are kept while Redis is down and other instances'
/// changes cannot be heard of.
const TTL_REDIS_DOWN: Duration = Duration::from_secs(5);

/// Tenant facts and the version they were read at.
#[derive(Debug, Clone)]
pub(crate) struct Known {
    /// The facts.
    pub info: TenantInfo,
    /// The shared version (`shared`) read before the facts were, when
    /// Redis answered; a request that finds another version reloads them.
    pub version: Option<u64>,
}

type Entry = (Instant, Known);

/// A cache of tenant facts, read from the global `tenants` table.
///
/// Entries live 30 seconds (5 while Redis is down); [`TenantDirectory::forget`]
/// drops one at once, and with Redis every request compares the entry's
/// version with the shared one (`auth::admit`).
#[derive(Debug, Default)]
pub(crate) struct TenantDirectory {
    by_id: RwLock<HashMap<TenantId, Entry>>,
    by_slug: RwLock<HashMap<String, (Instant, TenantId)>>,
    /// Bumped by [`TenantDirectory::forget`]: a load that began before a
    /// forget of its tenant does not cache what it read (it may predate
    /// the change).
    forgotten: Forgets,
}

/// How many counters [`Forgets`] spreads the tenants over.
const FORGET_STRIPES: usize = 64;

/// The forgets a load must not miss, counted per stripe of tenants (a load
/// by id watches its tenant's stripe) and in all (a load by slug, whose
/// tenant is unknown until it is read, watches every forget). Striped so
/// that the loads of a thousand tenants cached at once do not keep one
/// another from caching: a forget of one tenant leaves the others' loads
/// alone, but for the tenants that share its stripe.
#[derive(Debug)]
struct Forgets {
    stripes: [AtomicU64; FORGET_STRIPES],
    all: AtomicU64,
}

impl Default for Forgets {
    fn default() -> Self {
        Self {
            stripes: std::array::from_fn(|_| AtomicU64::new(0)),
            all: AtomicU64::new(0),
        }
    }
}

impl Forgets {
    fn counter(&self, watched: Option<TenantId>) -> &AtomicU64 {
        match watched {
            // The UUID's low bits: random in every version the runtime makes.
            Some(id) => &self.stripes[(id.0.as_u64_pair().1 % FORGET_STRIPES as u64) as usize],
            None => &self.all,
        }
    }

    /// The count a load of `watched` (`None`: by slug) compares after.
    fn now(&self, watched: Option<TenantId>) -> u64 {
        self.counter(watched).load(Ordering::SeqCst)
    }

    fn bump(&self, id: TenantId) {
        self.counter(Some(id)).fetch_add(1, Ordering::SeqCst);
        self.all.fetch_add(1, Ordering::SeqCst);
    }
}

impl TenantDirectory {
    /// The tenant a reference names, if it exists.
    pub(crate) async fn lookup(
        &self,
        db: &Db,
        spec: &'static AppSpec,
        tenant: &TenantRef,
        redis: Option<&Redis>,
    ) -> Result<Option<Known>, DbError> {
        let ttl = if redis.is_some_and(Redis::is_down) {
            TTL_REDIS_DOWN
        } else {
            TTL
        };
        let id = match tenant {
            TenantRef::Id(id) => *id,
            TenantRef::Slug(slug) => {
                let cached = self
                    .by_slug
                    .read()
                    .ok()
                    .and_then(|m| m.get(slug).filter(|(at, _)| at.elapsed() < ttl).map(|(_, id)| *id));
                match cached {
                    Some(id) => id,
                    None => {
                        // The version is unknown here (the id is not): the
                        // first request that reads it reloads the facts.
                        let bind = Bind::new(Value::Text(slug.clone()), FieldType::Text);
                        return Box::pin(self.load(db, spec, "slug = $1", bind, None, None)).await;
                    }
                }
            }
        };
        let cached = self
            .by_id
            .read()
            .ok()
            .and_then(|m| m.get(&id).filter(|(at, _)| at.elapsed() < ttl).map(|(_, k)| k.clone()));
        match cached {
            Some(known) => Ok(Some(known)),
            // Boxed: a cache miss is rare, and its futures would otherwise
            // be part of (and copied with) every request's future.
            None => Box::pin(self.load_id(db, spec, id, redis)).await,
        }
    }

    async fn load_id(
        &self,
        db: &Db,
        spec: &'static AppSpec,
        id: TenantId,
        redis: Option<&Redis>,
    ) -> Result<Option<Known>, DbError> {
        // The version first: a change between the two reads leaves facts
        // newer than their version, which the next request reloads.
        let version = match redis {
            Some(redis) => redis.facts_version(id).await.ok(),
            None => None,
        };
        // Nothing cached to forget: a miss leaves the other loads alone.
        let bind = Bind::new(Value::Uuid(id.0), FieldType::Uuid);
        self.load(db, spec, "id = $1", bind, Some(id), version).await
    }

    /// Reads `id`'s facts again, known to be at least as new as `version`.
    pub(crate) async fn reload(
        &self,
        db: &Db,
        spec: &'static AppSpec,
        id: TenantId,
        version: Option<u64>,
    ) -> Result<Option<Known>, DbError> {
        self.forget(id);
        let bind = Bind::new(Value::Uuid(id.0), FieldType::Uuid);
        self.load(db, spec, "id = $1", bind, Some(id), version).await
    }

    /// Drops what is cached about `id`: the next request reads it again.
    pub(crate) fn forget(&self, id: TenantId) {
        self.forgotten.bump(id);
        let removed = self.by_id.write().ok().and_then(|mut m| m.remove(&id));
        if let Ok(mut m) = self.by_slug.write() {
            match removed {
                Some((_, known)) => {
                    m.remove(&known.info.slug);
                }
                None => m.retain(|_, (_, tenant)| *tenant != id),
            }
        }
    }

    async fn load(
        &self,
        db: &Db,
        spec: &'static AppSpec,
        predicate: &'static str,
        bind: Bind,
        watched: Option<TenantId>,
        version: Option<u64>,
    ) -> Result<Option<Known>, DbError> {
        let generation = self.forgotten.now(watched);
        let mut tx = db.begin_platform_read().await?;
        let sql = format!("SELECT id, slug, plan, feature_overrides FROM tenants WHERE {predicate}");
        let row = tx.fetch_optional(sql, vec![bind]).await?;
        drop(tx);
        let Some(row) = row else { return Ok(None) };
        let (Value::Uuid(id), Value::Text(slug), Value::Text(plan), Value::Text(overrides)) = (
            row.value(0, FieldType::Uuid)?,
            row.value(1, FieldType::Text)?,
            row.value(2, FieldType::Text)?,
            row.value(3, FieldType::Text)?,
        ) else {
            return Ok(None);
        };
        // A plan that the spec no longer has falls back to the default plan.
        let Some(plan) = spec.plan(&plan).or_else(|| spec.plans.first()) else {
            return Ok(None);
        };
        let roles = custom_roles(db, spec, TenantId(id)).await?;
        let known = Known {
            info: TenantInfo {
                id: TenantId(id),
                slug: slug.clone(),
                plan,
                overrides: FeatureOverrides::parse(spec, &overrides),
                roles,
            },
            version,
        };
        // Checked under the write lock, which `forget` takes after bumping.
        if let Ok(mut m) = self.by_id.write()
            && self.forgotten.now(watched) == generation
        {
            m.insert(known.info.id, (Instant::now(), known.clone()));
            if let Ok(mut m) = self.by_slug.write() {
                m.insert(slug, (Instant::now(), known.info.id));
            }
        }
        Ok(Some(known))
    }
}

/// `tenant`'s custom roles, read through its own transaction
/// (`rookery_roles` is tenant-owned).
async fn custom_roles(db: &Db, spec: &'static AppSpec, tenant: TenantId) -> Result<CustomRoles, DbError> {
    let mut tx = db.begin(tenant).await?;
    let roles = CustomRoles::read(&mut tx, spec).await?;
    tx.finish_read();
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tenant whose UUID falls in `stripe`.
    fn in_stripe(stripe: u64, n: u64) -> TenantId {
        TenantId(uuid::Uuid::from_u64_pair(n, n * FORGET_STRIPES as u64 + stripe))
    }

    #[test]
    fn a_forget_reaches_its_tenants_loads_and_the_slug_loads_only() {
        let forgets = Forgets::default();
        let (a, same_stripe, other) = (in_stripe(3, 1), in_stripe(3, 2), in_stripe(4, 3));
        let before = [a, same_stripe, other].map(|t| forgets.now(Some(t)));
        let by_slug = forgets.now(None);
        forgets.bump(a);
        assert_ne!(
            forgets.now(Some(a)),
            before[0],
            "a load of the forgotten tenant must not cache"
        );
        assert_ne!(
            forgets.now(None),
            by_slug,
            "a load by slug may be of the forgotten tenant"
        );
        assert_ne!(forgets.now(Some(same_stripe)), before[1], "a stripe is shared");
        assert_eq!(
            forgets.now(Some(other)),
            before[2],
            "another stripe's loads still cache"
        );
    }

    #[test]
    fn subdomains_under_the_base_domain_only() {
        assert_eq!(subdomain("acme.localhost:3000", "localhost"), Some("acme"));
        assert_eq!(subdomain("acme.example.com", "example.com"), Some("acme"));
        assert_eq!(subdomain("example.com", "example.com"), None);
        assert_eq!(subdomain("a.b.example.com", "example.com"), None);
        assert_eq!(subdomain("acme.evil.com", "example.com"), None);
        assert_eq!(subdomain("acmeexample.com", "example.com"), None);
    }

    #[test]
    fn header_values_are_ids_or_slugs() {
        assert!(matches!(
            parse_ref("0192f1a2-7b3c-7d4e-8f90-123456789abc"),
            Some(TenantRef::Id(_))
        ));
        assert_eq!(parse_ref("acme-co"), Some(TenantRef::Slug("acme-co".into())));
        assert_eq!(parse_ref("Acme"), None);
        assert_eq!(parse_ref("a;drop"), None);
    }
}
