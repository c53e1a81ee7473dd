//! Routes written by hand: what the generated CRUD cannot say. Each is an
//! [`Operation`] (so `/openapi.json` lists it) served by a plain axum
//! handler that takes the caller as a [`Principal`].
//!
//! - `POST /projects/{id}/archive` needs the custom permission
//!   `projects.archive` (declared in `rookery.toml`'s `[permissions]`),
//!   archives the project, closes its open tasks with SQL of its own in one
//!   writing transaction, writes the audit row `project.archive`, records
//!   the domain event `project.archived` (declared with `App::event_type`,
//!   so webhook endpoints may subscribe to it) and enqueues the job
//!   [`ArchiveSummary`], all in the same transaction.
//! - `GET /reports/projects` is a report: one SQL statement with a join and
//!   aggregates, in a reading transaction.

use rookery::audit::{self, Entry};
use rookery::auth::Principal;
use rookery::axum::Json;
use rookery::axum::extract::{Path, State};
use rookery::axum::http::HeaderMap;
use rookery::db::{DbError, FromRow, RowReader};
use rookery::http::{ApiError, Operation, request_id};
use rookery::serde_json::{Value, json};
use rookery::{App, AppState, Record};

use crate::generated::models::{Project, ProjectId};
use crate::jobs::ArchiveSummary;

/// Adds the hand-written routes to `app`.
pub fn register(app: App) -> App {
    app.event_type("project.archived")
        .operation(
            Operation::post("/projects/{id}/archive")
                .operation_id("archive_project")
                .summary("Archive a project and close its open tasks")
                .permission("projects.archive")
                .response(200, "The archived project", Some(Operation::model_schema::<Project>()))
                .error(409, "The project is archived already"),
            archive,
        )
        .operation(
            Operation::get("/reports/projects")
                .operation_id("report_projects")
                .summary("Every project with its task counts")
                .permission("reports.read")
                .response(200, "One entry per project, by name", Some(report_schema())),
            report,
        )
}

async fn archive(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Record<Project>>, ApiError> {
    principal.require("projects.archive")?;
    // An id that cannot exist is a missing row, as on the generated routes.
    let id: ProjectId = id.parse().map_err(|_| ApiError::NotFound)?;
    let now = rookery::chrono::Utc::now();
    let mut tx = state.db().begin_write(principal.tenant).await?;
    let archived = tx
        .sql("UPDATE projects SET status = 'archived', updated_at = $3 WHERE tenant_id = $1 AND id = $2 AND status = 'active'")
        .bind(id)
        .bind(now)
        .execute()
        .await?;
    if archived == 0 {
        return Err(match tx.repo::<Project>().get(id).await? {
            Some(_) => ApiError::Conflict("the project is archived already".into()),
            None => ApiError::NotFound,
        });
    }
    let closed = tx
        .sql("UPDATE tasks SET done = true, updated_at = $3 WHERE tenant_id = $1 AND project_id = $2 AND NOT done")
        .bind(id)
        .bind(now)
        .execute()
        .await?;
    let entry = Entry {
        action: "project.archive",
        target_type: "project",
        target_id: id.to_string(),
        request_id: request_id(&headers),
        metadata: Some(json!({ "tasks_closed": closed })),
    };
    audit::record(&mut tx, principal.actor, entry).await?;
    // Runs later, and only if this transaction commits.
    tx.enqueue(&ArchiveSummary {
        project: id,
        by: principal.user(),
    })
    .await?;
    let project = tx.repo::<Project>().get(id).await?.ok_or(ApiError::NotFound)?;
    // Delivered to the webhook endpoints subscribed to it, if this commits.
    tx.emit(
        "project.archived",
        &json!({ "project": project, "tasks_closed": closed }),
    )
    .await?;
    tx.commit().await?;
    Ok(Json(project))
}

/// One line of the projects report.
struct ProjectLine {
    id: i64,
    name: String,
    status: String,
    tasks: i64,
    open: i64,
}

impl FromRow for ProjectLine {
    fn from_row(row: &mut RowReader<'_>) -> Result<Self, DbError> {
        Ok(Self {
            id: row.read()?,
            name: row.read()?,
            status: row.read()?,
            tasks: row.read()?,
            open: row.read()?,
        })
    }
}

async fn report(State(state): State<AppState>, principal: Principal) -> Result<Json<Value>, ApiError> {
    principal.require("reports.read")?;
    let mut tx = state.db().begin(principal.tenant).await?;
    let lines: Vec<ProjectLine> = tx
        .sql(
            "SELECT p.id, p.name, p.status, count(t.id), count(t.id) FILTER (WHERE NOT t.done) \
             FROM projects p LEFT JOIN tasks t ON t.tenant_id = p.tenant_id AND t.project_id = p.id \
             WHERE p.tenant_id = $1 GROUP BY p.id, p.name, p.status ORDER BY p.name, p.id",
        )
        .fetch_all()
        .await?;
    tx.finish_read();
    let lines: Vec<Value> = lines
        .into_iter()
        .map(|l| json!({ "project": l.id, "name": l.name, "status": l.status, "tasks": l.tasks, "open": l.open }))
        .collect();
    Ok(Json(Value::Array(lines)))
}

fn report_schema() -> Value {
    let count = json!({"type": "integer", "minimum": 0});
    json!({
        "type": "array",
        "items": {
            "type": "object",
            "required": ["project", "name", "status", "tasks", "open"],
            "properties": {
                "project": {"type": "integer"},
                "name": {"type": "string"},
                "status": {"type": "string", "enum": ["active", "archived"]},
                "tasks": count,
                "open": count
            }
        }
    })
}
