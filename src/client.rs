//! [`Client`] and [`ClientBuilder`]: where requests go, how they are sent, retried and
//! turned into a [`ChatStream`].

use std::fmt;
use std::io::{Cursor, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ureq::http::Uri;
use ureq::tls::{RootCerts, TlsConfig};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::Agent;

use crate::cancel::CancelHandle;
use crate::chunk;
use crate::completion::ChatCompletion;
use crate::error::{Error, ErrorKind, Result, TimeoutPhase};
use crate::models;
use crate::request::ChatRequest;
use crate::retry;
use crate::stream::{body_io_error, Body, ChatStream};
use crate::transport::{self, Exchange, ExchangeBody, Pooling};

/// The official Upstage API.
pub const DEFAULT_BASE_URL: &str = "https://api.upstage.ai/v1";
/// The seed's undocumented web-demo host (dead upstream; see [`WORKING`](crate::WORKING)).
pub const WEB_DEMO_BASE_URL: &str = "https://ap-northeast-2.apistage.ai/v1";

/// The `User-Agent` of the `Api` flavor.
const USER_AGENT: &str = concat!("upstage-rs/", env!("CARGO_PKG_VERSION"));

/// The exact headers the seed sent to the web demo, in its order.
const WEB_DEMO_HEADERS: [(&str, &str); 16] = [
    ("accept", "*/*"),
    ("accept-language", "en-US,en;q=0.9"),
    ("cache-control", "no-cache"),
    ("content-type", "application/json"),
    ("dnt", "1"),
    ("origin", "https://console.upstage.ai"),
    ("pragma", "no-cache"),
    ("priority", "u=1, i"),
    ("referer", "https://console.upstage.ai/"),
    ("sec-ch-ua", "\"Not?A_Brand\";v=\"99\", \"Chromium\";v=\"130\""),
    ("sec-ch-ua-mobile", "?0"),
    ("sec-ch-ua-platform", "\"Linux\""),
    ("sec-fetch-dest", "empty"),
    ("sec-fetch-mode", "cors"),
    ("sec-fetch-site", "cross-site"),
    (
        "user-agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    ),
];

/// Which server dialect to speak.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// The official Upstage API or any OpenAI-compatible server: bearer auth, messages as
    /// given, invalid JSON chunks are errors.
    #[default]
    Api,
    /// The seed's web demo: its 16 browser headers, no auth, the conversation flattened
    /// into one user message, the model resolved with [`get_model`](crate::get_model),
    /// invalid JSON chunks skipped.
    WebDemo,
}

/// Timeouts; `None` means no limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
pub struct Limits {
    /// The longest SSE line. Default 4 MiB.
    pub max_line: usize,
    /// The largest SSE event (joined `data` lines), and the largest non-streamed JSON
    /// answer. Default 16 MiB.
    pub max_event: usize,
    /// How much of an HTTP error body is read for its message. Default 64 KiB.
    pub max_error_body: usize,
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

/// An API key that never shows itself in `Debug` output.
#[derive(Clone)]
struct ApiKey(String);

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// How the proxy is chosen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
enum ProxyChoice {
    /// `ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY` (and `NO_PROXY`) from the environment.
    #[default]
    FromEnvironment,
    /// No proxy, whatever the environment says.
    Disabled,
    /// This proxy (`http://`, `socks5://`, `socks5h://`, with optional credentials).
    Url(String),
}

/// Configures a [`Client`].
///
/// [`ClientBuilder::new`] starts from the defaults alone; [`ClientBuilder::from_env`] also
/// reads `UPSTAGE_API_KEY`, `UPSTAGE_BASE_URL` and `UPSTAGE_MODEL`.
#[derive(Clone, Debug, Default)]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    base_url: Option<String>,
    env_base_url: Option<String>,
    flavor: Flavor,
    default_model: Option<String>,
    proxy: ProxyChoice,
    timeouts: Timeouts,
    max_retries: Option<u32>,
    ca_file: Option<PathBuf>,
    limits: Limits,
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

    /// The base URL; requests go to `{base}/chat/completions`.
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

    /// An explicit proxy (`http://`, `socks5://` or `socks5h://`, credentials allowed);
    /// `None` disables proxies, the environment's included. Without this call the
    /// environment decides.
    pub fn proxy(mut self, url: Option<&str>) -> ClientBuilder {
        self.proxy = match url {
            Some(url) => ProxyChoice::Url(url.to_owned()),
            None => ProxyChoice::Disabled,
        };
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

    /// How many times a failed attempt is retried before the first token. Default 2.
    pub fn max_retries(mut self, retries: u32) -> ClientBuilder {
        self.max_retries = Some(retries);
        self
    }

    /// Trust the certificates in this PEM file instead of the bundled web roots.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> ClientBuilder {
        self.ca_file = Some(path.into());
        self
    }

    /// Size limits.
    pub fn limits(mut self, limits: Limits) -> ClientBuilder {
        self.limits = limits;
        self
    }

    /// Checks the configuration and builds the client. No I/O except reading the CA file.
    pub fn build(self) -> Result<Client> {
        let base = self.resolved_base_url();
        let endpoint = endpoint(&base, self.flavor)?;
        let auth = self.authorization(&base)?;
        let config = self.agent_config()?;
        let agent = Agent::with_parts(
            config,
            transport::pooled_connector(),
            DefaultResolver::default(),
        );
        Ok(Client {
            inner: Arc::new(Inner {
                endpoint,
                flavor: self.flavor,
                auth,
                default_model: self
                    .default_model
                    .unwrap_or_else(|| models::API_DEFAULT_MODEL.to_owned()),
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
            Flavor::WebDemo => WEB_DEMO_BASE_URL,
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
            if base.trim_end_matches('/') == DEFAULT_BASE_URL {
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

    /// Idle keep-alive connections kept per host for reuse by later requests; 0 turns
    /// connection reuse off. Default 4.
    pub fn max_idle_connections_per_host(mut self, connections: usize) -> ClientBuilder {
        self.pooling.max_idle_per_host = connections;
        self
    }

    /// How long an idle connection is kept for reuse. Default 30 s.
    pub fn pool_idle_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.pooling.idle_timeout = timeout;
        self
    }

    /// Whether connections are kept for reuse (the default). `false` opens a new
    /// connection for every request.
    pub fn connection_reuse(mut self, enabled: bool) -> ClientBuilder {
        if !enabled {
            self.pooling.max_idle_per_host = 0;
        } else if self.pooling.max_idle_per_host == 0 {
            self.pooling.max_idle_per_host = Pooling::default().max_idle_per_host;
        }
        self
    }

    fn agent_config(&self) -> Result<ureq::config::Config> {
        let proxy = match &self.proxy {
            ProxyChoice::FromEnvironment => ureq::Proxy::try_from_env(),
            ProxyChoice::Disabled => None,
            ProxyChoice::Url(url) => Some(
                ureq::Proxy::new(url)
                    .map_err(|e| Error::invalid_argument(format!("invalid proxy URL: {e}")))?,
            ),
        };
        let mut builder = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(self.timeouts.connect)
            .timeout_recv_response(self.timeouts.headers)
            .input_buffer_size(transport::INPUT_BUFFER)
            .output_buffer_size(transport::OUTPUT_BUFFER)
            // A larger head cannot fit the read buffer: say so instead of "disconnected".
            .max_response_header_size(transport::INPUT_BUFFER - 1)
            .max_idle_connections(self.pooling.max_idle_per_host)
            .max_idle_connections_per_host(self.pooling.max_idle_per_host)
            .max_idle_age(self.pooling.idle_timeout)
            .proxy(proxy);
        if let Some(path) = &self.ca_file {
            builder = builder.tls_config(custom_roots(path)?);
        }
        Ok(builder.build())
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

/// `{base}/chat/completions` (or the web demo's path), after checking the URL.
fn endpoint(base: &str, flavor: Flavor) -> Result<String> {
    let base = base.trim_end_matches('/');
    let uri: Uri = base
        .parse()
        .map_err(|e| Error::invalid_argument(format!("invalid base URL {base:?}: {e}")))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none() || uri.query().is_some() {
        return Err(Error::invalid_argument(format!(
            "invalid base URL {base:?}: expected http(s)://host[:port][/path]"
        )));
    }
    let path = match flavor {
        Flavor::Api => "/chat/completions",
        Flavor::WebDemo => "/web/demo/chat/completions",
    };
    Ok(format!("{base}{path}"))
}

/// A blocking chat client. Cheap to clone; share it between threads.
///
/// ```no_run
/// use upstage::{ChatRequest, Client, Message};
///
/// let client = Client::from_env()?;
/// let request = ChatRequest::new("solar-pro2").message(Message::user("Hello!"));
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
    default_model: String,
    timeouts: Timeouts,
    limits: Limits,
    max_retries: u32,
    /// One agent for every request: its pool keeps idle connections for reuse.
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
        self.open(request, true, cancel)
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
        self.open(request, false, cancel)?.into_completion()
    }

    fn open(
        &self,
        request: &ChatRequest,
        stream: bool,
        cancel: &CancelHandle,
    ) -> Result<ChatStream> {
        let inner = &*self.inner;
        let body = request.body(inner.flavor, &inner.default_model, stream)?;
        let Some(cancel) = cancel.slotted() else {
            return Err(cancelled());
        };
        let resend = Resend {
            client: self.clone(),
            body,
            stream,
            // The total timeout bounds the whole call: every attempt and every wait.
            deadline: inner.timeouts.total.map(|total| Instant::now() + total),
        };
        match resend.attempts(&cancel, 0, None) {
            Ok(mut opened) => {
                opened.keep_for_retry(resend);
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

    fn send(
        &self,
        body: &[u8],
        stream: bool,
        fresh: bool,
    ) -> std::result::Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let inner = &*self.inner;
        let mut request = inner.agent.post(&inner.endpoint);
        if fresh {
            // A configuration the pool's connections were not made with: ureq opens a new
            // connection for this request (and does not pool it).
            request = request
                .config()
                .input_buffer_size(transport::INPUT_BUFFER + 1)
                .build();
        }
        match inner.flavor {
            Flavor::WebDemo => {
                for (name, value) in WEB_DEMO_HEADERS {
                    request = request.header(name, value);
                }
            }
            Flavor::Api => {
                let accept = if stream {
                    "text/event-stream"
                } else {
                    "application/json"
                };
                request = request
                    .header("accept", accept)
                    .header("content-type", "application/json")
                    .header("user-agent", USER_AGENT);
                if let Some(ApiKey(auth)) = &inner.auth {
                    request = request.header("authorization", auth);
                }
            }
        }
        request.send(body)
    }

    /// Turns a 2xx response into a stream: SSE, a whole JSON completion (servers that
    /// ignore `stream`), or a protocol error naming an unexpected content type.
    fn stream_from(
        &self,
        response: ureq::http::Response<ureq::Body>,
        exchange: &Arc<Exchange>,
        cancel: &CancelHandle,
    ) -> Result<ChatStream> {
        let inner = &*self.inner;
        let request_id = header(&response, "x-request-id");
        let content_type = header(&response, "content-type").unwrap_or_default();
        let reader: Body = Box::new(ExchangeBody::new(
            response.into_body().into_reader(),
            exchange,
        ));
        let (kind, reader) = sniff(&content_type, reader, cancel)
            .map_err(|e| e.with_request_id(request_id.clone()))?;
        let mut stream = match kind {
            BodyKind::EventStream => {
                ChatStream::new(reader, inner.flavor, inner.limits, cancel.clone())
            }
            BodyKind::Json => {
                let json = read_bounded(reader, inner.limits.max_event, cancel)?;
                ChatStream::from_completion_json(&json, inner.flavor, cancel.clone())
                    .map_err(|e| e.with_http_status(200).with_request_id(request_id.clone()))?
            }
        };
        stream.set_request_id(request_id);
        stream.set_exchange(Arc::clone(exchange));
        Ok(stream)
    }
}

/// Everything needed to send a request again: kept by a stream until it hands out its first
/// token, so that a connection that dies right after its headers is retried like one that
/// failed before them.
pub(crate) struct Resend {
    client: Client,
    body: Vec<u8>,
    stream: bool,
    deadline: Option<Instant>,
}

impl Resend {
    /// Sends the request until a stream opens, the failure is final, or it is cancelled.
    /// `attempt` attempts were made already; `last` is the failure of the last one, to be
    /// weighed (and waited for) before sending again.
    pub(crate) fn attempts(
        &self,
        cancel: &CancelHandle,
        mut attempt: u32,
        mut last: Option<(Error, Option<bool>)>,
    ) -> Result<ChatStream> {
        let client = &self.client;
        let inner = &*client.inner;
        // A pooled connection the server closed while it sat idle fails with nothing
        // received: the request goes out again on a new connection, not as a retry.
        let mut fresh = false;
        loop {
            if let Some((error, should_retry)) = last.take() {
                self.wait_before_retry(error, should_retry, attempt, cancel)?;
            }
            if !fresh {
                attempt += 1;
            }
            let exchange = Exchange::new(cancel, inner.timeouts.idle, self.deadline);
            let sent = {
                let _entered = exchange.enter();
                client.send(&self.body, self.stream, fresh)
            };
            fresh = false;
            if sent.is_ok() {
                // The headers are in: reading any body, an error body too, is bounded
                // by the idle timeout from now on.
                exchange.begin_body();
            }
            last = Some(match sent {
                Ok(response) if response.status().is_success() => {
                    let mut opened = client.stream_from(response, &exchange, cancel)?;
                    opened.set_attempts(attempt);
                    return Ok(opened);
                }
                Ok(response) => {
                    let limit = inner.limits.max_error_body;
                    let _entered = exchange.enter();
                    http_error(response, limit, cancel)
                }
                Err(e) if exchange.went_stale() && !cancel.is_cancelled() && !is_timeout(&e) => {
                    fresh = true;
                    continue;
                }
                Err(_) if cancel.is_cancelled() => (cancelled(), None),
                Err(e) => (call_error(e), None),
            });
        }
    }

    /// Returns the error when it is final; otherwise waits as a retry should.
    fn wait_before_retry(
        &self,
        error: Error,
        should_retry: Option<bool>,
        attempt: u32,
        cancel: &CancelHandle,
    ) -> Result<()> {
        let error = error.with_attempts(attempt);
        let max_retries = self.client.inner.max_retries;
        if attempt > max_retries || !retry::is_retryable(&error, should_retry) {
            return Err(error);
        }
        let wait = match error.retry_after() {
            Some(wait) if wait > retry::MAX_SERVER_WAIT => {
                return Err(too_long_a_wait(error, wait));
            }
            Some(wait) => wait,
            None => retry::backoff(attempt - 1),
        };
        if self
            .deadline
            .is_some_and(|deadline| Instant::now() + wait >= deadline)
        {
            let message = format!(
                "{} (not retried: the total timeout would expire first)",
                error.message()
            );
            return Err(error.with_message(message));
        }
        if !cancel.sleep(wait) {
            return Err(cancelled().with_attempts(attempt));
        }
        Ok(())
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.endpoint)
            .field("flavor", &self.inner.flavor)
            .field("api_key", &self.inner.auth.as_ref().map(|_| "<redacted>"))
            .field("default_model", &self.inner.default_model)
            .field("timeouts", &self.inner.timeouts)
            .field("max_retries", &self.inner.max_retries)
            .finish_non_exhaustive()
    }
}

/// Whether a failure is a timeout (which a new connection would not cure any faster).
fn is_timeout(error: &ureq::Error) -> bool {
    match error {
        ureq::Error::Timeout(_) => true,
        ureq::Error::Io(e) => e.kind() == std::io::ErrorKind::TimedOut,
        _ => false,
    }
}

fn header(response: &ureq::http::Response<ureq::Body>, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
}

fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, "the request was cancelled")
}

fn too_long_a_wait(error: Error, wait: Duration) -> Error {
    let message = format!(
        "{} (the server asks to retry after {} s, more than the {} s we wait)",
        error.message(),
        wait.as_secs(),
        retry::MAX_SERVER_WAIT.as_secs()
    );
    error.with_message(message)
}

/// What kind of body a 2xx response carries.
enum BodyKind {
    EventStream,
    Json,
}

/// Decides how to read a 2xx body from its content type, looking at the first bytes when
/// the type is neither SSE nor JSON (some servers and proxies label streams oddly).
fn sniff(content_type: &str, mut reader: Body, cancel: &CancelHandle) -> Result<(BodyKind, Body)> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "text/event-stream" {
        return Ok((BodyKind::EventStream, reader));
    }
    if essence == "application/json" || essence.ends_with("+json") {
        return Ok((BodyKind::Json, reader));
    }
    let head = read_head(&mut reader, cancel)?;
    let text = meaningful(&head);
    let kind = if text.starts_with(b"{") {
        BodyKind::Json
    } else if [&b"data:"[..], b"event:", b"id:", b"retry:", b":"]
        .iter()
        .any(|p| text.starts_with(p))
    {
        BodyKind::EventStream
    } else {
        let shown = if content_type.is_empty() {
            "none"
        } else {
            content_type
        };
        return Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "unexpected content type {shown:?}: the body is neither an event stream nor JSON"
            ),
        )
        .with_http_status(200));
    };
    Ok((kind, Box::new(Cursor::new(head).chain(reader))))
}

/// Reads just enough to tell JSON from SSE (a `{`, a `:`, or the longest field name,
/// `retry:`), or to EOF: a slow stream must not be held back by the sniffing.
fn read_head(reader: &mut Body, cancel: &CancelHandle) -> Result<Vec<u8>> {
    let undecided = |head: &[u8]| {
        let text = meaningful(head);
        !text.starts_with(b"{") && !text.starts_with(b":") && text.len() < b"retry:".len()
    };
    let mut head = vec![0; 512];
    let mut filled = 0;
    while filled < head.len() && undecided(&head[..filled]) {
        match reader.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(body_io_error(e, cancel)),
        }
    }
    head.truncate(filled);
    Ok(head)
}

