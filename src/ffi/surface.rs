//! The request and response surface in C: custom headers and query parameters, per-request
//! timeouts and retries, response headers and rate limits, timings, the debug log, full
//! error details, recording and replay.

use std::ffi::{c_char, c_void, CString};
use std::time::Duration;

use super::boundary::{
    arg, arg_mut, borrow, borrowed_text, free_handle, guard, guard_value, invalid, new_handle,
    null, opt_str_arg, out_arg, str_arg, write_if_asked, CText, Outcome,
};
use super::client::{configure, upstage_client, upstage_client_builder};
use super::completion::upstage_completion;
use super::request::{edit_request, rebuild, upstage_request};
use super::stream::{upstage_cancel_token, upstage_stream};
use super::{upstage_error, upstage_status, UPSTAGE_NOT_AVAILABLE, UPSTAGE_OK};
use super::{
    UPSTAGE_TIMEOUT_CONNECT, UPSTAGE_TIMEOUT_HEADERS, UPSTAGE_TIMEOUT_IDLE, UPSTAGE_TIMEOUT_TOTAL,
};
use crate::{
    CancelHandle, ChatRequest, ChatStream, Error, RateLimit, ResponseHeaders, TimeoutPhase, Timings,
};

// ---- request: headers, query parameters, overrides ------------------------------------------

/// Adds a header to every request of the client built from `b` (e.g. `"HTTP-Referer"`,
/// `"X-Title"`, Azure's `"api-key"`). A later header of the same name (case-insensitive)
/// replaces an earlier one, and a request's own headers replace the client's; a custom
/// `User-Agent` or `Authorization` replaces the library's. Checked here:
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, or `UPSTAGE_ERR_INVALID_ARGUMENT` when
///         the name or value holds CR, LF or NUL, the name is not a valid header name, or
///         it is `Content-Length`, `Host` or `Transfer-Encoding` (set by the HTTP layer).
///         The builder is unchanged on error.
///
/// # Safety
///
/// `b` is NULL or a live builder; `name` and `value` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_add_header(
    b: *mut upstage_client_builder,
    name: *const c_char,
    value: *const c_char,
) -> upstage_status {
    configure(b, |b| {
        let (name, value) = (str_arg(name, "name")?, str_arg(value, "value")?);
        crate::request_headers::check(name, value)?;
        b.apply(|builder| builder.header(name, value))
    })
}

/// Adds a query parameter to every request of the client built from `b` (e.g.
/// `"api-version"`, `"2024-10-21"`); name and value are percent-encoded. A query string in
/// the base URL is kept, and these are appended to it.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT` (empty
///         name).
///
/// # Safety
///
/// `b` is NULL or a live builder; `name` and `value` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_add_query(
    b: *mut upstage_client_builder,
    name: *const c_char,
    value: *const c_char,
) -> upstage_status {
    configure(b, |b| {
        let (name, value) = (str_arg(name, "name")?, str_arg(value, "value")?);
        crate::url::check_name(name)?;
        b.apply(|builder| builder.query(name, value))
    })
}

/// Turns the debug log on or off for the client built from `b`, whatever `UPSTAGE_LOG` says.
/// Without this call the log is on when `UPSTAGE_LOG=debug` is set or a log callback is
/// installed (`upstage_log_set`).
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_set_debug_log(
    b: *mut upstage_client_builder,
    on: bool,
) -> upstage_status {
    configure(b, |b| b.apply(|builder| builder.debug_log(on)))
}

/// Adds a header to this request only; it replaces a client header of the same name. Same
/// rules and errors as `upstage_client_builder_add_header`.
///
/// # Safety
///
/// `r` is NULL or a live request; `name` and `value` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_request_add_header(
    r: *mut upstage_request,
    name: *const c_char,
    value: *const c_char,
) -> upstage_status {
    edit_request(r, |request| {
        let (name, value) = (str_arg(name, "name")?, str_arg(value, "value")?);
        crate::request_headers::check(name, value)?;
        rebuild(request, |request| request.header(name, value));
        Ok(())
    })
}

