//! List queries: filters on indexed fields, sort on allowed fields, keyset
//! (cursor) pagination.

use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::ser::{SerializeMap as _, SerializeSeq as _, Serializer};

use super::validate::{parse_text, to_text};
use super::{key_type, quoted};
use crate::db::{Bind, Dialect};
use crate::model::{FieldType, ModelDef, Record, RecordJson, Rows, TenantModel, Value, row};

/// Largest page a request may ask for.
pub const MAX_LIMIT: u32 = 100;
/// Page size when a request does not say.
pub const DEFAULT_LIMIT: u32 = 20;

/// A parsed list request: `limit`, `cursor`, `sort` and filters on
/// indexed fields, checked against the model (unknown keys are refused).
///
/// ```
/// # #[derive(Debug, Clone, rookery::TenantModel)]
/// # #[rookery(id = "bigint", permissions(read = "notes.read", write = "notes.write"))]
/// # pub struct Note { pub body: String }
/// use rookery::TenantModel as _;
/// let query = rookery::ListQuery::parse(Note::def(), [("limit", "5"), ("sort", "-created_at")]).unwrap();
/// assert!(rookery::ListQuery::parse(Note::def(), [("colour", "red")]).is_err());
/// # let _ = query;
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Page size, 1..=100.
    pub limit: u32,
    sort_field: &'static str,
    sort_type: FieldType,
    descending: bool,
    filters: Vec<(&'static str, FieldType, Value)>,
    after: Option<(Value, Value)>,
}

/// Why a list request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
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
            after: None,
        }
    }

    /// Parses query parameters: `limit`, `cursor`, `sort` (`field` or
    /// `-field`) and `<field>=<value>` for indexed fields. Unknown
    /// parameters are refused, so a typo never silently lists everything.
    pub fn parse<'a>(
        def: &ModelDef,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, ListQueryError> {
        let mut query = Self::new(def);
        let mut cursor = None;
        for (key, value) in params {
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
                name => {
                    let field = def.fields.iter().find(|f| f.name == name && f.indexed).ok_or_else(|| {
                        err(
                            name,
                            format!("unknown parameter `{name}` (filters exist for indexed fields only)"),
                        )
                    })?;
                    if query.filters.iter().any(|(col, ..)| *col == field.column) {
                        return Err(err(name, format!("`{name}` is given twice")));
                    }
                    let parsed = parse_text(field.ty, value).map_err(|m| err(name, m))?;
                    query.filters.push((field.column, field.ty, parsed));
                }
            }
        }
        // One statement per set of filters, whatever their order in the URL.
        query
            .filters
            .sort_by_key(|(col, ..)| def.fields.iter().position(|f| f.column == *col));
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

/// `SELECT … WHERE tenant_id = $1 <scope> … ORDER BY … LIMIT …`, its binds
/// pushed after those already in `binds` (the tenant, and the bind of
/// `scope`, a predicate the caller made).
pub(crate) fn build(
    def: &ModelDef,
    query: &ListQuery,
    select: String,
    scope: &str,
    dialect: Dialect,
    binds: &mut Vec<Bind>,
) -> String {
    let mut sql = format!("SELECT {select} FROM {} WHERE tenant_id = $1{scope}", quoted(def.table));
    for (col, ty, value) in &query.filters {
        binds.push(Bind::new(value.clone(), *ty));
        let n = format!("${}", binds.len());
        let _ = write!(
            sql,
            " AND {} = {}",
            number(dialect, *ty, &quoted(col)),
            number(dialect, *ty, &n)
        );
    }
    let (cmp, dir) = if query.descending { ("<", "DESC") } else { (">", "ASC") };
    let col = number(dialect, query.sort_type, &quoted(query.sort_field));
    if let Some((value, id)) = &query.after {
        if query.sort_field != "id" {
            binds.push(Bind::new(value.clone(), query.sort_type));
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

/// One page of a list: its rows (`data`) and the cursor of the next page
/// (`next_cursor`, `None` on the last), as the list route answers it.
///
/// ```no_run
/// # #[derive(Debug, Clone, rookery::TenantModel)]
/// # #[rookery(id = "bigint", permissions(read = "notes.read", write = "notes.write"))]
/// # pub struct Note { pub body: String }
/// # async fn f(db: &rookery::Db, tenant: rookery::TenantId, query: rookery::ListQuery) -> Result<(), rookery::RepoError> {
/// let mut tx = db.begin(tenant).await?;
/// let page = tx.repo::<Note>().list(&query).await?;
/// for note in &page.data {
///     println!("{}: {}", note.id, note.data.body);
/// }
/// tx.finish_read();
/// # Ok(()) }
/// ```
#[derive(Debug, Serialize)]
#[serde(bound = "")]
pub struct Page<M: TenantModel> {
    /// The rows.
    pub data: Vec<Record<M>>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// One page of a list as the core reads it: the JSON of [`Page`], written
/// from the rows' values.
#[derive(Debug)]
pub(crate) struct RowPage {
    /// The rows.
    pub(crate) rows: Rows,
    /// The cursor of the next page, if there is one.
    pub(crate) next_cursor: Option<String>,
}

impl Serialize for RowPage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// `data`: the rows, each as its record.
        struct Data<'a>(&'a Rows);
        impl Serialize for Data<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
                for values in self.0.iter() {
                    seq.serialize_element(&RecordJson::new(self.0.def, values))?;
                }
                seq.end()
            }
        }
        let mut map = serializer.serialize_map(Some(1 + usize::from(self.next_cursor.is_some())))?;
        map.serialize_entry("data", &Data(&self.rows))?;
        if let Some(cursor) = &self.next_cursor {
            map.serialize_entry("next_cursor", cursor)?;
        }
        map.end()
    }
}
