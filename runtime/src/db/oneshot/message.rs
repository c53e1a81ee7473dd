//! The one message a statement travels as, the name of the prepared
//! statement it executes, and the one statement a read query is.
//!
//! A read query: [`lateral`]. Any other read: `SET TRANSACTION READ ONLY;
//! SET LOCAL app.tenant_id = '…'; EXECUTE rookery_<hash>(<literals>)`; a
//! write: `BEGIN; SET LOCAL …; EXECUTE …; COMMIT`. The values are rendered
//! by `literal.rs` only.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::sync::{LazyLock, RwLock};

use sha2::{Digest as _, Sha256};

use super::Access;
use super::literal::{NoLiteral, push_literal};
use crate::db::bind::Bind;
use crate::model::{FieldType, KeyKind, TenantId, Value};

/// How many distinct statements one process prepares at most. A model has
/// one list statement per set of filters, sort and cursor, so a handful;
/// the bound keeps a stream of odd shapes from growing every connection's
/// prepared statements without end.
pub(crate) const MAX_SHAPES: usize = 512;

/// Hashes of the statements this process prepares.
static SHAPES: LazyLock<RwLock<HashSet<u64>>> = LazyLock::new(Default::default);

/// The first 64 bits of SHA-256 over the SQL text and the parameter types
/// (each after a NUL, which neither can contain). Defined here rather than
/// by `std`'s hasher, which may change between Rust releases: the name
/// must mean the same statement in every build, since a pooler in session
/// mode can hand one server connection to processes of different builds.
fn shape_hash(sql: &str, types: &[&str]) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(sql.as_bytes());
    for ty in types {
        hasher.update([0]);
        hasher.update(ty.as_bytes());
    }
    let digest = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// The statement's name, or `None` when the process is at [`MAX_SHAPES`].
pub(crate) fn statement_name(sql: &str, types: &[&str]) -> Option<String> {
    let hash = shape_hash(sql, types);
    let known = SHAPES.read().unwrap_or_else(|e| e.into_inner()).contains(&hash);
    if !known {
        let mut shapes = SHAPES.write().unwrap_or_else(|e| e.into_inner());
        if shapes.len() >= MAX_SHAPES && !shapes.contains(&hash) {
            return None;
        }
        shapes.insert(hash);
    }
    Some(format!("rookery_{hash:016x}"))
}

/// The PostgreSQL type a parameter is prepared with: the value's own, or
/// for a `NULL` the column type the bind names.
pub(crate) fn pg_type(bind: &Bind) -> &'static str {
    match &bind.value {
        Value::Null => match bind.ty {
            FieldType::String | FieldType::Text | FieldType::Enum(_) | FieldType::Email | FieldType::Url => "text",
            FieldType::Int => "integer",
            FieldType::BigInt => "bigint",
            FieldType::Decimal => "numeric",
            FieldType::Bool => "boolean",
            FieldType::Date => "date",
            FieldType::DateTime => "timestamptz",
            FieldType::Uuid => "uuid",
            FieldType::Json => "jsonb",
            FieldType::Ref(target) => match target.key {
                KeyKind::BigInt => "bigint",
                KeyKind::Uuid => "uuid",
            },
        },
        Value::Bool(_) => "boolean",
        Value::Int(_) => "integer",
        Value::BigInt(_) => "bigint",
        Value::Text(_) => "text",
        Value::Decimal(_) => "numeric",
        Value::Date(_) => "date",
        Value::DateTime(_) => "timestamptz",
        Value::Uuid(_) => "uuid",
        Value::Json(_) => "jsonb",
        Value::Bytes(_) => "bytea",
    }
}

/// `PREPARE <name> (<types>) AS <sql>`, without the list when there are
/// no parameters (`()` is a syntax error there).
pub(crate) fn prepare(name: &str, types: &[&str], sql: &str) -> String {
    if types.is_empty() {
        format!("PREPARE {name} AS {sql}")
    } else {
        format!("PREPARE {name} ({}) AS {sql}", types.join(", "))
    }
}

/// `SET TRANSACTION READ ONLY; SET LOCAL app.tenant_id = '…'; EXECUTE <name>(…)`
/// for a read, `BEGIN; SET LOCAL …; EXECUTE …; COMMIT` for a write.
pub(crate) fn message(access: Access, tenant: TenantId, name: &str, binds: &[Bind]) -> Result<String, NoLiteral> {
    let mut out = String::with_capacity(128 + 24 * binds.len());
    out.push_str(match access {
        Access::Read => "SET TRANSACTION READ ONLY; ",
        Access::Write => "BEGIN; ",
    });
    // A `Uuid` in its hyphenated hex form: nothing to escape.
    let _ = write!(
        out,
        "SET LOCAL app.tenant_id = '{}'; EXECUTE {name}",
        tenant.0.hyphenated()
    );
    for (i, bind) in binds.iter().enumerate() {
        out.push_str(if i == 0 { "(" } else { ", " });
        push_literal(&mut out, &bind.value)?;
    }
    if !binds.is_empty() {
        out.push(')');
    }
    if access == Access::Write {
        out.push_str("; COMMIT");
    }
    Ok(out)
}