/// The body's start without a BOM and leading whitespace.
fn meaningful(head: &[u8]) -> &[u8] {
    head.strip_prefix(b"\xEF\xBB\xBF")
        .unwrap_or(head)
        .trim_ascii_start()
}

/// Reads a whole body, failing with `Limit` past `limit` bytes instead of growing.
fn read_bounded(reader: Body, limit: usize, cancel: &CancelHandle) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    reader
        .take(limit as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| body_io_error(e, cancel))?;
    if buf.len() > limit {
        return Err(Error::new(
            ErrorKind::Limit,
            format!("the JSON answer exceeds the {limit}-byte limit"),
        )
        .with_http_status(200));
    }
    Ok(buf)
}

/// A non-2xx response as an error carrying the server's own words, plus the server's
/// `x-should-retry` verdict.
fn http_error(
    response: ureq::http::Response<ureq::Body>,
    limit: usize,
    cancel: &CancelHandle,
) -> (Error, Option<bool>) {
    let status = response.status().as_u16();
    let request_id = header(&response, "x-request-id");
    let wait = retry::server_wait(
        header(&response, "retry-after-ms").as_deref(),
        header(&response, "retry-after").as_deref(),
    );
    let should_retry = header(&response, "x-should-retry").and_then(|v| match v.as_str() {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    });
    let reason = response.status().canonical_reason().unwrap_or("");
    let reader: Body = Box::new(response.into_body().into_reader());
    let error = match read_bounded(reader, limit, cancel) {
        Ok(body) => describe_error_body(status, reason, &body),
        Err(e) if e.kind() == ErrorKind::Limit => Error::new(
            ErrorKind::Limit,
            format!("HTTP {status} {reason}: the error body exceeds the {limit}-byte limit"),
        ),
        Err(_) => Error::new(ErrorKind::Http, format!("HTTP {status} {reason}")),
    };
    let error = error
        .with_http_status(status)
        .with_request_id(request_id)
        .with_retry_after(wait);
    (error, should_retry)
}

