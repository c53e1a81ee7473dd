//! List queries: filters on indexed fields (equality, `in` lists and, on
//! ordered types, ranges), text search over searchable fields, an optional
//! total, sort on allowed fields, keyset (cursor) pagination.
//!
//! A request's values are parsed by their field's type here and only ever
//! bound (`sql.rs`); identifiers come from the static [`ModelDef`].

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::key_type;
use super::validate::{parse_text, to_text};
use crate::model::{FieldType, ModelDef, Value, row};

mod page;
mod sql;

pub use page::Page;
pub(crate) use page::RowPage;
pub(crate) use sql::{build, count};

/// Largest page a request may ask for.
pub const MAX_LIMIT: u32 = 100;
/// Page size when a request does not say.
pub const DEFAULT_LIMIT: u32 = 20;
/// Most values an `[in]` list may hold.
pub const MAX_IN_VALUES: usize = 100;
/// Longest `q` accepted, in characters.
pub const MAX_SEARCH_LEN: usize = 200;
/// Most words of a `q` (each must match some searchable field).
pub const MAX_SEARCH_WORDS: usize = 8;

/// The list route's own parameters: no filter may be named like them.
pub const RESERVED_PARAMETERS: &[&str] = &["limit", "cursor", "sort", "q", "count"];

/// How a filter compares a field with its value(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Op {
    /// `field=v`.
    Eq,
    /// `field[in]=a,b`.
    In,
    /// `field[gt]=v`.
    Gt,
    /// `field[gte]=v`.
    Gte,
    /// `field[lt]=v`.
    Lt,
    /// `field[lte]=v`.
    Lte,
}

impl Op {
    /// The operators written in brackets, with their names.
    pub(crate) const BRACKETED: &[(&str, Op)] = &[
        ("in", Op::In),
        ("gt", Op::Gt),
        ("gte", Op::Gte),
        ("lt", Op::Lt),
        ("lte", Op::Lte),
    ];

    fn is_range(self) -> bool {
        matches!(self, Op::Gt | Op::Gte | Op::Lt | Op::Lte)
    }

    pub(super) fn sql(self) -> &'static str {
        match self {
            Op::Eq | Op::In => "=",
            Op::Gt => ">",
            Op::Gte => ">=",
            Op::Lt => "<",
            Op::Lte => "<=",
        }
    }
}

/// One filter: a declared field (by index), how it compares, its parsed
/// value(s).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Filter {
    pub(crate) field: usize,
    pub(crate) op: Op,
    pub(crate) values: Vec<Value>,
}

/// A parsed list request: `limit`, `cursor`, `sort`, `q`, `count` and
/// filters on indexed fields, checked against the model (unknown keys are
/// refused).
///
/// ```
/// # #[derive(Debug, Clone, rookery::TenantModel)]
/// # #[rookery(id = "bigint", permissions(read = "notes.read", write = "notes.write"))]
/// # pub struct Note { #[rookery(indexed)] pub stars: i32 }
/// use rookery::TenantModel as _;
/// let query = rookery::ListQuery::parse(
///     Note::def(),
///     [("limit", "5"), ("sort", "-created_at"), ("stars[gte]", "3"), ("count", "true")],
/// )
/// .unwrap();
/// assert!(rookery::ListQuery::parse(Note::def(), [("colour", "red")]).is_err());
/// assert!(rookery::ListQuery::parse(Note::def(), [("stars[gte]", "many")]).is_err());
/// # let _ = query;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Page size, 1..=100.
    pub limit: u32,
    sort_field: &'static str,
    sort_type: FieldType,
    descending: bool,
    filters: Vec<Filter>,
    search: Vec<String>,
    count: bool,
    after: Option<(Value, Value)>,
}

/// Why a list request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("query parameter `{parameter}`: {message}")]
pub struct ListQueryError {
    /// The offending query parameter.
    pub parameter: String,
    /// What was wrong with it.
    pub message: String,
}

fn err(parameter: &str, message: impl Into<String>) -> ListQueryError {
    ListQueryError {
        parameter: parameter.to_owned(),
        message: message.into(),
    }
}

fn implicit_type(def: &ModelDef, name: &str) -> Option<FieldType> {
    match name {
        "id" => Some(key_type(def.key)),
        "created_at" | "updated_at" => Some(FieldType::DateTime),
        _ => None,
    }
}

fn sort_column(def: &ModelDef, name: &str) -> Option<(&'static str, FieldType)> {
    if let Some(ty) = implicit_type(def, name) {
        let col = match name {
            "id" => "id",
            "created_at" => "created_at",
            _ => "updated_at",
        };
        return Some((col, ty));
    }
    def.fields
        .iter()
        .find(|f| f.name == name && f.sortable && !f.optional)
        .map(|f| (f.column, f.ty))
}

