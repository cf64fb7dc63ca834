//! The client builder and the client.

use std::ffi::c_char;
use std::time::Duration;

use super::{
    error, guard, guard_value, null, opt_str_arg, str_arg, upstage_error, upstage_status, Outcome,
    UPSTAGE_OK,
};
use crate::{Client, ClientBuilder, ErrorKind, Flavor, Limits};

/// `upstage_client_builder_set_timeout_ms`: establishing the connection (default 10 s).
pub const UPSTAGE_TIMEOUT_CONNECT: i32 = 0;
/// `upstage_client_builder_set_timeout_ms`: waiting for the response headers (default 600 s).
pub const UPSTAGE_TIMEOUT_HEADERS: i32 = 1;
/// `upstage_client_builder_set_timeout_ms`: between two reads of the body (default 300 s).
pub const UPSTAGE_TIMEOUT_IDLE: i32 = 2;
/// `upstage_client_builder_set_timeout_ms`: the whole request (default: none).
pub const UPSTAGE_TIMEOUT_TOTAL: i32 = 3;

/// `upstage_client_builder_set_limit`: the longest SSE line (default 4 MiB).
pub const UPSTAGE_LIMIT_LINE: i32 = 0;
/// `upstage_client_builder_set_limit`: the largest SSE event and non-streamed JSON answer
/// (default 16 MiB).
pub const UPSTAGE_LIMIT_EVENT: i32 = 1;
/// `upstage_client_builder_set_limit`: how much of an HTTP error body is read (default 64 KiB).
pub const UPSTAGE_LIMIT_ERROR_BODY: i32 = 2;

/// Configures a client. Created by `upstage_client_builder_new`, consumed by
/// `upstage_client_builder_build` (or abandoned with `upstage_client_builder_free`).
/// Use from one thread at a time.
pub struct upstage_client_builder {
    pub(crate) builder: ClientBuilder,
    limits: Limits,
}

/// A configured client: immutable and thread-safe. Share one across threads and streams;
/// free it with `upstage_client_free` after the last call that uses it has returned (streams
/// opened from it stay valid: they keep what they need).
pub struct upstage_client {
    pub(crate) client: Client,
}

/// A new builder with the defaults plus the environment (`UPSTAGE_API_KEY`,
/// `UPSTAGE_BASE_URL`, `UPSTAGE_MODEL`; proxies from `ALL_PROXY`/`HTTPS_PROXY`/`HTTP_PROXY`).
/// Defaults: official API (`https://api.upstage.ai/v1`), timeouts connect 10 s, headers
/// 600 s, idle 300 s, no total; 2 retries. Returns NULL only if memory ran out (a panic).
#[no_mangle]
pub extern "C" fn upstage_client_builder_new() -> *mut upstage_client_builder {
    guard_value(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(upstage_client_builder {
            builder: ClientBuilder::from_env(),
            limits: Limits::default(),
        }))
    })
}

/// Runs `f` on the builder behind `b`, with the panic boundary and NULL check.
///
/// # Safety
///
/// `b` is NULL or a live builder not used by another thread.
unsafe fn with_builder(
    b: *mut upstage_client_builder,
    f: impl FnOnce(ClientBuilder) -> Result<ClientBuilder, crate::Error>,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        // SAFETY: `b` is NULL or a live builder used by this thread only (contract).
        let b = unsafe { b.as_mut() }.ok_or_else(|| null("b"))?;
        b.builder = f(std::mem::take(&mut b.builder))?;
        Ok(UPSTAGE_OK)
    })
}

/// Sets the API key, sent as `Authorization: Bearer <key>` (the web demo flavor never sends
/// it). An empty key means none. The key is copied; it never appears in error messages.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT` (not UTF-8).
///
/// # Safety
///
/// `b` is NULL or a live builder; `key` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_set_api_key(
    b: *mut upstage_client_builder,
    key: *const c_char,
) -> upstage_status {
    // SAFETY: forwarded contract of `key`.
    let key = unsafe { str_arg(key, "key") };
    // SAFETY: forwarded contract of `b`.
    unsafe { with_builder(b, |builder| Ok(builder.api_key(key?))) }
}