/// `HTTP 401: <the server's message>`, from JSON error shapes or the text of the body.
fn describe_error_body(status: u16, reason: &str, body: &[u8]) -> Error {
    let parts = serde_json::from_slice::<serde_json::Value>(body)
        .map(|value| chunk::api_error_parts(&value))
        .unwrap_or_default();
    let text = match parts.message.clone() {
        Some(message) => message,
        None => body_text(body),
    };
    let message = if text.is_empty() {
        format!("HTTP {status} {reason}").trim_end().to_owned()
    } else {
        format!("HTTP {status}: {text}")
    };
    Error::new(ErrorKind::Http, message).with_api_details(parts.kind, parts.code, parts.param)
}

/// A plain-text body trimmed, or an HTML page reduced to its title.
fn body_text(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let lower = text.to_ascii_lowercase();
    if let Some(start) = lower.find("<title>") {
        let rest = &text[start + "<title>".len()..];
        let end = rest
            .to_ascii_lowercase()
            .find("</title>")
            .unwrap_or(rest.len());
        return rest[..end].split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let trimmed = text.trim();
    const MAX: usize = 2000;
    if trimmed.len() <= MAX {
        return trimmed.to_owned();
    }
    let mut cut = MAX;
    while !trimmed.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &trimmed[..cut])
}

