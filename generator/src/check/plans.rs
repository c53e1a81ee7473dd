//! Features, the quota catalogue, and plans (prices, features, quotas,
//! metered usage, rate limits).

use indexmap::IndexMap;

use crate::spec::{Price, QuotaValue, Spec};

use super::names::{self, IdentKind};
use super::report::Ctx;
use super::roles::{duplicates, list};

/// How a quota is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuotaKind {
    /// A number of things at once (rows, members): an integer.
    Count,
    /// Usage per period: `"N/(hour|day|month)"`.
    Rate,
}

/// Quotas the platform counts itself.
const PLATFORM_QUOTAS: [(&str, QuotaKind); 2] = [("members", QuotaKind::Count), ("api_calls", QuotaKind::Rate)];

/// An error unless `feature` is declared under `[features]`.
pub(super) fn known_feature(ctx: &mut Ctx, spec: &Spec, feature: &toml::Spanned<String>) {
    let text = feature.get_ref().as_str();
    if spec.features.contains_key(text) {
        return;
    }
    let declared = spec.features.keys().map(|k| k.get_ref().as_str());
    ctx.error(
        "rookery::unknown_feature",
        feature.span(),
        format!("unknown feature `{text}`"),
    )
    .label("not declared in [features]")
    .suggest(
        text,
        declared.clone(),
        Some(format!("declare it under `[features]` (declared: {})", list(declared))),
    );
}

pub(super) fn check(ctx: &mut Ctx, spec: &Spec) {
    for name in spec.features.keys() {
        names::ident(ctx, IdentKind::Feature, name);
    }
    let quotas = quota_catalogue(ctx, spec);
    if spec.plans.is_empty() {
        ctx.error_nowhere("rookery::no_plan", "the spec declares no plan")
            .help_text("every tenant is on a plan; add one, such as `[plans.free]` with `price = { monthly = 0 }`");
    }
    for (name, plan) in &spec.plans {
        names::ident(ctx, IdentKind::Plan, name);
        if let Some(price) = &plan.price {
            check_price(ctx, price);
        }
        for duplicate in duplicates(&plan.features) {
            ctx.error(
                "rookery::duplicate",
                duplicate.span(),
                format!("feature `{}` is listed twice", duplicate.get_ref()),
            )
            .label("duplicate")
            .help_text("remove this entry");
        }
        for feature in &plan.features {
            known_feature(ctx, spec, feature);
        }
        for (quota, value) in &plan.quotas {
            let text = quota.get_ref().as_str();
            let Some(&kind) = quotas.get(text) else {
                ctx.error(
                    "rookery::unknown_quota",
                    quota.span(),
                    format!("unknown quota `{text}`"),
                )
                .label("no model or platform counts it")
                .suggest(
                    text,
                    quotas.keys().copied(),
                    Some(format!(
                        "quotas are the models' `quota` names and the platform's `members` and `api_calls` (known: {})",
                        list(quotas.keys().copied())
                    )),
                );
                continue;
            };
            match (kind, value.get_ref()) {
                (QuotaKind::Count, QuotaValue::Count(_)) => {}
                (QuotaKind::Count, QuotaValue::Rate(_)) => {
                    ctx.error("rookery::bad_quota", value.span(), format!("quota `{text}` is a count"))
                        .label("expected an integer")
                        .help_text(format!(
                            "`{text}` limits how many exist at once, which no window resets; write a number, such as `{text} = 10` (only `api_calls` counts per period)"
                        ));
                }
                (QuotaKind::Rate, QuotaValue::Count(_)) => {
                    ctx.error("rookery::bad_quota", value.span(), format!("quota `{text}` is a rate"))
                        .label("expected \"N/period\"")
                        .help_text(format!("`{text}` limits usage per period; write `{text} = \"1000/month\"` (period: hour, day or month)"));
                }
                (QuotaKind::Rate, QuotaValue::Rate(rate)) => {
                    if parse_rate(rate, &["hour", "day", "month"]).is_none() {
                        ctx.error(
                            "rookery::bad_quota",
                            value.span(),
                            format!("invalid rate `{rate}` for quota `{text}`"),
                        )
                        .label("expected \"N/period\"")
                        .help_text(
                            "write a whole number, `/` and a period: hour, day or month (UTC calendar windows), such as \"1000/month\"; a cap per second or minute is the plan's `rate_limit`",
                        );
                    }
                }
            }
        }
        for (quota, price) in &plan.metered {
            let text = quota.get_ref().as_str();
            match quotas.get(text) {
                None => {
                    ctx.error(
                        "rookery::unknown_quota",
                        quota.span(),
                        format!("unknown quota `{text}`"),
                    )
                    .label("no model or platform counts it")
                    .suggest(
                        text,
                        quotas.keys().copied(),
                        Some(format!(
                            "only usage quotas can be metered, such as `api_calls` (known quotas: {})",
                            list(quotas.keys().copied())
                        )),
                    );
                }
                Some(QuotaKind::Count) => {
                    ctx.error("rookery::bad_metered", quota.span(), format!("quota `{text}` cannot be metered"))
                        .label("a count, not usage")
                        .help_text("only usage quotas (rates such as `api_calls`) are billed per unit; counts are capped by `quotas`");
                }
                Some(QuotaKind::Rate) => {}
            }
            if price.per == Some(0) {
                ctx.error(
                    "rookery::bad_metered",
                    quota.span(),
                    format!("metered price of `{text}` has `per = 0`"),
                )
                .label("divides by zero")
                .help_text("`per` is how many units `unit_amount` pays for; use 1 or more");
            }
        }
        if let Some(limit) = &plan.rate_limit {
            let ok =
                parse_rate(limit.get_ref(), &["s", "m", "h"]).is_some_and(|(n, _)| n >= 1 && u32::try_from(n).is_ok());
            if !ok {
                ctx.error(
                    "rookery::bad_rate_limit",
                    limit.span(),
                    format!("invalid rate limit `{}`", limit.get_ref()),
                )
                .label("expected \"N/s\", \"N/m\" or \"N/h\"")
                .help_text(
                    "requests per tenant: a whole number from 1 to 4294967295, `/`, and s, m or h, such as \"50/s\"",
                );
            }
        }
    }
}

