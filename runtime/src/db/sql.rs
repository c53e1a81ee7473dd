//! SQL of your own inside a tenant transaction: joins, aggregates,
//! `FOR UPDATE`, reports.
//!
//! [`TenantTx::sql`] starts a statement whose `$1` is the transaction's
//! tenant; [`Sql::bind`] adds `$2`, `$3`, …; rows decode into tuples of
//! field types or into your own [`FromRow`] types, the same on both
//! dialects.
//!
//! What stays guaranteed:
//!
//! - **PostgreSQL:** the statement runs inside the transaction with
//!   `app.tenant_id` set and row-level security in force for the serving
//!   role, so it sees and changes only the tenant's rows whatever the SQL
//!   says; a reading transaction's statement is also read-only (the
//!   database refuses a write, and `FOR UPDATE`, in it).
//! - **SQLite:** there is no row-level security. The tenant is bound as
//!   `$1`, and a statement that does not use `$1` is refused
//!   ([`DbError::TenantNotBound`]), but it is the SQL that must filter each
//!   tenant table by `tenant_id = $1`. A write slipped into a reading
//!   transaction is rolled back when the transaction ends.
//! - **Both:** the values travel as bound parameters (never formatted into
//!   the text), and a write needs a writing transaction: [`Sql::execute`]
//!   exists only there. The statement must use exactly the parameters it
//!   was given, `$1` to `$n` ([`DbError::ParameterCount`]; SQLite would
//!   read a missing one as `NULL`).
//! - **Not done for you:** SQL of your own is only what it says. It does
//!   not set `updated_at`, writes no audit row and records no event (set
//!   the column, call `rookery::audit::record`, and [`TenantTx::emit`]);
//!   the repository's writes do all three.
//!
//! Read each column as the Rust type of the type PostgreSQL gives it; SQLite
//! is lenient, so develop against PostgreSQL's rules:
//!
//! | PostgreSQL result | Rust |
//! | --- | --- |
//! | `count(…)`, `bigint`, `sum` of `integer` | `i64` |
//! | `integer` | `i32` |
//! | `sum`/`avg` of `bigint` or `numeric`, `avg` of `integer`, `numeric` | `Decimal` |
//! | `text`, `varchar` | `String` |
//! | `boolean` | `bool` |
//! | `timestamptz`, `date`, `uuid`, `jsonb` | `DateTime<Utc>`, `NaiveDate`, `Uuid`, `serde_json::Value` |
//! | a column or aggregate that may be `NULL` (`max`, `sum` of no rows, a `LEFT JOIN`'s side) | `Option<…>` of the above |
//!
//! Cast where the type is not the one you want (`count(*)::int`,
//! `sum(x)::bigint`).

use super::DbError;
use super::bind::{Bind, DbRow};
use super::tx::{Mode, TenantTx, Writes};
use crate::model::{DecodeError, FieldType, FieldValue, Value};

/// A statement of your own in a [`TenantTx`], `$1` bound to its tenant.
///
/// ```no_run
/// # async fn report(db: &rookery::db::Db, tenant: rookery::TenantId) -> Result<(), rookery::db::DbError> {
/// let mut tx = db.begin(tenant).await?;
/// let open: Vec<(String, i64)> = tx
///     .sql(
///         "SELECT p.name, count(t.id) FROM projects p \
///          LEFT JOIN tasks t ON t.tenant_id = p.tenant_id AND t.project_id = p.id AND NOT t.done \
///          WHERE p.tenant_id = $1 AND p.status = $2 GROUP BY p.name ORDER BY p.name",
///     )
///     .bind("active")
///     .fetch_all()
///     .await?;
/// tx.finish_read();
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a statement does nothing until it is fetched or executed"]
pub struct Sql<'t, M: Mode> {
    tx: &'t mut TenantTx<M>,
    sql: String,
    binds: Vec<Bind>,
}

