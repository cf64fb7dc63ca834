//! The `chat` example's contract: exact stdout, one error line, exit codes, every flag.

mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use support::*;

fn chat(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(chat_binary())
        .args(args)
        .env_remove("UPSTAGE_API_KEY")
        .env_remove("UPSTAGE_BASE_URL")
        .env_remove("UPSTAGE_MODEL")
        .env("NO_PROXY", "*")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn streams_exactly_the_tokens_to_stdout() {
    let server = Server::start(serve_tokens(&["Hel", "lo ", "wörld", "\n", "  "]));
    let base = server.base();
    let out = chat(&["--base-url", &base, "--model", "m", "say", "hi"], "");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        out.stdout,
        "Hello wörld\n  ".as_bytes(),
        "no final newline off a terminal"
    );
    assert_eq!(out.stderr, b"");
    let sent = &server.requests()[0];
    let body = sent.json.as_ref().unwrap();
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": "say hi"}])
    );
    assert_eq!(body["model"], json!("m"));
}

#[test]
fn failure_keeps_printed_tokens_and_prints_one_error_line() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse()
            .sse_data(&chunk_json("partial"))
            .end_chunks();
    });
    let out = chat(&["--base-url", &server.base(), "x"], "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "partial");
    assert_eq!(
        text(&out.stderr),
        "error[truncated]: the stream ended before [DONE] and without a finish_reason\n"
    );
}

#[test]
fn http_errors_name_their_kind() {
    let server = Server::start(serve_json(401, &error_json("Invalid API key", "auth")));
    let out = chat(&["--base-url", &server.base(), "--retries", "0", "x"], "");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(out.stdout, b"");
    assert_eq!(
        text(&out.stderr),
        "error[http]: HTTP 401: Invalid API key\n"
    );
}

#[test]
fn a_missing_key_for_the_official_api_is_an_invalid_argument() {
    let out = chat(&["hello"], "");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("error[invalid_argument]: "), "{stderr}");
    assert_eq!(stderr.lines().count(), 1);
}

#[test]
fn the_key_comes_from_the_named_variable_and_is_never_printed() {
    let server = Server::start(serve_json(401, &error_json("bad key", "auth")));
    let out = Command::new(chat_binary())
        .args(["--base-url", &server.base(), "--api-key-env", "MY_KEY", "x"])
        .env("MY_KEY", "sk-very-secret")
        .env("NO_PROXY", "*")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        server.requests()[0].header("authorization"),
        Some("Bearer sk-very-secret")
    );
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains("sk-very-secret"), "{all}");
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["--temperature", "hot", "x"][..],
        &["--bogus-flag"],
        &["--model"],
        &["--param", "novalue"],
        &["--param", "x={bad json"],
        &["--idle-timeout", "-1", "x"],
        &["--retries", "-1", "x"],
    ] {
        let out = chat(args, "");
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert_eq!(out.stdout, b"");
    }
}

#[test]
fn help_goes_to_stdout() {
    let out = chat(&["--help"], "");
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("--resolve-model"));
}

