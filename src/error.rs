//! Errors: one [`Error`](crate::Error) type whose [`ErrorKind`](crate::ErrorKind) maps 1:1 to the C status codes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::rate_limit::RateLimit;
use crate::response_headers::ResponseHeaders;

/// A specialised `Result` whose error is [`Error`](crate::Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What kind of failure an [`Error`](crate::Error) is. Each kind maps one to one to a status code of the
/// C API (in parentheses). Match with a wildcard arm: kinds may be added.
///
/// | kind | C status | when |
/// |---|---|---|
/// | `NullArgument` | `UPSTAGE_ERR_NULL_ARGUMENT` (-1) | a required pointer was NULL (C API only) |
/// | `InvalidArgument` | `UPSTAGE_ERR_INVALID_ARGUMENT` (-2) | bad UTF-8, bad JSON, empty messages, a bad option, a missing API key, an unreadable CA file |
/// | `Connect` | `UPSTAGE_ERR_CONNECT` (-3) | DNS, TCP, TLS (an untrusted certificate, plain HTTP on an `https://` URL), a proxy that is down or refuses the credentials |
/// | `Timeout` | `UPSTAGE_ERR_TIMEOUT` (-4) | a connect, headers, idle or total timeout; [`Error::timeout_phase`](crate::Error::timeout_phase) says which |
/// | `Http` | `UPSTAGE_ERR_HTTP` (-5) | a non-2xx status; the message is the server's own |
/// | `Api` | `UPSTAGE_ERR_API` (-6) | an error reported inside a 200 stream |
/// | `Protocol` | `UPSTAGE_ERR_PROTOCOL` (-7) | malformed SSE or JSON, an unexpected content type, bad chunked encoding |
/// | `Truncated` | `UPSTAGE_ERR_TRUNCATED` (-8) | the stream ended without `[DONE]` and without a `finish_reason` |
/// | `Limit` | `UPSTAGE_ERR_LIMIT` (-9) | a line, event, error body or headers exceeded its limit (see [`Limits`](crate::Limits)) |
/// | `Cancelled` | `UPSTAGE_ERR_CANCELLED` (-10) | cancelled through a [`CancelHandle`](crate::CancelHandle) or, in C, by the callback |
/// | `Io` | `UPSTAGE_ERR_IO` (-11) | any other I/O failure in the middle of a stream |
/// | `Panic` | `UPSTAGE_ERR_PANIC` (-100) | a bug inside the library, caught at the C boundary |
///
/// Each kind has a stable C status code ([`ErrorKind::status`](crate::ErrorKind::status)) and a stable lower-case name
/// ([`ErrorKind::name`](crate::ErrorKind::name)) used in messages and by the CLI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A required pointer was NULL (C API only).
    NullArgument,
    /// Bad UTF-8, bad JSON, empty messages, a bad option value or a missing API key.
    InvalidArgument,
    /// DNS, TCP, TLS or proxy failure before the request was sent.
    Connect,
    /// A connect, header, idle or total timeout expired ([`Error::timeout_phase`](crate::Error::timeout_phase) says which).
    Timeout,
    /// The server answered with a non-2xx status ([`Error::http_status`](crate::Error::http_status)).
    Http,
    /// The server reported an error inside a 200 event stream.
    Api,
    /// Malformed SSE or JSON, an unexpected content type or bad chunked encoding.
    Protocol,
    /// The stream ended without `[DONE]` and without a `finish_reason`.
    Truncated,
    /// A line, event or body exceeded its configured limit.
    Limit,
    /// The stream was cancelled (cancel handle, dropped callback consumer).
    Cancelled,
    /// Any other I/O failure in the middle of a stream.
    Io,
    /// A bug inside the library, caught at the C boundary.
    Panic,
}

