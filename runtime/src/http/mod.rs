//! HTTP: the app builder, shared state, problem+json errors, health and OpenAPI.

pub mod crud;

/// State shared by every handler (placeholder: filled in by the app builder).
#[derive(Debug, Clone)]
pub struct AppState {}