/// Adds a query parameter to this request only (after the client's). Same rules as
/// `upstage_client_builder_add_query`.
///
/// # Safety
///
/// `r` is NULL or a live request; `name` and `value` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_request_add_query(
    r: *mut upstage_request,
    name: *const c_char,
    value: *const c_char,
) -> upstage_status {
    edit_request(r, |request| {
        let (name, value) = (str_arg(name, "name")?, str_arg(value, "value")?);
        crate::url::check_name(name)?;
        rebuild(request, |request| request.query(name, value));
        Ok(())
    })
}

/// Overrides one of the client's timeouts for this request.
/// @param which `UPSTAGE_TIMEOUT_CONNECT`, `_HEADERS`, `_IDLE` or `_TOTAL`.
/// @param ms milliseconds; 0 means no limit.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT` (unknown
///         `which`).
///
/// # Safety
///
/// `r` is NULL or a live request.
#[no_mangle]
pub unsafe extern "C" fn upstage_request_set_timeout_ms(
    r: *mut upstage_request,
    which: i32,
    ms: u64,
) -> upstage_status {
    edit_request(r, |request| {
        let value = (ms > 0).then(|| Duration::from_millis(ms));
        let set: fn(ChatRequest, Option<Duration>) -> ChatRequest = match which {
            UPSTAGE_TIMEOUT_CONNECT => ChatRequest::connect_timeout,
            UPSTAGE_TIMEOUT_HEADERS => ChatRequest::headers_timeout,
            UPSTAGE_TIMEOUT_IDLE => ChatRequest::idle_timeout,
            UPSTAGE_TIMEOUT_TOTAL => ChatRequest::total_timeout,
            _ => {
                return Err(invalid(format!(
                    "unknown timeout {which}: use UPSTAGE_TIMEOUT_CONNECT..TOTAL (0..3)"
                )));
            }
        };
        rebuild(request, |request| set(request, value));
        Ok(())
    })
}

/// Overrides the client's retry count for this request.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `r` is NULL or a live request.
#[no_mangle]
pub unsafe extern "C" fn upstage_request_set_max_retries(
    r: *mut upstage_request,
    n: u32,
) -> upstage_status {
    edit_request(r, |request| {
        rebuild(request, |request| request.max_retries(n));
        Ok(())
    })
}

// ---- response headers and rate limits -------------------------------------------------------

/// The headers of a response (a stream's, a completion's, or an HTTP error's), copied.
///
/// Ownership: `upstage_stream_headers`, `upstage_completion_headers` and
/// `upstage_error_details_headers` hand out a copy that the caller owns; free it with
/// `upstage_headers_free`. Texts it hands out are borrowed from it, valid until that free.
///
/// Threads: immutable, so any number of threads may read it at once.
pub struct upstage_headers {
    headers: ResponseHeaders,
    /// Names and values, NUL-terminated, in the server's order.
    texts: Vec<(CText, CText)>,
}

impl upstage_headers {
    fn new(headers: &ResponseHeaders) -> upstage_headers {
        upstage_headers {
            texts: headers
                .iter()
                .map(|(n, v)| (CText::new(n), CText::new(v.trim())))
                .collect(),
            headers: headers.clone(),
        }
    }
}

/// Hands out a copy of `headers` (never fails but for a panic: then NULL).
fn hand_out_headers(headers: Option<&ResponseHeaders>) -> *mut upstage_headers {
    guard_value(std::ptr::null_mut(), || {
        headers.map_or(std::ptr::null_mut(), |h| {
            new_handle(upstage_headers::new(h))
        })
    })
}

/// The response headers of stream `s`, or NULL when `s` is NULL. The caller frees the copy
/// with `upstage_headers_free`.
///
/// # Safety
///
/// `s` is NULL or a live stream, not inside another call on another thread (except cancel).
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_headers(s: *const upstage_stream) -> *mut upstage_headers {
    guard_value(std::ptr::null_mut(), || {
        super::stream::with_stream(s, |stream| hand_out_headers(Some(stream.headers())))
            .unwrap_or(std::ptr::null_mut())
    })
}

/// The response headers of completion `c`, or NULL when `c` is NULL. The caller frees the
/// copy with `upstage_headers_free`.
///
/// # Safety
///
/// `c` is NULL or a live completion.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_headers(
    c: *const upstage_completion,
) -> *mut upstage_headers {
    hand_out_headers(borrow(c).map(|c| &c.headers))
}