impl ErrorKind {
    /// Every kind, in the order of the C status table (a slice: new kinds may be added).
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::NullArgument,
        ErrorKind::InvalidArgument,
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Http,
        ErrorKind::Api,
        ErrorKind::Protocol,
        ErrorKind::Truncated,
        ErrorKind::Limit,
        ErrorKind::Cancelled,
        ErrorKind::Io,
        ErrorKind::Panic,
    ];

    /// The C status code (`UPSTAGE_ERR_*`), always negative.
    pub const fn status(self) -> i32 {
        match self {
            ErrorKind::NullArgument => -1,
            ErrorKind::InvalidArgument => -2,
            ErrorKind::Connect => -3,
            ErrorKind::Timeout => -4,
            ErrorKind::Http => -5,
            ErrorKind::Api => -6,
            ErrorKind::Protocol => -7,
            ErrorKind::Truncated => -8,
            ErrorKind::Limit => -9,
            ErrorKind::Cancelled => -10,
            ErrorKind::Io => -11,
            ErrorKind::Panic => -100,
        }
    }

    /// The kind whose C status code is `status`, if any.
    pub fn from_status(status: i32) -> Option<ErrorKind> {
        ErrorKind::ALL
            .iter()
            .copied()
            .find(|k| k.status() == status)
    }

    /// The stable lower-case name (`"timeout"`, `"http"`, ...), as printed by the CLI.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorKind::NullArgument => "null_argument",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Http => "http",
            ErrorKind::Api => "api",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Truncated => "truncated",
            ErrorKind::Limit => "limit",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::Io => "io",
            ErrorKind::Panic => "panic",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which timeout expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Establishing the TCP (and proxy, TLS) connection.
    Connect,
    /// Waiting for the response status line and headers.
    Headers,
    /// Waiting for the next bytes of the body.
    Idle,
    /// The whole request, when a total timeout was asked for.
    Total,
}

impl TimeoutPhase {
    /// A lower-case name: `connect`, `headers`, `idle`, `total`.
    pub const fn name(self) -> &'static str {
        match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::Headers => "headers",
            TimeoutPhase::Idle => "idle",
            TimeoutPhase::Total => "total",
        }
    }
}

/// A failure, with the details a caller needs to act on it.
///
/// [`kind`](Error::kind) says what failed (see [`ErrorKind`](crate::ErrorKind)). For HTTP errors and errors
/// inside a stream, [`message`](Error::message) is the server's own words: the OpenAI
/// envelope's `message` (a numeric `code` becomes text), FastAPI's `detail`, a top-level
/// `message`, or the body text (an HTML page reduced to its title), read from at most
/// [`Limits`](crate::Limits)`::max_error_body` bytes. [`http_status`](Error::http_status),
/// [`api_type`](Error::api_type), [`api_code`](Error::api_code),
/// [`api_param`](Error::api_param), [`request_id`](Error::request_id) (`x-request-id`),
/// [`retry_after`](Error::retry_after), [`timeout_phase`](Error::timeout_phase) and
/// [`attempts`](Error::attempts) carry the rest.
///
/// Neither `Display`, `Debug` nor the message ever contains the API key or a proxy password.
///
/// Small (one pointer) so that `Result<T>` stays cheap on the hot path.
#[derive(Clone, thiserror::Error)]
#[error("{}", inner.message)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone, Debug)]
struct Inner {
    kind: ErrorKind,
    message: String,
    http_status: Option<u16>,
    api_type: Option<String>,
    api_code: Option<String>,
    api_param: Option<String>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    timeout_phase: Option<TimeoutPhase>,
    attempts: u32,
    /// The headers of the HTTP response behind the error, when there was one.
    headers: Option<Arc<ResponseHeaders>>,
    /// Trying again cannot help (a certificate the client does not trust).
    permanent: bool,
}

