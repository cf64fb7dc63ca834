//! Streaming: the pull API (`upstage_stream_*`), rich events, usage, cancellation and the
//! callback API (`upstage_chat_stream`).

use std::cell::UnsafeCell;
use std::ffi::{c_char, c_void};

use super::boundary::{
    arg, borrow, borrowed_text, free_handle, guard, guard_value, new_handle, null, out_arg, CText,
};
use super::client::upstage_client;
use super::request::upstage_request;
use super::{upstage_error, upstage_status, UPSTAGE_DONE, UPSTAGE_NOT_AVAILABLE, UPSTAGE_OK};
use crate::{CancelHandle, ChatStream, Delta, Error, ErrorKind, Usage};

/// An open streaming answer.
///
/// Ownership: `upstage_stream_open` and `upstage_stream_open_cancellable` hand out a stream
/// that the caller owns; free it with `upstage_stream_free`, which closes the connection.
/// The texts it hands out are borrowed from it, never freed by the caller: a token or event
/// is valid until the next `upstage_stream_next` or `upstage_stream_next_event` on it (or its
/// free); `upstage_stream_finish_reason`, `upstage_stream_model` and
/// `upstage_stream_request_id` until its free.
///
/// Threads: one thread at a time may call functions on a stream, except
/// `upstage_stream_cancel`, which any thread may call at any time before
/// `upstage_stream_free` starts, even while `upstage_stream_next` is blocked.
pub struct upstage_stream {
    /// Read (through a shared reference only) by `upstage_stream_cancel` from any thread.
    cancel: CancelHandle,
    /// Everything else, touched only by the thread that owns the stream. Kept in an
    /// `UnsafeCell` so that the owner's `&mut` to it never aliases the `&upstage_stream`
    /// a cancelling thread may hold at the same time: no `&mut upstage_stream` is ever made.
    state: UnsafeCell<StreamState>,
}

struct StreamState {
    stream: ChatStream,
    /// The current token or event text, NUL-terminated; reused so that a token costs no
    /// allocation once the buffer has grown.
    text: CText,
    /// The current tool-call fragment's id and name.
    tool_id: CText,
    tool_name: CText,
    finish_reason: Option<CText>,
    model: Option<CText>,
    request_id: Option<CText>,
}

impl StreamState {
    fn new(stream: ChatStream) -> StreamState {
        let mut state = StreamState {
            stream,
            text: CText::new(""),
            tool_id: CText::new(""),
            tool_name: CText::new(""),
            finish_reason: None,
            model: None,
            request_id: None,
        };
        state.refresh();
        state
    }

    /// Caches NUL-terminated copies of what the stream learned (each is set once).
    fn refresh(&mut self) {
        fn fill(slot: &mut Option<CText>, value: Option<&str>) {
            if slot.is_none() {
                *slot = value.map(CText::new);
            }
        }
        fill(&mut self.finish_reason, self.stream.finish_reason());
        fill(&mut self.model, self.stream.model());
        fill(&mut self.request_id, self.stream.request_id());
    }

    /// The next content token into `self.text`: `Ok(true)` for a token, `Ok(false)` at
    /// the normal end.
    fn next_token(&mut self) -> Result<bool, crate::Error> {
        let result = match self.stream.next_token() {
            Some(Ok(token)) => {
                self.text.set(token);
                Ok(true)
            }
            Some(Err(e)) => Err(e),
            None => Ok(false),
        };
        self.refresh();
        result
    }
}

/// Token counts reported by the server.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct upstage_usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Prompt plus completion.
    pub total_tokens: u64,
    /// Generated tokens spent on reasoning; -1 when the server did not say.
    pub reasoning_tokens: i64,
    /// Prompt tokens served from a cache; -1 when the server did not say.
    pub cached_tokens: i64,
}

