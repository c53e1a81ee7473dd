//! The audit log's hash chain: each tenant's rows, once sealed, carry a
//! sequence number (`seq`, 1, 2, 3, … without gaps) and a hash that covers
//! the row's content and the previous row's hash, so a row changed, removed
//! or slipped in afterwards breaks the chain at that row.
//!
//! **Sealing does not serialise writes.** Writes insert their audit rows
//! unchained (`seq` and `hash` null), concurrently, as any insert. The
//! sealer ([`seal`]) takes a lock of its own per tenant (an advisory lock
//! on PostgreSQL; SQLite's write lock), reads the chain's head and the
//! unsealed rows in a stable order (`at`, then `id`), and sets their
//! `seq` and `hash` in batches of [`SEAL_BATCH`]. On PostgreSQL a writer
//! never waits for it: the sealer's updates touch only rows already
//! committed (on SQLite a seal is a write transaction like any other, one
//! tenant's batch long). `serve` seals the tenants it wrote to every
//! [`SEAL_INTERVAL`], on PostgreSQL 32 tenants to a transaction of two
//! round trips (the functions of `seal.sql`, which `migrate` creates: the
//! first takes each tenant's lock, in one order in every process, and
//! returns its head and unsealed rows; the runtime hashes them; the
//! second sets their seals, each tenant under its own setting), and the
//! hourly job `rookery.audit_seal` seals every tenant (rows another
//! process wrote and did not seal before it stopped). Until a row is
//! sealed it is not yet tamper-evident.
//!
//! **Who may write what** (PostgreSQL): the serving role holds `INSERT`
//! and `SELECT` on `audit_log` and `UPDATE` of `seq` and `hash` only, and a
//! restrictive policy lets an update reach only a row that has no `seq`
//! yet: the app cannot change or delete a row, nor reseal a sealed one.
//!
//! **Verifying** ([`verify`], `<app> audit verify`, as the tables' owner)
//! recomputes each tenant's chain from `seq` 1 and reports the first row
//! whose hash does not match (a changed row, or one inserted with a forged
//! `seq`) or the first missing sequence number (a deleted row). A row
//! removed from the end of the chain leaves no gap: compare the reported
//! head (`seq` and hash) with one noted earlier to see that. The hash is
//! SHA-256 without a key, so it shows tampering by anyone who does not also
//! recompute every later hash; keep the heads somewhere the database's
//! owner cannot write to be sure of that too.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::list::{AuditRow, decode};
use crate::db::{Bind, Db, DbError, DbRow, TenantTx, Writing, bytes};
use crate::model::{FieldType, TenantId, Value};

/// How many rows one sealing transaction seals at most.
pub const SEAL_BATCH: usize = 500;

/// How often `serve` seals the tenants it wrote audit rows for: a row
/// written through `serve` is sealed about this long after it committed.
pub const SEAL_INTERVAL: Duration = Duration::from_secs(5);

/// The columns a row's hash covers, then its chain columns.
const CONTENT: &str =
    "id, at, actor_type, actor_id, action, target_type, target_id, request_id, metadata, changes, seq";

/// What the hash of a row starts with: the chain's format version.
const DOMAIN: &[u8] = b"rookery-audit-chain-v1\0";

/// The hash of the row before the first.
const GENESIS: [u8; 32] = [0; 32];

/// Writes `value` as JSON with object keys sorted (the hash must not depend
/// on how a database orders a document's keys).
fn canonical(value: &serde_json::Value, out: &mut Vec<u8>) {
    match value {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(&serde_json::Value::String(key.clone()), out);
                out.push(b':');
                canonical(&map[key], out);
            }
            out.push(b'}');
        }
        serde_json::Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend(serde_json::to_vec(scalar).unwrap_or_default()),
    }
}

/// The hash of `row` (sequence number `seq`) of `tenant` after `prev`.
fn row_hash(prev: &[u8], tenant: TenantId, seq: i64, row: &AuditRow) -> [u8; 32] {
    let content = serde_json::json!([
        seq,
        tenant.0,
        row.id,
        row.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        row.actor_type,
        row.actor_id,
        row.action,
        row.target_type,
        row.target_id,
        row.request_id,
        row.metadata,
        row.changes,
    ]);
    let mut bytes = Vec::with_capacity(256);
    canonical(&content, &mut bytes);
    let mut hasher = Sha256::new();
    hasher.update(DOMAIN);
    hasher.update(prev);
    hasher.update(&bytes);
    hasher.finalize().into()
}

