//! Choices, tool calls, log probabilities, stream snapshots and the tool loop in C:
//! `upstage_completion_choice_*`, `upstage_completion_tool_call`, `upstage_*_logprob*`,
//! `upstage_stream_next_choice_event`, `upstage_stream_snapshot` and
//! `upstage_request_add_*_message`.

use std::ffi::c_char;

use super::boundary::{
    arg, borrow, borrowed_text, guard, guard_value, invalid, out_arg, str_arg, CText,
};
use super::completion::upstage_completion;
use super::request::{edit_request, upstage_request};
use super::stream::{state_mut, state_ref, upstage_event, upstage_event_kind, upstage_stream};
use super::{upstage_error, upstage_status, UPSTAGE_DONE, UPSTAGE_NOT_AVAILABLE, UPSTAGE_OK};
use crate::{ChatCompletion, Choice, Logprobs, Message, TokenLogprob};

/// Log probabilities of a chunk: `upstage_stream_event_logprob*` read them. Only in events
/// of the stream that asked for them (`"logprobs": true`).
pub const UPSTAGE_EVENT_LOGPROBS: upstage_event_kind = 6;

/// Which token list `upstage_*_logprob*` read (the `which` argument).
pub type upstage_logprobs_kind = i32;
/// The log probabilities of the content tokens.
pub const UPSTAGE_LOGPROBS_CONTENT: upstage_logprobs_kind = 0;
/// The log probabilities of the refusal tokens.
pub const UPSTAGE_LOGPROBS_REFUSAL: upstage_logprobs_kind = 1;

/// One token and its natural-log probability, filled by the `upstage_*_logprob` functions.
/// The pointers are borrowed from the completion (or stream) they came from, as its texts.
#[repr(C)]
pub struct upstage_logprob {
    /// The token's text, NUL-terminated.
    pub token: *const c_char,
    /// Length of `token` in bytes, without the NUL (authoritative).
    pub token_len: usize,
    /// Its natural-log probability (`-INFINITY` when the server sent `null`).
    pub logprob: f64,
    /// Its UTF-8 bytes as the server sent them, or NULL when it did not (`has_bytes` 0).
    pub bytes: *const u8,
    /// Number of `bytes`.
    pub bytes_len: usize,
    /// 1 when the server sent the token's bytes, else 0.
    pub has_bytes: i32,
    /// How many alternatives `upstage_*_top_logprob` can read for this token (0 for an
    /// alternative itself).
    pub top_count: usize,
}

/// A whole tool call, filled by `upstage_completion_tool_call`. The pointers are borrowed
/// from the completion, valid until `upstage_completion_free`.
#[repr(C)]
pub struct upstage_tool_call {
    /// Its position among the choice's calls (0, 1, ...), as in tool-call events.
    pub index: u32,
    /// The call's id (answer it with `upstage_request_add_tool_message`); `""` when the
    /// server sent none.
    pub id: *const c_char,
    /// The function's name.
    pub name: *const c_char,
    /// The arguments' JSON text, assembled from every fragment.
    pub arguments: *const c_char,
    /// Length of `arguments` in bytes, without the NUL.
    pub arguments_len: usize,
    /// 1 when `arguments` is one complete JSON value, 0 when not (check before calling a
    /// tool: a server may stop mid-object).
    pub arguments_are_json: i32,
}

/// An event together with the choice it belongs to, filled by
/// `upstage_stream_next_choice_event`.
#[repr(C)]
pub struct upstage_choice_event {
    /// The choice's index (`0..n` for a request with `"n": n`).
    pub choice: u32,
    /// The event, as `upstage_stream_next_event` fills it.
    pub event: upstage_event,
}

// ---- the texts a completion keeps for its choices ----------------------------------------

/// A token's texts, NUL-terminated, with its alternatives.
struct LogprobText {
    token: CText,
    logprob: f64,
    bytes: Option<Vec<u8>>,
    top: Vec<LogprobText>,
}

impl LogprobText {
    fn new(t: &TokenLogprob) -> LogprobText {
        LogprobText {
            token: CText::new(&t.token),
            logprob: t.logprob,
            bytes: t.bytes.clone(),
            top: t
                .top_logprobs
                .iter()
                .map(|top| LogprobText {
                    token: CText::new(&top.token),
                    logprob: top.logprob,
                    bytes: top.bytes.clone(),
                    top: Vec::new(),
                })
                .collect(),
        }
    }

