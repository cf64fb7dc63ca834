// swift-tools-version:6.0
//
// The Swift binding of the upstage C library (Swift 6 language mode; Linux and macOS).
//
// The library is found through pkg-config (`upstage.pc`, installed by the crate's
// include/install.sh PREFIX; set PKG_CONFIG_PATH=PREFIX/lib/pkgconfig for a non-system
// prefix), or through a directory you pass to the linker:
//
//     swift build -Xlinker -L/dir/holding/libupstage.a
//
// A directory holding only libupstage.a links it statically (the system libraries it needs
// are added below); one that also holds libupstage.so links that, which must then be found
// at run time (LD_LIBRARY_PATH or an rpath). iOS, tvOS and watchOS are not supported: a
// system library target can only link what is installed on the machine that builds.
import PackageDescription

/// The system libraries the Rust static library needs on Linux (what
/// `cargo rustc --lib --crate-type staticlib -- --print native-static-libs` prints).
let rustStaticLibs: [LinkerSetting] = ["gcc_s", "util", "rt", "pthread", "m", "dl"].map {
    .linkedLibrary($0, .when(platforms: [.linux]))
}

let package = Package(
    name: "Upstage",
    platforms: [.macOS(.v10_15)],
    products: [
        .library(name: "Upstage", targets: ["Upstage"]),
        .executable(name: "upstage-chat", targets: ["UpstageChat"]),
    ],
    targets: [
        .systemLibrary(name: "CUpstage", path: "Sources/CUpstage", pkgConfig: "upstage"),
        .target(name: "Upstage", dependencies: ["CUpstage"], linkerSettings: rustStaticLibs),
        .executableTarget(name: "UpstageChat", dependencies: ["Upstage"]),
        .testTarget(name: "UpstageTests", dependencies: ["Upstage"]),
    ]
)
