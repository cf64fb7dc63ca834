//! [`ChatStream`]: SSE events in, tokens and deltas out, with the completion contract.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;

use crate::cancel::CancelHandle;
use crate::chunk::{self, Chunk, DeltaFields, ToolCallFragment};
use crate::client::{Flavor, Limits, Resend};
use crate::completion::{ChatCompletion, Delta, ToolCall, ToolCallDelta, Usage};
use crate::error::{Error, ErrorKind, Result, TimeoutPhase};
use crate::sse;
use crate::transport::{self, Exchange};

/// The response body as the stream reads it.
pub(crate) type Body = Box<dyn Read + Send>;

/// A streaming chat answer.
///
/// As an [`Iterator`] it yields the content tokens as owned `String`s. For no allocation
/// per token use [`next_token`](ChatStream::next_token); for reasoning, tool calls,
/// refusals, the finish reason and usage as they arrive use
/// [`next_event`](ChatStream::next_event). After the last token, [`finish_reason`],
/// [`usage`], [`model`] and [`request_id`] tell the rest.
///
/// The stream succeeds when the server sends `data: [DONE]`, or ends the body cleanly after
/// a `finish_reason`; any other end is an [`ErrorKind::Truncated`] error. Nothing is read
/// after `[DONE]`: the connection is closed at once. Tokens already returned stay valid
/// whatever happens later. Dropping the stream closes the connection.
///
/// [`finish_reason`]: ChatStream::finish_reason
/// [`usage`]: ChatStream::usage
/// [`model`]: ChatStream::model
/// [`request_id`]: ChatStream::request_id
pub struct ChatStream {
    decoder: Option<sse::Decoder<Body>>,
    flavor: Flavor,
    state: State,
    progress: Progress,
    cancel: CancelHandle,
    /// The fast path for usual chunks (token mode only).
    fast: chunk::FastDecoder,
    /// How to send the request again, until something is handed out.
    resend: Option<Box<Resend>>,
    /// The HTTP exchange the body comes from (none for bodies not read over HTTP).
    exchange: Option<Arc<Exchange>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Done,
    Failed,
}

/// What a chunk is turned into: a token for `next_token`, or queued deltas for `next_event`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Tokens,
    Events,
}

/// Everything learned from the stream so far, apart from the decoder.
#[derive(Default)]
struct Progress {
    token: String,
    pending: VecDeque<Delta>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    model: Option<String>,
    id: Option<String>,
    request_id: Option<String>,
    tool_calls: Vec<ToolCall>,
    skipped_chunks: u64,
    attempts: u32,
    /// Body bytes read, kept once the decoder is dropped.
    bytes: u64,
}

impl ChatStream {
    /// A stream over an SSE body already read from somewhere (a file, a recorded response,
    /// a socket you manage). `flavor` decides how invalid JSON is treated.
    ///
    /// ```
    /// let body = "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n";
    /// let stream = upstage::ChatStream::from_reader(
    ///     std::io::Cursor::new(body),
    ///     upstage::Flavor::Api,
    ///     upstage::Limits::default(),
    /// );
    /// let tokens: Vec<String> = stream.collect::<Result<_, _>>()?;
    /// assert_eq!(tokens, ["Hi"]);
    /// # Ok::<(), upstage::Error>(())
    /// ```
    pub fn from_reader(reader: impl Read + Send + 'static, flavor: Flavor, limits: Limits) -> Self {
        ChatStream::new(Box::new(reader), flavor, limits, CancelHandle::new())
    }

    pub(crate) fn new(body: Body, flavor: Flavor, limits: Limits, cancel: CancelHandle) -> Self {
        let limits = sse::Limits {
            max_line: limits.max_line,
            max_event: limits.max_event,
        };
        ChatStream::with_decoder(Some(sse::Decoder::new(body, limits)), flavor, cancel)
    }

