//! The few helpers every exported function is built from: the panic guard and the
//! `upstage_error` out-parameter, argument checks, handing out and freeing handles, and
//! borrowed text.
//!
//! # Why these helpers are safe functions
//!
//! They take the raw pointers a C caller passed to an exported function. Whether such a
//! pointer may be dereferenced is not something Rust can check: it is the contract the
//! header states for every function ("Rules that hold for every function" and each handle's
//! ownership paragraph):
//!
//! - a handle argument is NULL or a live handle of its type that this library handed out
//!   and the caller has not freed, used only by the threads its documentation allows;
//! - a string argument is NULL or NUL-terminated, unchanged during the call;
//! - an out-parameter is NULL or valid for writes of its type.
//!
//! Each helper checks what can be checked (NULL, UTF-8) and relies on that contract for the
//! rest, in one `SAFETY` argument here instead of one per exported function. So the helpers
//! may only be given pointers that arrived from C in the current call, never pointers made in
//! Rust; they are visible to the `ffi` module alone.

use std::any::Any;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;

use super::{upstage_error, upstage_status, UPSTAGE_ERROR_MESSAGE_SIZE, UPSTAGE_ERR_PANIC};
use crate::{Error, ErrorKind};

// ---- the panic guard and the error out-parameter ------------------------------------------

/// What the body of an entry point returns: a success status, or the error to report.
pub(super) type Outcome = Result<upstage_status, Error>;

/// Runs the body of a status-returning entry point: a panic becomes `UPSTAGE_ERR_PANIC`,
/// and the outcome is written to `err` (when not NULL) on every return.
pub(super) fn guard(err: *mut upstage_error, body: impl FnOnce() -> Outcome) -> upstage_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(status)) => {
            write_error(err, status, 0, "");
            status
        }
        Ok(Err(error)) => {
            let status = error.kind().status();
            let http = error.http_status().map_or(0, i32::from);
            write_error(err, status, http, error.message());
            status
        }
        Err(payload) => {
            let message = format!("internal error (panic): {}", panic_message(&*payload));
            write_error(err, UPSTAGE_ERR_PANIC, 0, &message);
            UPSTAGE_ERR_PANIC
        }
    }
}

/// Runs the body of an entry point that returns a value (a pointer, a count, nothing): a
/// panic becomes `fallback` (NULL, 0, ...).
pub(super) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
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
/// NUL-terminated) to the caller's `upstage_error`, unless `err` is NULL.
fn write_error(err: *mut upstage_error, status: upstage_status, http_status: i32, message: &str) {
    if err.is_null() {
        return;
    }
    let mut end = message.len().min(UPSTAGE_ERROR_MESSAGE_SIZE - 1);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let bytes = &message.as_bytes()[..end];
    // SAFETY: `err` is non-NULL and came from C, which promises it is valid for writes of one
    // `upstage_error` (module docs). We write through raw field pointers so that no reference
    // to possibly uninitialised memory is made; `end < 512` keeps the copy and its NUL inside
    // `message`, and a Rust string never overlaps the caller's struct.
    unsafe {
        std::ptr::addr_of_mut!((*err).status).write(status);
        std::ptr::addr_of_mut!((*err).http_status).write(http_status);
        let dst = std::ptr::addr_of_mut!((*err).message).cast::<u8>();
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), dst, bytes.len());
        dst.add(bytes.len()).write(0);
    }
}

// ---- argument checks -----------------------------------------------------------------------

/// `UPSTAGE_ERR_NULL_ARGUMENT` for the argument named `what`.
pub(super) fn null(what: &str) -> Error {
    Error::new(
        ErrorKind::NullArgument,
        format!("`{what}` must not be NULL"),
    )
}

/// `UPSTAGE_ERR_INVALID_ARGUMENT` with `message`.
pub(super) fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// The handle behind `ptr`, or `None` when it is NULL.
pub(super) fn borrow<'a, T>(ptr: *const T) -> Option<&'a T> {
    // SAFETY: `ptr` came from C: NULL or a live handle, not freed during this call, that no
    // other thread mutates (module docs). Handles shared between threads (client, completion,
    // cancel token, a stream's cancel handle) are only read through `&`.
    unsafe { ptr.as_ref() }
}

/// The handle behind the argument `what`, which must not be NULL.
pub(super) fn arg<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Error> {
    borrow(ptr).ok_or_else(|| null(what))
}

/// Exclusive access to the handle behind the argument `what` (not NULL), for handles that one
/// thread at a time uses (builder, request).
pub(super) fn arg_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: `ptr` came from C: NULL or a live handle that, by its documented threading
    // rule, only the calling thread uses during this call (module docs), so this `&mut`
    // is unique.
    unsafe { ptr.as_mut() }.ok_or_else(|| null(what))
}

