//! JSON request bodies: what every body of the generic and the identity
//! routes passes before it is deserialized.
//!
//! A body is JSON (`Content-Type: application/json` or `…+json`, else 415)
//! and an object (else 400): serde's derived deserializers read a struct
//! from an array too, which would let `[1, null]` fill fields by position.
//! The object check looks at the first byte that is not whitespace, so it
//! costs nothing next to the parse.

use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;

use super::ApiError;

/// Whether the request says its body is JSON.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"))
}

/// Whether `body`'s first byte after JSON whitespace opens an object.
fn opens_object(body: &[u8]) -> bool {
    body.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|b| *b == b'{')
}

/// 415 unless the request declares a JSON body.
pub(crate) fn media_type(headers: &HeaderMap) -> Result<(), ApiError> {
    if is_json(headers) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// 400 unless the body is a JSON object (or something malformed that
/// starts like one, which the parse then refuses).
pub(crate) fn object(body: &[u8]) -> Result<(), ApiError> {
    if opens_object(body) {
        Ok(())
    } else {
        Err(ApiError::BadRequest("the request body must be a JSON object".into()))
    }
}

/// Deserializes a body that passed [`media_type`] and [`object`]; 400 with serde's message
/// (it names the field and the expected type, and can echo the caller's
/// own input back to the caller, never anything stored).
pub(crate) fn deserialize<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

#[cfg(test)]
mod tests {
    use super::opens_object;

    #[test]
    fn only_objects_open_an_object() {
        for body in [&b"{}"[..], b" \r\n\t{\"a\":1}"] {
            assert!(opens_object(body), "{body:?}");
        }
        for body in [&b""[..], b"[1,null]", b"\"x\"", b"1", b"null", b"true", b"\x0c{}", b" "] {
            assert!(!opens_object(body), "{body:?}");
        }
    }
}
