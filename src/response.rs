//! Turning what ureq hands back into what the stream reads: a 2xx body of a known kind, or
//! an [`Error`] in the server's own words (HTTP error bodies, transport failures, broken
//! bodies).

use std::io::{self, Cursor, Read};
use std::sync::Arc;

use crate::cancel::CancelHandle;
use crate::error::{Error, ErrorKind, Result, TimeoutPhase};
use crate::response_headers::ResponseHeaders;
use crate::retry;
use crate::sse;
use crate::wire;

/// The response body as the stream reads it.
pub(crate) type Body = Box<dyn Read + Send>;

/// What kind of body a 2xx response carries.
pub(crate) enum BodyKind {
    EventStream,
    Json,
}

/// Decides how to read a 2xx body from its content type, looking at the first bytes when
/// the type is neither SSE nor JSON (some servers and proxies label streams oddly).
pub(crate) fn sniff(
    content_type: &str,
    mut reader: Body,
    cancel: &CancelHandle,
) -> Result<(BodyKind, Body)> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "text/event-stream" {
        return Ok((BodyKind::EventStream, reader));
    }
    if essence == "application/json" || essence.ends_with("+json") {
        return Ok((BodyKind::Json, reader));
    }
    let head = read_head(&mut reader, cancel)?;
    let text = meaningful(&head);
    let kind = if text.starts_with(b"{") {
        BodyKind::Json
    } else if [&b"data:"[..], b"event:", b"id:", b"retry:", b":"]
        .iter()
        .any(|p| text.starts_with(p))
    {
        BodyKind::EventStream
    } else {
        let shown = if content_type.is_empty() {
            "none"
        } else {
            content_type
        };
        return Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "unexpected content type {shown:?}: the body is neither an event stream nor JSON"
            ),
        )
        .with_http_status(200));
    };
    Ok((kind, Box::new(Cursor::new(head).chain(reader))))
}

/// Reads just enough to tell JSON from SSE (a `{`, a `:`, or the longest field name,
/// `retry:`), or to EOF: a slow stream must not be held back by the sniffing.
fn read_head(reader: &mut Body, cancel: &CancelHandle) -> Result<Vec<u8>> {
    let undecided = |head: &[u8]| {
        let text = meaningful(head);
        !text.starts_with(b"{") && !text.starts_with(b":") && text.len() < b"retry:".len()
    };
    let mut head = vec![0; 512];
    let mut filled = 0;
    while filled < head.len() && undecided(&head[..filled]) {
        match reader.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(body_io_error(e, cancel)),
        }
    }
    head.truncate(filled);
    Ok(head)
}

/// The body's start without a BOM and leading whitespace.
fn meaningful(head: &[u8]) -> &[u8] {
    head.strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(head)
        .trim_ascii_start()
}

/// Reads a whole body, failing with `Limit` past `limit` bytes instead of growing.
pub(crate) fn read_bounded(reader: Body, limit: usize, cancel: &CancelHandle) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| body_io_error(e, cancel))?;
    if buf.len() > limit {
        return Err(Error::new(
            ErrorKind::Limit,
            format!("the JSON answer exceeds the {limit}-byte limit"),
        )
        .with_http_status(200));
    }
    Ok(buf)
}

/// A non-2xx response as an error carrying the server's own words and the response
/// headers, the server's `x-should-retry` verdict, and the body as read (for a recording;
/// `None` when it could not be read whole).
pub(crate) fn http_error(
    response: ureq::http::Response<ureq::Body>,
    headers: &Arc<ResponseHeaders>,
    reason: &str,
    limit: usize,
    cancel: &CancelHandle,
) -> (Error, Option<bool>, Option<Vec<u8>>) {
    let status = response.status().as_u16();
    let reader: Body = Box::new(response.into_body().into_reader());
    let body = read_bounded(reader, limit, cancel);
    let kept = body.as_ref().ok().cloned();
    let (error, should_retry) = error_response(status, reason, headers, body);
    (error, should_retry, kept)
}

/// The error of a non-2xx response whose body was read (or failed to be), and the server's
/// `x-should-retry` verdict. Live responses and recorded ones go through here.
pub(crate) fn error_response(
    status: u16,
    reason: &str,
    headers: &Arc<ResponseHeaders>,
    body: Result<Vec<u8>>,
) -> (Error, Option<bool>) {
    let wait = retry::server_wait(headers.get("retry-after-ms"), headers.get("retry-after"));
    let should_retry = match headers.get("x-should-retry") {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    };
    let error = match body {
        Ok(body) => describe_error_body(status, reason, &body),
        Err(e) if e.kind() == ErrorKind::Limit => Error::new(
            ErrorKind::Limit,
            format!(
                "HTTP {status} {reason}: {}",
                e.message().replace("the JSON answer", "the error body")
            ),
        ),
        Err(_) => Error::new(ErrorKind::Http, format!("HTTP {status} {reason}")),
    };
    let error = error
        .with_http_status(status)
        .with_request_id(headers.get("x-request-id").map(str::to_owned))
        .with_retry_after(wait)
        .with_headers(Arc::clone(headers));
    (error, should_retry)
}

