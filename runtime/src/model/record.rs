//! The stored row of a model.

use std::ops::Deref;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Id, TenantId, TenantModel};

/// A stored row: the implicit columns around the model's own fields.
///
/// Serialises as one flat JSON object: `id`, `tenant_id`, `created_at`,
/// `updated_at`, then the model's fields.
#[derive(Debug, Clone, Serialize)]
#[serde(bound = "")]
pub struct Record<M: TenantModel> {
    /// Row id.
    pub id: Id<M>,
    /// Owning tenant.
    pub tenant_id: TenantId,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When the row was last changed.
    pub updated_at: DateTime<Utc>,
    /// The model's own fields.
    #[serde(flatten)]
    pub data: M,
}

impl<M: TenantModel> Deref for Record<M> {
    type Target = M;
    fn deref(&self) -> &M {
        &self.data
    }
}
