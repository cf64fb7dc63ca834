//! [`ChatStream`](crate::ChatStream): SSE events in, tokens and deltas out, with the completion contract.

use std::fmt;
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use crate::accumulate::{apply_chunk, Budget, Mode, Progress};
use crate::cancel::CancelHandle;
use crate::completion::{ChatCompletion, ChoiceDelta, Delta, ToolCall, Usage};
use crate::config::{Flavor, Limits};
use crate::error::{Error, ErrorKind, Result};
use crate::log::{debug_log, DebugLog};
use crate::rate_limit::RateLimit;
use crate::record::Recording;
use crate::response::{self, sse_error, Body, BodyKind};
use crate::response_headers::ResponseHeaders;
use crate::sse;
use crate::timings::{Stopwatch, Timings};
use crate::transport::{self, Exchange};
use crate::wire::{self, Chunk, Decoded, FastDecoder};

/// Sends the request of a stream again. A stream keeps one until it hands out its first
/// token, so that a connection that dies right after its headers is retried like one that
/// failed before them.
pub(crate) trait Reopen: Send {
    /// A new stream for the same request, after `attempts` attempts of which the last failed
    /// with `error`; or the error to report when it is final (the retry policy decides).
    fn reopen(&self, cancel: &CancelHandle, attempts: u32, error: Error) -> Result<ChatStream>;
}

