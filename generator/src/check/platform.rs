//! `[app]`, `[tenancy]` and `[auth]`.

use crate::spec::{AuthMethod, Spec, TenancyModel};

use super::names::{self, IdentKind};
use super::report::Ctx;

pub(super) fn check(ctx: &mut Ctx, spec: &Spec) {
    names::ident(ctx, IdentKind::App, &spec.app.name);
    if let Some(prefix) = &spec.app.api_prefix
        && !is_path_prefix(prefix.get_ref())
    {
        ctx.error(
            "rookery::bad_api_prefix",
            prefix.span(),
            format!("invalid API prefix `{}`", prefix.get_ref()),
        )
        .label("not a path prefix")
        .help_text(
            "write a path such as `/api/v1`: starting with `/`, no trailing `/`, segments of a-z, 0-9, `_`, `-`, `.`",
        );
    }
    if let Some(model) = &spec.tenancy.model {
        let name = match model.get_ref() {
            TenancyModel::Shared => None,
            TenancyModel::Schema => Some("schema"),
            TenancyModel::Database => Some("database"),
        };
        if let Some(name) = name {
            ctx.error(
                "rookery::not_available",
                model.span(),
                format!("tenancy model `{name}` is not available yet in this version"),
            )
            .label("not built yet")
            .help_text("use `shared`: one database, `tenant_id` on every row, row-level security on PostgreSQL");
        }
    }
    let mut seen = Vec::new();
    for method in &spec.auth.methods {
        let name = match method.get_ref() {
            AuthMethod::Password => "password",
            AuthMethod::ApiKey => "api_key",
            AuthMethod::Google => "google",
            AuthMethod::Github => "github",
            AuthMethod::Oidc => "oidc",
            AuthMethod::Saml => "saml",
        };
        if seen.contains(&name) {
            ctx.error(
                "rookery::duplicate",
                method.span(),
                format!("sign-in method `{name}` is listed twice"),
            )
            .label("duplicate")
            .help_text("remove this entry");
            continue;
        }
        seen.push(name);
        if !matches!(method.get_ref(), AuthMethod::Password | AuthMethod::ApiKey) {
            ctx.error(
                "rookery::not_available",
                method.span(),
                format!("sign-in method `{name}` is not available yet in this version"),
            )
            .label("not built yet")
            .help_text("use `password` and `api_key` for now");
        }
    }
    if let Some(feature) = spec.auth.api_keys.as_ref().and_then(|k| k.feature.as_ref()) {
        super::plans::known_feature(ctx, spec, feature);
        if !spec.auth.methods.iter().any(|m| *m.get_ref() == AuthMethod::ApiKey) {
            ctx.error(
                "rookery::api_keys_disabled",
                feature.span(),
                "`api_keys` options without the `api_key` sign-in method",
            )
            .label("API keys are off")
            .help_text("add `\"api_key\"` to `[auth].methods`, or remove `api_keys`");
        }
    }
}

fn is_path_prefix(prefix: &str) -> bool {
    let Some(rest) = prefix.strip_prefix('/') else {
        return false;
    };
    !rest.is_empty()
        && rest.split('/').all(|segment| {
            !segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.".contains(c))
        })
}