impl<M: Mode> TenantTx<M> {
    /// A statement of your own: `$1` is this transaction's tenant, the
    /// values [`Sql::bind`] adds are `$2`, `$3`, …
    pub fn sql(&mut self, sql: impl Into<String>) -> Sql<'_, M> {
        let tenant = Bind::new(Value::Uuid(self.tenant().0), FieldType::Uuid);
        Sql {
            tx: self,
            sql: sql.into(),
            binds: vec![tenant],
        }
    }
}

impl<M: Mode> Sql<'_, M> {
    /// Binds the next parameter (`$2` first): any field type, or a `&str`.
    /// `None::<T>` binds a `NULL` typed as `T`.
    pub fn bind(mut self, value: impl Param) -> Self {
        let (value, ty) = value.into_param();
        self.binds.push(Bind::new(value, ty));
        self
    }

    fn checked(&self) -> Result<(), DbError> {
        if !uses_first_parameter(&self.sql) {
            return Err(DbError::TenantNotBound);
        }
        // SQLite would read a missing value as NULL where PostgreSQL
        // refuses the statement: both refuse it here, before it runs.
        let used = highest_parameter(&self.sql);
        if used != self.binds.len() {
            return Err(DbError::ParameterCount {
                used,
                bound: self.binds.len(),
            });
        }
        Ok(())
    }

    /// Every row, decoded as `R`.
    pub async fn fetch_all<R: FromRow>(self) -> Result<Vec<R>, DbError> {
        self.checked()?;
        let rows = self.tx.fetch_all(self.sql, self.binds).await?;
        rows.iter().map(|row| R::from_row(&mut RowReader::new(row))).collect()
    }

    /// The first row, if any, decoded as `R`.
    pub async fn fetch_optional<R: FromRow>(self) -> Result<Option<R>, DbError> {
        self.checked()?;
        match self.tx.fetch_optional(self.sql, self.binds).await? {
            Some(row) => R::from_row(&mut RowReader::new(&row)).map(Some),
            None => Ok(None),
        }
    }

    /// The first row, decoded as `R`; [`sqlx::Error::RowNotFound`] when
    /// there is none.
    pub async fn fetch_one<R: FromRow>(self) -> Result<R, DbError> {
        self.fetch_optional()
            .await?
            .ok_or(DbError::Sqlx(sqlx::Error::RowNotFound))
    }
}

impl<M: Writes> Sql<'_, M> {
    /// Runs a statement that returns no rows; how many rows it changed.
    ///
    /// ```no_run
    /// # async fn archive(db: &rookery::db::Db, tenant: rookery::TenantId) -> Result<(), rookery::db::DbError> {
    /// let mut tx = db.begin_write(tenant).await?;
    /// let archived = tx
    ///     .sql("UPDATE projects SET status = 'archived' WHERE tenant_id = $1 AND updated_at < $2")
    ///     .bind(rookery::chrono::Utc::now() - rookery::chrono::Duration::days(365))
    ///     .execute()
    ///     .await?;
    /// tx.commit().await?;
    /// # let _ = archived; Ok(()) }
    /// ```
    pub async fn execute(self) -> Result<u64, DbError> {
        self.checked()?;
        self.tx.execute(self.sql, self.binds).await
    }
}

/// A value [`Sql::bind`] takes: every field type, `&str`, `&String` and
/// `Option<&str>`.
pub trait Param: sealed::Sealed {
    /// The value and the column type a `NULL` is typed as.
    fn into_param(self) -> (Value, FieldType);
}

mod sealed {
    pub trait Sealed {}
    impl<T: crate::model::FieldValue> Sealed for T {}
    impl Sealed for &str {}
    impl Sealed for &String {}
    impl Sealed for Option<&str> {}
}

impl<T: FieldValue> Param for T {
    fn into_param(self) -> (Value, FieldType) {
        (self.to_value(), T::TYPE)
    }
}

impl Param for &str {
    fn into_param(self) -> (Value, FieldType) {
        (Value::Text(self.to_owned()), FieldType::Text)
    }
}

impl Param for &String {
    fn into_param(self) -> (Value, FieldType) {
        self.as_str().into_param()
    }
}