fn tenant_bind(tenant: TenantId) -> Bind {
    Bind::new(Value::Uuid(tenant.0), FieldType::Uuid)
}

fn int(row: &DbRow, i: usize) -> Result<Option<i64>, DbError> {
    Ok(match row.value(i, FieldType::BigInt)? {
        Value::BigInt(n) => Some(n),
        _ => None,
    })
}

/// Confines `tx` to its tenant on PostgreSQL even on a pool of the
/// tables' owner (`migrate`'s pool runs with `row_security = off`, which
/// makes a forced table refuse every statement): the operator's commands
/// read and seal each tenant under that tenant's setting, like the
/// serving role.
async fn row_security_on<M: crate::db::Mode>(tx: &mut TenantTx<M>) -> Result<(), DbError> {
    if tx.dialect() == crate::db::Dialect::Postgres {
        tx.fetch_all("SELECT set_config('row_security', 'on', true)".into(), Vec::new())
            .await?;
    }
    Ok(())
}

/// Seals up to [`SEAL_BATCH`] unsealed rows of `tx`'s tenant, in `tx`
/// (commit it); returns how many.
pub async fn seal_batch(tx: &mut TenantTx<Writing>) -> Result<usize, DbError> {
    let tenant = tx.tenant();
    if tx.dialect() == crate::db::Dialect::Postgres {
        return Ok(seal_in_database(tx, &[tenant]).await?.first().map_or(0, |&(_, n)| n));
    }
    tx.lock_audit_seal().await?;
    seal_locked(tx).await
}

/// A chain's last sequence number and hash, when it has a row.
type Head = Option<(i64, Vec<u8>)>;

/// The head in columns `at` (`seq`) and `at + 1` (`hash`) of `row`.
fn head(row: &DbRow, at: usize) -> Result<Head, DbError> {
    Ok(match int(row, at)? {
        Some(seq) => Some((seq, bytes(row, at + 1)?)),
        None => None,
    })
}

/// The next `(id, seq, hash)` of each of `rows` after `head` in `tenant`'s chain.
fn chained(tenant: TenantId, head: Head, rows: &[AuditRow]) -> Vec<(uuid::Uuid, i64, [u8; 32])> {
    let (mut seq, mut prev) = head.unwrap_or((0, GENESIS.to_vec()));
    let mut seals = Vec::with_capacity(rows.len());
    for row in rows {
        seq += 1;
        let hash = row_hash(&prev, tenant, seq, row);
        seals.push((row.id, seq, hash));
        prev = hash.to_vec();
    }
    seals
}