/// A read as one prepared statement of the extended protocol, which sets
/// the tenant and makes its transaction read-only before it reads:
///
/// ```sql
/// SELECT rookery_q.* FROM (SELECT set_config('app.tenant_id', $<n+1>, true) AS tenant,
///                                 set_config('transaction_read_only', 'on', true) AS ro) AS rookery_t
/// CROSS JOIN LATERAL (SELECT * FROM (<sql>) AS rookery_s
///                     WHERE rookery_t.tenant IS NOT NULL OFFSET 0) AS rookery_q
/// ```
///
/// The order is the plan's, not the planner's choice: the inner query
/// refers to `rookery_t` and cannot be flattened (`OFFSET 0`), so it runs
/// on the inner side of a nested loop, once, after the outer row (and its
/// `set_config`) is computed; `set_config` is parallel-unsafe, so no
/// worker reads ahead. The rows come in the inner query's order: a nested
/// loop over one outer row adds no sort of its own. Were the order ever otherwise, the policies would
/// read an empty setting and show no rows: it fails closed, and every
/// read test would see it. A write cannot hide in it: a data-modifying
/// statement is not allowed in `FROM`, and a function that writes runs
/// after the transaction turned read-only.
///
/// `None`, so that the query takes [`message`], for what is not a
/// `SELECT` or `WITH` query, and for what this form would change:
///
/// - row locks (`FOR UPDATE`, `FOR SHARE`, …): PostgreSQL refuses them
///   in a read-only transaction when the statement starts, before the
///   wrapper turns read-only on;
/// - a query that reads `current_setting` itself: PostgreSQL may
///   evaluate a stable expression once when the statement starts (to
///   prune partitions, say), before the wrapper sets the tenant, and the
///   query would then see no rows (a function of your own that reads the
///   setting is not seen here: bind the tenant, `$1`, instead);
/// - a parameter past the ones bound, which would read the tenant bound
///   after them instead of failing.
pub(crate) fn lateral(sql: &str, binds: usize) -> Option<String> {
    let sql = sql.trim().trim_end_matches(';').trim_end();
    let starts = |word: &str| {
        sql.get(..word.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(word))
    };
    if !(starts("select") || starts("with")) || sql.contains(';') || max_parameter(sql) > binds {
        return None;
    }
    // Per read, on the request's path: words compared in place, nothing
    // allocated until the statement itself.
    let mut words = sql
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty());
    let mut after_for = false;
    let changed = words.any(|word| {
        let lock = after_for
            && ["update", "share", "no", "key"]
                .iter()
                .any(|w| word.eq_ignore_ascii_case(w));
        after_for = word.eq_ignore_ascii_case("for");
        lock || word.eq_ignore_ascii_case("current_setting")
    });
    if changed {
        return None;
    }
    let n = binds + 1;
    // The line break ends a trailing `--` comment of the query.
    Some(format!(
        "SELECT rookery_q.* FROM (SELECT set_config('app.tenant_id', ${n}, true) AS tenant, \
         set_config('transaction_read_only', 'on', true) AS ro) AS rookery_t \
         CROSS JOIN LATERAL (SELECT * FROM ({sql}\n) AS rookery_s WHERE rookery_t.tenant IS NOT NULL OFFSET 0) AS rookery_q"
    ))
}