/// Classifies an error from sending the request or waiting for the response headers.
fn call_error(error: ureq::Error) -> Error {
    use ureq::Timeout as T;
    match error {
        ureq::Error::Timeout(T::Connect | T::Resolve) => Error::timeout(TimeoutPhase::Connect),
        ureq::Error::Timeout(T::Global | T::PerCall) => Error::timeout(TimeoutPhase::Total),
        ureq::Error::Timeout(_) => Error::timeout(TimeoutPhase::Headers),
        ureq::Error::HostNotFound => {
            Error::new(ErrorKind::Connect, "cannot resolve the server's host name")
        }
        ureq::Error::Io(e) => io_call_error(e),
        ureq::Error::Rustls(e) => tls_error(&e.to_string()),
        ureq::Error::Tls(e) => tls_error(e),
        ureq::Error::Pem(e) => tls_error(&e.to_string()),
        ureq::Error::ConnectProxyFailed(e) => Error::new(
            ErrorKind::Connect,
            format!("the proxy refused the connection: {e}"),
        ),
        ureq::Error::ConnectionFailed => Error::new(
            ErrorKind::Connect,
            "the connection (or proxy handshake) failed",
        ),
        ureq::Error::BadUri(e) => Error::invalid_argument(format!("invalid URL: {e}")),
        ureq::Error::InvalidProxyUrl => Error::invalid_argument("invalid proxy URL"),
        ureq::Error::LargeResponseHeader(size, limit) => Error::new(
            ErrorKind::Limit,
            format!("the response headers ({size} bytes) exceed the {limit}-byte limit"),
        ),
        ureq::Error::Protocol(e) => {
            Error::new(ErrorKind::Protocol, format!("malformed HTTP response: {e}"))
        }
        ureq::Error::TooManyRedirects | ureq::Error::RedirectFailed => Error::new(
            ErrorKind::Protocol,
            "the server redirected the request (set the base URL to the final address)",
        ),
        other => Error::new(ErrorKind::Io, format!("the request failed: {other}")),
    }
}

