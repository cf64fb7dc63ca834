//! What every layer reads: the server dialect, timeouts, size limits and the proxy choice.

use std::time::Duration;

/// The official Upstage API.
pub const DEFAULT_BASE_URL: &str = "https://api.upstage.ai/v1";

/// The model the official API flavor uses when a request names none.
pub const DEFAULT_MODEL: &str = "solar-pro4";

/// Which server dialect a [`Client`](crate::Client) speaks.
///
/// | | `Flavor::Api` (default) | `Flavor::WebDemo` (the legacy web demo) |
/// |---|---|---|
/// | base URL | `https://api.upstage.ai/v1` (env `UPSTAGE_BASE_URL`) | `https://ap-northeast-2.apistage.ai/v1` |
/// | path | `{base}/chat/completions` | `{base}/web/demo/chat/completions` |
/// | auth | `Authorization: Bearer {key}` (env `UPSTAGE_API_KEY`); required for the default base URL, optional elsewhere | none |
/// | headers | `Accept: text/event-stream`, `Content-Type: application/json`, `User-Agent: upstage-rs/{version}`; no `Accept-Encoding` | the 16 browser headers g4f's Upstage provider sent, in its order |
/// | messages | sent as given | flattened into one user message by `web_demo::format_prompt` |
/// | model | as given; empty: `solar-pro4` (env `UPSTAGE_MODEL`) | resolved by `web_demo::resolve_model` |
/// | a chunk that is not valid JSON | [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) | skipped, as g4f's provider did ([`ChatStream::skipped_chunks`](crate::ChatStream::skipped_chunks) counts them) |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// The official Upstage API or any OpenAI-compatible server: bearer auth, messages as
    /// given, invalid JSON chunks are errors.
    #[default]
    Api,
    /// The legacy web demo of g4f's Upstage provider: its 16 browser headers, no auth, the conversation flattened
    /// into one user message, the model resolved with
    /// [`web_demo::resolve_model`](crate::web_demo::resolve_model),
    /// invalid JSON chunks skipped.
    WebDemo,
}

/// Per-phase timeouts of a [`Client`](crate::Client). `None` means no limit.
///
/// | field | default | builder | CLI | what expires |
/// |---|---|---|---|---|
/// | `connect` | 10 s | [`ClientBuilder::connect_timeout`](crate::ClientBuilder::connect_timeout) | `--connect-timeout` | TCP connect, proxy handshake, TLS handshake |
/// | `headers` | 600 s | [`ClientBuilder::headers_timeout`](crate::ClientBuilder::headers_timeout) | `--headers-timeout` | from sending the request to the end of the response headers |
/// | `idle` | 300 s | [`ClientBuilder::idle_timeout`](crate::ClientBuilder::idle_timeout) | `--idle-timeout` | between two reads of the body |
/// | `total` | none | [`ClientBuilder::total_timeout`](crate::ClientBuilder::total_timeout) | `--total-timeout` | the whole call: every attempt, the waits between retries, the body |
///
/// A timeout is [`ErrorKind::Timeout`](crate::ErrorKind::Timeout), and [`Error::timeout_phase`](crate::Error::timeout_phase) names the phase
/// ([`TimeoutPhase::Connect`](crate::TimeoutPhase::Connect), `Headers`, `Idle` or `Total`). Tokens already delivered stay
/// delivered.
///
/// - **Idle** is reset by any byte: a keep-alive comment (`: ping`) resets it, even one byte
///   at a time. It applies to every body the client reads (an error body and a whole JSON
///   answer too, so a server that stalls in one cannot hang the call), but never to the wait
///   for the response headers: a reasoning model that thinks longer than the idle limit
///   before it sends its headers is not cut off, on a retry either.
/// - **Headers** is a deadline for the whole response head: a server that trickles its
///   headers a byte at a time is cut off when it expires.
/// - **Total** also bounds retries: no retry starts whose wait would end after the deadline;
///   the last error is returned instead, saying so.
/// - Connect and headers timeouts are retried (see [`ClientBuilder::max_retries`](crate::ClientBuilder::max_retries)); idle and
///   total timeouts never are.
///
/// Build a custom value from the default, since the struct may grow:
/// `let mut timeouts = Timeouts::default(); timeouts.idle = None;`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Establishing the connection (TCP, proxy, TLS). Default 10 s.
    pub connect: Option<Duration>,
    /// From sending the request to the end of the response headers. Default 600 s:
    /// reasoning models may think before answering.
    pub headers: Option<Duration>,
    /// Between two reads of the body; any byte, keep-alive comments too, restarts it.
    /// Default 300 s.
    pub idle: Option<Duration>,
    /// The whole request, body included. Default none: long answers are not cut.
    pub total: Option<Duration>,
}

impl Timeouts {
    /// No limit at all: every phase may take forever.
    pub const NONE: Timeouts = Timeouts {
        connect: None,
        headers: None,
        idle: None,
        total: None,
    };
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Some(Duration::from_secs(10)),
            headers: Some(Duration::from_secs(600)),
            idle: Some(Duration::from_secs(300)),
            total: None,
        }
    }
}