/// The highest `$<n>` in `sql` (0 for none), string literals included:
/// counting too many only sends a query the message's way.
fn max_parameter(sql: &str) -> usize {
    sql.split('$')
        .skip(1)
        .filter_map(|rest| {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            rest[..digits].parse::<usize>().ok()
        })
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant() -> TenantId {
        TenantId("0192f7a0-0000-7000-8000-000000000001".parse().unwrap())
    }

    #[test]
    fn escapes_quotes_and_backslashes() {
        let binds = [
            Bind::new(Value::Text(r"it's a \' test''".into()), FieldType::Text),
            Bind::new(Value::BigInt(-20), FieldType::BigInt),
            Bind::new(Value::Null, FieldType::Text),
            Bind::new(Value::Bytes(vec![0, 0xab]), FieldType::Text),
        ];
        assert_eq!(
            message(Access::Read, tenant(), "rookery_00ff", &binds).unwrap(),
            concat!(
                "SET TRANSACTION READ ONLY; SET LOCAL app.tenant_id = '0192f7a0-0000-7000-8000-000000000001'; ",
                r"EXECUTE rookery_00ff(E'it''s a \\'' test''''', E'-20', NULL, E'\\x00ab')"
            )
        );
    }

    #[test]
    fn wraps_queries_only() {
        let wrapped = lateral("  select id FROM t WHERE tenant_id = $1 LIMIT $2;\n", 2).unwrap();
        assert!(wrapped.contains("set_config('app.tenant_id', $3, true)"), "{wrapped}");
        assert!(
            wrapped.contains("(select id FROM t WHERE tenant_id = $1 LIMIT $2\n) AS rookery_s"),
            "{wrapped}"
        );
        let commented = lateral("SELECT id FROM t WHERE tenant_id = $1 -- the newest", 1).unwrap();
        assert!(commented.contains("-- the newest\n) AS rookery_s"), "{commented}");
        assert!(
            lateral("WITH x AS (SELECT 1) SELECT * FROM x", 0)
                .unwrap()
                .contains("$1, true")
        );
        // Two parameters bound: only what is named below sends a query the message's way.
        assert!(lateral("SELECT id FROM t WHERE tenant_id = $1 AND id = $2 ORDER BY id FOR_x", 2).is_some());
        for not_a_query in [
            "DELETE FROM t",
            "UPDATE t SET a = 1",
            "SELECT 1; DELETE FROM t",
            "VALUES (1)",
            "sel",
            "",
            "SELECT id FROM t WHERE tenant_id = $1 FOR UPDATE",
            "SELECT id FROM t WHERE tenant_id = $1 FOR\n  NO KEY UPDATE",
            "SELECT id FROM t WHERE tenant_id = $1 FOR KEY SHARE",
            "SELECT id FROM t WHERE tenant_id = $1)FOR SHARE",
            "SELECT id FROM pt WHERE tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid",
            "SELECT id FROM t WHERE tenant_id = $1 AND id = $3",
        ] {
            assert_eq!(lateral(not_a_query, 2), None, "{not_a_query}");
        }
    }

    #[test]
    fn prepares_with_and_without_parameters() {
        assert_eq!(
            prepare("s", &["uuid", "text"], "SELECT $1, $2"),
            "PREPARE s (uuid, text) AS SELECT $1, $2"
        );
        assert_eq!(prepare("s", &[], "SELECT 1"), "PREPARE s AS SELECT 1");
    }

    #[test]
    fn writes_are_not_read_only() {
        let binds = [Bind::new(Value::Text("x".into()), FieldType::Text)];
        assert_eq!(
            message(Access::Write, tenant(), "rookery_01", &binds).unwrap(),
            "BEGIN; SET LOCAL app.tenant_id = '0192f7a0-0000-7000-8000-000000000001'; EXECUTE rookery_01(E'x'); COMMIT"
        );
    }

    #[test]
    fn leaves_nul_bytes_and_far_dates_to_bound_parameters() {
        let nul = [Bind::new(Value::Text("a\0b".into()), FieldType::Text)];
        assert_eq!(message(Access::Read, tenant(), "s", &nul), Err(NoLiteral::Nul));
        let far = chrono::NaiveDate::from_ymd_opt(10_000, 1, 1).unwrap();
        let far = [Bind::new(Value::Date(far), FieldType::Date)];
        assert_eq!(message(Access::Write, tenant(), "s", &far), Err(NoLiteral::FarDate));
    }

    #[test]
    fn names_statements_by_text_and_types() {
        let a = statement_name("SELECT 1 /* oneshot test a */", &["text"]).unwrap();
        let b = statement_name("SELECT 1 /* oneshot test b */", &["text"]).unwrap();
        let c = statement_name("SELECT 1 /* oneshot test a */", &["bigint"]).unwrap();
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_eq!(a, statement_name("SELECT 1 /* oneshot test a */", &["text"]).unwrap());
        // Type boundaries count: ("ab") and ("a", "b") are different shapes.
        assert_ne!(shape_hash("SELECT 1", &["ab"]), shape_hash("SELECT 1", &["a", "b"]));
    }

    /// Pinned: a change to the hash renames every statement, which every
    /// server connection then prepares again; make it on purpose.
    #[test]
    fn statement_names_are_stable() {
        assert_eq!(
            statement_name("SELECT $1::text /* pinned */", &["text"]).unwrap(),
            "rookery_f32658b46bcc3bb1"
        );
    }
}
