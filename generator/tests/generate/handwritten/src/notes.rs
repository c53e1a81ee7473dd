//! Hand-written notes: a model the spec does not declare.

use rookery::chrono::{DateTime, NaiveDate, Utc};
use rookery::{Decimal, ModelEnum, TenantModel, UserId};

use crate::generated::models::ProjectId;

/// What a note is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ModelEnum)]
pub enum NoteKind {
    /// An idea.
    Idea,
    /// Something to do.
    Todo,
    /// A follow-up.
    #[rookery(rename = "follow-up")]
    FollowUp,
}

/// A note on a project.
#[derive(Debug, Clone, TenantModel)]
#[rookery(table = "notes", permissions(read = "notes.read", write = "notes.write"), audit, sort = "-seen_at")]
pub struct Note {
    /// Title.
    #[rookery(max_len = 80)]
    pub title: String,
    /// Body.
    #[rookery(text)]
    pub body: Option<String>,
    /// Kind.
    #[rookery(default = "idea", indexed)]
    pub kind: NoteKind,
    /// The project.
    #[rookery(on_delete = "cascade")]
    pub project: ProjectId,
    /// Who wrote it.
    pub author: UserId,
    /// Pinned.
    #[rookery(default = false)]
    pub pinned: bool,
    /// Rank.
    #[rookery(min = -10, max = 10)]
    pub rank: i32,
    /// Words.
    pub words: i64,
    /// Cost.
    pub cost: Option<Decimal>,
    /// Due.
    pub due: Option<NaiveDate>,
    /// Last seen.
    #[rookery(sortable)]
    pub seen_at: Option<DateTime<Utc>>,
    /// External id.
    pub ext: rookery::uuid::Uuid,
    /// Anything else.
    pub meta: Option<rookery::serde_json::Value>,
}
