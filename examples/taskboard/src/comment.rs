//! A model written by hand beside the generated ones: `rookery generate`
//! reads this struct, writes its migration and registers it in
//! `generated::app()`, so it gets the same tenant-scoped routes
//! (`/api/v1/comments`), audit rows and OpenAPI entries as a spec model.

use crate::generated::models::TaskId;

/// A comment on a task.
#[derive(Debug, Clone, rookery::TenantModel)]
#[rookery(
    permissions(read = "tasks.read", write = "tasks.write", delete = "tasks.write"),
    audit
)]
pub struct Comment {
    /// The task it is about; deleting the task deletes its comments.
    #[rookery(on_delete = "cascade", indexed)]
    pub task: TaskId,
    /// What was said.
    #[rookery(max_len = 2000)]
    pub body: String,
}
