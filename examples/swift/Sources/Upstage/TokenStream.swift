import CUpstage
import Foundation

/// An open answer, read token by token over the C pull API:
///
/// ```swift
/// while let token = try stream.next() { print(token, terminator: "") }
/// ```
///
/// or as a `Sequence` of `Result`s, whose `get()` throws the typed `UpstageError`:
///
/// ```swift
/// for token in stream { print(try token.get(), terminator: "") }
/// ```
///
/// `next()`, `nextEvent()` and the properties belong to one thread at a time; `cancel()` and
/// `close()` may be called from any thread, even while `next()` is blocked.
public final class TokenStream: @unchecked Sendable {
    /// `upstage_stream *`; nil once closed. Read under `busy`, written under both locks.
    private var handle: OpaquePointer?
    /// Held across every C call that uses `handle` (`upstage_stream_next` blocks in it).
    private let busy = NSLock()
    /// Guards `handle` between `cancel()` (any thread) and `close()`.
    private let handleLock = NSLock()
    /// Keeps the token the stream was opened with alive as long as the stream.
    private let token: CancelToken
    private var ended = false
    private var cachedFinishReason: String?

    /// The error that ended the stream, if one did.
    public private(set) var error: UpstageError?

    init(handle: OpaquePointer, cancel: CancelToken) {
        self.handle = handle
        self.token = cancel
    }

    deinit {
        upstage_stream_free(handle)
    }

    /// The next token of the answer, or nil at its normal end (and after an error or
    /// `close()`). Blocks until the token arrives. Reasoning, tool calls and the other events
    /// are skipped; see `nextEvent()`.
    public func next() throws -> String? {
        busy.lock()
        defer { busy.unlock() }
        guard let s = handle, !ended else { return nil }
        var text: UnsafePointer<CChar>?
        var len = 0
        var err = upstage_error()
        let rc = upstage_stream_next(s, &text, &len, &err)
        if rc == UPSTAGE_OK, let text = text {
            // Borrowed until the next call: copy it.
            return String(decoding: UnsafeRawBufferPointer(start: text, count: len), as: UTF8.self)
        }
        return try end(rc, err)
    }

    /// The next event of any kind, or nil at the normal end. May be mixed with `next()`.
    public func nextEvent() throws -> Event? {
        busy.lock()
        defer { busy.unlock() }
        guard let s = handle, !ended else { return nil }
        var ev = upstage_event()
        var err = upstage_error()
        let rc = upstage_stream_next_event(s, &ev, &err)
        guard rc == UPSTAGE_OK else { return try end(rc, err) }
        let text = ev.text.map {
            String(decoding: UnsafeRawBufferPointer(start: $0, count: ev.len), as: UTF8.self)
        } ?? ""
        switch ev.kind {
        case UPSTAGE_EVENT_REASONING:
            return .reasoning(text)
        case UPSTAGE_EVENT_TOOL_CALL:
            return .toolCall(
                index: Int(ev.tool_index),
                id: ev.tool_id.map { String(cString: $0) },
                name: ev.tool_name.map { String(cString: $0) },
                arguments: text)
        case UPSTAGE_EVENT_REFUSAL:
            return .refusal(text)
        case UPSTAGE_EVENT_FINISH:
            return .finish(text)
        case UPSTAGE_EVENT_USAGE:
            return .usage(Usage(ev.usage))
        default:
            return .content(text)
        }
    }

    /// Records how the stream ended; throws the error, if any. The caller holds `busy`.
    private func end<T>(_ rc: upstage_status, _ err: upstage_error) throws -> T? {
        ended = true
        readFinishReason()
        if rc == UPSTAGE_DONE {
            return nil
        }
        let details = handle.flatMap { upstage_stream_error_details($0) }
        let e = UpstageError(status: rc, error: err, details: details)
        error = e
        throw e
    }

    /// The caller holds `busy`.
    private func readFinishReason() {
        if cachedFinishReason == nil, let s = handle, let reason = upstage_stream_finish_reason(s) {
            cachedFinishReason = String(cString: reason)
        }
    }

    /// Why generation stopped ("stop", "length", "tool_calls", ...), or nil until known.
    public var finishReason: String? {
        busy.lock()
        defer { busy.unlock() }
        readFinishReason()
        return cachedFinishReason
    }

    /// The model that answers, as the server named it, or nil until known.
    public var model: String? {
        busy.lock()
        defer { busy.unlock() }
        return handle.flatMap { upstage_stream_model($0) }.map { String(cString: $0) }
    }

    /// The response's `x-request-id`, or nil.
    public var requestID: String? {
        busy.lock()
        defer { busy.unlock() }
        return handle.flatMap { upstage_stream_request_id($0) }.map { String(cString: $0) }
    }

    /// Token usage once the server reported it (ask with the parameter `stream_options`
    /// `{"include_usage": true}`).
    public var usage: Usage? {
        busy.lock()
        defer { busy.unlock() }
        guard let s = handle else { return nil }
        var u = upstage_usage()
        return upstage_stream_usage(s, &u) == UPSTAGE_OK ? Usage(u) : nil
    }

    /// The response headers (empty after `close()`).
    public var headers: ResponseHeaders {
        busy.lock()
        defer { busy.unlock() }
        return ResponseHeaders(taking: handle.flatMap { upstage_stream_headers($0) })
    }