impl From<Usage> for upstage_usage {
    fn from(u: Usage) -> upstage_usage {
        let opt = |v: Option<u64>| v.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX));
        upstage_usage {
            prompt_tokens: u.prompt_tokens,
            completion_tokens: u.completion_tokens,
            total_tokens: u.total_tokens,
            reasoning_tokens: opt(u.reasoning_tokens),
            cached_tokens: opt(u.cached_tokens),
        }
    }
}

/// The kind of an `upstage_event` (values of `upstage_event.kind`).
pub type upstage_event_kind = i32;
/// Answer text: `text`/`len`.
pub const UPSTAGE_EVENT_CONTENT: upstage_event_kind = 0;
/// Reasoning text (`delta.reasoning` or `delta.reasoning_content`): `text`/`len`.
pub const UPSTAGE_EVENT_REASONING: upstage_event_kind = 1;
/// A tool-call fragment: `tool_index`, `tool_id` and `tool_name` (NULL when this fragment
/// does not carry them, usually all but the first), and an arguments fragment in
/// `text`/`len` (possibly empty). Fragments with the same `tool_index` form one call.
pub const UPSTAGE_EVENT_TOOL_CALL: upstage_event_kind = 2;
/// Refusal text: `text`/`len`.
pub const UPSTAGE_EVENT_REFUSAL: upstage_event_kind = 3;
/// Why generation stopped (`"stop"`, `"length"`, `"tool_calls"`, any server string):
/// `text`/`len`.
pub const UPSTAGE_EVENT_FINISH: upstage_event_kind = 4;
/// Token usage: `usage`.
pub const UPSTAGE_EVENT_USAGE: upstage_event_kind = 5;

/// One thing the stream reported, filled by `upstage_stream_next_event`. The pointers are
/// borrowed from the stream and stay valid until the next `upstage_stream_next` or
/// `upstage_stream_next_event` on it (or its free); texts
/// are NUL-terminated, `len` is authoritative. Fields that do not apply to `kind` are NULL
/// or 0.
#[repr(C)]
pub struct upstage_event {
    /// One of `UPSTAGE_EVENT_*`.
    pub kind: upstage_event_kind,
    /// The tool call's index (`UPSTAGE_EVENT_TOOL_CALL`).
    pub tool_index: u32,
    /// The text: content, reasoning, refusal, finish reason, or tool-call arguments fragment.
    pub text: *const c_char,
    /// Length of `text` in bytes, without the NUL.
    pub len: usize,
    /// The tool call's id, or NULL (`UPSTAGE_EVENT_TOOL_CALL`).
    pub tool_id: *const c_char,
    /// The function's name, or NULL (`UPSTAGE_EVENT_TOOL_CALL`).
    pub tool_name: *const c_char,
    /// Token counts (`UPSTAGE_EVENT_USAGE`; zero otherwise).
    pub usage: upstage_usage,
}

/// Cancels a stream before it exists: pass it to `upstage_stream_open_cancellable` (or
/// `upstage_chat_complete_cancellable`), then call `upstage_cancel_token_cancel` from any
/// thread to stop the connection attempt, a retry's wait, the wait for headers, or the stream
/// opened with it.
///
/// Ownership: `upstage_cancel_token_new` hands out a token that the caller owns; free it with
/// `upstage_cancel_token_free` once no thread will cancel with it any more. Opening with it
/// only borrows it for the call.
///
/// Threads: thread-safe; `upstage_cancel_token_cancel` may be called from any thread.
pub struct upstage_cancel_token {
    cancel: CancelHandle,
}

impl upstage_cancel_token {
    /// The cancellation this token triggers.
    pub(crate) fn handle(&self) -> &CancelHandle {
        &self.cancel
    }
}

/// A new cancel token, owned by the caller: free it with `upstage_cancel_token_free`. NULL
/// only on a panic.
#[no_mangle]
pub extern "C" fn upstage_cancel_token_new() -> *mut upstage_cancel_token {
    guard_value(std::ptr::null_mut(), || {
        new_handle(upstage_cancel_token {
            cancel: CancelHandle::new(),
        })
    })
}

