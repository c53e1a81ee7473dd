//! Models: names and tables, permissions, events, sort, renames, and each
//! field (see [`fields`]).

use indexmap::IndexMap;
use toml::Spanned;

use crate::spec::{ModelSpec, Spec};

use super::names::{self, IdentKind, PLATFORM_MODELS, PLATFORM_ROUTES, PLATFORM_TABLES};
use super::report::Ctx;
use super::roles::{duplicates, list};

mod access;
mod fields;

/// Webhook events a model may emit.
const EVENTS: [&str; 3] = ["created", "updated", "deleted"];

/// Implicit columns a list can be sorted by.
const SORTABLE_IMPLICIT: [&str; 3] = ["id", "created_at", "updated_at"];

/// The plan feature webhook deliveries need (the runtime's fixed name).
pub(super) const WEBHOOKS_FEATURE: &str = "webhooks";

pub(super) fn check(ctx: &mut Ctx, spec: &Spec) {
    events_reach_a_plan(ctx, spec);
    let mut tables: IndexMap<String, &str> = IndexMap::new();
    for (name, model) in &spec.models {
        check_name(ctx, name, &mut tables);
        check_permissions(ctx, name, model);
        check_events(ctx, model);
        check_sort(ctx, model);
        if let Some(old) = &model.renamed_from {
            renamed_from(ctx, "model", name, old);
        }
        fields::check(ctx, spec, model);
        access::check(ctx, model);
        if let Some(feature) = &model.feature {
            super::plans::known_feature(ctx, spec, feature);
        }
    }
}

/// Warnings about models of a spec without errors.
pub(super) fn warnings(ctx: &mut Ctx, spec: &Spec) {
    for model in spec.models.values() {
        fields::warnings(ctx, model);
    }
}

fn check_name<'a>(ctx: &mut Ctx, name: &'a Spanned<String>, tables: &mut IndexMap<String, &'a str>) {
    if !names::shape(ctx, "model name", name) {
        return;
    }
    let text = name.get_ref().as_str();
    let table = names::table_name(text);
    let platform = PLATFORM_MODELS
        .iter()
        .zip(PLATFORM_TABLES)
        .find(|(model, platform_table)| **model == text || *platform_table == text || *platform_table == table);
    if let Some((model, platform_table)) = platform {
        ctx.error("rookery::platform_name", name.span(), format!("`{text}` is taken by the platform"))
            .label("platform model")
            .help_text(format!(
                "every app already has the platform model `{model}` (table `{platform_table}`); rename this one, for example `{text}_entry`"
            ));
        return;
    }
    if text.starts_with("rookery_") {
        ctx.error("rookery::platform_name", name.span(), format!("`{text}` is taken by the platform"))
            .label("platform prefix")
            .help_text(format!(
                "tables named `rookery_…` belong to the platform (the job queue is `rookery_jobs`); rename this model, for example `{}`",
                text.trim_start_matches("rookery_")
            ));
        return;
    }
    if PLATFORM_ROUTES.contains(&table.as_str()) {
        ctx.error(
            "rookery::platform_name",
            name.span(),
            format!("model `{text}` would be served at the platform's route `/{table}`"),
        )
        .label("route taken")
        .help_text(format!(
            "the platform already serves `/{table}` under the API prefix; rename this model, for example `{text}_entry`"
        ));
        return;
    }
    names::ident(ctx, IdentKind::Model, name);
    if let Some(other) = tables.get(&table) {
        ctx.error(
            "rookery::duplicate_table",
            name.span(),
            format!("models `{other}` and `{text}` would share table `{table}`"),
        )
        .label("same table")
        .help_text("rename one of them");
    } else {
        tables.insert(table, text);
    }
}

fn check_permissions(ctx: &mut Ctx, name: &Spanned<String>, model: &ModelSpec) {
    let Some(permissions) = &model.permissions else {
        let table = names::table_name(name.get_ref());
        ctx.error("rookery::missing_permissions", name.span(), format!("model `{}` declares no `permissions`", name.get_ref()))
            .label("no permissions")
            .help_text(format!(
                "every route needs a permission; add `permissions = {{ read = \"{table}.read\", write = \"{table}.write\" }}` (delete defaults to write)"
            ));
        return;
    };
    for permission in [
        Some(&permissions.read),
        Some(&permissions.write),
        permissions.delete.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        names::permission(ctx, permission);
    }
}