/// The first value of header `name` (case-insensitive, e.g. `"x-request-id"`), or NULL when
/// there is none (or an argument is NULL). Borrowed from `h`, valid until its free.
///
/// # Safety
///
/// `h` is NULL or live; `name` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_headers_get(
    h: *const upstage_headers,
    name: *const c_char,
) -> *const c_char {
    borrowed_text(|| {
        let h = borrow(h)?;
        let name = opt_str_arg(name, "name").ok()??;
        let index = h
            .headers
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))?;
        Some(h.texts.get(index)?.1.ptr())
    })
}

/// How many header lines `h` holds (0 when `h` is NULL).
///
/// # Safety
///
/// `h` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn upstage_headers_count(h: *const upstage_headers) -> usize {
    guard_value(0, || borrow(h).map_or(0, |h| h.texts.len()))
}

/// The lower-case name of header line `index`, or NULL when out of range. Borrowed from `h`.
///
/// # Safety
///
/// `h` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn upstage_headers_name_at(
    h: *const upstage_headers,
    index: usize,
) -> *const c_char {
    borrowed_text(|| Some(borrow(h)?.texts.get(index)?.0.ptr()))
}

/// The value of header line `index`, or NULL when out of range. Borrowed from `h`.
///
/// # Safety
///
/// `h` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn upstage_headers_value_at(
    h: *const upstage_headers,
    index: usize,
) -> *const c_char {
    borrowed_text(|| Some(borrow(h)?.texts.get(index)?.1.ptr()))
}

/// Frees headers handed out by the library; NULL is a no-op.
///
/// # Safety
///
/// `h` is NULL or a live headers handle, freed once.
#[no_mangle]
pub unsafe extern "C" fn upstage_headers_free(h: *mut upstage_headers) {
    free_handle(h)
}

/// The rate limits a response reported (`x-ratelimit-*` headers); every field is -1 when the
/// server did not send it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct upstage_rate_limit {
    /// Requests allowed per window.
    pub limit_requests: i64,
    /// Requests left in the current window.
    pub remaining_requests: i64,
    /// Milliseconds until the request budget is full again.
    pub reset_requests_ms: i64,
    /// Tokens allowed per window.
    pub limit_tokens: i64,
    /// Tokens left in the current window.
    pub remaining_tokens: i64,
    /// Milliseconds until the token budget is full again.
    pub reset_tokens_ms: i64,
}

impl From<RateLimit> for upstage_rate_limit {
    fn from(l: RateLimit) -> upstage_rate_limit {
        let count = |v: Option<u64>| v.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        let ms = |d: Option<Duration>| {
            d.map_or(-1, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        };
        let r = l.requests.unwrap_or_default();
        let t = l.tokens.unwrap_or_default();
        upstage_rate_limit {
            limit_requests: count(r.limit),
            remaining_requests: count(r.remaining),
            reset_requests_ms: ms(r.reset),
            limit_tokens: count(t.limit),
            remaining_tokens: count(t.remaining),
            reset_tokens_ms: ms(t.reset),
        }
    }
}

/// The rate limits in `h`.
/// @param out filled on `UPSTAGE_OK` only.
/// @return `UPSTAGE_OK`; `UPSTAGE_NOT_AVAILABLE` when no `x-ratelimit-*` header held a
///         usable value; `UPSTAGE_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `h` is NULL or live; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_headers_rate_limit(
    h: *const upstage_headers,
    out: *mut upstage_rate_limit,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        let h = arg(h, "h")?;
        let out = out_arg(out, "out")?;
        match RateLimit::from_headers(&h.headers) {
            Some(limits) => {
                out.write(limits.into());
                Ok(UPSTAGE_OK)
            }
            None => Ok(UPSTAGE_NOT_AVAILABLE),
        }
    })
}

// ---- timings --------------------------------------------------------------------------------

/// Milestones of a request in milliseconds from when it was handed to the client (retries
/// included), -1 when not reached; and what was received.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct upstage_timings {
    /// Until the response headers were in.
    pub headers_ms: f64,
    /// Until the first reasoning text.
    pub first_reasoning_ms: f64,
    /// Until the first content text.
    pub first_content_ms: f64,
    /// Until the stream ended.
    pub end_ms: f64,
    /// Chunks that carried content (about one model token each).
    pub content_tokens: u64,
    /// Chunks that carried reasoning.
    pub reasoning_tokens: u64,
    /// Body bytes received.
    pub bytes: u64,
}