/// The string argument `what`: not NULL and valid UTF-8. Borrowed for the call only.
pub(super) fn str_arg<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Error> {
    opt_str_arg(ptr, what)?.ok_or_else(|| null(what))
}

/// The string argument `what`, where NULL means `None`; otherwise it must be valid UTF-8.
pub(super) fn opt_str_arg<'a>(ptr: *const c_char, what: &str) -> Result<Option<&'a str>, Error> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL, and came from C: NUL-terminated and unchanged during the call
    // (module docs).
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes)
        .map(Some)
        .map_err(|e| invalid(format!("`{what}` is not valid UTF-8 ({e})")))
}

/// A checked, non-NULL out-parameter. Check every out-parameter before doing the work and
/// write them after it succeeded: out-parameters are written only on success.
pub(super) struct Out<T>(NonNull<T>);

/// The out-parameter `what`, which must not be NULL.
pub(super) fn out_arg<T>(ptr: *mut T, what: &str) -> Result<Out<T>, Error> {
    NonNull::new(ptr).map(Out).ok_or_else(|| null(what))
}

impl<T> Out<T> {
    /// Stores `value` in the caller's variable.
    pub(super) fn write(self, value: T) {
        // SAFETY: non-NULL, and came from C: valid for writes of a `T` (module docs). `write`
        // does not drop the caller's old value (plain C data, or a pointer it still owns).
        unsafe { self.0.as_ptr().write(value) }
    }
}

impl<T> Out<*mut T> {
    /// Hands `value` out as a new handle that the caller now owns.
    pub(super) fn hand_out(self, value: T) {
        self.write(new_handle(value));
    }
}

/// A caller's text buffer of `cap` bytes, for the snprintf pattern.
pub(super) struct OutBuffer {
    ptr: *mut c_char,
    cap: usize,
}

/// The buffer argument `what` of `cap` bytes: NULL only when `cap` is 0.
pub(super) fn out_buffer(ptr: *mut c_char, cap: usize, what: &str) -> Result<OutBuffer, Error> {
    if ptr.is_null() && cap > 0 {
        return Err(null(what));
    }
    Ok(OutBuffer { ptr, cap })
}

impl OutBuffer {
    /// Copies `text` and a NUL into the buffer when both fit; otherwise leaves it untouched
    /// (the caller learns the length and calls again with a larger buffer).
    pub(super) fn fill_if_it_fits(self, text: &str) {
        if self.cap <= text.len() {
            return;
        }
        // SAFETY: `cap > text.len() >= 0`, so `ptr` is not NULL (checked by `out_buffer`),
        // and came from C: valid for `cap` bytes of writes (module docs), enough for the text
        // and its NUL. A Rust string never overlaps the caller's buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), self.ptr.cast::<u8>(), text.len());
            self.ptr.add(text.len()).write(0);
        }
    }
}

/// Stores `value` in `*ptr` when the caller asked for it (`ptr` not NULL).
pub(super) fn write_if_asked<T>(ptr: *mut T, value: T) {
    if let Some(out) = NonNull::new(ptr) {
        Out(out).write(value);
    }
}

// ---- handing out and freeing handles -------------------------------------------------------

