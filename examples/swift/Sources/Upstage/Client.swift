import CUpstage

/// How a client builds its connections. Every `nil` means "the library's default".
public struct Options: Sendable {
    /// Which proxy to use.
    public enum Proxy: Sendable, Equatable {
        /// The proxy environment variables decide (HTTPS_PROXY, ALL_PROXY, NO_PROXY, ...).
        case environment
        /// No proxy; the environment is ignored.
        case none
        /// This `http://`, `https://` or `socks5://` proxy.
        case url(String)
    }

    /// Sent as `Authorization: Bearer <key>`. nil: `UPSTAGE_API_KEY`. Required only for the
    /// official base URL.
    public var apiKey: String?
    /// The API root; requests go to `baseURL + "/chat/completions"`. nil: `UPSTAGE_BASE_URL`,
    /// else `https://api.upstage.ai/v1`.
    public var baseURL: String?
    /// The keyless web-demo flavor of the original provider.
    public var webDemo: Bool
    /// The proxy (default: the environment decides).
    public var proxy: Proxy
    /// Timeouts in seconds; nil: the default (connect 10 s, headers 600 s, idle 300 s, total
    /// none); `.infinity`: no limit.
    public var connectTimeout: Double?
    public var headersTimeout: Double?
    public var idleTimeout: Double?
    public var totalTimeout: Double?
    /// Retries before the first token (default 2); 0 disables them.
    public var maxRetries: Int?
    /// The model of requests that name none. nil: `UPSTAGE_MODEL`, else `solar-pro4`.
    public var defaultModel: String?
    /// A PEM file whose certificates are trusted instead of the bundled web roots.
    public var caFile: String?
    /// Whether idle keep-alive connections are kept and reused (default true), by every
    /// thread sharing the client. A connection is reused only after its response was read
    /// to the end; false opens a new connection for every request.
    public var connectionReuse: Bool
    /// How many idle connections are kept per host (default 4).
    public var maxIdleConnections: Int?
    /// How long, in seconds, an idle connection is kept for reuse (default 30).
    public var poolIdleTimeout: Double?
    /// Headers sent with every request; they replace the library's of the same name
    /// (`User-Agent` and `Authorization` included). CR, LF or NUL, an invalid name, or
    /// `Content-Length`, `Host` or `Transfer-Encoding` are `.invalidArgument`.
    public var headers: [String: String] = [:]
    /// Query parameters added to every request's URL (a query string in `baseURL` is kept).
    public var query: [String: String] = [:]
    /// The library's debug log on stderr for this client (default: `UPSTAGE_LOG=debug`).
    public var debugLog: Bool = false

    public init(
        apiKey: String? = nil,
        baseURL: String? = nil,
        webDemo: Bool = false,
        proxy: Proxy = .environment,
        connectTimeout: Double? = nil,
        headersTimeout: Double? = nil,
        idleTimeout: Double? = nil,
        totalTimeout: Double? = nil,
        maxRetries: Int? = nil,
        defaultModel: String? = nil,
        caFile: String? = nil,
        connectionReuse: Bool = true,
        maxIdleConnections: Int? = nil,
        poolIdleTimeout: Double? = nil
    ) {
        self.apiKey = apiKey
        self.baseURL = baseURL
        self.webDemo = webDemo
        self.proxy = proxy
        self.connectTimeout = connectTimeout
        self.headersTimeout = headersTimeout
        self.idleTimeout = idleTimeout
        self.totalTimeout = totalTimeout
        self.maxRetries = maxRetries
        self.defaultModel = defaultModel
        self.caFile = caFile
        self.connectionReuse = connectionReuse
        self.maxIdleConnections = maxIdleConnections
        self.poolIdleTimeout = poolIdleTimeout
    }
}

/// Sends chat requests. Immutable and thread-safe: build one and share it.
public final class Client: @unchecked Sendable {
    /// `upstage_client *`, immutable and thread-safe on the C side.
    let handle: OpaquePointer

    /// Builds a client; throws `.invalidArgument` for a bad option (a malformed URL, a
    /// missing API key for the official API, ...).
    public init(_ options: Options = Options()) throws {
        guard let builder = upstage_client_builder_new() else {
            throw UpstageError(.panic, "upstage_client_builder_new failed")
        }
        do {
            try Client.configure(builder, options)
        } catch {
            upstage_client_builder_free(builder)
            throw error
        }
        var out: OpaquePointer?
        var err = upstage_error()
        // Always consumes the builder.
        try check(upstage_client_builder_build(builder, &out, &err), err)
        guard let client = out else {
            throw UpstageError(.panic, "upstage_client_builder_build returned no client")
        }
        handle = client
    }

    deinit {
        upstage_client_free(handle)
    }

