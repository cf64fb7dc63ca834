//! Non-streaming requests: `upstage_chat_complete` and the completion accessors.

use std::ffi::c_char;

use super::boundary::{
    arg, borrow, borrowed_text, free_handle, guard, guard_value, null, out_arg, CText,
};
use super::client::upstage_client;
use super::request::upstage_request;
use super::stream::{upstage_cancel_token, upstage_usage};
use super::{upstage_error, upstage_status, UPSTAGE_NOT_AVAILABLE, UPSTAGE_OK};
use crate::{CancelHandle, ChatCompletion, Usage};

/// A whole answer from `upstage_chat_complete`.
///
/// Ownership: `upstage_chat_complete` and `upstage_chat_complete_cancellable` hand out a
/// completion that the caller owns; free it with `upstage_completion_free`. Every text it
/// hands out is NUL-terminated and borrowed from it, valid until that free: never free a
/// text, copy it to keep it longer.
///
/// Threads: immutable, so any number of threads may read it at once.
pub struct upstage_completion {
    content: CText,
    reasoning: CText,
    refusal: CText,
    finish_reason: Option<CText>,
    model: Option<CText>,
    id: Option<CText>,
    request_id: Option<CText>,
    usage: Option<Usage>,
    tool_calls: Vec<ToolCallText>,
    pub(crate) headers: crate::ResponseHeaders,
    pub(crate) timings: crate::Timings,
}

struct ToolCallText {
    id: CText,
    name: CText,
    arguments: CText,
}

impl From<ChatCompletion> for upstage_completion {
    fn from(c: ChatCompletion) -> upstage_completion {
        let opt = |s: Option<String>| s.as_deref().map(CText::new);
        upstage_completion {
            content: CText::new(&c.content),
            reasoning: CText::new(&c.reasoning),
            refusal: CText::new(&c.refusal),
            finish_reason: opt(c.finish_reason),
            model: opt(c.model),
            id: opt(c.id),
            request_id: opt(c.request_id),
            usage: c.usage,
            headers: c.headers,
            timings: c.timings,
            tool_calls: c
                .tool_calls
                .iter()
                .map(|t| ToolCallText {
                    id: CText::new(&t.id),
                    name: CText::new(&t.name),
                    arguments: CText::new(&t.arguments),
                })
                .collect(),
        }
    }
}

/// Sends `r` as a non-streaming request (`"stream": false`) and waits for the whole answer.
/// A server that streams anyway is drained into the same result. Blocks.
/// @param out receives the completion on success (untouched otherwise); the caller owns it
///        and frees it with `upstage_completion_free`.
/// @return `UPSTAGE_OK` or an error, as `upstage_stream_open` and `upstage_stream_next`.
///
/// # Safety
///
/// `c` and `r` are NULL or live handles; `out` and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_chat_complete(
    c: *const upstage_client,
    r: *const upstage_request,
    out: *mut *mut upstage_completion,
    err: *mut upstage_error,
) -> upstage_status {
    complete(c, r, CancelHandle::new(), out, err)
}

/// Like `upstage_chat_complete`, cancellable through `t` from any thread while it connects,
/// waits between retries, waits for the answer or reads it. `t` may be freed as soon as
/// this returns.
/// @return as `upstage_chat_complete`, plus `UPSTAGE_ERR_CANCELLED`.
///
/// # Safety
///
/// As `upstage_chat_complete`; `t` is NULL or a live token.
#[no_mangle]
pub unsafe extern "C" fn upstage_chat_complete_cancellable(
    c: *const upstage_client,
    r: *const upstage_request,
    t: *const upstage_cancel_token,
    out: *mut *mut upstage_completion,
    err: *mut upstage_error,
) -> upstage_status {
    match borrow(t) {
        Some(t) => complete(c, r, t.handle().clone(), out, err),
        None => guard(err, || Err(null("t"))),
    }
}

/// The body of `upstage_chat_complete` and `upstage_chat_complete_cancellable`.
fn complete(
    c: *const upstage_client,
    r: *const upstage_request,
    cancel: CancelHandle,
    out: *mut *mut upstage_completion,
    err: *mut upstage_error,
) -> upstage_status {
    guard(err, || {
        let (c, r) = (arg(c, "c")?, arg(r, "r")?);
        let out = out_arg(out, "out")?;
        let completion = c.client.complete_with_cancel(&r.request, &cancel)?;
        out.hand_out(upstage_completion::from(completion));
        Ok(UPSTAGE_OK)
    })
}

/// The answer text (`""` when there was none); `*len` (when `len` is non-NULL) receives its
/// length. NULL only when `c` is NULL.
///
/// # Safety
///
/// `c` is NULL or a live completion; `len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_content(
    c: *const upstage_completion,
    len: *mut usize,
) -> *const c_char {
    borrowed_text(|| Some(borrow(c)?.content.ptr_and_len(len)))
}

