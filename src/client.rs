//! [`Client`](crate::Client) and [`ClientBuilder`](crate::ClientBuilder): where requests go and how they are sent; the retry
//! loop ([`retry`](crate::retry)) decides when to send again, and the answer becomes a
//! [`ChatStream`](crate::ChatStream).

use std::fmt;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ureq::tls::{RootCerts, TlsConfig};
use ureq::Agent;

use crate::cancel::CancelHandle;
use crate::completion::ChatCompletion;
use crate::config::{Flavor, Limits, Proxy, Timeouts, DEFAULT_BASE_URL, DEFAULT_MODEL};
use crate::error::{Error, ErrorKind, Result};
use crate::log::{debug_log, DebugLog};
use crate::record::Recorder;
use crate::request::ChatRequest;
use crate::request_headers::{self, HeaderList};
use crate::resolver::NameResolver;
use crate::response::{self, Body};
use crate::response_headers::{shown_value, ResponseHeaders};
use crate::retry::{self, Budget, Failure};
use crate::stream::{ChatStream, Reopen};
use crate::transport::{self, Exchange, ExchangeBody, Pooling};
use crate::url;
use crate::web_demo;

/// The `User-Agent` of the `Api` flavor.
const USER_AGENT: &str = concat!("upstage-rs/", env!("CARGO_PKG_VERSION"));

/// An API key that never shows itself in `Debug` output.
#[derive(Clone)]
struct ApiKey(String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Configures a [`Client`](crate::Client).
///
/// [`ClientBuilder::new`](crate::ClientBuilder::new) starts from the defaults alone; [`ClientBuilder::from_env`](crate::ClientBuilder::from_env) also
/// reads `UPSTAGE_API_KEY`, `UPSTAGE_BASE_URL` and `UPSTAGE_MODEL`.
#[must_use = "a builder does nothing until it is used"]
#[derive(Clone, Debug, Default)]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    base_url: Option<String>,
    env_base_url: Option<String>,
    flavor: Flavor,
    default_model: Option<String>,
    proxy: Proxy,
    timeouts: Timeouts,
    max_retries: Option<u32>,
    ca_file: Option<PathBuf>,
    limits: Limits,
    headers: HeaderList,
    query: url::QueryParams,
    debug_log: Option<bool>,
    pooling: Pooling,
}

impl ClientBuilder {
    /// The defaults: `Api` flavor, official base URL, no key, 2 retries.
    pub fn new() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// The defaults plus the environment: `UPSTAGE_API_KEY`, `UPSTAGE_BASE_URL` (used by
    /// the `Api` flavor) and `UPSTAGE_MODEL`. Empty variables count as unset.
    pub fn from_env() -> ClientBuilder {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        ClientBuilder {
            api_key: var("UPSTAGE_API_KEY").map(ApiKey),
            env_base_url: var("UPSTAGE_BASE_URL"),
            default_model: var("UPSTAGE_MODEL"),
            ..ClientBuilder::default()
        }
    }

    /// The API key, sent as `Authorization: Bearer <key>` (never by the `WebDemo` flavor).
    pub fn api_key(mut self, key: impl Into<String>) -> ClientBuilder {
        let key = key.into();
        self.api_key = (!key.is_empty()).then_some(ApiKey(key));
        self
    }

    /// The base URL; requests go to `{base}/chat/completions`. A query string in it is
    /// kept (Azure's `?api-version=...`): `https://h/v1?a=1` sends to
    /// `https://h/v1/chat/completions?a=1`.
    pub fn base_url(mut self, url: impl Into<String>) -> ClientBuilder {
        self.base_url = Some(url.into());
        self
    }

    /// The server dialect.
    pub fn flavor(mut self, flavor: Flavor) -> ClientBuilder {
        self.flavor = flavor;
        self
    }

    /// The model used when a request names none (`Api` flavor). Default `solar-pro4`.
    pub fn default_model(mut self, model: impl Into<String>) -> ClientBuilder {
        let model = model.into();
        self.default_model = (!model.is_empty()).then_some(model);
        self
    }