impl From<Timings> for upstage_timings {
    fn from(t: Timings) -> upstage_timings {
        let ms = |d: Option<Duration>| d.map_or(-1.0, |d| d.as_secs_f64() * 1000.0);
        upstage_timings {
            headers_ms: ms(t.headers),
            first_reasoning_ms: ms(t.first_reasoning),
            first_content_ms: ms(t.first_content),
            end_ms: ms(t.end),
            content_tokens: t.content_tokens,
            reasoning_tokens: t.reasoning_tokens,
            bytes: t.bytes,
        }
    }
}

/// The timings of stream `s` so far (the end once it finished).
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`. `out` is written on `UPSTAGE_OK`.
///
/// # Safety
///
/// `s` is NULL or a live stream used by this thread only; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_timings(
    s: *const upstage_stream,
    out: *mut upstage_timings,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        let out = out_arg(out, "out")?;
        let timings =
            super::stream::with_stream(s, ChatStream::timings).ok_or_else(|| null("s"))?;
        out.write(timings.into());
        Ok(UPSTAGE_OK)
    })
}

/// The timings of completion `c`.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `c` is NULL or a live completion; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_timings(
    c: *const upstage_completion,
    out: *mut upstage_timings,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        let c = arg(c, "c")?;
        let out = out_arg(out, "out")?;
        out.write(c.timings.into());
        Ok(UPSTAGE_OK)
    })
}

// ---- the debug log --------------------------------------------------------------------------

/// Receives one debug-log line (NUL-terminated UTF-8, no final newline), borrowed for the
/// call. Called on whichever thread the client runs; must return quickly and must not unwind.
pub type upstage_log_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, line: *const c_char)>;

/// The C callback and its user data, as a Rust log writer.
struct LogCallback {
    callback: unsafe extern "C" fn(*mut c_void, *const c_char),
    userdata: *mut c_void,
}

// SAFETY: the caller of `upstage_log_set` promises that the callback may be called from any
// thread with this user data (its documented contract); the pointer is only passed back.
unsafe impl Send for LogCallback {}
// SAFETY: as for `Send`: the pointer is never dereferenced here, only handed to the callback.
unsafe impl Sync for LogCallback {}

impl LogCallback {
    fn call(&self, line: &str) {
        // A NUL inside a line cannot be passed as C text: cut there.
        let line = CString::new(line.split('\0').next().unwrap_or("")).unwrap_or_default();
        // SAFETY: `callback` is the function the caller installed with `upstage_log_set`,
        // which accepts its `userdata` and a NUL-terminated line valid for the call.
        unsafe { (self.callback)(self.userdata, line.as_ptr()) }
    }
}

/// Sends debug-log lines to `callback` (with `userdata`) instead of stderr; NULL puts stderr
/// back. Installing a callback also turns the log on for every client whose builder did not
/// turn it off (`upstage_client_builder_set_debug_log`). Lines never contain the API key,
/// a credential header's value or a proxy password. Global to the process.
///
/// # Safety
///
/// `callback` is NULL or a function safe to call from any thread with `userdata`, until it is
/// replaced (after this returns, no new call starts; one already running may finish).
#[no_mangle]
pub unsafe extern "C" fn upstage_log_set(callback: upstage_log_callback, userdata: *mut c_void) {
    guard_value((), || {
        let writer = callback.map(|callback| {
            let target = LogCallback { callback, userdata };
            Box::new(move |line: &str| target.call(line)) as crate::DebugLogWriter
        });
        crate::set_debug_log_writer(writer);
    })
}

// ---- error details --------------------------------------------------------------------------

/// Everything known about an error, beyond `upstage_error`: request id, retry-after, the
/// server's error type, code and param, the timeout phase, attempts, response headers.
///
/// Ownership: handed out by the `*_with` functions and `upstage_stream_error_details`; the
/// caller owns it and frees it with `upstage_error_details_free`. Texts are borrowed from
/// it, valid until that free.
///
/// Threads: immutable, so any number of threads may read it at once.
pub struct upstage_error_details {
    error: Error,
    message: CText,
    request_id: Option<CText>,
    api_type: Option<CText>,
    api_code: Option<CText>,
    api_param: Option<CText>,
}

impl upstage_error_details {
    fn new(error: &Error) -> upstage_error_details {
        upstage_error_details {
            message: CText::new(error.message()),
            request_id: error.request_id().map(CText::new),
            api_type: error.api_type().map(CText::new),
            api_code: error.api_code().map(CText::new),
            api_param: error.api_param().map(CText::new),
            error: error.clone(),
        }
    }
}

/// Runs `body` like `guard`, and hands the error (if any) out through `details` as well:
/// `*details` receives a new details handle on error and NULL on success (when `details` is
/// not NULL).
fn guard_detailed(
    err: *mut upstage_error,
    details: *mut *mut upstage_error_details,
    body: impl FnOnce() -> Outcome,
) -> upstage_status {
    let mut failure = None;
    let status = guard(err, || {
        body().inspect_err(|error| {
            if !details.is_null() {
                failure = Some(upstage_error_details::new(error));
            }
        })
    });
    // Handed out only when asked for: a handle nobody receives would leak.
    write_if_asked(details, failure.map_or(std::ptr::null_mut(), new_handle));
    status
}

/// The details of the error that ended stream `s`, or NULL when it has not failed (or `s` is
/// NULL). The caller frees them with `upstage_error_details_free`.
///
/// # Safety
///
/// `s` is NULL or a live stream used by this thread only.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_error_details(
    s: *const upstage_stream,
) -> *mut upstage_error_details {
    guard_value(std::ptr::null_mut(), || {
        super::stream::with_stream(s, |stream| {
            stream
                .error()
                .map(|e| new_handle(upstage_error_details::new(e)))
        })
        .flatten()
        .unwrap_or(std::ptr::null_mut())
    })
}

/// The status (`UPSTAGE_ERR_*`); `UPSTAGE_ERR_NULL_ARGUMENT` when `d` is NULL.
///
/// # Safety
///
/// `d` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn upstage_error_details_status(
    d: *const upstage_error_details,
) -> upstage_status {
    guard_value(super::UPSTAGE_ERR_NULL_ARGUMENT, || {
        borrow(d).map_or(super::UPSTAGE_ERR_NULL_ARGUMENT, |d| {
            d.error.kind().status()
        })
    })
}

/// The HTTP status, 0 when there was none (or `d` is NULL).
///
/// # Safety
///
/// `d` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn upstage_error_details_http_status(d: *const upstage_error_details) -> i32 {
    guard_value(0, || {
        borrow(d)
            .and_then(|d| d.error.http_status())
            .map_or(0, i32::from)
    })
}

/// The whole message (not cut at 511 bytes like `upstage_error.message`). Borrowed from `d`.
///
/// # Safety
///
/// `d` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn upstage_error_details_message(
    d: *const upstage_error_details,
) -> *const c_char {
    borrowed_text(|| Some(borrow(d)?.message.ptr()))
}

/// The response's `x-request-id` (or the stream's id), or NULL. Borrowed from `d`.
///
/// # Safety
///
/// `d` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn upstage_error_details_request_id(
    d: *const upstage_error_details,
) -> *const c_char {
    borrowed_text(|| Some(borrow(d)?.request_id.as_ref()?.ptr()))
}

/// The server's error `type`, or NULL. Borrowed from `d`.
///
/// # Safety
///
/// `d` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn upstage_error_details_api_type(
    d: *const upstage_error_details,
) -> *const c_char {
    borrowed_text(|| Some(borrow(d)?.api_type.as_ref()?.ptr()))
}

/// The server's error `code` (a number is given as text), or NULL. Borrowed from `d`.
///
/// # Safety
///
/// `d` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn upstage_error_details_api_code(
    d: *const upstage_error_details,
) -> *const c_char {
    borrowed_text(|| Some(borrow(d)?.api_code.as_ref()?.ptr()))
}

/// The server's error `param`, or NULL. Borrowed from `d`.
///
/// # Safety
///
/// `d` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn upstage_error_details_api_param(
    d: *const upstage_error_details,
) -> *const c_char {
    borrowed_text(|| Some(borrow(d)?.api_param.as_ref()?.ptr()))
}

/// The wait the server asked for (`retry-after-ms` / `retry-after`) in milliseconds, -1
/// when it asked none.
///
/// # Safety
///
/// `d` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn upstage_error_details_retry_after_ms(
    d: *const upstage_error_details,
) -> i64 {
    guard_value(-1, || {
        borrow(d)
            .and_then(|d| d.error.retry_after())
            .map_or(-1, |w| i64::try_from(w.as_millis()).unwrap_or(i64::MAX))
    })
}

/// Which timeout expired (`UPSTAGE_TIMEOUT_CONNECT`, `_HEADERS`, `_IDLE`, `_TOTAL`), -1 when
/// the error is not a timeout.
///
/// # Safety
///
/// `d` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn upstage_error_details_timeout_phase(
    d: *const upstage_error_details,
) -> i32 {
    guard_value(-1, || {
        match borrow(d).and_then(|d| d.error.timeout_phase()) {
            Some(TimeoutPhase::Connect) => UPSTAGE_TIMEOUT_CONNECT,
            Some(TimeoutPhase::Headers) => UPSTAGE_TIMEOUT_HEADERS,
            Some(TimeoutPhase::Idle) => UPSTAGE_TIMEOUT_IDLE,
            Some(TimeoutPhase::Total) => UPSTAGE_TIMEOUT_TOTAL,
            _ => -1,
        }
    })
}

/// How many HTTP attempts were made (1 without retries; 0 when `d` is NULL).
///
/// # Safety
///
/// `d` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn upstage_error_details_attempts(d: *const upstage_error_details) -> u32 {
    guard_value(0, || borrow(d).map_or(0, |d| d.error.attempts()))
}

/// The headers of the HTTP response behind the error, or NULL when there was none (a
/// connect error, a timeout before the headers). The caller frees the copy with
/// `upstage_headers_free`.
///
/// # Safety
///
/// `d` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn upstage_error_details_headers(
    d: *const upstage_error_details,
) -> *mut upstage_headers {
    hand_out_headers(borrow(d).and_then(|d| d.error.headers()))
}

/// Frees error details; NULL is a no-op.
///
/// # Safety
///
/// `d` is NULL or live, freed once.
#[no_mangle]
pub unsafe extern "C" fn upstage_error_details_free(d: *mut upstage_error_details) {
    free_handle(d)
}

// ---- stream options, open/complete with details, record and replay ---------------------------

/// Options for one call of `upstage_stream_open_with` or `upstage_chat_complete_with`.
///
/// Ownership: `upstage_stream_options_new` hands them out; the caller frees them with
/// `upstage_stream_options_free` (any time after the call that used them returned).
///
/// Threads: one thread at a time.
pub struct upstage_stream_options {
    cancel: Option<CancelHandle>,
    record_path: Option<String>,
}

/// New options: not cancellable from outside, no recording. NULL only on a panic.
#[no_mangle]
pub extern "C" fn upstage_stream_options_new() -> *mut upstage_stream_options {
    guard_value(std::ptr::null_mut(), || {
        new_handle(upstage_stream_options {
            cancel: None,
            record_path: None,
        })
    })
}

/// Makes the call cancellable through `t` (see `upstage_stream_open_cancellable`); `t` may
/// be freed after this returns. NULL `t`: not cancellable.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT` (`o` NULL).
///
/// # Safety
///
/// `o` is NULL or live; `t` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_options_set_cancel(
    o: *mut upstage_stream_options,
    t: *const upstage_cancel_token,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        let o = arg_mut(o, "o")?;
        o.cancel = borrow(t).map(|t| t.handle().clone());
        Ok(UPSTAGE_OK)
    })
}