    fn to_c(&self) -> upstage_logprob {
        upstage_logprob {
            token: self.token.ptr(),
            token_len: self.token.len(),
            logprob: self.logprob,
            bytes: self.bytes.as_ref().map_or(std::ptr::null(), |b| b.as_ptr()),
            bytes_len: self.bytes.as_ref().map_or(0, Vec::len),
            has_bytes: i32::from(self.bytes.is_some()),
            top_count: self.top.len(),
        }
    }
}

/// The content and refusal token lists of a choice (or of one event).
#[derive(Default)]
pub(super) struct LogprobLists {
    content: Vec<LogprobText>,
    refusal: Vec<LogprobText>,
}

impl LogprobLists {
    pub(super) fn new(logprobs: Option<&Logprobs>) -> LogprobLists {
        match logprobs {
            Some(l) => LogprobLists {
                content: l.content.iter().map(LogprobText::new).collect(),
                refusal: l.refusal.iter().map(LogprobText::new).collect(),
            },
            None => LogprobLists::default(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.content.is_empty() && self.refusal.is_empty()
    }

    fn list(&self, which: upstage_logprobs_kind) -> Option<&[LogprobText]> {
        match which {
            UPSTAGE_LOGPROBS_CONTENT => Some(&self.content),
            UPSTAGE_LOGPROBS_REFUSAL => Some(&self.refusal),
            _ => None,
        }
    }

    fn count(&self, which: upstage_logprobs_kind) -> usize {
        self.list(which).map_or(0, <[LogprobText]>::len)
    }

    /// Fills `out` with entry `i` (or its alternative `top`): `UPSTAGE_NOT_AVAILABLE` when
    /// out of range.
    fn read(
        &self,
        which: upstage_logprobs_kind,
        i: usize,
        top: Option<usize>,
        out: *mut upstage_logprob,
    ) -> super::boundary::Outcome {
        let out = out_arg(out, "out")?;
        let list = self.list(which).ok_or_else(|| {
            invalid(format!(
                "`which` must be UPSTAGE_LOGPROBS_CONTENT or UPSTAGE_LOGPROBS_REFUSAL, not {which}"
            ))
        })?;
        let entry = list.get(i).and_then(|e| match top {
            Some(j) => e.top.get(j),
            None => Some(e),
        });
        match entry {
            Some(entry) => {
                out.write(entry.to_c());
                Ok(UPSTAGE_OK)
            }
            None => Ok(UPSTAGE_NOT_AVAILABLE),
        }
    }
}

struct ToolCallText {
    index: u32,
    id: CText,
    name: CText,
    arguments: CText,
    arguments_are_json: bool,
}

struct ChoiceText {
    index: u32,
    content: CText,
    reasoning: CText,
    refusal: CText,
    finish_reason: Option<CText>,
    tool_calls: Vec<ToolCallText>,
    logprobs: LogprobLists,
}

impl ChoiceText {
    fn new(choice: &Choice) -> ChoiceText {
        ChoiceText {
            index: choice.index,
            content: CText::new(&choice.content),
            reasoning: CText::new(&choice.reasoning),
            refusal: CText::new(&choice.refusal),
            finish_reason: choice.finish_reason.as_deref().map(CText::new),
            tool_calls: choice
                .tool_calls
                .iter()
                .map(|t| ToolCallText {
                    index: t.index,
                    id: CText::new(&t.id),
                    name: CText::new(&t.name),
                    arguments: CText::new(&t.arguments),
                    arguments_are_json: t.arguments_are_json(),
                })
                .collect(),
            logprobs: LogprobLists::new(choice.logprobs.as_ref()),
        }
    }
}

/// What a completion handle keeps for its choices: the choices themselves (to continue the
/// conversation with them) and their NUL-terminated texts.
pub(super) struct CompletionChoices {
    choices: Vec<Choice>,
    texts: Vec<ChoiceText>,
}

impl CompletionChoices {
    pub(super) fn new(completion: &ChatCompletion) -> CompletionChoices {
        CompletionChoices {
            texts: completion.choices.iter().map(ChoiceText::new).collect(),
            choices: completion.choices.clone(),
        }
    }
}

/// Choice `choice` (a position, `0..upstage_completion_choice_count`) of the completion `c`.
fn choice<'a>(c: *const upstage_completion, choice: usize) -> Option<&'a ChoiceText> {
    borrow(c)?.choices.texts.get(choice)
}

// ---- completion accessors ----------------------------------------------------------------

/// How many choices the completion has: 1 for a request without `"n"`, `n` otherwise (0 only
/// when `c` is NULL). Choices are ordered by index; choice 0 is what
/// `upstage_completion_content` and the other accessors without `choice` read.
///
/// # Safety
///
/// `c` is NULL or a live completion.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_choice_count(c: *const upstage_completion) -> usize {
    guard_value(0, || borrow(c).map_or(0, |c| c.choices.texts.len()))
}

/// The index the server gave choice `choice` (usually `choice` itself); 0 when out of range.
///
/// # Safety
///
/// `c` is NULL or a live completion.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_choice_index(
    c: *const upstage_completion,
    choice: usize,
) -> u32 {
    guard_value(0, || self::choice(c, choice).map_or(0, |ch| ch.index))
}

