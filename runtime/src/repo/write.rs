//! The writes of the repository core ([`Table`]): insert, update and
//! delete, each with its audit row in the same statement on PostgreSQL.

use std::fmt::Write as _;

use chrono::Utc;

use super::cascade::{self, Cascade};
use super::classify::classify;
use super::events::{self, Verb};
use super::table::{Table, decode_row, select_list};
use super::validate::{self, to_text};
use super::{RepoError, quoted};
use crate::audit::{self, Stamp, Target};
use crate::db::{Bind, Dialect, Writes};
use crate::model::{FieldType, KeyKind, Row, Value};

impl<S: Writes> Table<'_, S> {
    /// On PostgreSQL, `write` (a statement returning at most one row, with
    /// at least its `id`: the audit row's and the event's own ids are bound
    /// once) together with the audit row `<model>.<verb>` of that row when
    /// stamped and its event when the model records `verb`, as one
    /// statement; elsewhere `write` as it is, and what is left to write
    /// after it ([`Table::after`]): the stamp, and whether an event.
    fn with_side_rows<'s>(
        &self,
        write: String,
        verb: Verb,
        stamp: Option<Stamp<'s>>,
        binds: &mut Vec<Bind>,
    ) -> (String, After<'s>) {
        let event = events::verb_on(self.def, verb);
        if stamp.is_none() && !event {
            return (
                write,
                After {
                    stamp: None,
                    event: false,
                },
            );
        }
        if self.tx.dialect() != Dialect::Postgres {
            return (write, After { stamp, event });
        }
        let def = self.def;
        let mut sql = format!("WITH written AS ({write})");
        if let Some(stamp) = stamp {
            let action = format!("{}.{}", def.name, audit_verb(verb));
            let values = audit::values(
                self.tx.tenant(),
                stamp,
                &action,
                def.name,
                Target::Expr("id::text"),
                binds,
            );
            let _ = write!(
                sql,
                ", audited AS (INSERT INTO audit_log ({}) SELECT {values} FROM written)",
                audit::COLUMNS
            );
        }
        if event {
            let tenant = Value::Uuid(self.tx.tenant().0);
            let _ = write!(sql, ", {}", events::cte(def, verb, &tenant, binds));
        }
        sql.push_str(" SELECT * FROM written");
        (
            sql,
            After {
                stamp: None,
                event: false,
            },
        )
    }

    /// Writes the audit row and the event [`Table::with_side_rows`] left to
    /// statements of their own, for the written `row`.
    async fn after(&mut self, verb: Verb, after: After<'_>, row: &Row) -> Result<(), RepoError> {
        let def = self.def;
        if let Some(stamp) = after.stamp {
            let action = format!("{}.{}", def.name, audit_verb(verb));
            audit::record(self.tx, stamp.actor, stamp.entry(&action, def.name, to_text(row.id()))).await?;
        }
        if after.event {
            let kind = events::event_type(def, verb);
            self.tx
                .record_event(uuid::Uuid::now_v7(), &kind, events::data(row), Utc::now())
                .await?;
        }
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
        let (sql, after) = self.with_side_rows(sql, Verb::Created, stamp, &mut binds);
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
        self.after(Verb::Created, after, &row).await?;
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
        let owner = self.owner_clause(&mut binds);
        let sql = format!(
            "UPDATE {} SET {sets} WHERE tenant_id = $1 AND id = $2{owner} RETURNING {}",
            quoted(def.table),
            select_list(def)
        );
        let (sql, after) = self.with_side_rows(sql, Verb::Updated, stamp, &mut binds);
        let row = self
            .tx
            .fetch_optional(sql, binds)
            .await
            .map_err(|e| classify(e, def, false))?;
        let Some(row) = row else { return Ok(None) };
        let row = decode_row(def, &row)?;
        self.after(Verb::Updated, after, &row).await?;
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

    /// Deletes the row, with the audit row `<model>.delete` when stamped
    /// (and its event when the model records deletes); `false` when it
    /// does not exist in this tenant.
    pub(crate) async fn delete(&mut self, id: Value, stamp: Option<Stamp<'_>>) -> Result<bool, RepoError> {
        let def = self.def;
        let mut binds = vec![self.tenant_bind(), self.id_bind(id.clone())];
        let owner = self.owner_clause(&mut binds);
        // The event carries the deleted row; otherwise its id is enough.
        let sql = if events::verb_on(def, Verb::Deleted) {
            format!(
                "DELETE FROM {} WHERE tenant_id = $1 AND id = $2{owner} RETURNING {}",
                quoted(def.table),
                select_list(def)
            )
        } else {
            format!(
                "DELETE FROM {} WHERE tenant_id = $1 AND id = $2{owner} RETURNING id",
                quoted(def.table)
            )
        };
        let (sql, after) = self.with_side_rows(sql, Verb::Deleted, stamp, &mut binds);
        let rows = self
            .tx
            .fetch_all(sql, binds)
            .await
            .map_err(|e| classify(e, def, true))?;
        let Some(first) = rows.first() else {
            return Ok(false);
        };
        let row = if after.event {
            decode_row(def, first)?
        } else {
            // Only the audit row's target is needed.
            let mut values = vec![Value::Null; crate::model::row::width(def)];
            values[crate::model::row::ID] = id;
            Row { def, values }
        };
        self.after(Verb::Deleted, after, &row).await?;
        Ok(true)
    }
}

/// What a write leaves to statements after it (not PostgreSQL).
struct After<'s> {
    stamp: Option<Stamp<'s>>,
    event: bool,
}

/// The audit action's verb of a write.
fn audit_verb(verb: Verb) -> &'static str {
    match verb {
        Verb::Created => "create",
        Verb::Updated => "update",
        Verb::Deleted => "delete",
    }
}
