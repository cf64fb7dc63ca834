import CUpstage
import Foundation

extension Client {
    /// The answer as an `AsyncThrowingStream`, for `for try await`:
    ///
    /// ```swift
    /// for try await token in client.tokens(request) { print(token, terminator: "") }
    /// ```
    ///
    /// The blocking pull API runs on a thread of its own. When the consumer stops early (it
    /// breaks out of the loop, or its task is cancelled), the termination handler cancels the
    /// request at once, whether it is still connecting or already streaming.
    public func tokens(_ request: Request) -> AsyncThrowingStream<String, Error> {
        pump(request) { stream in try stream.next() }
    }

    /// Every event of the answer (content, reasoning, tool-call fragments, refusal, finish
    /// reason, usage) as an `AsyncThrowingStream`; see `tokens(_:)`.
    public func events(_ request: Request) -> AsyncThrowingStream<Event, Error> {
        pump(request) { stream in try stream.nextEvent() }
    }

    private func pump<T>(
        _ request: Request,
        _ pull: @escaping @Sendable (TokenStream) throws -> T?
    ) -> AsyncThrowingStream<T, Error> {
        AsyncThrowingStream { continuation in
            let cancel = CancelToken()
            continuation.onTermination = { @Sendable _ in cancel.cancel() }
            let thread = Thread { [self] in
                do {
                    let stream = try self.stream(request, cancel: cancel)
                    defer { stream.close() }
                    while let item = try pull(stream) {
                        if case .terminated = continuation.yield(item) {
                            break
                        }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            thread.name = "upstage-stream"
            thread.start()
        }
    }
}
