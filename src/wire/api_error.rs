//! API error envelopes: the shapes servers use to report an error, in an HTTP error body
//! or in-band in a stream.

use serde_json::Value;

use super::chunk::Chunk;
use crate::error::{Error, ErrorKind};

/// The parts of an error report: the server's message, type, code and param.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct ApiErrorParts {
    pub message: Option<String>,
    pub kind: Option<String>,
    pub code: Option<String>,
    pub param: Option<String>,
}

/// Reads an error report in any of the shapes servers use: the OpenAI envelope
/// `{"error": {"message", "type", "param", "code"}}`, `{"error": "text"}`, FastAPI's
/// `{"detail": ...}`, `{"type": "error", "message": ...}` or a top-level `message`.
pub(crate) fn api_error_parts(value: &Value) -> ApiErrorParts {
    let Some(object) = value.as_object() else {
        return ApiErrorParts {
            message: value.as_str().map(str::to_owned),
            ..ApiErrorParts::default()
        };
    };
    match object.get("error") {
        Some(Value::Object(error)) => {
            let mut parts = ApiErrorParts {
                message: error.get("message").and_then(text_of),
                kind: error.get("type").and_then(text_of),
                code: error.get("code").and_then(text_of),
                param: error.get("param").and_then(text_of),
            };
            if parts.message.is_none() {
                parts.message = Some(Value::Object(error.clone()).to_string());
            }
            return parts;
        }
        Some(Value::String(message)) => {
            return ApiErrorParts {
                message: Some(message.clone()),
                code: object.get("code").and_then(text_of),
                ..ApiErrorParts::default()
            };
        }
        _ => {}
    }
    let message = object
        .get("detail")
        .and_then(detail_text)
        .or_else(|| object.get("message").and_then(text_of));
    ApiErrorParts {
        message,
        kind: object
            .get("type")
            .and_then(text_of)
            .filter(|t| t != "error"),
        code: object.get("code").and_then(text_of),
        param: None,
    }
}

/// A string, or a number rendered as text (`code` is either, depending on the server).
fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// FastAPI's `detail`: a string, or a list of validation errors each with a `msg`.
fn detail_text(detail: &Value) -> Option<String> {
    match detail {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => {
            let messages: Vec<String> = items
                .iter()
                .map(|item| match item.get("msg").and_then(Value::as_str) {
                    Some(msg) => match item.get("loc") {
                        Some(loc) => format!("{msg} (at {loc})"),
                        None => msg.to_owned(),
                    },
                    None => item.to_string(),
                })
                .collect();
            (!messages.is_empty()).then(|| messages.join("; "))
        }
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// `event: error`: the data is usually a JSON error object, sometimes plain text.
pub(crate) fn event_error(data: &[u8]) -> Error {
    match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(value) => api_error(api_error_parts(&value), data),
        Err(_) => Error::new(ErrorKind::Api, excerpt(data)).with_http_status(200),
    }
}

pub(crate) fn in_band_error(chunk: &Chunk) -> Error {
    let parts = match &chunk.error {
        Some(error) => api_error_parts(&serde_json::json!({ "error": error })),
        None => api_error_parts(&serde_json::json!({
            "message": chunk.message,
        })),
    };
    api_error(parts, b"the server reported an error")
}

fn api_error(parts: ApiErrorParts, fallback: &[u8]) -> Error {
    let message = parts
        .message
        .unwrap_or_else(|| String::from_utf8_lossy(fallback).into_owned());
    Error::new(ErrorKind::Api, message)
        .with_http_status(200)
        .with_api_details(parts.kind, parts.code, parts.param)
}

/// A short, printable piece of bad data for an error message.
pub(crate) fn excerpt(data: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&data[..data.len().min(MAX)]);
    if data.len() > MAX {
        format!("{text}...")
    } else {
        text.into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn error_shapes_give_the_servers_words() {
        let openai =
            json!({"error": {"message": "bad key", "type": "auth", "code": 401, "param": null}});
        assert_eq!(
            api_error_parts(&openai),
            ApiErrorParts {
                message: Some("bad key".into()),
                kind: Some("auth".into()),
                code: Some("401".into()),
                param: None
            }
        );
        let fastapi = json!({"detail": [{"loc": ["body", "model"], "msg": "field required"}]});
        assert_eq!(
            api_error_parts(&fastapi).message.unwrap(),
            r#"field required (at ["body","model"])"#
        );
        let typed = json!({"type": "error", "message": "overloaded"});
        assert_eq!(api_error_parts(&typed).message.unwrap(), "overloaded");
        assert_eq!(api_error_parts(&typed).kind, None);
        let plain = json!({"error": "nope", "code": "x"});
        assert_eq!(api_error_parts(&plain).message.unwrap(), "nope");
        assert_eq!(api_error_parts(&plain).code.unwrap(), "x");
    }
}
