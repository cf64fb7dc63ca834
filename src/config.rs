//! What every layer reads: the server dialect, timeouts, size limits and the proxy choice.

use std::time::Duration;

/// The official Upstage API.
pub const DEFAULT_BASE_URL: &str = "https://api.upstage.ai/v1";

/// The model the official API flavor uses when a request names none.
pub const DEFAULT_MODEL: &str = "solar-pro4";

/// Which server dialect to speak.
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

/// Timeouts; `None` means no limit.
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

/// Size limits that keep a hostile or broken server from exhausting memory.
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 4 << 20,
            max_event: 16 << 20,
            max_error_body: 64 << 10,
        }
    }
}

/// How a client reaches the server.
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
