import CUpstage
import Foundation

/// One chat message.
public struct Message: Codable, Equatable, Sendable {
    /// "system", "user", "assistant", "tool", or any role the server accepts.
    public var role: String
    /// The message text.
    public var content: String
    /// The tool call a `"tool"` message answers (see `Message.tool(id:content:)`).
    public var toolCallID: String?
    /// The calls of an `"assistant"` message that asked for tools (see
    /// `Completion.message()`); its content may then be empty.
    public var toolCalls: [Completion.ToolCall] = []
    /// Sent back as `reasoning_content` when set (see `Choice.messageWithReasoning()`).
    public var reasoning: String? = nil

    enum CodingKeys: String, CodingKey {
        case role, content
        case toolCallID = "tool_call_id"
    }

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> Message { Message(role: "system", content: content) }
    public static func user(_ content: String) -> Message { Message(role: "user", content: content) }
    public static func assistant(_ content: String) -> Message { Message(role: "assistant", content: content) }
}

/// One chat request.
public struct Request: Sendable {
    /// Sent as given; nil: the flavor's default.
    public var model: String?
    /// The conversation, oldest first; must not be empty.
    public var messages: [Message]
    /// Extra body fields as JSON texts: `["temperature": "0.2", "stop": "[\"\\n\"]"]`. See
    /// `setParam(_:_:)` to encode a value.
    public var params: [String: String]
    /// Headers sent with this request only; they replace the client's of the same name.
    public var headers: [String: String] = [:]
    /// Query parameters added to this request's URL, after the client's.
    public var query: [String: String] = [:]
    /// Timeouts in seconds for this request only; nil: the client's. `.infinity`: no limit.
    public var connectTimeout: Double?
    public var headersTimeout: Double?
    public var idleTimeout: Double?
    public var totalTimeout: Double?
    /// Retries for this request only; nil: the client's.
    public var maxRetries: Int?

    public init(model: String? = nil, messages: [Message], params: [String: String] = [:]) {
        self.model = model
        self.messages = messages
        self.params = params
    }

    /// Sets a body field to `value` encoded as JSON (`0.2`, `64`, `["\n"]`, a struct, ...).
    public mutating func setParam<T: Encodable>(_ name: String, _ value: T) throws {
        let data = try JSONEncoder().encode(value)
        params[name] = String(decoding: data, as: UTF8.self)
    }

    /// The C request; the caller frees it with `upstage_request_free`.
    func build() throws -> OpaquePointer {
        let created: OpaquePointer?
        if let model = model {
            created = upstage_request_new(try cSafe(model, "model"))
        } else {
            created = upstage_request_new(nil)
        }
        guard let req = created else {
            throw UpstageError(.invalidArgument, "invalid model name")
        }
        do {
            for m in messages {
                if m.needsJSON {
                    try check(
                        upstage_request_add_message_json(req, try cSafe(m.jsonText(), "message")),
                        "invalid message")
                    continue
                }
                try check(
                    upstage_request_add_message(req, try cSafe(m.role, "role"), try cSafe(m.content, "content")),
                    "invalid message")
            }
            for (name, json) in params.sorted(by: { $0.key < $1.key }) {
                try check(
                    upstage_request_set_param(req, try cSafe(name, "parameter name"), try cSafe(json, "parameter")),
                    "invalid parameter \(name)")
            }
            for (name, value) in headers.sorted(by: { $0.key < $1.key }) {
                let n = try cSafe(name, "header name")
                let v = try cSafe(value, "header value")
                try check(upstage_request_add_header(req, n, v), "invalid header \(name)")
            }
            for (name, value) in query.sorted(by: { $0.key < $1.key }) {
                let n = try cSafe(name, "query parameter name")
                let v = try cSafe(value, "query parameter value")
                try check(upstage_request_add_query(req, n, v), "invalid query parameter \(name)")
            }
            let timeouts: [(Int32, Double?, String)] = [
                (UPSTAGE_TIMEOUT_CONNECT, connectTimeout, "connect timeout"),
                (UPSTAGE_TIMEOUT_HEADERS, headersTimeout, "headers timeout"),
                (UPSTAGE_TIMEOUT_IDLE, idleTimeout, "idle timeout"),
                (UPSTAGE_TIMEOUT_TOTAL, totalTimeout, "total timeout"),
            ]
            for (which, seconds, name) in timeouts {
                guard let seconds = seconds else { continue }
                try check(upstage_request_set_timeout_ms(req, which, try timeoutMilliseconds(seconds, name)),
                          "invalid \(name)")
            }
            if let retries = maxRetries {
                guard let n = UInt32(exactly: retries) else {
                    throw UpstageError(.invalidArgument, "maxRetries out of range")
                }
                try check(upstage_request_set_max_retries(req, n), "invalid maxRetries")
            }
        } catch {
            upstage_request_free(req)
            throw error
        }
        return req
    }
}

/// Seconds as the C API's milliseconds: 0 means no limit (`.infinity`), anything else is
/// rounded up to at least 1 ms; zero, negative and NaN are refused.
func timeoutMilliseconds(_ seconds: Double, _ name: String) throws -> UInt64 {
    guard seconds > 0, !seconds.isNaN else {
        throw UpstageError(.invalidArgument, "\(name) must be positive")
    }
    return seconds.isInfinite ? 0 : UInt64(max(1, (seconds * 1000).rounded(.up)))
}
