//! The CMake package `include/install.sh` installs (`lib/cmake/upstage`): the project of
//! `include/README-cmake.md` (its `CMakeLists.txt`, `app.c` and `app.cpp` blocks, as they
//! are) is configured with `find_package(upstage CONFIG REQUIRED)` against a scratch
//! install, built with the strict warning flags, and its three programs (shared C, static C,
//! shared C++) stream from, fail against and are cancelled on a loopback server. The
//! version file accepts and refuses what it should, and the installed tree can be moved.
//!
//! Environment: `UPSTAGE_REQUIRE_CMAKE=1` makes a missing `cmake` (or `patchelf`, which the
//! install needs) fail the test (CI); without it the test prints "skipped" and passes.

mod install;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use install::*;
use support::*;

const TEST: &str = "cmake_package";

/// Whether cmake and patchelf are here (or the test must fail because they are not).
fn tools_present() -> bool {
    tool_present("cmake", "UPSTAGE_REQUIRE_CMAKE", TEST)
        && tool_present("patchelf", "UPSTAGE_REQUIRE_CMAKE", TEST)
}

/// The `cmake`, `c` and `cpp` blocks of the guide: (CMakeLists.txt, app.c, app.cpp).
fn guide_project() -> (String, String, String) {
    let guide = std::fs::read_to_string(manifest().join("include/README-cmake.md"))
        .expect("read include/README-cmake.md");
    let one = |lang: &str| {
        let blocks = fenced_blocks(&guide, lang);
        assert_eq!(blocks.len(), 1, "one ```{lang} block in README-cmake.md");
        blocks.into_iter().next().expect("one block")
    };
    (one("cmake"), one("c"), one("cpp"))
}