    /// How to reach the server: [`Proxy::FromEnv`](crate::Proxy::FromEnv) (the default), [`Proxy::Disabled`](crate::Proxy::Disabled) or an
    /// explicit [`Proxy::Url`](crate::Proxy::Url).
    pub fn proxy(mut self, proxy: Proxy) -> ClientBuilder {
        self.proxy = proxy;
        self
    }

    /// All timeouts at once.
    pub fn timeouts(mut self, timeouts: Timeouts) -> ClientBuilder {
        self.timeouts = timeouts;
        self
    }

    /// The connect timeout (`None`: no limit).
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.timeouts.connect = timeout;
        self
    }

    /// The response-headers timeout (`None`: no limit).
    pub fn headers_timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.timeouts.headers = timeout;
        self
    }

    /// The idle timeout between body reads (`None`: no limit).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.timeouts.idle = timeout;
        self
    }

    /// The total timeout for a whole request (`None`, the default: no limit).
    pub fn total_timeout(mut self, timeout: Option<Duration>) -> ClientBuilder {
        self.timeouts.total = timeout;
        self
    }

    /// How many more attempts after the first (default 2; CLI `--retries`). `0` tries once.
    ///
    /// A request is retried **only before the first token**, after:
    ///
    /// - a connect error, a connect timeout or a headers timeout;
    /// - a connection closed or reset before the response;
    /// - HTTP 408, 409, 429 and 5xx, except a 429 whose error code or type is
    ///   `insufficient_quota`;
    /// - a 200 whose body is cut off (reset, closed, incomplete) before anything reached the
    ///   caller: the stream keeps the request until it hands out its first token or delta, and
    ///   sends it again on the same budget, waits and deadline.
    ///
    /// The server's `x-should-retry: true` or `false` header wins over all of the above. Anything
    /// after the first token, and an idle or total timeout, is never retried.
    ///
    /// The wait before a retry is the server's `retry-after-ms`, else `retry-after` (seconds or
    /// an HTTP date), honoured up to 120 s; a longer requested wait fails at once, with the wait
    /// in the message and in [`Error::retry_after`](crate::Error::retry_after). Without either header the wait is
    /// `min(0.5 × 2^n, 8)` seconds minus up to 25 % jitter. No retry starts whose wait would end
    /// after the total timeout (see [`Timeouts`](crate::Timeouts)). [`ChatStream::attempts`](crate::ChatStream::attempts) and
    /// [`Error::attempts`](crate::Error::attempts) say how many attempts were made.
    pub fn max_retries(mut self, retries: u32) -> ClientBuilder {
        self.max_retries = Some(retries);
        self
    }

    /// Trusts the certificates of this PEM file **instead of** the bundled Mozilla roots
    /// (CLI `--ca-file`). A file that cannot be read or holds no certificate is
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) from [`build`](ClientBuilder::build). Without this call
    /// the bundled roots are used. A server whose certificate does not verify is
    /// [`ErrorKind::Connect`](crate::ErrorKind::Connect), with a message starting `TLS certificate verification failed`.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> ClientBuilder {
        self.ca_file = Some(path.into());
        self
    }

    /// Size limits.
    pub fn limits(mut self, limits: Limits) -> ClientBuilder {
        self.limits = limits;
        self
    }

    /// Adds a header to every request (OpenRouter's `HTTP-Referer` and `X-Title`, Azure's
    /// `api-key`, a tracing header). A later header of the same name (case-insensitive)
    /// replaces an earlier one, a request's own headers replace the client's, and a custom
    /// `User-Agent` or `Authorization` replaces the one the client would send. A name or
    /// value with CR, LF or NUL, an invalid name, or `Content-Length`, `Host` or
    /// `Transfer-Encoding` (set by the HTTP layer) make [`build`](Self::build) fail with
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument). Values of
    /// credential headers never appear in logs, `Debug` output or recordings.
    ///
    /// ```
    /// let client = upstage::ClientBuilder::new()
    ///     .base_url("https://openrouter.ai/api/v1")
    ///     .header("HTTP-Referer", "https://example.com")
    ///     .header("X-Title", "My app")
    ///     .build()?;
    /// # Ok::<(), upstage::Error>(())
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> ClientBuilder {
        self.headers.push(name, value);
        self
    }

    /// Adds a query parameter (percent-encoded) to every request, after any query string
    /// of the base URL. An empty name makes [`build`](Self::build) fail.
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> ClientBuilder {
        self.query.push(name.into(), value.into());
        self
    }

    /// Turns the debug log on or off for this client, whatever `UPSTAGE_LOG` says. Without
    /// this call the log is on when `UPSTAGE_LOG=debug` is set or a writer was installed
    /// with [`set_debug_log_writer`](crate::set_debug_log_writer). The log goes to stderr
    /// (or that writer): request lines, statuses, attempts, waits and why, timings,
    /// connections; never the API key, a credential header's value or a proxy password.
    pub fn debug_log(mut self, on: bool) -> ClientBuilder {
        self.debug_log = Some(on);
        self
    }

    /// How many idle keep-alive connections the client keeps per host for later requests
    /// (default 4); `0` turns connection reuse off, like
    /// [`connection_reuse(false)`](ClientBuilder::connection_reuse).
    ///
    /// A client and its clones share one pool, across threads. A connection goes back to
    /// the pool only when its response was read to the end: after `[DONE]`, the rest of the
    /// body is read only if it is already there or arrives within a short grace, never
    /// waited for. A cancelled, failed, timed-out or dropped stream closes its connection.
    /// A pooled connection the server closed while it was idle is noticed, and the request
    /// goes out again on a new connection without counting as a retry (only when nothing
    /// of the response had arrived). More streams at once than this open more connections;
    /// the extra ones are closed when their streams end.
    pub fn max_idle_connections_per_host(mut self, connections: usize) -> ClientBuilder {
        self.pooling.max_idle_per_host = connections;
        self
    }

    /// How long an idle connection is kept for reuse (default 30 s); an older one is closed
    /// instead of reused.
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.pooling.idle_timeout = timeout;
        self
    }

    /// Whether connections are kept for reuse (the default). `false` opens a new connection
    /// for every request and closes it at the end; `true` restores the default number of
    /// idle connections if [`max_idle_connections_per_host`](ClientBuilder::max_idle_connections_per_host)
    /// set none.
    pub fn connection_reuse(mut self, enabled: bool) -> ClientBuilder {
        if !enabled {
            self.pooling.max_idle_per_host = 0;
        } else if self.pooling.max_idle_per_host == 0 {
            self.pooling.max_idle_per_host = Pooling::default().max_idle_per_host;
        }
        self
    }

    /// Checks the configuration and builds the client. No I/O except reading the CA file.
    pub fn build(self) -> Result<Client> {
        let base = self.resolved_base_url();
        let path = match self.flavor {
            Flavor::Api => "/chat/completions",
            Flavor::WebDemo => web_demo::CHAT_PATH,
        };
        let endpoint = url::endpoint(&base, path, self.query.as_slice())?;
        self.headers.checked()?;
        let auth = self.authorization(&base)?;
        let (config, proxy_shown) = self.agent_config()?;
        let agent = Agent::with_parts(
            config,
            transport::pooled_connector(),
            NameResolver::default(),
        );
        Ok(Client {
            inner: Arc::new(Inner {
                endpoint,
                flavor: self.flavor,
                auth,
                headers: self.headers,
                log: DebugLog::new(self.debug_log),
                proxy_shown,
                default_model: self
                    .default_model
                    .unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
                timeouts: self.timeouts,
                limits: self.limits,
                max_retries: self.max_retries.unwrap_or(2),
                agent,
            }),
        })
    }

    fn resolved_base_url(&self) -> String {
        let fallback = match self.flavor {
            Flavor::Api => self.env_base_url.as_deref().unwrap_or(DEFAULT_BASE_URL),
            Flavor::WebDemo => web_demo::BASE_URL,
        };
        self.base_url.as_deref().unwrap_or(fallback).to_owned()
    }

    /// The `Authorization` value: required for the official API, optional elsewhere,
    /// never sent by the web demo.
    fn authorization(&self, base: &str) -> Result<Option<ApiKey>> {
        if self.flavor == Flavor::WebDemo {
            return Ok(None);
        }
        let Some(ApiKey(key)) = &self.api_key else {
            let location = base.split('?').next().unwrap_or("");
            if location.trim_end_matches('/') == DEFAULT_BASE_URL {
                return Err(Error::invalid_argument(format!(
                    "an API key is required for {DEFAULT_BASE_URL}: set UPSTAGE_API_KEY \
                     (or use another base URL)"
                )));
            }
            return Ok(None);
        };
        if key.bytes().any(|b| !(0x20..0x7f).contains(&b)) {
            return Err(Error::invalid_argument(
                "the API key contains characters that cannot be sent in an HTTP header",
            ));
        }
        Ok(Some(ApiKey(format!("Bearer {key}"))))
    }

    /// The agent configuration, and the proxy as the log shows it.
    fn agent_config(&self) -> Result<(ureq::config::Config, Option<String>)> {
        let proxy = match &self.proxy {
            Proxy::FromEnv => ureq::Proxy::try_from_env(),
            Proxy::Disabled => None,
            Proxy::Url(url) => Some(
                ureq::Proxy::new(url)
                    .map_err(|e| Error::invalid_argument(format!("invalid proxy URL: {e}")))?,
            ),
        };
        let proxy_shown = proxy.as_ref().map(|p| {
            let origin = if p.is_from_env() {
                " (from the environment)"
            } else {
                ""
            };
            format!("{}{origin}", url::redacted(&p.uri().to_string()))
        });
        let mut builder = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .input_buffer_size(transport::INPUT_BUFFER)
            .output_buffer_size(transport::OUTPUT_BUFFER)
            // A larger head cannot fit the read buffer: say so instead of "disconnected".
            .max_response_header_size(transport::INPUT_BUFFER - 1)
            .max_idle_connections(self.pooling.max_idle_per_host)
            .max_idle_connections_per_host(self.pooling.max_idle_per_host)
            .max_idle_age(self.pooling.idle_timeout)
            .timeout_connect(self.timeouts.connect)
            .timeout_recv_response(self.timeouts.headers)
            .timeout_global(self.timeouts.total)
            .proxy(proxy);
        if let Some(path) = &self.ca_file {
            builder = builder.tls_config(custom_roots(path)?);
        }
        Ok((builder.build(), proxy_shown))
    }
}

