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

/// Deserializes a body that passed [`media_type`] and [`object`]; 400
/// naming what was refused (see [`refused`]).
pub(crate) fn deserialize<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|err| refused(body, &err, None))
}

/// The 400 of a body the typed parse refused: serde's message (the
/// expected type, and the caller's own input, never anything stored) after
/// the JSON path of the value it refused (`` `due`: ``; none for JSON that
/// is not well formed, or a field that names itself), with the form a
/// model's field takes when `def` knows it. Not generic: the path is found
/// in the body's text at the error's position (serde reports a refused
/// value just past it), so no model compiles a second parse for it.
fn refused(body: &[u8], err: &serde_json::Error, def: Option<&ModelDef>) -> ApiError {
    let message = plain_types(&err.to_string());
    let path = (err.is_data() && !message.starts_with("unknown field"))
        .then(|| path_at(body, err.line(), err.column()))
        .flatten();
    let Some(path) = path else {
        return ApiError::BadRequest(format!("invalid JSON body: {message}"));
    };
    let form = def
        .and_then(|def| def.fields.iter().find(|f| f.name == path))
        .and_then(|field| form(&field.ty))
        .map(|form| format!(" ({form})"))
        .unwrap_or_default();
    ApiError::BadRequest(format!("invalid JSON body: `{path}`: {message}{form}"))
}

/// The path (`due`, `tags[1]`, `address.city`) of the innermost value below
/// the body's top object that ends where serde_json's error points (`line`
/// and `column`, 1-based: the column of the value's last character), if
/// the body parses that far.
fn path_at(body: &[u8], line: usize, column: usize) -> Option<String> {
    let line_start = if line <= 1 {
        0
    } else {
        body.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map(|(i, _)| i + 1)?
    };
    let mut walk = Walk {
        text: body,
        at: 0,
        end: line_start + column,
    };
    let mut path = Vec::new();
    walk.value(&mut path).ok().flatten()
}

/// A walk over JSON text that stops at the value ending at byte `end`.
struct Walk<'a> {
    text: &'a [u8],
    at: usize,
    end: usize,
}

/// `Err` when the text is not JSON this walk reads (it then names no path).
type Found = Result<Option<String>, ()>;

impl Walk<'_> {
    fn peek(&mut self) -> Option<u8> {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
        self.text.get(self.at).copied()
    }

    /// Reads one value whose path is `path`; the path found inside it, or
    /// its own when it ends at `end` (and is not the top object).
    fn value(&mut self, path: &mut Vec<String>) -> Found {
        // Past the error nothing is to be found, and no deeper than
        // serde_json reads (its recursion limit): the walk is bounded by
        // what serde already read, whatever the body holds after it.
        if self.at > self.end || path.len() > 128 {
            return Err(());
        }
        let found = match self.peek().ok_or(())? {
            b'{' => self.container(b'}', path, Self::key)?,
            b'[' => self.container(b']', path, Self::index)?,
            b'"' => {
                self.string()?;
                None
            }
            _ => {
                let rest = &self.text[self.at..];
                let len = rest
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
                    .unwrap_or(rest.len());
                if len == 0 {
                    return Err(());
                }
                self.at += len;
                None
            }
        };
        if found.is_some() {
            return Ok(found);
        }
        Ok((self.at == self.end && !path.is_empty()).then(|| path.concat()))
    }

    /// Reads an object (`close` is `}`) or an array (`]`) at `at`;
    /// `segment` reads what comes before each element's value (an
    /// object's key and colon) and names it in the path.
    fn container(
        &mut self,
        close: u8,
        path: &mut Vec<String>,
        segment: fn(&mut Self, usize, bool) -> Result<String, ()>,
    ) -> Found {
        self.at += 1;
        if self.peek() == Some(close) {
            self.at += 1;
            return Ok(None);
        }
        for index in 0.. {
            let name = segment(self, index, path.is_empty())?;
            path.push(name);
            let found = self.value(path)?;
            path.pop();
            if found.is_some() {
                return Ok(found);
            }
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(c) if c == close => {
                    self.at += 1;
                    return Ok(None);
                }
                _ => return Err(()),
            }
        }
        Err(())
    }

    /// An object member's key and colon: `key`, `.key` below the top.
    fn key(&mut self, _: usize, top: bool) -> Result<String, ()> {
        if self.peek() != Some(b'"') {
            return Err(());
        }
        let key = self.string()?;
        if self.peek() != Some(b':') {
            return Err(());
        }
        self.at += 1;
        Ok(if top { key } else { format!(".{key}") })
    }

    /// An array element: `[index]`.
    fn index(&mut self, index: usize, _: bool) -> Result<String, ()> {
        Ok(format!("[{index}]"))
    }

    /// Reads a string at `at` (its opening quote); its text, escapes kept.
    fn string(&mut self) -> Result<String, ()> {
        let start = self.at + 1;
        let mut i = start;
        while let Some(&b) = self.text.get(i) {
            match b {
                b'\\' => i += 2,
                b'"' => {
                    self.at = i + 1;
                    return Ok(String::from_utf8_lossy(&self.text[start..i]).into_owned());
                }
                _ => i += 1,
            }
        }
        Err(())
    }
}