/// Cancels: idempotent, never blocks on I/O, callable from any thread until the token is
/// freed. The open (or the stream opened with the token) then fails with
/// `UPSTAGE_ERR_CANCELLED`.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `t` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn upstage_cancel_token_cancel(
    t: *const upstage_cancel_token,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        arg(t, "t")?.cancel.cancel();
        Ok(UPSTAGE_OK)
    })
}

/// Frees a cancel token. NULL is a no-op. A stream opened with it stays cancellable with
/// `upstage_stream_cancel`.
///
/// # Safety
///
/// `t` is NULL or a live token that no other thread is using.
#[no_mangle]
pub unsafe extern "C" fn upstage_cancel_token_free(t: *mut upstage_cancel_token) {
    free_handle(t)
}

/// Opens a stream: sends `r` with `c` (retrying as configured) and returns once the
/// response headers are in. Blocks. `c` and `r` are only read and may be freed afterwards.
/// @param out receives the stream on success (untouched otherwise); the caller owns it and
///        frees it with `upstage_stream_free`.
/// @return `UPSTAGE_OK`, or an error: `UPSTAGE_ERR_NULL_ARGUMENT`,
///         `UPSTAGE_ERR_INVALID_ARGUMENT` (e.g. no messages), `UPSTAGE_ERR_CONNECT`,
///         `UPSTAGE_ERR_TIMEOUT`, `UPSTAGE_ERR_HTTP` (`err->http_status` set),
///         `UPSTAGE_ERR_PROTOCOL`, ...
///
/// # Safety
///
/// `c` and `r` are NULL or live handles (`r` not being modified by another thread); `out`
/// and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_open(
    c: *const upstage_client,
    r: *const upstage_request,
    out: *mut *mut upstage_stream,
    err: *mut upstage_error,
) -> upstage_status {
    open(c, r, CancelHandle::new(), out, err)
}

/// Like `upstage_stream_open`, cancellable through `t` (from any thread) while it connects,
/// waits between retries or waits for the headers; the stream it opens is cancelled by `t`
/// too. `t` may be freed as soon as this returns.
/// @return as `upstage_stream_open`, plus `UPSTAGE_ERR_CANCELLED`.
///
/// # Safety
///
/// As `upstage_stream_open`; `t` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_open_cancellable(
    c: *const upstage_client,
    r: *const upstage_request,
    t: *const upstage_cancel_token,
    out: *mut *mut upstage_stream,
    err: *mut upstage_error,
) -> upstage_status {
    match borrow(t) {
        Some(t) => open(c, r, t.cancel.clone(), out, err),
        None => guard(err, || Err(null("t"))),
    }
}

/// The body of `upstage_stream_open` and `upstage_stream_open_cancellable`.
fn open(
    c: *const upstage_client,
    r: *const upstage_request,
    cancel: CancelHandle,
    out: *mut *mut upstage_stream,
    err: *mut upstage_error,
) -> upstage_status {
    guard(err, || {
        let (c, r) = (arg(c, "c")?, arg(r, "r")?);
        let out = out_arg(out, "out")?;
        let stream = c.client.stream_with_cancel(&r.request, &cancel)?;
        out.hand_out(stream_handle(stream));
        Ok(UPSTAGE_OK)
    })
}

/// A new stream handle around `stream`.
pub(super) fn stream_handle(stream: ChatStream) -> upstage_stream {
    upstage_stream {
        cancel: stream.cancel_handle(),
        state: UnsafeCell::new(StreamState::new(stream)),
    }
}

/// Runs `f` on the Rust stream of handle `s` (a pointer from C, used by the calling thread
/// only), `None` when `s` is NULL.
pub(super) fn with_stream<R>(
    s: *const upstage_stream,
    f: impl FnOnce(&ChatStream) -> R,
) -> Option<R> {
    state_ref(s).map(|state| f(&state.stream))
}

