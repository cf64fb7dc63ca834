import CUpstage

/// Every error the binding throws: a kind, the HTTP status when there was one, and the
/// library's message (for HTTP and API errors, the server's own words; never the API key).
public struct UpstageError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The kind of error; the raw value is the C status code.
    public enum Kind: Int32, CaseIterable, Sendable {
        case nullArgument = -1
        case invalidArgument = -2
        case connect = -3
        case timeout = -4
        case http = -5
        case api = -6
        case `protocol` = -7
        case truncated = -8
        case limit = -9
        case cancelled = -10
        case io = -11
        case panic = -100
        /// A status this version of the binding does not know.
        case unknown = -32768

        /// The library's name for the kind: "timeout", "http", "truncated", ...
        public var name: String { String(cString: upstage_status_name(rawValue)) }
    }

    /// The kind of error.
    public let kind: Kind
    /// The C status code (`kind.rawValue`, unless the kind is `.unknown`).
    public let status: Int32
    /// The HTTP status code, or 0 when there was none.
    public let httpStatus: Int
    /// The library's message.
    public let message: String
    /// Request id, retry-after, API type/code/param, timeout phase, attempts and response
    /// headers, from the calls that provide them (nil otherwise).
    public internal(set) var details: ErrorDetails? = nil

    /// An error of the given kind with a message of the binding's own.
    public init(_ kind: Kind, _ message: String, httpStatus: Int = 0) {
        self.kind = kind
        self.status = kind.rawValue
        self.httpStatus = httpStatus
        self.message = message
    }

    /// The error a C call reported through its status and `upstage_error`.
    init(status: upstage_status, error: upstage_error) {
        let code = error.status != 0 ? error.status : status
        self.status = code
        self.kind = Kind(rawValue: code) ?? .unknown
        self.httpStatus = Int(error.http_status)
        // `message` is a fixed-size char array, imported as a tuple: read it as bytes. The
        // library always NUL-terminates; stop at the buffer's end regardless.
        self.message = withUnsafeBytes(of: error.message) { bytes in
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
    }

    /// An error for a status returned without an `upstage_error` (setters).
    init(status: upstage_status, message: String) {
        self.status = status
        self.kind = Kind(rawValue: status) ?? .unknown
        self.httpStatus = 0
        self.message = message
    }

    /// The library's name for the status, as the CLI prints it: `error[<statusName>]: ...`.
    public var statusName: String { String(cString: upstage_status_name(status)) }

    /// "upstage: <status name>: <message>".
    public var description: String {
        message.isEmpty ? "upstage: \(statusName)" : "upstage: \(statusName): \(message)"
    }
}

/// Throws the error a C call reported, unless it succeeded.
@inline(__always)
func check(_ status: upstage_status, _ error: upstage_error) throws {
    if status != UPSTAGE_OK {
        throw UpstageError(status: status, error: error)
    }
}

/// Throws when a setter failed.
@inline(__always)
func check(_ status: upstage_status, _ what: @autoclosure () -> String) throws {
    if status != UPSTAGE_OK {
        throw UpstageError(status: status, message: what())
    }
}

/// Rejects strings C would silently cut at an embedded NUL.
func cSafe(_ value: String, _ what: String) throws -> String {
    if value.utf8.contains(0) {
        throw UpstageError(.invalidArgument, "\(what) contains a NUL byte")
    }
    return value
}
