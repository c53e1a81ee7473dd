//! The writes of the repository core ([`Table`]): insert, update and
//! delete, each with its audit row in the same statement on PostgreSQL.

use std::fmt::Write as _;

use chrono::Utc;

use super::cascade::{self, Cascade};
use super::classify::classify;
use super::table::{Table, decode_row, select_list};
use super::validate::{self, to_text};
use super::{RepoError, quoted};
use crate::audit::{self, Stamp, Target};
use crate::db::{Bind, Dialect, Writes};
use crate::model::{FieldType, KeyKind, Row, Value};

impl<S: Writes> Table<'_, S> {
    /// On PostgreSQL, `write` (a statement returning at most one row, with
    /// at least its `id`: the audit row's own id is bound once) together
    /// with the audit row `<model>.<verb>` of that row, as one statement;
    /// elsewhere `write` as it is, and the stamp back for
    /// [`Table::audit_after`].
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
        let def = self.def;
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

    /// Writes the audit row [`Table::with_audit`] left to a statement of its own.
    async fn audit_after(&mut self, verb: &str, stamp: Option<Stamp<'_>>, id: &Value) -> Result<(), RepoError> {
        let Some(stamp) = stamp else { return Ok(()) };
        let def = self.def;
        let action = format!("{}.{verb}", def.name);
        audit::record(self.tx, stamp.actor, stamp.entry(&action, def.name, to_text(id))).await?;
        Ok(())
    }

    /// Inserts a row built from a create input (one entry per field, `None`
    /// where the input omitted it: defaults applied, every field rule
    /// checked first), with the audit row `<model>.create` when stamped.
    pub(crate) async fn insert(
        &mut self,
        input: Vec<Option<Value>>,
        stamp: Option<Stamp<'_>>,
    ) -> Result<Row, RepoError> {
        let def = self.def;
        let values = validate::create_values(def, input)?;
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
        let row = decode_row(
            def,
            &row.ok_or_else(|| RepoError::DanglingReference {
                field: "reference".to_owned(),
            })?,
        )?;
        self.audit_after("create", after, row.id()).await?;
        Ok(row)
    }

    /// Applies a partial update (`(index into ModelDef::fields, value)`
    /// pairs), with the audit row `<model>.update` when stamped (its
    /// metadata lists the fields written under `fields`); `None` when the
    /// row does not exist in this tenant.
    pub(crate) async fn update(
        &mut self,
        id: Value,
        changes: Vec<(usize, Value)>,
        stamp: Option<Stamp<'_>>,
    ) -> Result<Option<Row>, RepoError> {
        let def = self.def;
        let changes = validate::update_values(def, changes)?;
        let stamp = stamp.map(|stamp| {
            let fields: Vec<&str> = changes.iter().map(|(field, _)| field.name).collect();
            audit::with_fields(stamp, &fields)
        });
        let mut binds = vec![self.tenant_bind(), self.id_bind(id)];
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
        let row = decode_row(def, &row)?;
        self.audit_after("update", after, row.id()).await?;
        Ok(Some(row))
    }

    /// Deletes the row like [`Table::delete`] with a stamp; the audit row's
    /// metadata also records, per table, how many rows the delete cascaded
    /// to (`cascaded`), counted first in the same transaction.
    pub(crate) async fn delete_cascading(
        &mut self,
        id: Value,
        stamp: Stamp<'_>,
        cascades: &[Cascade],
    ) -> Result<bool, RepoError> {
        let tenant = self.tx.tenant();
        let counts = cascade::count(self.tx, tenant, cascades, self.id_bind(id.clone())).await?;
        let stamp = if counts.is_empty() {
            stamp
        } else {
            audit::with_fact(stamp, "cascaded", serde_json::json!(counts))
        };
        self.delete(id, Some(stamp)).await
    }

    /// Deletes the row, with the audit row `<model>.delete` when stamped;
    /// `false` when it does not exist in this tenant.
    pub(crate) async fn delete(&mut self, id: Value, stamp: Option<Stamp<'_>>) -> Result<bool, RepoError> {
        let def = self.def;
        let sql = format!(
            "DELETE FROM {} WHERE tenant_id = $1 AND id = $2 RETURNING id",
            quoted(def.table)
        );
        let mut binds = vec![self.tenant_bind(), self.id_bind(id.clone())];
        let (sql, after) = self.with_audit(sql, "delete", stamp, &mut binds);
        let rows = self
            .tx
            .fetch_all(sql, binds)
            .await
            .map_err(|e| classify(e, def, true))?;
        if rows.is_empty() {
            return Ok(false);
        }
        self.audit_after("delete", after, &id).await?;
        Ok(true)
    }
}