/// A TLS configuration trusting only the certificates in a PEM file.
fn custom_roots(path: &PathBuf) -> Result<TlsConfig> {
    let pem = std::fs::read(path).map_err(|e| {
        Error::invalid_argument(format!("cannot read CA file {}: {e}", path.display()))
    })?;
    let mut certificates = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item {
            Ok(ureq::tls::PemItem::Certificate(cert)) => certificates.push(cert),
            Ok(_) => {}
            Err(e) => {
                return Err(Error::invalid_argument(format!(
                    "CA file {} is not valid PEM: {e}",
                    path.display()
                )));
            }
        }
    }
    if certificates.is_empty() {
        return Err(Error::invalid_argument(format!(
            "CA file {} holds no certificate",
            path.display()
        )));
    }
    Ok(TlsConfig::builder()
        .root_certs(RootCerts::Specific(Arc::new(certificates)))
        .build())
}

/// A blocking chat client. Cheap to clone; share it between threads.
///
/// ```no_run
/// use upstage::{ChatRequest, Client, Message};
///
/// let client = Client::from_env()?;
/// let request = ChatRequest::new("solar-pro4").message(Message::user("Hello!"));
/// for token in client.stream(&request)? {
///     print!("{}", token?);
/// }
/// # Ok::<(), upstage::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: String,
    flavor: Flavor,
    auth: Option<ApiKey>,
    /// Client-wide custom headers (checked).
    headers: HeaderList,
    log: DebugLog,
    /// The proxy with its password hidden, for the log.
    proxy_shown: Option<String>,
    default_model: String,
    timeouts: Timeouts,
    limits: Limits,
    max_retries: u32,
    /// One agent for every request of the client and its clones: its pool keeps idle
    /// connections for reuse.
    agent: Agent,
}