/// Seals up to [`SEAL_BATCH`] rows of each of `tenants` (in any order) in `tx`,
/// on PostgreSQL, in two round trips whatever their number: the
/// functions `rookery_audit_unsealed` (each tenant's lock, its chain's
/// head and its unsealed rows) and `rookery_audit_seal` (their `seq` and
/// `hash`), each running every tenant under its own setting
/// (`seal.sql`). Returns how many rows of each tenant it sealed.
async fn seal_in_database(tx: &mut TenantTx<Writing>, tenants: &[TenantId]) -> Result<Vec<(TenantId, usize)>, DbError> {
    // Each tenant once, in the order every process takes the locks in.
    let mut tenants = tenants.to_vec();
    tenants.sort_unstable_by_key(|t| t.0);
    tenants.dedup();
    let list: Vec<String> = tenants.iter().map(|t| t.0.to_string()).collect();
    let found = tx
        .fetch_all(
            // In the order the function returned them: tenant by tenant,
            // each in the chain's order.
            "SELECT * FROM rookery_audit_unsealed($1::uuid[], $2) WITH ORDINALITY ORDER BY ordinality".into(),
            vec![
                Bind::new(Value::Text(format!("{{{}}}", list.join(","))), FieldType::Text),
                Bind::new(Value::BigInt(SEAL_BATCH as i64), FieldType::BigInt),
            ],
        )
        .await?;
    // The content's columns first (`decode` reads them by position), then
    // the tenant and its chain's head; a tenant's rows are consecutive.
    let at = CONTENT.split(", ").count();
    let mut groups: Vec<(TenantId, Head, Vec<AuditRow>)> = Vec::with_capacity(tenants.len());
    for row in &found {
        let Value::Uuid(tenant) = row.value(at, FieldType::Uuid)? else {
            return Err(DbError::Sqlx(sqlx::Error::Protocol(
                "rookery_audit_unsealed returned a row without its tenant".into(),
            )));
        };
        let tenant = TenantId(tenant);
        if groups.last().is_none_or(|(t, _, _)| *t != tenant) {
            groups.push((tenant, head(row, at + 1)?, Vec::new()));
        }
        // The row of nulls: nothing of this tenant is unsealed.
        if let (Value::Uuid(_), Some((_, _, rows))) = (row.value(0, FieldType::Uuid)?, groups.last_mut()) {
            rows.push(decode(row)?);
        }
    }
    let mut seals = serde_json::Map::new();
    let mut sealed = Vec::with_capacity(groups.len());
    let mut expected = 0;
    for (tenant, head, rows) in groups {
        sealed.push((tenant, rows.len()));
        expected += rows.len();
        if rows.is_empty() {
            continue;
        }
        let batch = chained(tenant, head, &rows)
            .into_iter()
            .map(|(id, seq, hash)| serde_json::json!({ "id": id, "seq": seq, "hash": hex(&hash) }))
            .collect();
        seals.insert(tenant.0.to_string(), serde_json::Value::Array(batch));
    }
    if !seals.is_empty() {
        let done = tx
            .fetch_all(
                "SELECT rookery_audit_seal($1::jsonb)".into(),
                vec![Bind::new(
                    Value::Text(serde_json::Value::Object(seals).to_string()),
                    FieldType::Text,
                )],
            )
            .await?;
        let done = match done.first() {
            Some(row) => int(row, 0)?.unwrap_or(0),
            None => 0,
        };
        // Under the locks nothing else seals; fewer means rows went away
        // between the two calls (a tenant's erasure), which the verifier
        // would report as a gap in a chain that survived.
        if usize::try_from(done).ok() != Some(expected) {
            tracing::warn!(
                tenants = tenants.len(),
                sealed = done,
                expected,
                "the audit seal set fewer rows than it read"
            );
        }
    }
    Ok(sealed)
}

/// [`seal_batch`] on SQLite once `tx` holds its tenant's sealing lock
/// (the write lock): in process, a statement per row.
async fn seal_locked(tx: &mut TenantTx<Writing>) -> Result<usize, DbError> {
    const HEAD: &str =
        "SELECT seq, hash FROM audit_log WHERE tenant_id = $1 AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1";
    let tenant = tx.tenant();
    let head = match tx.fetch_optional(HEAD.into(), vec![tenant_bind(tenant)]).await? {
        Some(row) => head(&row, 0)?,
        None => None,
    };
    let found = tx
        .fetch_all(
            format!("SELECT {CONTENT} FROM audit_log WHERE tenant_id = $1 AND seq IS NULL ORDER BY at, id LIMIT $2"),
            vec![
                tenant_bind(tenant),
                Bind::new(Value::BigInt(SEAL_BATCH as i64), FieldType::BigInt),
            ],
        )
        .await?;
    let rows: Vec<AuditRow> = found.iter().map(decode).collect::<Result<_, _>>()?;
    for (id, seq, hash) in chained(tenant, head, &rows) {
        tx.execute(
            "UPDATE audit_log SET seq = $3, hash = $4 WHERE tenant_id = $1 AND id = $2 AND seq IS NULL".into(),
            vec![
                tenant_bind(tenant),
                Bind::new(Value::Uuid(id), FieldType::Uuid),
                Bind::new(Value::BigInt(seq), FieldType::BigInt),
                Bind::new(Value::Bytes(hash.to_vec()), FieldType::Text),
            ],
        )
        .await?;
    }
    Ok(rows.len())
}

