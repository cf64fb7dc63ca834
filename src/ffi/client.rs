//! The client builder and the client.

use std::ffi::c_char;
use std::time::Duration;

use super::boundary::{
    arg_mut, free_handle, guard, guard_value, invalid, new_handle, opt_str_arg, out_arg, str_arg,
    take_handle,
};
use super::{upstage_error, upstage_status, UPSTAGE_OK};
use crate::{Client, ClientBuilder, Error, Flavor, Limits};

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
/// `upstage_client_builder_set_limit`: how much a stream keeps for its completion: texts,
/// tool calls and log probabilities of every choice (default 256 MiB).
pub const UPSTAGE_LIMIT_ASSEMBLED: i32 = 3;

/// Configures a client.
///
/// Ownership: `upstage_client_builder_new` hands out a builder that the caller owns. The
/// setters only borrow it. Give it back exactly once: to `upstage_client_builder_build`,
/// which always consumes it (success or not), or to `upstage_client_builder_free`.
///
/// Threads: one thread at a time.
pub struct upstage_client_builder {
    pub(crate) builder: ClientBuilder,
    limits: Limits,
}

/// A configured client.
///
/// Ownership: `upstage_client_builder_build` hands out a client that the caller owns; free it
/// with `upstage_client_free` after the last call that uses it has returned. Functions that
/// take a `const upstage_client *` only borrow it for the call. Streams and completions made
/// with it keep what they need, so they stay valid after the client is freed.
///
/// Threads: immutable and thread-safe; any number of threads may use one client at once.
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
        new_handle(upstage_client_builder {
            builder: ClientBuilder::from_env(),
            limits: Limits::default(),
        })
    })
}

/// The body of a builder setter: `change` checks its arguments, then applies them with
/// [`upstage_client_builder::apply`]; a bad argument leaves the builder as it was.
pub(super) fn configure(
    b: *mut upstage_client_builder,
    change: impl FnOnce(&mut upstage_client_builder) -> Result<(), Error>,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        change(arg_mut(b, "b")?)?;
        Ok(UPSTAGE_OK)
    })
}

impl upstage_client_builder {
    /// Replaces the Rust builder with `f(builder)` (its methods take it by value). Never
    /// fails: it returns a `Result` so that it can end a setter's `configure` body.
    pub(super) fn apply(
        &mut self,
        f: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> Result<(), Error> {
        self.builder = f(std::mem::take(&mut self.builder));
        Ok(())
    }
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
    configure(b, |b| {
        let key = str_arg(key, "key")?;
        b.apply(|builder| builder.api_key(key))
    })
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
    configure(b, |b| {
        let url = str_arg(url, "url")?;
        b.apply(|builder| builder.base_url(url))
    })
}

/// Selects the legacy web demo flavor, the endpoint g4f's Upstage provider uses (`on` true),
/// or the official API flavor (false, the default).
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
    configure(b, |b| b.apply(|builder| builder.flavor(flavor)))
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
    configure(b, |b| {
        let url = opt_str_arg(url, "url")?;
        let proxy = match url {
            Some(url) => crate::Proxy::Url(url.to_owned()),
            None => crate::Proxy::Disabled,
        };
        b.apply(|builder| builder.proxy(proxy))
    })
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
    configure(b, |b| {
        let set: fn(ClientBuilder, Option<Duration>) -> ClientBuilder = match which {
            UPSTAGE_TIMEOUT_CONNECT => ClientBuilder::connect_timeout,
            UPSTAGE_TIMEOUT_HEADERS => ClientBuilder::headers_timeout,
            UPSTAGE_TIMEOUT_IDLE => ClientBuilder::idle_timeout,
            UPSTAGE_TIMEOUT_TOTAL => ClientBuilder::total_timeout,
            _ => {
                return Err(invalid(format!(
                    "unknown timeout {which}: use UPSTAGE_TIMEOUT_CONNECT..TOTAL (0..3)"
                )))
            }
        };
        b.apply(|builder| set(builder, timeout))
    })
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
    configure(b, |b| b.apply(|builder| builder.max_retries(n)))
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
    configure(b, |b| {
        let model = str_arg(model, "model")?;
        b.apply(|builder| builder.default_model(model))
    })
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
    configure(b, |b| {
        let path = str_arg(path, "path")?;
        b.apply(|builder| builder.ca_file(path))
    })
}

