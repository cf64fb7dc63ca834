import CUpstage
import Foundation

/// The version of the C library, such as "0.1.0".
public var libraryVersion: String { String(cString: upstage_version()) }

/// The web demo's model catalog.
public var models: [String] {
    (0..<upstage_model_count()).compactMap { i in upstage_model_at(i).map { String(cString: $0) } }
}

/// Maps a name to a model of the web demo's catalog as the original provider did: a known
/// model is itself, the alias "solar-mini" is "upstage/solar-1-mini-chat-ja", anything else
/// (nil included) is the default, "solar-pro".
public func resolveModel(_ name: String?) -> String {
    guard let name = name, !name.utf8.contains(0) else {
        return String(cString: upstage_resolve_model(nil))
    }
    return String(cString: upstage_resolve_model(name))
}

/// Flattens a conversation into the one prompt the web demo receives: a single message is
/// its content alone; otherwise each message with non-blank content becomes a line
/// "Role: content", followed by "\nAssistant:". Throws `.invalidArgument` when empty.
public func formatPrompt(_ messages: [Message]) throws -> String {
    let json = String(decoding: try JSONEncoder().encode(messages), as: UTF8.self)
    var len = 0
    var err = upstage_error()
    // First measure, then fill.
    try check(upstage_format_prompt(json, nil, 0, &len, &err), err)
    let capacity = len + 1
    var buffer = [CChar](repeating: 0, count: capacity)
    try check(upstage_format_prompt(json, &buffer, capacity, &len, &err), err)
    return String(decoding: buffer[..<len].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