    /// What the response's `x-ratelimit-*` headers said, if anything.
    public var rateLimit: RateLimit? { headers.rateLimit }

    /// The milestones so far (all of them once the stream ended).
    public var timings: Timings {
        busy.lock()
        defer { busy.unlock() }
        var t = upstage_timings()
        guard let s = handle, upstage_stream_timings(s, &t) == UPSTAGE_OK else { return .unknown }
        return Timings(t)
    }

    /// Reads the rest of the answer.
    public func readAll() throws -> String {
        var text = ""
        while let token = try next() {
            text += token
        }
        return text
    }

    /// Interrupts the stream from any thread: a blocked `next()` throws `.cancelled` at once.
    public func cancel() {
        handleLock.lock()
        defer { handleLock.unlock() }
        if let s = handle {
            _ = upstage_stream_cancel(s)
        }
    }

    /// Cancels the stream if it is still running, closes the connection and frees it.
    /// Idempotent; safe from any thread. `finishReason` stays available.
    public func close() {
        cancel()
        busy.lock()
        defer { busy.unlock() }
        readFinishReason()
        ended = true
        handleLock.lock()
        upstage_stream_free(handle)
        handle = nil
        handleLock.unlock()
    }
}

extension TokenStream: Sequence {
    /// Yields each token as `.success`, then an error as one `.failure`, then ends.
    public struct Iterator: IteratorProtocol {
        let stream: TokenStream

        public mutating func next() -> Result<String, UpstageError>? {
            do {
                return try stream.next().map { .success($0) }
            } catch let error as UpstageError {
                return .failure(error)
            } catch {
                return .failure(UpstageError(.panic, String(describing: error)))
            }
        }
    }

    public func makeIterator() -> Iterator {
        Iterator(stream: self)
    }
}

/// One thing a stream reported, in the order the server sent it.
public enum Event: Equatable, Sendable {
    /// Answer text.
    case content(String)
    /// Reasoning text (`delta.reasoning` or `delta.reasoning_content`).
    case reasoning(String)
    /// A tool-call fragment; fragments with the same index form one call. `id` and `name`
    /// usually come only with the first.
    case toolCall(index: Int, id: String?, name: String?, arguments: String)
    /// Refusal text.
    case refusal(String)
    /// Why generation stopped.
    case finish(String)
    /// Token usage.
    case usage(Usage)
}

/// Token counts reported by the server.
public struct Usage: Equatable, Sendable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    /// nil when the server did not say.
    public var reasoningTokens: Int?
    public var cachedTokens: Int?

    public init(promptTokens: Int, completionTokens: Int, totalTokens: Int,
                reasoningTokens: Int? = nil, cachedTokens: Int? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = totalTokens
        self.reasoningTokens = reasoningTokens
        self.cachedTokens = cachedTokens
    }

    init(_ u: upstage_usage) {
        func clamp(_ v: UInt64) -> Int { Int(clamping: v) }
        self.init(
            promptTokens: clamp(u.prompt_tokens),
            completionTokens: clamp(u.completion_tokens),
            totalTokens: clamp(u.total_tokens),
            reasoningTokens: u.reasoning_tokens < 0 ? nil : Int(clamping: u.reasoning_tokens),
            cachedTokens: u.cached_tokens < 0 ? nil : Int(clamping: u.cached_tokens))
    }
}

/// A whole answer, from `Client.complete(_:)`.
public struct Completion: Equatable, Sendable {
    /// A tool call, its arguments assembled from every fragment.
    public struct ToolCall: Equatable, Sendable {
        public var id: String
        public var name: String
        /// JSON text.
        public var arguments: String
    }

    public var content: String
    public var reasoning: String
    public var refusal: String
    public var finishReason: String?
    public var model: String?
    public var id: String?
    public var requestID: String?
    public var usage: Usage?
    public var toolCalls: [ToolCall]
    /// The response headers, and how long the answer took.
    public var headers: ResponseHeaders
    public var timings: Timings

    /// Copies everything out of an `upstage_completion *`.
    init(_ c: OpaquePointer) {
        func text(_ get: (OpaquePointer, UnsafeMutablePointer<Int>) -> UnsafePointer<CChar>?) -> String {
            var len = 0
            guard let p = get(c, &len) else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
        }
        func string(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0) } }

        content = text { upstage_completion_content($0, $1) }
        reasoning = text { upstage_completion_reasoning($0, $1) }
        refusal = text { upstage_completion_refusal($0, $1) }
        finishReason = string(upstage_completion_finish_reason(c))
        model = string(upstage_completion_model(c))
        id = string(upstage_completion_id(c))
        requestID = string(upstage_completion_request_id(c))
        var u = upstage_usage()
        usage = upstage_completion_usage(c, &u) == UPSTAGE_OK ? Usage(u) : nil
        headers = ResponseHeaders(taking: upstage_completion_headers(c))
        var t = upstage_timings()
        timings = upstage_completion_timings(c, &t) == UPSTAGE_OK ? Timings(t) : .unknown
        toolCalls = (0..<upstage_completion_tool_call_count(c)).map { i in
            ToolCall(
                id: string(upstage_completion_tool_call_id(c, i)) ?? "",
                name: string(upstage_completion_tool_call_name(c, i)) ?? "",
                arguments: text { upstage_completion_tool_call_arguments($0, i, $1) })
        }
    }
}