    fn with_decoder(
        decoder: Option<sse::Decoder<Body>>,
        flavor: Flavor,
        cancel: CancelHandle,
    ) -> Self {
        ChatStream {
            decoder,
            flavor,
            state: State::Open,
            progress: Progress {
                attempts: 1,
                ..Progress::default()
            },
            cancel,
            fast: chunk::FastDecoder::default(),
            resend: None,
            exchange: None,
        }
    }

    /// A stream that replays a whole `chat.completion` object (a server that ignored
    /// `"stream": true`, or a non-streaming request) as deltas.
    pub(crate) fn from_completion_json(
        json: &[u8],
        flavor: Flavor,
        cancel: CancelHandle,
    ) -> Result<Self> {
        let mut stream = ChatStream::with_decoder(None, flavor, cancel);
        let chunk: Chunk = serde_json::from_slice(json).map_err(|e| {
            Error::new(
                ErrorKind::Protocol,
                format!("the JSON answer is not a chat completion: {e}"),
            )
        })?;
        if chunk.is_error() {
            return Err(in_band_error(&chunk));
        }
        apply_chunk(&mut stream.progress, chunk, Mode::Events);
        stream.state = State::Done;
        Ok(stream)
    }

    pub(crate) fn set_request_id(&mut self, request_id: Option<String>) {
        self.progress.request_id = request_id;
    }

    pub(crate) fn set_exchange(&mut self, exchange: Arc<Exchange>) {
        self.exchange = Some(exchange);
    }

    /// Keeps what it takes to retry if the connection dies before the first token.
    pub(crate) fn keep_for_retry(&mut self, resend: Resend) {
        if self.decoder.is_some() {
            self.resend = Some(Box::new(resend));
        }
    }

    pub(crate) fn set_attempts(&mut self, attempts: u32) {
        self.progress.attempts = attempts;
    }