#[test]
fn prompt_from_stdin_when_absent_or_dash() {
    let server = Server::start(serve_tokens(&["ok"]));
    for args in [&[][..], &["-"]] {
        let mut all = vec!["--base-url".to_owned(), server.base()];
        all.extend(args.iter().map(|s| s.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let out = chat(&all, "from stdin\n");
        assert_eq!(out.status.code(), Some(0));
    }
    for sent in server.requests() {
        let body = sent.json.unwrap();
        assert_eq!(body["messages"][0]["content"], json!("from stdin\n"));
    }
}

#[test]
fn every_request_flag_reaches_the_body() {
    let server = Server::start(serve_tokens(&["ok"]));
    let dir = std::env::temp_dir().join(format!("upstage-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let messages = dir.join("messages.json");
    std::fs::write(
        &messages,
        r#"[{"role":"user","content":"earlier"},{"role":"assistant","content":"reply"}]"#,
    )
    .unwrap();
    let base = server.base();
    let out = chat(
        &[
            "--base-url",
            &base,
            "--model",
            "solar-pro4",
            "--system",
            "Be brief",
            "--messages",
            messages.to_str().unwrap(),
            "--temperature",
            "0.25",
            "--top-p",
            "0.5",
            "--max-tokens",
            "9",
            "--stop",
            "END",
            "--stop",
            "\n\n",
            "--reasoning-effort",
            "high",
            "--param",
            "seed=7",
            "--param",
            r#"response_format={"type":"json_object"}"#,
            "--connect-timeout",
            "5",
            "--headers-timeout",
            "5",
            "--idle-timeout",
            "5",
            "--total-timeout",
            "0",
            "--retries",
            "1",
            "--proxy",
            "none",
            "now",
            "this",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let body: Value = server.requests()[0].json.clone().unwrap();
    assert_eq!(
        body,
        json!({
            "model": "solar-pro4",
            "stream": true,
            "messages": [
                {"role": "system", "content": "Be brief"},
                {"role": "user", "content": "earlier"},
                {"role": "assistant", "content": "reply"},
                {"role": "user", "content": "now this"}
            ],
            "temperature": 0.25, "top_p": 0.5, "max_tokens": 9,
            "stop": ["END", "\n\n"], "reasoning_effort": "high",
            "seed": 7, "response_format": {"type": "json_object"}
        })
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn web_demo_flag_speaks_the_seed_dialect() {
    let server = Server::start(serve_tokens(&["demo"]));
    let out = chat(
        &[
            "--web-demo",
            "--base-url",
            &server.base(),
            "--model",
            "solar-mini",
            "hi",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "demo");
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/v1/web/demo/chat/completions");
    assert_eq!(
        sent.json.as_ref().unwrap()["model"],
        json!("upstage/solar-1-mini-chat-ja")
    );
}

#[test]
fn print_prompt_and_resolve_model_need_no_network() {
    let out = chat(&["--print-prompt", "--system", "Be brief", "Hi"], "");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "System: Be brief\nUser: Hi\nAssistant:");
    let out = chat(&["--print-prompt", "only"], "");
    assert_eq!(text(&out.stdout), "only");
    for (name, model) in [
        ("solar-mini", "upstage/solar-1-mini-chat-ja"),
        ("solar-pro", "solar-pro"),
        ("SOLAR-PRO", "solar-pro"),
        ("", "solar-pro"),
        ("upstage/solar-1-mini-chat", "upstage/solar-1-mini-chat"),
    ] {
        let out = chat(&["--resolve-model", name], "");
        assert_eq!(text(&out.stdout), format!("{model}\n"));
    }
}

fn rich_stream(conn: &mut Conn) {
    conn.start_sse()
        .sse_data(&delta_json(
            r#"{"reasoning_content":"thinking..."}"#,
            "null",
        ))
        .sse_data(&chunk_json("answer"))
        .sse_data(&finish_json("stop"))
        .sse_data(&usage_json(3, 4))
        .done()
        .end_chunks();
}

#[test]
fn reasoning_and_usage_go_to_stderr() {
    let server = Server::start(rich_stream);
    let out = chat(
        &["--base-url", &server.base(), "--reasoning", "--usage", "q"],
        "",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout), "answer");
    // The usage line, then the timings (no rate-limit headers were sent).
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines[0],
        "thinking...finish_reason=stop prompt_tokens=3 completion_tokens=4 total_tokens=7"
    );
    assert!(lines[1].starts_with("timings headers_ms="), "{stderr}");
    assert_eq!(lines.len(), 2, "{stderr}");
}

#[test]
fn json_prints_one_event_per_line() {
    let server = Server::start(rich_stream);
    let out = chat(&["--base-url", &server.base(), "--json", "q"], "");
    assert_eq!(out.status.code(), Some(0));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Every event but usage says which choice it belongs to.
    assert_eq!(
        lines[0],
        json!({"type": "reasoning", "choice": 0, "text": "thinking..."})
    );
    assert_eq!(
        lines[1],
        json!({"type": "content", "choice": 0, "text": "answer"})
    );
    assert_eq!(
        lines[2],
        json!({"type": "finish", "choice": 0, "reason": "stop"})
    );
    assert_eq!(lines[3]["type"], json!("usage"));
    assert_eq!(lines[3]["total_tokens"], json!(7));
    assert_eq!(lines.len(), 4);
}

#[test]
fn no_stream_sends_stream_false_and_prints_the_answer() {
    let server = Server::start(serve_json(
        200,
        r#"{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#,
    ));
    let out = chat(
        &["--base-url", &server.base(), "--no-stream", "--usage", "q"],
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "whole");
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines[0],
        "finish_reason=stop prompt_tokens=1 completion_tokens=1 total_tokens=2"
    );
    assert!(lines[1].starts_with("timings headers_ms="), "{stderr}");
    assert_eq!(lines.len(), 2, "{stderr}");
    let sent = &server.requests()[0];
    assert_eq!(sent.json.as_ref().unwrap()["stream"], json!(false));
    assert_eq!(sent.header("accept"), Some("application/json"));
}