/// `name` or `name[op]`: the field name and the operator.
fn filter_key(key: &str) -> Result<(&str, Op), ListQueryError> {
    let Some((name, rest)) = key.split_once('[') else {
        return Ok((key, Op::Eq));
    };
    let op = rest
        .strip_suffix(']')
        .and_then(|op| Op::BRACKETED.iter().find(|(n, _)| *n == op))
        .map(|(_, op)| *op)
        .ok_or_else(|| {
            err(
                key,
                format!("unknown parameter `{key}`: a filter is `{name}=`, `{name}[in]=`, `{name}[gt]=`, `{name}[gte]=`, `{name}[lt]=` or `{name}[lte]=`"),
            )
        })?;
    Ok((name, op))
}

/// The words of a search, `%`-free and lower-cased only by the database.
fn search_words(value: &str) -> Result<Vec<String>, ListQueryError> {
    if value.contains('\0') {
        return Err(err("q", "q must not contain the NUL character (U+0000)"));
    }
    if value.chars().count() > MAX_SEARCH_LEN {
        return Err(err("q", format!("q must be at most {MAX_SEARCH_LEN} characters")));
    }
    let words: Vec<String> = value.split_whitespace().map(str::to_owned).collect();
    if words.len() > MAX_SEARCH_WORDS {
        return Err(err("q", format!("q may hold at most {MAX_SEARCH_WORDS} words")));
    }
    Ok(words)
}

impl ListQuery {
    /// The default query: first page, default sort, no filters.
    pub fn new(def: &ModelDef) -> Self {
        let (sort_field, sort_type) =
            sort_column(def, def.default_sort.field).unwrap_or(("created_at", FieldType::DateTime));
        Self {
            limit: DEFAULT_LIMIT,
            sort_field,
            sort_type,
            descending: def.default_sort.descending,
            filters: Vec::new(),
            search: Vec::new(),
            count: false,
            after: None,
        }
    }

    /// Whether the request asked for the total (`count=true`).
    pub fn wants_total(&self) -> bool {
        self.count
    }

    /// Parses query parameters: `limit`, `cursor`, `sort` (`field` or
    /// `-field`), `q` (words each found in some searchable field),
    /// `count=true`, and for indexed fields `<field>=<value>`,
    /// `<field>[in]=<a>,<b>` and, on ordered types (ints, decimals, dates,
    /// datetimes), `<field>[gt|gte|lt|lte]=<value>`. Every value is parsed
    /// by its field's type. Unknown parameters are refused, so a typo never
    /// silently lists everything.
    pub fn parse<'a>(
        def: &ModelDef,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ListQueryError> {
        let mut query = Self::new(def);
        let mut cursor = None;
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in params {
            if !matches!(key, "limit" | "cursor" | "sort") {
                if seen.contains(&key) {
                    return Err(err(key, format!("`{key}` is given twice")));
                }
                seen.push(key);
            }
            match key {
                "limit" => {
                    query.limit = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| err("limit", format!("limit must be an integer from 1 to {MAX_LIMIT}")))?;
                }
                "cursor" => cursor = Some(value),
                "sort" => {
                    let (descending, name) = match value.strip_prefix('-') {
                        Some(rest) => (true, rest),
                        None => (false, value),
                    };
                    let (col, ty) = sort_column(def, name).ok_or_else(|| {
                        err(
                            "sort",
                            format!(
                                "cannot sort by `{name}`: allowed are id, created_at, updated_at and sortable fields"
                            ),
                        )
                    })?;
                    query.sort_field = col;
                    query.sort_type = ty;
                    query.descending = descending;
                }
                "q" => {
                    if !def.fields.iter().any(|f| f.searchable) {
                        return Err(err("q", "unknown parameter `q` (no field of this model is searchable)"));
                    }
                    query.search = search_words(value)?;
                }
                "count" => {
                    query.count = match value {
                        "true" => true,
                        "false" => false,
                        _ => return Err(err("count", "count must be `true` or `false`")),
                    };
                }
                key => query.filters.push(filter(def, key, value)?),
            }
        }
        // One statement per set of filters, whatever their order in the URL.
        query.filters.sort_by_key(|f| (f.field, f.op));
        if let Some(cursor) = cursor {
            query.after = Some(
                query
                    .decode_cursor(def, cursor)
                    .ok_or_else(|| err("cursor", "invalid cursor"))?,
            );
        }
        Ok(query)
    }

    fn decode_cursor(&self, def: &ModelDef, cursor: &str) -> Option<(Value, Value)> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
        let (sort, value, id): (String, String, String) = serde_json::from_slice(&bytes).ok()?;
        if sort != self.sort_key() {
            return None;
        }
        Some((
            parse_text(self.sort_type, &value).ok()?,
            parse_text(key_type(def.key), &id).ok()?,
        ))
    }

    fn sort_key(&self) -> String {
        format!("{}{}", if self.descending { "-" } else { "" }, self.sort_field)
    }
}