impl Client {
    /// A builder with the defaults alone.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client configured from `UPSTAGE_API_KEY`, `UPSTAGE_BASE_URL` and `UPSTAGE_MODEL`.
    pub fn from_env() -> Result<Client> {
        ClientBuilder::from_env().build()
    }

    /// The URL requests are sent to.
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// The server dialect.
    pub fn flavor(&self) -> Flavor {
        self.inner.flavor
    }

    /// The model used when a request names none (`Api` flavor).
    pub fn default_model(&self) -> &str {
        &self.inner.default_model
    }

    /// The configured timeouts.
    pub fn timeouts(&self) -> Timeouts {
        self.inner.timeouts
    }

    /// The configured limits.
    pub fn limits(&self) -> Limits {
        self.inner.limits
    }

    /// Sends a streaming request and returns once the response headers are in.
    pub fn stream(&self, request: &ChatRequest) -> Result<ChatStream> {
        self.stream_with_cancel(request, &CancelHandle::new())
    }

    /// Like [`stream`](Client::stream), cancellable through `cancel` from the start,
    /// while connecting and between retries too.
    pub fn stream_with_cancel(
        &self,
        request: &ChatRequest,
        cancel: &CancelHandle,
    ) -> Result<ChatStream> {
        self.open(request, true, cancel, None)
    }