/// serde's names of Rust's number types in words a client reads.
fn plain_types(message: &str) -> String {
    [
        ("expected i32", "expected an integer (32-bit)"),
        ("expected i64", "expected an integer"),
        ("expected u32", "expected a non-negative integer"),
        ("expected u64", "expected a non-negative integer"),
        ("expected f64", "expected a number"),
    ]
    .iter()
    .fold(message.to_owned(), |text, (rust, plain)| text.replace(rust, plain))
}

/// What a value of `ty` looks like in JSON, where serde's message does not
/// say it (a date's parse says only "input is out of range").
fn form(ty: &FieldType) -> Option<&'static str> {
    Some(match ty {
        FieldType::Date => "a date: \"YYYY-MM-DD\"",
        FieldType::DateTime => "an RFC 3339 instant: \"2026-03-31T09:30:00Z\"",
        FieldType::Uuid => "a UUID string",
        FieldType::Decimal => "a decimal: a JSON number or a string such as \"12.50\"",
        FieldType::Ref(target) if target.key == KeyKind::Uuid => "the referenced row's id, a UUID string",
        FieldType::Ref(_) => "the referenced row's id, an integer",
        _ => return None,
    })
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
        .ok_or_else(|| refused(body, &err, Some(def)))
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
    fn a_refused_value_is_named_by_its_path_and_form() {
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Input {
            due: Option<chrono::NaiveDate>,
            amount: Option<i64>,
            tags: Option<Vec<String>>,
        }
        let def = crate::model::fixtures::model(
            "invoices",
            vec![
                FieldDef::new("due", "due", super::FieldType::Date),
                FieldDef::new("amount", "amount", super::FieldType::BigInt),
            ],
        );
        let message = |body: &str| match super::deserialize_model::<Input>(def, body.as_bytes()) {
            Err(super::ApiError::BadRequest(message)) => message,
            other => panic!("{body}: {other:?}"),
        };
        let due = message(r#"{"due": "2026-02-31"}"#);
        assert!(due.starts_with("invalid JSON body: `due`: "), "{due}");
        assert!(due.ends_with(r#"(a date: "YYYY-MM-DD")"#), "{due}");
        let amount = message(r#"{"amount": "12"}"#);
        assert!(
            amount.contains("`amount`: invalid type: string \"12\", expected an integer"),
            "{amount}"
        );
        assert!(!amount.contains("i64"), "{amount}");
        // A path below a field, and one no field of the model describes.
        let tag = message(r#"{"tags": ["a", 2]}"#);
        assert!(
            tag.starts_with("invalid JSON body: `tags[1]`: invalid type: integer `2`"),
            "{tag}"
        );
        // After text that is not ASCII (serde counts columns in bytes).
        let accents = message(r#"{"tags": ["été", "日本"], "amount": "x"}"#);
        assert!(
            accents.starts_with("invalid JSON body: `amount`: invalid type"),
            "{accents}"
        );
        // Over several lines, after escapes and spaces, and below a field.
        let pretty = message("{\n  \"tags\": [\"a \\\" }\"],\n  \"amount\" :  \"x\"  \n}");
        assert!(
            pretty.starts_with("invalid JSON body: `amount`: invalid type: string"),
            "{pretty}"
        );
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Outer {
            address: Address,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Address {
            city: String,
        }
        let nested = match super::deserialize::<Outer>(br#"{"address": {"city": 12}}"#) {
            Err(super::ApiError::BadRequest(message)) => message,
            other => panic!("{other:?}"),
        };
        assert!(
            nested.starts_with("invalid JSON body: `address.city`: invalid type: integer `12`"),
            "{nested}"
        );
        // The walk stops where serde stopped: nesting past any stack's
        // depth after that point costs it nothing (a duplicate key is
        // refused at the key, where no value ends).
        let deep = format!(r#"{{"amount": 1, "amount": 2, "tags": {}}}"#, "[".repeat(1_000_000));
        let deep = message(&deep);
        assert!(
            deep.starts_with("invalid JSON body: duplicate field `amount`"),
            "{deep}"
        );
        // No path: the body itself (a syntax error, what follows the
        // object), or a field that names itself.
        let syntax = message(r#"{"due": "#);
        assert!(syntax.starts_with("invalid JSON body: EOF"), "{syntax}");
        let trailing = message(r#"{"amount": 1} junk"#);
        assert!(
            trailing.starts_with("invalid JSON body: trailing characters"),
            "{trailing}"
        );
        let unknown = message(r#"{"dew": "2026-01-01"}"#);
        assert!(
            unknown.starts_with("invalid JSON body: unknown field `dew`, expected one of"),
            "{unknown}"
        );
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
