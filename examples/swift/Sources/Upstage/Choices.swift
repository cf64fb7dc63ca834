import CUpstage
import Foundation

/// One answer of a request. Ask for several with the `n` parameter (`params["n"] = "2"`);
/// `Completion.choices` holds them all, ordered by index, and the completion's own
/// properties repeat choice 0.
public struct Choice: Equatable, Sendable {
    /// The answer's number, 0 to n-1.
    public var index: Int
    public var content: String
    public var reasoning: String
    public var refusal: String
    /// Why this answer stopped; nil when the server did not say.
    public var finishReason: String?
    /// The tools the model asked to call, in order.
    public var toolCalls: [Completion.ToolCall]
    /// nil unless asked for (`params["logprobs"] = "true"`) and sent.
    public var logprobs: Logprobs?

    /// The answer as the assistant message that continues the conversation: its content and
    /// tool calls. Append it to the request's messages, then one `Message.tool` per call.
    /// The reasoning is left out, as most servers want it; see `messageWithReasoning()`.
    public func message() -> Message {
        var m = Message(role: "assistant", content: content)
        m.toolCalls = toolCalls
        return m
    }

    /// `message()` plus the reasoning, sent as `reasoning_content`, for servers that want
    /// it back.
    public func messageWithReasoning() -> Message {
        var m = message()
        m.reasoning = reasoning.isEmpty ? nil : reasoning
        return m
    }
}

/// The log probabilities of a choice's tokens (or of one chunk's).
public struct Logprobs: Equatable, Sendable {
    /// One entry per content token.
    public var content: [TokenLogprob]
    /// One entry per refusal token.
    public var refusal: [TokenLogprob]
}

/// One token and its natural-log probability.
public struct TokenLogprob: Equatable, Sendable {
    public var token: String
    public var logprob: Double
    /// The token's UTF-8 bytes; nil when the server did not send them.
    public var bytes: [UInt8]?
    /// The most likely tokens at this position (`params["top_logprobs"]`).
    public var topLogprobs: [TokenLogprob]
}

extension Message {
    /// A `"tool"` message: the result `content` of the tool call `id`.
    public static func tool(id: String, content: String) -> Message {
        var m = Message(role: "tool", content: content)
        m.toolCallID = id
        return m
    }

    /// Whether the message has more than a role and a text.
    var needsJSON: Bool {
        toolCallID != nil || !toolCalls.isEmpty || reasoning != nil
    }

    /// The message as the chat API wants it.
    func jsonText() throws -> String {
        var object: [String: Any] = ["role": role, "content": content]
        if !toolCalls.isEmpty {
            if content.isEmpty {
                object["content"] = NSNull()
            }
            object["tool_calls"] = toolCalls.map { call -> [String: Any] in
                [
                    "id": call.id,
                    "type": "function",
                    "function": ["name": call.name, "arguments": call.arguments],
                ]
            }
        }
        if let id = toolCallID {
            object["tool_call_id"] = id
        }
        if let reasoning = reasoning {
            object["reasoning_content"] = reasoning
        }
        let data = try JSONSerialization.data(withJSONObject: object)
        return String(decoding: data, as: UTF8.self)
    }
}

extension Completion {
    /// The answer (choice 0) as the assistant message that continues the conversation.
    public func message() -> Message {
        if let first = choices.first {
            return first.message()
        }
        var m = Message(role: "assistant", content: content)
        m.toolCalls = toolCalls
        return m
    }
}

/// Reads both token lists through the given accessors; nil when both are empty.
func readLogprobs(
    count: (upstage_logprobs_kind) -> Int,
    entry: (upstage_logprobs_kind, Int, UnsafeMutablePointer<upstage_logprob>) -> upstage_status,
    top: (upstage_logprobs_kind, Int, Int, UnsafeMutablePointer<upstage_logprob>) -> upstage_status
) -> Logprobs? {
    func token(_ lp: upstage_logprob) -> TokenLogprob {
        let text = String(
            decoding: UnsafeRawBufferPointer(start: lp.token, count: lp.token_len), as: UTF8.self)
        var bytes: [UInt8]?
        if lp.has_bytes != 0 {
            bytes = lp.bytes.map { Array(UnsafeBufferPointer(start: $0, count: lp.bytes_len)) } ?? []
        }
        return TokenLogprob(token: text, logprob: lp.logprob, bytes: bytes, topLogprobs: [])
    }
    func list(_ which: upstage_logprobs_kind) -> [TokenLogprob] {
        (0..<count(which)).compactMap { i in
            var lp = upstage_logprob()
            guard entry(which, i, &lp) == UPSTAGE_OK else { return nil }
            var t = token(lp)
            t.topLogprobs = (0..<lp.top_count).compactMap { j in
                var alt = upstage_logprob()
                return top(which, i, j, &alt) == UPSTAGE_OK ? token(alt) : nil
            }
            return t
        }
    }
    let content = list(UPSTAGE_LOGPROBS_CONTENT)
    let refusal = list(UPSTAGE_LOGPROBS_REFUSAL)
    return content.isEmpty && refusal.isEmpty ? nil : Logprobs(content: content, refusal: refusal)
}

/// Every choice of an `upstage_completion *`.
func readChoices(_ c: OpaquePointer) -> [Choice] {
    (0..<upstage_completion_choice_count(c)).map { i in
        func text(_ get: (UnsafeMutablePointer<Int>) -> UnsafePointer<CChar>?) -> String {
            var len = 0
            guard let p = get(&len) else { return "" }
            return String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
        }
        let calls: [Completion.ToolCall] = (0..<upstage_completion_choice_tool_call_count(c, i)).compactMap { k in
            var t = upstage_tool_call()
            guard upstage_completion_tool_call(c, i, k, &t) == UPSTAGE_OK else { return nil }
            return Completion.ToolCall(
                id: t.id.map { String(cString: $0) } ?? "",
                name: t.name.map { String(cString: $0) } ?? "",
                arguments: String(
                    decoding: UnsafeRawBufferPointer(start: t.arguments, count: t.arguments_len),
                    as: UTF8.self),
                argumentsValid: t.arguments_are_json != 0)
        }
        return Choice(
            index: Int(upstage_completion_choice_index(c, i)),
            content: text { upstage_completion_choice_content(c, i, $0) },
            reasoning: text { upstage_completion_choice_reasoning(c, i, $0) },
            refusal: text { upstage_completion_choice_refusal(c, i, $0) },
            finishReason: upstage_completion_choice_finish_reason(c, i).map { String(cString: $0) },
            toolCalls: calls,
            logprobs: readLogprobs(
                count: { upstage_completion_logprob_count(c, i, $0) },
                entry: { upstage_completion_logprob(c, i, $0, $1, $2) },
                top: { upstage_completion_top_logprob(c, i, $0, $1, $2, $3) }))
    }
}

extension TokenStream {
    /// What the stream has assembled so far: every choice's text (including the tokens
    /// `next()` returned), tool calls, finish reasons, log probabilities and the usage.
    /// After `next()` threw, it is what arrived before the failure.
    public func snapshot() throws -> Completion {
        try withHandle { s in
            var out: OpaquePointer?
            var err = upstage_error()
            try check(upstage_stream_snapshot(s, &out, &err), err)
            guard let completion = out else {
                throw UpstageError(.panic, "upstage_stream_snapshot returned no completion")
            }
            defer { upstage_completion_free(completion) }
            return Completion(completion)
        }
    }
}
