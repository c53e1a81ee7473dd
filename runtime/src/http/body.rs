//! JSON request bodies: what every body of the generic and the identity
//! routes passes before it is deserialized.
//!
//! A body is JSON (`Content-Type: application/json` or `…+json`, else 415)
//! and an object (else 400): serde's derived deserializers read a struct
//! from an array too, which would let `[1, null]` fill fields by position.
//! The object check looks at the first byte that is not whitespace, so it
//! costs nothing next to the parse.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::model::{FieldType, KeyKind, ModelDef};

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

/// A JSON request body whose rejection is an [`ApiError`], like every
/// other error of the API: 415 unless declared JSON, 413 past the body
/// limit, 400 unless a JSON object of the request type (which denies
/// unknown fields), 422 naming the field that holds U+0000.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        media_type(req.headers())?;
        let body = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::BadRequest("the request body could not be read".into())
            }
        })?;
        object(&body)?;
        if let Some(error) = crate::repo::nul_field(&body) {
            return Err(ApiError::Invalid(vec![error]));
        }
        deserialize(&body).map(JsonBody)
    }
}

/// Deserializes a create or update body of model `def` that passed
/// [`media_type`] and [`object`]. JSON (and JSON Schema) counts `2.0` and
/// `2e3` as integers, so an integer field written so is read as that
/// integer; only a body the typed parse refused pays for this second look,
/// which parses the rewritten text with the same (one per model) parser.
pub(crate) fn deserialize_model<T: DeserializeOwned>(def: &ModelDef, body: &[u8]) -> Result<T, ApiError> {
    let err = match serde_json::from_slice(body) {
        Ok(value) => return Ok(value),
        Err(err) => err,
    };
    integral_numbers(def, body)
        .and_then(|text| serde_json::from_slice(&text).ok())
        .ok_or_else(|| ApiError::BadRequest(format!("invalid JSON body: {err}")))
}

/// The body as the text of a JSON object with its integer fields' integral
/// non-integer numbers (`2.0`, `2e3`) made integers, if it has any.
fn integral_numbers(def: &ModelDef, body: &[u8]) -> Option<Vec<u8>> {
    // 2^63: the first float past i64::MAX.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let mut map: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body).ok()?;
    let mut changed = false;
    for field in def.fields {
        let integer = match field.ty {
            FieldType::Int | FieldType::BigInt => true,
            FieldType::Ref(target) => target.key == KeyKind::BigInt,
            _ => false,
        };
        let Some(serde_json::Value::Number(n)) = map.get_mut(field.name) else {
            continue;
        };
        if let Some(f) = n.as_f64().filter(|_| integer && n.is_f64())
            && f.fract() == 0.0
            && (-LIMIT..LIMIT).contains(&f)
        {
            // Exact: `f` is integral and within i64.
            #[allow(clippy::cast_possible_truncation)]
            let i = f as i64;
            *n = i.into();
            changed = true;
        }
    }
    changed.then(|| serde_json::to_vec(&map).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::opens_object;
    use crate::model::FieldDef;

    #[test]
    fn integral_numbers_are_integers() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Input {
            rank: i32,
            score: Option<i64>,
        }
        let def = crate::model::fixtures::model(
            "things",
            vec![
                FieldDef::new("rank", "rank", super::FieldType::Int),
                FieldDef::new("score", "score", super::FieldType::BigInt),
            ],
        );
        let read = |body: &str| super::deserialize_model::<Input>(def, body.as_bytes()).map(|i| (i.rank, i.score));
        assert_eq!(read(r#"{"rank": 2.0, "score": -3e3}"#).unwrap(), (2, Some(-3000)));
        assert_eq!(read(r#"{"rank": 2, "score": null}"#).unwrap(), (2, None));
        for bad in [
            r#"{"rank": 2.5}"#,
            r#"{"rank": 1e10}"#,
            r#"{"rank": 1, "score": 1e19}"#,
            r#"{"rank": "2"}"#,
        ] {
            assert!(read(bad).is_err(), "{bad}");
        }
    }

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