    private static func configure(_ b: OpaquePointer, _ o: Options) throws {
        if let key = o.apiKey {
            try check(upstage_client_builder_set_api_key(b, try cSafe(key, "API key")), "invalid API key")
        }
        if let url = o.baseURL {
            try check(upstage_client_builder_set_base_url(b, try cSafe(url, "base URL")), "invalid base URL")
        }
        if o.webDemo {
            try check(upstage_client_builder_set_web_demo(b, true), "cannot select the web demo")
        }
        switch o.proxy {
        case .environment:
            break
        case .none:
            try check(upstage_client_builder_set_proxy(b, nil), "cannot disable the proxy")
        case .url(let url):
            try check(upstage_client_builder_set_proxy(b, try cSafe(url, "proxy URL")), "invalid proxy URL")
        }
        let timeouts: [(Int32, Double?, String)] = [
            (UPSTAGE_TIMEOUT_CONNECT, o.connectTimeout, "connect timeout"),
            (UPSTAGE_TIMEOUT_HEADERS, o.headersTimeout, "headers timeout"),
            (UPSTAGE_TIMEOUT_IDLE, o.idleTimeout, "idle timeout"),
            (UPSTAGE_TIMEOUT_TOTAL, o.totalTimeout, "total timeout"),
        ]
        for (which, seconds, name) in timeouts {
            guard let seconds = seconds else { continue }
            let ms = try timeoutMilliseconds(seconds, name)
            try check(upstage_client_builder_set_timeout_ms(b, which, ms), "invalid \(name)")
        }
        if let retries = o.maxRetries {
            guard let n = UInt32(exactly: retries) else {
                throw UpstageError(.invalidArgument, "maxRetries out of range")
            }
            try check(upstage_client_builder_set_max_retries(b, n), "invalid maxRetries")
        }
        if let model = o.defaultModel {
            try check(upstage_client_builder_set_default_model(b, try cSafe(model, "default model")),
                      "invalid default model")
        }
        if let path = o.caFile {
            try check(upstage_client_builder_set_ca_file(b, try cSafe(path, "CA file")), "invalid CA file")
        }
        if let idle = o.maxIdleConnections {
            guard idle >= 0 else {
                throw UpstageError(.invalidArgument, "maxIdleConnections must not be negative")
            }
            try check(upstage_client_builder_set_max_idle_connections(b, idle), "invalid maxIdleConnections")
        }
        if !o.connectionReuse {
            try check(upstage_client_builder_set_connection_reuse(b, 0), "cannot turn connection reuse off")
        }
        if let seconds = o.poolIdleTimeout {
            guard seconds > 0, seconds.isFinite else {
                throw UpstageError(.invalidArgument, "poolIdleTimeout must be positive and finite")
            }
            let ms = UInt64(max(1, (seconds * 1000).rounded(.up)))
            try check(upstage_client_builder_set_pool_idle_timeout_ms(b, ms), "invalid poolIdleTimeout")
        }
        for (name, value) in o.headers.sorted(by: { $0.key < $1.key }) {
            let n = try cSafe(name, "header name")
            let v = try cSafe(value, "header value")
            try check(upstage_client_builder_add_header(b, n, v), "invalid header \(name)")
        }
        for (name, value) in o.query.sorted(by: { $0.key < $1.key }) {
            let n = try cSafe(name, "query parameter name")
            let v = try cSafe(value, "query parameter value")
            try check(upstage_client_builder_add_query(b, n, v), "invalid query parameter \(name)")
        }
        if o.debugLog {
            try check(upstage_client_builder_set_debug_log(b, true), "cannot turn the debug log on")
        }
    }

    /// Sends `request` and returns once the response headers are in; read the answer with
    /// `next()` or `for token in stream`. `cancel` (any thread) stops the opening and then the
    /// stream.
    public func stream(_ request: Request, cancel: CancelToken? = nil) throws -> TokenStream {
        let req = try request.build()
        defer { upstage_request_free(req) }
        var out: OpaquePointer?
        var err = upstage_error()
        let token = cancel ?? CancelToken()
        guard let options = upstage_stream_options_new() else {
            throw UpstageError(.panic, "upstage_stream_options_new failed")
        }
        defer { upstage_stream_options_free(options) }
        try check(upstage_stream_options_set_cancel(options, token.handle), "cannot set the cancel token")
        var details: OpaquePointer?
        let rc = upstage_stream_open_with(handle, req, options, &out, &err, &details)
        guard rc == UPSTAGE_OK else {
            throw UpstageError(status: rc, error: err, details: details)
        }
        guard let stream = out else {
            throw UpstageError(.panic, "upstage_stream_open returned no stream")
        }
        return TokenStream(handle: stream, cancel: token)
    }

    /// Sends `request` without streaming (`"stream": false`) and returns the whole answer.
    public func complete(_ request: Request) throws -> Completion {
        let req = try request.build()
        defer { upstage_request_free(req) }
        var out: OpaquePointer?
        var err = upstage_error()
        var details: OpaquePointer?
        let rc = upstage_chat_complete_with(handle, req, nil, &out, &err, &details)
        guard rc == UPSTAGE_OK else {
            throw UpstageError(status: rc, error: err, details: details)
        }
        guard let completion = out else {
            throw UpstageError(.panic, "upstage_chat_complete returned no completion")
        }
        defer { upstage_completion_free(completion) }
        return Completion(completion)
    }
}

/// Cancels a stream from any thread: before it is open (connecting, retrying, waiting for the
/// headers) and while it is read.
public final class CancelToken: @unchecked Sendable {
    /// `upstage_cancel_token *`, thread-safe on the C side.
    let handle: OpaquePointer

    public init() {
        guard let token = upstage_cancel_token_new() else {
            fatalError("upstage_cancel_token_new failed")
        }
        handle = token
    }

    /// Cancels; idempotent, never blocks.
    public func cancel() {
        _ = upstage_cancel_token_cancel(handle)
    }

    deinit {
        upstage_cancel_token_free(handle)
    }
}