/// Choice `choice`'s answer text (`""` when none); `*len` (when `len` is non-NULL) receives
/// its length. NULL when `c` is NULL or `choice` out of range.
///
/// # Safety
///
/// `c` is NULL or a live completion; `len` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_choice_content(
    c: *const upstage_completion,
    choice: usize,
    len: *mut usize,
) -> *const c_char {
    borrowed_text(|| Some(self::choice(c, choice)?.content.ptr_and_len(len)))
}

/// Choice `choice`'s reasoning text; as `upstage_completion_choice_content`.
///
/// # Safety
///
/// As `upstage_completion_choice_content`.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_choice_reasoning(
    c: *const upstage_completion,
    choice: usize,
    len: *mut usize,
) -> *const c_char {
    borrowed_text(|| Some(self::choice(c, choice)?.reasoning.ptr_and_len(len)))
}

/// Choice `choice`'s refusal text; as `upstage_completion_choice_content`.
///
/// # Safety
///
/// As `upstage_completion_choice_content`.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_choice_refusal(
    c: *const upstage_completion,
    choice: usize,
    len: *mut usize,
) -> *const c_char {
    borrowed_text(|| Some(self::choice(c, choice)?.refusal.ptr_and_len(len)))
}

/// Why choice `choice` stopped, or NULL when the server did not say (or out of range).
///
/// # Safety
///
/// `c` is NULL or a live completion.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_choice_finish_reason(
    c: *const upstage_completion,
    choice: usize,
) -> *const c_char {
    borrowed_text(|| {
        self::choice(c, choice)?
            .finish_reason
            .as_ref()
            .map(CText::ptr)
    })
}

/// The number of tool calls of choice `choice` (0 when none or out of range).
///
/// # Safety
///
/// `c` is NULL or a live completion.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_choice_tool_call_count(
    c: *const upstage_completion,
    choice: usize,
) -> usize {
    guard_value(0, || {
        self::choice(c, choice).map_or(0, |ch| ch.tool_calls.len())
    })
}

/// Tool call `i` of choice `choice`, with whether its arguments are valid JSON.
/// @param out written only for `UPSTAGE_OK`.
/// @return `UPSTAGE_OK`, `UPSTAGE_NOT_AVAILABLE` (`choice` or `i` out of range),
///         `UPSTAGE_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `c` is NULL or a live completion; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_tool_call(
    c: *const upstage_completion,
    choice: usize,
    i: usize,
    out: *mut upstage_tool_call,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        let c = arg(c, "c")?;
        let out = out_arg(out, "out")?;
        let Some(call) = c
            .choices
            .texts
            .get(choice)
            .and_then(|ch| ch.tool_calls.get(i))
        else {
            return Ok(UPSTAGE_NOT_AVAILABLE);
        };
        out.write(upstage_tool_call {
            index: call.index,
            id: call.id.ptr(),
            name: call.name.ptr(),
            arguments: call.arguments.ptr(),
            arguments_len: call.arguments.len(),
            arguments_are_json: i32::from(call.arguments_are_json),
        });
        Ok(UPSTAGE_OK)
    })
}

