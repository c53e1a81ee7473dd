//! Resource-level permissions: how far a caller's permission reaches (any
//! row of the tenant, or only the rows whose owner field names them), and
//! the field rules of a write (an owner set to someone else needs the
//! model's `assign`; a field with its own `write` permission needs it; a
//! read-only field is the server's to set).
//!
//! The generated routes and [`Guarded`](crate::repo::Guarded) (the typed
//! repository hand-written routes use) both decide here, so the rules
//! have one source. Row-level RLS stays the tenant wall; the owner scope is
//! a predicate on the same statement (`Table::owned_by`), never a check
//! after the row was loaded, so a list cannot leak what a get refuses.

use super::{Denied, Principal};
use crate::model::{FieldDef, ModelDef, UserId, Value};
use crate::repo::FieldError;

/// How far one of the caller's permissions reaches.
///
/// ```
/// # fn handler(principal: rookery::auth::Principal) -> Result<(), rookery::http::ApiError> {
/// use rookery::auth::Scope;
/// match principal.scope("deals.write")? {
///     Scope::Any => { /* every deal of the tenant */ }
///     Scope::Own(user) => { /* only deals whose owner is `user` */ let _ = user; }
///     _ => {}
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    /// Every row of the tenant.
    Any,
    /// Only the rows whose owner field names this member (`deals.write:own`
    /// in the spec).
    Own(UserId),
}

impl Scope {
    /// The member the rows must belong to, if the scope is narrowed.
    pub fn owner(self) -> Option<UserId> {
        match self {
            Self::Any => None,
            Self::Own(user) => Some(user),
        }
    }

    /// The narrower of two scopes (a write reaches what all its
    /// permissions reach).
    pub(crate) fn and(self, other: Self) -> Self {
        match (self, other) {
            (Self::Any, other) | (other, Self::Any) => other,
            (own, _) => own,
        }
    }
}

impl Principal {
    /// How far `permission` reaches for this caller: [`Scope::Any`] when
    /// their role grants it, [`Scope::Own`] when it grants it on own rows
    /// only (an API key acts for the member who created it), refused
    /// otherwise.
    pub fn scope(&self, permission: &str) -> Result<Scope, Denied> {
        self.gate(permission)?;
        if self.role.permissions().contains(&permission) {
            Ok(Scope::Any)
        } else if self.role.own().contains(&permission) {
            Ok(Scope::Own(self.user()))
        } else {
            Err(Denied::Permission(permission.to_owned()))
        }
    }

    /// Refuses when `def` needs a plan feature the tenant lacks (every
    /// route of the model, before its permission).
    pub fn require_model(&self, def: &ModelDef) -> Result<(), Denied> {
        match def.feature {
            Some(feature) => self.require_feature(feature),
            None => Ok(()),
        }
    }

    /// How far `def`'s `permission` reaches: the model's feature first,
    /// then [`Principal::scope`].
    pub(crate) fn model_scope(&self, def: &ModelDef, permission: &str) -> Result<Scope, Denied> {
        self.require_model(def)?;
        self.scope(permission)
    }

    /// Checks a create of `def` whose values are `values` (one per field,
    /// `None` where the body omitted it) and fills in the owner: omitted,
    /// it is the caller; naming anyone else needs the model's `assign`.
    /// Returns the scope the create is made under (`write`, narrowed by
    /// the permissions of the fields it sets); refuses every field the
    /// caller may not set, all listed at once.
    pub fn check_create(&self, def: &ModelDef, values: &mut [Option<Value>]) -> Result<Scope, Denied> {
        let mut scope = self.model_scope(def, def.permissions.write)?;
        let mut refused = Vec::new();
        for (i, field) in def.fields.iter().enumerate() {
            let Some(value) = &values[i] else {
                if field.owner {
                    values[i] = Some(Value::Uuid(self.user().0));
                }
                continue;
            };
            if field.owner {
                if *value != Value::Uuid(self.user().0) {
                    self.assign(def, field, &mut refused);
                }
                continue;
            }
            scope = scope.and(self.field_rule(field, &mut refused)?);
        }
        if !refused.is_empty() {
            return Err(Denied::Fields(refused));
        }
        // A row it creates is the caller's unless `assign` gave it away;
        // an own-scoped permission then no longer covers it, and it never
        // covers a model whose rows have no owner (fail closed).
        if let Scope::Own(_) = scope {
            let own = def
                .owner()
                .is_some_and(|(i, _)| values[i] == Some(Value::Uuid(self.user().0)));
            if !own {
                return Err(Denied::Permission(def.permissions.write.to_owned()));
            }
        }
        Ok(scope)
    }

