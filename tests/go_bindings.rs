//! The Go binding (`examples/go`): checks its formatting, runs `go vet` and `go test` (with
//! the race detector where Go has one) against the static library cargo built for this run,
//! named in `CGO_LDFLAGS` with the build tag `upstage_nopkgconfig` (the way the README gives
//! for a library you point at yourself), builds the `chat` example and runs it against the
//! loopback server. `tests/go_module.rs` covers the default, pkg-config way.
//!
//! Environment:
//! - `UPSTAGE_REQUIRE_GO=1`: a missing Go toolchain fails the test (CI); without it the test
//!   prints "skipped: go not found" and passes.
//! - `UPSTAGE_GO`: the `go` command to use (default `go` from `PATH`).
//!
//! Go runs offline and writes only under `target/<profile>/go/` (`GOCACHE`, `GOPATH`): the
//! module has no dependencies outside the standard library.

mod install;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use install::file_stamp;
use support::*;

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>`: this test binary is `target/<profile>/deps/go_bindings-<hash>`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The static library built from the code under test. Cargo builds the lib target with all
/// its crate types into `target/<profile>/deps` for `cargo test` too, but copies them up to
/// `target/<profile>` only for `cargo build`, where an older copy may linger: `deps` first.
fn static_lib() -> PathBuf {
    let dir = profile_dir();
    let candidates = [
        dir.join("deps").join("libupstage.a"),
        dir.join("libupstage.a"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "libupstage.a is missing (looked at {candidates:?}); the crate's \
                 crate-type must include \"staticlib\", or run `cargo build` first"
            )
        })
        .clone()
}

fn go_command() -> String {
    std::env::var("UPSTAGE_GO").unwrap_or_else(|_| "go".to_owned())
}

fn require_go() -> bool {
    std::env::var("UPSTAGE_REQUIRE_GO").is_ok_and(|v| v == "1")
}

/// Whether `go version` runs.
fn go_available(go: &str) -> bool {
    Command::new(go)
        .arg("version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The build tag that makes the package take the library from CGO_LDFLAGS.
const MANUAL_LINK_TAG: &str = "-tags=upstage_nopkgconfig";

/// The Go toolchain, configured to stay offline and inside the target directory.
struct Go {
    go: String,
    module: PathBuf,
    work: PathBuf,
    lib: PathBuf,
    cflags: String,
}

impl Go {
    fn new(go: String) -> Go {
        let work = profile_dir().join("go");
        for dir in ["cache", "path", "tmp", "bin"] {
            std::fs::create_dir_all(work.join(dir)).expect("create target/<profile>/go");
        }
        let lib = static_lib();
        Go {
            go,
            module: manifest().join("examples").join("go"),
            cflags: format!("-g -O2 -DUPSTAGE_LIB_STAMP={}", file_stamp(&lib)),
            lib,
            work,
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.module)
            .stdin(Stdio::null())
            .env("GOCACHE", self.work.join("cache"))
            .env("GOPATH", self.work.join("path"))
            .env("GOTMPDIR", self.work.join("tmp"))
            .env("GOFLAGS", format!("-mod=readonly {MANUAL_LINK_TAG}"))
            .env("GOPROXY", "off")
            .env("GOSUMDB", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GOWORK", "off")
            .env("GOENV", "off")
            .env("GO111MODULE", "on")
            .env("CGO_ENABLED", "1")
            .env("CGO_CFLAGS", &self.cflags)
            .env("CGO_LDFLAGS", &self.lib);
        cmd
    }

    fn go(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(&self.go);
        cmd.args(args);
        check(&mut cmd)
    }

    /// `gofmt` from the same toolchain, when it can be found.
    fn gofmt(&self) -> Option<PathBuf> {
        let out = self.go(&["env", "GOROOT"]);
        let root = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let gofmt = Path::new(&root).join("bin").join("gofmt");
        gofmt.is_file().then_some(gofmt)
    }
}

fn check(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd.output().unwrap_or_else(|e| panic!("{shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Whether this Go has a race detector for the platform (linux/glibc on x86-64 and arm64).
fn race_supported() -> bool {
    cfg!(all(
        target_os = "linux",
        target_env = "gnu",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))
}

#[test]
fn go_binding_vet_test_and_chat_example() {
    let go = go_command();
    if !go_available(&go) {
        assert!(
            !require_go(),
            "UPSTAGE_REQUIRE_GO=1 but `{go} version` does not run (install golang-go)"
        );
        println!("skipped: go not found");
        return;
    }
    let go = Go::new(go);

    if let Some(gofmt) = go.gofmt() {
        let out = check(go.command(&gofmt.to_string_lossy()).args(["-l", "."]));
        assert!(
            out.stdout.is_empty(),
            "gofmt -l lists files that are not formatted:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    go.go(&["vet", "./..."]);

    let mut test = vec!["test", "-count=1", "-timeout=300s"];
    if race_supported() {
        test.push("-race");
    }
    test.push("./...");
    let out = go.go(&test);
    println!("{}", String::from_utf8_lossy(&out.stdout));

    readme_programs_build(&go);

    let chat = go.work.join("bin").join("chat");
    go.go(&["build", "-o", &chat.to_string_lossy(), "./cmd/chat"]);
    chat_contract(&chat);
}

/// The complete Go programs (fenced `go` blocks that start with `package main`, possibly
/// after comments) of the module's README compile against the module.
fn readme_programs_build(go: &Go) {
    let readme = manifest().join("examples").join("go").join("README.md");
    let text = std::fs::read_to_string(&readme).expect("read README.md");
    let mut programs = Vec::new();
    let mut block: Option<String> = None;
    for line in text.lines() {
        match &mut block {
            None if line.trim_end() == "```go" => block = Some(String::new()),
            Some(code) if line.trim_end() == "```" => {
                if code.starts_with("package main") || code.contains("\npackage main") {
                    programs.push(std::mem::take(code));
                }
                block = None;
            }
            Some(code) => {
                code.push_str(line);
                code.push('\n');
            }
            None => {}
        }
    }
    assert!(
        !programs.is_empty(),
        "no Go program in {}",
        readme.display()
    );

    let module = manifest().join("examples").join("go");
    for (i, program) in programs.iter().enumerate() {
        let dir = go.work.join("readme").join(format!("program{i}"));
        std::fs::create_dir_all(&dir).expect("create the program's directory");
        let go_mod = format!(
            "module readme\n\ngo 1.19\n\nrequire {path} v0.0.0\n\nreplace {path} => {}\n",
            module.display(),
            path = "github.com/upstage-rs/upstage/examples/go",
        );
        std::fs::write(dir.join("go.mod"), go_mod).expect("write go.mod");
        std::fs::write(dir.join("main.go"), program).expect("write main.go");
        let mut cmd = go.command(&go.go);
        cmd.current_dir(&dir).args(["vet", "."]);
        check(&mut cmd);
        let mut cmd = go.command(&go.go);
        cmd.current_dir(&dir).args(["build", "-o", "program", "."]);
        check(&mut cmd);
    }
}