/// Seals every unsealed audit row of `tenant`, a batch per transaction;
/// returns how many.
pub async fn seal(db: &Db, tenant: TenantId) -> Result<u64, DbError> {
    let mut total = 0;
    loop {
        let n = seal_group(db, &[tenant]).await?.first().map_or(0, |&(_, n)| n);
        total += n as u64;
        if n < SEAL_BATCH {
            return Ok(total);
        }
    }
}

/// The tenants of one process that wrote since its last seal.
#[derive(Debug, Default)]
pub(crate) struct Pending(std::sync::Mutex<std::collections::HashSet<TenantId>>);

impl Pending {
    /// `tenant` may have written audit rows.
    pub(crate) fn mark(&self, tenant: TenantId) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(tenant);
    }

    /// Seals every pending tenant, [`SEAL_TENANTS`] to a transaction on
    /// PostgreSQL (one on SQLite); one that failed stays pending.
    pub(crate) async fn seal(&self, db: &Db) -> Result<(), DbError> {
        let mut tenants: Vec<TenantId> =
            std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
                .into_iter()
                .collect();
        // Every process takes the tenants' locks in one order, so that two
        // rounds of different instances never wait for each other in a
        // circle.
        tenants.sort_unstable_by_key(|t| t.0);
        // SQLite's write lock would hold every writer for a whole group.
        let per_transaction = match db.dialect() {
            crate::db::Dialect::Postgres => SEAL_TENANTS,
            crate::db::Dialect::Sqlite => 1,
        };
        let mut last = Ok(());
        for group in tenants.chunks(per_transaction) {
            // A tenant with more than a batch to seal goes on alone, a
            // batch per transaction; after a failure, which undid the
            // whole group, every tenant of it does, so that one tenant's
            // trouble holds up only that tenant.
            let alone = match seal_group(db, group).await {
                Ok(sealed) => sealed
                    .into_iter()
                    .filter_map(|(tenant, n)| (n == SEAL_BATCH).then_some(tenant))
                    .collect(),
                Err(e) => {
                    tracing::warn!(tenants = group.len(), error = %e, "sealing a group of tenants failed; sealing them one by one");
                    group.to_vec()
                }
            };
            for tenant in alone {
                if let Err(e) = seal(db, tenant).await {
                    tracing::warn!(tenant = %tenant, error = %e, "sealing audit rows failed; retried at the next seal");
                    self.mark(tenant);
                    last = Err(e);
                }
            }
        }
        last
    }
}

/// How many tenants one transaction of `serve`'s sealing round seals: a
/// round commits once per this many tenants instead of once per tenant
/// (with a thousand tenants writing, 200 commits a second fewer).
const SEAL_TENANTS: usize = 32;

/// Seals a batch of each of `tenants` (sorted) in one transaction, each
/// under its own tenant setting and lock; returns how many rows of each
/// it sealed (a tenant with a full batch may have more waiting).
async fn seal_group(db: &Db, tenants: &[TenantId]) -> Result<Vec<(TenantId, usize)>, DbError> {
    let Some((&first, rest)) = tenants.split_first() else {
        return Ok(Vec::new());
    };
    let mut tx = db.begin_write(first).await?;
    let sealed = if tx.dialect() == crate::db::Dialect::Postgres {
        seal_in_database(&mut tx, tenants).await?
    } else {
        tx.lock_audit_seal().await?;
        let mut sealed = vec![(first, seal_locked(&mut tx).await?)];
        for &tenant in rest {
            tx = tx.rescope_to_seal(tenant).await?;
            sealed.push((tenant, seal_locked(&mut tx).await?));
        }
        sealed
    };
    tx.commit().await?;
    Ok(sealed)
}

/// Seals `pending` every `every` until `stop` completes, then once more.
pub(crate) async fn seal_every(
    pending: std::sync::Arc<Pending>,
    db: Db,
    every: Duration,
    stop: impl Future<Output = ()>,
) {
    let mut stop = std::pin::pin!(stop);
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                let _ = pending.seal(&db).await;
            }
            () = &mut stop => break,
        }
    }
    let _ = pending.seal(&db).await;
}

/// What is wrong at the first broken place of a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Problem {
    /// The row's content or hash is not what was sealed (changed after
    /// sealing, or inserted with a forged sequence number).
    Changed {
        /// The row's id.
        id: uuid::Uuid,
    },
    /// Sequence number `seq` is missing (its row was deleted); the next
    /// row found has `found`.
    Missing {
        /// The sequence number of the next row present.
        found: i64,
    },
}

