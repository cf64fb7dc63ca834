//! The shared library loads from where cargo leaves it and from an install:
//!
//! - a C program linked with `-L<cargo's output> -lupstage` runs with nothing but
//!   `LD_LIBRARY_PATH` (the build tree has no versioned links, so the library there must not
//!   ask for one);
//! - `include/install.sh` gives the installed copy its versioned SONAME and the links that
//!   resolve it, leaves cargo's file as it was, and a program linked against the install
//!   asks for the versioned name and runs;
//! - without `patchelf` the install stops with a clear message instead of installing a
//!   library with the wrong SONAME.
//!
//! Environment: `UPSTAGE_REQUIRE_PATCHELF=1` makes a missing `patchelf` fail the install
//! tests (CI); without it they print "skipped". `UPSTAGE_CC`: the C compiler (gcc).

mod install;
mod support;

use std::path::Path;
use std::process::Command;

use install::*;
use support::*;

fn cc() -> String {
    std::env::var("UPSTAGE_CC").unwrap_or_else(|_| "gcc".to_owned())
}

/// Compiles `examples/c/chat.c` into `exe` with the extra (linker) arguments.
fn build_chat(exe: &Path, link: &[String]) {
    check(
        Command::new(cc())
            .args(["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"])
            .arg("-I")
            .arg(manifest().join("include"))
            .arg(manifest().join("examples/c/chat.c"))
            .arg("-o")
            .arg(exe)
            .args(link),
    );
}

/// Runs the chat example against a fresh server streaming three tokens, with
/// `LD_LIBRARY_PATH` as the only way to find the library.
fn streams_from_a_server(exe: &Path, library_path: &Path) {
    let server = Server::start(serve_tokens(&["Hel", "lo, ", "세계 🌍"]));
    let mut cmd = Command::new(exe);
    cmd.args([server.base().as_str(), "solar-test", "hi"]);
    let ran = run_program_keeping_library_path(&mut cmd, library_path);
    assert_eq!(
        ran,
        Ran {
            code: Some(0),
            stdout: "Hello, 세계 🌍".to_owned(),
            stderr: String::new()
        }
    );
    assert_eq!(server.requests()[0].path, "/v1/chat/completions");
}

/// `run_program` clears LD_LIBRARY_PATH; this sets the one given.
fn run_program_keeping_library_path(cmd: &mut Command, dir: &Path) -> Ran {
    clean_env(cmd).env("LD_LIBRARY_PATH", dir);
    let out = run(cmd);
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn c_program_runs_against_the_library_in_cargos_output_with_ld_library_path() {
    let lib_dir = built_lib_dir();
    let library = lib_dir.join("libupstage.so");
    assert_eq!(
        dynamic_section(&library).soname.as_deref(),
        Some("libupstage.so"),
        "cargo's {} must be asked for by its own file name",
        library.display()
    );

    let dir = scratch("shared-library-build-tree");
    let exe = dir.join("chat");
    build_chat(
        &exe,
        &[format!("-L{}", lib_dir.display()), "-lupstage".to_owned()],
    );
    let dynamic = dynamic_section(&exe);
    assert!(
        dynamic.needed.iter().any(|n| n == "libupstage.so"),
        "{dynamic:?}"
    );
    assert_eq!(dynamic.run_path, None, "no rpath: LD_LIBRARY_PATH only");

    // Without LD_LIBRARY_PATH the loader cannot find it: the library path is what counts.
    let mut cmd = Command::new(&exe);
    cmd.args(["http://127.0.0.1:9/v1", "m", "hi"]);
    let ran = run_program(&mut cmd);
    assert_eq!(ran.code, Some(127), "{ran:?}");
    assert!(ran.stderr.contains("libupstage.so"), "{ran:?}");

    streams_from_a_server(&exe, &lib_dir);
}

#[test]
fn installed_library_has_the_versioned_soname_and_runs() {
    if !tool_present("patchelf", "UPSTAGE_REQUIRE_PATCHELF", "install") {
        return;
    }
    let built = built_lib_dir().join("libupstage.so");
    let built_before = std::fs::read(&built).expect("read cargo's libupstage.so");

    let dir = scratch("shared-library-install");
    let prefix = dir.join("prefix");
    install_into(&prefix);
    let lib = prefix.join("lib");
    let version = env!("CARGO_PKG_VERSION");
    let soname = installed_soname();

    let real = lib.join(format!("libupstage.so.{version}"));
    assert_eq!(
        dynamic_section(&real).soname.as_deref(),
        Some(soname.as_str())
    );
    assert_eq!(
        std::fs::read_link(lib.join(&soname)).expect("the SONAME link"),
        Path::new(&format!("libupstage.so.{version}"))
    );
    assert_eq!(
        std::fs::read_link(lib.join("libupstage.so")).expect("the development link"),
        Path::new(&soname)
    );
    assert!(
        std::fs::read(&built).expect("read cargo's libupstage.so") == built_before,
        "the install changed cargo's {}",
        built.display()
    );

    // Linked through the development link, the program asks for the versioned name ...
    let exe = dir.join("chat");
    build_chat(
        &exe,
        &[format!("-L{}", lib.display()), "-lupstage".to_owned()],
    );
    let dynamic = dynamic_section(&exe);
    assert!(dynamic.needed.contains(&soname), "{dynamic:?}");
    assert!(
        !dynamic.needed.iter().any(|n| n == "libupstage.so"),
        "{dynamic:?}"
    );
    streams_from_a_server(&exe, &lib);

    // ... and that name is what the loader needs: without the SONAME link it fails.
    std::fs::remove_file(lib.join(&soname)).expect("remove the SONAME link");
    let mut cmd = Command::new(&exe);
    cmd.args(["http://127.0.0.1:9/v1", "m", "hi"]);
    let ran = run_program_keeping_library_path(&mut cmd, &lib);
    assert_eq!(ran.code, Some(127), "{ran:?}");
    assert!(ran.stderr.contains(&soname), "{ran:?}");
}

#[test]
fn install_without_patchelf_stops_with_a_clear_message() {
    let dir = scratch("shared-library-no-patchelf");
    let prefix = dir.join("prefix");
    let out = run(Command::new("sh")
        .arg(manifest().join("include/install.sh"))
        .arg(&prefix)
        .env("UPSTAGE_LIB_DIR", built_lib_dir())
        .env("PATCHELF", dir.join("no-such-patchelf")));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("patchelf") && stderr.contains(&installed_soname()),
        "{stderr}"
    );
    assert!(!prefix.exists(), "nothing may be installed: {out:?}");
}
