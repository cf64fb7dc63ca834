#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A tiny HTTP/1.1 server on 127.0.0.1 for the tests: one thread per connection, every
/// response close-delimited (`Connection: close`), full control over what is sent and when.
///
/// `@unchecked Sendable`: the accept and connection threads share it; its only mutable state,
/// `received`, is read and written under `lock`.
final class TestServer: @unchecked Sendable {
    /// One accepted connection, with the request already read.
    final class Connection {
        let fd: Int32
        private(set) var method = ""
        private(set) var path = ""
        private(set) var headers: [String: String] = [:]
        private(set) var body = Data()

        init(fd: Int32) {
            self.fd = fd
            readRequest()
        }

        /// The body as JSON.
        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        }

        private func readRequest() {
            var data = Data()
            let capacity = 4096
            var chunk = [UInt8](repeating: 0, count: capacity)
            let separator = Data("\r\n\r\n".utf8)
            while data.range(of: separator) == nil {
                let n = recv(fd, &chunk, capacity, 0)
                if n <= 0 { return }
                data.append(contentsOf: chunk[0..<n])
            }
            let headEnd = data.range(of: separator)!
            let head = String(decoding: data[..<headEnd.lowerBound], as: UTF8.self)
            var lines = head.components(separatedBy: "\r\n")
            let requestLine = lines.removeFirst().split(separator: " ")
            if requestLine.count >= 2 {
                method = String(requestLine[0])
                path = String(requestLine[1])
            }
            for line in lines {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].lowercased()
                headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            body = Data(data[headEnd.upperBound...])
            let length = Int(headers["content-length"] ?? "0") ?? 0
            while body.count < length {
                let n = recv(fd, &chunk, min(capacity, length - body.count), 0)
                if n <= 0 { return }
                body.append(contentsOf: chunk[0..<n])
            }
        }

        /// Writes raw text.
        func write(_ text: String) {
            let bytes = Array(text.utf8)
            var offset = 0
            while offset < bytes.count {
                let n = bytes.withUnsafeBytes { buffer in
                    send(fd, buffer.baseAddress! + offset, buffer.count - offset, 0)
                }
                if n <= 0 { return }
                offset += n
            }
        }

        /// Sends a status line and headers.
        func head(_ status: Int, _ reason: String, contentType: String) {
            write("HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nConnection: close\r\n\r\n")
        }

        /// Starts a 200 event stream.
        func startSSE() {
            head(200, "OK", contentType: "text/event-stream")
        }

        func data(_ payload: String) {
            write("data: \(payload)\n\n")
        }

        func token(_ text: String) {
            data(chunk(delta: ["content": text]))
        }

        func finish(_ reason: String) {
            data(chunk(delta: [:], finish: reason))
        }

        func done() {
            data("[DONE]")
        }

        /// Tokens, a "stop" finish and [DONE].
        func answer(_ tokens: [String]) {
            startSSE()
            tokens.forEach(token)
            finish("stop")
            done()
        }

        /// A complete response with a body.
        func respond(_ status: Int, _ reason: String, json: String) {
            head(status, reason, contentType: "application/json")
            write(json)
        }

        /// Waits, writing nothing, until the client goes away (or 30 s pass).
        func stall() {
            var timeout = timeval(tv_sec: 30, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            var byte: UInt8 = 0
            while recv(fd, &byte, 1, 0) > 0 {}
        }

        private func chunk(delta: [String: Any], finish: String? = nil) -> String {
            var choice: [String: Any] = ["index": 0, "delta": delta]
            if let finish = finish {
                choice["finish_reason"] = finish
            } else {
                choice["finish_reason"] = NSNull()
            }
            let object: [String: Any] = ["id": "chatcmpl-1", "model": "solar-test", "choices": [choice]]
            let data = try! JSONSerialization.data(withJSONObject: object)
            return String(decoding: data, as: UTF8.self)
        }
    }

    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var received: [(path: String, headers: [String: String], json: [String: Any])] = []

    /// Starts the server; `handler` answers each connection on its own thread.
    init(_ handler: @escaping @Sendable (Connection) -> Void) {
        signal(SIGPIPE, SIG_IGN)
        #if os(Linux)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        precondition(fd >= 0, "socket failed")
        var addr = sockaddr_in()
        #if !os(Linux)
        addr.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
        #endif
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> Bool in
                bind(fd, sa, size) == 0 && getsockname(fd, sa, &size) == 0
            }
        }
        precondition(bound && listen(fd, 64) == 0, "bind/listen failed")
        port = UInt16(bigEndian: addr.sin_port)
        listener = fd

        // The accept thread owns the listening socket and closes it when accept fails (after
        // stop()): closed anywhere else, its number could be reused by the next test's server
        // while this thread, not yet scheduled, is about to call accept on it.
        Thread { [weak self] in
            defer { close(fd) }
            while true {
                let conn = accept(fd, nil, nil)
                if conn < 0 {
                    if errno == EINTR { continue }
                    return
                }
                Thread { [weak self] in
                    let connection = Connection(fd: conn)
                    self?.record(connection)
                    handler(connection)
                    close(conn)
                }.start()
            }
        }.start()
    }

    /// Stops accepting connections: on Linux, shutting a listening socket down makes every
    /// accept on it fail, and the accept thread then closes it. (Not in deinit: Swift may
    /// release a local before the end of its scope, and the tests stop servers in their
    /// teardown instead.)
    func stop() {
        shutdown(listener, Int32(SHUT_RDWR))
    }

    /// `http://127.0.0.1:PORT/v1`.
    var base: String { "http://127.0.0.1:\(port)/v1" }

    private func record(_ conn: Connection) {
        lock.lock()
        received.append((conn.path, conn.headers, conn.json))
        lock.unlock()
    }

    /// The requests received so far.
    var requests: [(path: String, headers: [String: String], json: [String: Any])] {
        lock.lock()
        defer { lock.unlock() }
        return received
    }
}