    /// Like [`stream_with_cancel`](Client::stream_with_cancel), and writes the response
    /// into `recording` as it is read: status, headers (credentials and cookies left out)
    /// and the body bytes exactly as received. A failed request records its final HTTP
    /// error response. [`ChatStream::replay`] plays a recording back. A recorded stream is
    /// not re-sent when it dies before its first token, so that the recording shows what
    /// happened.
    ///
    /// The format, one HTTP response as the client read it:
    ///
    /// ```text
    /// upstage-recording/1 200 OK
    /// content-type: text/event-stream
    /// x-request-id: 6f1c...
    ///
    /// data: {"choices":[{"delta":{"content":"Hi"}}]}
    ///
    /// data: [DONE]
    ///
    /// ```
    ///
    /// The first line holds `upstage-recording/1`, the status code and the reason phrase;
    /// then one `name: value` line per response header, in the server's order; an empty
    /// line; then the body (after HTTP framing such as chunked encoding was removed) to the
    /// end of the file. `curl -sS -i` output is accepted as a recording too.
    ///
    /// ```no_run
    /// # use upstage::{CancelHandle, ChatRequest, Client, Message};
    /// let client = Client::from_env()?;
    /// let request = ChatRequest::new("solar-pro4").message(Message::user("Hi"));
    /// let file = std::fs::File::create("answer.rec").expect("writable");
    /// for token in client.stream_recorded(&request, file, &CancelHandle::new())? {
    ///     print!("{}", token?);
    /// }
    /// # Ok::<(), upstage::Error>(())
    /// ```
    pub fn stream_recorded(
        &self,
        request: &ChatRequest,
        recording: impl Write + Send + 'static,
        cancel: &CancelHandle,
    ) -> Result<ChatStream> {
        self.open(request, true, cancel, Some(Recorder::new(recording)))
    }

    /// Sends a non-streaming request (`"stream": false`) and returns the whole answer.
    /// A server that streams anyway is drained into the same [`ChatCompletion`].
    pub fn complete(&self, request: &ChatRequest) -> Result<ChatCompletion> {
        self.complete_with_cancel(request, &CancelHandle::new())
    }

    /// Like [`complete`](Client::complete), cancellable through `cancel` from any thread:
    /// while connecting, between retries, waiting for the answer and reading it.
    pub fn complete_with_cancel(
        &self,
        request: &ChatRequest,
        cancel: &CancelHandle,
    ) -> Result<ChatCompletion> {
        self.open(request, false, cancel, None)?.into_completion()
    }

    /// Like [`complete_with_cancel`](Client::complete_with_cancel), recording the response
    /// as [`stream_recorded`](Client::stream_recorded) does.
    pub fn complete_recorded(
        &self,
        request: &ChatRequest,
        recording: impl Write + Send + 'static,
        cancel: &CancelHandle,
    ) -> Result<ChatCompletion> {
        self.open(request, false, cancel, Some(Recorder::new(recording)))?
            .into_completion()
    }