/// Records the response into the file at `path` (created or truncated when the response
/// arrives): status, headers without credentials or cookies, and the body exactly as read.
/// `upstage_stream_replay` plays it back. NULL `path`: no recording.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT` (`o` NULL), `UPSTAGE_ERR_INVALID_ARGUMENT`
///         (not UTF-8).
///
/// # Safety
///
/// `o` is NULL or live; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_options_set_record_path(
    o: *mut upstage_stream_options,
    path: *const c_char,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        let o = arg_mut(o, "o")?;
        o.record_path = opt_str_arg(path, "path")?.map(str::to_owned);
        Ok(UPSTAGE_OK)
    })
}

/// Frees options; NULL is a no-op.
///
/// # Safety
///
/// `o` is NULL or live, freed once.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_options_free(o: *mut upstage_stream_options) {
    free_handle(o)
}

/// The recording file of the options, opened for writing.
fn recording(o: Option<&upstage_stream_options>) -> Result<Option<std::fs::File>, Error> {
    match o.and_then(|o| o.record_path.as_deref()) {
        None => Ok(None),
        Some(path) => std::fs::File::create(path)
            .map(Some)
            .map_err(|e| invalid(format!("cannot create the recording {path:?}: {e}"))),
    }
}

/// Like `upstage_stream_open`, with options (cancel token, recording; `o` may be NULL) and
/// the full error: when `details` is not NULL, `*details` receives a new
/// `upstage_error_details` on error (the caller frees it) and NULL on success.
/// @return as `upstage_stream_open`.
///
/// # Safety
///
/// As `upstage_stream_open`; `o` is NULL or live; `details` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_open_with(
    c: *const upstage_client,
    r: *const upstage_request,
    o: *const upstage_stream_options,
    out: *mut *mut upstage_stream,
    err: *mut upstage_error,
    details: *mut *mut upstage_error_details,
) -> upstage_status {
    guard_detailed(err, details, || {
        let (c, r) = (arg(c, "c")?, arg(r, "r")?);
        let out = out_arg(out, "out")?;
        let o = borrow(o);
        let cancel = o.and_then(|o| o.cancel.clone()).unwrap_or_default();
        let stream = match recording(o)? {
            Some(file) => c.client.stream_recorded(&r.request, file, &cancel)?,
            None => c.client.stream_with_cancel(&r.request, &cancel)?,
        };
        out.hand_out(super::stream::stream_handle(stream));
        Ok(UPSTAGE_OK)
    })
}

