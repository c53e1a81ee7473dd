//! Hand-written routes that `/openapi.json` documents: an [`Operation`]
//! says what the route is (method, path, permission, body, answers) and
//! [`App::operation`](super::App::operation) serves the handler under it.

use axum::http::Method;
use serde_json::{Map, Value, json};

use crate::model::TenantModel;

/// What a hand-written route is, for the router and for `/openapi.json`.
///
/// The path is relative to the API prefix, like the generated routes'
/// (`/projects/{id}/archive`); `{name}` segments are path parameters. The
/// document adds what every authenticated route can answer (401, 403,
/// 429, 503), 404 when the path has parameters, and 400/413/415/422 when
/// the operation takes a body.
///
/// ```
/// use rookery::http::Operation;
///
/// let op = Operation::post("/projects/{id}/archive")
///     .summary("Archive a project")
///     .permission("projects.archive")
///     .response(200, "The archived project", Some(Operation::model_schema::<Project>()));
/// # #[derive(Debug, Clone, rookery::TenantModel)]
/// # #[rookery(permissions(read = "projects.read", write = "projects.write"))]
/// # struct Project { name: String }
/// ```
#[derive(Debug, Clone)]
pub struct Operation {
    pub(crate) method: Method,
    pub(crate) path: String,
    summary: Option<String>,
    description: Option<String>,
    permission: Option<String>,
    feature: Option<String>,
    tag: Option<String>,
    id: Option<String>,
    body: Option<Value>,
    responses: Vec<(u16, String, Option<Value>)>,
    errors: Vec<(u16, String)>,
}

impl Operation {
    fn new(method: Method, path: &str) -> Self {
        Self {
            method,
            path: path.to_owned(),
            summary: None,
            description: None,
            permission: None,
            feature: None,
            tag: None,
            id: None,
            body: None,
            responses: Vec::new(),
            errors: Vec::new(),
        }
    }

    /// A `GET` route.
    pub fn get(path: &str) -> Self {
        Self::new(Method::GET, path)
    }

    /// A `POST` route.
    pub fn post(path: &str) -> Self {
        Self::new(Method::POST, path)
    }

    /// A `PUT` route.
    pub fn put(path: &str) -> Self {
        Self::new(Method::PUT, path)
    }

    /// A `PATCH` route.
    pub fn patch(path: &str) -> Self {
        Self::new(Method::PATCH, path)
    }

    /// A `DELETE` route.
    pub fn delete(path: &str) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// One line saying what the route does.
    pub fn summary(mut self, summary: &str) -> Self {
        self.summary = Some(summary.to_owned());
        self
    }

    /// More words (Markdown).
    pub fn description(mut self, description: &str) -> Self {
        self.description = Some(description.to_owned());
        self
    }

    /// The permission the handler requires (it still calls
    /// `principal.require`; this documents it).
    pub fn permission(mut self, permission: &str) -> Self {
        self.permission = Some(permission.to_owned());
        self
    }

    /// The plan feature the handler requires (documented; the handler calls
    /// `principal.require_feature`).
    pub fn feature(mut self, feature: &str) -> Self {
        self.feature = Some(feature.to_owned());
        self
    }

    /// The tag it is listed under (default: the path's first segment).
    pub fn tag(mut self, tag: &str) -> Self {
        self.tag = Some(tag.to_owned());
        self
    }

    /// The `operationId` (default: the method and the path's words).
    pub fn operation_id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self
    }

    /// The JSON Schema of the request body (a JSON object).
    pub fn body(mut self, schema: Value) -> Self {
        self.body = Some(schema);
        self
    }

    /// An answer: its status, what it means and the JSON Schema of its body.
    pub fn response(mut self, status: u16, description: &str, schema: Option<Value>) -> Self {
        self.responses.push((status, description.to_owned(), schema));
        self
    }

    /// An error answer of the handler's own (a problem+json body), e.g.
    /// `409` for a conflict it detects.
    pub fn error(mut self, status: u16, description: &str) -> Self {
        self.errors.push((status, description.to_owned()));
        self
    }

    /// The schema of model `M`'s stored row, as the generated routes answer it.
    pub fn model_schema<M: TenantModel>() -> Value {
        json!({"$ref": format!("#/components/schemas/{}", super::openapi::pascal(M::def().name))})
    }

    /// The path parameters: the `{name}` segments.
    fn parameters(&self) -> Vec<&str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect()
    }

    /// The operation object of the document, and the path it goes under.
    pub(crate) fn document(&self, prefix: &str, problem: impl Fn(u16) -> Value) -> (String, Value) {
        let params = self.parameters();
        let words: Vec<&str> = self
            .path
            .split('/')
            .filter(|s| !s.is_empty() && !s.starts_with('{'))
            .collect();
        let method = self.method.as_str().to_ascii_lowercase();
        let mut op = Map::new();
        op.insert(
            "operationId".into(),
            json!(
                self.id
                    .clone()
                    .unwrap_or_else(|| format!("{method}_{}", words.join("_")))
            ),
        );
        let tag = self.tag.as_deref().or(words.first().copied()).unwrap_or("custom");
        op.insert("tags".into(), json!([tag]));
        let needs: Vec<String> = [
            self.permission.as_ref().map(|p| format!("needs `{p}`")),
            self.feature.as_ref().map(|f| format!("plan feature `{f}`")),
        ]
        .into_iter()
        .flatten()
        .collect();
        let summary = self
            .summary
            .clone()
            .unwrap_or_else(|| format!("{} {}", self.method, self.path));
        let summary = if needs.is_empty() {
            summary
        } else {
            format!("{summary} ({})", needs.join(", "))
        };
        op.insert("summary".into(), json!(summary));
        if let Some(d) = &self.description {
            op.insert("description".into(), json!(d));
        }
        if let Some(p) = &self.permission {
            op.insert("x-rookery-permission".into(), json!(p));
        }
        if let Some(f) = &self.feature {
            op.insert("x-rookery-feature".into(), json!(f));
        }
        if !params.is_empty() {
            let list: Vec<Value> = params
                .iter()
                .map(|p| json!({"name": p, "in": "path", "required": true, "schema": {"type": "string"}}))
                .collect();
            op.insert("parameters".into(), Value::Array(list));
        }
        if let Some(schema) = &self.body {
            op.insert(
                "requestBody".into(),
                json!({"required": true, "content": {"application/json": {"schema": schema}}}),
            );
        }
        let mut responses = Map::new();
        for (status, description, schema) in &self.responses {
            let mut answer = json!({"description": description});
            if let Some(schema) = schema {
                answer["content"] = json!({"application/json": {"schema": schema}});
            }
            responses.insert(status.to_string(), answer);
        }
        for (status, description) in &self.errors {
            let mut answer = problem(*status);
            answer["description"] = json!(description);
            responses.insert(status.to_string(), answer);
        }
        let mut errors: Vec<u16> = super::openapi::AUTHENTICATED.to_vec();
        if self.body.is_some() {
            errors.extend_from_slice(super::openapi::JSON_BODY);
        }
        if !params.is_empty() {
            errors.push(404);
        }
        errors.sort_unstable();
        for status in errors {
            responses.entry(status.to_string()).or_insert_with(|| problem(status));
        }
        op.insert("responses".into(), Value::Object(responses));
        (format!("{prefix}{}", self.path), Value::Object(op))
    }
}
