// swift-tools-version:5.7
//
// The Swift binding of the upstage crate. Build the Rust library first, from the crate root:
//
//     cargo build --release
//     cd examples/swift
//     swift build -Xlinker -L../../target/release
//
// target/release holds both libupstage.a and libupstage.so; the linker prefers the shared
// one, so either run with LD_LIBRARY_PATH=../../target/release (Linux) or
// DYLD_LIBRARY_PATH (macOS), or point -L at a directory holding only libupstage.a.
import PackageDescription

/// The system libraries the Rust static library needs on Linux (what
/// `cargo rustc --lib --crate-type staticlib -- --print native-static-libs` prints).
let rustStaticLibs: [LinkerSetting] = ["gcc_s", "util", "rt", "pthread", "m", "dl"].map {
    .linkedLibrary($0, .when(platforms: [.linux]))
}

let package = Package(
    name: "Upstage",
    platforms: [.macOS(.v10_15), .iOS(.v13)],
    products: [
        .library(name: "Upstage", targets: ["Upstage"]),
        .executable(name: "upstage-chat", targets: ["UpstageChat"]),
    ],
    targets: [
        .systemLibrary(name: "CUpstage", path: "Sources/CUpstage"),
        .target(name: "Upstage", dependencies: ["CUpstage"], linkerSettings: rustStaticLibs),
        .executableTarget(name: "UpstageChat", dependencies: ["Upstage"]),
        .testTarget(name: "UpstageTests", dependencies: ["Upstage"]),
    ]
)