/// A streaming chat answer.
///
/// As an [`Iterator`] it yields the content tokens as owned `String`s. For no allocation
/// per token use [`next_token`](ChatStream::next_token); for reasoning, tool calls,
/// refusals, log probabilities, the finish reason and usage as they arrive use
/// [`next_delta`](ChatStream::next_delta). After the last token, [`finish_reason`],
/// [`usage`], [`model`] and [`request_id`] tell the rest.
///
/// # Several choices
///
/// A request with `"n": 2` gets two answers, interleaved chunk by chunk; a choice is known by
/// its `index`, never by its place in a chunk (a chunk that numbers some of its choices and
/// not others is an [`ErrorKind::Protocol`] error: which answer an unnumbered choice belongs
/// to would be a guess). Tokens, [`next_delta`](ChatStream::next_delta),
/// [`finish_reason`] and [`tool_calls`](ChatStream::tool_calls) are choice 0's;
/// [`next_choice_delta`](ChatStream::next_choice_delta) hands out every choice's deltas with
/// their index, and [`into_completion`](ChatStream::into_completion) gives every choice.
///
/// # When a stream fails
///
/// What arrived before the failure is not lost: [`snapshot`](ChatStream::snapshot) and
/// [`into_partial_completion`](ChatStream::into_partial_completion) give the texts, tool
/// calls, usage and finish reasons assembled so far next to the error.
///
/// # When a stream is complete
///
/// A stream succeeds when it receives `data: [DONE]`, or when the body ends cleanly after a
/// chunk carried a `finish_reason` (Hugging Face `transformers serve` never sends `[DONE]`).
/// Any other end (the server closed the connection early, a reset, an incomplete chunked
/// body) is [`ErrorKind::Truncated`](crate::ErrorKind::Truncated), with every token read before it already delivered.
/// No event after `[DONE]` is read. What is left of the body is read only if it is already
/// there or arrives within a short grace (50 ms), so that the connection can serve the
/// client's next request; otherwise the connection is closed, so a server that keeps the
/// body open cannot block the caller.
///
/// Tokens already delivered stay delivered whatever happens after them; the error that ends
/// a stream comes after its last token.
///
/// # What the stream accepts
///
/// - Server-sent events per the WHATWG rules: LF, CRLF and lone CR line ends (a CR at the
///   end of one read and an LF at the start of the next are one line end), one leading BOM
///   stripped, comments ignored, exactly one space after the colon removed, colon-less
///   fields, multi-line `data` joined with `\n`, `event`/`id`/`retry` handled, an
///   unterminated event at the end of the body discarded.
/// - Chunks decoded leniently: unknown fields, `choices: []` usage chunks, `delta: null`,
///   `finish_reason: ""` and any finish-reason string are fine. An error inside the stream
///   (`event: error`, `{"error": ...}`, `{"type": "error"}`) is [`ErrorKind::Api`](crate::ErrorKind::Api).
/// - A 200 answer that is a whole `chat.completion` JSON object (a server that ignored
///   `"stream": true`) streams as its deltas; a body that is neither SSE nor JSON is
///   [`ErrorKind::Protocol`](crate::ErrorKind::Protocol), naming the content type.
///
/// How long the stream may wait is set by [`Timeouts`](crate::Timeouts), how much it may buffer by [`Limits`](crate::Limits),
/// and it can be stopped from another thread with a [`CancelHandle`](crate::CancelHandle).
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
    fast: FastDecoder,
    /// How to send the request again, until something is handed out.
    reopen: Option<Box<dyn Reopen>>,
    /// The HTTP exchange the body comes from (none for a body not read over HTTP).
    exchange: Option<Arc<Exchange>>,
    /// The response headers (shared with the errors that carry them).
    headers: Arc<ResponseHeaders>,
    /// The error that ended the stream.
    error: Option<Error>,
    log: DebugLog,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    Done,
    Failed,
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
        let decoder_limits = sse::Limits {
            max_line: limits.max_line,
            max_event: limits.max_event,
        };
        let decoder = sse::Decoder::new(body, decoder_limits);
        ChatStream::with_decoder(Some(decoder), flavor, limits, cancel)
    }

    fn with_decoder(
        decoder: Option<sse::Decoder<Body>>,
        flavor: Flavor,
        limits: Limits,
        cancel: CancelHandle,
    ) -> Self {
        ChatStream {
            decoder,
            flavor,
            state: State::Open,
            progress: Progress {
                budget: Budget::new(limits.max_assembled),
                attempts: 1,
                watch: Stopwatch::started_at(Instant::now()),
                ..Progress::default()
            },
            cancel,
            fast: FastDecoder::default(),
            reopen: None,
            exchange: None,
            headers: Arc::default(),
            error: None,
            log: DebugLog::new(Some(false)),
        }
    }

    /// A stream that replays a whole `chat.completion` object (a server that ignored
    /// `"stream": true`, or a non-streaming request) as deltas.
    pub(crate) fn from_completion_json(
        json: &[u8],
        flavor: Flavor,
        limits: Limits,
        cancel: CancelHandle,
    ) -> Result<Self> {
        let mut stream = ChatStream::with_decoder(None, flavor, limits, cancel);
        let chunk: Chunk = serde_json::from_slice(json).map_err(|e| {
            Error::new(
                ErrorKind::Protocol,
                format!("the JSON answer is not a chat completion: {e}"),
            )
        })?;
        if chunk.is_error() {
            return Err(wire::in_band_error(&chunk));
        }
        apply_chunk(&mut stream.progress, chunk, Mode::Deltas)?;
        stream.progress.choices.check()?;
        stream.progress.bytes = json.len() as u64;
        stream.state = State::Done;
        Ok(stream)
    }

    /// Keeps choice 0's tokens in the stream too, so that a [`snapshot`](Self::snapshot) of a
    /// stream read token by token holds them (the C pull API does; the Rust token path does
    /// not, so that a token costs no allocation).
    pub(crate) fn keep_tokens(&mut self) {
        self.progress.keep_tokens = true;
    }

    /// A stream over a recording ([`Client::stream_recorded`](crate::Client::stream_recorded),
    /// the CLI's `--record`, or `curl -i` output): the recorded status, headers and body go
    /// through the same code as a live response, with no network. A recorded HTTP error is
    /// returned as that error.
    ///
    /// ```
    /// let recording = "upstage-recording/1 200 OK\n\
    ///                  content-type: text/event-stream\n\
    ///                  x-ratelimit-remaining-requests: 9\n\
    ///                  \n\
    ///                  data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n\
    ///                  data: [DONE]\n\n";
    /// let stream = upstage::ChatStream::replay(
    ///     std::io::Cursor::new(recording),
    ///     upstage::Flavor::Api,
    ///     upstage::Limits::default(),
    /// )?;
    /// let remaining = stream.rate_limit().and_then(|l| l.requests).and_then(|r| r.remaining);
    /// assert_eq!(remaining, Some(9));
    /// let tokens: Vec<String> = stream.collect::<Result<_, _>>()?;
    /// assert_eq!(tokens, ["Hi"]);
    /// # Ok::<(), upstage::Error>(())
    /// ```
    pub fn replay(
        recording: impl Read + Send + 'static,
        flavor: Flavor,
        limits: Limits,
    ) -> Result<Self> {
        let recording = Recording::read(recording)?;
        let headers = Arc::new(recording.headers);
        let cancel = CancelHandle::new();
        if !(200..300).contains(&recording.status) {
            let reason = response::reason(recording.status, &recording.reason);
            let body = response::read_bounded(recording.body, limits.max_error_body, &cancel);
            let (error, _) = response::error_response(recording.status, &reason, &headers, body);
            return Err(error);
        }
        let mut stream = ChatStream::from_body(recording.body, &headers, flavor, limits, &cancel)?;
        stream.set_response(headers, None, DebugLog::new(Some(false)));
        Ok(stream)
    }

    /// A stream over a 2xx body: SSE, a whole JSON completion (servers that ignore
    /// `stream`), or a protocol error naming an unexpected content type.
    pub(crate) fn from_body(
        reader: Body,
        headers: &Arc<ResponseHeaders>,
        flavor: Flavor,
        limits: Limits,
        cancel: &CancelHandle,
    ) -> Result<Self> {
        let request_id = headers.get("x-request-id").map(str::to_owned);
        let content_type = headers.get("content-type").unwrap_or_default();
        let attach = |e: Error| {
            e.with_request_id(request_id.clone())
                .with_headers(Arc::clone(headers))
        };
        let (kind, reader) = response::sniff(content_type, reader, cancel).map_err(attach)?;
        let mut stream = match kind {
            BodyKind::EventStream => ChatStream::new(reader, flavor, limits, cancel.clone()),
            BodyKind::Json => {
                let json =
                    response::read_bounded(reader, limits.max_event, cancel).map_err(attach)?;
                ChatStream::from_completion_json(&json, flavor, limits, cancel.clone())
                    .map_err(|e| attach(e.with_http_status(200)))?
            }
        };
        stream.set_request_id(request_id);
        Ok(stream)
    }

    /// The response this stream reads: its headers; when the request was handed to the
    /// client (timings count from there) and when the headers came in (`None` for a replay,
    /// which has no request); and the client's log.
    pub(crate) fn set_response(
        &mut self,
        headers: Arc<ResponseHeaders>,
        times: Option<(Instant, Instant)>,
        log: DebugLog,
    ) {
        self.headers = headers;
        if let Some((started, headers_at)) = times {
            self.progress.watch.restart_from(started);
            self.progress.watch.headers_at(headers_at);
        }
        self.log = log;
    }

    pub(crate) fn set_request_id(&mut self, request_id: Option<String>) {
        self.progress.request_id = request_id;
    }

    /// Keeps what it takes to retry if the connection dies before the first token.
    /// The HTTP exchange the body comes from: at the end of the stream, it lets the rest
    /// of the body be read within a grace so that the connection can be reused.
    pub(crate) fn set_exchange(&mut self, exchange: Arc<Exchange>) {
        self.exchange = Some(exchange);
    }

    pub(crate) fn keep_for_retry(&mut self, reopen: Box<dyn Reopen>) {
        if self.decoder.is_some() {
            self.reopen = Some(reopen);
        }
    }

    pub(crate) fn set_attempts(&mut self, attempts: u32) {
        self.progress.attempts = attempts;
    }

    /// The next content token (of choice 0), borrowed from the stream's buffer (no
    /// allocation per token).
    ///
    /// `None` when the stream finished normally; `Some(Err(_))` once when it failed, then
    /// `None`.
    pub fn next_token(&mut self) -> Option<Result<&str>> {
        loop {
            // Deltas queued by `next_delta`, or by a whole JSON answer.
            while let Some(queued) = self.progress.pending.pop_front() {
                if let (0, Delta::Content(text)) = (queued.choice, queued.delta) {
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

    /// The next delta of choice 0 (content, reasoning, tool-call fragment, refusal, log
    /// probabilities, finish reason) or usage, in the order the server sent them. Ends like
    /// [`next_token`](Self::next_token). The other choices' deltas are skipped (and still
    /// assembled); see [`next_choice_delta`](Self::next_choice_delta).
    pub fn next_delta(&mut self) -> Option<Result<Delta>> {
        loop {
            match self.next_choice_delta()? {
                Ok(ChoiceDelta { choice: 0, delta }) => return Some(Ok(delta)),
                Ok(_) => {}
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The next delta of any choice, with the choice's index: what
    /// [`next_delta`](Self::next_delta) gives for a request with several choices (`"n"`).
    /// [`Delta::Usage`] comes with choice 0.
    pub fn next_choice_delta(&mut self) -> Option<Result<ChoiceDelta>> {
        loop {
            if let Some(delta) = self.progress.pending.pop_front() {
                return Some(Ok(delta));
            }
            match self.step(Mode::Deltas) {
                Ok(Step::Produced | Step::Continue) => {}
                Ok(Step::Finished) => return None,
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// Drains the stream into one [`ChatCompletion`] with every choice.
    ///
    /// # Errors
    ///
    /// The error that ended the stream; what was assembled before it is lost here, see
    /// [`into_partial_completion`](Self::into_partial_completion) to keep it.
    pub fn into_completion(self) -> Result<ChatCompletion> {
        match self.into_partial_completion() {
            (completion, None) => Ok(completion),
            (_, Some(error)) => Err(error),
        }
    }

    /// Drains the stream like [`into_completion`](Self::into_completion), and returns what
    /// was assembled even when the stream failed: the completion (partial when there is an
    /// error: content, reasoning, tool calls, usage and finish reasons so far) and the error
    /// that ended the stream, if any.
    ///
    /// ```
    /// // A stream cut off after its first token.
    /// let body = "data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\n";
    /// let stream = upstage::ChatStream::from_reader(
    ///     std::io::Cursor::new(body),
    ///     upstage::Flavor::Api,
    ///     upstage::Limits::default(),
    /// );
    /// let (partial, error) = stream.into_partial_completion();
    /// assert_eq!(partial.content, "Hel");
    /// assert_eq!(error.map(|e| e.kind()), Some(upstage::ErrorKind::Truncated));
    /// ```
    pub fn into_partial_completion(mut self) -> (ChatCompletion, Option<Error>) {
        let mut error = None;
        while let Some(delta) = self.next_choice_delta() {
            if let Err(e) = delta {
                error = Some(e);
                break;
            }
        }
        // A stream that ended normally was checked when it ended (see `step`).
        let choices = std::mem::take(&mut self.progress.choices).into_partial();
        let mut completion = self.progress.completion(choices);
        completion.headers = ResponseHeaders::clone(&self.headers);
        (completion, error)
    }

    /// What the stream has assembled so far, as a completion: every choice's texts, tool
    /// calls, finish reason and log probabilities, and the usage. Works at any time, also
    /// after an error. Choice 0's content holds what was handed out as deltas; tokens
    /// taken with [`next_token`](Self::next_token) are not kept (so that a token costs no
    /// allocation).
    pub fn snapshot(&self) -> ChatCompletion {
        let mut completion = self.progress.snapshot();
        completion.timings = self.timings();
        completion.headers = ResponseHeaders::clone(&self.headers);
        completion
    }

    /// Why generation (of choice 0) stopped, once the server said (`stop`, `length`,
    /// `tool_calls`, ...).
    pub fn finish_reason(&self) -> Option<&str> {
        self.progress.finish_reason()
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

    /// Choice 0's tool calls assembled so far, in the order they appeared.
    pub fn tool_calls(&self) -> &[ToolCall] {
        self.progress
            .choices
            .get(0)
            .map_or(&[], |choice| choice.tools.calls())
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

    /// The response headers, by name: any header the server sent (empty for a stream read
    /// from a plain body).
    pub fn headers(&self) -> &ResponseHeaders {
        &self.headers
    }

    /// The first value of response header `name` (case-insensitive), e.g.
    /// `stream.header("x-request-id")`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The rate limits the response reported (`x-ratelimit-*` headers), when it did.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        RateLimit::from_headers(&self.headers)
    }

    /// How long the stream took to reach each milestone so far, and what it received.
    pub fn timings(&self) -> Timings {
        self.progress.watch.timings(self.bytes_received())
    }

    /// The error that ended the stream, once it failed (it was also handed out once by
    /// [`next_token`](Self::next_token) or [`next_delta`](Self::next_delta)).
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
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
            State::Done | State::Failed => {
                // A whole JSON answer is done from the start: it ends when it is read.
                self.progress.watch.end();
                return Ok(Step::Finished);
            }
        }
        match self.read_event(mode).and_then(|step| match step {
            // Every tool call must have become a call.
            Step::Finished => self.progress.choices.check().map(|()| Step::Finished),
            step => Ok(step),
        }) {
            Ok(Step::Finished) => {
                self.close(State::Done);
                Ok(Step::Finished)
            }
            Ok(Step::Produced) => {
                // Something reached the caller: from now on a failure is final.
                self.reopen = None;
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
                        let e = if self.headers.is_empty() {
                            e
                        } else {
                            e.with_headers(Arc::clone(&self.headers))
                        };
                        self.error = Some(e.clone());
                        self.close(State::Failed);
                        Err(e)
                    }
                }
            }
        }
    }

    /// A failure before anything reached the caller (a connection reset or closed right
    /// after its headers) is sent again, as the retry policy allows. Returns the error to
    /// report when it is not retried, or fails again.
    fn retry_before_first_token(&mut self, error: Error) -> Result<()> {
        let Some(reopen) = self.reopen.take() else {
            return Err(error);
        };
        // The new stream registers its connection under this stream's slot without owning
        // it, so that dropping its husk below does not forget the connection this stream
        // now uses.
        let cancel = self.cancel.unslotted();
        let mut next = reopen.reopen(&cancel, self.progress.attempts, error)?;
        self.decoder = next.decoder.take();
        let keep_tokens = self.progress.keep_tokens;
        self.exchange = next.exchange.take();
        self.progress = std::mem::take(&mut next.progress);
        self.progress.keep_tokens = keep_tokens;
        // `Done` when the server answered with a whole JSON completion this time.
        self.state = next.state;
        self.headers = Arc::clone(&next.headers);
        self.fast = FastDecoder::default();
        self.reopen = Some(reopen);
        Ok(())
    }

    fn read_event(&mut self, mode: Mode) -> Result<Step> {
        if self.cancel.is_cancelled() {
            return Err(Error::cancelled());
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
            return Err(wire::event_error(event.data));
        }
        let chunk: Chunk = match mode {
            // Token streams take the fast decoder: it yields exactly the chunk serde would
            // (see `wire::FastDecoder`), or just the content when that is all a token stream
            // would take from the chunk, and leaves everything else to serde.
            Mode::Tokens => {
                // `apply_chunk` reads `id` and `model` only until it knows them.
                let need_id = self.progress.id.is_none();
                let need_model = self.progress.model.is_none();
                match self.fast.decode(event.data, need_id, need_model) {
                    Decoded::Content("") => return Ok(Step::Continue),
                    Decoded::Content(content) => {
                        self.progress.take_token(content)?;
                        return Ok(Step::Produced);
                    }
                    Decoded::Chunk(chunk) => chunk,
                    Decoded::Fallback => match serde_json::from_slice(event.data) {
                        Ok(chunk) => chunk,
                        Err(e) => {
                            return invalid_chunk(self.flavor, &mut self.progress, event.data, e)
                        }
                    },
                }
            }
            Mode::Deltas => match serde_json::from_slice(event.data) {
                Ok(chunk) => chunk,
                Err(e) => return invalid_chunk(self.flavor, &mut self.progress, event.data, e),
            },
        };
        if chunk.is_error() {
            return Err(wire::in_band_error(&chunk));
        }
        Ok(match apply_chunk(&mut self.progress, chunk, mode)? {
            true => Step::Produced,
            false => Step::Continue,
        })
    }

    /// A clean end of body is success only after every choice got a finish reason. A cancel
    /// shuts the socket down, which a close-delimited body (or TLS without `close_notify`)
    /// reports as a clean end: that is `Cancelled`, not `Truncated`.
    fn end_of_body(&self) -> Result<Step> {
        if self.cancel.is_cancelled() {
            return Err(Error::cancelled());
        }
        if self.progress.choices.all_finished() {
            return Ok(Step::Finished);
        }
        Err(Error::new(
            ErrorKind::Truncated,
            "the stream ended before [DONE] and without a finish_reason",
        )
        .with_http_status(200))
    }

    /// Drops the body and records how the stream ended. After a normal end, the rest of the
    /// body is read if it is already there or comes within a short grace, so that the
    /// connection can serve another request; otherwise dropping the body closes it.
    fn close(&mut self, state: State) {
        if let Some(decoder) = self.decoder.take() {
            self.progress.bytes = decoder.bytes_read();
            if let (State::Done, Some(exchange)) = (state, &self.exchange) {
                transport::drain_after_done(&mut decoder.into_inner(), exchange);
            }
        }
        self.exchange = None;
        self.state = state;
        self.progress.watch.end();
        self.cancel.detach();
        debug_log!(
            self.log,
            "stream ended: {}; {}",
            self.outcome(),
            self.describe_timings()
        );
    }

    /// `done`, or `error[kind]: message`, for the log.
    fn outcome(&self) -> String {
        match (&self.error, self.state) {
            (Some(e), _) => format!("error[{}]: {}", e.kind(), e.message()),
            (None, State::Done) => "done".to_owned(),
            (None, _) => "open".to_owned(),
        }
    }

    /// The timings in words, for the log.
    fn describe_timings(&self) -> String {
        let t = self.timings();
        let ms = |d: Option<std::time::Duration>| {
            d.map_or("-".to_owned(), |d| {
                format!("{:.1} ms", d.as_secs_f64() * 1000.0)
            })
        };
        format!(
            "headers {}, first reasoning {}, first content {}, end {}; \
             {} content and {} reasoning tokens, {} bytes",
            ms(t.headers),
            ms(t.first_reasoning),
            ms(t.first_content),
            ms(t.end),
            t.content_tokens,
            t.reasoning_tokens,
            t.bytes
        )
    }
}

impl Drop for ChatStream {
    /// A stream dropped before its end also forgets its connection in the cancel handle
    /// (which the caller may keep and reuse).
    fn drop(&mut self) {
        self.cancel.detach();
    }
}

/// What one step produced.
enum Step {
    /// A token is ready (`Tokens` mode) or deltas were queued (`Deltas` mode).
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
            .field("finish_reason", &self.progress.finish_reason())
            .field("model", &self.progress.model)
            .field("request_id", &self.progress.request_id)
            .finish_non_exhaustive()
    }
}

/// Invalid JSON: an error in the `Api` flavor, skipped and counted in `WebDemo` (like the
/// legacy provider). Invalid UTF-8 is an error in both.
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
            format!(
                "an event is not valid JSON ({error}): {}",
                wire::excerpt(data)
            ),
        )
        .with_http_status(200)),
    }
}