/// The owner's exclusive access to the state of the stream `s` (a pointer from C, like those
/// given to the `boundary` helpers), which must not be NULL.
fn state_mut<'a>(s: *mut upstage_stream) -> Result<&'a mut StreamState, crate::Error> {
    let s = arg(s, "s")?;
    // SAFETY: a stream is used by one thread at a time, its owner, apart from
    // `upstage_stream_cancel`, which reads only `cancel` through a shared reference (the
    // header's contract for every `upstage_stream_*` function). So the state behind the
    // `UnsafeCell` is reached by the calling thread alone, and the entry points never hold
    // two borrows of it at once: this `&mut` is unique.
    Ok(unsafe { &mut *s.state.get() })
}

/// The owner's shared access to the state of the stream `s`, or `None` when it is NULL.
fn state_ref<'a>(s: *const upstage_stream) -> Option<&'a StreamState> {
    // SAFETY: as in `state_mut`: only the calling thread reaches the state, and nothing
    // mutates it while this reference is used.
    borrow(s).map(|s| unsafe { &*s.state.get() })
}

/// Pulls the next content token. Blocks until it arrives.
/// @param text receives a pointer to the token: NUL-terminated UTF-8, borrowed from the
///        stream, valid until the next `upstage_stream_next` or `upstage_stream_next_event`
///        on `s` (or its free). Never an empty token.
/// @param len receives its length in bytes without the NUL (authoritative).
/// @return `UPSTAGE_OK`: a token was produced; `UPSTAGE_DONE`: the stream finished normally
///         (then `upstage_stream_finish_reason`, `upstage_stream_usage`); otherwise an error
///         (`UPSTAGE_ERR_TRUNCATED`, `_API`, `_PROTOCOL`, `_TIMEOUT`, `_LIMIT`, `_IO`,
///         `_CANCELLED`, ...; tokens already returned stay valid data). After `DONE` or an
///         error every further call returns `UPSTAGE_DONE`. `text` and `len` are written only
///         for `UPSTAGE_OK`.
///
/// # Safety
///
/// `s` is NULL or a live stream used by this thread only; `text`, `len`, `err` are NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_next(
    s: *mut upstage_stream,
    text: *mut *const c_char,
    len: *mut usize,
    err: *mut upstage_error,
) -> upstage_status {
    guard(err, || {
        let state = state_mut(s)?;
        let (text, len) = (out_arg(text, "text")?, out_arg(len, "len")?);
        if !state.next_token()? {
            return Ok(UPSTAGE_DONE);
        }
        text.write(state.text.ptr());
        len.write(state.text.len());
        Ok(UPSTAGE_OK)
    })
}

/// Pulls the next event: content, reasoning, a tool-call fragment, refusal, finish reason
/// or usage, in the order the server sent them. Blocks. May be mixed with
/// `upstage_stream_next` (which skips everything but content).
/// @param ev filled on `UPSTAGE_OK` only; its pointers are borrowed from the stream and valid
///        until the next `upstage_stream_next` or `upstage_stream_next_event` on `s` (or its
///        free).
/// @return `UPSTAGE_OK`, `UPSTAGE_DONE` or an error, as `upstage_stream_next`.
///
/// # Safety
///
/// `s` is NULL or a live stream used by this thread only; `ev` and `err` are NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_next_event(
    s: *mut upstage_stream,
    ev: *mut upstage_event,
    err: *mut upstage_error,
) -> upstage_status {
    guard(err, || {
        let state = state_mut(s)?;
        let ev = out_arg(ev, "ev")?;
        match state.next_event()? {
            Some(event) => ev.write(event),
            None => return Ok(UPSTAGE_DONE),
        }
        Ok(UPSTAGE_OK)
    })
}

