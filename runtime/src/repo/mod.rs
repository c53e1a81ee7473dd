//! The tenant-scoped repository every model gets.
//!
//! SQL is built from the model's static [`ModelDef`]: identifiers come only
//! from that description (never from a request), values are always bound,
//! and the tenant id is always parameter `$1`.

use std::fmt::Write as _;
use std::marker::PhantomData;

use chrono::Utc;

use crate::audit::{self, Stamp, Target};
use crate::db::{Bind, DbError, DbRow, Dialect, Mode, TenantTx, Writes, Writing};
use crate::model::{FieldDef, FieldType, Id, Key, KeyKind, ModelDef, Record, TenantModel, Value, ValueReader};

mod cascade;
mod list;
mod validate;

pub(crate) use cascade::{Cascade, cascades};
pub use list::{DEFAULT_LIMIT, ListQuery, ListQueryError, MAX_LIMIT, Page};
pub use validate::FieldError;
pub(crate) use validate::{inexact_decimals, nul_field};

/// What can go wrong in a repository call.
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

/// Maps constraint violations to typed errors by the exact name of the
/// violated constraint (`crate::naming`, the generator's rule); anything
/// else stays a database error. SQLite names no unique constraint: there
/// the exact column list of its message decides.
fn classify(err: DbError, def: &ModelDef, deleting: bool) -> RepoError {
    use crate::naming::{check_name, fkey_name, unique_name};
    use sqlx::error::ErrorKind;
    let DbError::Sqlx(sqlx::Error::Database(db)) = &err else {
        return RepoError::Db(err);
    };
    let (constraint, message) = (db.constraint(), db.message());
    let field = |candidate: fn(&FieldDef) -> bool, name: fn(&str, &str) -> String| {
        def.fields
            .iter()
            .filter(|f| candidate(f))
            .find(|f| {
                let name = name(def.table, f.column);
                match constraint {
                    Some(c) => c == name,
                    // SQLite: `CHECK constraint failed: <name>`.
                    None => message.strip_prefix("CHECK constraint failed: ") == Some(name.as_str()),
                }
            })
            .map(|f| f.name)
    };
    match db.kind() {
        ErrorKind::UniqueViolation => {
            let sqlite = message.strip_prefix("UNIQUE constraint failed: ");
            let field = match (constraint, sqlite) {
                (None, Some(columns)) => def
                    .fields
                    .iter()
                    .filter(|f| f.unique)
                    .find(|f| columns == format!("{t}.tenant_id, {t}.{c}", t = def.table, c = f.column))
                    .map(|f| f.name),
                _ => field(|f| f.unique, unique_name),
            };
            RepoError::Duplicate {
                field: field.unwrap_or("row").to_owned(),
            }
        }
        ErrorKind::ForeignKeyViolation if deleting => RepoError::StillReferenced,
        ErrorKind::ForeignKeyViolation => RepoError::DanglingReference {
            // SQLite's message names no constraint.
            field: field(|f| matches!(f.ty, FieldType::Ref(_)), fkey_name)
                .unwrap_or("reference")
                .to_owned(),
        },
        ErrorKind::CheckViolation => match field(|_| true, check_name) {
            Some(f) => RepoError::Invalid(vec![FieldError::new(
                f,
                "invalid",
                "the value breaks the field's rules",
            )]),
            None => RepoError::Db(err),
        },
        _ => RepoError::Db(err),
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

/// `tenant_id, id, created_at, updated_at, <fields>`.
fn select_list(def: &ModelDef) -> String {
    let mut cols = String::from("tenant_id, id, created_at, updated_at");
    for f in def.fields {
        let _ = write!(cols, ", {}", quoted(f.column));
    }
    cols
}

/// Decodes a row selected with [`select_list`].
pub(crate) fn decode_record<M: TenantModel>(row: &DbRow) -> Result<Record<M>, RepoError> {
    let def = M::def();
    let decode = |e| RepoError::Db(DbError::Decode(e));
    let tenant = row.value(0, FieldType::Uuid)?;
    let id = row.value(1, key_type(def.key))?;
    let created = row.value(2, FieldType::DateTime)?;
    let updated = row.value(3, FieldType::DateTime)?;
    let rest = (0..def.fields.len())
        .map(|i| row.value(4 + i, def.fields[i].ty))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Record {
        tenant_id: crate::TenantId(<uuid::Uuid as crate::model::FieldValue>::from_value(tenant).map_err(decode)?),
        id: Id::new(M::Key::from_value(id).map_err(decode)?),
        created_at: crate::model::FieldValue::from_value(created).map_err(decode)?,
        updated_at: crate::model::FieldValue::from_value(updated).map_err(decode)?,
        data: M::from_values(&mut ValueReader::new(rest)).map_err(decode)?,
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

    fn tenant_bind(&self) -> Bind {
        Bind::new(Value::Uuid(self.tx.tenant().0), FieldType::Uuid)
    }

    fn id_bind(id: Id<M>) -> Bind {
        Bind::new(id.key().to_value(), key_type(M::def().key))
    }

    /// The row with `id`, if it exists in this tenant. Another tenant's row
    /// is indistinguishable from a missing one.
    pub async fn get(&mut self, id: Id<M>) -> Result<Option<Record<M>>, RepoError> {
        let def = M::def();
        let sql = format!(
            "SELECT {} FROM {} WHERE tenant_id = $1 AND id = $2",
            select_list(def),
            quoted(def.table)
        );
        let binds = vec![self.tenant_bind(), Self::id_bind(id)];
        match self.tx.fetch_optional(sql, binds).await? {
            Some(row) => decode_record(&row).map(Some),
            None => Ok(None),
        }
    }

    /// How many rows the tenant has.
    pub async fn count(&mut self) -> Result<i64, RepoError> {
        let def = M::def();
        let sql = format!("SELECT count(*) FROM {} WHERE tenant_id = $1", quoted(def.table));
        let row = self.tx.fetch_optional(sql, vec![self.tenant_bind()]).await?;
        match row.map(|r| r.value(0, FieldType::BigInt)).transpose()? {
            Some(Value::BigInt(n)) => Ok(n),
            _ => Ok(0),
        }
    }

    /// One page of rows, filtered and sorted as `query` says.
    pub async fn list(&mut self, query: &ListQuery) -> Result<Page<M>, RepoError> {
        let def = M::def();
        let (sql, mut binds) = list::build(def, query, select_list(def), self.tx.dialect());
        binds.insert(0, self.tenant_bind());
        let rows = self.tx.fetch_all(sql, binds).await?;
        let mut items = rows.iter().map(decode_record::<M>).collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > query.limit as usize {
            items.truncate(query.limit as usize);
            items.last().map(|last| list::cursor_for(query, last))
        } else {
            None
        };
        Ok(Page {
            data: items,
            next_cursor,
        })
    }
}

impl<'t, M: TenantModel, S: Writes> Repo<'t, M, S> {
    /// On PostgreSQL, `write` (a statement returning at most one row, with
    /// at least its `id`: the audit row's own id is bound once) together
    /// with the audit row `<model>.<verb>` of that row, as one statement; elsewhere `write` as it is, and the stamp
    /// back for [`Repo::audit_after`].
    fn with_audit<'s>(
        &self,
        write: String,
        verb: &str,
        stamp: Option<Stamp<'s>>,
        binds: &mut Vec<Bind>,
    ) -> (String, Option<Stamp<'s>>) {
        let Some(stamp) = stamp else { return (write, None) };
        if self.tx.dialect() != Dialect::Postgres {
            return (write, Some(stamp));
        }
        let def = M::def();
        let action = format!("{}.{verb}", def.name);
        let values = audit::values(
            self.tx.tenant(),
            stamp,
            &action,
            def.name,
            Target::Expr("id::text"),
            binds,
        );
        let sql = format!(
            "WITH written AS ({write}), audited AS (INSERT INTO audit_log ({}) SELECT {values} FROM written) \
             SELECT * FROM written",
            audit::COLUMNS
        );
        (sql, None)
    }

    /// Writes the audit row [`Repo::with_audit`] left to a statement of its own.
    async fn audit_after(&mut self, verb: &str, stamp: Option<Stamp<'_>>, id: Id<M>) -> Result<(), RepoError> {
        let Some(stamp) = stamp else { return Ok(()) };
        let def = M::def();
        let action = format!("{}.{verb}", def.name);
        audit::record(self.tx, stamp.actor, stamp.entry(&action, def.name, id.to_string())).await?;
        Ok(())
    }

    /// Inserts a row built from a create input (defaults applied, every
    /// field rule checked first).
    pub async fn create(&mut self, input: M::Create) -> Result<Record<M>, RepoError> {
        self.insert(input, None).await
    }

    /// Inserts a row like [`Repo::create`] and records `<model>.create` in
    /// the audit log, in the same statement on PostgreSQL.
    pub async fn create_audited(&mut self, input: M::Create, stamp: Stamp<'_>) -> Result<Record<M>, RepoError> {
        self.insert(input, Some(stamp)).await
    }

    async fn insert(&mut self, input: M::Create, stamp: Option<Stamp<'_>>) -> Result<Record<M>, RepoError> {
        let def = M::def();
        let values = validate::create_values(def, crate::model::CreateInput::into_values(input))?;
        let now = Utc::now();
        let dialect = self.tx.dialect();
        let mut binds = vec![self.tenant_bind()];
        let mut cols = String::from("tenant_id, created_at, updated_at");
        let mut params = String::from("$1, $2, $3");
        binds.push(Bind::new(Value::DateTime(now), FieldType::DateTime));
        binds.push(Bind::new(Value::DateTime(now), FieldType::DateTime));
        match (def.key, dialect) {
            (KeyKind::Uuid, _) => {
                cols.push_str(", id");
                binds.push(Bind::new(Value::Uuid(uuid::Uuid::now_v7()), FieldType::Uuid));
                let _ = write!(params, ", ${}", binds.len());
            }
            (KeyKind::BigInt, Dialect::Sqlite) => {
                // SQLite has no identity on a composite key; the write lock taken
                // by `begin_write` makes max + 1 safe.
                cols.push_str(", id");
                let _ = write!(params, ", (SELECT coalesce(max(id), 0) + 1 FROM {})", quoted(def.table));
            }
            (KeyKind::BigInt, Dialect::Postgres) => {}
        }
        for (field, value) in def.fields.iter().zip(values) {
            binds.push(Bind::new(value, field.ty));
            let _ = write!(cols, ", {}", quoted(field.column));
            let _ = write!(params, ", ${}", binds.len());
        }
        let sql = format!(
            "INSERT INTO {} ({cols}) VALUES ({params}) RETURNING {}",
            quoted(def.table),
            select_list(def)
        );
        let (sql, after) = self.with_audit(sql, "create", stamp, &mut binds);
        let row = self
            .tx
            .fetch_optional(sql, binds)
            .await
            .map_err(|e| classify(e, def, false))?;
        let record = decode_record(&row.ok_or_else(|| RepoError::DanglingReference {
            field: "reference".to_owned(),
        })?)?;
        self.audit_after("create", after, record.id).await?;
        Ok(record)
    }

    /// Applies a partial update; `None` when the row does not exist in this tenant.
    pub async fn update(&mut self, id: Id<M>, patch: M::Update) -> Result<Option<Record<M>>, RepoError> {
        self.change(id, patch, None).await
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
        self.change(id, patch, Some(stamp)).await
    }

    async fn change(
        &mut self,
        id: Id<M>,
        patch: M::Update,
        stamp: Option<Stamp<'_>>,
    ) -> Result<Option<Record<M>>, RepoError> {
        let def = M::def();
        let changes = validate::update_values(def, crate::model::UpdateInput::into_changes(patch))?;
        let stamp = stamp.map(|stamp| {
            let fields: Vec<&str> = changes.iter().map(|(field, _)| field.name).collect();
            audit::with_fields(stamp, &fields)
        });
        let mut binds = vec![self.tenant_bind(), Self::id_bind(id)];
        binds.push(Bind::new(Value::DateTime(Utc::now()), FieldType::DateTime));
        let mut sets = String::from("updated_at = $3");
        for (field, value) in changes {
            binds.push(Bind::new(value, field.ty));
            let _ = write!(sets, ", {} = ${}", quoted(field.column), binds.len());
        }
        let sql = format!(
            "UPDATE {} SET {sets} WHERE tenant_id = $1 AND id = $2 RETURNING {}",
            quoted(def.table),
            select_list(def)
        );
        let (sql, after) = self.with_audit(sql, "update", stamp, &mut binds);
        let row = self
            .tx
            .fetch_optional(sql, binds)
            .await
            .map_err(|e| classify(e, def, false))?;
        let Some(row) = row else { return Ok(None) };
        let record = decode_record(&row)?;
        self.audit_after("update", after, record.id).await?;
        Ok(Some(record))
    }

    /// Deletes the row; `false` when it does not exist in this tenant.
    pub async fn delete(&mut self, id: Id<M>) -> Result<bool, RepoError> {
        self.remove(id, None).await
    }

    /// Deletes like [`Repo::delete`] and records `<model>.delete` in the
    /// audit log when the row existed, in the same statement on PostgreSQL.
    pub async fn delete_audited(&mut self, id: Id<M>, stamp: Stamp<'_>) -> Result<bool, RepoError> {
        self.remove(id, Some(stamp)).await
    }

    /// Deletes like [`Repo::delete_audited`]; the audit row's metadata
    /// also records, per table, how many rows the delete cascaded to
    /// (`cascaded`), counted first in the same transaction.
    pub(crate) async fn delete_audited_cascading(
        &mut self,
        id: Id<M>,
        stamp: Stamp<'_>,
        cascades: &[Cascade],
    ) -> Result<bool, RepoError> {
        let tenant = self.tx.tenant();
        let counts = cascade::count(self.tx, tenant, cascades, Self::id_bind(id)).await?;
        let stamp = if counts.is_empty() {
            stamp
        } else {
            audit::with_fact(stamp, "cascaded", serde_json::json!(counts))
        };
        self.remove(id, Some(stamp)).await
    }

    async fn remove(&mut self, id: Id<M>, stamp: Option<Stamp<'_>>) -> Result<bool, RepoError> {
        let def = M::def();
        let sql = format!(
            "DELETE FROM {} WHERE tenant_id = $1 AND id = $2 RETURNING id",
            quoted(def.table)
        );
        let mut binds = vec![self.tenant_bind(), Self::id_bind(id)];
        let (sql, after) = self.with_audit(sql, "delete", stamp, &mut binds);
        let rows = self
            .tx
            .fetch_all(sql, binds)
            .await
            .map_err(|e| classify(e, def, true))?;
        if rows.is_empty() {
            return Ok(false);
        }
        self.audit_after("delete", after, id).await?;
        Ok(true)
    }
}

pub(crate) fn field_at(def: &ModelDef, idx: usize) -> Option<&'static FieldDef> {
    def.fields.get(idx)
}
