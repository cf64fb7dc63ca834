//! The C ABI: `extern "C"` functions, opaque handles and the error struct of
//! `include/upstage.h` (generated from this module by `build.rs` with cbindgen).
//!
//! This is the only module of the crate with `unsafe` code; every `unsafe` block carries a
//! `SAFETY:` comment. Every entry point
//!
//! - runs behind a panic boundary ([`UPSTAGE_ERR_PANIC`], or NULL for pointer returns),
//! - checks every pointer argument ([`UPSTAGE_ERR_NULL_ARGUMENT`]),
//! - validates every string argument as UTF-8 ([`UPSTAGE_ERR_INVALID_ARGUMENT`]),
//! - writes its out-parameters only on success,
//! - fills the caller's [`upstage_error`] (when non-NULL) on every return.
//!
//! No thread-local "last error" exists: errors travel only through `upstage_error`.
// The C names are the contract (`upstage_client`, `upstage_error`, ...).
#![allow(non_camel_case_types)]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

use std::any::Any;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::{Error, ErrorKind};

mod catalog;
mod client;
mod completion;
mod request;
mod stream;
mod surface;

pub use catalog::*;
pub use client::*;
pub use completion::*;
pub use request::*;
pub use stream::*;
pub use surface::*;

/// A status code: `UPSTAGE_OK` (0) and `UPSTAGE_DONE` (1) are success, every negative value
/// is an error (`UPSTAGE_ERR_*`), `UPSTAGE_NOT_AVAILABLE` (2) means "no such value (yet)".
pub type upstage_status = i32;

/// Success; for `upstage_stream_next` and `upstage_stream_next_event`: a token or event was
/// produced.
pub const UPSTAGE_OK: upstage_status = 0;
/// The stream finished normally (`data: [DONE]`, or a clean end after a `finish_reason`).
pub const UPSTAGE_DONE: upstage_status = 1;
/// Not an error: the value asked for is not known (yet), e.g. usage before the server sent
/// it (`upstage_stream_usage`, `upstage_completion_usage`).
pub const UPSTAGE_NOT_AVAILABLE: upstage_status = 2;
/// A required pointer argument was NULL.
pub const UPSTAGE_ERR_NULL_ARGUMENT: upstage_status = -1;
/// Bad UTF-8, bad JSON, empty messages, a bad option value or a missing API key.
pub const UPSTAGE_ERR_INVALID_ARGUMENT: upstage_status = -2;
/// DNS, TCP, TLS or proxy failure.
pub const UPSTAGE_ERR_CONNECT: upstage_status = -3;
/// A connect, headers, idle or total timeout expired.
pub const UPSTAGE_ERR_TIMEOUT: upstage_status = -4;
/// The server answered with a non-2xx status (`http_status` is set; the message is the
/// server's own words when it sent any).
pub const UPSTAGE_ERR_HTTP: upstage_status = -5;
/// The server reported an error inside a 200 event stream.
pub const UPSTAGE_ERR_API: upstage_status = -6;
/// Malformed SSE or JSON, an unexpected content type, bad chunked encoding.
pub const UPSTAGE_ERR_PROTOCOL: upstage_status = -7;
/// The stream ended without `[DONE]` and without a `finish_reason`.
pub const UPSTAGE_ERR_TRUNCATED: upstage_status = -8;
/// A line, event or body exceeded its limit.
pub const UPSTAGE_ERR_LIMIT: upstage_status = -9;
/// The callback returned non-zero, or the stream was cancelled.
pub const UPSTAGE_ERR_CANCELLED: upstage_status = -10;
/// Another I/O failure in the middle of a stream.
pub const UPSTAGE_ERR_IO: upstage_status = -11;
/// A bug inside the library, caught at the C boundary (please report it).
pub const UPSTAGE_ERR_PANIC: upstage_status = -100;

/// Size of `upstage_error.message`, NUL included.
pub const UPSTAGE_ERROR_MESSAGE_SIZE: usize = 512;

/// What went wrong. Allocated by the caller (on the stack is fine); every `err` argument may
/// be NULL. When non-NULL it is written on every return: `status` is the returned status,
/// `http_status` and `message` describe an error (0 and "" on success).
#[repr(C)]
pub struct upstage_error {
    /// The status the function returned.
    pub status: upstage_status,
    /// The HTTP status when there was one (e.g. 401, 429, 500; 200 for errors inside a
    /// stream), else 0.
    pub http_status: i32,
    /// NUL-terminated UTF-8, truncated at a character boundary; never contains the API key.
    pub message: [c_char; 512],
}