/// The filter `key=value`: an indexed field, an operator its type allows,
/// its value(s) parsed by the field's type.
fn filter(def: &ModelDef, key: &str, value: &str) -> Result<Filter, ListQueryError> {
    let (name, op) = filter_key(key)?;
    let (index, field) = def
        .fields
        .iter()
        .enumerate()
        .find(|(_, f)| f.name == name && f.indexed)
        .ok_or_else(|| {
            err(
                key,
                format!("unknown parameter `{key}` (filters exist for indexed fields only)"),
            )
        })?;
    if op.is_range() && !field.ty.is_ordered() {
        return Err(err(
            key,
            format!(
                "`{name}` is {} field: ranges filter ints, bigints, decimals, dates and datetimes",
                article(field.ty.spec_name())
            ),
        ));
    }
    let parse = |text: &str| parse_text(field.ty, text).map_err(|m| err(key, m));
    let values = if op == Op::In {
        let items: Vec<&str> = value.split(',').collect();
        if items.len() > MAX_IN_VALUES {
            return Err(err(key, format!("{key} holds at most {MAX_IN_VALUES} values")));
        }
        items.into_iter().map(parse).collect::<Result<Vec<_>, _>>()?
    } else {
        vec![parse(value)?]
    };
    Ok(Filter {
        field: index,
        op,
        values,
    })
}

fn article(noun: &str) -> String {
    if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {noun}")
    } else {
        format!("a {noun}")
    }
}

/// The cursor that continues after `last`, a row of `def`.
pub(crate) fn cursor_for(def: &ModelDef, query: &ListQuery, last: &[Value]) -> String {
    let at = match query.sort_field {
        "id" => row::ID,
        "created_at" => row::CREATED,
        "updated_at" => row::UPDATED,
        col => row::IMPLICIT + def.fields.iter().position(|f| f.column == col).unwrap_or(0),
    };
    let text = |i: usize| last.get(i).map(to_text).unwrap_or_default();
    let payload = (query.sort_key(), text(at), text(row::ID));
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&payload).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FieldDef, KeyKind, Permissions, Sort};

    static FIELDS: &[FieldDef] = &[
        FieldDef {
            indexed: true,
            searchable: true,
            ..FieldDef::new("name", "name", FieldType::String)
        },
        FieldDef {
            indexed: true,
            ..FieldDef::new("amount", "amount", FieldType::Decimal)
        },
        FieldDef {
            indexed: true,
            sortable: true,
            ..FieldDef::new("stage", "stage", FieldType::Enum(&["new", "won", "lost"]))
        },
        FieldDef::new("notes", "notes", FieldType::Text),
    ];

    static DEF: ModelDef = ModelDef {
        name: "lead",
        table: "leads",
        path: "leads",
        key: KeyKind::BigInt,
        fields: FIELDS,
        permissions: Permissions {
            read: "leads.read",
            write: "leads.write",
            delete: "leads.write",
            assign: None,
        },
        quota: None,
        audit: false,
        events: crate::model::Events::NONE,
        default_sort: Sort {
            field: "created_at",
            descending: true,
        },
        feature: None,
    };

    fn parse(params: &[(&str, &str)]) -> Result<ListQuery, ListQueryError> {
        ListQuery::parse(&DEF, params.iter().copied())
    }

    #[test]
    fn filters_parse_by_type() {
        let q = parse(&[("amount[gte]", "10.5"), ("stage[in]", "new,won"), ("name", "Acme")]).unwrap();
        // Sorted by field, then operator.
        let ops: Vec<_> = q.filters.iter().map(|f| (f.field, f.op)).collect();
        assert_eq!(ops, [(0, Op::Eq), (1, Op::Gte), (2, Op::In)]);
        assert_eq!(q.filters[2].values.len(), 2);
        assert!(parse(&[("amount[gte]", "10"), ("amount[lt]", "20")]).is_ok());
    }

    #[test]
    fn bad_filters_name_their_parameter() {
        for (key, value, needle) in [
            ("amount[gte]", "ten", "`ten` is not a valid decimal"),
            ("amount[gte]", "1; DROP TABLE leads", "not a valid decimal"),
            ("stage[in]", "new,closed", "closed"),
            ("stage[gt]", "new", "ranges filter"),
            ("name[lt]", "b", "ranges filter"),
            ("amount[between]", "1", "unknown parameter"),
            ("amount[gte", "1", "unknown parameter"),
            ("notes", "x", "indexed fields only"),
            ("count", "yes", "true"),
        ] {
            let e = parse(&[(key, value)]).unwrap_err();
            assert_eq!(e.parameter, key, "{key}");
            assert!(e.message.contains(needle), "{key}: {}", e.message);
            assert!(e.to_string().starts_with(&format!("query parameter `{key}`: ")), "{e}");
        }
        let e = parse(&[("amount[gte]", "1"), ("amount[gte]", "2")]).unwrap_err();
        assert!(e.message.contains("twice"));
        let many = vec!["new"; MAX_IN_VALUES + 1].join(",");
        assert!(parse(&[("stage[in]", many.as_str())]).is_err());
    }

    #[test]
    fn search_words_are_bounded() {
        let q = parse(&[("q", "  acme   corp ")]).unwrap();
        assert_eq!(q.search, ["acme", "corp"]);
        assert!(parse(&[("q", "")]).unwrap().search.is_empty());
        assert!(parse(&[("q", &"x".repeat(MAX_SEARCH_LEN + 1))]).is_err());
        assert!(parse(&[("q", "a b c d e f g h i")]).is_err());
        assert!(parse(&[("q", "a\0b")]).is_err());
    }
}
