//! The C ABI from C and C++: compiles `tests/c/*.c`, the examples and the C++ wrapper with
//! gcc/g++ against `include/upstage.h` and the static library cargo just built, runs them
//! against a loopback server, and again under valgrind and as ASan/UBSan builds.
//!
//! Environment:
//! - `UPSTAGE_REQUIRE_VALGRIND=1`: valgrind and the sanitizer runtime must be present (CI);
//!   without it, missing tools are reported as "skipped".
//! - `UPSTAGE_CC` / `UPSTAGE_CXX`: the compilers (default `gcc` / `g++`).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use support::*;

/// The native libraries the static library needs on Linux, as printed by
/// `cargo rustc --lib --crate-type staticlib -- --print native-static-libs`; the README and
/// `upstage.pc` document exactly these.
const STATIC_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

const C_FLAGS: &[&str] = &["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"];
const CXX_FLAGS: &[&str] = &["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic"];

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>`: the test binary lives in `target/<profile>/deps`.
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps/<test>");
    dir.to_path_buf()
}

/// The static library built with the code under test. Cargo compiles the lib target with
/// all its crate types (`lib`, `cdylib`, `staticlib`) into `target/<profile>/deps` even for
/// `cargo test`; only `cargo build` copies them up to `target/<profile>`.
fn static_lib() -> PathBuf {
    built_lib("libupstage.a")
}

fn built_lib(name: &str) -> PathBuf {
    let candidates = [lib_dir().join("deps").join(name), lib_dir().join(name)];
    candidates
        .iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("{name} is missing from {candidates:?}"))
        .clone()
}

fn require_tools() -> bool {
    std::env::var("UPSTAGE_REQUIRE_VALGRIND").is_ok_and(|v| v == "1")
}

fn cc() -> String {
    std::env::var("UPSTAGE_CC").unwrap_or_else(|_| "gcc".to_owned())
}

fn cxx() -> String {
    std::env::var("UPSTAGE_CXX").unwrap_or_else(|_| "g++".to_owned())
}

/// A fresh scratch directory under the target directory (kept for post-mortems).
fn scratch(name: &str) -> PathBuf {
    let dir = lib_dir().join("c-api-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{shown}: {e}"));
    out
}

fn check(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Build {
    Plain,
    Sanitized,
}

/// Compiles C (or C++ when `src` ends in `.cpp`) sources into `out`, linked statically
/// with exactly the documented flags.
fn compile(sources: &[PathBuf], out: &Path, build: Build) {
    let cpp = sources[0].extension().is_some_and(|e| e == "cpp");
    let mut cmd = Command::new(if cpp { cxx() } else { cc() });
    cmd.args(if cpp { CXX_FLAGS } else { C_FLAGS })
        .arg("-g")
        .arg("-I")
        .arg(manifest().join("include"))
        .arg("-I")
        .arg(manifest().join("tests/c"));
    if build == Build::Sanitized {
        cmd.args(["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]);
        cmd.arg("-fno-sanitize-recover=undefined");
    }
    cmd.args(sources).arg("-o").arg(out).arg(static_lib());
    cmd.args(STATIC_LIBS);
    check(&mut cmd);
}

/// The environment of every C program: no key, URL, model or proxy from the caller's.
fn clean_env(cmd: &mut Command) -> &mut Command {
    for var in [
        "UPSTAGE_API_KEY",
        "UPSTAGE_BASE_URL",
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
}

fn have(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn valgrind_available() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    let have = *HAVE.get_or_init(|| have("valgrind", "--version"));
    if !have && require_tools() {
        panic!("UPSTAGE_REQUIRE_VALGRIND=1 but valgrind is not installed");
    }
    have
}

/// Whether gcc can build and run an ASan/UBSan program here (libasan/libubsan installed,
/// and the runtime works in this environment).
fn asan_available() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    let have = *HAVE.get_or_init(|| {
        let dir = scratch("asan-probe");
        let src = dir.join("probe.c");
        std::fs::write(&src, "int main(void) { return 0; }\n").unwrap();
        let exe = dir.join("probe");
        let built = Command::new(cc())
            .args(["-fsanitize=address,undefined"])
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        built && Command::new(&exe).status().is_ok_and(|s| s.success())
    });
    if !have && require_tools() {
        panic!("UPSTAGE_REQUIRE_VALGRIND=1 but gcc cannot build/run -fsanitize=address,undefined programs");
    }
    have
}

/// Whether LeakSanitizer works here (it needs ptrace; some containers forbid it).
fn lsan_works() -> bool {
    static HAVE: OnceLock<bool> = OnceLock::new();
    *HAVE.get_or_init(|| {
        let dir = scratch("lsan-probe");
        let src = dir.join("leak.c");
        std::fs::write(
            &src,
            "#include <stdlib.h>\nvoid *volatile p;\nint main(void) { p = malloc(7); p = 0; return 0; }\n",
        )
        .unwrap();
        let exe = dir.join("leak");
        let built = Command::new(cc())
            .args(["-fsanitize=address", "-g"])
            .arg(&src)
            .arg("-o")
            .arg(&exe)
            .status()
            .is_ok_and(|s| s.success());
        if !built {
            return false;
        }
        // With working LSan the leak is reported (exit 23); without it, exit 0 or a
        // "LeakSanitizer has encountered a fatal error" (also non-zero but not 23).
        let out = Command::new(&exe)
            .env("ASAN_OPTIONS", "detect_leaks=1:exitcode=23")
            .output()
            .expect("run lsan probe");
        out.status.code() == Some(23)
            && String::from_utf8_lossy(&out.stderr).contains("detected memory leaks")
    })
}

/// How one C test program is run.
enum Runner {
    Direct,
    Valgrind,
    Asan,
}

fn run_program(exe: &Path, args: &[String], runner: Runner) -> Output {
    let mut cmd = match runner {
        Runner::Direct | Runner::Asan => Command::new(exe),
        Runner::Valgrind => {
            let mut cmd = Command::new("valgrind");
            cmd.args([
                "-q",
                "--leak-check=full",
                "--errors-for-leak-kinds=definite",
                "--error-exitcode=1",
            ])
            .arg(exe);
            cmd
        }
    };
    cmd.args(args);
    clean_env(&mut cmd);
    if let Runner::Asan = runner {
        let leaks = if lsan_works() { 1 } else { 0 };
        cmd.env(
            "ASAN_OPTIONS",
            format!("detect_leaks={leaks}:abort_on_error=0:exitcode=1"),
        );
        cmd.env("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1");
    }
    check(&mut cmd)
}

/// Compiles `tests/c/<file>` and runs it directly, under valgrind and as an ASan build.
fn c_test(file: &str, args: &[String]) {
    let name = file.split('.').next().unwrap();
    let dir = scratch(name);
    let src = manifest().join("tests/c").join(file);
    let exe = dir.join(name);
    compile(std::slice::from_ref(&src), &exe, Build::Plain);
    let out = run_program(&exe, args, Runner::Direct);
    eprint!("{}", String::from_utf8_lossy(&out.stderr));

    if valgrind_available() {
        let out = run_program(&exe, args, Runner::Valgrind);
        eprint!("valgrind: {}", String::from_utf8_lossy(&out.stderr));
    } else {
        eprintln!("{name}: valgrind skipped (not installed)");
    }

    if asan_available() {
        let asan = dir.join(format!("{name}-asan"));
        compile(&[src], &asan, Build::Sanitized);
        let out = run_program(&asan, args, Runner::Asan);
        eprint!(
            "asan (leak detection {}): {}",
            if lsan_works() {
                "on"
            } else {
                "off: valgrind checks leaks"
            },
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("{name}: ASan skipped (gcc sanitizer runtime not usable)");
    }
}

// ---- the loopback server's scenarios, chosen by the request's `model` -----------------

fn sse_with(extra: &[(&str, &str)]) -> Script {
    let mut headers = vec![
        ("Content-Type", "text/event-stream"),
        ("Transfer-Encoding", "chunked"),
    ];
    headers.extend_from_slice(extra);
    Script::new().head(200, &headers)
}

const COMPLETION: &str = r#"{"id":"chatcmpl-complete","object":"chat.completion","created":1,"model":"solar-pro4","choices":[{"index":0,"message":{"role":"assistant","content":"It is sunny in \uc11c\uc6b8.","reasoning_content":"Checked.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Seoul\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":7,"completion_tokens":9,"total_tokens":16,"completion_tokens_details":{"reasoning_tokens":3}}}"#;

fn scenario(conn: &mut Conn) {
    let json = conn.request().json.clone().unwrap_or_default();
    let model = json["model"].as_str().unwrap_or("").to_owned();
    match model.as_str() {
        "utf8" => {
            // "世界" is split in the middle of a character across two writes.
            let event = format!("data: {}\n\n", chunk_json("世界"));
            let cut = event.find('世').unwrap() + 1;
            sse_with(&[("x-request-id", "req-utf8")])
                .role()
                .tokens(&["Hé", "llo, "])
                .body(&event.as_bytes()[..cut])
                .body(&event.as_bytes()[cut..])
                .tokens(&[" 🚀", "!"])
                .finish("stop")
                .done()
                .end_chunks()
                .run(conn)
        }
        "events" => Script::sse()
            .data(&delta_json(
                r#"{"role":"assistant","reasoning_content":"Let me think …"}"#,
                "null",
            ))
            .token("Hi")
            .data(&delta_json(
                r#"{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Se"}}]}"#,
                "null",
            ))
            .data(&delta_json(
                r#"{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_time","arguments":"{}"}}]}"#,
                "null",
            ))
            .data(&delta_json(
                r#"{"tool_calls":[{"index":0,"function":{"arguments":"oul \uc11c\uc6b8\"}"}}]}"#,
                "null",
            ))
            .data(&delta_json(r#"{"refusal":"no"}"#, "null"))
            .finish("tool_calls")
            .usage(10, 5)
            .done()
            .end_chunks()
            .run(conn),
        "complete" => {
            conn.json_response(200, &[("x-request-id", "req-complete")], COMPLETION);
        }
        "params" | "params-json" => serve_tokens(&["ok"])(conn),
        "many" => {
            let tokens: Vec<String> = (0..3000).map(|i| format!("tok{i} ")).collect();
            let mut body = String::new();
            for t in &tokens {
                body.push_str(&format!("data: {}\n\n", chunk_json(t)));
            }
            Script::sse()
                .body(body)
                .finish("stop")
                .done()
                .end_chunks()
                .run(conn)
        }
        // The web demo resolves "solar-mini" to this model.
        "upstage/solar-1-mini-chat-ja" => serve_tokens(&["demo"])(conn),
        "echo" => {
            let prompt = json["messages"]
                .as_array()
                .and_then(|m| m.last())
                .and_then(|m| m["content"].as_str())
                .unwrap_or("")
                .to_owned();
            let chars: Vec<String> = prompt.chars().map(String::from).collect();
            let tokens: Vec<&str> = chars.iter().map(String::as_str).collect();
            serve_tokens(&tokens)(conn)
        }
        "http401" => {
            conn.json_response(
                401,
                &[],
                &error_json("Invalid API key provided", "invalid_request_error"),
            );
        }
        "http429" => {
            conn.json_response(
                429,
                &[],
                &error_json("Rate limit reached for requests", "rate_limit_exceeded"),
            );
        }
        "http-long" => {
            let message = format!("{} end", "é".repeat(600));
            conn.json_response(400, &[], &error_json(&message, "invalid_request_error"));
        }
        "http500" => {
            conn.json_response(500, &[], r#"{"detail":"upstream exploded"}"#);
        }
        "html" => {
            conn.respond(
                200,
                &[("Content-Type", "text/html")],
                b"<html><head><title>Login</title></head></html>",
            );
        }
        "truncated" => Script::sse()
            .role()
            .tokens(&["a", "b"])
            .end_chunks()
            .run(conn),
        "reset" => Script::sse().token("a").sleep(ms(50)).reset().run(conn),
        "inband" => Script::sse()
            .token("a")
            .data(r#"{"error":{"message":"model overloaded","type":"server_error","code":503}}"#)
            .end_chunks()
            .run(conn),
        "event-error" => Script::sse()
            .body("event: error\ndata: {\"error\":{\"message\":\"bad things\"}}\n\n")
            .end_chunks()
            .run(conn),
        "badjson" => Script::sse()
            .token("a")
            .body("data: {\"choices\": [\n\n")
            .end_chunks()
            .run(conn),
        "limit" => Script::sse()
            .token("a")
            .token(&"x".repeat(5000))
            .finish("stop")
            .done()
            .end_chunks()
            .run(conn),
        "stall" => Script::sse().token("first").stall().run(conn),
        "stall-headers" => {
            conn.stall();
        }
        other => {
            conn.json_response(
                404,
                &[],
                &error_json(&format!("unknown scenario {other:?}"), "not_found"),
            );
        }
    }
}

fn server() -> Server {
    Server::start(scenario)
}

// ---- the tests ------------------------------------------------------------------------

#[test]
fn header_is_fresh() {
    let generated = std::fs::read_to_string(env!("UPSTAGE_GENERATED_HEADER"))
        .expect("build.rs writes the generated header into OUT_DIR");
    assert!(
        !generated.is_empty(),
        "cbindgen failed in build.rs: see the cargo warnings"
    );
    let committed = std::fs::read_to_string(manifest().join("include/upstage.h"))
        .expect("include/upstage.h exists");
    assert!(
        generated == committed,
        "include/upstage.h differs from what cbindgen generates from src/ffi: rebuild and commit it"
    );
    // build.rs rewrites include/upstage.h when src/ffi changed; in a checkout, that shows
    // as a difference from the committed (or staged) file.
    if let Ok(out) = Command::new("git")
        .args(["diff", "--exit-code", "--stat", "--", "include/upstage.h"])
        .current_dir(manifest())
        .output()
    {
        let in_a_repo = !String::from_utf8_lossy(&out.stderr).contains("Not a git repository")
            && out.status.code() != Some(129);
        assert!(
            !in_a_repo || out.status.success(),
            "include/upstage.h was stale (build.rs regenerated it): commit the new header\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    for needle in [
        "#define UPSTAGE_VERSION_MAJOR",
        "#define UPSTAGE_ERR_PANIC (-100)",
        "#ifdef __cplusplus",
        "#ifndef UPSTAGE_H",
    ] {
        assert!(committed.contains(needle), "header lacks {needle:?}");
    }
    let version = format!(
        "#define UPSTAGE_VERSION_STRING \"{}\"",
        env!("CARGO_PKG_VERSION")
    );
    assert!(committed.contains(&version));
}

#[test]
fn header_compiles_as_c99_and_cxx17() {
    let dir = scratch("header");
    let c = dir.join("h.c");
    std::fs::write(
        &c,
        "#include \"upstage.h\"\n#include \"upstage.h\"\nint main(void) { return upstage_model_count() == 3 ? 0 : 1; }\n",
    )
    .unwrap();
    let cpp = dir.join("h.cpp");
    std::fs::copy(&c, &cpp).unwrap();
    for (src, exe) in [(c, dir.join("h")), (cpp, dir.join("hpp"))] {
        compile(&[src], &exe, Build::Plain);
        check(&mut Command::new(&exe));
    }
    // The C++ wrapper on its own, with every warning.
    let hpp = dir.join("w.cpp");
    std::fs::write(&hpp, "#include \"upstage.hpp\"\nint main() { return 0; }\n").unwrap();
    compile(std::slice::from_ref(&hpp), &dir.join("w"), Build::Plain);

    // clang too, when present (required when UPSTAGE_REQUIRE_CLANG=1).
    if !have("clang", "--version") {
        assert!(
            std::env::var("UPSTAGE_REQUIRE_CLANG").map_or(true, |v| v != "1"),
            "UPSTAGE_REQUIRE_CLANG=1 but clang is not installed"
        );
        eprintln!("header: clang skipped (not installed)");
        return;
    }
    for (compiler, flags, src) in [
        ("clang", C_FLAGS, dir.join("h.c")),
        ("clang++", CXX_FLAGS, dir.join("h.cpp")),
        ("clang++", CXX_FLAGS, hpp),
    ] {
        check(
            Command::new(compiler)
                .args(flags)
                .arg("-fsyntax-only")
                .arg("-I")
                .arg(manifest().join("include"))
                .arg(src),
        );
    }
}

#[test]
fn c_args() {
    c_test("args.c", &[]);
}

#[test]
fn c_stream() {
    let server = server();
    c_test("stream.c", &[server.base()]);
    // What the C API sent: parameters and messages from set_param/add_message/from_json.
    let requests = server.requests();
    let body = |model: &str| {
        requests
            .iter()
            .filter_map(|r| r.json.clone())
            .find(|j| j["model"] == model)
            .unwrap_or_else(|| panic!("no request for {model}"))
    };
    let params = body("params");
    assert_eq!(params["temperature"], 0.25);
    assert_eq!(params["max_tokens"], 64);
    assert_eq!(params["stop"], serde_json::json!(["\n"]));
    assert_eq!(params["stream"], true);
    assert_eq!(
        params["messages"],
        serde_json::json!([
            {"role": "user", "content": "with params"},
            {"role": "assistant", "content": "ok"}
        ])
    );
    let from_json = body("params-json");
    assert_eq!(from_json["top_p"], 0.5);
    assert_eq!(from_json["stream"], true);
    assert_eq!(from_json["messages"][0]["role"], "system");
    let complete = body("complete");
    assert_eq!(complete["stream"], false);
    let auth = requests[0].header("authorization");
    assert_eq!(auth, Some("Bearer test-key"));
    let demo = requests
        .iter()
        .find(|r| r.path.ends_with("/web/demo/chat/completions"))
        .expect("a web demo request");
    assert_eq!(demo.header("authorization"), None);
    let demo = demo.json.clone().unwrap();
    assert_eq!(demo["model"], "upstage/solar-1-mini-chat-ja");
    assert_eq!(
        demo["messages"],
        serde_json::json!([{"role": "user", "content": "System: Be brief\nUser: Hi\nAssistant:"}])
    );
    server.assert_no_handler_panics();
}

/// The scenarios of `surface.c`: custom headers and query echoed back, rate-limit headers,
/// a 429 with every detail, a completion with a custom header; the rest as `scenario`.
fn surface_scenario(conn: &mut Conn) {
    let json = conn.request().json.clone().unwrap_or_default();
    match json["model"].as_str().unwrap_or("") {
        "surface" => {
            let request = conn.request().clone();
            let seen = |name: &str| request.header(name).unwrap_or("-").to_owned();
            let tokens = [
                format!("{}|", request.path),
                format!("{}|{}|", seen("x-title"), seen("x-trace")),
                seen("authorization"),
            ];
            let tokens: Vec<&str> = tokens.iter().map(String::as_str).collect();
            sse_with(&[
                ("x-request-id", "req-surface"),
                ("x-ratelimit-limit-requests", "100"),
                ("x-ratelimit-remaining-requests", "99"),
                ("x-ratelimit-reset-requests", "1.5s"),
                ("x-ratelimit-remaining-tokens", "5000"),
                ("x-ratelimit-reset-tokens", "6m0s"),
                ("Set-Cookie", "session=c-cookie"),
            ])
            .tokens(&tokens)
            .finish("stop")
            .done()
            .end_chunks()
            .run(conn)
        }
        "http429-full" => {
            conn.json_response(
                429,
                &[
                    ("x-request-id", "req-429"),
                    ("retry-after-ms", "2500"),
                    ("x-ratelimit-remaining-tokens", "0"),
                ],
                r#"{"error":{"message":"slow down","type":"rate_limit_error","code":"tpm","param":"model"}}"#,
            );
        }
        "complete-limits" => {
            conn.json_response(200, &[("X-Custom", "yes")], COMPLETION);
        }
        _ => scenario(conn),
    }
}

#[test]
fn cpp_wrapper_surface() {
    let server = Server::start(surface_scenario);
    let recording = scratch("wrapper-surface-recording").join("answer.rec");
    c_test(
        "wrapper_surface.cpp",
        &[server.base(), recording.to_str().unwrap().to_owned()],
    );
}

#[test]
fn c_surface() {
    let server = Server::start(surface_scenario);
    let recording = scratch("surface-recording").join("answer.rec");
    c_test(
        "surface.c",
        &[server.base(), recording.to_str().unwrap().to_owned()],
    );
}

#[test]
fn c_errors() {
    let server = server();
    let refused = format!("http://127.0.0.1:{}/v1", refused_port());
    c_test("errors.c", &[server.base(), refused]);
}

#[test]
fn c_cancel() {
    let server = server();
    c_test("cancel.c", &[server.base()]);
}

#[test]
fn c_threads() {
    let server = server();
    c_test("threads.c", &[server.base()]);
    assert!(server.request_count() >= 8 * 3 * 2);
}

#[test]
fn cpp_wrapper() {
    let server = server();
    c_test("wrapper.cpp", &[server.base()]);
}

/// Runs an example program: (exit code, stdout, stderr).
fn run_example(exe: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(exe);
    cmd.args(args);
    clean_env(&mut cmd);
    let out = run(&mut cmd);
    (
        out.status.code(),
        String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    )
}

/// The CLI contract of `examples/c/chat.c` and `examples/cpp/chat.cpp`.
fn check_chat_example(exe: &Path, base: &str) {
    let answer = "Héllo, 世界 🚀!";
    assert_eq!(
        run_example(exe, &[base, "utf8", "hi"]),
        (Some(0), answer.to_owned(), String::new())
    );
    assert_eq!(
        run_example(exe, &[base, "http401", "hi"]),
        (
            Some(1),
            String::new(),
            "error[http]: HTTP 401: Invalid API key provided\n".to_owned()
        )
    );
    let (code, stdout, stderr) = run_example(exe, &[base, "truncated", "hi"]);
    assert_eq!((code, stdout.as_str()), (Some(1), "ab"));
    assert!(stderr.starts_with("error[truncated]: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let (code, stdout, stderr) = run_example(exe, &[base]);
    assert_eq!((code, stdout.as_str()), (Some(2), ""));
    assert!(stderr.starts_with("usage: "), "{stderr}");
}

#[test]
fn examples_chat_c_and_cpp() {
    let server = server();
    let dir = scratch("examples");
    let c = dir.join("chat-c");
    compile(&[manifest().join("examples/c/chat.c")], &c, Build::Plain);
    check_chat_example(&c, &server.base());
    let cpp = dir.join("chat-cpp");
    compile(
        &[manifest().join("examples/cpp/chat.cpp")],
        &cpp,
        Build::Plain,
    );
    check_chat_example(&cpp, &server.base());
    if valgrind_available() {
        let mut cmd = Command::new("valgrind");
        cmd.args([
            "-q",
            "--leak-check=full",
            "--errors-for-leak-kinds=definite",
            "--error-exitcode=1",
        ])
        .arg(&c)
        .args([server.base().as_str(), "utf8", "hi"]);
        check(clean_env(&mut cmd));
    }
}

#[test]
fn shared_library_links_with_dash_lupstage() {
    let dir = scratch("shared");
    let so = built_lib("libupstage.so");
    let lib = dir.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::copy(&so, lib.join("libupstage.so")).unwrap();
    // The library's SONAME (set by build.rs) is what the program will ask for.
    std::fs::copy(&so, lib.join(soname())).unwrap();
    let exe = dir.join("chat-shared");
    let mut cmd = Command::new(cc());
    cmd.args(C_FLAGS)
        .arg("-I")
        .arg(manifest().join("include"))
        .arg(manifest().join("examples/c/chat.c"))
        .arg("-o")
        .arg(&exe)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-lupstage");
    check(&mut cmd);
    let server = server();
    assert_eq!(
        run_example(&exe, &[&server.base(), "utf8", "hi"]),
        (Some(0), "Héllo, 世界 🚀!".to_owned(), String::new())
    );
}

/// `libupstage.so.0.MINOR` before 1.0, `libupstage.so.MAJOR` after (as build.rs sets it).
fn soname() -> String {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    if major == "0" {
        format!("libupstage.so.0.{}", env!("CARGO_PKG_VERSION_MINOR"))
    } else {
        format!("libupstage.so.{major}")
    }
}

fn pkg_config(prefix: &Path, args: &[&str]) -> Vec<String> {
    let mut cmd = Command::new("pkg-config");
    cmd.args(args)
        .env("PKG_CONFIG_PATH", prefix.join("lib/pkgconfig"))
        .env_remove("PKG_CONFIG_LIBDIR");
    let out = check(&mut cmd);
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// `include/install.sh PREFIX` installs header, libraries and .pc files; the C example
/// then builds with nothing but `pkg-config` and runs, dynamically and statically.
/// The install reuses the libraries this test run built (`UPSTAGE_LIB_DIR`) instead of a
/// nested release build.
#[test]
fn install_script_and_pkg_config() {
    if !have("pkg-config", "--version") {
        assert!(
            !require_tools(),
            "UPSTAGE_REQUIRE_VALGRIND=1 but pkg-config is not installed"
        );
        eprintln!("install_script_and_pkg_config: skipped (pkg-config is not installed)");
        return;
    }
    let dir = scratch("install");
    let prefix = dir.join("prefix");
    let mut install = Command::new("sh");
    install
        .arg(manifest().join("include/install.sh"))
        .arg(&prefix)
        .env("UPSTAGE_LIB_DIR", static_lib().parent().unwrap());
    check(&mut install);
    let version = env!("CARGO_PKG_VERSION");
    for file in [
        "include/upstage.h".to_owned(),
        "include/upstage.hpp".to_owned(),
        "lib/libupstage.a".to_owned(),
        format!("lib/libupstage.so.{version}"),
        format!("lib/{}", soname()),
        "lib/libupstage.so".to_owned(),
        "lib/pkgconfig/upstage.pc".to_owned(),
        "lib/pkgconfig/upstage-static.pc".to_owned(),
    ] {
        assert!(prefix.join(&file).exists(), "{file} was not installed");
    }
    assert_eq!(pkg_config(&prefix, &["--modversion", "upstage"]), [version]);
    let static_flags = pkg_config(&prefix, &["--static", "--libs", "upstage"]);
    for lib in STATIC_LIBS {
        assert!(
            static_flags.iter().any(|f| f == lib),
            "{lib} not in {static_flags:?}"
        );
    }

    let server = server();
    let base = server.base();
    let answer = (Some(0), "Héllo, 世界 🚀!".to_owned(), String::new());
    let chat = manifest().join("examples/c/chat.c");
    for (name, pc_args) in [
        ("shared", &["--cflags", "--libs", "upstage"][..]),
        (
            "shared-static-flags",
            &["--static", "--cflags", "--libs", "upstage"][..],
        ),
        ("static", &["--cflags", "--libs", "upstage-static"][..]),
    ] {
        let exe = dir.join(name);
        let mut cc_cmd = Command::new(cc());
        cc_cmd
            .args(C_FLAGS)
            .arg(&chat)
            .arg("-o")
            .arg(&exe)
            .args(pkg_config(&prefix, pc_args));
        check(&mut cc_cmd);
        let mut cmd = Command::new(&exe);
        cmd.args([base.as_str(), "utf8", "hi"])
            .env("LD_LIBRARY_PATH", prefix.join("lib"));
        clean_env(&mut cmd);
        let out = check(&mut cmd);
        assert_eq!(
            (
                out.status.code(),
                String::from_utf8(out.stdout).unwrap(),
                String::from_utf8(out.stderr).unwrap()
            ),
            answer,
            "{name}"
        );
        // The static build needs no libupstage.so at run time.
        let needed = run(Command::new("readelf").arg("-d").arg(&exe));
        let needs_so = String::from_utf8_lossy(&needed.stdout).contains("libupstage.so");
        assert_eq!(needs_so, name != "static", "{name}: NEEDED entries");
    }
}

/// Every complete C or C++ program (a block with `int main`) of the README and of the C guide
/// next to the header compiles with the strict flags and links with the documented static
/// link line.
#[test]
fn readme_programs_compile() {
    let dir = scratch("readme");
    let mut compiled = 0;
    for guide in ["README.md", "include/README.md"] {
        let text = std::fs::read_to_string(manifest().join(guide)).unwrap();
        let mut in_guide = 0;
        let mut lines = text.lines();
        while let Some(line) = lines.next() {
            let ext = match line.trim() {
                "```c" => "c",
                "```cpp" => "cpp",
                _ => continue,
            };
            let block: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            let code = block.join("\n") + "\n";
            if !code.contains("int main") {
                continue;
            }
            compiled += 1;
            in_guide += 1;
            let src = dir.join(format!("block{compiled}.{ext}"));
            std::fs::write(&src, code).unwrap();
            compile(&[src], &dir.join(format!("block{compiled}")), Build::Plain);
        }
        assert!(
            in_guide >= 1,
            "no complete C or C++ program found in {guide}"
        );
    }
    assert!(
        compiled >= 7,
        "only {compiled} programs found in the guides"
    );
}

