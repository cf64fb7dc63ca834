//! Chat requests.

use std::ffi::c_char;

use super::boundary::{
    arg_mut, free_handle, guard, guard_value, invalid, new_handle, opt_str_arg, out_arg, str_arg,
};
use super::{upstage_error, upstage_status, UPSTAGE_OK};
use crate::{ChatRequest, Message};

/// A chat request: model, messages and body parameters.
///
/// Ownership: `upstage_request_new` and `upstage_request_from_json` hand out a request that
/// the caller owns; free it with `upstage_request_free`. Sending it (`upstage_stream_open`,
/// `upstage_chat_stream`, `upstage_chat_complete`) only borrows it for the call, so it can be
/// sent again, and freed while a stream opened with it is still being read.
///
/// Threads: one thread at a time.
pub struct upstage_request {
    pub(crate) request: ChatRequest,
}

/// The body of a request setter, like the builder's `configure`: `change` checks its
/// arguments, then changes the request; a bad argument leaves the request as it was.
pub(super) fn edit_request(
    r: *mut upstage_request,
    change: impl FnOnce(&mut ChatRequest) -> Result<(), crate::Error>,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        change(&mut arg_mut(r, "r")?.request)?;
        Ok(UPSTAGE_OK)
    })
}

/// Replaces `request` with `f(request)` (the builder-style methods take it by value).
pub(super) fn rebuild(request: &mut ChatRequest, f: impl FnOnce(ChatRequest) -> ChatRequest) {
    *request = f(std::mem::take(request));
}

/// A new, empty request for `model` (copied), e.g. `"solar-pro4"` or `"solar-mini4"`. NULL
/// or `""`: the client's default model (the legacy web demo resolves names with
/// `upstage_resolve_model`). The caller owns the request and frees it with
/// `upstage_request_free`.
/// @return the request, or NULL when `model` is not valid UTF-8.
///
/// # Safety
///
/// `model` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_request_new(model: *const c_char) -> *mut upstage_request {
    guard_value(std::ptr::null_mut(), || match opt_str_arg(model, "model") {
        Ok(model) => new_handle(upstage_request {
            request: ChatRequest::new(model.unwrap_or("")),
        }),
        Err(_) => std::ptr::null_mut(),
    })
}

/// Appends a message with a text content. `role` is usually `"system"`, `"user"`,
/// `"assistant"` or `"tool"`; both strings are copied. For structured content (parts,
/// tool calls) set `"messages"` with `upstage_request_set_param` or use
/// `upstage_request_from_json`.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT` (not UTF-8,
///         empty role).
///
/// # Safety
///
/// `r` is NULL or a live request; `role` and `content` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_request_add_message(
    r: *mut upstage_request,
    role: *const c_char,
    content: *const c_char,
) -> upstage_status {
    edit_request(r, |request| {
        let (role, content) = (str_arg(role, "role")?, str_arg(content, "content")?);
        if role.is_empty() {
            return Err(invalid("`role` must not be empty"));
        }
        request.push_message(Message::new(role, content));
        Ok(())
    })
}

/// Sets any body field to a JSON value (copied): `"temperature"` `"0.2"`, `"max_tokens"`
/// `"64"`, `"stop"` `"[\"\\n\"]"`, `"tools"` `[...]`, `"stream_options"`
/// `{"include_usage":true}`. `"model"` and `"messages"` replace those parts of the request;
/// `"stream"` is ignored (the call decides).
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT` (not UTF-8,
///         invalid JSON, a bad `model` or `messages` value).
///
/// # Safety
///
/// `r` is NULL or a live request; `name` and `json_value` are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_request_set_param(
    r: *mut upstage_request,
    name: *const c_char,
    json_value: *const c_char,
) -> upstage_status {
    edit_request(r, |request| {
        let (name, json) = (str_arg(name, "name")?, str_arg(json_value, "json_value")?);
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| invalid(format!("the value of `{name}` is not valid JSON: {e}")))?;
        request.set_param(name, value)
    })
}

/// Parses a whole request body: `{"model": ..., "messages": [...], ...}` (`messages`
/// required, `model` optional, `stream` ignored, every other field kept).
/// @param out receives the new request on success (untouched otherwise); the caller owns it
///        and frees it with `upstage_request_free`.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `body_json` is NULL or NUL-terminated; `out` and `err` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_request_from_json(
    body_json: *const c_char,
    out: *mut *mut upstage_request,
    err: *mut upstage_error,
) -> upstage_status {
    guard(err, || {
        let body = str_arg(body_json, "body_json")?;
        let out = out_arg(out, "out")?;
        out.hand_out(upstage_request {
            request: ChatRequest::from_json(body)?,
        });
        Ok(UPSTAGE_OK)
    })
}

/// Frees a request. NULL is a no-op. Streams opened with it do not need it any more.
///
/// # Safety
///
/// `r` is NULL or a live request, not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn upstage_request_free(r: *mut upstage_request) {
    free_handle(r)
}
