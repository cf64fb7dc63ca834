//! The handler's view of one connection: the request it sent and byte-exact writers.

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::request::{read_request, RecordedRequest};
use super::server::Shared;
use super::wire::{ReadError, Wire, SLICE};

/// How long the server waits for a complete request (or the next one on a kept-alive
/// connection) before giving up on the connection.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Upper bound on [`Conn::stall`], so that a forgotten server cannot stall forever.
pub const STALL_LIMIT: Duration = Duration::from_secs(120);

/// How the response body is framed, as decided by the head that was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    /// No head sent yet for this request.
    None,
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// `Content-Length`.
    Length,
    /// Neither: the body ends when the connection closes.
    CloseDelimited,
}

/// One connection, handed to the handler once per request.
///
/// Writers return `&mut Self` so they chain. Each writer call is a single
/// `write` of exactly the bytes described (Nagle is off). A write that fails
/// because the client went away is not an error for the handler: it sets
/// [`client_gone`](Conn::client_gone), later writes are skipped, and the
/// server counts it in [`Server::write_failures`](super::Server::write_failures).
/// Writing after [`close`](Conn::close) or [`reset`](Conn::reset) panics (a script bug).
///
/// After the handler returns, the connection is kept alive for another request
/// only if the last thing written completed a framed response
/// ([`end_chunks`](Conn::end_chunks), [`respond`](Conn::respond),
/// [`json_response`](Conn::json_response)) and neither side asked for
/// `Connection: close`; otherwise the server closes it with a FIN.
pub struct Conn {
    wire: Wire,
    shared: Arc<Shared>,
    connection: usize,
    request: RecordedRequest,
    framing: Framing,
    head_says_close: bool,
    complete: bool,
    closed: bool,
    gone: Option<io::ErrorKind>,
}

impl Conn {
    pub(crate) fn new(wire: Wire, connection: usize, shared: Arc<Shared>) -> Conn {
        Conn {
            wire,
            shared,
            connection,
            request: RecordedRequest::default(),
            framing: Framing::None,
            head_says_close: false,
            complete: false,
            closed: false,
            gone: None,
        }
    }

    /// Reads and records the next request; `Ok(false)` if the peer left first.
    pub(crate) fn next_request(&mut self) -> Result<bool, ReadError> {
        let deadline = Instant::now() + REQUEST_TIMEOUT;
        let Some(mut request) = read_request(&mut self.wire, deadline)? else {
            return Ok(false);
        };
        request.connection = self.connection;
        self.request = self.shared.record_request(request);
        self.framing = Framing::None;
        self.head_says_close = false;
        self.complete = false;
        Ok(true)
    }

    /// Whether the connection can carry another request.
    pub(crate) fn reusable(&self) -> bool {
        self.complete
            && !self.head_says_close
            && !self.closed
            && self.gone.is_none()
            && !self.wire.stopping()
            && !self.request.has_token("Connection", "close")
    }

    /// Marks the current response as unfinished (after a handler panic).
    pub(crate) fn abandon(&mut self) {
        self.complete = false;
    }

    /// Closes the connection if the handler left it open.
    pub(crate) fn finish(&mut self) {
        self.wire.close();
        self.closed = true;
    }

    // ---- what the handler can inspect -------------------------------------------

    /// The request being answered.
    pub fn request(&self) -> &RecordedRequest {
        &self.request
    }

    /// 1-based index of this request across the server ("fail twice, then succeed").
    pub fn attempt(&self) -> usize {
        self.request.attempt
    }

    /// 1-based index of this TCP connection across the server.
    pub fn connection(&self) -> usize {
        self.connection
    }

    /// Whether a write failed because the client went away (or the server stopped).
    pub fn client_gone(&self) -> bool {
        self.gone.is_some()
    }

    /// The kind of the first failed write, if any (e.g. `BrokenPipe`, `ConnectionReset`).
    pub fn write_error(&self) -> Option<io::ErrorKind> {
        self.gone
    }