/// The reason phrase: the one given, else the standard one for `status`.
pub(crate) fn reason(status: u16, given: &str) -> String {
    if !given.is_empty() {
        return given.to_owned();
    }
    ureq::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("")
        .to_owned()
}

/// `HTTP 401: <the server's message>`, from JSON error shapes or the text of the body.
fn describe_error_body(status: u16, reason: &str, body: &[u8]) -> Error {
    let parts = serde_json::from_slice::<serde_json::Value>(body)
        .map(|value| wire::api_error_parts(&value))
        .unwrap_or_default();
    let text = match parts.message.clone() {
        Some(message) => message,
        None => body_text(body),
    };
    let message = if text.is_empty() {
        format!("HTTP {status} {reason}").trim_end().to_owned()
    } else {
        format!("HTTP {status}: {text}")
    };
    Error::new(ErrorKind::Http, message).with_api_details(parts.kind, parts.code, parts.param)
}

/// A plain-text body trimmed, or an HTML page reduced to its title.
fn body_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let lower = text.to_ascii_lowercase();
    if let Some(start) = lower.find("<title>") {
        let rest = &text[start + "<title>".len()..];
        let end = rest
            .to_ascii_lowercase()
            .find("</title>")
            .unwrap_or(rest.len());
        return rest[..end].split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let trimmed = text.trim();
    const MAX: usize = 2000;
    if trimmed.len() <= MAX {
        return trimmed.to_owned();
    }
    let mut cut = MAX;
    while !trimmed.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &trimmed[..cut])
}

/// Classifies an error from sending the request or waiting for the response headers.
pub(crate) fn call_error(error: ureq::Error) -> Error {
    use ureq::Timeout as T;
    match error {
        ureq::Error::Timeout(T::Connect | T::Resolve) => Error::timeout(TimeoutPhase::Connect),
        ureq::Error::Timeout(T::Global | T::PerCall) => Error::timeout(TimeoutPhase::Total),
        ureq::Error::Timeout(_) => Error::timeout(TimeoutPhase::Headers),
        ureq::Error::HostNotFound => {
            Error::new(ErrorKind::Connect, "cannot resolve the server's host name")
        }
        ureq::Error::Io(e) => io_call_error(e),
        ureq::Error::Rustls(e) => tls_error(&e.to_string()),
        ureq::Error::Tls(e) => tls_error(e),
        ureq::Error::Pem(e) => tls_error(&e.to_string()),
        ureq::Error::ConnectProxyFailed(e) => Error::new(
            ErrorKind::Connect,
            format!("the proxy refused the connection: {e}"),
        ),
        ureq::Error::ConnectionFailed => Error::new(
            ErrorKind::Connect,
            "the connection (or proxy handshake) failed",
        ),
        ureq::Error::BadUri(e) => Error::invalid_argument(format!("invalid URL: {e}")),
        ureq::Error::InvalidProxyUrl => Error::invalid_argument("invalid proxy URL"),
        ureq::Error::LargeResponseHeader(size, limit) => Error::new(
            ErrorKind::Limit,
            format!("the response headers ({size} bytes) exceed the {limit}-byte limit"),
        ),
        ureq::Error::Protocol(e) => {
            Error::new(ErrorKind::Protocol, format!("malformed HTTP response: {e}"))
        }
        ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => Error::new(
            ErrorKind::Protocol,
            "the server redirected the request (set the base URL to the final address)",
        ),
        other => Error::new(ErrorKind::Io, format!("the request failed: {other}")),
    }
}

