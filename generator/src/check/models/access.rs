//! Ownership and field rules: the owner field (one, a required `ref` to
//! `user`, not also read-only, defaulted or guarded), `assign` only with an
//! owner, field `write` permissions well formed and not on a read-only
//! field, and a read-only field a create can leave out. The derive refuses
//! the same (`rookery-macros-core`'s `check::ownership`), so a spec that
//! passes here builds.

use toml::Spanned;

use crate::check::names;
use crate::check::report::Ctx;
use crate::spec::{FieldKind, FieldSpec, ModelSpec};

pub(super) fn check(ctx: &mut Ctx, model: &ModelSpec) {
    let mut owner: Option<&Spanned<String>> = None;
    for (name, field) in &model.fields {
        if let Some(flag) = field.owner.as_ref().filter(|f| *f.get_ref()) {
            match owner {
                Some(first) => {
                    ctx.error(
                        "rookery::second_owner",
                        flag.span(),
                        format!("`{}` is a second owner field", name.get_ref()),
                    )
                    .label("second owner")
                    .help_text(format!(
                        "`{}` is the owner already; a model has one owner field",
                        first.get_ref()
                    ));
                }
                None => owner = Some(name),
            }
            check_owner(ctx, name, field, flag);
        }
        check_rules(ctx, name, field);
    }
    if owner.is_none()
        && let Some(assign) = model.permissions.as_ref().and_then(|p| p.assign.as_ref())
    {
        ctx.error(
            "rookery::assign_without_owner",
            assign.span(),
            "`assign` needs an owner field",
        )
        .label("no owner to assign")
        .help_text("mark the `ref` to `user` that names the row's owner with `owner = true`");
    }
    if let Some(assign) = model.permissions.as_ref().and_then(|p| p.assign.as_ref()) {
        names::permission(ctx, assign);
    }
}

fn check_owner(ctx: &mut Ctx, name: &Spanned<String>, field: &FieldSpec, flag: &Spanned<bool>) {
    let is_user_ref =
        *field.kind.get_ref() == FieldKind::Ref && field.to.as_ref().is_some_and(|t| t.get_ref() == "user");
    if !is_user_ref || field.optional {
        ctx.error(
            "rookery::bad_owner",
            flag.span(),
            format!("the owner `{}` must be a required `ref` to `user`", name.get_ref()),
        )
        .label("not a member reference")
        .help_text(
            "the owner is a member of the tenant: `{ type = \"ref\", to = \"user\", owner = true }`, not optional \
             (a create that omits it is owned by the caller)",
        );
    }
    let clashes = [
        ("read_only", field.read_only.as_ref().map(Spanned::span)),
        ("default", field.default.as_ref().map(Spanned::span)),
        ("write", field.write.as_ref().map(Spanned::span)),
    ];
    for (option, span) in clashes {
        if let Some(span) = span {
            ctx.error(
                "rookery::owner_option",
                span,
                format!("`{option}` on the owner `{}`", name.get_ref()),
            )
            .label("not for the owner")
            .help_text(
                "the owner defaults to the caller; who may give a row to someone else is the model's \
                 `permissions.assign`",
            );
        }
    }
}

fn check_rules(ctx: &mut Ctx, name: &Spanned<String>, field: &FieldSpec) {
    if let Some(write) = &field.write {
        names::permission(ctx, write);
        if field.is_read_only() {
            ctx.error(
                "rookery::read_only_write",
                write.span(),
                format!("`write` on the read-only `{}`", name.get_ref()),
            )
            .label("clients cannot set it at all")
            .help_text("a read-only field is set by the server only; remove `write` or `read_only`");
        }
    }
    if let Some(flag) = field.read_only.as_ref().filter(|f| *f.get_ref())
        && !field.optional
        && field.default.is_none()
    {
        ctx.error(
            "rookery::read_only_required",
            flag.span(),
            format!("the read-only `{}` must be optional or have a default", name.get_ref()),
        )
        .label("a create could never set it")
        .help_text(
            "a client cannot send it, so a create must be able to leave it out: add `optional = true` or a `default`",
        );
    }
}