    fn open(
        &self,
        request: &ChatRequest,
        stream: bool,
        cancel: &CancelHandle,
        recorder: Option<Recorder>,
    ) -> Result<ChatStream> {
        let started = Instant::now();
        let inner = &*self.inner;
        let overrides = request.overrides();
        overrides.check()?;
        let body = match inner.flavor {
            Flavor::Api => request.api_body(&inner.default_model, stream)?,
            Flavor::WebDemo => web_demo::request_body(request, stream)?,
        };
        let timeouts = overrides.timeouts(inner.timeouts);
        let Some(cancel) = cancel.slotted() else {
            return Err(Error::cancelled());
        };
        let recording = recorder.is_some();
        let resend = Resend {
            client: self.clone(),
            endpoint: url::with_query(&inner.endpoint, overrides.query.as_slice()),
            headers: self.request_headers(stream, &overrides.headers),
            body,
            timeouts,
            max_retries: overrides.max_retries(inner.max_retries),
            started,
            // The total timeout bounds the whole call: every attempt and every wait.
            deadline: timeouts.total.map(|total| started + total),
            recorder: Mutex::new(recorder),
        };
        match resend.attempts(&cancel, 0, None) {
            Ok(mut opened) => {
                if !recording {
                    opened.keep_for_retry(Box::new(resend));
                }
                Ok(opened)
            }
            Err(error) => {
                // No stream owns the connections: forget them, so that a handle the caller
                // reuses for many requests does not collect them.
                cancel.detach();
                Err(error)
            }
        }
    }

    /// The headers of a request: the flavor's own, then the client's custom headers, then
    /// the request's, a later one replacing an earlier one of the same name.
    fn request_headers(&self, stream: bool, request: &HeaderList) -> Vec<(String, String)> {
        let inner = &*self.inner;
        let mut defaults: Vec<(&str, &str)> = Vec::with_capacity(web_demo::HEADERS.len());
        match inner.flavor {
            Flavor::WebDemo => defaults.extend(web_demo::HEADERS),
            Flavor::Api => {
                let accept = if stream {
                    "text/event-stream"
                } else {
                    "application/json"
                };
                defaults.extend([
                    ("accept", accept),
                    ("content-type", "application/json"),
                    ("user-agent", USER_AGENT),
                ]);
                if let Some(ApiKey(auth)) = &inner.auth {
                    defaults.push(("authorization", auth));
                }
            }
        }
        request_headers::merge(&defaults, &[&inner.headers, request])
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }
}

/// An HTTP error response read whole, kept for the recording until the retry loop decides
/// it is the last.
struct WholeResponse {
    status: u16,
    reason: String,
    headers: Arc<ResponseHeaders>,
    body: Vec<u8>,
}

/// Everything needed to send a request again: kept by a stream until it hands out its first
/// token (see [`Reopen`]).
struct Resend {
    client: Client,
    /// The endpoint with the request's query parameters.
    endpoint: String,
    /// Every header to send, merged.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// The client's timeouts with the request's overrides.
    timeouts: Timeouts,
    max_retries: u32,
    /// When the request was handed to the client: timings count from here.
    started: Instant,
    deadline: Option<Instant>,
    /// Where the final response is recorded, if anywhere.
    recorder: Mutex<Option<Recorder>>,
}

