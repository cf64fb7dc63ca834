import CUpstage

/// The rate limits a response reported (`x-ratelimit-*` headers); -1 where the server sent
/// nothing.
public struct RateLimit: Equatable, Sendable {
    public var limitRequests: Int64
    public var remainingRequests: Int64
    /// Milliseconds until the request budget is full again.
    public var resetRequestsMs: Int64
    public var limitTokens: Int64
    public var remainingTokens: Int64
    /// Milliseconds until the token budget is full again.
    public var resetTokensMs: Int64

    init(_ l: upstage_rate_limit) {
        limitRequests = l.limit_requests
        remainingRequests = l.remaining_requests
        resetRequestsMs = l.reset_requests_ms
        limitTokens = l.limit_tokens
        remainingTokens = l.remaining_tokens
        resetTokensMs = l.reset_tokens_ms
    }
}

/// Milestones of a request in milliseconds from when it was handed to the client (retries
/// included), -1 when not reached; and what was received.
public struct Timings: Equatable, Sendable {
    public var headersMs: Double
    public var firstReasoningMs: Double
    public var firstContentMs: Double
    public var endMs: Double
    /// Chunks that carried content (about one model token each).
    public var contentTokens: UInt64
    /// Chunks that carried reasoning.
    public var reasoningTokens: UInt64
    /// Body bytes received.
    public var bytes: UInt64

    init(_ t: upstage_timings) {
        headersMs = t.headers_ms
        firstReasoningMs = t.first_reasoning_ms
        firstContentMs = t.first_content_ms
        endMs = t.end_ms
        contentTokens = t.content_tokens
        reasoningTokens = t.reasoning_tokens
        bytes = t.bytes
    }

    /// Nothing reached yet.
    static let unknown = Timings(upstage_timings(
        headers_ms: -1, first_reasoning_ms: -1, first_content_ms: -1, end_ms: -1,
        content_tokens: 0, reasoning_tokens: 0, bytes: 0))
}

/// The headers of a response, in the server's order (names lower-case).
public struct ResponseHeaders: Equatable, Sendable {
    public var fields: [(name: String, value: String)] { zip(names, values).map { (name: $0, value: $1) } }
    private var names: [String] = []
    private var values: [String] = []
    /// What the `x-ratelimit-*` headers said, if anything.
    public private(set) var rateLimit: RateLimit?

    /// Copies and frees `h` (nil gives no headers).
    init(taking h: OpaquePointer?) {
        guard let h = h else { return }
        defer { upstage_headers_free(h) }
        for i in 0..<upstage_headers_count(h) {
            names.append(upstage_headers_name_at(h, i).map { String(cString: $0) } ?? "")
            values.append(upstage_headers_value_at(h, i).map { String(cString: $0) } ?? "")
        }
        var limits = upstage_rate_limit()
        if upstage_headers_rate_limit(h, &limits) == UPSTAGE_OK {
            rateLimit = RateLimit(limits)
        }
    }

    /// The first value of header `name` (case-insensitive), or nil.
    public func value(for name: String) -> String? {
        let wanted = name.lowercased()
        return names.firstIndex(of: wanted).map { values[$0] }
    }

    public var isEmpty: Bool { names.isEmpty }
}

/// Everything known about an error beyond its kind and message.
public struct ErrorDetails: Equatable, Sendable {
    /// The response's `x-request-id`.
    public var requestID: String?
    /// The server's error type, code and param.
    public var apiType: String?
    public var apiCode: String?
    public var apiParam: String?
    /// The wait the server asked for in milliseconds, -1 when none.
    public var retryAfterMs: Int64
    /// `UPSTAGE_TIMEOUT_*` for a timeout, else -1.
    public var timeoutPhase: Int32
    /// HTTP attempts made.
    public var attempts: UInt32
    /// The headers of the response behind the error (empty when none was received).
    public var headers: ResponseHeaders

    /// Copies and frees `d`.
    init(taking d: OpaquePointer) {
        defer { upstage_error_details_free(d) }
        requestID = upstage_error_details_request_id(d).map { String(cString: $0) }
        apiType = upstage_error_details_api_type(d).map { String(cString: $0) }
        apiCode = upstage_error_details_api_code(d).map { String(cString: $0) }
        apiParam = upstage_error_details_api_param(d).map { String(cString: $0) }
        retryAfterMs = upstage_error_details_retry_after_ms(d)
        timeoutPhase = upstage_error_details_timeout_phase(d)
        attempts = upstage_error_details_attempts(d)
        headers = ResponseHeaders(taking: upstage_error_details_headers(d))
    }
}

extension UpstageError {
    /// The error a C call reported, with the details the call handed out (freed here).
    init(status: upstage_status, error: upstage_error, details: OpaquePointer?) {
        self.init(status: status, error: error)
        self.details = details.map { ErrorDetails(taking: $0) }
    }
}

extension Client {
    /// A stream over a recording (`--record`, `recordPath`, or `curl -i` output) instead of
    /// the network, decoded as this client would decode a live answer. A recorded HTTP error
    /// is thrown as that error.
    public func replay(_ path: String) throws -> TokenStream {
        var out: OpaquePointer?
        var err = upstage_error()
        var details: OpaquePointer?
        let file = try cSafe(path, "recording path")
        let rc = upstage_stream_replay(handle, file, &out, &err, &details)
        guard rc == UPSTAGE_OK else {
            throw UpstageError(status: rc, error: err, details: details)
        }
        guard let stream = out else {
            throw UpstageError(.panic, "upstage_stream_replay returned no stream")
        }
        return TokenStream(handle: stream, cancel: CancelToken())
    }
}
