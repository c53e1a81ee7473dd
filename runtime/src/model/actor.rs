//! Who acts: the subject an audit row names and a permission check asks about.

use uuid::Uuid;

use super::UserId;

/// Who acts: what an audit row names (`rookery::audit::record` takes
/// `principal.actor`).
///
/// ```
/// let user = rookery::UserId::new_v7();
/// let actor = rookery::Actor::User(user);
/// assert_eq!((actor.kind(), actor.id()), ("user", user.0));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Actor {
    /// A signed-in user.
    User(UserId),
    /// An API key (and the member who created it).
    ApiKey {
        /// The key's id.
        id: Uuid,
        /// The member who created it.
        created_by: UserId,
    },
}

impl Actor {
    /// `user` or `api_key`, as stored in the audit log.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::User(_) => "user",
            Self::ApiKey { .. } => "api_key",
        }
    }

    /// The user id or key id, as stored in the audit log.
    pub fn id(&self) -> Uuid {
        match self {
            Self::User(user) => user.0,
            Self::ApiKey { id, .. } => *id,
        }
    }
}