impl StreamState {
    /// The next event, its texts kept in `self` (`None` at the normal end).
    fn next_event(&mut self) -> Result<Option<upstage_event>, crate::Error> {
        let delta = self.stream.next_delta();
        self.refresh();
        let delta = match delta {
            Some(delta) => delta?,
            None => return Ok(None),
        };
        let mut event = upstage_event {
            kind: UPSTAGE_EVENT_CONTENT,
            tool_index: 0,
            text: std::ptr::null(),
            len: 0,
            tool_id: std::ptr::null(),
            tool_name: std::ptr::null(),
            usage: upstage_usage::default(),
        };
        let text = match delta {
            Delta::Content(t) => Some(t),
            Delta::Reasoning(t) => {
                event.kind = UPSTAGE_EVENT_REASONING;
                Some(t)
            }
            Delta::Refusal(t) => {
                event.kind = UPSTAGE_EVENT_REFUSAL;
                Some(t)
            }
            Delta::Finish(t) => {
                event.kind = UPSTAGE_EVENT_FINISH;
                Some(t)
            }
            Delta::ToolCall(call) => {
                event.kind = UPSTAGE_EVENT_TOOL_CALL;
                event.tool_index = call.index;
                if let Some(id) = &call.id {
                    self.tool_id.set(id);
                    event.tool_id = self.tool_id.ptr();
                }
                if let Some(name) = &call.name {
                    self.tool_name.set(name);
                    event.tool_name = self.tool_name.ptr();
                }
                Some(call.arguments)
            }
            Delta::Usage(usage) => {
                event.kind = UPSTAGE_EVENT_USAGE;
                event.usage = usage.into();
                None
            }
            // `Delta` is non-exhaustive: a future kind is skipped by callers that do not
            // know it, so hand it out as an empty content event rather than failing.
            #[allow(unreachable_patterns)]
            _ => Some(String::new()),
        };
        if let Some(text) = text {
            self.text.set(&text);
            event.text = self.text.ptr();
            event.len = self.text.len();
        }
        Ok(Some(event))
    }
}

/// Cancels the stream: callable from any thread, at any time until `upstage_stream_free`
/// starts, even while another thread is blocked in `upstage_stream_next` (which then
/// returns `UPSTAGE_ERR_CANCELLED` promptly: the socket is shut down). Idempotent, never
/// blocks on I/O. Cancelling a finished stream changes nothing.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `s` is NULL or a live stream (not being freed).
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_cancel(s: *const upstage_stream) -> upstage_status {
    // Only `cancel` (Send + Sync) is touched, never the owner's `state`: see `state_mut`.
    guard(std::ptr::null_mut(), || {
        arg(s, "s")?.cancel.cancel();
        Ok(UPSTAGE_OK)
    })
}

/// Why generation stopped (`"stop"`, `"length"`, `"tool_calls"`, ...), or NULL until the
/// server said (or when `s` is NULL). Borrowed from the stream, NUL-terminated, valid until
/// `upstage_stream_free`.
///
/// # Safety
///
/// `s` is NULL or a live stream, not inside another call on another thread (except cancel).
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_finish_reason(s: *const upstage_stream) -> *const c_char {
    borrowed_text(|| state_ref(s)?.finish_reason.as_ref().map(CText::ptr))
}

/// The model that answers, as the server named it in its chunks, or NULL until known.
/// Borrowed, NUL-terminated, valid until `upstage_stream_free`.
///
/// # Safety
///
/// As `upstage_stream_finish_reason`.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_model(s: *const upstage_stream) -> *const c_char {
    borrowed_text(|| state_ref(s)?.model.as_ref().map(CText::ptr))
}

/// The response's `x-request-id` header, or NULL when the server sent none. Borrowed,
/// NUL-terminated, valid until `upstage_stream_free`.
///
/// # Safety
///
/// As `upstage_stream_finish_reason`.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_request_id(s: *const upstage_stream) -> *const c_char {
    borrowed_text(|| state_ref(s)?.request_id.as_ref().map(CText::ptr))
}