impl Resend {
    /// Sends the request until a stream opens, the failure is final, or it is cancelled.
    /// `made` attempts were made already; `last` is the failure of the last one.
    fn attempts(
        &self,
        cancel: &CancelHandle,
        made: u32,
        last: Option<Failure>,
    ) -> Result<ChatStream> {
        let inner = &*self.client.inner;
        let budget = Budget {
            max_retries: self.max_retries,
            deadline: self.deadline,
            log: inner.log,
        };
        // The last attempt's HTTP error response, recorded if it is the final answer.
        let mut last_http: Option<WholeResponse> = None;
        let result = retry::run(budget, cancel, made, last, |attempt| {
            last_http = None;
            self.log_request(attempt);
            let sent_at = Instant::now();
            let (exchange, sent) = self.send(cancel);
            match sent {
                Ok(response) => {
                    // The headers are in: reading any body, an error body too, is bounded
                    // by the idle timeout from now on.
                    exchange.begin_body();
                    let headers_at = Instant::now();
                    let status = response.status().as_u16();
                    let headers = Arc::new(ResponseHeaders::from_http(response.headers()));
                    let reason = response::reason(status, "");
                    debug_log!(
                        inner.log,
                        "HTTP {status} {reason} after {:.1} ms{}",
                        sent_at.elapsed().as_secs_f64() * 1000.0,
                        headers
                            .get("x-request-id")
                            .map(|id| format!(" (x-request-id {id})"))
                            .unwrap_or_default()
                    );
                    if response.status().is_success() {
                        let times = (self.started, headers_at);
                        let mut opened = self
                            .stream_from(response, &exchange, headers, &reason, times, cancel)
                            .map_err(|e| match e.kind() {
                                // An error the server reported in its 200 answer is weighed
                                // like the HTTP status it stands for; anything else here is
                                // final.
                                ErrorKind::Api => Failure::new(e),
                                _ => Failure::fatal(e),
                            })?;
                        opened.set_attempts(attempt);
                        return Ok(opened);
                    }
                    let limit = inner.limits.max_error_body;
                    let (error, should_retry, body) = {
                        let _entered = exchange.enter();
                        response::http_error(response, &headers, &reason, limit, cancel)
                    };
                    last_http = body.map(|body| WholeResponse {
                        status,
                        reason,
                        headers,
                        body,
                    });
                    Err(Failure {
                        error,
                        should_retry,
                    })
                }
                Err(_) if cancel.is_cancelled() => Err(Failure::new(Error::cancelled())),
                Err(e) => Err(Failure::new(response::call_error(e))),
            }
        });
        match result {
            Err(error) => Err(self.record_failure(error, last_http)),
            ok => ok,
        }
    }

    /// One attempt up to the response headers. A pooled connection the server closed
    /// while it was idle fails with nothing of the response received: the request then
    /// goes out once more on a new connection, within the same attempt.
    fn send(
        &self,
        cancel: &CancelHandle,
    ) -> (
        Arc<Exchange>,
        std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) {
        let log = self.client.inner.log;
        let mut fresh = false;
        loop {
            let exchange = Exchange::new(cancel, self.timeouts.idle, self.deadline);
            let sent = {
                let _entered = exchange.enter();
                self.send_once(fresh)
            };
            let stale = !fresh && exchange.went_stale() && !cancel.is_cancelled();
            match sent {
                Err(e) if stale && !is_timeout(&e) => {
                    debug_log!(
                        log,
                        "connection: the pooled one was closed by the server ({e}); \
                         sending again on a new one"
                    );
                    fresh = true;
                }
                sent => {
                    if sent.is_ok() {
                        let how = if exchange.reused() {
                            "reused from the pool"
                        } else {
                            "a new one"
                        };
                        debug_log!(log, "connection: {how}");
                    }
                    return (exchange, sent);
                }
            }
        }
    }

    /// Sends the request on a pooled connection, or on a new one when `fresh`.
    fn send_once(
        &self,
        fresh: bool,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        // What is left of the total timeout (at least 1 ms: zero would mean no limit to
        // some readers).
        let left = self.deadline.map(|deadline| {
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        });
        let mut config = self
            .client
            .inner
            .agent
            .post(&self.endpoint)
            .config()
            .timeout_connect(self.timeouts.connect)
            .timeout_recv_response(self.timeouts.headers)
            .timeout_global(left);
        if fresh {
            // A configuration the pool's connections were not made with: ureq opens a new
            // connection for this request (and does not pool it).
            config = config.input_buffer_size(transport::INPUT_BUFFER + 1);
        }
        let mut request = config.build();
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        request.send(&self.body[..])
    }

