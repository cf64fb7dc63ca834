// upstage-chat BASE_URL MODEL PROMPT
//
// Streams one answer through the Swift binding. stdout gets exactly the answer's tokens as
// they arrive (plus a final newline when stdout is a terminal); on failure the tokens already
// printed stay, stderr gets one line "error[<status name>]: <message>" and the exit code is
// 1; wrong arguments exit with 2. The API key, when needed, comes from UPSTAGE_API_KEY.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Upstage

/// Writes all of `text` to a file descriptor, unbuffered: each token reaches the terminal or
/// pipe as it arrives. (The C `stdout`/`stderr` globals are shared mutable state, which
/// Swift 6 rejects.)
func emit(_ text: String, to fd: Int32) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 && errno == EINTR {
                continue
            }
            if written <= 0 {
                return
            }
            offset += written
        }
    }
}

func fail(_ error: Error) -> Never {
    let line: String
    if let e = error as? UpstageError {
        let message = e.message.isEmpty ? e.statusName : e.message
        let oneLine = message.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
        line = "error[\(e.statusName)]: \(oneLine)\n"
    } else {
        line = "error[unknown]: \(error)\n"
    }
    emit(line, to: STDERR_FILENO)
    exit(1)
}

let args = CommandLine.arguments.dropFirst()
guard args.count == 3 else {
    emit("usage: upstage-chat BASE_URL MODEL PROMPT\n", to: STDERR_FILENO)
    exit(2)
}
let baseURL = args[args.startIndex]
let model = args[args.startIndex + 1]
let prompt = args[args.startIndex + 2]

do {
    let client = try Client(Options(baseURL: baseURL))
    let stream = try client.stream(Request(model: model, messages: [.user(prompt)]))
    defer { stream.close() }
    while let token = try stream.next() {
        emit(token, to: STDOUT_FILENO)
    }
    if isatty(STDOUT_FILENO) != 0 {
        emit("\n", to: STDOUT_FILENO)
    }
} catch {
    fail(error)
}