    /// The next content token, borrowed from the stream's buffer (no allocation per token).
    ///
    /// `None` when the stream finished normally; `Some(Err(_))` once when it failed, then
    /// `None`.
    pub fn next_token(&mut self) -> Option<Result<&str>> {
        loop {
            // Deltas queued by `next_event`, or by a whole JSON answer.
            while let Some(delta) = self.progress.pending.pop_front() {
                if let Delta::Content(text) = delta {
                    self.progress.token = text;
                    return Some(Ok(&self.progress.token));
                }
            }
            match self.step(Mode::Tokens) {
                Ok(Step::Produced) => return Some(Ok(&self.progress.token)),
                Ok(Step::Continue) => {}
                Ok(Step::Finished) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The next delta: content, reasoning, tool-call fragment, refusal, finish reason or
    /// usage, in the order the server sent them. Ends like [`next_token`](Self::next_token).
    pub fn next_event(&mut self) -> Option<Result<Delta>> {
        loop {
            if let Some(delta) = self.progress.pending.pop_front() {
                return Some(Ok(delta));
            }
            match self.step(Mode::Events) {
                Ok(Step::Produced | Step::Continue) => {}
                Ok(Step::Finished) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Drains the stream into one [`ChatCompletion`].
    pub fn into_completion(mut self) -> Result<ChatCompletion> {
        let mut completion = ChatCompletion::default();
        while let Some(delta) = self.next_event() {
            match delta? {
                Delta::Content(text) => completion.content.push_str(&text),
                Delta::Reasoning(text) => completion.reasoning.push_str(&text),
                Delta::Refusal(text) => completion.refusal.push_str(&text),
                Delta::ToolCall(_) | Delta::Finish(_) | Delta::Usage(_) => {}
            }
        }
        let progress = std::mem::take(&mut self.progress);
        completion.tool_calls = progress.tool_calls;
        completion.finish_reason = progress.finish_reason;
        completion.usage = progress.usage;
        completion.model = progress.model;
        completion.id = progress.id;
        completion.request_id = progress.request_id;
        Ok(completion)
    }

    /// Why generation stopped, once the server said (`stop`, `length`, `tool_calls`, ...).
    pub fn finish_reason(&self) -> Option<&str> {
        self.progress.finish_reason.as_deref()
    }

    /// Token usage, once the server reported it.
    pub fn usage(&self) -> Option<Usage> {
        self.progress.usage
    }

    /// The model that answers, as the server named it in its chunks.
    pub fn model(&self) -> Option<&str> {
        self.progress.model.as_deref()
    }

    /// The completion id from the chunks.
    pub fn id(&self) -> Option<&str> {
        self.progress.id.as_deref()
    }

    /// The response's `x-request-id` header.
    pub fn request_id(&self) -> Option<&str> {
        self.progress.request_id.as_deref()
    }

    /// Tool calls assembled so far, ordered by index.
    pub fn tool_calls(&self) -> &[ToolCall] {
        &self.progress.tool_calls
    }

    /// How many chunks of invalid JSON were skipped (`WebDemo` flavor only; the `Api`
    /// flavor fails on them instead).
    pub fn skipped_chunks(&self) -> u64 {
        self.progress.skipped_chunks
    }

    /// How many HTTP attempts it took to open this stream (1 without retries).
    pub fn attempts(&self) -> u32 {
        self.progress.attempts
    }

    /// How many body bytes have been read so far (after HTTP de-chunking).
    pub fn bytes_received(&self) -> u64 {
        self.decoder
            .as_ref()
            .map_or(self.progress.bytes, sse::Decoder::bytes_read)
    }

    /// A handle that cancels this stream from any thread.
    pub fn cancel_handle(&self) -> CancelHandle {
        self.cancel.clone()
    }

    /// Whether the stream finished normally.
    pub fn is_done(&self) -> bool {
        self.state == State::Done && self.progress.pending.is_empty()
    }

    /// Reads and handles one SSE event.
    fn step(&mut self, mode: Mode) -> Result<Step> {
        match self.state {
            State::Open => {}
            State::Done | State::Failed => return Ok(Step::Finished),
        }
        match self.read_event(mode) {
            Ok(Step::Finished) => {
                self.close(State::Done);
                Ok(Step::Finished)
            }
            Ok(Step::Produced) => {
                // Something reached the caller: from now on a failure is final.
                self.resend = None;
                Ok(Step::Produced)
            }
            Ok(Step::Continue) => Ok(Step::Continue),
            Err(e) => {
                let e = e
                    .with_request_id(self.progress.request_id.clone())
                    .with_attempts(self.progress.attempts);
                match self.retry_before_first_token(e) {
                    Ok(()) => Ok(Step::Continue),
                    Err(e) => {
                        self.close(State::Failed);
                        Err(e)
                    }
                }
            }
        }
    }

    /// A connection that died before anything reached the caller (reset, closed early)
    /// is retried like one that failed before its headers: same budget, waits and
    /// deadline. Returns the error to report when it is not retried, or fails again.
    fn retry_before_first_token(&mut self, error: Error) -> Result<()> {
        let retryable = matches!(error.kind(), ErrorKind::Truncated | ErrorKind::Io);
        let Some(resend) = self.resend.take().filter(|_| retryable) else {
            return Err(error);
        };
        // The new stream shares the cancellation without owning the agent's slot, so that
        // dropping its husk below does not detach the agent this stream still uses.
        let cancel = self.cancel.unslotted();
        let attempts = self.progress.attempts;
        // Already judged retryable above; the budget, waits and deadline still apply.
        let verdict = Some(true);
        let mut next = resend.attempts(&cancel, attempts, Some((error, verdict)))?;
        self.decoder = next.decoder.take();
        self.exchange = next.exchange.take();
        self.progress = std::mem::take(&mut next.progress);
        // `Done` when the server answered with a whole JSON completion this time.
        self.state = next.state;
        self.fast = chunk::FastDecoder::default();
        self.resend = Some(resend);
        Ok(())
    }

    fn read_event(&mut self, mode: Mode) -> Result<Step> {
        if self.cancel.is_cancelled() {
            return Err(cancelled());
        }
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(Step::Finished);
        };
        let event = match decoder.next_event() {
            Ok(Some(event)) => event,
            Ok(None) => return self.end_of_body(),
            Err(e) => return Err(sse_error(e, &self.cancel)),
        };
        if event.data.trim_ascii() == b"[DONE]" {
            return Ok(Step::Finished);
        }
        if event.event == b"error" {
            return Err(event_error(event.data));
        }
        if mode == Mode::Tokens {
            // The usual chunk of a token stream: the same frame as the last one, only the
            // content differs, and that content is all `apply_chunk` would take from it.
            let need_id = self.progress.id.is_none();
            let need_model = self.progress.model.is_none();
            if let Some(content) = self.fast.content(event.data, need_id, need_model) {
                if content.is_empty() {
                    return Ok(Step::Continue);
                }
                self.progress.token.clear();
                self.progress.token.push_str(content);
                return Ok(Step::Produced);
            }
        }
        // Tokens take the fast decoder when it recognises the chunk; it yields exactly the
        // chunk serde would (see `chunk::FastDecoder`), and leaves everything else to serde.
        let fast = match mode {
            Mode::Tokens => {
                // `apply_chunk` reads `id` and `model` only until it knows them.
                let want_names = self.progress.id.is_none() || self.progress.model.is_none();
                self.fast.decode(event.data, want_names)
            }
            Mode::Events => None,
        };
        let chunk: Chunk = match fast {
            Some(chunk) => chunk,
            None => match serde_json::from_slice(event.data) {
                Ok(chunk) => chunk,
                Err(e) => return invalid_chunk(self.flavor, &mut self.progress, event.data, e),
            },
        };
        if chunk.is_error() {
            return Err(in_band_error(&chunk));
        }
        Ok(match apply_chunk(&mut self.progress, chunk, mode) {
            true => Step::Produced,
            false => Step::Continue,
        })
    }

    /// A clean end of body is success only after a finish reason. A cancel shuts the
    /// socket down, which a close-delimited body (or TLS without `close_notify`) reports
    /// as a clean end: that is `Cancelled`, not `Truncated`.
    fn end_of_body(&self) -> Result<Step> {
        if self.cancel.is_cancelled() {
            return Err(cancelled());
        }
        if self.progress.finish_reason.is_some() {
            return Ok(Step::Finished);
        }
        Err(Error::new(
            ErrorKind::Truncated,
            "the stream ended before [DONE] and without a finish_reason",
        )
        .with_http_status(200))
    }

    /// Drops the body and records how the stream ended. After a normal end, what is left
    /// of the body is read if it comes at once, so that the connection can serve another
    /// request; otherwise dropping the body closes the connection.
    fn close(&mut self, state: State) {
        if let Some(decoder) = self.decoder.take() {
            self.progress.bytes = decoder.bytes_read();
            if let (State::Done, Some(exchange)) = (state, &self.exchange) {
                let mut body = decoder.into_inner();
                transport::drain_after_done(&mut body, exchange);
            }
        }
        self.exchange = None;
        self.state = state;
        self.cancel.detach();
    }
}

impl Drop for ChatStream {
    /// A stream dropped before its end also forgets its agent in the cancel handle (which
    /// the caller may keep and reuse).
    fn drop(&mut self) {
        self.cancel.detach();
    }
}

/// What one step produced.
enum Step {
    /// A token is ready (`Tokens` mode) or deltas were queued (`Events` mode).
    Produced,
    /// Nothing to hand out yet; read on.
    Continue,
    /// The stream finished normally.
    Finished,
}

impl Iterator for ChatStream {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Result<String>> {
        self.next_token().map(|r| r.map(str::to_owned))
    }
}

impl std::iter::FusedIterator for ChatStream {}

impl fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatStream")
            .field("flavor", &self.flavor)
            .field("state", &self.state)
            .field("finish_reason", &self.progress.finish_reason)
            .field("model", &self.progress.model)
            .field("request_id", &self.progress.request_id)
            .finish_non_exhaustive()
    }
}

/// Records what a chunk says; returns whether it produced something to hand out.
fn apply_chunk(progress: &mut Progress, chunk: Chunk, mode: Mode) -> bool {
    if progress.id.is_none() {
        progress.id = chunk.id.map(|id| id.into_owned());
    }
    if progress.model.is_none() {
        progress.model = chunk.model.map(|m| m.into_owned());
    }
    let mut produced = false;
    if let Some(choice) = chunk.choice {
        if let Some(delta) = choice.delta {
            produced |= apply_delta(progress, delta, mode);
        }
        if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
            if mode == Mode::Events {
                progress
                    .pending
                    .push_back(Delta::Finish(reason.to_string()));
                produced = true;
            }
            progress.finish_reason = Some(reason.into_owned());
        }
    }
    if let Some(usage) = chunk.usage {
        let usage = usage.into_usage();
        progress.usage = Some(usage);
        if mode == Mode::Events {
            progress.pending.push_back(Delta::Usage(usage));
            produced = true;
        }
    }
    produced
}

fn apply_delta(progress: &mut Progress, delta: DeltaFields, mode: Mode) -> bool {
    let mut produced = false;
    for fragment in delta.tool_calls.into_iter().flatten() {
        let fragment = merge_tool_call(&mut progress.tool_calls, fragment);
        if mode == Mode::Events {
            progress.pending.push_back(Delta::ToolCall(fragment));
            produced = true;
        }
    }
    let reasoning = delta.reasoning.or(delta.reasoning_content);
    let texts = [
        (reasoning, Delta::Reasoning as fn(String) -> Delta),
        (delta.content, Delta::Content),
        (delta.refusal, Delta::Refusal),
    ];
    for (index, (text, make)) in texts.into_iter().enumerate() {
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            continue;
        };
        match mode {
            Mode::Events => progress.pending.push_back(make(text.into_owned())),
            // Only content is a token; reuse the buffer so a token costs no allocation.
            Mode::Tokens if index == 1 => {
                progress.token.clear();
                progress.token.push_str(&text);
            }
            Mode::Tokens => continue,
        }
        produced = true;
    }
    produced
}

/// Adds a fragment to the call with the same index (creating it), and returns the
/// fragment as a public delta.
fn merge_tool_call(calls: &mut Vec<ToolCall>, fragment: ToolCallFragment) -> ToolCallDelta {
    // Servers that omit `index` send one fragment per call (whole calls).
    let index = fragment.index.unwrap_or(calls.len() as u32);
    let position = match calls.iter().position(|c| c.index == index) {
        Some(position) => position,
        None => {
            let at = calls.partition_point(|c| c.index < index);
            calls.insert(
                at,
                ToolCall {
                    index,
                    ..ToolCall::default()
                },
            );
            at
        }
    };
    let call = &mut calls[position];
    let (name, arguments) = match fragment.function {
        Some(f) => (f.name, f.arguments),
        None => (None, None),
    };
    let delta = ToolCallDelta {
        index,
        id: fragment.id.map(|s| s.into_owned()),
        name: name.map(|s| s.into_owned()),
        arguments: arguments.map(|s| s.into_owned()).unwrap_or_default(),
    };
    if let Some(id) = &delta.id {
        call.id.clone_from(id);
    }
    if let Some(name) = &delta.name {
        call.name.push_str(name);
    }
    call.arguments.push_str(&delta.arguments);
    delta
}

/// Invalid JSON: an error in the `Api` flavor, skipped and counted in `WebDemo` (like the
/// seed). Invalid UTF-8 is an error in both.
fn invalid_chunk(
    flavor: Flavor,
    progress: &mut Progress,
    data: &[u8],
    error: serde_json::Error,
) -> Result<Step> {
    if std::str::from_utf8(data).is_err() {
        return Err(
            Error::new(ErrorKind::Protocol, "an event is not valid UTF-8").with_http_status(200),
        );
    }
    match flavor {
        Flavor::WebDemo => {
            progress.skipped_chunks += 1;
            Ok(Step::Continue)
        }
        Flavor::Api => Err(Error::new(
            ErrorKind::Protocol,
            format!("an event is not valid JSON ({error}): {}", excerpt(data)),
        )
        .with_http_status(200)),
    }
}

/// `event: error`: the data is usually a JSON error object, sometimes plain text.
fn event_error(data: &[u8]) -> Error {
    match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(value) => api_error(chunk::api_error_parts(&value), data),
        Err(_) => Error::new(ErrorKind::Api, excerpt(data)).with_http_status(200),
    }
}

