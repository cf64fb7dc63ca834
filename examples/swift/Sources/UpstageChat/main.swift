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

func fail(_ error: Error) -> Never {
    let line: String
    if let e = error as? UpstageError {
        let message = e.message.isEmpty ? e.statusName : e.message
        let oneLine = message.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
        line = "error[\(e.statusName)]: \(oneLine)\n"
    } else {
        line = "error[unknown]: \(error)\n"
    }
    fputs(line, stderr)
    exit(1)
}

let args = CommandLine.arguments.dropFirst()
guard args.count == 3 else {
    fputs("usage: upstage-chat BASE_URL MODEL PROMPT\n", stderr)
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
        fputs(token, stdout)
        fflush(stdout)
    }
    if isatty(STDOUT_FILENO) != 0 {
        fputs("\n", stdout)
    }
} catch {
    fail(error)
}
