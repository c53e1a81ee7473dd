//! The repository core: one model's table, described by its `&'static`
//! [`ModelDef`], read and written as [`Value`]s. Nothing here is generic
//! over the model, so it is compiled once, in the runtime; the CRUD routes
//! call it directly and the typed [`Repo`](super::Repo) wraps it with a
//! decode (and an encode) per call. Writes are in `write.rs`.

use std::fmt::Write as _;

use super::list::{self, ListQuery, RowPage};
use super::{RepoError, key_type, quoted};
use crate::db::{Bind, DbRow, Mode, TenantTx};
use crate::model::row::width;
use crate::model::{FieldType, ModelDef, Row, Rows, UserId, Value};

/// The rows of model `def` in the tenant of a [`TenantTx`] in state `S`:
/// every state reads; the writes exist only where `S` writes.
#[derive(Debug)]
pub(crate) struct Table<'t, S: Mode> {
    pub(super) tx: &'t mut TenantTx<S>,
    pub(super) def: &'static ModelDef,
    /// Rows owned by this member only ([`Table::owned_by`]).
    pub(super) owner: Option<UserId>,
}

/// `tenant_id, id, created_at, updated_at, <fields>`.
pub(super) fn select_list(def: &ModelDef) -> String {
    let mut cols = String::from("tenant_id, id, created_at, updated_at");
    for f in def.fields {
        let _ = write!(cols, ", {}", quoted(f.column));
    }
    cols
}

/// [`select_list`] with every column qualified by `table` (quoted).
pub(super) fn qualified_select_list(def: &ModelDef, table: &str) -> String {
    let mut cols = format!("{table}.tenant_id, {table}.id, {table}.created_at, {table}.updated_at");
    for f in def.fields {
        let _ = write!(cols, ", {table}.{}", quoted(f.column));
    }
    cols
}

/// The type of each column [`select_list`] selects, in order.
fn column_type(def: &ModelDef, i: usize) -> FieldType {
    match i {
        0 => FieldType::Uuid,
        1 => key_type(def.key),
        2 | 3 => FieldType::DateTime,
        i => def.fields[i - 4].ty,
    }
}

/// Appends the values of a row selected with [`select_list`] to `out`.
fn decode_into(def: &ModelDef, row: &DbRow, out: &mut Vec<Value>) -> Result<(), RepoError> {
    for i in 0..width(def) {
        out.push(row.value(i, column_type(def, i))?);
    }
    Ok(())
}

/// Decodes a row selected with [`select_list`].
pub(super) fn decode_row(def: &'static ModelDef, row: &DbRow) -> Result<Row, RepoError> {
    let mut values = Vec::with_capacity(width(def));
    decode_into(def, row, &mut values)?;
    Ok(Row { def, values })
}

impl<'t, S: Mode> Table<'t, S> {
    /// The table of `def` inside `tx`.
    pub(crate) fn new(tx: &'t mut TenantTx<S>, def: &'static ModelDef) -> Self {
        Self { tx, def, owner: None }
    }

    /// The same table, reaching only the rows whose owner field names
    /// `owner` when it is `Some` (a permission granted on own rows): every
    /// read, update and delete gets `AND <owner column> = $n`. A model
    /// without an owner field reaches no row under an owner (fail closed).
    pub(crate) fn owned_by(mut self, owner: Option<UserId>) -> Self {
        self.owner = owner;
        self
    }

    /// ` AND <owner column> = $n` with its bind pushed onto `binds`, when
    /// the table is [`Table::owned_by`] someone; empty otherwise.
    pub(super) fn owner_clause(&self, binds: &mut Vec<Bind>) -> String {
        let Some(owner) = self.owner else {
            return String::new();
        };
        binds.push(Bind::new(Value::Uuid(owner.0), FieldType::Uuid));
        match self.def.owner() {
            Some((_, field)) => format!(" AND {} = ${}", quoted(field.column), binds.len()),
            None => format!(" AND ${} IS NULL", binds.len()),
        }
    }

    pub(super) fn tenant_bind(&self) -> Bind {
        Bind::new(Value::Uuid(self.tx.tenant().0), FieldType::Uuid)
    }

    /// The bind of an id (a key value of this model).
    pub(super) fn id_bind(&self, id: Value) -> Bind {
        Bind::new(id, key_type(self.def.key))
    }

    /// The row with `id`, if it exists in this tenant. Another tenant's row
    /// is indistinguishable from a missing one.
    pub(crate) async fn get(&mut self, id: Value) -> Result<Option<Row>, RepoError> {
        let def = self.def;
        let mut binds = vec![self.tenant_bind(), self.id_bind(id)];
        let sql = format!(
            "SELECT {} FROM {} WHERE tenant_id = $1 AND id = $2{}",
            select_list(def),
            quoted(def.table),
            self.owner_clause(&mut binds)
        );
        match self.tx.fetch_optional(sql, binds).await? {
            Some(row) => decode_row(def, &row).map(Some),
            None => Ok(None),
        }
    }

    /// How many rows the tenant has (that the owner owns, when scoped).
    pub(crate) async fn count(&mut self) -> Result<i64, RepoError> {
        let mut binds = vec![self.tenant_bind()];
        let sql = format!(
            "SELECT count(*) FROM {} WHERE tenant_id = $1{}",
            quoted(self.def.table),
            self.owner_clause(&mut binds)
        );
        let row = self.tx.fetch_optional(sql, binds).await?;
        match row.map(|r| r.value(0, FieldType::BigInt)).transpose()? {
            Some(Value::BigInt(n)) => Ok(n),
            _ => Ok(0),
        }
    }

    /// One page of rows, filtered, searched and sorted as `query` says,
    /// with the total of every page when it asks (`count=true`: a second
    /// statement in the same transaction, under the same filters and scope).
    pub(crate) async fn list(&mut self, query: &ListQuery) -> Result<RowPage, RepoError> {
        let def = self.def;
        let total = if query.wants_total() {
            let mut binds = vec![self.tenant_bind()];
            let owner = self.owner_clause(&mut binds);
            let sql = list::count(def, query, &owner, self.tx.dialect(), &mut binds);
            let row = self.tx.fetch_optional(sql, binds).await?;
            match row.map(|r| r.value(0, FieldType::BigInt)).transpose()? {
                Some(Value::BigInt(n)) => Some(n),
                _ => Some(0),
            }
        } else {
            None
        };
        let mut binds = vec![self.tenant_bind()];
        let owner = self.owner_clause(&mut binds);
        let sql = list::build(def, query, select_list(def), &owner, self.tx.dialect(), &mut binds);
        let fetched = self.tx.fetch_all(sql, binds).await?;
        let mut values = Vec::with_capacity(fetched.len() * width(def));
        for row in &fetched {
            decode_into(def, row, &mut values)?;
        }
        let mut rows = Rows::new(def, values);
        let limit = query.limit as usize;
        let next_cursor = if rows.len() > limit {
            rows.truncate(limit);
            rows.iter().last().map(|last| list::cursor_for(def, query, last))
        } else {
            None
        };
        Ok(RowPage {
            rows,
            next_cursor,
            total,
        })
    }
}
