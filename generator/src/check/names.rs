//! Identifiers: their syntax, reserved words, and the table name of a model.

use toml::Spanned;

use super::report::Ctx;

/// Longest identifier accepted. Names end up inside longer SQL identifiers
/// (`projects_tenant_id_name_key`), which PostgreSQL cuts at 63 bytes.
pub const MAX_IDENT_LEN: usize = 48;

/// Paths the platform serves under the API prefix: a model's path (its
/// table name) may not be one of them.
pub const PLATFORM_ROUTES: [&str; 10] = [
    "auth",
    "me",
    "api-keys",
    "invitations",
    "members",
    "roles",
    "permissions",
    "webhooks",
    "usage",
    "audit-log",
];

/// Columns every tenant table has; no field may take these names.
pub const IMPLICIT_COLUMNS: [&str; 4] = ["id", "tenant_id", "created_at", "updated_at"];

/// Models of the platform, created by the first migration of every app.
pub const PLATFORM_MODELS: [&str; 19] = [
    "tenant",
    "user",
    "membership",
    "api_key",
    "refresh_token",
    "invitation",
    "audit_log",
    "rookery_job",
    "rookery_event",
    "rookery_webhook_endpoint",
    "rookery_webhook_delivery",
    "rookery_webhook_attempt",
    "rookery_idempotency_key",
    "rookery_mail",
    "rookery_platform_audit",
    "rookery_usage_day",
    "rookery_usage_member",
    "rookery_usage_row",
    "rookery_quota_window",
];

/// Tables of the platform models.
pub const PLATFORM_TABLES: [&str; 20] = [
    "tenants",
    "users",
    "memberships",
    "api_keys",
    "refresh_tokens",
    "invitations",
    "audit_log",
    "rookery_jobs",
    "rookery_events",
    "rookery_webhook_endpoints",
    "rookery_webhook_deliveries",
    "rookery_webhook_attempts",
    "rookery_idempotency_keys",
    "rookery_mail",
    "rookery_platform_audit",
    "rookery_usage_days",
    "rookery_usage_members",
    "rookery_usage_rows",
    "rookery_quota_windows",
    "rookery_roles",
];

/// What an identifier names, which decides the words it may not be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdentKind {
    App,
    Model,
    Field,
    Role,
    Feature,
    Plan,
    Quota,
    EnumValue,
    Job,
}

impl IdentKind {
    fn describe(self) -> &'static str {
        match self {
            Self::App => "app name",
            Self::Model => "model name",
            Self::Field => "field name",
            Self::Role => "role name",
            Self::Feature => "feature name",
            Self::Plan => "plan name",
            Self::Quota => "quota name",
            Self::EnumValue => "enum value",
            Self::Job => "job name",
        }
    }

    /// Becomes a table or column name.
    fn is_sql(self) -> bool {
        matches!(self, Self::Model | Self::Field)
    }

    /// Becomes a Rust identifier as written (enum values are camel-cased).
    fn is_rust(self) -> bool {
        !matches!(self, Self::EnumValue | Self::Job)
    }
}

