//! The SQL of a list and of its total: static text from the [`ModelDef`]
//! (columns, operators, placeholders), every value of the request bound.

use std::fmt::Write as _;

use super::{Filter, ListQuery, Op};
use crate::db::{Bind, Dialect};
use crate::model::{FieldDef, FieldType, ModelDef, Value};
use crate::repo::{key_type, quoted};

/// `SELECT … WHERE tenant_id = $1 <scope> <filters> <search> <cursor>
/// ORDER BY … LIMIT …`, its binds pushed after those already in `binds`
/// (the tenant, and the bind of `scope`, a predicate the caller made).
pub(crate) fn build(
    def: &ModelDef,
    query: &ListQuery,
    select: String,
    scope: &str,
    dialect: Dialect,
    binds: &mut Vec<Bind>,
) -> String {
    let mut sql = format!("SELECT {select} FROM {} WHERE tenant_id = $1{scope}", quoted(def.table));
    conditions(def, query, dialect, binds, &mut sql);
    let (cmp, dir) = if query.descending { ("<", "DESC") } else { (">", "ASC") };
    let col = sort_expr(query, dialect, binds);
    if let Some((value, id)) = &query.after {
        if query.sort_field != "id" {
            binds.push(sort_bind(query, value));
        }
        let v = number(dialect, query.sort_type, &format!("${}", binds.len()));
        binds.push(Bind::new(id.clone(), key_type(def.key)));
        let i = binds.len();
        if query.sort_field == "id" {
            let _ = write!(sql, " AND id {cmp} ${i}");
        } else {
            let _ = write!(sql, " AND ({col} {cmp} {v} OR ({col} = {v} AND id {cmp} ${i}))");
        }
    }
    if query.sort_field == "id" {
        let _ = write!(sql, " ORDER BY id {dir}");
    } else {
        let _ = write!(sql, " ORDER BY {col} {dir}, id {dir}");
    }
    binds.push(Bind::new(Value::BigInt(i64::from(query.limit) + 1), FieldType::BigInt));
    let _ = write!(sql, " LIMIT ${}", binds.len());
    sql
}

/// `SELECT count(*) …` under the same tenant, scope, filters and search as
/// [`build`], without cursor or limit: the `total` of `count=true`.
pub(crate) fn count(def: &ModelDef, query: &ListQuery, scope: &str, dialect: Dialect, binds: &mut Vec<Bind>) -> String {
    let mut sql = format!("SELECT count(*) FROM {} WHERE tenant_id = $1{scope}", quoted(def.table));
    conditions(def, query, dialect, binds, &mut sql);
    sql
}

/// ` AND …` for every filter and every word of the search.
fn conditions(def: &ModelDef, query: &ListQuery, dialect: Dialect, binds: &mut Vec<Bind>, sql: &mut String) {
    for filter in &query.filters {
        let Some(field) = def.fields.get(filter.field) else {
            continue;
        };
        condition(field, filter, dialect, binds, sql);
    }
    let searchable: Vec<&FieldDef> = def.fields.iter().filter(|f| f.searchable).collect();
    if searchable.is_empty() {
        return;
    }
    // PostgreSQL: ILIKE, served by each column's trigram index; SQLite:
    // LIKE, which ignores ASCII case.
    let like = match dialect {
        Dialect::Postgres => "ILIKE",
        Dialect::Sqlite => "LIKE",
    };
    for word in &query.search {
        binds.push(Bind::new(Value::Text(pattern(word)), FieldType::Text));
        let n = binds.len();
        let any: Vec<String> = searchable
            .iter()
            .map(|f| format!("{} {like} ${n} ESCAPE '\\'", quoted(f.column)))
            .collect();
        let _ = write!(sql, " AND ({})", any.join(" OR "));
    }
}

/// One filter's ` AND <column> <op> <value>` (or ` IN (…)`).
fn condition(field: &FieldDef, filter: &Filter, dialect: Dialect, binds: &mut Vec<Bind>, sql: &mut String) {
    let col = compared(dialect, field.ty, &quoted(field.column));
    let mut placeholders = Vec::with_capacity(filter.values.len());
    for value in &filter.values {
        binds.push(Bind::new(value.clone(), field.ty));
        placeholders.push(compared(dialect, field.ty, &format!("${}", binds.len())));
    }
    if filter.op == Op::In {
        let _ = write!(sql, " AND {col} IN ({})", placeholders.join(", "));
    } else if let Some(v) = placeholders.first() {
        let _ = write!(sql, " AND {col} {} {v}", filter.op.sql());
    }
}

