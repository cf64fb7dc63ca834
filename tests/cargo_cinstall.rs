//! `cargo cinstall` (cargo-c) installs the layout `include/install.sh` installs, from the
//! crate's `[package.metadata.capi]`: the committed header and the C++ wrapper directly in
//! `include/`, the static library, the shared library with the versioned SONAME and its
//! links, and `upstage.pc`. The C example builds against that install through pkg-config,
//! shared and static, and streams from a loopback server.
//!
//! Environment: `UPSTAGE_REQUIRE_CARGO_C=1` makes a missing `cargo cinstall` fail the test;
//! without it the test prints "skipped" and passes (`cargo install cargo-c` provides it).
//! The test builds the crate once more, in its own target directory. `UPSTAGE_CC`: the C
//! compiler (gcc).

mod install;
mod support;

use std::path::Path;
use std::process::Command;

use install::*;
use support::*;

const TEST: &str = "cargo_cinstall";

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

/// Whether `cargo cinstall` runs here (or the test must fail because it does not).
fn cargo_c_present() -> bool {
    let runs = Command::new(cargo())
        .args(["cinstall", "--version"])
        .stdin(std::process::Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success());
    if runs {
        return true;
    }
    assert!(
        !required("UPSTAGE_REQUIRE_CARGO_C"),
        "UPSTAGE_REQUIRE_CARGO_C=1 but `cargo cinstall --version` does not run \
         (cargo install cargo-c)"
    );
    println!("{TEST}: skipped (cargo cinstall not found)");
    false
}

/// `pkg-config ARGS upstage` against the install: its words.
fn pkg_config(prefix: &Path, args: &[&str]) -> Vec<String> {
    let out = check(
        Command::new("pkg-config")
            .args(args)
            .arg("upstage")
            .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
            .env_remove("PKG_CONFIG_LIBDIR"),
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Compiles `examples/c/chat.c` with the strict flags and the given compiler/linker words.
fn build_chat(exe: &Path, flags: &[String]) {
    let cc = std::env::var("UPSTAGE_CC").unwrap_or_else(|_| "gcc".to_owned());
    check(
        Command::new(cc)
            .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
            .arg(manifest().join("examples/c/chat.c"))
            .arg("-o")
            .arg(exe)
            .args(flags),
    );
}

/// Runs the chat example against a server streaming three tokens.
fn streams(exe: &Path, library_path: Option<&Path>) {
    let server = Server::start(serve_tokens(&["Hel", "lo, ", "세계 🌍"]));
    let mut cmd = Command::new(exe);
    cmd.args([server.base().as_str(), "solar-test", "hi"]);
    clean_env(&mut cmd);
    if let Some(dir) = library_path {
        cmd.env("LD_LIBRARY_PATH", dir);
    }
    let out = run(&mut cmd);
    assert_eq!(
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).as_ref(),
            String::from_utf8_lossy(&out.stderr).as_ref()
        ),
        (Some(0), "Hello, 세계 🌍", ""),
        "{}",
        exe.display()
    );
    assert_eq!(server.requests()[0].path, "/v1/chat/completions");
}

#[test]
fn cargo_cinstall_installs_the_same_layout_and_the_example_streams() {
    if !cargo_c_present() || !tool_present("pkg-config", "UPSTAGE_REQUIRE_CARGO_C", TEST) {
        return;
    }
    let dir = scratch("cargo-cinstall");
    let prefix = dir.join("prefix");
    let lib = prefix.join("lib");
    check(
        Command::new(cargo())
            .current_dir(manifest())
            .args(["cinstall", "--locked", "--offline", "--debug"])
            .arg("--target-dir")
            .arg(dir.join("target"))
            .arg("--prefix")
            .arg(&prefix)
            .arg("--libdir")
            .arg(&lib),
    );

    // The committed header and the wrapper, directly under include/ as install.sh puts them.
    for header in ["upstage.h", "upstage.hpp"] {
        let installed = std::fs::read(prefix.join("include").join(header))
            .unwrap_or_else(|e| panic!("include/{header} is not installed: {e}"));
        let committed =
            std::fs::read(manifest().join("include").join(header)).expect("the committed header");
        assert!(
            installed == committed,
            "include/{header} is not the committed one"
        );
    }

    // The shared library: versioned SONAME, the links that resolve it.
    let version = env!("CARGO_PKG_VERSION");
    let soname = installed_soname();
    let real = lib.join(format!("libupstage.so.{version}"));
    assert_eq!(
        dynamic_section(&real).soname.as_deref(),
        Some(soname.as_str())
    );
    for link in [soname.as_str(), "libupstage.so"] {
        let target =
            std::fs::canonicalize(lib.join(link)).unwrap_or_else(|e| panic!("lib/{link}: {e}"));
        assert_eq!(target, std::fs::canonicalize(&real).expect("the library"));
    }
    assert!(lib.join("libupstage.a").is_file());

    // Shared, through pkg-config: the program asks for the versioned name.
    let exe = dir.join("chat-shared");
    let flags = pkg_config(&prefix, &["--cflags", "--libs"]);
    build_chat(&exe, &flags);
    assert!(dynamic_section(&exe).needed.contains(&soname));
    streams(&exe, Some(&lib));

    // Static, through pkg-config --static with the archive asked for by name: the system
    // libraries it needs come from the .pc file.
    let exe = dir.join("chat-static");
    let flags: Vec<String> = pkg_config(&prefix, &["--cflags", "--libs", "--static"])
        .into_iter()
        .map(|f| {
            if f == "-lupstage" {
                "-l:libupstage.a".to_owned()
            } else {
                f
            }
        })
        .collect();
    build_chat(&exe, &flags);
    assert!(
        !dynamic_section(&exe)
            .needed
            .iter()
            .any(|n| n.starts_with("libupstage")),
        "the static program must not need the shared library"
    );
    streams(&exe, None);
}
