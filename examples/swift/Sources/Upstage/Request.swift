import CUpstage
import Foundation

/// One chat message.
public struct Message: Codable, Equatable, Sendable {
    /// "system", "user", "assistant", "tool", or any role the server accepts.
    public var role: String
    /// The message text.
    public var content: String

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
        } catch {
            upstage_request_free(req)
            throw error
        }
        return req
    }
}
