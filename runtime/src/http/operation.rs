//! Hand-written routes that `/openapi.json` documents: an [`Operation`]
//! says what the route is (method, path, permission, body, answers) and
//! [`App::operation`](super::App::operation) serves the handler under it.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use serde_json::{Map, Value, json};

use super::ApiError;
use crate::app_spec::AppSpec;
use crate::auth::Principal;
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

    /// The permission the route requires: [`App::operation`](super::App::operation)
    /// refuses a caller without it (403 `forbidden`) before the handler
    /// runs, and the document says so. The app refuses to build when no
    /// role of the spec grants it (a typo).
    pub fn permission(mut self, permission: &str) -> Self {
        self.permission = Some(permission.to_owned());
        self
    }

    /// The plan feature the route requires: a tenant whose plan lacks it
    /// is refused (403 `feature-not-in-plan`) before the handler runs. The
    /// app refuses to build when the spec declares no such feature.
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

    /// What [`App::operation`](super::App::operation) enforces before the
    /// handler, checked against `spec`; `Err` names a permission no role
    /// grants or a feature the spec does not declare.
    pub(crate) fn guard(&self, spec: &AppSpec) -> Result<Guard, String> {
        if let Some(p) = &self.permission
            && !spec.roles.iter().any(|r| r.permissions.contains(&p.as_str()))
        {
            return Err(format!(
                "{} {}: no role grants the permission `{p}` (declare it under [permissions] in rookery.toml and grant it to a role)",
                self.method, self.path
            ));
        }
        if let Some(f) = &self.feature
            && !spec.features.iter().any(|d| d.name == f)
        {
            return Err(format!(
                "{} {}: the spec declares no feature `{f}` (add it under [features] in rookery.toml)",
                self.method, self.path
            ));
        }
        Ok(Guard {
            permission: self.permission.as_deref().map(Arc::from),
            feature: self.feature.as_deref().map(Arc::from),
        })
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

/// The permission and feature an [`Operation`] requires, enforced in front
/// of its handler.
#[derive(Debug, Clone)]
pub(crate) struct Guard {
    permission: Option<Arc<str>>,
    feature: Option<Arc<str>>,
}

impl Guard {
    /// Whether there is anything to enforce.
    pub(crate) fn is_empty(&self) -> bool {
        self.permission.is_none() && self.feature.is_none()
    }

    /// Middleware: refuses a caller without the permission (403
    /// `forbidden`) or a tenant whose plan lacks the feature (403
    /// `feature-not-in-plan`) before the handler runs.
    pub(crate) async fn enforce(self, request: Request, next: Next) -> Response {
        let Some(principal) = request.extensions().get::<Principal>() else {
            return ApiError::Unauthorized("not authenticated").into_response();
        };
        // The feature first, as for models: the same answer for every member.
        let feature = self.feature.as_deref().map_or(Ok(()), |f| principal.require_feature(f));
        let permission = || self.permission.as_deref().map_or(Ok(()), |p| principal.require(p));
        match feature.and_then(|()| permission()) {
            Ok(()) => next.run(request).await,
            Err(denied) => ApiError::from(denied).into_response(),
        }
    }
}
