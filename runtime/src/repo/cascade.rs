//! What a delete takes with it: the tables whose rows reference a model
//! with `on_delete = "cascade"` (and theirs, transitively), counted before
//! the delete so the parent's audit row can say what went with it
//! (`metadata.cascaded`, rows per table). The database does the deleting;
//! this only counts, in the delete's own transaction and tenant.

use std::collections::BTreeMap;

use super::quoted;
use crate::db::{Bind, DbError, Mode, TenantTx};
use crate::model::{FieldType, ModelDef, OnDelete, TenantId, Value};

/// A table whose rows a delete of its parent removes, and what removing
/// them removes in turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cascade {
    /// The referencing table.
    table: &'static str,
    /// Its column that references the parent's `id`.
    column: &'static str,
    /// Tables that cascade from this one.
    children: Vec<Cascade>,
}

/// The cascades from `table` among `models`. A cycle (a model cascading
/// from itself, directly or not) is not followed: its rows are counted
/// where the chain first reaches its table.
pub(crate) fn cascades(models: &[&'static ModelDef], table: &str) -> Vec<Cascade> {
    fn walk(models: &[&'static ModelDef], table: &str, seen: &mut Vec<&'static str>) -> Vec<Cascade> {
        let mut out = Vec::new();
        for m in models {
            for f in m.fields {
                let FieldType::Ref(target) = f.ty else { continue };
                if target.table != table || target.column != "id" || f.on_delete != OnDelete::Cascade {
                    continue;
                }
                if seen.contains(&m.table) {
                    continue;
                }
                seen.push(m.table);
                let children = walk(models, m.table, seen);
                seen.pop();
                out.push(Cascade {
                    table: m.table,
                    column: f.column,
                    children,
                });
            }
        }
        out
    }
    let mut seen: Vec<&'static str> = models.iter().filter(|m| m.table == table).map(|m| m.table).collect();
    walk(models, table, &mut seen)
}

/// Rows per table that deleting the row `id` of the parent would remove,
/// tables with none left out.
pub(crate) async fn count(
    tx: &mut TenantTx<impl Mode>,
    tenant: TenantId,
    cascades: &[Cascade],
    id: Bind,
) -> Result<BTreeMap<&'static str, i64>, DbError> {
    let mut out = BTreeMap::new();
    // Each level selects the ids of the one above: `$2` is the parent's id.
    let mut stack: Vec<(&Cascade, String)> = cascades.iter().map(|c| (c, "$2".to_owned())).collect();
    while let Some((c, parent_ids)) = stack.pop() {
        let matching = format!(
            "FROM {} WHERE tenant_id = $1 AND {} IN ({parent_ids})",
            quoted(c.table),
            quoted(c.column)
        );
        let row = tx
            .fetch_optional(
                format!("SELECT count(*) {matching}"),
                vec![Bind::new(Value::Uuid(tenant.0), FieldType::Uuid), id.clone()],
            )
            .await?;
        let n = match row.map(|r| r.value(0, FieldType::BigInt)).transpose()? {
            Some(Value::BigInt(n)) => n,
            _ => 0,
        };
        if n > 0 {
            *out.entry(c.table).or_insert(0) += n;
            for child in &c.children {
                stack.push((child, format!("SELECT id {matching}")));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{Cascade, cascades};
    use crate::model::OnDelete;

    use crate::model::fixtures::{model as def, reference};

    #[test]
    fn cascades_follow_references_transitively_and_stop_at_cycles() {
        let models = vec![
            def("projects", vec![]),
            def("tasks", vec![reference("project_id", "projects", OnDelete::Cascade)]),
            def(
                "comments",
                vec![
                    reference("task_id", "tasks", OnDelete::Cascade),
                    reference("reply_to_id", "comments", OnDelete::Cascade),
                ],
            ),
            def("links", vec![reference("project_id", "projects", OnDelete::Restrict)]),
        ];
        assert_eq!(
            cascades(&models, "projects"),
            [Cascade {
                table: "tasks",
                column: "project_id",
                children: vec![Cascade {
                    table: "comments",
                    column: "task_id",
                    children: vec![],
                }],
            }],
            "restrict references and cycles are not followed"
        );
        assert_eq!(cascades(&models, "links"), []);
    }
}