/// Sets one size limit in bytes; exceeding it is `UPSTAGE_ERR_LIMIT`, never an
/// out-of-memory.
/// @param which `UPSTAGE_LIMIT_LINE`, `UPSTAGE_LIMIT_EVENT`, `UPSTAGE_LIMIT_ERROR_BODY` or
///              `UPSTAGE_LIMIT_ASSEMBLED`.
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
    configure(b, |b| {
        if bytes == 0 {
            return Err(invalid("a limit must be > 0"));
        }
        let limit = match which {
            UPSTAGE_LIMIT_LINE => &mut b.limits.max_line,
            UPSTAGE_LIMIT_EVENT => &mut b.limits.max_event,
            UPSTAGE_LIMIT_ERROR_BODY => &mut b.limits.max_error_body,
            UPSTAGE_LIMIT_ASSEMBLED => &mut b.limits.max_assembled,
            _ => {
                return Err(invalid(format!(
                    "unknown limit {which}: use UPSTAGE_LIMIT_LINE..ASSEMBLED (0..3)"
                )))
            }
        };
        *limit = bytes;
        let limits = b.limits;
        b.apply(|builder| builder.limits(limits))
    })
}

/// Checks the configuration and builds the client; no I/O except reading a CA file.
/// Takes ownership of `b` and always frees it, success or not: do not use or free it
/// afterwards.
/// @param out receives the new client on success (untouched otherwise); the caller owns it
///        and frees it with `upstage_client_free`.
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
    guard(err, || {
        // Taken back first: the builder is freed on every path, as documented.
        let builder = take_handle(b, "b")?.builder;
        let out = out_arg(out, "out")?;
        out.hand_out(upstage_client {
            client: builder.build()?,
        });
        Ok(UPSTAGE_OK)
    })
}

/// Frees a builder that will not be built (not one given to `upstage_client_builder_build`,
/// which already freed it). NULL is a no-op.
///
/// # Safety
///
/// `b` is NULL or a live builder, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_builder_free(b: *mut upstage_client_builder) {
    free_handle(b)
}

/// Frees a client. NULL is a no-op. Streams and completions made with it remain usable.
///
/// # Safety
///
/// `c` is NULL or a live client that no other thread is using any more.
#[no_mangle]
pub unsafe extern "C" fn upstage_client_free(c: *mut upstage_client) {
    free_handle(c)
}

#[cfg(test)]
mod tests {
    use std::ptr;

    use super::*;
    use crate::ffi::UPSTAGE_ERR_INVALID_ARGUMENT;

    #[test]
    fn a_rejected_setting_leaves_the_builder_as_it_was() {
        let b = upstage_client_builder_new();
        let mut client = ptr::null_mut();
        // SAFETY: the C API used as documented: a live builder, NUL-terminated strings, the
        // builder consumed by `build` and the client freed once.
        unsafe {
            assert_eq!(upstage_client_builder_set_api_key(b, c"k".as_ptr()), 0);
            let url = c"http://127.0.0.1:9/v1";
            assert_eq!(upstage_client_builder_set_base_url(b, url.as_ptr()), 0);
            let model = c"solar-mini4";
            assert_eq!(
                upstage_client_builder_set_default_model(b, model.as_ptr()),
                0
            );

            let bad = UPSTAGE_ERR_INVALID_ARGUMENT;
            assert_eq!(upstage_client_builder_set_timeout_ms(b, 99, 5), bad);
            assert_eq!(upstage_client_builder_set_limit(b, 99, 5), bad);
            assert_eq!(
                upstage_client_builder_set_limit(b, UPSTAGE_LIMIT_LINE, 0),
                bad
            );
            let not_utf8 = c"\xff";
            assert_eq!(
                upstage_client_builder_set_ca_file(b, not_utf8.as_ptr()),
                bad
            );
            assert_eq!(upstage_client_builder_set_proxy(b, not_utf8.as_ptr()), bad);

            assert_eq!(
                upstage_client_builder_build(b, &mut client, ptr::null_mut()),
                0
            );
            let built = &(*client).client;
            assert_eq!(built.endpoint(), "http://127.0.0.1:9/v1/chat/completions");
            assert_eq!(built.default_model(), "solar-mini4");
            assert_eq!(built.limits(), Limits::default());
            upstage_client_free(client);
        }
    }
}
