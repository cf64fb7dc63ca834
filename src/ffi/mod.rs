//! The C ABI: `extern "C"` functions, opaque handles and the error struct of
//! `include/upstage.h` (generated from this module by `build.rs` with cbindgen).
//!
//! This is the only module of the crate with `unsafe` code. Every entry point is built from
//! the helpers of `boundary` (which carry the `SAFETY` arguments), so that it
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

use std::ffi::{c_char, CStr};

mod boundary;
mod catalog;
mod choices;
mod client;
mod completion;
mod pool;
mod request;
mod stream;
mod surface;

pub use catalog::*;
pub use choices::*;
pub use client::*;
pub use completion::*;
pub use pool::*;
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

/// What went wrong.
///
/// Ownership: allocated and owned by the caller (on the stack is fine); the library only
/// writes it, and keeps no pointer to it. Every `err` argument may be NULL. When non-NULL it
/// is written on every return: `status` is the returned status, `http_status` and `message`
/// describe an error (0 and "" on success).
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

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
