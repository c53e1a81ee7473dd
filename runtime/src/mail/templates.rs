//! Mail templates: one minijinja file per kind of message, with a
//! `subject`, a `text` and (optionally) an `html` block. The runtime's own
//! (`runtime/assets/mail/`) are built in; an app replaces one, or adds its
//! own, with `App::mail_template`.
//!
//! Each file is compiled twice: as `<name>.txt` for the subject and the
//! text part (no escaping) and as `<name>.html` for the HTML part, which
//! minijinja escapes, so a value such as a tenant's name cannot inject
//! markup. Undefined variables are errors: a typo fails the render instead
//! of mailing an empty link.

use minijinja::{Environment, ErrorKind, UndefinedBehavior};

use super::{MailError, Rendered};

/// The runtime's templates: (name, source).
const BUILT_IN: &[(&str, &str)] = &[
    ("invitation", include_str!("../../assets/mail/invitation.jinja")),
    (
        "webhook_disabled",
        include_str!("../../assets/mail/webhook_disabled.jinja"),
    ),
    (
        "tenant_deletion",
        include_str!("../../assets/mail/tenant_deletion.jinja"),
    ),
];

/// The blocks a template must have, and the optional one.
const REQUIRED: [&str; 2] = ["subject", "text"];
const HTML: &str = "html";

/// Every mail template of an app, compiled.
#[derive(Debug, Clone)]
pub(crate) struct Templates {
    env: Environment<'static>,
}

fn environment(undefined: UndefinedBehavior) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(undefined);
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("the default delimiters"),
    );
    env
}

impl Default for Templates {
    fn default() -> Self {
        let mut templates = Self {
            env: environment(UndefinedBehavior::Strict),
        };
        for (name, source) in BUILT_IN {
            templates
                .add(name, source)
                .unwrap_or_else(|e| panic!("the built-in mail template `{name}`: {e}"));
        }
        templates
    }
}

impl Templates {
    /// Adds template `name`, replacing one of that name. Refuses a template
    /// that does not compile or lacks a `subject` or `text` block.
    pub(crate) fn add(&mut self, name: &str, source: &str) -> Result<(), String> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(format!("`{name}` is not a template name (letters, digits, `_`, `-`)"));
        }
        check_blocks(name, source)?;
        for suffix in ["txt", "html"] {
            self.env
                .add_template_owned(format!("{name}.{suffix}"), source.to_owned())
                .map_err(|e| format!("mail template `{name}`: {e:#}"))?;
        }
        Ok(())
    }

    /// Renders template `name` with `context` (a JSON object).
    pub(crate) fn render(&self, name: &str, context: &serde_json::Value) -> Result<Rendered, MailError> {
        // Not `{e:#}`: minijinja's long form lists the values in scope,
        // and a mail's values may hold a token.
        let failed = |e: minijinja::Error| MailError::Render {
            template: name.to_owned(),
            message: e.to_string(),
        };
        let text_template = self
            .env
            .get_template(&format!("{name}.txt"))
            .map_err(|_| MailError::UnknownTemplate(name.to_owned()))?;
        let html_template = self.env.get_template(&format!("{name}.html")).map_err(failed)?;
        let context = minijinja::Value::from(minijinja::value::Serde(context));
        let mut plain = text_template.render_captured(context.clone()).map_err(failed)?;
        let subject = plain.with_state_mut(|s| s.render_block("subject")).map_err(failed)?;
        let text = plain.with_state_mut(|s| s.render_block("text")).map_err(failed)?;
        let mut markup = html_template.render_captured(context).map_err(failed)?;
        let html = match markup.with_state_mut(|s| s.render_block(HTML)) {
            Ok(html) => Some(html.trim().to_owned()),
            Err(e) if e.kind() == ErrorKind::UnknownBlock => None,
            Err(e) => return Err(failed(e)),
        };
        Ok(Rendered {
            // One line: a header.
            subject: subject.split_whitespace().collect::<Vec<_>>().join(" "),
            text: format!("{}\n", text.trim()),
            html,
        })
    }
}

/// Refuses a template without the required blocks: renders it once with
/// chainable undefined values (so no variable is needed) and asks for each.
fn check_blocks(name: &str, source: &str) -> Result<(), String> {
    let mut env = environment(UndefinedBehavior::Chainable);
    env.add_template_owned(format!("{name}.txt"), source.to_owned())
        .map_err(|e| format!("mail template `{name}`: {e:#}"))?;
    let template = env.get_template(&format!("{name}.txt")).map_err(|e| e.to_string())?;
    // A template that cannot even run without its values is checked when
    // it renders; only missing blocks are refused here.
    let Ok(mut captured) = template.render_captured(minijinja::context! {}) else {
        return Ok(());
    };
    for block in REQUIRED {
        if let Err(e) = captured.with_state_mut(|s| s.render_block(block))
            && e.kind() == ErrorKind::UnknownBlock
        {
            return Err(format!("mail template `{name}` has no `{{% block {block} %}}`"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOTE: &str = "{% block subject %}\n  Hello {{ name }}\n{% endblock %}\n\
        {% block text %}\nHi {{ name }},\nsee {{ link }}\n{% endblock %}\n\
        {% block html %}<p>Hi {{ name }}, <a href=\"{{ link }}\">see</a></p>{% endblock %}";

    #[test]
    fn renders_subject_text_and_escaped_html() {
        let mut t = Templates::default();
        t.add("note", NOTE).unwrap();
        let r = t
            .render(
                "note",
                &json!({ "name": "<b>Ann</b> & co", "link": "https://x.test/?a=1&b=2" }),
            )
            .unwrap();
        assert_eq!(
            r.subject, "Hello <b>Ann</b> & co",
            "the subject is one line, not escaped"
        );
        assert_eq!(r.text, "Hi <b>Ann</b> & co,\nsee https://x.test/?a=1&b=2\n");
        let html = r.html.unwrap();
        assert!(html.contains("Hi &lt;b&gt;Ann&lt;&#x2f;b&gt; &amp; co"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
    }

    #[test]
    fn html_is_optional_and_variables_are_strict() {
        let mut t = Templates::default();
        t.add(
            "plain",
            "{% block subject %}S{% endblock %}{% block text %}{{ x }}{% endblock %}",
        )
        .unwrap();
        assert_eq!(t.render("plain", &json!({ "x": 1 })).unwrap().html, None);
        let missing = t.render("plain", &json!({})).unwrap_err();
        assert!(matches!(missing, MailError::Render { .. }), "{missing}");
        assert!(matches!(
            t.render("nope", &json!({})),
            Err(MailError::UnknownTemplate(name)) if name == "nope"
        ));
    }

    #[test]
    fn refuses_templates_without_their_blocks_or_that_do_not_compile() {
        let mut t = Templates::default();
        let no_text = t.add("x", "{% block subject %}S{% endblock %}").unwrap_err();
        assert!(no_text.contains("block text"), "{no_text}");
        let no_subject = t.add("x", "{% block text %}{{ a.b.c }}{% endblock %}").unwrap_err();
        assert!(no_subject.contains("block subject"), "{no_subject}");
        assert!(t.add("x", "{% block subject %}{% endblock %").is_err());
        assert!(t.add("../x", NOTE).is_err());
    }

    #[test]
    fn an_app_replaces_a_built_in_template() {
        let mut t = Templates::default();
        t.add("invitation", NOTE).unwrap();
        let r = t.render("invitation", &json!({ "name": "Bo", "link": "l" })).unwrap();
        assert_eq!(r.subject, "Hello Bo");
    }
}
