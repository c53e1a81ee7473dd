//! The tenant-scoped repository every model gets.
//!
//! SQL is built from the model's static [`ModelDef`]: identifiers come only
//! from that description (never from a request), values are always bound,
//! and the tenant id is always parameter `$1`.
//!
//! The work is done once for every model by the core (`Table`, in
//! `table.rs` and `write.rs`), on the def and [`Value`](crate::model::Value)s; the typed
//! [`Repo`] hand-written code uses wraps it with a decode per call, so
//! little is compiled per model.

use std::marker::PhantomData;

use crate::audit::Stamp;
use crate::db::{DbError, Mode, TenantTx, Writes, Writing};
use crate::model::{CreateInput, FieldDef, FieldType, Id, Key, KeyKind, ModelDef, Record, TenantModel, UpdateInput};

mod audited;
mod cascade;
mod classify;
mod events;
mod formats;
mod list;
mod table;
mod validate;
mod write;

pub(crate) use cascade::{Cascade, cascades};
pub(crate) use formats::{MAX_EMAIL_LEN, MAX_URL_LEN, is_email};
pub use list::{
    DEFAULT_LIMIT, ListQuery, ListQueryError, MAX_IN_VALUES, MAX_LIMIT, MAX_SEARCH_LEN, MAX_SEARCH_WORDS, Page,
    RESERVED_PARAMETERS,
};
pub(crate) use table::Table;
pub use validate::FieldError;
pub(crate) use validate::{exact_decimals, nul_field, to_text};

/// What can go wrong in a repository call; `?` in a handler turns it into
/// the matching problem (422 for broken field rules, 409 for a taken
/// unique value, 503 when the database is down).
///
/// ```no_run
/// # #[derive(Debug, Clone, rookery::TenantModel)]
/// # #[rookery(id = "bigint", permissions(read = "notes.read", write = "notes.write"))]
/// # pub struct Note { pub body: String }
/// # async fn f(db: &rookery::Db, tenant: rookery::TenantId, input: CreateNote) -> Result<(), rookery::ApiError> {
/// let mut tx = db.begin_write(tenant).await?;
/// match tx.repo::<Note>().create(input).await {
///     Err(rookery::RepoError::Invalid(errors)) => println!("{} field errors", errors.len()),
///     other => { other?; }
/// }
/// tx.commit().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepoError {
    /// The input broke a field rule; every broken rule is listed.
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// A unique field already has this value in the tenant.
    #[error("a row with this {field} already exists")]
    Duplicate {
        /// The field whose value is taken (or `row` when unknown).
        field: String,
    },
    /// A reference points at no row of the same tenant.
    #[error("referenced row does not exist")]
    DanglingReference {
        /// The reference field (or `reference` when the database does not say).
        field: String,
    },
    /// The row is still referenced by other rows.
    #[error("row is still referenced")]
    StillReferenced,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for RepoError {
    fn from(err: sqlx::Error) -> Self {
        Self::Db(DbError::Sqlx(err))
    }
}

/// Model `M`'s rows in the tenant of a [`TenantTx`] in state `S`: every
/// state reads; the write methods exist only where `S` [`Writes`].
///
/// ```no_run
/// # #[derive(Debug, Clone, rookery::TenantModel)]
/// # #[rookery(permissions(read = "notes.read", write = "notes.write"))]
/// # pub struct Note { pub body: String }
/// # async fn f(db: &rookery::Db, tenant: rookery::TenantId) -> Result<(), rookery::ApiError> {
/// use rookery::TenantModel as _;
/// let mut tx = db.begin(tenant).await?;
/// let query = rookery::ListQuery::parse(Note::def(), [("limit", "10"), ("sort", "-created_at")])?;
/// let page = tx.repo::<Note>().list(&query).await?;
/// tx.finish_read();
/// # let _ = page; Ok(()) }
/// ```
#[derive(Debug)]
pub struct Repo<'t, M: TenantModel, S: Mode = Writing> {
    tx: &'t mut TenantTx<S>,
    model: PhantomData<fn() -> M>,
}

fn key_type(kind: KeyKind) -> FieldType {
    match kind {
        KeyKind::BigInt => FieldType::BigInt,
        KeyKind::Uuid => FieldType::Uuid,
    }
}

/// `name` as a quoted SQL identifier (`"order"`), the same on PostgreSQL
/// and SQLite: tables and columns may be SQL keywords. Names come from the
/// static `ModelDef` (lowercase letters, digits and `_`, checked by the
/// derive), never from a request.
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

/// A row of the core as a typed record.
pub(crate) fn typed<M: TenantModel>(row: crate::model::Row) -> Result<Record<M>, RepoError> {
    crate::model::row::decode(row.values).map_err(|e| RepoError::Db(DbError::Decode(e)))
}