/// The shared library exports exactly the functions the header declares, all `upstage_`.
#[test]
fn exported_symbols_match_the_header() {
    let out = check(
        Command::new("nm")
            .args(["-D", "--defined-only"])
            .arg(built_lib("libupstage.so")),
    );
    let mut exported: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(" T "))
        .filter_map(|l| l.split_whitespace().last().map(str::to_owned))
        .collect();
    exported.sort();
    let header = std::fs::read_to_string(manifest().join("include/upstage.h")).unwrap();
    let mut declared: Vec<String> = header
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && !l.starts_with("typedef"))
        .filter_map(|l| {
            let name = l.split('(').next()?.rsplit([' ', '*']).next()?;
            (l.contains('(') && name.starts_with("upstage_")).then(|| name.to_owned())
        })
        .collect();
    declared.sort();
    assert!(declared.len() >= 50, "{declared:?}");
    assert_eq!(exported, declared);
}

/// No heap allocation per token on either path: `tests/c/alloc.c` counts every malloc of
/// the static library (`-Wl,--wrap=malloc`) while 3000 tokens stream.
#[test]
fn no_allocation_per_token() {
    let server = server();
    let dir = scratch("alloc");
    let exe = dir.join("alloc");
    let mut cmd = Command::new(cc());
    cmd.args(C_FLAGS)
        .arg("-I")
        .arg(manifest().join("include"))
        .arg("-I")
        .arg(manifest().join("tests/c"))
        .arg(manifest().join("tests/c/alloc.c"))
        .arg("-o")
        .arg(&exe)
        .arg("-Wl,--wrap=malloc,--wrap=realloc,--wrap=calloc")
        .arg(static_lib())
        .args(STATIC_LIBS);
    check(&mut cmd);
    let out = run_program(&exe, &[server.base()], Runner::Direct);
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
}