/// Quotas a plan may limit, with how each is measured; reports bad model quotas.
fn quota_catalogue<'a>(ctx: &mut Ctx, spec: &'a Spec) -> IndexMap<&'a str, QuotaKind> {
    let mut catalogue: IndexMap<&str, QuotaKind> = IndexMap::new();
    let mut owners: IndexMap<&str, &str> = IndexMap::new();
    for (model, spec_model) in &spec.models {
        let Some(quota) = &spec_model.quota else {
            continue;
        };
        let text = quota.get_ref().as_str();
        if !names::ident(ctx, IdentKind::Quota, quota) {
            continue;
        }
        if PLATFORM_QUOTAS.iter().any(|(q, _)| *q == text) {
            ctx.error(
                "rookery::platform_quota",
                quota.span(),
                format!("`{text}` is a platform quota"),
            )
            .label("already counted by the platform")
            .help_text(format!(
                "give this model its own quota, such as `{}`",
                super::table_name(model.get_ref())
            ));
            continue;
        }
        if let Some(owner) = owners.get(text) {
            ctx.error(
                "rookery::duplicate",
                quota.span(),
                format!("quota `{text}` is already counted by model `{owner}`"),
            )
            .label("shared quota")
            .help_text(format!(
                "each quota counts one model's rows; name this one `{}`",
                super::table_name(model.get_ref())
            ));
            continue;
        }
        owners.insert(text, model.get_ref().as_str());
        catalogue.insert(text, QuotaKind::Count);
    }
    catalogue.extend(PLATFORM_QUOTAS);
    catalogue
}

fn check_price(ctx: &mut Ctx, price: &toml::Spanned<Price>) {
    match price.get_ref() {
        Price::Custom(text) => {
            if text != "custom" {
                ctx.error("rookery::bad_price", price.span(), format!("invalid price `{text}`"))
                    .label("expected \"custom\" or a table")
                    .help_text("write `price = \"custom\"` for a negotiated price, or `price = { monthly = 4900, currency = \"usd\" }` in minor units");
            }
        }
        Price::Fixed(fixed) => {
            if fixed.monthly.is_none() && fixed.yearly.is_none() {
                ctx.error(
                    "rookery::bad_price",
                    price.span(),
                    "a price needs `monthly` or `yearly`",
                )
                .label("no amount")
                .help_text("amounts are in minor units (cents): `price = { monthly = 4900 }`");
            }
            if let Some(currency) = &fixed.currency {
                let text = currency.get_ref();
                if text.len() != 3 || !text.chars().all(|c| c.is_ascii_lowercase()) {
                    let lower = text.to_ascii_lowercase();
                    let diagnostic = ctx
                        .error(
                            "rookery::bad_currency",
                            currency.span(),
                            format!("invalid currency `{text}`"),
                        )
                        .label("not a 3-letter lowercase code");
                    if lower.len() == 3 && lower.chars().all(|c| c.is_ascii_lowercase()) {
                        diagnostic.help_text(format!(
                            "currencies are ISO 4217 codes in lowercase, as Stripe writes them: `{lower}`"
                        ));
                    } else {
                        diagnostic.help_text(
                            "currencies are ISO 4217 codes in lowercase, as Stripe writes them, such as `usd` or `eur`",
                        );
                    }
                }
            }
        }
    }
}

/// Parses `"N/unit"` with `unit` one of `units`.
fn parse_rate<'u>(text: &str, units: &[&'u str]) -> Option<(u64, &'u str)> {
    let (count, unit) = text.split_once('/')?;
    if count.is_empty() || !count.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let count = count.parse().ok()?;
    let unit = units.iter().find(|u| **u == unit)?;
    Some((count, unit))
}

/// The features hand-written models' derives name (`feature = "…"`): each
/// declared under `[features]`, or the app would refuse to start.
pub(super) fn handwritten_features(ctx: &mut Ctx, spec: &Spec, handwritten: &crate::handwritten::Handwritten) {
    for model in &handwritten.models {
        let Some(feature) = &model.feature else { continue };
        if spec.features.contains_key(feature.as_str()) {
            continue;
        }
        let declared = spec.features.keys().map(|k| k.get_ref().as_str());
        ctx.error_nowhere(
            "rookery::unknown_feature",
            format!(
                "{}: `{}` requires the feature `{feature}`, which the spec does not declare",
                model.file, model.struct_name
            ),
        )
        .suggest(
            feature,
            declared.clone(),
            Some(format!("declare it under `[features]` (declared: {})", list(declared))),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("1000/month", &["hour", "month"]), Some((1000, "month")));
        assert_eq!(parse_rate("5/s", &["s"]), Some((5, "s")));
        for bad in [
            "",
            "/s",
            "5/",
            "5",
            "-5/s",
            "5/sec",
            "5/s/s",
            "1e3/s",
            "99999999999999999999999/s",
            " 5/s",
        ] {
            assert_eq!(parse_rate(bad, &["s"]), None, "{bad}");
        }
    }
}
