//! Reserved words, in one place: the planner quotes every word SQL treats
//! specially, the model escapes Rust keywords as raw identifiers, and the
//! checker refuses only what even that cannot carry (`self`, names that
//! shadow the prelude).

/// Words PostgreSQL or SQLite reserve: quoted wherever SQL names them.
pub(crate) const SQL: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "between",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "delete",
    "desc",
    "distinct",
    "do",
    "drop",
    "else",
    "end",
    "escape",
    "except",
    "exists",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "glob",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "index",
    "initially",
    "inner",
    "insert",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "transaction",
    "true",
    "union",
    "unique",
    "update",
    "user",
    "using",
    "values",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// Further words SQLite or PostgreSQL treat as keywords in some position;
/// allowed as names (`action`, `key`, `plan` are ordinary field names) but
/// quoted in generated SQL, like [`SQL`].
pub(crate) const SQL_QUOTED: &[&str] = &[
    "abort",
    "action",
    "add",
    "after",
    "alter",
    "always",
    "attach",
    "autoincrement",
    "before",
    "begin",
    "by",
    "cascade",
    "commit",
    "conflict",
    "current",
    "database",
    "deferred",
    "detach",
    "each",
    "exclude",
    "exclusive",
    "explain",
    "fail",
    "filter",
    "first",
    "following",
    "generated",
    "groups",
    "if",
    "ignore",
    "immediate",
    "indexed",
    "instead",
    "key",
    "last",
    "match",
    "materialized",
    "no",
    "nothing",
    "nulls",
    "of",
    "others",
    "over",
    "partition",
    "plan",
    "pragma",
    "preceding",
    "query",
    "raise",
    "range",
    "recursive",
    "regexp",
    "reindex",
    "release",
    "rename",
    "replace",
    "restrict",
    "rollback",
    "row",
    "rows",
    "savepoint",
    "set",
    "temp",
    "temporary",
    "ties",
    "trigger",
    "unbounded",
    "vacuum",
    "view",
    "virtual",
    "without",
];

/// Rust keywords, strict and reserved (edition 2024), plus `crate`, `self`
/// and `super`.
pub(crate) const RUST: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "crate", "do", "dyn", "else",
    "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro", "match", "mod",
    "move", "mut", "override", "priv", "pub", "ref", "return", "self", "static", "struct", "super", "trait", "true",
    "try", "type", "typeof", "unsafe", "unsized", "use", "virtual", "where", "while", "yield",
];

/// Rust keywords that cannot be raw identifiers either (`r#self` is an error).
pub(crate) const RUST_NOT_RAW: &[&str] = &["self", "super", "crate"];

/// Names of the Rust prelude (and `String`, `Vec`, `Box`) that generated code
/// uses: a model whose type name is one of them would shadow it.
pub(crate) const PRELUDE: &[&str] = &[
    "Box",
    "Clone",
    "Copy",
    "Default",
    "Drop",
    "Eq",
    "Err",
    "Fn",
    "FnMut",
    "FnOnce",
    "From",
    "Into",
    "Iterator",
    "None",
    "Ok",
    "Option",
    "Ord",
    "PartialEq",
    "Result",
    "Send",
    "Sized",
    "Some",
    "String",
    "Sync",
    "ToOwned",
    "ToString",
    "Unpin",
    "Vec",
];

#[cfg(test)]
mod tests {
    /// SQLite's keywords (<https://sqlite.org/lang_keywords.html>): names may
    /// now be any of them, so each must be quoted.
    const SQLITE: &str = "abort action add after all alter always analyze and as asc attach autoincrement before begin \
        between by cascade case cast check collate column commit conflict constraint create cross current current_date \
        current_time current_timestamp database default deferrable deferred delete desc detach distinct do drop each \
        else end escape except exclude exclusive exists explain fail filter first following for foreign from full \
        generated glob group groups having if ignore immediate in index indexed initially inner insert instead \
        intersect into is isnull join key last left like limit match materialized natural no not nothing notnull null \
        nulls of offset on or order others outer over partition plan pragma preceding primary query raise range \
        recursive references regexp reindex release rename replace restrict returning right rollback row rows \
        savepoint select set table temp temporary then ties to transaction trigger unbounded union unique update using \
        vacuum values view virtual when where window with without";

    /// PostgreSQL's reserved keywords, also those allowed only as function or
    /// type names (<https://www.postgresql.org/docs/current/sql-keywords-appendix.html>).
    const POSTGRES: &str = "all analyse analyze and any array as asc asymmetric both case cast check collate column \
        constraint create current_catalog current_date current_role current_time current_timestamp current_user default \
        deferrable desc distinct do else end except false fetch for foreign from grant group having in initially \
        intersect into lateral leading limit localtime localtimestamp not null offset on only or order placing primary \
        references returning select session_user some symmetric system_user table then to trailing true union unique \
        user using variadic when where window with authorization binary collation concurrently cross current_schema \
        freeze full ilike inner is isnull join left like natural notnull outer overlaps right similar tablesample \
        verbose";

    #[test]
    fn every_sqlite_and_postgres_keyword_is_quoted() {
        let missing: Vec<&str> = SQLITE
            .split_whitespace()
            .chain(POSTGRES.split_whitespace())
            .filter(|w| !super::SQL.contains(w) && !super::SQL_QUOTED.contains(w))
            .collect();
        assert!(missing.is_empty(), "not quoted: {missing:?}");
    }
}