/// The reasoning text (`""` when the model sent none); `*len` as for
/// `upstage_completion_content`. NULL only when `c` is NULL.
///
/// # Safety
///
/// As `upstage_completion_content`.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_reasoning(
    c: *const upstage_completion,
    len: *mut usize,
) -> *const c_char {
    borrowed_text(|| Some(borrow(c)?.reasoning.ptr_and_len(len)))
}

/// The refusal text (`""` when the model did not refuse); `*len` as for
/// `upstage_completion_content`. NULL only when `c` is NULL.
///
/// # Safety
///
/// As `upstage_completion_content`.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_refusal(
    c: *const upstage_completion,
    len: *mut usize,
) -> *const c_char {
    borrowed_text(|| Some(borrow(c)?.refusal.ptr_and_len(len)))
}

/// Why generation stopped, or NULL when the server did not say (or `c` is NULL).
///
/// # Safety
///
/// `c` is NULL or a live completion.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_finish_reason(
    c: *const upstage_completion,
) -> *const c_char {
    borrowed_text(|| borrow(c)?.finish_reason.as_ref().map(CText::ptr))
}

/// The model that answered, as the server named it, or NULL when unknown.
///
/// # Safety
///
/// `c` is NULL or a live completion.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_model(c: *const upstage_completion) -> *const c_char {
    borrowed_text(|| borrow(c)?.model.as_ref().map(CText::ptr))
}

/// The completion id (`"chatcmpl-..."`), or NULL when unknown.
///
/// # Safety
///
/// `c` is NULL or a live completion.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_id(c: *const upstage_completion) -> *const c_char {
    borrowed_text(|| borrow(c)?.id.as_ref().map(CText::ptr))
}

/// The response's `x-request-id` header, or NULL when the server sent none.
///
/// # Safety
///
/// `c` is NULL or a live completion.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_request_id(
    c: *const upstage_completion,
) -> *const c_char {
    borrowed_text(|| borrow(c)?.request_id.as_ref().map(CText::ptr))
}

/// Token usage.
/// @param out written only when usage is known.
/// @return `UPSTAGE_OK` (known, `*out` written), `UPSTAGE_NOT_AVAILABLE` (the server did not
///         report it), `UPSTAGE_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `c` is NULL or a live completion; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_usage(
    c: *const upstage_completion,
    out: *mut upstage_usage,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        let (c, out) = (arg(c, "c")?, out_arg(out, "out")?);
        let Some(usage) = c.usage else {
            return Ok(UPSTAGE_NOT_AVAILABLE);
        };
        out.write(usage.into());
        Ok(UPSTAGE_OK)
    })
}

/// The number of tool calls (0 when none, or when `c` is NULL), ordered by index.
///
/// # Safety
///
/// `c` is NULL or a live completion.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_tool_call_count(c: *const upstage_completion) -> usize {
    guard_value(0, || borrow(c).map_or(0, |c| c.tool_calls.len()))
}

/// Tool call `i` of the completion behind `c`, when both exist.
fn tool_call<'a>(c: *const upstage_completion, i: usize) -> Option<&'a ToolCallText> {
    borrow(c)?.tool_calls.get(i)
}

/// Tool call `i`'s id (to answer with a `"tool"` message), or NULL when `i` is out of range.
///
/// # Safety
///
/// `c` is NULL or a live completion.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_tool_call_id(
    c: *const upstage_completion,
    i: usize,
) -> *const c_char {
    borrowed_text(|| Some(tool_call(c, i)?.id.ptr()))
}

/// Tool call `i`'s function name, or NULL when `i` is out of range.
///
/// # Safety
///
/// `c` is NULL or a live completion.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_tool_call_name(
    c: *const upstage_completion,
    i: usize,
) -> *const c_char {
    borrowed_text(|| Some(tool_call(c, i)?.name.ptr()))
}

/// Tool call `i`'s JSON arguments, assembled from every fragment; `*len` (when `len` is
/// non-NULL) receives the length. NULL when `i` is out of range (`*len` untouched).
///
/// # Safety
///
/// `c` is NULL or a live completion; `len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_tool_call_arguments(
    c: *const upstage_completion,
    i: usize,
    len: *mut usize,
) -> *const c_char {
    borrowed_text(|| Some(tool_call(c, i)?.arguments.ptr_and_len(len)))
}

/// Frees a completion. NULL is a no-op.
///
/// # Safety
///
/// `c` is NULL or a live completion, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_free(c: *mut upstage_completion) {
    free_handle(c)
}