/// Upper bounds on what a server can make the client buffer. Exceeding one is
/// [`ErrorKind::Limit`](crate::ErrorKind::Limit); the tokens delivered before it stay delivered and the connection is
/// closed.
///
/// | field | default | what it bounds |
/// |---|---|---|
/// | `max_line` | 4 MiB | one line of the event stream |
/// | `max_event` | 16 MiB | one event (all its `data:` lines joined), and the largest non-streamed JSON answer |
/// | `max_error_body` | 64 KiB | the body read from an HTTP error response; the error keeps [`Error::http_status`](crate::Error::http_status) |
/// | `max_assembled` | 256 MiB | what a stream keeps for its completion: texts, tool calls and log probabilities of every choice (choice 0's tokens count only where they are kept: deltas, the C pull API, a recorded completion) |
///
/// A stream also keeps at most 1,024 choices and 1,024 tool calls per choice: more is a
/// `Limit` error too, so that a server cannot make the client do quadratic work.
///
/// Response headers are bounded at 64 KiB by the HTTP layer, also a `Limit` error.
///
/// A line or event of exactly the limit passes. The client never holds more than the limit
/// plus the decoder's 64 KiB read buffer: against a server sending an endless line, an
/// endless event of short `data:` lines or a 1 GiB error body, peak memory grows by about the
/// limit and no more. An HTTP 5xx whose error body exceeds `max_error_body` still counts as a
/// retryable 5xx.
///
/// Build a custom value from the default, since the struct may grow:
/// `let mut limits = Limits::default(); limits.max_line = 1 << 20;`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The longest SSE line. Default 4 MiB.
    pub max_line: usize,
    /// The largest SSE event (joined `data` lines), and the largest non-streamed JSON
    /// answer. Default 16 MiB.
    pub max_event: usize,
    /// How much of an HTTP error body is read for its message. Default 64 KiB.
    pub max_error_body: usize,
    /// How much a stream keeps for its completion (texts, tool calls and log probabilities
    /// of every choice), counted in bytes of text plus a fixed cost per choice, call and
    /// log-probability entry. Default 256 MiB.
    pub max_assembled: usize,
}

impl Limits {
    /// These limits with another longest SSE line.
    #[must_use]
    pub fn with_max_line(mut self, bytes: usize) -> Limits {
        self.max_line = bytes;
        self
    }

    /// These limits with another largest event (and non-streamed answer).
    #[must_use]
    pub fn with_max_event(mut self, bytes: usize) -> Limits {
        self.max_event = bytes;
        self
    }

    /// These limits with another largest HTTP error body read.
    #[must_use]
    pub fn with_max_error_body(mut self, bytes: usize) -> Limits {
        self.max_error_body = bytes;
        self
    }

    /// These limits with another most a stream keeps for its completion.
    #[must_use]
    pub fn with_max_assembled(mut self, bytes: usize) -> Limits {
        self.max_assembled = bytes;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 4 << 20,
            max_event: 16 << 20,
            max_error_body: 64 << 10,
            max_assembled: 256 << 20,
        }
    }
}

/// Which proxy a [`Client`](crate::Client) uses.
///
/// - `Proxy::FromEnv` (the default): the first set of `ALL_PROXY`, `all_proxy`,
///   `HTTPS_PROXY`, `https_proxy`, `HTTP_PROXY`, `http_proxy` is used for every request,
///   whatever the target's scheme; `NO_PROXY` / `no_proxy` (comma-separated hosts,
///   `.suffix`, `*`) bypasses it.
/// - `Proxy::Url(url)`: this proxy, whatever the environment says: `http://` (a CONNECT
///   tunnel, for `http://` and `https://` targets alike), `socks5://` (the client resolves
///   the host) or `socks5h://` (the proxy resolves it), with optional `user:password@`.
///   CLI `--proxy URL`.
/// - `Proxy::Disabled`: no proxy, the environment's included. CLI `--proxy none`.
///
/// A proxy that is down, or refuses the credentials (HTTP 407, a SOCKS authentication
/// failure), is [`ErrorKind::Connect`](crate::ErrorKind::Connect); the password never appears in the message.
///
/// ```
/// use upstage::{Client, Proxy};
///
/// let direct = Client::builder().base_url("http://127.0.0.1:8000/v1").proxy(Proxy::Disabled);
/// let socks = Client::builder().proxy(Proxy::Url("socks5h://127.0.0.1:1080".into()));
/// # let _ = (direct, socks);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Proxy {
    /// `ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY` (and `NO_PROXY`) from the environment, as
    /// curl reads them.
    #[default]
    FromEnv,
    /// No proxy, whatever the environment says.
    Disabled,
    /// This proxy: `http://`, `socks5://` or `socks5h://`, credentials allowed
    /// (`http://user:password@host:port`).
    Url(String),
}
