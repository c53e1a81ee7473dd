//! Roles: names, inheritance (unknown roles, cycles) and grants against the
//! permission catalogue; and that every model permission is granted.

use indexmap::{IndexMap, IndexSet};
use toml::Spanned;

use crate::model::OWN_SUFFIX;
use crate::spec::{AuthMethod, FieldSpec, ModelSpec, Spec};

use super::names::{self, IdentKind};
use super::report::{Ctx, closest};

/// Permissions of the platform's own routes (members, API keys, audit log,
/// billing, the tenant itself).
pub const PLATFORM_PERMISSIONS: [&str; 10] = [
    "members.read",
    "members.manage",
    "roles.manage",
    "api_keys.manage",
    "audit.read",
    "billing.manage",
    "tenant.manage",
    "tenant.delete",
    "tenant.export",
    "webhooks.manage",
];

/// Every permission a role may grant: those the models name (their routes'
/// and `assign`, and their fields' `write`), the declared ones
/// (`[permissions]`), those hand-written models name, then the platform's.
pub(super) fn permission_catalogue(spec: &Spec, handwritten: &[String]) -> IndexSet<String> {
    let mut catalogue = IndexSet::new();
    for model in spec.models.values() {
        catalogue.extend(model_permissions(model).map(|p| p.get_ref().clone()));
    }
    catalogue.extend(spec.permissions.keys().map(|p| p.get_ref().clone()));
    catalogue.extend(handwritten.iter().cloned());
    catalogue.extend(PLATFORM_PERMISSIONS.iter().map(|p| (*p).to_owned()));
    catalogue
}

/// The permissions a spec model names: read, write, delete, assign, and
/// each field's `write`.
fn model_permissions(model: &ModelSpec) -> impl Iterator<Item = &Spanned<String>> {
    let routes = model.permissions.iter().flat_map(|p| {
        [Some(&p.read), Some(&p.write), p.delete.as_ref(), p.assign.as_ref()]
            .into_iter()
            .flatten()
    });
    routes.chain(model.fields.values().filter_map(|f| f.write.as_ref()))
}

/// What a grant on own rows (`x.y:own`) can name.
#[derive(Debug, Default)]
pub(super) struct Ownable {
    /// The permissions whose every model has an owner field (rows with an
    /// owner to compare). A permission an ownerless model uses too is not
    /// one: `:own` would reach none of that model's rows, a grant that
    /// silently does nothing there.
    pub(super) rows: IndexSet<String>,
    /// The models' `assign` permissions, which give a row to someone else:
    /// never "on own rows".
    pub(super) assign: IndexSet<String>,
}

/// The permissions hand-written models name, for [`ownable`].
#[derive(Debug, Default)]
pub(super) struct HandwrittenPermissions {
    /// Those of models with an owner field.
    pub(super) owned: Vec<String>,
    /// Those of models without one.
    pub(super) ownerless: Vec<String>,
    /// The models' `assign` permissions.
    pub(super) assign: Vec<String>,
}

pub(super) fn ownable(spec: &Spec, handwritten: &HandwrittenPermissions) -> Ownable {
    let of = |owned: bool| {
        spec.models
            .values()
            .filter(move |m| m.fields.values().any(FieldSpec::is_owner) == owned)
            .flat_map(|m| model_permissions(m).map(|p| p.get_ref().clone()))
    };
    let ownerless: IndexSet<String> = of(false).chain(handwritten.ownerless.iter().cloned()).collect();
    let assign: IndexSet<String> = spec
        .models
        .values()
        .filter_map(|m| m.permissions.as_ref()?.assign.as_ref().map(|a| a.get_ref().clone()))
        .chain(handwritten.assign.iter().cloned())
        .collect();
    let rows = of(true)
        .chain(handwritten.owned.iter().cloned())
        .filter(|p| !ownerless.contains(p) && !assign.contains(p))
        .collect();
    Ownable { rows, assign }
}

/// A grant without its `:own` suffix, and whether it had one.
pub(super) fn base_grant(grant: &str) -> (&str, bool) {
    match grant.strip_suffix(OWN_SUFFIX) {
        Some(base) => (base, true),
        None => (grant, false),
    }
}

/// `[permissions]`: each a valid permission with a description, none the
/// platform's own.
fn declared(ctx: &mut Ctx, spec: &Spec) {
    for (name, permission) in &spec.permissions {
        if let Some(feature) = &permission.feature {
            super::plans::known_feature(ctx, spec, feature);
        }
        if !names::permission(ctx, name) {
            continue;
        }
        let text = name.get_ref().as_str();
        if PLATFORM_PERMISSIONS.contains(&text) {
            ctx.error(
                "rookery::platform_permission",
                name.span(),
                format!("`{text}` is a platform permission"),
            )
            .label("already declared")
            .help_text("the platform's own permissions need no declaration; remove this entry");
        } else if permission.description.trim().is_empty() {
            ctx.error(
                "rookery::missing_description",
                name.span(),
                format!("permission `{text}` has an empty description"),
            )
            .label("no description")
            .help_text("say what the permission allows, such as `description = \"Approve a deal\"`");
        }
    }
}