fn check_events(ctx: &mut Ctx, model: &ModelSpec) {
    for duplicate in duplicates(&model.events) {
        ctx.error(
            "rookery::duplicate",
            duplicate.span(),
            format!("event `{}` is listed twice", duplicate.get_ref()),
        )
        .label("duplicate")
        .help_text("remove this entry");
    }
    for event in &model.events {
        let text = event.get_ref().as_str();
        if !EVENTS.contains(&text) {
            ctx.error(
                "rookery::unknown_event",
                event.span(),
                format!("unknown event `{text}`"),
            )
            .label("not an event")
            .suggest(text, EVENTS, Some(format!("events are {}", list(EVENTS))));
        }
    }
}

/// Events are delivered to the webhook endpoints of tenants whose plan
/// has the feature `webhooks`: a spec with events declares it and gives it
/// to a plan. Reported once, at the first model's `events`.
fn events_reach_a_plan(ctx: &mut Ctx, spec: &Spec) {
    let Some((name, first)) = spec
        .models
        .iter()
        .find_map(|(name, m)| m.events.first().map(|e| (name.get_ref(), e)))
    else {
        return;
    };
    if !spec.features.contains_key(WEBHOOKS_FEATURE) {
        ctx.error(
            "rookery::events_without_webhooks",
            first.span(),
            format!("model `{name}` records events, but the spec declares no feature `{WEBHOOKS_FEATURE}`"),
        )
        .label("delivered to nobody")
        .help_text(format!(
            "events reach the webhook endpoints of tenants whose plan has the feature `{WEBHOOKS_FEATURE}`: \
             add `{WEBHOOKS_FEATURE} = {{ title = \"Webhooks\" }}` under `[features]` and list `\"{WEBHOOKS_FEATURE}\"` \
             in the `features` of the plans that get webhooks"
        ));
    } else if !spec
        .plans
        .values()
        .any(|p| p.features.iter().any(|f| f.get_ref() == WEBHOOKS_FEATURE))
    {
        let plan = spec.plans.keys().next().map_or("a plan", |p| p.get_ref().as_str());
        ctx.error(
            "rookery::events_without_webhooks",
            first.span(),
            format!("model `{name}` records events, but no plan has the feature `{WEBHOOKS_FEATURE}`"),
        )
        .label("delivered to nobody")
        .help_text(format!(
            "no tenant could register a webhook endpoint; add `\"{WEBHOOKS_FEATURE}\"` to the `features` of `{plan}` (or the plans that get webhooks)"
        ));
    }
}

fn check_sort(ctx: &mut Ctx, model: &ModelSpec) {
    let Some(sort) = &model.sort else { return };
    let text = sort.get_ref().as_str();
    let column = text.strip_prefix('-').unwrap_or(text);
    if SORTABLE_IMPLICIT.contains(&column) {
        return;
    }
    match model.fields.get(column) {
        Some(field) if field.sortable => {}
        Some(_) => {
            ctx.error(
                "rookery::bad_sort",
                sort.span(),
                format!("field `{column}` is not sortable"),
            )
            .label("not sortable")
            .help_text(format!("add `sortable = true` to field `{column}`"));
        }
        None => {
            let candidates: Vec<&str> = SORTABLE_IMPLICIT
                .into_iter()
                .chain(model.fields.keys().map(|k| k.get_ref().as_str()))
                .collect();
            let sortable: Vec<&str> = SORTABLE_IMPLICIT
                .into_iter()
                .chain(
                    model
                        .fields
                        .iter()
                        .filter(|(_, f)| f.sortable)
                        .map(|(k, _)| k.get_ref().as_str()),
                )
                .collect();
            ctx.error("rookery::bad_sort", sort.span(), format!("cannot sort by `{text}`"))
                .label("no such column")
                .suggest(
                    column,
                    candidates,
                    Some(format!("write `[-]column` with a sortable column: {}", list(sortable))),
                );
        }
    }
}

/// `renamed_from` must be a valid name other than the current one.
fn renamed_from(ctx: &mut Ctx, what: &str, name: &Spanned<String>, old: &Spanned<String>) {
    if !names::shape(ctx, &format!("previous {what} name"), old) {
        return;
    }
    if old.get_ref() == name.get_ref() {
        ctx.error(
            "rookery::bad_rename",
            old.span(),
            format!("`renamed_from` is the {what}'s own name"),
        )
        .label("same name")
        .help_text("`renamed_from` names what this was called before; remove it or write the old name");
    }
}