    /// Leaves a note for the test ([`Server::notes`](super::Server::notes),
    /// [`Server::wait_for_note`](super::Server::wait_for_note)).
    pub fn note(&mut self, note: impl Into<String>) -> &mut Self {
        let note = note.into();
        self.shared.update(|s| s.notes.push(note));
        self
    }

    /// Waits up to `timeout` for the client to close or reset its side. Returns
    /// `true` if it did (or this side is already closed), `false` on timeout or
    /// server shutdown. Bytes the client sends meanwhile are kept for the next request.
    pub fn peer_closed(&mut self, timeout: Duration) -> bool {
        self.wire.wait_peer_closed(Instant::now() + timeout)
    }

    // ---- raw writers ------------------------------------------------------------

    /// Writes exactly `bytes`. The server no longer knows the framing, so the
    /// connection is closed after the handler returns.
    pub fn write_raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.emit(bytes, false)
    }

    /// Writes `HTTP/1.1 {status} {reason}`, then `headers` exactly as given, then
    /// the empty line. The headers decide how [`body`](Conn::body) frames data:
    /// `Transfer-Encoding: chunked`, `Content-Length`, or close-delimited.
    pub fn send_head(&mut self, status: u16, headers: &[(&str, &str)]) -> &mut Self {
        self.framing = framing_of(headers);
        self.head_says_close = has_token(headers, "Connection", "close");
        self.emit(&head_bytes(status, headers), false)
    }

    /// `200 OK` with `Content-Type: text/event-stream` and `Transfer-Encoding: chunked`.
    pub fn start_sse(&mut self) -> &mut Self {
        self.start_sse_with(&[])
    }

    /// Like [`start_sse`](Conn::start_sse), with `extra` headers appended.
    pub fn start_sse_with(&mut self, extra: &[(&str, &str)]) -> &mut Self {
        let mut headers = vec![
            ("Content-Type", "text/event-stream"),
            ("Transfer-Encoding", "chunked"),
        ];
        headers.extend_from_slice(extra);
        self.send_head(200, &headers)
    }

    /// `200 OK` with `Content-Type: text/event-stream`, `Connection: close` and no
    /// length: the body ends when the server closes the connection.
    pub fn start_sse_close_delimited(&mut self) -> &mut Self {
        self.send_head(
            200,
            &[
                ("Content-Type", "text/event-stream"),
                ("Connection", "close"),
            ],
        )
    }

    /// Writes one HTTP chunk: hex size, CRLF, `data`, CRLF (regardless of the head).
    /// An empty `data` writes `0\r\n\r\n`, i.e. ends the body.
    pub fn chunk(&mut self, data: &[u8]) -> &mut Self {
        let mut bytes = format!("{:x}\r\n", data.len()).into_bytes();
        bytes.extend_from_slice(data);
        bytes.extend_from_slice(b"\r\n");
        self.emit(&bytes, data.is_empty())
    }

    /// Writes the last chunk `0\r\n\r\n`; the response is then complete.
    pub fn end_chunks(&mut self) -> &mut Self {
        self.emit(b"0\r\n\r\n", true)
    }

    /// Writes body bytes framed as the head said: one chunk in chunked mode (nothing
    /// for empty `data`), raw otherwise. Panics if no head was sent.
    pub fn body(&mut self, data: &[u8]) -> &mut Self {
        match self.framing {
            Framing::None => panic!("Conn::body before a head was sent"),
            Framing::Chunked if data.is_empty() => self,
            Framing::Chunked => self.chunk(data),
            Framing::Length | Framing::CloseDelimited => self.emit(data, false),
        }
    }

    // ---- SSE conveniences -------------------------------------------------------

    /// One SSE event `data: {json}\n\n`, written with [`body`](Conn::body).
    pub fn sse_data(&mut self, json: &str) -> &mut Self {
        self.body(format!("data: {json}\n\n").as_bytes())
    }

    /// The terminal event `data: [DONE]\n\n`, written with [`body`](Conn::body).
    pub fn done(&mut self) -> &mut Self {
        self.body(b"data: [DONE]\n\n")
    }

    /// Writes `bytes` in pieces of `per_write` bytes (at least 1) with `delay`
    /// between them, each piece through [`body`](Conn::body) (so one chunk per piece
    /// in chunked mode). Stops early if the client goes away.
    pub fn trickle(&mut self, bytes: &[u8], per_write: usize, delay: Duration) -> &mut Self {
        for (i, piece) in bytes.chunks(per_write.max(1)).enumerate() {
            if self.client_gone() {
                break;
            }
            if i > 0 {
                self.sleep(delay);
            }
            self.body(piece);
        }
        self
    }

    /// A complete response with `Content-Length` (appended after `headers`) and `body`,
    /// in one write.
    pub fn respond(&mut self, status: u16, headers: &[(&str, &str)], body: &[u8]) -> &mut Self {
        let length = body.len().to_string();
        let mut all = headers.to_vec();
        all.push(("Content-Length", &length));
        self.framing = Framing::Length;
        self.head_says_close = has_token(&all, "Connection", "close");
        let mut bytes = head_bytes(status, &all);
        bytes.extend_from_slice(body);
        self.emit(&bytes, true)
    }

    /// [`respond`](Conn::respond) with `Content-Type: application/json` first, then
    /// `headers`, then `Content-Length`.
    pub fn json_response(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
    ) -> &mut Self {
        let mut all = vec![("Content-Type", "application/json")];
        all.extend_from_slice(headers);
        self.respond(status, &all, body.as_bytes())
    }

    // ---- timing and teardown ----------------------------------------------------

    /// Sleeps `duration` without touching the socket; returns early if the server stops.
    pub fn sleep(&mut self, duration: Duration) -> &mut Self {
        let deadline = Instant::now() + duration;
        while !self.wire.stopping() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(SLICE));
        }
        self
    }

    /// Keeps the connection open, writing nothing, for `duration` (same as
    /// [`sleep`](Conn::sleep); reads nothing either).
    pub fn hold_open(&mut self, duration: Duration) -> &mut Self {
        self.sleep(duration)
    }

    /// Writes nothing more until the client closes, the server stops, or
    /// [`STALL_LIMIT`] passes.
    pub fn stall(&mut self) -> &mut Self {
        self.peer_closed(STALL_LIMIT);
        self
    }

    /// Abortive close: `SO_LINGER` 0 and close, so the client sees `ECONNRESET`.
    pub fn reset(&mut self) -> &mut Self {
        self.wire.reset();
        self.closed = true;
        self
    }

    /// Orderly close: FIN, so the client sees end-of-file.
    pub fn close(&mut self) -> &mut Self {
        self.wire.close();
        self.closed = true;
        self
    }

    /// Writes `bytes`; `completes` says whether they finish a framed response.
    fn emit(&mut self, bytes: &[u8], completes: bool) -> &mut Self {
        assert!(!self.closed, "Conn: write after close() or reset()");
        self.complete = completes;
        if self.gone.is_some() {
            return self;
        }
        if let Err(e) = self.wire.write_all(bytes) {
            self.gone = Some(e.kind());
            if !self.wire.stopping() {
                self.shared.update(|s| s.write_failures += 1);
            }
        }
        self
    }
}

/// Status line plus headers plus the empty line.
fn head_bytes(status: u16, headers: &[(&str, &str)]) -> Vec<u8> {
    let status_line = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    let header_lines = headers
        .iter()
        .map(|(name, value)| format!("{name}: {value}\r\n"));
    std::iter::once(status_line)
        .chain(header_lines)
        .chain(std::iter::once("\r\n".to_owned()))
        .collect::<String>()
        .into_bytes()
}

/// Body framing implied by response headers.
fn framing_of(headers: &[(&str, &str)]) -> Framing {
    if has_token(headers, "Transfer-Encoding", "chunked") {
        Framing::Chunked
    } else if headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
    {
        Framing::Length
    } else {
        Framing::CloseDelimited
    }
}

/// Whether header `name` lists `token` (case-insensitive, comma-separated).
fn has_token(headers: &[(&str, &str)], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .flat_map(|(_, v)| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// The reason phrase for the status codes tests use.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}