fn io_call_error(error: std::io::Error) -> Error {
    use std::io::ErrorKind as K;
    let inner = error
        .get_ref()
        .and_then(|e| e.downcast_ref::<ureq::Error>());
    if let Some(ureq::Error::Timeout(_)) = inner {
        return Error::timeout(TimeoutPhase::Headers);
    }
    // rustls failures (certificate verification, alerts, a server that does not speak
    // TLS) reach us as `InvalidData` I/O errors wrapping the `rustls::Error`.
    if error.kind() == K::InvalidData {
        if let Some(detail) = error.get_ref().map(ToString::to_string) {
            const TLS_MARKERS: [&str; 6] = [
                "certificate",
                "alert",
                "handshake",
                "peer is incompatible",
                "peer misbehaved",
                "corrupt message",
            ];
            if TLS_MARKERS.iter().any(|m| detail.contains(m)) {
                return tls_error(&detail);
            }
        }
    }
    // A SOCKS proxy refusing our credentials (or asking for a method we lack) fails
    // its handshake with these; they are proxy failures, so `Connect`.
    let detail = error.to_string();
    if error.kind() == K::PermissionDenied || detail.contains("auth method") {
        return Error::new(
            ErrorKind::Connect,
            format!("the proxy refused the connection: {detail}"),
        );
    }
    match error.kind() {
        K::ConnectionRefused
        | K::AddrNotAvailable
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::NetworkDown
        | K::NotFound => Error::new(ErrorKind::Connect, format!("cannot connect: {error}")),
        K::TimedOut | K::WouldBlock => Error::timeout(TimeoutPhase::Headers),
        _ => Error::new(
            ErrorKind::Io,
            format!("the connection failed before the response: {error}"),
        ),
    }
}