fn in_band_error(chunk: &Chunk) -> Error {
    let parts = match &chunk.error {
        Some(error) => chunk::api_error_parts(&serde_json::json!({ "error": error })),
        None => chunk::api_error_parts(&serde_json::json!({
            "message": chunk.message,
        })),
    };
    api_error(parts, b"the server reported an error")
}

fn api_error(parts: chunk::ApiErrorParts, fallback: &[u8]) -> Error {
    let message = parts
        .message
        .unwrap_or_else(|| String::from_utf8_lossy(fallback).into_owned());
    Error::new(ErrorKind::Api, message)
        .with_http_status(200)
        .with_api_details(parts.kind, parts.code, parts.param)
}

/// A short, printable piece of bad data for an error message.
fn excerpt(data: &[u8]) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(&data[..data.len().min(MAX)]);
    if data.len() > MAX {
        format!("{text}...")
    } else {
        text.into_owned()
    }
}

fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, "the stream was cancelled")
}

fn sse_error(error: sse::SseError, cancel: &CancelHandle) -> Error {
    match error {
        sse::SseError::Io(e) => body_io_error(e, cancel),
        sse::SseError::LineTooLong { limit } => Error::new(
            ErrorKind::Limit,
            format!("a line of the stream exceeds the {limit}-byte limit"),
        )
        .with_http_status(200),
        sse::SseError::EventTooLarge { limit } => Error::new(
            ErrorKind::Limit,
            format!("an event of the stream exceeds the {limit}-byte limit"),
        )
        .with_http_status(200),
    }
}

