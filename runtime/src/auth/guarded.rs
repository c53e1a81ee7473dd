//! [`Guarded`]: a model's rows as one caller may reach them, for
//! hand-written routes. The same rules as the generated routes (they decide
//! in `access`): the caller's scope narrows every read, update and delete
//! in its statement, field rules refuse a body before anything is written,
//! and the owner of a create defaults to the caller.
//!
//! [`Repo`](crate::repo::Repo) stays the unguarded repository: server code
//! that means to set a read-only field, or to act on every row (a report,
//! a job), uses it and takes the responsibility. Raw SQL
//! ([`TenantTx::sql`]) gets the tenant's row-level security but no owner
//! scope unless it adds `Scope::owner()` to its own predicate.

use std::marker::PhantomData;

use super::{Denied, Principal, Scope};
use crate::audit::Stamp;
use crate::db::{Mode, TenantTx, Writing};
use crate::model::{CreateInput, Id, Key, Record, TenantModel, UpdateInput, Value};
use crate::repo::{ListQuery, Page, RepoError, Table, typed, typed_page};

/// Why a guarded call was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// The caller lacks a permission, or may not set a field the body sets
    /// (403).
    #[error(transparent)]
    Denied(#[from] Denied),
    /// The caller may read the row, but the permission (named) reaches
    /// their own rows only and this one is another member's (403).
    #[error("`{0}` reaches your own rows only; this one belongs to another member")]
    NotOwner(String),
    /// The repository refused the write or the database failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// Model `M`'s rows in the tenant of a [`TenantTx`], as `principal` may
/// reach them ([`TenantTx::guarded`]). Reads return `None` (or leave rows
/// out of a page) for what the caller's read scope does not reach, exactly
/// as for a missing row; writes of an audited model record their audit
/// row with the caller as actor.
///
/// ```no_run
/// # #[derive(Debug, Clone, rookery::TenantModel)]
/// # #[rookery(permissions(read = "deals.read", write = "deals.write", assign = "deals.assign"))]
/// # pub struct Deal { #[rookery(owner)] pub owner: rookery::UserId, #[rookery(default = "false", write = "deals.approve")] pub approved: bool }
/// # async fn f(db: &rookery::Db, principal: rookery::Principal, id: DealId) -> Result<(), rookery::ApiError> {
/// let mut tx = db.begin_write(principal.tenant).await?;
/// let patch = UpdateDeal { approved: Some(true), ..Default::default() };
/// // 403 `field-not-writable` without `deals.approve`; `None` for a deal
/// // the caller cannot see.
/// let deal = tx.guarded::<Deal>(&principal).update(id, patch).await?;
/// tx.commit().await?;
/// # let _ = deal; Ok(()) }
/// ```
#[derive(Debug)]
pub struct Guarded<'t, M: TenantModel, S: Mode = Writing> {
    tx: &'t mut TenantTx<S>,
    principal: &'t Principal,
    model: PhantomData<fn() -> M>,
}

impl<S: Mode> TenantTx<S> {
    /// Model `M`'s rows as `principal` may reach them. `principal` must be
    /// of this transaction's tenant (a request's caller always is).
    pub fn guarded<'t, M: TenantModel>(&'t mut self, principal: &'t Principal) -> Guarded<'t, M, S> {
        Guarded {
            tx: self,
            principal,
            model: PhantomData,
        }
    }
}

impl<M: TenantModel, S: Mode> Guarded<'_, M, S> {
    fn table(&mut self, scope: Scope) -> Table<'_, S> {
        Table::new(self.tx, M::def()).owned_by(scope.owner())
    }

    /// The row with `id`, if the caller may read it.
    pub async fn get(&mut self, id: Id<M>) -> Result<Option<Record<M>>, AccessError> {
        let def = M::def();
        let scope = self.principal.model_scope(def, def.permissions.read)?;
        let row = self.table(scope).get(id.key().to_value()).await?;
        Ok(row.map(typed).transpose()?)
    }

    /// One page of the rows the caller may read.
    pub async fn list(&mut self, query: &ListQuery) -> Result<Page<M>, AccessError> {
        let def = M::def();
        let scope = self.principal.model_scope(def, def.permissions.read)?;
        Ok(typed_page(self.table(scope).list(query).await?)?)
    }
}

impl<M: TenantModel> Guarded<'_, M, Writing> {
    fn stamp(&self) -> Option<Stamp<'static>> {
        M::def().audit.then_some(Stamp {
            actor: self.principal.actor,
            request_id: None,
            metadata: None,
        })
    }

    /// Inserts a row the caller may create: field rules checked, the owner
    /// the caller unless the input names someone they may give it to.
    pub async fn create(&mut self, input: M::Create) -> Result<Record<M>, AccessError> {
        let mut values = input.into_values();
        self.principal.check_create(M::def(), &mut values)?;
        let stamp = self.stamp();
        Ok(typed(Table::new(self.tx, M::def()).insert(values, stamp).await?)?)
    }

    /// Applies a partial update the caller may make; `None` when they
    /// cannot see the row.
    pub async fn update(&mut self, id: Id<M>, patch: M::Update) -> Result<Option<Record<M>>, AccessError> {
        let def = M::def();
        let changes = patch.into_changes();
        let scope = self.within_read(self.principal.check_update(def, &changes)?);
        let id = id.key().to_value();
        let stamp = self.stamp();
        match self.table(scope).update(id.clone(), changes, stamp).await? {
            Some(row) => Ok(Some(typed(row)?)),
            None => self.missed(scope, id, def.permissions.write).await.map(|()| None),
        }
    }

    /// Deletes the row if the caller may; `false` when they cannot see it.
    pub async fn delete(&mut self, id: Id<M>) -> Result<bool, AccessError> {
        let def = M::def();
        let scope = self.within_read(self.principal.model_scope(def, def.permissions.delete)?);
        let id = id.key().to_value();
        let stamp = self.stamp();
        if self.table(scope).delete(id.clone(), stamp).await? {
            return Ok(true);
        }
        self.missed(scope, id, def.permissions.delete).await.map(|()| false)
    }

    /// `scope` narrowed to what the caller can read too (as the generated
    /// routes do).
    fn within_read(&self, scope: Scope) -> Scope {
        match self.principal.scope(M::def().permissions.read) {
            Ok(read) => scope.and(read),
            Err(_) => scope,
        }
    }

    /// After a write under `scope` found no row: refused when the caller
    /// can read the row but `permission` reaches their own rows only.
    async fn missed(&mut self, scope: Scope, id: Value, permission: &str) -> Result<(), AccessError> {
        if scope.owner().is_none() {
            return Ok(());
        }
        let Ok(read) = self.principal.scope(M::def().permissions.read) else {
            return Ok(());
        };
        match self.table(read).get(id).await? {
            Some(_) => Err(AccessError::NotOwner(permission.to_owned())),
            None => Ok(()),
        }
    }
}