    /// Checks an update of `def` setting `changes` (field index, value):
    /// every field the caller may not set is refused, all listed at once.
    /// Returns the scope the update must be made under: `write`, narrowed
    /// by the permissions of the fields it sets. A change of the owner
    /// needs the model's `assign`, except naming the caller where the
    /// update is narrowed to the caller's rows (then nothing changes).
    pub fn check_update(&self, def: &ModelDef, changes: &[(usize, Value)]) -> Result<Scope, Denied> {
        let mut scope = self.model_scope(def, def.permissions.write)?;
        let mut refused = Vec::new();
        let mut owner_change = None;
        for (i, value) in changes {
            let field = &def.fields[*i];
            if field.owner {
                owner_change = Some((field, value));
            } else {
                scope = scope.and(self.field_rule(field, &mut refused)?);
            }
        }
        if let Some((field, value)) = owner_change {
            let to_self = *value == Value::Uuid(self.user().0);
            if !(to_self && matches!(scope, Scope::Own(_))) {
                self.assign(def, field, &mut refused);
            }
        }
        if refused.is_empty() {
            Ok(scope)
        } else {
            Err(Denied::Fields(refused))
        }
    }

    /// The scope `field`'s own write permission allows (recording a
    /// refusal when the caller may not set it at all); refused outright
    /// when the permission needs a feature the plan lacks.
    fn field_rule(&self, field: &FieldDef, refused: &mut Vec<FieldError>) -> Result<Scope, Denied> {
        if field.read_only {
            refused.push(FieldError {
                field: field.name.to_owned(),
                code: "read_only",
                message: "is set by the server; leave it out".to_owned(),
            });
            return Ok(Scope::Any);
        }
        let Some(permission) = field.write else {
            return Ok(Scope::Any);
        };
        match self.scope(permission) {
            Ok(scope) => Ok(scope),
            Err(feature @ Denied::Feature { .. }) => Err(feature),
            Err(_) => {
                refused.push(needs(field, permission));
                Ok(Scope::Any)
            }
        }
    }

    /// Records a refusal unless the caller may give rows to others.
    fn assign(&self, def: &ModelDef, field: &FieldDef, refused: &mut Vec<FieldError>) {
        match def.permissions.assign {
            Some(permission) if self.can(permission) => {}
            Some(permission) => refused.push(needs(field, permission)),
            None => refused.push(FieldError {
                field: field.name.to_owned(),
                code: "owner_fixed",
                message: "a row belongs to the member who created it; leave the field out".to_owned(),
            }),
        }
    }
}

/// The refusal of a field whose permission the caller lacks.
fn needs(field: &FieldDef, permission: &str) -> FieldError {
    FieldError {
        field: field.name.to_owned(),
        code: "needs_permission",
        message: format!("setting it needs the permission `{permission}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::Scope;
    use crate::model::UserId;

    #[test]
    fn the_narrower_scope_wins() {
        let me = UserId::new_v7();
        assert_eq!(Scope::Any.and(Scope::Any), Scope::Any);
        assert_eq!(Scope::Any.and(Scope::Own(me)), Scope::Own(me));
        assert_eq!(Scope::Own(me).and(Scope::Any), Scope::Own(me));
    }
}