/// Like `upstage_chat_complete`, with options (`o` may be NULL) and the full error in
/// `*details` (as `upstage_stream_open_with`).
///
/// # Safety
///
/// As `upstage_chat_complete`; `o` is NULL or live; `details` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_chat_complete_with(
    c: *const upstage_client,
    r: *const upstage_request,
    o: *const upstage_stream_options,
    out: *mut *mut upstage_completion,
    err: *mut upstage_error,
    details: *mut *mut upstage_error_details,
) -> upstage_status {
    guard_detailed(err, details, || {
        let (c, r) = (arg(c, "c")?, arg(r, "r")?);
        let out = out_arg(out, "out")?;
        let o = borrow(o);
        let cancel = o.and_then(|o| o.cancel.clone()).unwrap_or_default();
        let completion = match recording(o)? {
            Some(file) => c.client.complete_recorded(&r.request, file, &cancel)?,
            None => c.client.complete_with_cancel(&r.request, &cancel)?,
        };
        out.hand_out(upstage_completion::from(completion));
        Ok(UPSTAGE_OK)
    })
}

/// Opens a stream over a recording (`upstage_stream_options_set_record_path`, the CLI's
/// `--record`, or `curl -i` output) instead of the network, decoded as client `c` would
/// (its flavor and limits). A recorded HTTP error is returned as that error.
/// @return as `upstage_stream_open`; `UPSTAGE_ERR_INVALID_ARGUMENT` when the file cannot be
///         read or is not a recording.
///
/// # Safety
///
/// `c` is NULL or live; `path` is NULL or NUL-terminated; `out`, `err`, `details` are NULL
/// or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_replay(
    c: *const upstage_client,
    path: *const c_char,
    out: *mut *mut upstage_stream,
    err: *mut upstage_error,
    details: *mut *mut upstage_error_details,
) -> upstage_status {
    guard_detailed(err, details, || {
        let c = arg(c, "c")?;
        let path = str_arg(path, "path")?;
        let out = out_arg(out, "out")?;
        let file = std::fs::File::open(path)
            .map_err(|e| invalid(format!("cannot open the recording {path:?}: {e}")))?;
        let stream = ChatStream::replay(file, c.client.flavor(), c.client.limits())?;
        out.hand_out(super::stream::stream_handle(stream));
        Ok(UPSTAGE_OK)
    })
}