impl Error {
    /// A new error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                http_status: None,
                api_type: None,
                api_code: None,
                api_param: None,
                request_id: None,
                retry_after: None,
                timeout_phase: None,
                attempts: 1,
                headers: None,
                permanent: false,
            }),
        }
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidArgument, message)
    }

    /// The request or stream was cancelled through its [`CancelHandle`](crate::CancelHandle).
    pub(crate) fn cancelled() -> Error {
        Error::new(ErrorKind::Cancelled, "the request was cancelled")
    }

    pub(crate) fn timeout(phase: TimeoutPhase) -> Error {
        let what = match phase {
            TimeoutPhase::Connect => "no connection to the server",
            TimeoutPhase::Headers => "the server sent no response headers in time",
            TimeoutPhase::Idle => "the server sent nothing for too long",
            TimeoutPhase::Total => "the request took too long",
        };
        let mut e = Error::new(
            ErrorKind::Timeout,
            format!("{} timeout expired: {what}", phase.name()),
        );
        e.inner.timeout_phase = Some(phase);
        e
    }

    pub(crate) fn with_message(mut self, message: String) -> Error {
        self.inner.message = message;
        self
    }

    /// Marks the error as one that retrying cannot fix.
    pub(crate) fn permanent(mut self) -> Error {
        self.inner.permanent = true;
        self
    }

    pub(crate) fn is_permanent(&self) -> bool {
        self.inner.permanent
    }

    pub(crate) fn with_http_status(mut self, status: u16) -> Error {
        self.inner.http_status = Some(status);
        self
    }

    pub(crate) fn with_api_details(
        mut self,
        api_type: Option<String>,
        code: Option<String>,
        param: Option<String>,
    ) -> Error {
        self.inner.api_type = api_type;
        self.inner.api_code = code;
        self.inner.api_param = param;
        self
    }

    pub(crate) fn with_request_id(mut self, request_id: Option<String>) -> Error {
        if self.inner.request_id.is_none() {
            self.inner.request_id = request_id;
        }
        self
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Error {
        self.inner.retry_after = retry_after;
        self
    }

    pub(crate) fn with_headers(mut self, headers: Arc<ResponseHeaders>) -> Error {
        if self.inner.headers.is_none() {
            self.inner.headers = Some(headers);
        }
        self
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Error {
        self.inner.attempts = attempts;
        self
    }

    /// The coarse kind, which is also the C status code.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The human-readable message (the server's own words for HTTP and API errors).
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The HTTP status, for [`ErrorKind::Http`](crate::ErrorKind::Http) errors (and in-band errors that carry one).
    pub fn http_status(&self) -> Option<u16> {
        self.inner.http_status
    }

    /// The server's error `type` (OpenAI envelope), when it sent one.
    pub fn api_type(&self) -> Option<&str> {
        self.inner.api_type.as_deref()
    }

    /// The server's error `code`, rendered as a string even when it was a number.
    pub fn api_code(&self) -> Option<&str> {
        self.inner.api_code.as_deref()
    }

    /// The server's error `param`, when it sent one.
    pub fn api_param(&self) -> Option<&str> {
        self.inner.api_param.as_deref()
    }

    /// The response's `x-request-id` header (or the chunk id), for support requests.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// The wait the server asked for (`retry-after-ms` / `retry-after`), when it asked.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// Which timeout expired, for [`ErrorKind::Timeout`](crate::ErrorKind::Timeout).
    pub fn timeout_phase(&self) -> Option<TimeoutPhase> {
        self.inner.timeout_phase
    }

    /// How many HTTP attempts were made before this error (1 when there was no retry).
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// The headers of the HTTP response behind the error: an HTTP error's, or the stream's
    /// for errors inside a stream. `None` when no response was received (connect errors,
    /// timeouts before the headers, invalid arguments).
    pub fn headers(&self) -> Option<&ResponseHeaders> {
        self.inner.headers.as_deref()
    }

    /// The first value of header `name` (case-insensitive) of the HTTP response behind the
    /// error, e.g. a gateway's own diagnostics.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers()?.get(name)
    }

    /// The rate limits the response behind the error reported (`x-ratelimit-*` headers),
    /// e.g. on a 429, when it reported any.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        RateLimit::from_headers(self.headers()?)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_match_the_c_table() {
        let table: Vec<(i32, &str)> = ErrorKind::ALL
            .iter()
            .map(|k| (k.status(), k.name()))
            .collect();
        assert_eq!(
            table,
            [
                (-1, "null_argument"),
                (-2, "invalid_argument"),
                (-3, "connect"),
                (-4, "timeout"),
                (-5, "http"),
                (-6, "api"),
                (-7, "protocol"),
                (-8, "truncated"),
                (-9, "limit"),
                (-10, "cancelled"),
                (-11, "io"),
                (-100, "panic"),
            ]
        );
        for &kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_status(kind.status()), Some(kind));
        }
        assert_eq!(ErrorKind::from_status(0), None);
    }

    #[test]
    fn error_is_one_pointer() {
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }
}
