//! Every field type and every attribute, in a crate with `missing_docs` on.
#![deny(missing_docs, unreachable_pub)]

use rookery::chrono::{DateTime, NaiveDate, Utc};
use rookery::{Decimal, ModelEnum, TenantModel, UserId};

/// Priority of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ModelEnum)]
pub enum Priority {
    /// Low.
    Low,
    /// High.
    #[rookery(rename = "urgent")]
    High,
}

/// A project.
#[derive(Debug, Clone, TenantModel)]
#[rookery(permissions(read = "projects.read", write = "projects.write"))]
pub struct Project {
    /// Name.
    pub name: String,
}

/// A task with one field of each type.
#[derive(Debug, Clone, TenantModel)]
#[rookery(
    table = "tasks",
    id = "uuid",
    permissions(read = "tasks.read", write = "tasks.write", delete = "tasks.delete"),
    quota = "tasks",
    audit,
    sort = "-title",
    renamed_from = "todo"
)]
pub struct Task {
    /// Title.
    #[rookery(max_len = 200, min = 1, sortable, unique, renamed_from = "name", searchable)]
    pub title: String,
    /// Notes.
    #[rookery(text, searchable)]
    pub notes: Option<String>,
    /// Who asked.
    #[rookery(email, unique, indexed, searchable)]
    pub requester: Option<String>,
    /// Where it is tracked.
    #[rookery(url, max_len = 500)]
    pub link: Option<String>,
    /// Estimate in hours.
    #[rookery(min = 0, max = 1000, default = 1)]
    pub hours: i32,
    /// Views.
    #[rookery(indexed)]
    pub views: i64,
    /// Cost.
    #[rookery(default = "0.00", min = 0, max = 1000000)]
    pub cost: Decimal,
    /// Done?
    #[rookery(default = false)]
    pub done: bool,
    /// Due date.
    pub due: Option<NaiveDate>,
    /// Finished at.
    pub finished_at: Option<DateTime<Utc>>,
    /// External id.
    #[rookery(column = "external_uuid")]
    pub external: rookery::uuid::Uuid,
    /// Free-form data.
    pub extra: rookery::serde_json::Value,
    /// Priority.
    #[rookery(default = "urgent", indexed)]
    pub priority: Priority,
    /// Project.
    #[rookery(on_delete = "cascade", indexed)]
    pub project: ProjectId,
    /// Parent task (a reference to the same model).
    pub parent: Option<TaskId>,
    /// Assignee.
    #[rookery(on_delete = "restrict")]
    pub assignee: Option<UserId>,
}

/// A model only this crate sees.
#[derive(TenantModel)]
#[rookery(permissions(read = "notes.read", write = "notes.write"))]
pub(crate) struct Note {
    pub(crate) body: String,
}

fn main() {
    let _: &rookery::__private::ModelDef = Task::def();
    let _ = Task::TABLE;
    let _: Option<TaskRecord> = None;
    let _ = Task::router();
    let _ = Note::router();
    let _: Option<(CreateTask, UpdateTask, CreateNote, UpdateNote, NoteId, NoteRecord)> = None;
}