/// A page of the core as typed records.
pub(crate) fn typed_page<M: TenantModel>(page: list::RowPage) -> Result<Page<M>, RepoError> {
    Ok(Page {
        data: page.rows.decode().map_err(|e| RepoError::Db(DbError::Decode(e)))?,
        next_cursor: page.next_cursor,
        total: page.total,
    })
}

impl<S: Mode> TenantTx<S> {
    /// The repository of model `M` inside this transaction.
    pub fn repo<M: TenantModel>(&mut self) -> Repo<'_, M, S> {
        Repo::new(self)
    }
}

impl<'t, M: TenantModel, S: Mode> Repo<'t, M, S> {
    pub(crate) fn new(tx: &'t mut TenantTx<S>) -> Self {
        Self { tx, model: PhantomData }
    }

    /// The core this repository wraps.
    fn table(&mut self) -> Table<'_, S> {
        Table::new(self.tx, M::def())
    }

    /// The row with `id`, if it exists in this tenant. Another tenant's row
    /// is indistinguishable from a missing one.
    pub async fn get(&mut self, id: Id<M>) -> Result<Option<Record<M>>, RepoError> {
        self.table().get(id.key().to_value()).await?.map(typed).transpose()
    }

    /// How many rows the tenant has.
    pub async fn count(&mut self) -> Result<i64, RepoError> {
        self.table().count().await
    }

    /// One page of rows, filtered and sorted as `query` says.
    pub async fn list(&mut self, query: &ListQuery) -> Result<Page<M>, RepoError> {
        typed_page(self.table().list(query).await?)
    }
}

impl<'t, M: TenantModel, S: Writes> Repo<'t, M, S> {
    /// Inserts a row built from a create input (defaults applied, every
    /// field rule checked first).
    pub async fn create(&mut self, input: M::Create) -> Result<Record<M>, RepoError> {
        typed(self.table().insert(input.into_values(), None).await?)
    }

    /// Inserts a row like [`Repo::create`] and records `<model>.create` in
    /// the audit log, in the same statement on PostgreSQL.
    pub async fn create_audited(&mut self, input: M::Create, stamp: Stamp<'_>) -> Result<Record<M>, RepoError> {
        typed(self.table().insert(input.into_values(), Some(stamp)).await?)
    }

    /// Applies a partial update; `None` when the row does not exist in this tenant.
    pub async fn update(&mut self, id: Id<M>, patch: M::Update) -> Result<Option<Record<M>>, RepoError> {
        let row = self
            .table()
            .update(id.key().to_value(), patch.into_changes(), None)
            .await?;
        row.map(typed).transpose()
    }

    /// Updates like [`Repo::update`] and records `<model>.update` in the
    /// audit log when the row exists, in the same statement on PostgreSQL.
    /// The row's metadata lists the fields the update wrote under `fields`
    /// (added to the stamp's metadata object; any other stamp metadata is
    /// kept under `extra`).
    pub async fn update_audited(
        &mut self,
        id: Id<M>,
        patch: M::Update,
        stamp: Stamp<'_>,
    ) -> Result<Option<Record<M>>, RepoError> {
        let changes = patch.into_changes();
        let row = self.table().update(id.key().to_value(), changes, Some(stamp)).await?;
        row.map(typed).transpose()
    }

    /// Deletes the row; `false` when it does not exist in this tenant.
    pub async fn delete(&mut self, id: Id<M>) -> Result<bool, RepoError> {
        self.table().delete(id.key().to_value(), None).await
    }

    /// Deletes like [`Repo::delete`] and records `<model>.delete` in the
    /// audit log when the row existed, in the same statement on PostgreSQL.
    pub async fn delete_audited(&mut self, id: Id<M>, stamp: Stamp<'_>) -> Result<bool, RepoError> {
        self.table().delete(id.key().to_value(), Some(stamp)).await
    }
}

pub(crate) fn field_at(def: &ModelDef, idx: usize) -> Option<&'static FieldDef> {
    def.fields.get(idx)
}

/// The JSON the CRUD routes write, from values, for typed records: what
/// tests compare with the records' own `Serialize`. Not part of the public
/// API.
#[cfg(feature = "testing")]
pub mod testing {
    use super::Page;
    use super::list::RowPage;
    use crate::model::row::encode;
    use crate::model::{Record, RecordJson, Rows, TenantModel};

    /// `record` as the get, create and update routes write it.
    pub fn record_json<M: TenantModel>(record: &Record<M>) -> String {
        serde_json::to_string(&RecordJson::from(&encode(record))).unwrap_or_default()
    }

    /// `page` as the list route writes it.
    pub fn page_json<M: TenantModel>(page: &Page<M>) -> String {
        let values = page.data.iter().flat_map(|r| encode(r).values).collect();
        let page = RowPage {
            rows: Rows::new(M::def(), values),
            next_cursor: page.next_cursor.clone(),
            total: page.total,
        };
        serde_json::to_string(&page).unwrap_or_default()
    }
}