/// Classifies a failed body read: cancelled, timed out, truncated, malformed or other I/O.
pub(crate) fn body_io_error(error: io::Error, cancel: &CancelHandle) -> Error {
    if cancel.is_cancelled() {
        return cancelled();
    }
    let message = error.to_string();
    let kind = error.kind();
    let error = match error.into_inner() {
        Some(inner) => match inner.downcast::<ureq::Error>() {
            Ok(ureq_error) => return body_ureq_error(*ureq_error, cancel),
            Err(inner) => inner.to_string(),
        },
        None => message,
    };
    let kind = match kind {
        io::ErrorKind::UnexpectedEof
        | io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => ErrorKind::Truncated,
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            return Error::timeout(TimeoutPhase::Idle).with_http_status(200);
        }
        io::ErrorKind::InvalidData => ErrorKind::Protocol,
        _ => ErrorKind::Io,
    };
    let message = match kind {
        ErrorKind::Truncated => format!("the stream was cut off: {error}"),
        _ => format!("reading the stream failed: {error}"),
    };
    Error::new(kind, message).with_http_status(200)
}

fn body_ureq_error(error: ureq::Error, cancel: &CancelHandle) -> Error {
    match error {
        ureq::Error::Io(e) => body_io_error(e, cancel),
        ureq::Error::Timeout(ureq::Timeout::Global | ureq::Timeout::PerCall) => {
            Error::timeout(TimeoutPhase::Total).with_http_status(200)
        }
        ureq::Error::Timeout(_) => Error::timeout(TimeoutPhase::Idle).with_http_status(200),
        ureq::Error::Protocol(e) => Error::new(
            ErrorKind::Protocol,
            format!("malformed HTTP body framing: {e}"),
        )
        .with_http_status(200),
        other => Error::new(ErrorKind::Io, format!("reading the stream failed: {other}"))
            .with_http_status(200),
    }
}