/// `cmake -S source -B build -DCMAKE_PREFIX_PATH=prefix ...`: the configure output.
fn configure(source: &Path, build: &Path, prefix: &Path, extra: &[&str]) -> install::Ran {
    let mut cmd = Command::new("cmake");
    cmd.arg("-S")
        .arg(source)
        .arg("-B")
        .arg(build)
        .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
        .args(extra);
    let out = run(&mut cmd);
    install::Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs one of the built programs with the server's base URL in the environment.
fn app(exe: &Path, base: &str, args: &[&str]) -> install::Ran {
    let mut cmd = Command::new(exe);
    cmd.args(args);
    clean_env(&mut cmd).env("UPSTAGE_BASE_URL", base);
    let out = run(&mut cmd);
    install::Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The contract of the guide's programs: the answer, an HTTP error, and the watchdog.
fn check_app(exe: &Path) {
    let name = exe.file_name().unwrap_or_default().to_string_lossy();

    let server = Server::start(serve_tokens(&["Hel", "lo, ", "세계 🌍"]));
    let ran = app(exe, &server.base(), &["Why is the sky blue?"]);
    assert_eq!(
        (ran.code, ran.stdout.as_str(), ran.stderr.as_str()),
        (Some(0), "Hello, 세계 🌍\n", "[finish: stop]\n"),
        "{name}"
    );
    let body: serde_json::Value =
        serde_json::from_str(&server.requests()[0].body_text()).expect("a JSON body");
    assert_eq!(body["messages"][0]["content"], "Why is the sky blue?");
    assert_eq!(body["model"], "solar-pro4", "{name}: the default model");

    let server = Server::start(serve_json(
        401,
        r#"{"error":{"message":"Invalid API key","type":"invalid_request_error"}}"#,
    ));
    let ran = app(exe, &server.base(), &["hi"]);
    assert_eq!((ran.code, ran.stdout.as_str()), (Some(1), ""), "{name}");
    assert!(
        ran.stderr.starts_with("error[http]: ")
            && ran.stderr.contains("Invalid API key")
            && ran.stderr.ends_with("(HTTP status 401)\n"),
        "{name}: {ran:?}"
    );

    // A token, then silence: the watchdog (1 s here) cancels the stream; the token stays.
    let server = Server::start(Script::sse().token("partial").stall().handler());
    let ran = app(exe, &server.base(), &["hi", "1"]);
    assert_eq!(
        (ran.code, ran.stdout.as_str()),
        (Some(1), "partial"),
        "{name}"
    );
    assert!(
        ran.stderr.starts_with("error[cancelled]: "),
        "{name}: {ran:?}"
    );

    let ran = app(exe, &server.base(), &[]);
    assert_eq!(ran.code, Some(2), "{name}: {ran:?}");
    assert!(ran.stderr.starts_with("usage: "), "{name}: {ran:?}");
}

#[test]
fn guide_project_builds_with_find_package_and_streams() {
    if !tools_present() {
        return;
    }
    let dir = scratch("cmake-package");
    let prefix = dir.join("prefix");
    install_into(&prefix);
    for file in ["upstage-config.cmake", "upstage-config-version.cmake"] {
        assert!(
            prefix.join("lib/cmake/upstage").join(file).is_file(),
            "{file} was not installed"
        );
    }

    let (lists, app_c, app_cpp) = guide_project();
    let source = dir.join("app");
    std::fs::create_dir_all(&source).expect("create the project directory");
    std::fs::write(source.join("CMakeLists.txt"), lists).expect("write CMakeLists.txt");
    std::fs::write(source.join("app.c"), app_c).expect("write app.c");
    std::fs::write(source.join("app.cpp"), app_cpp).expect("write app.cpp");

    let build = dir.join("build");
    let configured = configure(
        &source,
        &build,
        &prefix,
        &[
            "-DCMAKE_BUILD_TYPE=Debug",
            "-DCMAKE_C_COMPILER=gcc",
            "-DCMAKE_CXX_COMPILER=g++",
            "-DCMAKE_C_FLAGS=-std=c99 -Wall -Wextra -Werror -pedantic",
            "-DCMAKE_CXX_FLAGS=-Wall -Wextra -Werror -pedantic",
        ],
    );
    assert_eq!(configured.code, Some(0), "{configured:?}");
    check(Command::new("cmake").arg("--build").arg(&build));

    let soname = installed_soname();
    let shared = dynamic_section(&build.join("app"));
    assert!(shared.needed.contains(&soname), "app: {shared:?}");
    let shared_cpp = dynamic_section(&build.join("app_cpp"));
    assert!(
        shared_cpp.needed.contains(&soname),
        "app_cpp: {shared_cpp:?}"
    );
    let fixed = dynamic_section(&build.join("app_static"));
    assert!(
        !fixed.needed.iter().any(|n| n.starts_with("libupstage")),
        "app_static must not need libupstage.so: {fixed:?}"
    );

    for exe in ["app", "app_static", "app_cpp"] {
        check_app(&build.join(exe));
    }
}

/// A project that asks for each version request and prints what CMake decided, plus the
/// shared library's location.
const VERSION_PROBE: &str = r#"cmake_minimum_required(VERSION 3.19)
project(probe LANGUAGES NONE)
foreach(request IN ITEMS "" 0 0.1 0.1.0 0.1.1 0.2 1 1.0 0.1...0.3 0.0...<0.1 0.1...<1.0)
    unset(upstage_FOUND)
    unset(upstage_DIR CACHE)
    find_package(upstage ${request} CONFIG QUIET)
    message(STATUS "request [${request}] found [${upstage_FOUND}]")
endforeach()
find_package(upstage 0.1 EXACT CONFIG QUIET)
message(STATUS "request [0.1 EXACT] found [${upstage_FOUND}]")
find_package(upstage 0.1.0 EXACT CONFIG QUIET)
message(STATUS "request [0.1.0 EXACT] found [${upstage_FOUND}]")
find_package(upstage CONFIG REQUIRED)
get_target_property(shared upstage::upstage IMPORTED_LOCATION)
get_target_property(static upstage::upstage_static IMPORTED_LOCATION)
get_target_property(libs upstage::upstage_static INTERFACE_LINK_LIBRARIES)
get_target_property(includes upstage::upstage INTERFACE_INCLUDE_DIRECTORIES)
message(STATUS "shared [${shared}]")
message(STATUS "static [${static}]")
message(STATUS "libs [${libs}]")
message(STATUS "includes [${includes}]")
"#;

/// The `[value]` of the `-- key [value]` line of the probe's output.
fn probe_value<'a>(output: &'a str, key: &str) -> &'a str {
    let prefix = format!("-- {key} [");
    output
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or_else(|| panic!("no `{prefix}` line in:\n{output}"))
}

