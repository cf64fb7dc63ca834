import Foundation
import XCTest

@testable import Upstage

/// Headers, query parameters, rate limits, timings, error details and replay, as in the Go
/// suite (examples/go/surface_test.go).
/// `@unchecked Sendable` for the same reason as `UpstageTests`: its only stored property is
/// a constant.
final class SurfaceTests: XCTestCase, @unchecked Sendable {
    private func serve(_ handler: @escaping @Sendable (TestServer.Connection) -> Void) -> TestServer {
        let server = TestServer(handler)
        addTeardownBlock { server.stop() }
        return server
    }

    private func makeClient(_ server: TestServer, _ options: Options = Options()) throws -> Client {
        var options = options
        options.baseURL = server.base
        options.proxy = Options.Proxy.none
        options.maxRetries = 0
        return try Client(options)
    }

    private let hello = Request(model: "solar-test", messages: [.user("hello")])

    /// A 200 event stream with rate-limit headers.
    private static func limitedAnswer(_ conn: TestServer.Connection) {
        conn.write(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n"
                + "X-Request-Id: req-swift\r\nX-Ratelimit-Limit-Requests: 60\r\n"
                + "X-Ratelimit-Remaining-Requests: 59\r\nX-Ratelimit-Reset-Requests: 1s\r\n\r\n")
        conn.token("Hi")
        conn.token(" there")
        conn.finish("stop")
        conn.done()
    }

    func testHeadersAndQueryReachTheServer() throws {
        let server = serve { $0.answer(["ok"]) }
        var options = Options()
        options.headers = ["X-Title": "from Swift"]
        options.query = ["team": "a b"]
        let client = try makeClient(server, options)
        var request = hello
        request.headers = ["X-Trace": "t-1"]
        let stream = try client.stream(request)
        defer { stream.close() }
        XCTAssertEqual(try stream.readAll(), "ok")
        let seen = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(seen.path, "/v1/chat/completions?team=a%20b")
        XCTAssertEqual(seen.headers["x-title"], "from Swift")
        XCTAssertEqual(seen.headers["x-trace"], "t-1")

        var bad = hello
        bad.headers = ["Host": "elsewhere"]
        XCTAssertThrowsError(try client.stream(bad)) { error in
            XCTAssertEqual((error as? UpstageError)?.kind, .invalidArgument, "\(error)")
        }
    }

    func testPerRequestTimeoutAndRetriesOverrideTheClients() throws {
        let server = serve { conn in
            conn.startSSE()
            conn.token("first")
            conn.stall()
        }
        // The client would wait 300 s between body reads; this request only 0.3 s.
        let client = try makeClient(server)
        var quick = hello
        quick.idleTimeout = 0.3
        quick.maxRetries = 1
        let stream = try client.stream(quick)
        defer { stream.close() }
        XCTAssertEqual(try stream.next(), "first")
        XCTAssertThrowsError(try stream.next()) { error in
            XCTAssertEqual((error as? UpstageError)?.kind, .timeout, "\(error)")
        }

        var bad = hello
        bad.totalTimeout = -1
        XCTAssertThrowsError(try client.stream(bad)) { error in
            XCTAssertEqual((error as? UpstageError)?.kind, .invalidArgument, "\(error)")
        }
    }

    func testRateLimitsTimingsAndHeaders() throws {
        let server = serve { SurfaceTests.limitedAnswer($0) }
        let client = try makeClient(server)
        let stream = try client.stream(hello)
        defer { stream.close() }
        XCTAssertEqual(stream.headers.value(for: "X-Request-Id"), "req-swift")
        let limits = try XCTUnwrap(stream.rateLimit)
        XCTAssertEqual(limits.limitRequests, 60)
        XCTAssertEqual(limits.remainingRequests, 59)
        XCTAssertEqual(limits.resetRequestsMs, 1000)
        XCTAssertEqual(limits.remainingTokens, -1)
        XCTAssertEqual(try stream.readAll(), "Hi there")
        let t = stream.timings
        XCTAssertGreaterThanOrEqual(t.headersMs, 0)
        XCTAssertGreaterThanOrEqual(t.endMs, t.firstContentMs)
        XCTAssertEqual(t.contentTokens, 2)
    }

    func testErrorsCarryTheirDetails() throws {
        let server = serve {
            $0.write(
                "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
                    + "Connection: close\r\nX-Request-Id: req-429\r\nRetry-After-Ms: 2500\r\n\r\n"
                    + #"{"error":{"message":"slow down","type":"rate_limit_error","code":"tpm","param":"model"}}"#)
        }
        let client = try makeClient(server)
        XCTAssertThrowsError(try client.stream(hello)) { error in
            guard let e = error as? UpstageError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.kind, .http)
            XCTAssertEqual(e.details?.requestID, "req-429")
            XCTAssertEqual(e.details?.apiCode, "tpm")
            XCTAssertEqual(e.details?.apiParam, "model")
            XCTAssertEqual(e.details?.retryAfterMs, 2500)
            XCTAssertEqual(e.details?.attempts, 1)
            XCTAssertEqual(e.details?.headers.value(for: "x-request-id"), "req-429")
        }
    }

    func testTheShippedRecordingReplays() throws {
        let server = serve { _ in }
        let client = try makeClient(server)
        let recording = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent()
            .deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("../recordings/upstage-solar.rec")
            .standardizedFileURL.path
        let stream = try client.replay(recording)
        defer { stream.close() }
        XCTAssertTrue(try stream.readAll().hasSuffix("So the sky looks blue."))
        XCTAssertEqual(stream.rateLimit?.remainingRequests, 99)
        XCTAssertEqual(server.requests.count, 0)
    }
}
