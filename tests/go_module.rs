//! The Go module (`examples/go`) used the way a Go developer uses it: outside the
//! repository. The test copies the module out, installs the C library into a scratch prefix
//! with `include/install.sh`, requires the module by its path from a new module with a
//! `replace`, runs `go mod vendor`, and builds the complete program of the module's README
//! with nothing but pkg-config (`#cgo pkg-config: upstage-static`) and the vendored copy;
//! then runs it against loopback servers: an answer, an HTTP error, and a silent server that
//! the program's time limit cancels. The module's own tests also pass in the copy.
//!
//! The header copy inside the module is checked against `include/upstage.h` without Go.
//!
//! Environment:
//! - `UPSTAGE_REQUIRE_GO=1`: a missing Go toolchain (or pkg-config, or patchelf) fails the
//!   test (CI); without it the test prints "skipped" and passes.
//! - `UPSTAGE_GO`: the `go` command (default `go`). `.ci/trixie-root.sh` points it at the Go
//!   1.24 of a Debian trixie root; the programs then run through `go run` inside that root.
//!
//! Go runs offline (`GOPROXY=off`, `GOFLAGS` set per step) and writes only under
//! `target/<profile>/go-module/`.

mod install;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use install::*;
use support::*;

/// The module path the README documents.
const MODULE_PATH: &str = "github.com/upstage-rs/upstage/examples/go";

fn module_dir() -> PathBuf {
    manifest().join("examples").join("go")
}

#[test]
fn the_modules_header_is_the_crates_header() {
    let crate_header = manifest().join("include").join("upstage.h");
    let module_header = module_dir().join("upstage.h");
    let expected = std::fs::read(&crate_header).expect("read include/upstage.h");
    let copy = std::fs::read(&module_header).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: run `cargo build` to write it",
            module_header.display()
        )
    });
    assert!(
        copy == expected,
        "{} differs from {}: run `cargo build` (build.rs refreshes both) and commit it",
        module_header.display(),
        crate_header.display()
    );
}

#[test]
fn the_module_names_nothing_outside_itself() {
    let go_mod = std::fs::read_to_string(module_dir().join("go.mod")).expect("read go.mod");
    assert_eq!(
        go_mod.lines().next(),
        Some(format!("module {MODULE_PATH}").as_str())
    );
    assert!(
        !go_mod.contains("replace"),
        "the published go.mod may not replace anything:\n{go_mod}"
    );
    let mut files = Vec::new();
    go_files(&module_dir(), &mut files);
    assert!(files.len() >= 10, "Go sources not found: {files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).expect("read a Go source");
        for line in text.lines().filter(|l| l.trim_start().starts_with("#cgo")) {
            assert!(
                !line.contains(".."),
                "{}: `{line}` reaches outside the module",
                file.display()
            );
        }
    }
}

fn go_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read a module directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            go_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "go") {
            out.push(path);
        }
    }
}

/// Copies the directory tree `from` into `to` (files and directories only).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create a directory of the copy");
    for entry in std::fs::read_dir(from).expect("read the module") {
        let entry = entry.expect("directory entry");
        let target = to.join(entry.file_name());
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target).expect("copy a module file");
        }
    }
}

/// The Go toolchain under test, offline and inside `work`.
struct Go {
    go: String,
    work: PathBuf,
    pkg_config_path: PathBuf,
    /// Changes whenever the installed library does: Go's cache does not hash libraries
    /// named by linker flags, so this goes into CGO_CFLAGS to make it rebuild.
    library_stamp: String,
}

impl Go {
    fn command(&self, dir: &Path, goflags: &str) -> Command {
        let mut cmd = Command::new(&self.go);
        cmd.current_dir(dir)
            .env("GOCACHE", self.work.join("cache"))
            .env("GOPATH", self.work.join("path"))
            .env("GOMODCACHE", self.work.join("path/pkg/mod"))
            .env("GOTMPDIR", self.work.join("tmp"))
            .env("GOFLAGS", goflags)
            .env("GOPROXY", "off")
            .env("GOSUMDB", "off")
            .env("GONOSUMDB", "*")
            .env("GOTOOLCHAIN", "local")
            .env("GOWORK", "off")
            .env("GOENV", "off")
            .env("GO111MODULE", "on")
            .env("CGO_ENABLED", "1")
            .env(
                "CGO_CFLAGS",
                format!("-g -O2 -DUPSTAGE_LIB_STAMP={}", self.library_stamp),
            )
            .env_remove("CGO_LDFLAGS")
            .env_remove("PKG_CONFIG_LIBDIR")
            .env("PKG_CONFIG_PATH", &self.pkg_config_path);
        cmd
    }