/// The built example keeps the CLI contract of `examples/c/chat.c`.
fn chat_contract(chat: &Path) {
    let run = |args: &[&str]| {
        let mut cmd = Command::new(chat);
        cmd.args(args)
            .stdin(Stdio::null())
            .env("NO_PROXY", "*")
            .env_remove("UPSTAGE_API_KEY");
        let shown = format!("{cmd:?}");
        cmd.output().unwrap_or_else(|e| panic!("{shown}: {e}"))
    };

    let server = Server::start(serve_tokens(&["Hel", "lo, ", "세계 🌍"]));
    let out = run(&[&server.base(), "solar-test", "hi"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Hello, 세계 🌍");
    assert!(out.stderr.is_empty(), "{out:?}");
    let request = &server.requests()[0];
    assert_eq!(request.path, "/v1/chat/completions");
    let body: serde_json::Value = serde_json::from_str(&request.body_text()).expect("JSON body");
    assert_eq!(body["model"], "solar-test");
    assert_eq!(body["messages"][0]["content"], "hi");

    let server = Server::start(serve_json(
        401,
        r#"{"error":{"message":"Invalid API key","type":"invalid_request_error"}}"#,
    ));
    let out = run(&[&server.base(), "solar-test", "hi"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error[http]: ") && stderr.contains("Invalid API key"),
        "{stderr:?}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr:?}");

    let server = Server::start(Script::sse().token("partial").end_chunks().handler());
    let out = run(&[&server.base(), "solar-test", "hi"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "partial");
    assert!(
        String::from_utf8_lossy(&out.stderr).starts_with("error[truncated]: "),
        "{out:?}"
    );

    let out = run(&["only-one-argument"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}