/// Sets the base URL; requests go to `{base}/chat/completions` (or
/// `{base}/web/demo/chat/completions` for the web demo). Checked by
/// `upstage_client_builder_build`.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT` (not UTF-8).
///
/// # Safety
///
/// `b` is NULL or a live builder; `url` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_set_base_url(
    b: *mut upstage_client_builder,
    url: *const c_char,
) -> upstage_status {
    // SAFETY: forwarded contract of `url`.
    let url = unsafe { str_arg(url, "url") };
    // SAFETY: forwarded contract of `b`.
    unsafe { with_builder(b, |builder| Ok(builder.base_url(url?))) }
}

/// Selects the seed's web demo flavor (`on` true) or the official API flavor (false, the
/// default).
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_set_web_demo(
    b: *mut upstage_client_builder,
    on: bool,
) -> upstage_status {
    let flavor = if on { Flavor::WebDemo } else { Flavor::Api };
    // SAFETY: forwarded contract of `b`.
    unsafe { with_builder(b, |builder| Ok(builder.flavor(flavor))) }
}

/// Sets the proxy (`http://`, `socks5://`, `socks5h://`, credentials allowed). NULL: no
/// proxy at all, the environment's ignored. Without this call the environment decides.
/// Checked by `upstage_client_builder_build`.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT` (b NULL), `UPSTAGE_ERR_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `b` is NULL or a live builder; `url` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_set_proxy(
    b: *mut upstage_client_builder,
    url: *const c_char,
) -> upstage_status {
    // SAFETY: forwarded contract of `url`.
    let url = unsafe { opt_str_arg(url, "url") };
    // SAFETY: forwarded contract of `b`.
    unsafe { with_builder(b, |builder| Ok(builder.proxy(url?))) }
}

/// Sets one timeout in milliseconds; `ms` 0 means no limit.
/// @param which `UPSTAGE_TIMEOUT_CONNECT`, `UPSTAGE_TIMEOUT_HEADERS`, `UPSTAGE_TIMEOUT_IDLE`
///        or `UPSTAGE_TIMEOUT_TOTAL`.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT` (bad
///         `which`).
///
/// # Safety
///
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_set_timeout_ms(
    b: *mut upstage_client_builder,
    which: i32,
    ms: u64,
) -> upstage_status {
    let timeout = (ms > 0).then(|| Duration::from_millis(ms));
    // SAFETY: forwarded contract of `b`.
    unsafe {
        with_builder(b, |builder| match which {
            UPSTAGE_TIMEOUT_CONNECT => Ok(builder.connect_timeout(timeout)),
            UPSTAGE_TIMEOUT_HEADERS => Ok(builder.headers_timeout(timeout)),
            UPSTAGE_TIMEOUT_IDLE => Ok(builder.idle_timeout(timeout)),
            UPSTAGE_TIMEOUT_TOTAL => Ok(builder.total_timeout(timeout)),
            _ => Err(error(
                ErrorKind::InvalidArgument,
                format!("unknown timeout {which}: use UPSTAGE_TIMEOUT_CONNECT..TOTAL (0..3)"),
            )),
        })
    }
}

/// Sets how many times a failed attempt is retried before the first token (default 2).
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_set_max_retries(
    b: *mut upstage_client_builder,
    n: u32,
) -> upstage_status {
    // SAFETY: forwarded contract of `b`.
    unsafe { with_builder(b, |builder| Ok(builder.max_retries(n))) }
}

/// Sets the model used when a request names none (official API flavor; default
/// `"solar-pro4"`, or `UPSTAGE_MODEL`). An empty name restores the default.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT` (not UTF-8).
///
/// # Safety
///
/// `b` is NULL or a live builder; `model` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_set_default_model(
    b: *mut upstage_client_builder,
    model: *const c_char,
) -> upstage_status {
    // SAFETY: forwarded contract of `model`.
    let model = unsafe { str_arg(model, "model") };
    // SAFETY: forwarded contract of `b`.
    unsafe { with_builder(b, |builder| Ok(builder.default_model(model?))) }
}