fn io_call_error(error: std::io::Error) -> Error {
    use std::io::ErrorKind as K;
    let inner = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<ureq::Error>());
    if let Some(ureq::Error::Timeout(_)) = inner {
        return Error::timeout(TimeoutPhase::Headers);
    }
    // rustls failures (certificate verification, alerts, a server that does not speak
    // TLS) reach us as `InvalidData` I/O errors wrapping the `rustls::Error`.
    if error.kind() == K::InvalidData {
        if let Some(detail) = error.get_ref().map(ToString::to_string) {
            const TLS_MARKERS: [&str; 6] = [
                "certificate",
                "alert",
                "handshake",
                "peer is incompatible",
                "peer misbehaved",
                "corrupt message",
            ];
            if TLS_MARKERS.iter().any(|m| detail.contains(m)) {
                return tls_error(&detail);
            }
        }
    }
    // A SOCKS proxy refusing our credentials (or asking for a method we lack) fails
    // its handshake with these; they are proxy failures, so `Connect`.
    let detail = error.to_string();
    if error.kind() == K::PermissionDenied || detail.contains("auth method") {
        return Error::new(
            ErrorKind::Connect,
            format!("the proxy refused the connection: {detail}"),
        );
    }
    match error.kind() {
        K::ConnectionRefused
        | K::AddrNotAvailable
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::NetworkDown
        | K::NotFound => Error::new(ErrorKind::Connect, format!("cannot connect: {error}")),
        K::TimedOut | K::WouldBlock => Error::timeout(TimeoutPhase::Headers),
        _ => Error::new(
            ErrorKind::Io,
            format!("the connection failed before the response: {error}"),
        ),
    }
}

fn tls_error(detail: &str) -> Error {
    if detail.contains("certificate") || detail.contains("Certificate") {
        // The same certificate will be presented again: retrying cannot help.
        let message = format!("TLS certificate verification failed: {detail}");
        return Error::new(ErrorKind::Connect, message).permanent();
    }
    Error::new(
        ErrorKind::Connect,
        format!("TLS handshake failed: {detail}"),
    )
}

pub(crate) fn sse_error(error: sse::SseError, cancel: &CancelHandle) -> Error {
    match error {
        sse::SseError::Io(e) => body_io_error(e, cancel),
        sse::SseError::LineTooLong { limit } => Error::new(
            ErrorKind::Limit,
            format!("a line of the stream exceeds the {limit}-byte limit"),
        )
        .with_http_status(200),
        sse::SseError::EventTooLarge { limit } => Error::new(
            ErrorKind::Limit,
            format!("an event of the stream exceeds the {limit}-byte limit"),
        )
        .with_http_status(200),
    }
}

/// Classifies a failed body read: cancelled, timed out, truncated, malformed or other I/O.
pub(crate) fn body_io_error(error: io::Error, cancel: &CancelHandle) -> Error {
    if cancel.is_cancelled() {
        return Error::cancelled();
    }
    let message = error.to_string();
    let kind = error.kind();
    let error = match error.into_inner() {
        Some(inner) => match inner.downcast::<ureq::Error>() {
            Ok(ureq_error) => return body_ureq_error(*ureq_error, cancel),
            Err(inner) => inner.to_string(),
        },
        None => message,
    };
    let kind = match kind {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => ErrorKind::Truncated,
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            return Error::timeout(TimeoutPhase::Idle).with_http_status(200);
        }
        io::ErrorKind::InvalidData => ErrorKind::Protocol,
        _ => ErrorKind::Io,
    };
    let message = match kind {
        ErrorKind::Truncated => format!("the stream was cut off: {error}"),
        _ => format!("reading the stream failed: {error}"),
    };
    Error::new(kind, message).with_http_status(200)
}

fn body_ureq_error(error: ureq::Error, cancel: &CancelHandle) -> Error {
    match error {
        ureq::Error::Io(e) => body_io_error(e, cancel),
        ureq::Error::Timeout(ureq::Timeout::Global | ureq::Timeout::PerCall) => {
            Error::timeout(TimeoutPhase::Total).with_http_status(200)
        }
        ureq::Error::Timeout(_) => Error::timeout(TimeoutPhase::Idle).with_http_status(200),
        ureq::Error::Protocol(e) => Error::new(
            ErrorKind::Protocol,
            format!("malformed HTTP body framing: {e}"),
        )
        .with_http_status(200),
        other => Error::new(ErrorKind::Io, format!("reading the stream failed: {other}"))
            .with_http_status(200),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_give_the_servers_words() {
        let e = describe_error_body(
            401,
            "Unauthorized",
            br#"{"error":{"message":"bad key","type":"auth","code":"invalid_api_key"}}"#,
        );
        assert_eq!(e.message(), "HTTP 401: bad key");
        assert_eq!(e.api_code(), Some("invalid_api_key"));
        let e = describe_error_body(422, "", br#"{"detail":"model not found"}"#);
        assert_eq!(e.message(), "HTTP 422: model not found");
        let e = describe_error_body(
            502,
            "Bad Gateway",
            b"<html><head><title>502 Bad\n Gateway</title></head></html>",
        );
        assert_eq!(e.message(), "HTTP 502: 502 Bad Gateway");
        let e = describe_error_body(500, "Internal Server Error", b"  oops \n");
        assert_eq!(e.message(), "HTTP 500: oops");
        let e = describe_error_body(404, "Not Found", b"");
        assert_eq!(e.message(), "HTTP 404 Not Found");
    }
}