pub(super) fn check(ctx: &mut Ctx, spec: &Spec, catalogue: &IndexSet<String>, ownable: &Ownable) {
    declared(ctx, spec);
    let role_names: Vec<&str> = spec.roles.keys().map(|k| k.get_ref().as_str()).collect();
    // Permissions a misspelt grant probably meant: not reported again as ungranted.
    let mut meant: IndexSet<&str> = IndexSet::new();
    for (name, role) in &spec.roles {
        names::ident(ctx, IdentKind::Role, name);
        for duplicate in duplicates(&role.inherits) {
            ctx.error(
                "rookery::duplicate",
                duplicate.span(),
                format!("`{}` is inherited twice", duplicate.get_ref()),
            )
            .label("duplicate")
            .help_text("remove this entry");
        }
        for parent in &role.inherits {
            let parent_name = parent.get_ref().as_str();
            if !spec.roles.contains_key(parent_name) {
                ctx.error(
                    "rookery::unknown_role",
                    parent.span(),
                    format!("unknown role `{parent_name}`"),
                )
                .label("no such role")
                .suggest(
                    parent_name,
                    role_names.iter().copied(),
                    Some(format!("declared roles: {}", list(role_names.iter().copied()))),
                );
            }
        }
        for duplicate in duplicates(&role.grants) {
            ctx.error(
                "rookery::duplicate",
                duplicate.span(),
                format!("`{}` is granted twice", duplicate.get_ref()),
            )
            .label("duplicate")
            .help_text("remove this entry");
        }
        for grant in &role.grants {
            let (text, own) = base_grant(grant.get_ref());
            let base = Spanned::new(grant.span(), text.to_owned());
            if !names::permission(ctx, &base) {
                continue;
            }
            if own && ownable.assign.contains(text) {
                ctx.error(
                    "rookery::own_assign",
                    grant.span(),
                    format!("`{text}` cannot be granted on own rows only"),
                )
                .label("an `assign` permission gives rows to others")
                .help_text(format!(
                    "`{text}` lets its holder set a row's owner to someone else; grant it on every row (`{text}`) or not at all"
                ));
            } else if own && catalogue.contains(text) && !ownable.rows.contains(text) {
                ctx.error(
                    "rookery::own_without_owner",
                    grant.span(),
                    format!("`{text}` cannot be granted on own rows only"),
                )
                .label("not every model that uses it has an owner field")
                .help_text(format!(
                    "`:own` reaches the rows whose owner field names the caller; mark a `ref` to `user` with \
                     `owner = true` in every model that uses `{text}`, or grant `{text}` on every row"
                ));
            }
            if !catalogue.contains(text) {
                meant.extend(closest(text, catalogue.iter().map(String::as_str)));
                ctx.error("rookery::unknown_permission", grant.span(), format!("unknown permission `{text}`"))
                    .label("no model, `[permissions]` entry or platform route names it")
                    .suggest(
                        text,
                        catalogue.iter().map(String::as_str),
                        Some("permissions come from the models' `permissions` tables, `[permissions]` (for hand-written code), hand-written models and the platform's own (members.read, members.manage, api_keys.manage, audit.read, billing.manage, tenant.manage, tenant.delete, tenant.export, webhooks.manage)".to_owned()),
                    );
            }
        }
    }
    cycles(ctx, spec);
    granted(ctx, spec, &meant);
}

/// Platform permissions without which a tenant cannot be run from the
/// API: what they allow, and whether the spec uses it.
fn administration(spec: &Spec) -> Vec<(&'static str, &'static str)> {
    let mut needed = vec![("members.manage", "invite members")];
    if spec.auth.methods.iter().any(|m| *m.get_ref() == AuthMethod::ApiKey) {
        needed.push(("api_keys.manage", "create or revoke API keys"));
    }
    if spec.features.contains_key(super::models::WEBHOOKS_FEATURE) {
        needed.push(("webhooks.manage", "register webhook endpoints"));
    }
    if spec.models.values().any(|m| m.audit) {
        needed.push(("audit.read", "read the audit log its models' `audit = true` writes"));
    }
    needed
}

