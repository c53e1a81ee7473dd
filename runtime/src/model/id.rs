//! Typed identifiers: tenants, users and model rows.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use super::TenantModel;
use super::def::{FieldType, KeyKind, RefTarget};
use super::value::{DecodeError, FieldValue, Value};

/// The id of a tenant. Every tenant-scoped statement binds one.
///
/// ```
/// let tenant: rookery::TenantId = "0192f7a0-0000-7000-8000-000000000001".parse().unwrap();
/// assert_eq!(tenant.to_string(), "0192f7a0-0000-7000-8000-000000000001");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TenantId(pub Uuid);

impl TenantId {
    /// A fresh, time-ordered tenant id.
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for TenantId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

/// The id of a user (an account that may be a member of several tenants).
///
/// ```
/// # fn f(principal: rookery::Principal) {
/// let me: rookery::UserId = principal.user(); // the signed-in user, or the key's creator
/// # let _ = me; }
/// ```
///
/// As a model field it references the tenant's memberships, so only a member
/// of the same tenant can be referenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(pub Uuid);

impl UserId {
    /// A fresh, time-ordered user id.
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for UserId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

impl FieldValue for UserId {
    const TYPE: FieldType = FieldType::Ref(RefTarget {
        table: "memberships",
        column: "user_id",
        key: KeyKind::Uuid,
    });
    fn to_value(&self) -> Value {
        Value::Uuid(self.0)
    }
    fn from_value(value: Value) -> Result<Self, DecodeError> {
        <Uuid as FieldValue>::from_value(value).map(Self)
    }
}

/// The primary key type of a model: `i64` or `Uuid`.
pub trait Key:
    Copy + Eq + Hash + fmt::Debug + fmt::Display + FromStr + Serialize + for<'de> Deserialize<'de> + Send + Sync + 'static
{
    /// The kind recorded in the model's description.
    const KIND: KeyKind;
    /// Converts the key into a column value.
    fn to_value(self) -> Value;
    /// Reads the key from a column value.
    fn from_value(value: Value) -> Result<Self, DecodeError>;
}

impl Key for i64 {
    const KIND: KeyKind = KeyKind::BigInt;
    fn to_value(self) -> Value {
        Value::BigInt(self)
    }
    fn from_value(value: Value) -> Result<Self, DecodeError> {
        <i64 as FieldValue>::from_value(value)
    }
}

impl Key for Uuid {
    const KIND: KeyKind = KeyKind::Uuid;
    fn to_value(self) -> Value {
        Value::Uuid(self)
    }
    fn from_value(value: Value) -> Result<Self, DecodeError> {
        <Uuid as FieldValue>::from_value(value)
    }
}

/// The typed id of a row of model `M` (`Id<Project>` is `ProjectId`): an
/// id of one model cannot be passed where another's is expected.
///
/// ```
/// # #[derive(Debug, Clone, rookery::TenantModel)]
/// # #[rookery(id = "bigint", permissions(read = "projects.read", write = "projects.write"))]
/// # pub struct Project { pub name: String }
/// let id: ProjectId = "42".parse().unwrap();
/// assert_eq!(id.key(), 42);
/// assert!("not-a-number".parse::<ProjectId>().is_err());
/// ```
pub struct Id<M: TenantModel> {
    key: M::Key,
    model: PhantomData<fn() -> M>,
}

impl<M: TenantModel> Id<M> {
    /// Wraps a raw key.
    pub fn new(key: M::Key) -> Self {
        Self {
            key,
            model: PhantomData,
        }
    }

    /// The raw key.
    pub fn key(self) -> M::Key {
        self.key
    }
}

impl<M: TenantModel> Clone for Id<M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M: TenantModel> Copy for Id<M> {}
impl<M: TenantModel> PartialEq for Id<M> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<M: TenantModel> Eq for Id<M> {}
impl<M: TenantModel> Hash for Id<M> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}
impl<M: TenantModel> fmt::Debug for Id<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", M::def().name, self.key)
    }
}
impl<M: TenantModel> fmt::Display for Id<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.key.fmt(f)
    }
}
impl<M: TenantModel> FromStr for Id<M> {
    type Err = <M::Key as FromStr>::Err;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self::new)
    }
}
impl<M: TenantModel> Serialize for Id<M> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.key.serialize(serializer)
    }
}
impl<'de, M: TenantModel> Deserialize<'de> for Id<M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        M::Key::deserialize(deserializer).map(Self::new)
    }
}

impl<M: TenantModel> FieldValue for Id<M> {
    const TYPE: FieldType = FieldType::Ref(RefTarget {
        table: M::TABLE,
        column: "id",
        key: <M::Key as Key>::KIND,
    });
    fn to_value(&self) -> Value {
        self.key.to_value()
    }
    fn from_value(value: Value) -> Result<Self, DecodeError> {
        M::Key::from_value(value).map(Self::new)
    }
}