fn probe(dir: &Path, prefix: &Path) -> String {
    let source = dir.join("probe");
    std::fs::create_dir_all(&source).expect("create the probe directory");
    std::fs::write(source.join("CMakeLists.txt"), VERSION_PROBE).expect("write the probe");
    let build = dir.join("probe-build");
    let _ = std::fs::remove_dir_all(&build);
    let ran = configure(&source, &build, prefix, &[]);
    assert_eq!(ran.code, Some(0), "{ran:?}");
    ran.stdout
}

#[test]
fn version_file_and_a_moved_install() {
    if !tools_present() {
        return;
    }
    assert_eq!(
        env!("CARGO_PKG_VERSION"),
        "0.1.0",
        "the expectations below are written for 0.1.0"
    );
    let dir = scratch("cmake-package-version");
    let prefix = dir.join("prefix");
    install_into(&prefix);
    let output = probe(&dir, &prefix);
    for (request, found) in [
        ("", "1"),
        ("0", "0"),
        ("0.1", "1"),
        ("0.1.0", "1"),
        ("0.1.1", "0"),
        ("0.2", "0"),
        ("1", "0"),
        ("1.0", "0"),
        ("0.1...0.3", "1"),
        ("0.0...<0.1", "0"),
        ("0.1...<1.0", "1"),
        ("0.1 EXACT", "1"),
        ("0.1.0 EXACT", "1"),
    ] {
        let got = probe_value(&output, &format!("request [{request}] found"));
        let got = if got.is_empty() || got == "0" {
            "0"
        } else {
            "1"
        };
        assert_eq!(got, found, "find_package(upstage {request}):\n{output}");
    }
    let lib = prefix.join("lib");
    assert_eq!(
        probe_value(&output, "shared"),
        lib.join(format!("libupstage.so.{}", env!("CARGO_PKG_VERSION")))
            .to_string_lossy()
    );
    assert_eq!(
        probe_value(&output, "static"),
        lib.join("libupstage.a").to_string_lossy()
    );
    assert_eq!(
        probe_value(&output, "libs"),
        "-lgcc_s;-lutil;-lrt;-lpthread;-lm;-ldl;-lc"
    );
    assert_eq!(
        probe_value(&output, "includes"),
        prefix.join("include").to_string_lossy()
    );

    // Moved elsewhere, the tree still describes itself.
    let moved: PathBuf = dir.join("moved");
    std::fs::rename(&prefix, &moved).expect("move the install");
    let output = probe(&dir, &moved);
    assert_eq!(
        probe_value(&output, "static"),
        moved.join("lib/libupstage.a").to_string_lossy()
    );

    // A broken tree is reported, not half-used.
    std::fs::remove_file(moved.join("lib/libupstage.a")).expect("remove libupstage.a");
    let source = dir.join("broken");
    std::fs::create_dir_all(&source).expect("create the project directory");
    std::fs::write(
        source.join("CMakeLists.txt"),
        "cmake_minimum_required(VERSION 3.16)\nproject(broken LANGUAGES NONE)\n\
         find_package(upstage CONFIG REQUIRED)\n",
    )
    .expect("write CMakeLists.txt");
    let ran = configure(&source, &dir.join("broken-build"), &moved, &[]);
    assert_ne!(ran.code, Some(0), "{ran:?}");
    assert!(ran.stderr.contains("libupstage.a"), "{ran:?}");
}