/// A warning (the spec still serves) for each of [`administration`] that
/// no role grants: nobody could use those routes.
pub(super) fn administered(ctx: &mut Ctx, spec: &Spec) {
    let Some((first, _)) = spec.roles.first() else {
        return;
    };
    let granted: IndexSet<&str> = spec
        .roles
        .values()
        .flat_map(|r| r.grants.iter().map(|g| base_grant(g.get_ref()).0))
        .collect();
    for (name, _) in &spec.permissions {
        let text = name.get_ref().as_str();
        if !granted.contains(text) {
            ctx.warning(
                "rookery::ungranted_permission",
                name.span(),
                format!("no role grants `{text}`"),
            )
            .label("granted by no role")
            .help_text(format!(
                "nobody passes the code that checks it; add `{text}` to the `grants` of a role such as `{}`",
                first.get_ref()
            ));
        }
    }
    for (permission, what) in administration(spec) {
        if granted.contains(permission) {
            continue;
        }
        ctx.warning(
            "rookery::no_administrator",
            first.span(),
            format!("no role grants `{permission}`: nobody can {what}"),
        )
        .label("the role a tenant's creator gets")
        .help_text(format!(
            "the platform's routes check `{permission}`; add it to the `grants` of `{}` (or a role it inherits)",
            first.get_ref()
        ));
    }
}

/// Entries that repeat an earlier one.
pub(super) fn duplicates(list: &[Spanned<String>]) -> Vec<&Spanned<String>> {
    let mut seen = IndexSet::new();
    list.iter()
        .filter(|entry| !seen.insert(entry.get_ref().as_str()))
        .collect()
}

/// `` `a`, `b`, `c` ``, or "none".
pub(super) fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(|i| format!("`{i}`")).collect();
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}

/// Reports each inheritance cycle once, at the entry that closes it.
fn cycles(ctx: &mut Ctx, spec: &Spec) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let index: IndexMap<&str, usize> = spec
        .roles
        .keys()
        .enumerate()
        .map(|(i, k)| (k.get_ref().as_str(), i))
        .collect();
    let mut marks = vec![Mark::New; index.len()];
    let mut reported: Vec<Vec<usize>> = Vec::new();
    for start in 0..index.len() {
        if marks[start] != Mark::New {
            continue;
        }
        // Iterative depth-first search: (role, next inherits entry to visit).
        let mut stack = vec![(start, 0usize)];
        marks[start] = Mark::Open;
        while let Some(top) = stack.last_mut() {
            let (role, next) = *top;
            top.1 += 1;
            let inherits = spec.roles.get_index(role).map_or(&[][..], |(_, r)| &r.inherits[..]);
            let Some(parent) = inherits.get(next) else {
                marks[role] = Mark::Done;
                stack.pop();
                continue;
            };
            let Some(&target) = index.get(parent.get_ref().as_str()) else {
                continue;
            };
            match marks[target] {
                Mark::New => {
                    marks[target] = Mark::Open;
                    stack.push((target, 0));
                }
                Mark::Open => {
                    let from = stack.iter().position(|&(r, _)| r == target).unwrap_or(0);
                    let members: Vec<usize> = stack[from..].iter().map(|&(r, _)| r).collect();
                    let mut key = members.clone();
                    key.sort_unstable();
                    if reported.contains(&key) {
                        continue;
                    }
                    reported.push(key);
                    let mut path: Vec<&str> = members
                        .iter()
                        .filter_map(|&r| index.get_index(r).map(|(name, _)| *name))
                        .collect();
                    path.push(parent.get_ref().as_str());
                    ctx.error(
                        "rookery::role_cycle",
                        parent.span(),
                        format!("role inheritance cycle: {}", path.join(" → ")),
                    )
                    .label("closes the cycle")
                    .help_text("a role cannot inherit from itself, directly or through other roles; remove one of these `inherits` entries");
                }
                Mark::Done => {}
            }
        }
    }
}

/// Every model permission must be granted by some role, or nobody could use the route.
fn granted(ctx: &mut Ctx, spec: &Spec, meant: &IndexSet<&str>) {
    let granted: IndexSet<&str> = spec
        .roles
        .values()
        .flat_map(|r| r.grants.iter().map(|g| base_grant(g.get_ref()).0))
        .collect();
    let mut reported = IndexSet::new();
    for model in spec.models.values() {
        let Some(permissions) = &model.permissions else {
            continue;
        };
        for permission in [
            Some(&permissions.read),
            Some(&permissions.write),
            permissions.delete.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            let text = permission.get_ref().as_str();
            if granted.contains(text) || meant.contains(text) || !names::is_permission(text) || !reported.insert(text) {
                continue;
            }
            let role = spec.roles.keys().next().map(|r| r.get_ref().as_str());
            ctx.error(
                "rookery::ungranted_permission",
                permission.span(),
                format!("no role grants `{text}`"),
            )
            .label("granted by no role")
            .help_text(match role {
                Some(role) => {
                    format!("nobody could use this route; add `{text}` to the `grants` of a role such as `{role}`")
                }
                None => "nobody could use this route; declare a role under `[roles]` that grants it".to_owned(),
            });
        }
    }
}