/// A new handle owning `value`; the caller frees it with the matching `upstage_*_free` (or
/// gives it back to a function that consumes it).
pub(super) fn new_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back ownership of the handle `what`, which the caller gives up (a consuming call
/// like `upstage_client_builder_build`): it is freed when the returned value is dropped.
pub(super) fn take_handle<T>(ptr: *mut T, what: &str) -> Result<T, Error> {
    if ptr.is_null() {
        return Err(null(what));
    }
    // SAFETY: non-NULL, and came from C: a live handle of this type, made by `new_handle`
    // (the only way this library hands out handles), which the caller gives up with this
    // call and no other thread uses (module docs); so the box is taken back exactly once.
    Ok(*unsafe { Box::from_raw(ptr) })
}

/// Frees a handle the caller gives up; NULL is a no-op. A panic in a destructor is
/// swallowed: `upstage_*_free` returns nothing to report it with.
pub(super) fn free_handle<T>(ptr: *mut T) {
    guard_value((), || {
        if !ptr.is_null() {
            // SAFETY: as in `take_handle`: a live handle made by `new_handle`, given up by
            // the caller, used by no other thread.
            drop(unsafe { Box::from_raw(ptr) });
        }
    })
}

// ---- borrowed text -------------------------------------------------------------------------

/// Text kept in a handle and handed out as a NUL-terminated `const char *` (with its length
/// where it may contain a NUL). The pointer stays valid as long as the text is not replaced
/// and the handle not freed, which is the lifetime each accessor documents.
#[derive(Default)]
pub(super) struct CText(Vec<u8>);

impl CText {
    /// A NUL-terminated copy of `text`.
    pub(super) fn new(text: &str) -> CText {
        let mut c = CText(Vec::with_capacity(text.len() + 1));
        c.set(text);
        c
    }

    /// Replaces the text, reusing the buffer (no allocation once it is large enough).
    pub(super) fn set(&mut self, text: &str) {
        self.0.clear();
        self.0.reserve(text.len() + 1);
        self.0.extend_from_slice(text.as_bytes());
        self.0.push(0);
    }

    /// The NUL-terminated text.
    pub(super) fn ptr(&self) -> *const c_char {
        debug_assert_eq!(self.0.last(), Some(&0));
        self.0.as_ptr().cast()
    }

    /// The length without the NUL.
    pub(super) fn len(&self) -> usize {
        self.0.len().saturating_sub(1)
    }

    /// The text, with its length stored in `*len` when the caller asked for it.
    pub(super) fn ptr_and_len(&self, len: *mut usize) -> *const c_char {
        write_if_asked(len, self.len());
        self.ptr()
    }
}

/// The body of a borrowed-text accessor: `None` (a NULL handle, an index out of range, a
/// value not known yet) and a panic become NULL.
pub(super) fn borrowed_text(find: impl FnOnce() -> Option<*const c_char>) -> *const c_char {
    guard_value(std::ptr::null(), || find().unwrap_or(std::ptr::null()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::{UPSTAGE_DONE, UPSTAGE_ERR_API, UPSTAGE_OK};

    fn blank() -> upstage_error {
        upstage_error {
            status: 77,
            http_status: 77,
            message: [b'x' as c_char; 512],
        }
    }

    fn message(e: &upstage_error) -> String {
        // SAFETY: `write_error` always NUL-terminates inside the array.
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
        assert!(borrowed_text(|| panic!("y")).is_null());
    }

    #[test]
    fn messages_are_truncated_at_a_char_boundary() {
        let mut e = blank();
        let long = "é".repeat(600); // 1200 bytes, 2 per char
        guard(&mut e, || Err(Error::new(ErrorKind::Api, long.clone())));
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
    fn string_arguments_are_checked() {
        let ok = c"solar-pro4";
        assert_eq!(str_arg(ok.as_ptr(), "model").unwrap(), "solar-pro4");
        let e = str_arg(std::ptr::null(), "model").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NullArgument);
        assert_eq!(e.message(), "`model` must not be NULL");
        assert_eq!(opt_str_arg(std::ptr::null(), "url").unwrap(), None);
        let bad = c"\xff\xfe";
        let e = opt_str_arg(bad.as_ptr(), "url").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert!(e.message().starts_with("`url` is not valid UTF-8"), "{e}");
    }

    #[test]
    fn out_parameters_and_handles() {
        let mut len = 0usize;
        assert!(out_arg::<usize>(std::ptr::null_mut(), "len").is_err());
        out_arg(&mut len, "len").unwrap().write(5);
        assert_eq!(len, 5);
        write_if_asked(std::ptr::null_mut::<usize>(), 9);

        let mut handle: *mut String = std::ptr::null_mut();
        out_arg(&mut handle, "out")
            .unwrap()
            .hand_out("owned".to_owned());
        assert_eq!(arg(handle, "s").unwrap(), "owned");
        arg_mut(handle, "s").unwrap().push('!');
        assert_eq!(take_handle(handle, "s").unwrap(), "owned!");
        assert!(take_handle::<String>(std::ptr::null_mut(), "s").is_err());
        assert!(arg::<String>(std::ptr::null(), "s").is_err());
        free_handle(new_handle(vec![1u8; 16]));
        free_handle::<Vec<u8>>(std::ptr::null_mut());
    }

    #[test]
    fn buffers_are_filled_only_when_the_text_and_its_nul_fit() {
        assert!(out_buffer(std::ptr::null_mut(), 1, "buf").is_err());
        out_buffer(std::ptr::null_mut(), 0, "buf")
            .unwrap()
            .fill_if_it_fits("abc");
        let mut buf = [b'x' as c_char; 4];
        out_buffer(buf.as_mut_ptr(), 3, "buf")
            .unwrap()
            .fill_if_it_fits("abc");
        assert_eq!(buf.map(|c| c as u8), *b"xxxx");
        out_buffer(buf.as_mut_ptr(), 4, "buf")
            .unwrap()
            .fill_if_it_fits("abc");
        assert_eq!(buf.map(|c| c as u8), *b"abc\0");
    }

    #[test]
    fn text_is_nul_terminated_and_reports_its_length() {
        let mut text = CText::new("a\0b");
        let mut len = 0;
        let ptr = text.ptr_and_len(&mut len);
        assert_eq!(len, 3);
        // SAFETY: `ptr` points to the 4 bytes of `text`, alive here.
        let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), 4) };
        assert_eq!(bytes, b"a\0b\0");
        text.set("xyz!");
        assert_eq!(text.len(), 4);
        assert!(text.ptr_and_len(std::ptr::null_mut()) == text.ptr());
    }
}