    fn log_request(&self, attempt: u32) {
        let inner = &*self.client.inner;
        debug_log!(
            inner.log,
            "POST {} (attempt {attempt} of {}){}",
            url::redacted(&self.endpoint),
            self.max_retries + 1,
            inner
                .proxy_shown
                .as_deref()
                .map(|p| format!(" via proxy {p}"))
                .unwrap_or_default()
        );
        debug_log!(
            inner.log,
            "request headers: {}",
            self.headers
                .iter()
                .map(|(n, v)| format!("{n}: {}", shown_value(n, v)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    /// A 2xx response as a stream, recorded when asked.
    fn stream_from(
        &self,
        response: ureq::http::Response<ureq::Body>,
        exchange: &Arc<Exchange>,
        headers: Arc<ResponseHeaders>,
        reason: &str,
        times: (Instant, Instant),
        cancel: &CancelHandle,
    ) -> Result<ChatStream> {
        let inner = &*self.client.inner;
        let status = response.status().as_u16();
        let mut reader: Body = Box::new(ExchangeBody::new(
            response.into_body().into_reader(),
            exchange,
        ));
        if let Some(recorder) = self.take_recorder() {
            reader = Box::new(recorder.record_stream(status, reason, &headers, reader)?);
        }
        let mut stream =
            ChatStream::from_body(reader, &headers, inner.flavor, inner.limits, cancel)?;
        stream.set_response(headers, Some(times), inner.log);
        stream.set_exchange(Arc::clone(exchange));
        Ok(stream)
    }

    fn take_recorder(&self) -> Option<Recorder> {
        self.recorder
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    /// Records the final HTTP error response, when recording and there is one; a failure
    /// to write it is added to the error's message.
    fn record_failure(&self, error: Error, last_http: Option<WholeResponse>) -> Error {
        let Some(response) = last_http.filter(|r| error.http_status() == Some(r.status)) else {
            return error;
        };
        let Some(recorder) = self.take_recorder() else {
            return error;
        };
        match recorder.record_whole(
            response.status,
            &response.reason,
            &response.headers,
            &response.body,
        ) {
            Ok(()) => error,
            Err(e) => {
                let message = format!("{} ({})", error.message(), e.message());
                error.with_message(message)
            }
        }
    }
}

/// Whether a failure is a timeout, which a new connection would not cure any sooner.
fn is_timeout(error: &ureq::Error) -> bool {
    match error {
        ureq::Error::Timeout(_) => true,
        ureq::Error::Io(e) => e.kind() == std::io::ErrorKind::TimedOut,
        _ => false,
    }
}

impl Reopen for Resend {
    fn reopen(&self, cancel: &CancelHandle, attempts: u32, error: Error) -> Result<ChatStream> {
        self.attempts(cancel, attempts, Some(Failure::before_first_token(error)))
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &url::redacted(&self.inner.endpoint))
            .field("flavor", &self.inner.flavor)
            .field("api_key", &self.inner.auth.as_ref().map(|_| "<redacted>"))
            .field("default_model", &self.inner.default_model)
            .field("timeouts", &self.inner.timeouts)
            .field("max_retries", &self.inner.max_retries)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn missing_key_for_the_official_api_fails_before_io() {
        let err = ClientBuilder::new().build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
        assert!(err.message().contains("UPSTAGE_API_KEY"));
        let ok = ClientBuilder::new()
            .base_url("http://127.0.0.1:9/v1")
            .build();
        assert!(ok.is_ok());
        let demo = ClientBuilder::new()
            .flavor(Flavor::WebDemo)
            .build()
            .unwrap();
        assert_eq!(
            demo.endpoint(),
            "https://ap-northeast-2.apistage.ai/v1/web/demo/chat/completions"
        );
    }

    #[test]
    fn the_key_never_shows() {
        let client = ClientBuilder::new()
            .api_key("sk-secret-123")
            .build()
            .unwrap();
        let shown = format!(
            "{client:?} {:?}",
            ClientBuilder::new().api_key("sk-secret-123")
        );
        assert!(!shown.contains("sk-secret-123"), "{shown}");
        let err = ClientBuilder::new()
            .api_key("sk-\nsecret")
            .build()
            .unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }

    #[test]
    fn base_urls_are_checked() {
        for bad in ["", "ftp://x", "not a url", "http://", "http://h/v1#x"] {
            let err = ClientBuilder::new().base_url(bad).build().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad}");
        }
        let client = ClientBuilder::new()
            .base_url("http://h:8/v1/")
            .build()
            .unwrap();
        assert_eq!(client.endpoint(), "http://h:8/v1/chat/completions");
        let client = ClientBuilder::new()
            .base_url("http://h/v1?api-version=1&key=secret-in-url")
            .query("a", "b c")
            .build()
            .unwrap();
        assert_eq!(
            client.endpoint(),
            "http://h/v1/chat/completions?api-version=1&key=secret-in-url&a=b%20c"
        );
        assert!(!format!("{client:?}").contains("secret-in-url"));
    }
}
