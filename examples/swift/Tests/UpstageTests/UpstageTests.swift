import Foundation
import XCTest

@testable import Upstage

/// The same cases as the Go suite (examples/go/upstage_test.go), against TestServer.
///
/// `@unchecked Sendable`: XCTest on Linux runs async tests through closures that capture the
/// test case, which Swift 6 requires to be Sendable; its only stored property is a constant.
final class UpstageTests: XCTestCase, @unchecked Sendable {
    /// Starts a server that lives until the end of the test.
    private func serve(_ handler: @escaping @Sendable (TestServer.Connection) -> Void) -> TestServer {
        let server = TestServer(handler)
        addTeardownBlock { server.stop() }
        return server
    }

    private func makeClient(_ server: TestServer, _ options: Options = Options()) throws -> Client {
        var options = options
        options.baseURL = server.base
        options.proxy = Options.Proxy.none
        if options.maxRetries == nil {
            options.maxRetries = 0
        }
        return try Client(options)
    }

    private let hello = Request(model: "solar-test", messages: [.user("hello")])

    private func assertKind(
        _ kind: UpstageError.Kind, file: StaticString = #filePath, line: UInt = #line,
        _ body: () throws -> Void
    ) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual((error as? UpstageError)?.kind, kind, "\(error)", file: file, line: line)
        }
    }

    func testStreamUTF8AndRequestBody() throws {
        let server = serve { $0.answer(["Hello", ", ", "세계", " 🌍", "!"]) }
        let client = try makeClient(server, Options(apiKey: "sk-test"))
        var request = Request(model: "solar-test", messages: [.system("Be brief."), .user("Say hello 😀")])
        try request.setParam("temperature", 0.5)
        try request.setParam("max_tokens", 64)
        try request.setParam("stop", ["\n"])
        let stream = try client.stream(request)
        defer { stream.close() }
        var tokens: [String] = []
        while let token = try stream.next() {
            tokens.append(token)
        }
        XCTAssertEqual(tokens, ["Hello", ", ", "세계", " 🌍", "!"])
        XCTAssertEqual(stream.finishReason, "stop")
        XCTAssertEqual(stream.model, "solar-test")
        XCTAssertNil(try stream.next())

        let seen = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(seen.path, "/v1/chat/completions")
        XCTAssertEqual(seen.headers["authorization"], "Bearer sk-test")
        XCTAssertEqual(seen.json["model"] as? String, "solar-test")
        XCTAssertEqual(seen.json["stream"] as? Bool, true)
        XCTAssertEqual(seen.json["temperature"] as? Double, 0.5)
        XCTAssertEqual(seen.json["max_tokens"] as? Int, 64)
        XCTAssertEqual(seen.json["stop"] as? [String], ["\n"])
        let messages = seen.json["messages"] as? [[String: String]]
        XCTAssertEqual(messages?.last?["content"], "Say hello 😀")
    }

    func testSequenceAdapter() throws {
        let server = serve { $0.answer(["a", "b", "c"]) }
        let stream = try makeClient(server).stream(hello)
        var text = ""
        for token in stream {
            text += try token.get()
        }
        XCTAssertEqual(text, "abc")
    }

    func testSequenceEndsWithTheError() throws {
        let server = serve { conn in
            conn.startSSE()
            conn.token("partial")
        }
        let stream = try makeClient(server).stream(hello)
        let results = Array(stream)
        XCTAssertEqual(results.count, 2)
        XCTAssertEqual(try results[0].get(), "partial")
        guard case .failure(let error) = results[1] else {
            return XCTFail("expected a failure, got \(results[1])")
        }
        XCTAssertEqual(error.kind, .truncated)
        XCTAssertEqual(stream.error, error)
    }

    func testHTTPError() throws {
        let server = serve {
            $0.respond(401, "Unauthorized", json: #"{"error":{"message":"Invalid API key"}}"#)
        }
        let client = try makeClient(server, Options(maxRetries: 2))
        XCTAssertThrowsError(try client.stream(hello)) { error in
            guard let e = error as? UpstageError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.kind, .http)
            XCTAssertEqual(e.httpStatus, 401)
            XCTAssertTrue(e.message.contains("Invalid API key"), e.message)
            XCTAssertEqual(e.statusName, "http")
        }
        XCTAssertEqual(server.requests.count, 1, "a 401 must not be retried")
    }

    func testInBandError() throws {
        let server = serve { conn in
            conn.startSSE()
            conn.token("partial")
            conn.data(#"{"error":{"message":"boom","type":"server_error"}}"#)
        }
        let stream = try makeClient(server).stream(hello)
        XCTAssertEqual(try stream.next(), "partial")
        assertKind(.api) { _ = try stream.next() }
        XCTAssertTrue(stream.error?.message.contains("boom") ?? false)
    }

    func testTruncated() throws {
        let server = serve { conn in
            conn.startSSE()
            conn.token("Hel")
            conn.token("lo")
        }
        let stream = try makeClient(server).stream(hello)
        XCTAssertEqual(try stream.next(), "Hel")
        XCTAssertEqual(try stream.next(), "lo")
        assertKind(.truncated) { _ = try stream.next() }
        XCTAssertNil(stream.finishReason)
    }

    func testCancelFromAnotherThreadDuringStall() throws {
        let server = serve { conn in
            conn.startSSE()
            conn.token("first")
            conn.stall()
        }
        let stream = try makeClient(server).stream(hello)
        defer { stream.close() }
        XCTAssertEqual(try stream.next(), "first")
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { stream.cancel() }
        assertKind(.cancelled) { _ = try stream.next() }
    }

    func testCancelTokenWhileWaitingForHeaders() throws {
        let server = serve { $0.stall() }
        let client = try makeClient(server)
        let token = CancelToken()
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { token.cancel() }
        assertKind(.cancelled) { _ = try client.stream(hello, cancel: token) }
    }

    func testCloseFromAnotherThreadDuringNext() throws {
        let server = serve { conn in
            conn.startSSE()
            conn.token("first")
            conn.stall()
        }
        let stream = try makeClient(server).stream(hello)
        XCTAssertEqual(try stream.next(), "first")
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { stream.close() }
        assertKind(.cancelled) { _ = try stream.next() }
        stream.close()
        XCTAssertNil(try stream.next())
    }

    func testIdleTimeout() throws {
        let server = serve { conn in
            conn.startSSE()
            conn.token("first")
            conn.stall()
        }
        let stream = try makeClient(server, Options(idleTimeout: 0.3)).stream(hello)
        XCTAssertEqual(try stream.next(), "first")
        assertKind(.timeout) { _ = try stream.next() }
    }

    func testAsyncTokens() async throws {
        let server = serve { $0.answer(["Hel", "lo", " 🌍"]) }
        let client = try makeClient(server)
        var text = ""
        for try await token in client.tokens(hello) {
            text += token
        }
        XCTAssertEqual(text, "Hello 🌍")
    }

    func testAsyncTokensThrowTypedErrors() async throws {
        let server = serve {
            $0.respond(500, "Internal Server Error", json: #"{"error":{"message":"down"}}"#)
        }
        let client = try makeClient(server)
        do {
            for try await _ in client.tokens(hello) {}
            XCTFail("no error")
        } catch let error as UpstageError {
            XCTAssertEqual(error.kind, .http)
            XCTAssertEqual(error.httpStatus, 500)
        }
    }

    func testBreakingOutOfAsyncTokensCancelsTheRequest() async throws {
        let disconnected = DispatchSemaphore(value: 0)
        let server = serve { conn in
            conn.startSSE()
            conn.token("first")
            conn.stall() // returns when the client closes the connection
            disconnected.signal()
        }
        let client = try makeClient(server)
        for try await token in client.tokens(hello) {
            XCTAssertEqual(token, "first")
            break
        }
        // Poll rather than block the cooperative thread pool.
        var gone = false
        for _ in 0..<100 where !gone {
            gone = disconnected.wait(timeout: .now()) == .success
            if !gone {
                try await Task.sleep(nanoseconds: 100_000_000)
            }
        }
        XCTAssertTrue(gone, "the request was not cancelled within 10 s")
    }

    func testEvents() throws {
        let server = serve { conn in
            conn.startSSE()
            conn.data(#"{"choices":[{"index":0,"delta":{"reasoning":"Think"}}]}"#)
            conn.token("Calling ")
            conn.data(#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":"}}]}}]}"#)
            conn.data(#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"서울\"}"}}]}}]}"#)
            conn.finish("tool_calls")
            conn.data(#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#)
            conn.done()
        }
        let stream = try makeClient(server).stream(hello)
        var events: [Event] = []
        while let event = try stream.nextEvent() {
            events.append(event)
        }
        let usage = Usage(promptTokens: 5, completionTokens: 7, totalTokens: 12)
        XCTAssertEqual(events, [
            .reasoning("Think"),
            .content("Calling "),
            .toolCall(index: 0, id: "call_1", name: "weather", arguments: #"{"city":"#),
            .toolCall(index: 0, id: nil, name: nil, arguments: #""서울"}"#),
            .finish("tool_calls"),
            .usage(usage),
        ])
        XCTAssertEqual(stream.usage, usage)
    }

    func testComplete() throws {
        let server = serve {
            $0.respond(200, "OK", json: """
                {"id":"cmpl-1","object":"chat.completion","model":"solar-test",
                 "choices":[{"index":0,"message":{"role":"assistant","content":"Hi, 세계"},"finish_reason":"stop"}],
                 "usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}
                """)
        }
        let completion = try makeClient(server).complete(hello)
        XCTAssertEqual(completion.content, "Hi, 세계")
        XCTAssertEqual(completion.finishReason, "stop")
        XCTAssertEqual(completion.id, "cmpl-1")
        XCTAssertEqual(completion.usage, Usage(promptTokens: 3, completionTokens: 4, totalTokens: 7))
        XCTAssertEqual(server.requests.first?.json["stream"] as? Bool, false)
    }

    func testManyThreadsShareOneClient() throws {
        // The server echoes the last message back, one character per token.
        let server = serve { conn in
            let messages = conn.json["messages"] as? [[String: String]] ?? []
            conn.answer((messages.last?["content"] ?? "").map { String($0) })
        }
        let client = try makeClient(server)
        let errors = LockedList()
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            for round in 0..<4 {
                let prompt = "thread \(i), round \(round): 안녕 ✓"
                do {
                    let stream = try client.stream(Request(messages: [.user(prompt)]))
                    let text = try stream.readAll()
                    stream.close()
                    if text != prompt {
                        errors.append("got \(text), want \(prompt)")
                    }
                } catch {
                    errors.append("\(error)")
                }
            }
        }
        XCTAssertEqual(errors.items, [])
    }

    func testInvalidArguments() throws {
        let server = serve { $0.answer(["x"]) }
        let client = try makeClient(server)
        assertKind(.invalidArgument) { _ = try client.stream(Request(messages: [.user("a\u{0}b")])) }
        assertKind(.invalidArgument) { _ = try client.stream(Request(model: "m", messages: [])) }
        assertKind(.invalidArgument) {
            _ = try client.stream(Request(messages: [.user("x")], params: ["p": "{"]))
        }
        XCTAssertEqual(server.requests.count, 0)
    }

    func testClientOptionErrors() {
        assertKind(.invalidArgument) { _ = try Client(Options(baseURL: "not a url")) }
        assertKind(.invalidArgument) { _ = try Client(Options(baseURL: "http://127.0.0.1:9/v1", connectTimeout: -1)) }
        assertKind(.invalidArgument) { _ = try Client(Options(baseURL: "http://127.0.0.1:9/v1", maxRetries: -1)) }
    }

    func testFormatPrompt() throws {
        XCTAssertEqual(try formatPrompt([.user("just this")]), "just this")
        XCTAssertEqual(try formatPrompt([.system("Be brief."), .user("Hi")]), "System: Be brief.\nUser: Hi\nAssistant:")
        XCTAssertEqual(try formatPrompt([.user("안녕 </b>"), .assistant("  "), .user("🌍")]), "User: 안녕 </b>\nUser: 🌍\nAssistant:")
        assertKind(.invalidArgument) { _ = try formatPrompt([]) }
    }

    func testCatalog() {
        XCTAssertEqual(models, ["upstage/solar-1-mini-chat", "upstage/solar-1-mini-chat-ja", "solar-pro"])
        XCTAssertEqual(resolveModel("solar-mini"), "upstage/solar-1-mini-chat-ja")
        XCTAssertEqual(resolveModel("gpt-4o"), "solar-pro")
        XCTAssertEqual(resolveModel(nil), "solar-pro")
        XCTAssertFalse(libraryVersion.isEmpty)
    }

    func testKindNamesMatchTheLibrary() {
        let names: [UpstageError.Kind: String] = [
            .nullArgument: "null_argument", .invalidArgument: "invalid_argument", .connect: "connect",
            .timeout: "timeout", .http: "http", .api: "api", .protocol: "protocol",
            .truncated: "truncated", .limit: "limit", .cancelled: "cancelled", .io: "io",
            .panic: "panic", .unknown: "unknown",
        ]
        for kind in UpstageError.Kind.allCases {
            XCTAssertEqual(kind.name, names[kind], "\(kind)")
        }
    }
}

/// A list that threads append to: `@unchecked Sendable` because every access holds `lock`.
private final class LockedList: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []

    func append(_ item: String) {
        lock.lock()
        list.append(item)
        lock.unlock()
    }

    var items: [String] {
        lock.lock()
        defer { lock.unlock() }
        return list
    }
}