impl Param for Option<&str> {
    fn into_param(self) -> (Value, FieldType) {
        (self.map_or(Value::Null, |s| Value::Text(s.to_owned())), FieldType::Text)
    }
}

/// The highest `$n` in `sql` (0 when there is none).
fn highest_parameter(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut highest = 0;
    for (i, _) in sql.match_indices('$') {
        let digits: String = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .map(|b| char::from(*b))
            .collect();
        if let Ok(n) = digits.parse::<usize>() {
            highest = highest.max(n);
        }
    }
    highest
}

/// Whether `sql` mentions the parameter `$1` (not `$10`, `$11`, …).
fn uses_first_parameter(sql: &str) -> bool {
    sql.match_indices("$1")
        .any(|(i, _)| !sql[i + 2..].starts_with(|c: char| c.is_ascii_digit()))
}

/// Reads a row's columns in order, each as the type asked for.
#[derive(Debug)]
pub struct RowReader<'r> {
    row: &'r DbRow,
    next: usize,
}

impl<'r> RowReader<'r> {
    fn new(row: &'r DbRow) -> Self {
        Self { row, next: 0 }
    }

    /// The next column as `T` (`Option<T>` for a column that may be `NULL`).
    pub fn read<T: FieldValue>(&mut self) -> Result<T, DbError> {
        let index = self.next;
        self.next += 1;
        let value = self.row.value(index, T::TYPE)?;
        if value == Value::Null && !T::OPTIONAL {
            return Err(DbError::NullColumn {
                column: index,
                rust: std::any::type_name::<T>(),
            });
        }
        T::from_value(value).map_err(|e: DecodeError| DbError::Decode(e))
    }
}

/// A row of your own statement, read column by column.
///
/// Tuples of field types (`String`, `i32`, `i64`, `bool`, `Decimal`,
/// `NaiveDate`, `DateTime<Utc>`, `Uuid`, `serde_json::Value`, model ids
/// and enums, `Option` of each) implement it; so can your own types:
///
/// ```
/// use rookery::db::{DbError, FromRow, RowReader};
///
/// struct Open {
///     project: String,
///     tasks: i64,
/// }
///
/// impl FromRow for Open {
///     fn from_row(row: &mut RowReader<'_>) -> Result<Self, DbError> {
///         Ok(Self { project: row.read()?, tasks: row.read()? })
///     }
/// }
/// ```
pub trait FromRow: Sized {
    /// Reads the row.
    fn from_row(row: &mut RowReader<'_>) -> Result<Self, DbError>;
}

macro_rules! tuple {
    ($($t:ident),+) => {
        impl<$($t: FieldValue),+> FromRow for ($($t,)+) {
            fn from_row(row: &mut RowReader<'_>) -> Result<Self, DbError> {
                Ok(($(row.read::<$t>()?,)+))
            }
        }
    };
}

tuple!(A);
tuple!(A, B);
tuple!(A, B, C);
tuple!(A, B, C, D);
tuple!(A, B, C, D, E);
tuple!(A, B, C, D, E, F);
tuple!(A, B, C, D, E, F, G);
tuple!(A, B, C, D, E, F, G, H);

#[cfg(test)]
mod tests {
    use super::uses_first_parameter;

    #[test]
    fn counts_the_parameters_a_statement_uses() {
        use super::highest_parameter;
        assert_eq!(highest_parameter("SELECT 1 FROM t WHERE tenant_id = $1"), 1);
        assert_eq!(highest_parameter("WHERE a = $3 AND tenant_id = $1 AND b = $12"), 12);
        assert_eq!(highest_parameter("SELECT '$' || name FROM t"), 0);
    }

    #[test]
    fn the_tenant_parameter_must_appear() {
        assert!(uses_first_parameter("SELECT 1 FROM t WHERE tenant_id = $1"));
        assert!(uses_first_parameter("SELECT $1"));
        assert!(uses_first_parameter("WHERE a = $10 AND tenant_id = $1 AND b = $11"));
        assert!(!uses_first_parameter("SELECT * FROM t WHERE a = $10"));
        assert!(!uses_first_parameter("SELECT * FROM t"));
    }
}