/// How many tokens of choice `choice` have log probabilities (`which`: content or refusal
/// tokens); 0 when none were asked for or sent.
///
/// # Safety
///
/// `c` is NULL or a live completion.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_logprob_count(
    c: *const upstage_completion,
    choice: usize,
    which: upstage_logprobs_kind,
) -> usize {
    guard_value(0, || {
        self::choice(c, choice).map_or(0, |ch| ch.logprobs.count(which))
    })
}

/// Token `i` of choice `choice` (`which`: content or refusal tokens) and its log
/// probability; its alternatives through `upstage_completion_top_logprob`.
/// @param out written only for `UPSTAGE_OK`; its pointers are borrowed from `c`.
/// @return `UPSTAGE_OK`, `UPSTAGE_NOT_AVAILABLE` (out of range), `UPSTAGE_ERR_NULL_ARGUMENT`,
///         `UPSTAGE_ERR_INVALID_ARGUMENT` (`which`).
///
/// # Safety
///
/// `c` is NULL or a live completion; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_logprob(
    c: *const upstage_completion,
    choice: usize,
    which: upstage_logprobs_kind,
    i: usize,
    out: *mut upstage_logprob,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        let c = arg(c, "c")?;
        match c.choices.texts.get(choice) {
            Some(ch) => ch.logprobs.read(which, i, None, out),
            None => Ok(UPSTAGE_NOT_AVAILABLE),
        }
    })
}

/// Alternative `j` (`0..top_count`) at token `i`; as `upstage_completion_logprob`.
///
/// # Safety
///
/// As `upstage_completion_logprob`.
#[no_mangle]
pub unsafe extern "C" fn upstage_completion_top_logprob(
    c: *const upstage_completion,
    choice: usize,
    which: upstage_logprobs_kind,
    i: usize,
    j: usize,
    out: *mut upstage_logprob,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        let c = arg(c, "c")?;
        match c.choices.texts.get(choice) {
            Some(ch) => ch.logprobs.read(which, i, Some(j), out),
            None => Ok(UPSTAGE_NOT_AVAILABLE),
        }
    })
}

// ---- streams -----------------------------------------------------------------------------

/// Pulls the next event of any choice (`upstage_stream_next_event` keeps to choice 0):
/// content, reasoning, tool-call fragments, refusal, finish reason and log probabilities of
/// each choice, and usage (reported with choice 0). Blocks; ends like `upstage_stream_next`
/// and may be mixed with it.
/// @param ev filled on `UPSTAGE_OK` only; its pointers are borrowed from the stream and valid
///        until the next call that reads the stream (or its free).
/// @return `UPSTAGE_OK`, `UPSTAGE_DONE` or an error, as `upstage_stream_next`.
///
/// # Safety
///
/// `s` is NULL or a live stream used by this thread only; `ev` and `err` are NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_next_choice_event(
    s: *mut upstage_stream,
    ev: *mut upstage_choice_event,
    err: *mut upstage_error,
) -> upstage_status {
    guard(err, || {
        let state = state_mut(s)?;
        let ev = out_arg(ev, "ev")?;
        match state.next_choice_event()? {
            Some((choice, event)) => ev.write(upstage_choice_event { choice, event }),
            None => return Ok(UPSTAGE_DONE),
        }
        Ok(UPSTAGE_OK)
    })
}

/// How many tokens the last `UPSTAGE_EVENT_LOGPROBS` event has (`which`: content or refusal
/// tokens); 0 when the last event was of another kind.
///
/// # Safety
///
/// `s` is NULL or a live stream, not inside another call on another thread (except cancel).
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_event_logprob_count(
    s: *const upstage_stream,
    which: upstage_logprobs_kind,
) -> usize {
    guard_value(0, || {
        state_ref(s).map_or(0, |st| st.event_logprobs.count(which))
    })
}

/// Token `i` of the last `UPSTAGE_EVENT_LOGPROBS` event; as `upstage_completion_logprob`,
/// its pointers borrowed from the stream until the next call that reads it.
///
/// # Safety
///
/// As `upstage_stream_event_logprob_count`; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_event_logprob(
    s: *const upstage_stream,
    which: upstage_logprobs_kind,
    i: usize,
    out: *mut upstage_logprob,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        let state = state_ref(s).ok_or_else(|| super::boundary::null("s"))?;
        state.event_logprobs.read(which, i, None, out)
    })
}

