//! The `chat` example's request and response surface: `--header`, `--query`, `--record`,
//! `--replay`, `--usage` with rate limits and timings, and the debug log.

mod support;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use support::*;

fn chat(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(chat_binary());
    command
        .args(args)
        .env_remove("UPSTAGE_API_KEY")
        .env_remove("UPSTAGE_BASE_URL")
        .env_remove("UPSTAGE_MODEL")
        .env_remove("UPSTAGE_LOG")
        .env("NO_PROXY", "*")
        .stdin(Stdio::null());
    for (name, value) in envs {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("upstage-cli-surface-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Streams "Hi there" with rate-limit headers, a request id and a cookie.
fn limited(conn: &mut Conn) {
    conn.send_head(
        200,
        &[
            ("Content-Type", "text/event-stream"),
            ("Transfer-Encoding", "chunked"),
            ("x-request-id", "req-cli"),
            ("x-ratelimit-limit-requests", "60"),
            ("x-ratelimit-remaining-requests", "59"),
            ("x-ratelimit-reset-requests", "1s"),
            ("x-ratelimit-remaining-tokens", "900"),
            ("Set-Cookie", "session=cookie-secret"),
        ],
    );
    conn.sse_data(&chunk_json("Hi"))
        .sse_data(&chunk_json(" there"))
        .sse_data(&finish_json("stop"))
        .done()
        .end_chunks();
}

#[test]
fn headers_and_query_parameters_reach_the_server() {
    let server = Server::start(serve_tokens(&["ok"]));
    let out = chat(
        &[
            "--base-url",
            &format!("{}?api-version=2024-10-21", server.base()),
            "--header",
            "X-Title: my app",
            "--header",
            "User-Agent: cli-test/1",
            "--query",
            "trace=a b",
            "--query",
            "flag",
            "hi",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"ok");
    let sent = &server.requests()[0];
    assert_eq!(
        sent.path,
        "/v1/chat/completions?api-version=2024-10-21&trace=a%20b&flag="
    );
    assert_eq!(sent.header("x-title"), Some("my app"));
    assert_eq!(sent.header_all("user-agent"), ["cli-test/1"]);
}

#[test]
fn bad_headers_and_parameters_are_refused() {
    let server = Server::start(serve_tokens(&["never"]));
    let base = server.base();
    for args in [
        ["--header", "no colon"],
        ["--header", ": value"],
        ["--query", "=x"],
    ] {
        let mut all = vec!["--base-url", &base];
        all.extend_from_slice(&args);
        all.push("hi");
        let out = chat(&all, &[]);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let out = chat(
        &["--base-url", &base, "--header", "Host: elsewhere", "hi"],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error[invalid_argument]: "),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(server.request_count(), 0);
}

#[test]
fn usage_prints_rate_limits_and_timings() {
    let server = Server::start(limited);
    let out = chat(&["--base-url", &server.base(), "--usage", "hi"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"Hi there");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("finish_reason=stop"), "{stderr}");
    assert!(
        stderr.contains("rate_limit requests=59/60 requests_reset_ms=1000 tokens=900/?"),
        "{stderr}"
    );
    let timings = stderr.lines().find(|l| l.starts_with("timings ")).unwrap();
    for field in [
        "headers_ms=",
        "first_content_ms=",
        "end_ms=",
        "content_tokens=2 ",
        "bytes=",
    ] {
        assert!(timings.contains(field), "{field} in {timings}");
    }
}

#[test]
fn a_recorded_answer_replays_without_network() {
    let server = Server::start(limited);
    let file = scratch("answer.rec");
    let path = file.to_str().unwrap();
    let live = chat(
        &[
            "--base-url",
            &server.base(),
            "--api-key-env",
            "SURFACE_TEST_KEY",
            "--record",
            path,
            "hi",
        ],
        &[("SURFACE_TEST_KEY", "sk-cli-secret-1")],
    );
    assert_eq!(live.status.code(), Some(0), "{}", text(&live.stderr));
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(
        recorded.starts_with("upstage-recording/1 200 OK\n"),
        "{recorded}"
    );
    assert!(!recorded.contains("sk-cli-secret-1") && !recorded.contains("cookie-secret"));
    drop(server);

    // No server, no key, no prompt: the recording is enough.
    let replayed = chat(&["--replay", path, "--usage"], &[]);
    assert_eq!(
        replayed.status.code(),
        Some(0),
        "{}",
        text(&replayed.stderr)
    );
    assert_eq!(replayed.stdout, live.stdout);
    assert!(text(&replayed.stderr).contains("rate_limit requests=59/60"));

    let missing = chat(&["--replay", "/nonexistent/answer.rec"], &[]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(text(&missing.stderr).starts_with("error[invalid_argument]: "));
}

#[test]
fn a_recorded_http_error_replays_as_the_same_error() {
    let server = Server::start(serve_json(
        429,
        r#"{"error":{"message":"slow down","type":"rate_limit_error"}}"#,
    ));
    let file = scratch("error.rec");
    let path = file.to_str().unwrap();
    let live = chat(
        &[
            "--base-url",
            &server.base(),
            "--retries",
            "0",
            "--record",
            path,
            "hi",
        ],
        &[],
    );
    assert_eq!(live.status.code(), Some(1));
    let replayed = chat(&["--replay", path], &[]);
    assert_eq!(replayed.status.code(), Some(1));
    assert_eq!(text(&replayed.stderr), text(&live.stderr));
    assert_eq!(text(&replayed.stderr), "error[http]: HTTP 429: slow down\n");
}

#[test]
fn the_shipped_recording_plays_with_one_command() {
    let recording = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/recordings/upstage-solar.rec"
    );
    let out = chat(&["--replay", recording, "--usage"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).ends_with("So the sky looks blue."));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("total_tokens=42"), "{stderr}");
    assert!(stderr.contains("rate_limit requests=99/100"), "{stderr}");
}

#[test]
fn the_debug_log_shows_the_work_and_never_the_key() {
    let server = Server::start(limited);
    for (args, envs) in [
        (vec!["--debug-log"], vec![]),
        (vec![], vec![("UPSTAGE_LOG", "debug")]),
    ] {
        let base = server.base();
        let mut all = vec![
            "--base-url",
            base.as_str(),
            "--api-key-env",
            "SURFACE_TEST_KEY",
        ];
        all.extend(args);
        all.extend(["--header", "api-key: azure-cli-secret-2", "hi"]);
        let mut envs = envs;
        envs.push(("SURFACE_TEST_KEY", "sk-cli-secret-1"));
        let out = chat(&all, &envs);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("upstage: POST http://127.0.0.1:"),
            "{stderr}"
        );
        assert!(stderr.contains("upstage: HTTP 200 OK"), "{stderr}");
        assert!(stderr.contains("upstage: stream ended: done"), "{stderr}");
        for secret in ["sk-cli-secret-1", "azure-cli-secret-2"] {
            assert!(!stderr.contains(secret), "{secret} in\n{stderr}");
        }
    }
    // Off by default.
    let out = chat(&["--base-url", &server.base(), "hi"], &[]);
    assert_eq!(text(&out.stderr), "");
}