    fn check(&self, dir: &Path, goflags: &str, args: &[&str]) -> String {
        let out = check(self.command(dir, goflags).args(args));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The one complete program (a `go` block starting with `package main`) of the README.
fn readme_program() -> String {
    let readme = std::fs::read_to_string(module_dir().join("README.md")).expect("read the README");
    let programs: Vec<String> = fenced_blocks(&readme, "go")
        .into_iter()
        .filter(|block| block.starts_with("package main") || block.contains("\npackage main"))
        .collect();
    assert_eq!(programs.len(), 1, "one complete program in the README");
    programs.into_iter().next().expect("one program")
}

/// `go run` of the consumer: (exit code, stdout, stderr). `go run` turns the program's
/// non-zero exit into its own exit code 1 and an "exit status N" line.
fn ask(go: &Go, consumer: &Path, base: &str, args: &[&str]) -> install::Ran {
    let mut cmd = go.command(consumer, "-mod=vendor");
    cmd.args(["run", "."]).args(args);
    for var in [
        "UPSTAGE_API_KEY",
        "UPSTAGE_MODEL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
        .env("UPSTAGE_BASE_URL", base);
    let out = run(&mut cmd);
    install::Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn a_module_outside_the_repository_vendors_builds_and_streams() {
    const TEST: &str = "go_module";
    let go_cmd = std::env::var("UPSTAGE_GO").unwrap_or_else(|_| "go".to_owned());
    if !runs(&go_cmd, "version") {
        assert!(
            !required("UPSTAGE_REQUIRE_GO"),
            "UPSTAGE_REQUIRE_GO=1 but `{go_cmd} version` does not run (install golang-go)"
        );
        println!("{TEST}: skipped (go not found)");
        return;
    }
    if !tool_present("pkg-config", "UPSTAGE_REQUIRE_GO", TEST)
        || !tool_present("patchelf", "UPSTAGE_REQUIRE_GO", TEST)
    {
        return;
    }
    let version = String::from_utf8_lossy(&check(Command::new(&go_cmd).arg("version")).stdout)
        .trim()
        .to_owned();
    println!("{version}");
    // One directory per Go version: their caches stay apart.
    let tag: String = version
        .split_whitespace()
        .nth(2)
        .unwrap_or("go")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let work = profile_dir().join("go-module").join(tag);
    for dir in ["prefix", "upstage-go", "upstage-go-moved", "consumer"] {
        let _ = std::fs::remove_dir_all(work.join(dir));
    }
    for dir in ["cache", "path", "tmp"] {
        std::fs::create_dir_all(work.join(dir)).expect("create the Go directories");
    }

    let prefix = work.join("prefix");
    install_into(&prefix);
    let go = Go {
        go: go_cmd,
        pkg_config_path: prefix.join("lib/pkgconfig"),
        library_stamp: file_stamp(&prefix.join("lib/libupstage.a")),
        work: work.clone(),
    };

    // The module, out of the repository: nothing of the crate is reachable from there.
    let module = work.join("upstage-go");
    copy_tree(&module_dir(), &module);
    go.check(&module, "-mod=mod", &["vet", "./..."]);
    let tested = go.check(&module, "-mod=mod", &["test", "-count=1", "./..."]);
    println!("{tested}");

    // A new module requiring it by its path.
    let consumer = work.join("consumer");
    std::fs::create_dir_all(&consumer).expect("create the consumer module");
    std::fs::write(
        consumer.join("go.mod"),
        format!(
            "module example.com/ask\n\ngo 1.19\n\nrequire {MODULE_PATH} v0.0.0\n\n\
             replace {MODULE_PATH} => ../upstage-go\n"
        ),
    )
    .expect("write go.mod");
    std::fs::write(consumer.join("main.go"), readme_program()).expect("write main.go");
    go.check(&consumer, "-mod=mod", &["mod", "vendor"]);
    let vendored = consumer.join("vendor").join(MODULE_PATH);
    assert!(
        std::fs::read(vendored.join("upstage.h")).expect("the vendored header")
            == std::fs::read(manifest().join("include/upstage.h")).expect("the crate's header"),
        "go mod vendor must carry the header"
    );
    // Without the module's own directory: the vendored copy is all there is.
    std::fs::rename(&module, work.join("upstage-go-moved")).expect("move the module away");
    go.check(&consumer, "-mod=vendor", &["vet", "."]);
    go.check(&consumer, "-mod=vendor", &["build", "-o", "ask", "."]);
    // Statically linked through upstage-static.pc: no libupstage.so at run time.
    let dynamic = dynamic_section(&consumer.join("ask"));
    assert!(
        !dynamic.needed.iter().any(|n| n.starts_with("libupstage")),
        "{dynamic:?}"
    );

    let server = Server::start(serve_tokens(&["Hel", "lo, ", "세계 🌍"]));
    let ran = ask(&go, &consumer, &server.base(), &["Why is the sky blue?"]);
    assert_eq!(
        (ran.code, ran.stdout.as_str(), ran.stderr.as_str()),
        (Some(0), "Hello, 세계 🌍\n", "[finish: stop]\n"),
        "{ran:?}"
    );
    let body: serde_json::Value =
        serde_json::from_str(&server.requests()[0].body_text()).expect("a JSON body");
    assert_eq!(body["messages"][0]["content"], "Why is the sky blue?");
    assert_eq!(body["model"], "solar-pro4");

    let server = Server::start(serve_json(
        401,
        r#"{"error":{"message":"Invalid API key","type":"invalid_request_error"}}"#,
    ));
    let ran = ask(&go, &consumer, &server.base(), &["hi"]);
    assert_eq!((ran.code, ran.stdout.as_str()), (Some(1), ""), "{ran:?}");
    assert!(
        ran.stderr.starts_with("HTTP 401: ") && ran.stderr.contains("Invalid API key"),
        "{ran:?}"
    );

    // A token, then silence: the program's 1 s limit cancels the stream; the token stays.
    let server = Server::start(Script::sse().token("partial").stall().handler());
    let ran = ask(&go, &consumer, &server.base(), &["hi", "1"]);
    assert_eq!(
        (ran.code, ran.stdout.as_str()),
        (Some(1), "partial"),
        "{ran:?}"
    );
    assert!(ran.stderr.starts_with("cancelled: "), "{ran:?}");
}