/// Alternative `j` at token `i` of the last `UPSTAGE_EVENT_LOGPROBS` event.
///
/// # Safety
///
/// As `upstage_stream_event_logprob`.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_event_top_logprob(
    s: *const upstage_stream,
    which: upstage_logprobs_kind,
    i: usize,
    j: usize,
    out: *mut upstage_logprob,
) -> upstage_status {
    guard(std::ptr::null_mut(), || {
        let state = state_ref(s).ok_or_else(|| super::boundary::null("s"))?;
        state.event_logprobs.read(which, i, Some(j), out)
    })
}

/// What the stream has assembled so far, as a new completion: every choice's content
/// (including the tokens `upstage_stream_next` handed out), reasoning, refusal, tool calls,
/// finish reason and log probabilities, and the usage, model and ids. Works at any time,
/// also after an error: a stream that failed midway still gives what arrived.
/// @param out receives the completion on success; free it with `upstage_completion_free`.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`.
///
/// # Safety
///
/// `s` is NULL or a live stream used by this thread only; `out` and `err` are NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn upstage_stream_snapshot(
    s: *const upstage_stream,
    out: *mut *mut upstage_completion,
    err: *mut upstage_error,
) -> upstage_status {
    guard(err, || {
        let state = state_ref(s).ok_or_else(|| super::boundary::null("s"))?;
        let out = out_arg(out, "out")?;
        out.hand_out(upstage_completion::from(state.stream.snapshot()));
        Ok(UPSTAGE_OK)
    })
}

// ---- the tool loop -----------------------------------------------------------------------

/// Appends choice `choice` of `c` as the assistant message that continues the conversation:
/// its content and its tool calls (answer each with `upstage_request_add_tool_message`),
/// and, when `with_reasoning` is non-zero, its reasoning as `reasoning_content` (for servers
/// that want it back; most do not).
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT`
///         (`choice` out of range).
///
/// # Safety
///
/// `r` is NULL or a live request used by this thread only; `c` is NULL or a live completion.
#[no_mangle]
pub unsafe extern "C" fn upstage_request_add_assistant_message(
    r: *mut upstage_request,
    c: *const upstage_completion,
    choice: usize,
    with_reasoning: i32,
) -> upstage_status {
    edit_request(r, |request| {
        let c = arg(c, "c")?;
        let choice = c.choices.choices.get(choice).ok_or_else(|| {
            invalid(format!(
                "choice {choice} is out of range: the completion has {}",
                c.choices.choices.len()
            ))
        })?;
        let message = match with_reasoning {
            0 => choice.to_message(),
            _ => choice.to_message_with_reasoning(),
        };
        request.push_message(message);
        Ok(())
    })
}

/// Appends a `"tool"` message: the result `content` of the tool call `tool_call_id`.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT` (not
///         UTF-8).
///
/// # Safety
///
/// `r` is NULL or a live request used by this thread only; the strings are NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_request_add_tool_message(
    r: *mut upstage_request,
    tool_call_id: *const c_char,
    content: *const c_char,
) -> upstage_status {
    edit_request(r, |request| {
        let id = str_arg(tool_call_id, "tool_call_id")?;
        let content = str_arg(content, "content")?;
        request.push_message(Message::tool(id, content));
        Ok(())
    })
}

/// Appends one message given as a JSON object (`{"role": ..., "content": ...}` with any
/// other member, such as `tool_calls` or `tool_call_id`), sent as given.
/// @return `UPSTAGE_OK`, `UPSTAGE_ERR_NULL_ARGUMENT`, `UPSTAGE_ERR_INVALID_ARGUMENT` (not
///         JSON, not an object, or no string `role`).
///
/// # Safety
///
/// `r` is NULL or a live request used by this thread only; `message_json` is NULL or
/// NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn upstage_request_add_message_json(
    r: *mut upstage_request,
    message_json: *const c_char,
) -> upstage_status {
    edit_request(r, |request| {
        let json = str_arg(message_json, "message_json")?;
        let value: serde_json::Value = serde_json::from_str(json)
            .map_err(|e| invalid(format!("`message_json` is not valid JSON: {e}")))?;
        if !value.is_object() {
            return Err(invalid("`message_json` must be a JSON object"));
        }
        let array = serde_json::Value::Array(vec![value]).to_string();
        for message in crate::ChatRequest::messages_from_json(&array)? {
            request.push_message(message);
        }
        Ok(())
    })
}
