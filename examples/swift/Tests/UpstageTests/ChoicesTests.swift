import Foundation
import XCTest

@testable import Upstage

/// Counts the requests a test server answered (its handler runs on other threads).
private final class Turns: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        count += 1
        return count
    }
}

/// Choices, log probabilities, snapshots and the tool loop, against TestServer.
/// `@unchecked Sendable` as `UpstageTests`: its only state is constant.
final class ChoicesTests: XCTestCase, @unchecked Sendable {
    private func serve(_ handler: @escaping @Sendable (TestServer.Connection) -> Void) -> TestServer {
        let server = TestServer(handler)
        addTeardownBlock { server.stop() }
        return server
    }

    private func makeClient(_ server: TestServer) throws -> Client {
        var options = Options()
        options.baseURL = server.base
        options.proxy = Options.Proxy.none
        options.maxRetries = 0
        return try Client(options)
    }

    /// Two interleaved answers with log probabilities, as Azure OpenAI streams "n": 2.
    private static func twoChoices(_ conn: TestServer.Connection) {
        conn.startSSE()
        func chunk(_ index: Int, _ delta: String, _ token: String?, _ finish: String?) {
            let logprobs = token.map {
                #","logprobs":{"content":[{"token":"\#($0)","logprob":-0.5,"bytes":[\#(Array($0.utf8).map(String.init).joined(separator: ","))],"top_logprobs":[]}]}"#
            } ?? ""
            let reason = finish.map { "\"\($0)\"" } ?? "null"
            conn.data(#"{"choices":[{"index":\#(index),"delta":\#(delta)\#(logprobs),"finish_reason":\#(reason)}]}"#)
        }
        chunk(0, #"{"content":"V"}"#, "V", nil)
        chunk(1, #"{"content":"Tur"}"#, "Tur", nil)
        chunk(0, #"{"content":"iolet"}"#, "iolet", nil)
        chunk(1, #"{"content":"quoise"}"#, "quoise", nil)
        chunk(0, "{}", nil, "stop")
        chunk(1, "{}", nil, "length")
        conn.done()
    }

    func testTokensAreChoiceZerosAndTheSnapshotHasEveryChoice() throws {
        let server = serve { Self.twoChoices($0) }
        let stream = try makeClient(server).stream(Request(messages: [.user("a color?")]))
        XCTAssertEqual(try stream.readAll(), "Violet")
        let snapshot = try stream.snapshot()
        XCTAssertEqual(snapshot.choices.map(\.content), ["Violet", "Turquoise"])
        XCTAssertEqual(snapshot.choices.map(\.finishReason), ["stop", "length"])
        XCTAssertEqual(snapshot.choices[1].logprobs?.content.map(\.token), ["Tur", "quoise"])
        XCTAssertEqual(snapshot.choices[1].logprobs?.content.first?.bytes, Array("Tur".utf8))
        XCTAssertEqual(snapshot.logprobs?.content.first?.logprob, -0.5)
    }

    func testChoiceEventsCarryTheirChoice() throws {
        let server = serve { Self.twoChoices($0) }
        let stream = try makeClient(server).stream(Request(messages: [.user("a color?")]))
        var texts: [Int: String] = [:]
        var logprobEvents = 0
        while let (choice, event) = try stream.nextChoiceEvent() {
            switch event {
            case .content(let text): texts[choice, default: ""] += text
            case .logprobs(let lp):
                logprobEvents += 1
                XCTAssertEqual(lp.content.count, 1)
            default: break
            }
        }
        XCTAssertEqual(texts, [0: "Violet", 1: "Turquoise"])
        XCTAssertEqual(logprobEvents, 4)
    }

    func testAFailedStreamStillGivesWhatArrived() throws {
        let server = serve { conn in
            conn.startSSE()
            conn.token("Partial")
            conn.data(#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"lookup","arguments":"{\"q\":"}}]}}]}"#)
            conn.data(#"{"error":{"message":"Provider disconnected","code":502}}"#)
        }
        let stream = try makeClient(server).stream(Request(messages: [.user("?")]))
        XCTAssertThrowsError(try stream.readAll())
        let partial = try stream.snapshot()
        XCTAssertEqual(partial.content, "Partial")
        XCTAssertEqual(partial.toolCalls.first?.arguments, #"{"q":"#)
        XCTAssertEqual(partial.toolCalls.first?.argumentsValid, false)
    }

    /// A two-step tool loop: the model asks for a tool, the result goes back, it answers.
    func testToolLoop() throws {
        let turns = Turns()
        let server = serve { conn in
            let first = turns.next() == 1
            conn.startSSE()
            if first {
                conn.data(#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Seoul\"}"}}]}}]}"#)
                conn.finish("tool_calls")
            } else {
                conn.token("Clear skies.")
                conn.finish("stop")
            }
            conn.done()
        }
        let client = try makeClient(server)
        var request = Request(messages: [.user("Weather in Seoul?")])
        let first = try client.complete(request)
        XCTAssertEqual(first.toolCalls.map(\.name), ["get_weather"])
        XCTAssertEqual(first.toolCalls.first?.argumentsValid, true)
        request.messages.append(first.message())
        for call in first.toolCalls {
            request.messages.append(.tool(id: call.id, content: #"{"sky":"clear"}"#))
        }
        let second = try client.complete(request)
        XCTAssertEqual(second.content, "Clear skies.")

        let sent = server.requests[1].json["messages"] as? [[String: Any]] ?? []
        XCTAssertEqual(sent.count, 3)
        XCTAssertEqual(sent[1]["role"] as? String, "assistant")
        XCTAssertTrue(sent[1]["content"] is NSNull)
        let calls = sent[1]["tool_calls"] as? [[String: Any]] ?? []
        XCTAssertEqual(calls.first?["id"] as? String, "call_1")
        let function = calls.first?["function"] as? [String: Any]
        XCTAssertEqual(function?["name"] as? String, "get_weather")
        XCTAssertEqual(function?["arguments"] as? String, #"{"city":"Seoul"}"#)
        XCTAssertEqual(sent[2]["role"] as? String, "tool")
        XCTAssertEqual(sent[2]["tool_call_id"] as? String, "call_1")
        XCTAssertEqual(sent[2]["content"] as? String, #"{"sky":"clear"}"#)
    }
}