/// Token usage, once the server reported it (usually at the end; ask for it with the
/// parameter `"stream_options"` `{"include_usage":true}`).
/// @param out written only when usage is known.
/// @return `UPSTAGE_OK` (usage known, `*out` written), `UPSTAGE_NOT_AVAILABLE` (not reported
///         (yet)), `UPSTAGE_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// As `upstage_stream_finish_reason`; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_usage(
    s: *const upstage_stream,
    out: *mut upstage_usage,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        let state = state_ref(s).ok_or_else(|| null("s"))?;
        let out = out_arg(out, "out")?;
        let Some(usage) = state.stream.usage() else {
            return Ok(UPSTAGE_NOT_AVAILABLE);
        };
        out.write(usage.into());
        Ok(UPSTAGE_OK)
    })
}

/// Frees a stream and closes its connection (an unfinished answer is abandoned). NULL is a
/// no-op.
///
/// # Safety
///
/// `s` is NULL or a live stream; no other thread may be using it (cancel included) once this
/// starts, and it is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_free(s: *mut upstage_stream) {
    free_handle(s)
}

/// An `upstage_token_callback` result: go on with the next token.
pub const UPSTAGE_CONTINUE: i32 = 0;
/// An `upstage_token_callback` result: stop the stream (`upstage_chat_stream` closes the
/// connection and returns `UPSTAGE_ERR_CANCELLED`). Any other non-zero value stops too.
pub const UPSTAGE_STOP: i32 = 1;

/// Receives one content token of `upstage_chat_stream`, on the thread that called it: `text`
/// is NUL-terminated UTF-8 borrowed for the duration of the call (copy it to keep it), `len`
/// its length without the NUL. Return `UPSTAGE_CONTINUE` (0) to go on, `UPSTAGE_STOP` (or
/// any non-zero value) to stop; `upstage_chat_stream` then returns `UPSTAGE_ERR_CANCELLED`.
/// It must not unwind through the library (no C++ exception, no `longjmp` out of it): catch
/// inside and return `UPSTAGE_STOP` instead.
pub type upstage_token_callback =
    Option<unsafe extern "C" fn(userdata: *mut c_void, text: *const c_char, len: usize) -> i32>;

/// Streams a whole answer through a callback (libcurl style): opens the stream, calls `cb`
/// once per content token on the calling thread, and returns when the stream ends or `cb`
/// returns `UPSTAGE_STOP`. `c` and `r` are only borrowed; `cb` and `userdata` are never
/// retained after the return.
/// @param userdata passed to `cb` unchanged (may be NULL).
/// @return `UPSTAGE_OK` when the stream finished normally; `UPSTAGE_ERR_CANCELLED` when
///         `cb` returned `UPSTAGE_STOP` or another non-zero value (the connection is closed
///         at once); any error of
///         `upstage_stream_open` or `upstage_stream_next`.
///
/// # Safety
///
/// As `upstage_stream_open`; `cb` is NULL or a function safe to call with `userdata`.
#[no_mangle]
pub unsafe extern "C" fn upstage_chat_stream(
    c: *const upstage_client,
    r: *const upstage_request,
    cb: upstage_token_callback,
    userdata: *mut c_void,
    err: *mut upstage_error,
) -> upstage_status {
    guard(err, || {
        let (c, r) = (arg(c, "c")?, arg(r, "r")?);
        let cb = cb.ok_or_else(|| null("cb"))?;
        let mut state = StreamState::new(c.client.stream(&r.request)?);
        while state.next_token()? {
            // SAFETY: the caller promises `cb` is safe to call with `userdata` (the contract
            // of this function); the text is NUL-terminated and outlives the call.
            let result = unsafe { cb(userdata, state.text.ptr(), state.text.len()) };
            if result != UPSTAGE_CONTINUE {
                state.stream.cancel_handle().cancel();
                return Err(Error::new(
                    ErrorKind::Cancelled,
                    format!("the callback returned {result}: stream cancelled"),
                ));
            }
        }
        Ok(UPSTAGE_OK)
    })
}