/// The first broken row of a tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Broken {
    /// The sequence number where the chain breaks.
    pub seq: i64,
    /// What is wrong there.
    #[serde(flatten)]
    pub problem: Problem,
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Changed { id } => write!(
                f,
                "row seq {} (id {id}) was changed after it was sealed: its hash does not match its content and the row before it",
                self.seq
            ),
            Problem::Missing { found } => write!(
                f,
                "row seq {} is missing (deleted): the next row has seq {found}",
                self.seq
            ),
        }
    }
}

/// The result of verifying one tenant's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChainReport {
    /// Sealed rows checked (up to the first broken one).
    pub sealed: u64,
    /// Rows not sealed yet (not covered).
    pub unsealed: u64,
    /// The last sequence number and its hash (hex), when the chain holds.
    pub head: Option<(i64, String)>,
    /// The first broken row, if any.
    pub broken: Option<Broken>,
}

/// Verifies the chain of every tenant (or of `only`), each in a reading
/// transaction of its own tenant: `(tenant, slug, report)` by slug. Run
/// it on a pool of the tables' owner (`<app> audit verify`).
pub async fn verify_all(db: &Db, only: Option<TenantId>) -> Result<Vec<(TenantId, String, ChainReport)>, DbError> {
    let mut out = Vec::new();
    for (tenant, slug) in db.tenant_slugs().await? {
        if only.is_some_and(|t| t != tenant) {
            continue;
        }
        let mut tx = db.begin_write(tenant).await?;
        let report = verify(&mut tx).await?;
        tx.commit().await?;
        out.push((tenant, slug, report));
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Verifies the chain of `tx`'s tenant from its first row, reading
/// [`SEAL_BATCH`] rows at a time, and stops at the first broken row.
pub async fn verify<M: crate::db::Mode>(tx: &mut TenantTx<M>) -> Result<ChainReport, DbError> {
    let tenant = tx.tenant();
    row_security_on(tx).await?;
    let mut report = ChainReport {
        sealed: 0,
        unsealed: 0,
        head: None,
        broken: None,
    };
    let (mut seq, mut prev) = (0i64, GENESIS.to_vec());
    'pages: loop {
        let rows = tx
            .fetch_all(
                format!(
                    "SELECT {CONTENT}, hash FROM audit_log WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
                ),
                vec![
                    tenant_bind(tenant),
                    Bind::new(Value::BigInt(seq), FieldType::BigInt),
                    Bind::new(Value::BigInt(SEAL_BATCH as i64), FieldType::BigInt),
                ],
            )
            .await?;
        for db_row in &rows {
            let row = decode(db_row)?;
            let found = row.seq.unwrap_or(0);
            let hash = bytes(db_row, 11)?;
            let expected = seq + 1;
            if found != expected {
                report.broken = Some(Broken {
                    seq: expected,
                    problem: Problem::Missing { found },
                });
                break 'pages;
            }
            if row_hash(&prev, tenant, found, &row)[..] != hash[..] {
                report.broken = Some(Broken {
                    seq: found,
                    problem: Problem::Changed { id: row.id },
                });
                break 'pages;
            }
            report.sealed += 1;
            (seq, prev) = (found, hash);
        }
        if rows.len() < SEAL_BATCH {
            break;
        }
    }
    if report.broken.is_none() && seq > 0 {
        report.head = Some((seq, hex(&prev)));
    }
    let unsealed = tx
        .fetch_optional(
            "SELECT count(*) FROM audit_log WHERE tenant_id = $1 AND seq IS NULL".into(),
            vec![tenant_bind(tenant)],
        )
        .await?;
    report.unsealed = match unsealed {
        Some(row) => u64::try_from(int(&row, 0)?.unwrap_or(0)).unwrap_or(0),
        None => 0,
    };
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::canonical;

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let mut out = Vec::new();
        canonical(
            &serde_json::json!({ "b": [1, { "d": null, "c": "x" }], "a": true }),
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"a":true,"b":[1,{"c":"x","d":null}]}"#
        );
    }
}
