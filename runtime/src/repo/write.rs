//! The writes of the repository core ([`Table`]): insert, update and
//! delete, each with its audit row in the same statement on PostgreSQL.

use std::fmt::Write as _;

use chrono::Utc;

use super::audited::{self, Shape};
use super::cascade::{self, Cascade};
use super::classify::{RefsWritten, classify};
use super::events::{self, Verb};
use super::table::{Table, decode_row, qualified_select_list, select_list};
use super::validate::{self, to_text};
use super::{RepoError, quoted};
use crate::audit::{self, Changes, Stamp, Target};
use crate::db::{Bind, Dialect, Store, Writes};
use crate::model::{FieldDef, FieldType, KeyKind, Row, Value};

impl<S: Writes> Table<'_, S> {
    /// On PostgreSQL, `write` (a statement returning at most one row, its
    /// whole [`select_list`]: the audit row's and the event's own ids are
    /// bound once) together with the audit row `<model>.<verb>` of that row
    /// when stamped (its changes built from the `written` row and, for an
    /// update, the `old` one that `old` selects `FOR UPDATE`: only the
    /// `updated` fields) and its event when the model records `verb`, as
    /// one statement; elsewhere `write` as it is, and what is left to write
    /// after it ([`Table::after`]): the stamp, and whether an event.
    fn with_side_rows<'s>(
        &self,
        (old, write): (Option<String>, String),
        verb: Verb,
        stamp: Option<Stamp<'s>>,
        updated: &[&'static FieldDef],
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
        let mut sql = match old {
            Some(old) => format!("WITH old AS ({old}), written AS ({write})"),
            None => format!("WITH written AS ({write})"),
        };
        if let Some(stamp) = stamp {
            let action = format!("{}.{}", def.name, audit_verb(verb));
            let changes = audited::sql(def, shape(verb, updated), binds);
            let values = audit::values(
                self.tx.tenant(),
                stamp,
                &action,
                def.name,
                (Target::Expr("w.id::text"), Changes::Expr(changes)),
                binds,
            );
            let from = if verb == Verb::Updated {
                "written w, old o"
            } else {
                "written w"
            };
            let _ = write!(
                sql,
                ", audited AS (INSERT INTO audit_log ({}) SELECT {values} FROM {from})",
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
    /// statements of their own, for the written `row` (the row as it was
    /// `before` an update, and the `updated` fields).
    async fn after(
        &mut self,
        verb: Verb,
        after: After<'_>,
        row: &Row,
        (before, updated): (Option<&Row>, &[&'static FieldDef]),
    ) -> Result<(), RepoError> {
        let def = self.def;
        if let Some(stamp) = after.stamp {
            let action = format!("{}.{}", def.name, audit_verb(verb));
            let changes = match verb {
                Verb::Created => audited::json(def, Shape::Created, None, Some(row)),
                Verb::Updated => audited::json(def, Shape::Updated(updated), before, Some(row)),
                Verb::Deleted => audited::json(def, Shape::Deleted, Some(row), None),
            };
            let entry = stamp.entry(&action, def.name, to_text(row.id()));
            audit::record_changes(self.tx, stamp.actor, entry, Changes::Json(changes)).await?;
        }
        if after.event {
            let kind = events::event_type(def, verb);
            self.tx
                .record_event(
                    uuid::Uuid::now_v7(),
                    &kind,
                    events::data(row),
                    Utc::now(),
                    Store::IfSubscribed,
                )
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
        let mut refs = RefsWritten::default();
        for (field, value) in def.fields.iter().zip(values) {
            refs.note(def, field, &value);
            binds.push(Bind::new(value, field.ty));
            let _ = write!(cols, ", {}", quoted(field.column));
            let _ = write!(params, ", ${}", binds.len());
        }
        let sql = format!(
            "INSERT INTO {} ({cols}) VALUES ({params}) RETURNING {}",
            quoted(def.table),
            select_list(def)
        );
        let (sql, after) = self.with_side_rows((None, sql), Verb::Created, stamp, &[], &mut binds);
        let row = self
            .tx
            .fetch_optional(sql, binds)
            .await
            .map_err(|e| classify(e, def, refs))?;
        let row = decode_row(
            def,
            &row.ok_or_else(|| RepoError::DanglingReference {
                field: refs.name(def).to_owned(),
            })?,
        )?;
        self.after(Verb::Created, after, &row, (None, &[])).await?;
        Ok(row)
    }

    /// Applies a partial update (`(index into ModelDef::fields, value)`
    /// pairs), with the audit row `<model>.update` when stamped (its
    /// metadata lists the fields written under `fields`, its changes the
    /// before and after of those whose value changed: on PostgreSQL the
    /// row is read `FOR UPDATE` in the same statement, elsewhere first);
    /// `None` when the row does not exist in this tenant.
    pub(crate) async fn update(
        &mut self,
        id: Value,
        changes: Vec<(usize, Value)>,
        stamp: Option<Stamp<'_>>,
    ) -> Result<Option<Row>, RepoError> {
        let def = self.def;
        let changes = validate::update_values(def, changes)?;
        let updated: Vec<&'static FieldDef> = changes.iter().map(|(field, _)| *field).collect();
        let stamp = stamp.map(|stamp| {
            let fields: Vec<&str> = updated.iter().map(|field| field.name).collect();
            audit::with_fields(stamp, &fields)
        });
        let postgres = self.tx.dialect() == Dialect::Postgres;
        // Elsewhere the before values are read first, in this transaction
        // (which holds the write lock).
        let before = match (&stamp, postgres) {
            (Some(_), false) => match self.get(id.clone()).await? {
                Some(row) => Some(row),
                None => return Ok(None),
            },
            _ => None,
        };
        let mut binds = vec![self.tenant_bind(), self.id_bind(id)];
        binds.push(Bind::new(Value::DateTime(Utc::now()), FieldType::DateTime));
        let mut sets = String::from("updated_at = $3");
        let mut refs = RefsWritten::default();
        for (field, value) in changes {
            refs.note(def, field, &value);
            binds.push(Bind::new(value, field.ty));
            let _ = write!(sets, ", {} = ${}", quoted(field.column), binds.len());
        }
        let owner = self.owner_clause(&mut binds);
        let table = quoted(def.table);
        let sql = if stamp.is_some() && postgres {
            // The row as it was, locked, beside the update of it.
            let old = format!(
                "SELECT {} FROM {table} WHERE tenant_id = $1 AND id = $2{owner} FOR UPDATE",
                select_list(def)
            );
            let write = format!(
                "UPDATE {table} SET {sets} FROM old WHERE {table}.tenant_id = $1 AND {table}.id = old.id RETURNING {}",
                qualified_select_list(def, &table)
            );
            (Some(old), write)
        } else {
            let write = format!(
                "UPDATE {table} SET {sets} WHERE tenant_id = $1 AND id = $2{owner} RETURNING {}",
                select_list(def)
            );
            (None, write)
        };
        let (sql, after) = self.with_side_rows(sql, Verb::Updated, stamp, &updated, &mut binds);
        let row = self
            .tx
            .fetch_optional(sql, binds)
            .await
            .map_err(|e| classify(e, def, refs))?;
        let Some(row) = row else { return Ok(None) };
        let row = decode_row(def, &row)?;
        self.after(Verb::Updated, after, &row, (before.as_ref(), &updated))
            .await?;
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
        // The event and the audit row carry the deleted row; otherwise its
        // id is enough.
        let whole = stamp.is_some() || events::verb_on(def, Verb::Deleted);
        let sql = if whole {
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
        let (sql, after) = self.with_side_rows((None, sql), Verb::Deleted, stamp, &[], &mut binds);
        let rows = self
            .tx
            .fetch_all(sql, binds)
            .await
            .map_err(|e| classify(e, def, RefsWritten::DELETING))?;
        let Some(first) = rows.first() else {
            return Ok(false);
        };
        let row = if whole {
            decode_row(def, first)?
        } else {
            let mut values = vec![Value::Null; crate::model::row::width(def)];
            values[crate::model::row::ID] = id;
            Row { def, values }
        };
        self.after(Verb::Deleted, after, &row, (None, &[])).await?;
        Ok(true)
    }
}

/// What a write leaves to statements after it (not PostgreSQL).
struct After<'s> {
    stamp: Option<Stamp<'s>>,
    event: bool,
}

/// What the audit row of `verb` records of the `updated` fields.
fn shape<'a>(verb: Verb, updated: &'a [&'static FieldDef]) -> Shape<'a> {
    match verb {
        Verb::Created => Shape::Created,
        Verb::Updated => Shape::Updated(updated),
        Verb::Deleted => Shape::Deleted,
    }
}

/// The audit action's verb of a write.
fn audit_verb(verb: Verb) -> &'static str {
    match verb {
        Verb::Created => "create",
        Verb::Updated => "update",
        Verb::Deleted => "delete",
    }
}