/// `word` as a LIKE pattern matching it anywhere, its own `%`, `_` and
/// `\` escaped (the statement says `ESCAPE '\'`): the request's text is
/// data, never a pattern.
fn pattern(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    out.push('%');
    for c in word.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The sort key as SQL: an enum sorts by the position of its value in the
/// declared values (`CASE col WHEN $a THEN 0 WHEN $b THEN 1 … END`, the
/// values bound), anything else by its value.
fn sort_expr(query: &ListQuery, dialect: Dialect, binds: &mut Vec<Bind>) -> String {
    let col = quoted(query.sort_field);
    let FieldType::Enum(values) = query.sort_type else {
        return number(dialect, query.sort_type, &col);
    };
    let mut sql = format!("(CASE {col}");
    for (rank, value) in values.iter().enumerate() {
        binds.push(Bind::new(Value::Text((*value).to_owned()), FieldType::Text));
        let _ = write!(sql, " WHEN ${} THEN {rank}", binds.len());
    }
    sql.push_str(" END)");
    sql
}

/// The bind the cursor's sort value is compared as: an enum's rank, or the
/// value itself.
fn sort_bind(query: &ListQuery, value: &Value) -> Bind {
    match (query.sort_type, value) {
        (FieldType::Enum(values), Value::Text(text)) => {
            let rank = values.iter().position(|v| v == text).unwrap_or(0);
            Bind::new(Value::Int(i32::try_from(rank).unwrap_or(i32::MAX)), FieldType::Int)
        }
        _ => Bind::new(value.clone(), query.sort_type),
    }
}

/// `expr` as a filter compares it: a decimal as a number ([`number`]), an
/// email without regard to ASCII case (`lower(…)`, as its index and its
/// uniqueness are).
fn compared(dialect: Dialect, ty: FieldType, expr: &str) -> String {
    match ty {
        FieldType::Email => format!("lower({expr})"),
        _ => number(dialect, ty, expr),
    }
}

/// `expr` as a number to compare and order by: SQLite stores decimals as
/// text, whose order is not the numbers' (`'10' < '9.5'`, `'9.50' <>
/// '9.5'`), so there they are compared as REAL (exact up to 15 significant
/// digits; beyond, close values tie and are ordered by id, which keeps
/// pages consistent).
fn number(dialect: Dialect, ty: FieldType, expr: &str) -> String {
    if dialect == Dialect::Sqlite && ty == FieldType::Decimal {
        format!("CAST({expr} AS REAL)")
    } else {
        expr.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::pattern;

    /// What `LIKE … ESCAPE '\\'` reads in `pattern`: each character either a
    /// literal or a wildcard.
    fn read(pattern: &str) -> Vec<(char, bool)> {
        let mut out = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.push((chars.next().expect("an escape escapes something"), false)),
                '%' | '_' => out.push((c, true)),
                c => out.push((c, false)),
            }
        }
        out
    }

    proptest! {
        /// Any word, however hostile, is matched as its own characters
        /// between two `%`: no wildcard of its own survives the escape.
        #[test]
        fn a_word_is_literal_between_two_wildcards(word in any::<String>()) {
            let read = read(&pattern(&word));
            prop_assert_eq!(read.first(), Some(&('%', true)));
            prop_assert_eq!(read.last(), Some(&('%', true)));
            let inner = &read[1..read.len() - 1];
            prop_assert!(inner.iter().all(|(_, wild)| !wild));
            prop_assert_eq!(inner.iter().map(|(c, _)| *c).collect::<String>(), word);
        }
    }

    #[test]
    fn patterns_escape_wildcards() {
        assert_eq!(pattern("acme"), "%acme%");
        assert_eq!(pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(pattern("'; DROP TABLE x; --"), "%'; DROP TABLE x; --%");
    }
}