/// The library version, e.g. `"0.1.0"`. Static storage: never free it. The header also
/// defines `UPSTAGE_VERSION_MAJOR`, `UPSTAGE_VERSION_MINOR` and `UPSTAGE_VERSION_PATCH`.
#[no_mangle]
pub extern "C" fn upstage_version() -> *const c_char {
    static VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION.as_ptr().cast()
}

/// The lower-case name of a status: `"ok"`, `"done"`, `"not_available"`, `"null_argument"`,
/// `"invalid_argument"`, `"connect"`, `"timeout"`, `"http"`, `"api"`, `"protocol"`,
/// `"truncated"`, `"limit"`, `"cancelled"`, `"io"`, `"panic"`; `"unknown"` for any other
/// value. Static storage, never NULL.
#[no_mangle]
pub extern "C" fn upstage_status_name(status: i32) -> *const c_char {
    let name: &'static CStr = match status {
        UPSTAGE_OK => c"ok",
        UPSTAGE_DONE => c"done",
        UPSTAGE_NOT_AVAILABLE => c"not_available",
        UPSTAGE_ERR_NULL_ARGUMENT => c"null_argument",
        UPSTAGE_ERR_INVALID_ARGUMENT => c"invalid_argument",
        UPSTAGE_ERR_CONNECT => c"connect",
        UPSTAGE_ERR_TIMEOUT => c"timeout",
        UPSTAGE_ERR_HTTP => c"http",
        UPSTAGE_ERR_API => c"api",
        UPSTAGE_ERR_PROTOCOL => c"protocol",
        UPSTAGE_ERR_TRUNCATED => c"truncated",
        UPSTAGE_ERR_LIMIT => c"limit",
        UPSTAGE_ERR_CANCELLED => c"cancelled",
        UPSTAGE_ERR_IO => c"io",
        UPSTAGE_ERR_PANIC => c"panic",
        _ => c"unknown",
    };
    name.as_ptr()
}

// ---- helpers shared by the submodules (not part of the C API) ------------------------

/// The outcome of an entry point's body: a success status, or an error for `upstage_error`.
pub(crate) type Outcome = Result<upstage_status, Error>;

/// Runs `body` behind the panic boundary and reports its outcome through `err`.
pub(crate) fn guard(err: *mut upstage_error, body: impl FnOnce() -> Outcome) -> upstage_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(status)) => {
            // SAFETY: `err` is NULL or points to a caller-owned, writable `upstage_error`
            // (the documented contract of every `err` argument).
            unsafe { write_status(err, status, 0, "") };
            status
        }
        Ok(Err(error)) => {
            let status = error.kind().status();
            let http = error.http_status().map_or(0, i32::from);
            // SAFETY: as above.
            unsafe { write_status(err, status, http, error.message()) };
            status
        }
        Err(payload) => {
            let message = format!("internal error (panic): {}", panic_message(&*payload));
            // SAFETY: as above.
            unsafe { write_status(err, UPSTAGE_ERR_PANIC, 0, &message) };
            UPSTAGE_ERR_PANIC
        }
    }
}

/// Runs `body` behind the panic boundary; a panic becomes `fallback` (NULL, 0, ...).
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "unknown panic payload"
    }
}

/// Writes `status`, `http_status` and `message` (truncated at a UTF-8 boundary, always
/// NUL-terminated) into `*err` when `err` is not NULL.
///
/// # Safety
///
/// `err` must be NULL or valid for writes of one `upstage_error`.
pub(crate) unsafe fn write_status(
    err: *mut upstage_error,
    status: upstage_status,
    http_status: i32,
    message: &str,
) {
    if err.is_null() {
        return;
    }
    let mut end = message.len().min(UPSTAGE_ERROR_MESSAGE_SIZE - 1);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let bytes = &message.as_bytes()[..end];
    // SAFETY: `err` is non-NULL and, by the caller's contract, valid for writes. We write
    // through raw field pointers so that no reference to possibly uninitialised memory is
    // created; `end < 512` keeps the copy and the NUL inside `message`.
    unsafe {
        std::ptr::addr_of_mut!((*err).status).write(status);
        std::ptr::addr_of_mut!((*err).http_status).write(http_status);
        let dst = std::ptr::addr_of_mut!((*err).message).cast::<u8>();
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len());
        dst.add(bytes.len()).write(0);
    }
}