fn tls_error(detail: &str) -> Error {
    if detail.contains("certificate") || detail.contains("Certificate") {
        // The same certificate will be presented again: retrying cannot help.
        let message = format!("TLS certificate verification failed: {detail}");
        return Error::new(ErrorKind::Connect, message).permanent();
    }
    Error::new(
        ErrorKind::Connect,
        format!("TLS handshake failed: {detail}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        for bad in ["", "ftp://x", "not a url", "http://", "http://h/v1?x=1"] {
            let err = ClientBuilder::new().base_url(bad).build().unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad}");
        }
        let client = ClientBuilder::new()
            .base_url("http://h:8/v1/")
            .build()
            .unwrap();
        assert_eq!(client.endpoint(), "http://h:8/v1/chat/completions");
    }

    #[test]
    fn error_bodies_give_the_servers_words() {
        let e = describe_error_body(
            401,
            "Unauthorized",
            br#"{"error":{"message":"bad key","type":"auth","code":"invalid_api_key"}}"#,
        );
        assert_eq!(e.message(), "HTTP 401: bad key");
        assert_eq!(e.api_code(), Some("invalid_api_key"));
        let e = describe_error_body(422, "", br#"{"detail":"model not found"}"#);
        assert_eq!(e.message(), "HTTP 422: model not found");
        let e = describe_error_body(
            502,
            "Bad Gateway",
            b"<html><head><title>502 Bad\n Gateway</title></head></html>",
        );
        assert_eq!(e.message(), "HTTP 502: 502 Bad Gateway");
        let e = describe_error_body(500, "Internal Server Error", b"  oops \n");
        assert_eq!(e.message(), "HTTP 500: oops");
        let e = describe_error_body(404, "Not Found", b"");
        assert_eq!(e.message(), "HTTP 404 Not Found");
    }
}