/// Whether `name` has the shape `^[a-z][a-z0-9_]*$`.
pub(crate) fn is_ident(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The table of a model: the English plural of its name
/// (`project` → `projects`, `category` → `categories`, `box` → `boxes`),
/// by the rule the derive uses too (`macros/core/src/naming.rs`).
pub fn table_name(model: &str) -> String {
    crate::naming::plural(model)
}

/// Checks the shape, length and reserved words of a name. Returns whether
/// its shape is valid, so callers can skip checks that build on it.
pub(crate) fn ident(ctx: &mut Ctx, kind: IdentKind, name: &Spanned<String>) -> bool {
    let what = kind.describe();
    if !shape(ctx, what, name) {
        return false;
    }
    let text = name.get_ref().as_str();
    if kind.is_sql() {
        // Tables and columns are quoted wherever SQL names them, and Rust
        // keywords become raw identifiers (`r#type`): only the words Rust
        // cannot take even raw, and names that shadow the prelude, collide.
        if crate::keywords::RUST_NOT_RAW.contains(&text) {
            ctx.error(
                "rookery::reserved_name",
                name.span(),
                format!("`{text}` cannot be a Rust identifier"),
            )
            .label(format!("reserved {what}"))
            .help_text(format!(
                "Rust has no raw identifier `r#{text}`; rename it, for example `{}`",
                alternative(text)
            ));
        } else if kind == IdentKind::Model
            && let Some(shadowed) = crate::keywords::PRELUDE
                .iter()
                .find(|p| p.to_lowercase() == text.replace('_', ""))
        {
            ctx.error(
                "rookery::reserved_name",
                name.span(),
                format!("model `{text}` would be the Rust type `{shadowed}`"),
            )
            .label("shadows a standard type")
            .help_text(format!(
                "the generated code uses the standard `{shadowed}`; rename the model, for example `{text}_entry`"
            ));
        }
    } else if kind.is_rust() && crate::keywords::RUST.contains(&text) {
        ctx.error(
            "rookery::reserved_name",
            name.span(),
            format!("`{text}` is a Rust keyword"),
        )
        .label(format!("reserved {what}"))
        .help_text(format!(
            "the generated code would not compile with it; rename it, for example `{}`",
            alternative(text)
        ));
    }
    true
}

/// Checks only the shape and length, as for permission parts and old names.
pub(crate) fn shape(ctx: &mut Ctx, what: &str, name: &Spanned<String>) -> bool {
    let text = name.get_ref().as_str();
    if !is_ident(text) {
        let fixed = heck::ToSnakeCase::to_snake_case(text);
        let fixed: String = fixed.trim_start_matches(|c: char| !c.is_ascii_lowercase()).to_owned();
        let diagnostic = ctx
            .error("rookery::bad_name", name.span(), format!("invalid {what} `{text}`"))
            .label("not a valid name");
        if is_ident(&fixed) && fixed != text {
            diagnostic.help_text(format!(
                "names are lowercase ASCII letters, digits and `_`, starting with a letter; try `{fixed}`"
            ));
        } else {
            diagnostic.help_text("names are lowercase ASCII letters, digits and `_`, starting with a letter");
        }
        return false;
    }
    let len = text.len();
    if len > MAX_IDENT_LEN {
        ctx.error("rookery::name_too_long", name.span(), format!("{what} `{text}` is too long"))
            .label(format!("{len} characters"))
            .help_text(format!(
                "at most {MAX_IDENT_LEN} characters: names become part of longer SQL identifiers, which PostgreSQL cuts at 63 bytes"
            ));
        return false;
    }
    true
}

/// A replacement for a reserved word.
fn alternative(word: &str) -> String {
    let known = [
        ("type", "kind"),
        ("order", "position"),
        ("group", "team"),
        ("user", "person"),
        ("table", "board"),
        ("default", "is_default"),
        ("check", "review"),
        ("limit", "max_count"),
        ("offset", "shift"),
        ("ref", "reference"),
        ("match", "game"),
        ("move", "step"),
        ("loop", "cycle"),
        ("self", "own"),
    ];
    known
        .iter()
        .find(|(reserved, _)| *reserved == word)
        .map_or_else(|| format!("{word}_name"), |(_, alt)| (*alt).to_owned())
}

/// Checks a permission `<resource>.<action>`; returns whether it is well formed.
pub(crate) fn permission(ctx: &mut Ctx, permission: &Spanned<String>) -> bool {
    if is_permission(permission.get_ref()) {
        return true;
    }
    ctx.error(
        "rookery::bad_permission",
        permission.span(),
        format!("invalid permission `{}`", permission.get_ref()),
    )
    .label("not `<resource>.<action>`")
    .help_text(
        "a permission is two names joined by a dot, each lowercase letters, digits and `_`, such as `projects.read`",
    );
    false
}

/// Whether `text` is `<resource>.<action>`, each part a valid name.
pub(crate) fn is_permission(text: &str) -> bool {
    match text.split_once('.') {
        Some((resource, action)) => {
            is_ident(resource) && is_ident(action) && resource.len() <= MAX_IDENT_LEN && action.len() <= MAX_IDENT_LEN
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::{is_ident, is_permission, table_name};

    #[test]
    fn identifiers() {
        assert!(is_ident("task_list2"));
        for bad in ["", "Task", "2task", "_task", "task-list", "tâche", "a b"] {
            assert!(!is_ident(bad), "{bad}");
        }
        assert!(is_permission("projects.read"));
        for bad in ["projects", "projects.", ".read", "a.b.c", "Projects.read"] {
            assert!(!is_permission(bad), "{bad}");
        }
    }

    #[test]
    fn plurals() {
        for (model, table) in [
            ("project", "projects"),
            ("category", "categories"),
            ("key", "keys"),
            ("box", "boxes"),
            ("status", "statuses"),
            ("batch", "batches"),
            ("y", "ys"),
        ] {
            assert_eq!(table_name(model), table);
        }
    }
}