/// An error of `kind` with `message`.
pub(crate) fn error(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::new(kind, message)
}

/// The error for a NULL `what` argument.
pub(crate) fn null(what: &str) -> Error {
    error(
        ErrorKind::NullArgument,
        format!("`{what}` must not be NULL"),
    )
}

/// Borrows a NUL-terminated UTF-8 string argument.
///
/// # Safety
///
/// `ptr` must be NULL or point to a NUL-terminated string that stays valid and unchanged
/// for `'a`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Error> {
    if ptr.is_null() {
        return Err(null(what));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        error(
            ErrorKind::InvalidArgument,
            format!("`{what}` is not valid UTF-8 ({e})"),
        )
    })
}

/// Like [`str_arg`], with NULL allowed (`None`).
///
/// # Safety
///
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(
    ptr: *const c_char,
    what: &str,
) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { str_arg(ptr, what) }.map(Some)
}

/// Text with a trailing NUL, for handing out as `const char *` plus a length.
#[derive(Default)]
pub(crate) struct CText(Vec<u8>);

impl CText {
    /// A NUL-terminated copy of `text`.
    pub(crate) fn new(text: &str) -> CText {
        let mut c = CText(Vec::with_capacity(text.len() + 1));
        c.set(text);
        c
    }

    /// Replaces the text, reusing the buffer (no allocation once it is large enough).
    pub(crate) fn set(&mut self, text: &str) {
        self.0.clear();
        self.0.reserve(text.len() + 1);
        self.0.extend_from_slice(text.as_bytes());
        self.0.push(0);
    }

    /// The NUL-terminated text.
    pub(crate) fn ptr(&self) -> *const c_char {
        debug_assert_eq!(self.0.last(), Some(&0));
        self.0.as_ptr().cast()
    }

    /// The length without the NUL.
    pub(crate) fn len(&self) -> usize {
        self.0.len().saturating_sub(1)
    }
}

/// A NUL-terminated pointer to an optional text, NULL for `None`.
pub(crate) fn opt_ptr(text: &Option<CText>) -> *const c_char {
    text.as_ref().map_or(std::ptr::null(), CText::ptr)
}

/// Writes `value` to `out` when `out` is not NULL.
///
/// # Safety
///
/// `out` must be NULL or valid for writes of a `T`.
pub(crate) unsafe fn write_opt<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { out.write(value) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blank() -> upstage_error {
        upstage_error {
            status: 77,
            http_status: 77,
            message: [b'x' as c_char; 512],
        }
    }

    fn message(e: &upstage_error) -> String {
        // SAFETY: `write_status` always NUL-terminates inside the array.
        unsafe { CStr::from_ptr(e.message.as_ptr()) }
            .to_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn guard_catches_panics() {
        let mut e = blank();
        let status = guard(&mut e, || panic!("boom"));
        assert_eq!(status, UPSTAGE_ERR_PANIC);
        assert_eq!(e.status, UPSTAGE_ERR_PANIC);
        assert!(message(&e).contains("boom"), "{}", message(&e));
        assert_eq!(guard_value(7, || panic!("x")), 7);
    }

    #[test]
    fn messages_are_truncated_at_a_char_boundary() {
        let mut e = blank();
        let long = "é".repeat(600); // 1200 bytes, 2 per char
        guard(&mut e, || Err(error(ErrorKind::Api, long.clone())));
        let m = message(&e);
        assert_eq!(m.len(), 510);
        assert!(long.starts_with(&m));
        assert_eq!(e.status, UPSTAGE_ERR_API);
        assert_eq!(e.http_status, 0);
        guard(&mut e, || Ok(UPSTAGE_DONE));
        assert_eq!((e.status, e.http_status, message(&e).as_str()), (1, 0, ""));
        assert_eq!(guard(std::ptr::null_mut(), || Ok(UPSTAGE_OK)), UPSTAGE_OK);
    }

    #[test]
    fn status_names_match_error_kinds() {
        for kind in ErrorKind::ALL {
            // SAFETY: static NUL-terminated strings.
            let name = unsafe { CStr::from_ptr(upstage_status_name(kind.status())) };
            assert_eq!(name.to_str().unwrap(), kind.name());
        }
        // SAFETY: as above.
        let unknown = unsafe { CStr::from_ptr(upstage_status_name(12345)) };
        assert_eq!(unknown.to_str().unwrap(), "unknown");
    }
}