/// Trusts the certificates of this PEM file instead of the bundled web roots (read by
/// `upstage_client_builder_build`).
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT` (not UTF-8).
///
/// # Safety
///
/// `b` is NULL or a live builder; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_set_ca_file(
    b: *mut upstage_client_builder,
    path: *const c_char,
) -> upstage_status {
    // SAFETY: forwarded contract of `path`.
    let path = unsafe { str_arg(path, "path") };
    // SAFETY: forwarded contract of `b`.
    unsafe { with_builder(b, |builder| Ok(builder.ca_file(path?))) }
}

/// Sets one size limit in bytes; exceeding it is `UPSTAGE_ERR_LIMIT`, never an
/// out-of-memory.
/// @param which `UPSTAGE_LIMIT_LINE`, `UPSTAGE_LIMIT_EVENT` or `UPSTAGE_LIMIT_ERROR_BODY`.
/// @param bytes the limit, at least 1.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT` (bad
///         `which`, or 0 bytes).
///
/// # Safety
///
/// `b` is NULL or a live builder.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_set_limit(
    b: *mut upstage_client_builder,
    which: i32,
    bytes: usize,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        // SAFETY: `b` is NULL or a live builder used by this thread only (contract).
        let b = unsafe { b.as_mut() }.ok_or_else(|| null("b"))?;
        if bytes == 0 {
            return Err(error(ErrorKind::InvalidArgument, "a limit must be > 0"));
        }
        let mut limits = b.limits;
        match which {
            UPSTAGE_LIMIT_LINE => limits.max_line = bytes,
            UPSTAGE_LIMIT_EVENT => limits.max_event = bytes,
            UPSTAGE_LIMIT_ERROR_BODY => limits.max_error_body = bytes,
            _ => {
                return Err(error(
                    ErrorKind::InvalidArgument,
                    format!("unknown limit {which}: use UPSTAGE_LIMIT_LINE..ERROR_BODY (0..2)"),
                ))
            }
        }
        b.limits = limits;
        b.builder = std::mem::take(&mut b.builder).limits(limits);
        Ok(UPSTAGE_OK)
    })
}

/// Checks the configuration and builds the client; no I/O except reading a CA file.
/// Always consumes `b`, success or not: do not use or free it afterwards.
/// @param out receives the new client on success (untouched otherwise); free it with
///        `upstage_client_free`.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT` (bad URL,
///         proxy or CA file; no API key for the official API).
///
/// # Safety
///
/// `b` is NULL or a live builder (it is freed); `out` and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_build(
    b: *mut upstage_client_builder,
    out: *mut *mut upstage_client,
    err: *mut upstage_error,
) -> upstage_status {
    guard(err, || -> Outcome {
        if b.is_null() {
            return Err(null("b"));
        }
        // SAFETY: `b` came from `upstage_client_builder_new` and is given up by the caller:
        // we take ownership back, so it is freed on every path below.
        let builder = unsafe { Box::from_raw(b) }.builder;
        if out.is_null() {
            return Err(null("out"));
        }
        let client = builder.build()?;
        let handle = Box::into_raw(Box::new(upstage_client { client }));
        // SAFETY: `out` is non-NULL and writable by the caller's contract.
        unsafe { out.write(handle) };
        Ok(UPSTAGE_OK)
    })
}

/// Frees a builder that will not be built. NULL is a no-op.
///
/// # Safety
///
/// `b` is NULL or a live builder, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_free(b: *mut upstage_client_builder) {
    guard_value((), || {
        if !b.is_null() {
            // SAFETY: `b` came from `upstage_client_builder_new` and is given up by the caller.
            drop(unsafe { Box::from_raw(b) });
        }
    })
}

/// Frees a client. NULL is a no-op. Streams opened from it remain usable.
///
/// # Safety
///
/// `c` is NULL or a live client that no other thread is using any more.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_free(c: *mut upstage_client) {
    guard_value((), || {
        if !c.is_null() {
            // SAFETY: `c` came from `upstage_client_builder_build` and is given up by the caller.
            drop(unsafe { Box::from_raw(c) });
        }
    })
}
