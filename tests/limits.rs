//! Limits provoked for real: an endless line, an endless event of short `data:` lines, a
//! huge error body, a huge JSON answer, huge response headers, and endless streams into
//! what a stream keeps for its completion (another choice's text, tool-call arguments, new
//! tool calls, new choices, log probabilities), each a `Limit` error with the tokens before
//! it kept and the connection released. The memory these cost is
//! measured in `memory.rs`, which runs alone.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use support::*;
use upstage::{ChatStream, Client, Error, ErrorKind, Limits};

/// Writes `block` through `conn.body` until the client goes away or `cap` bytes were
/// written; counts what was written.
fn write_until_gone(conn: &mut Conn, block: &[u8], cap: u64, written: &AtomicU64) {
    let mut total = 0;
    while !conn.client_gone() && total < cap {
        conn.body(block);
        total += block.len() as u64;
        written.fetch_add(block.len() as u64, Ordering::Relaxed);
    }
}

/// A client for `server` with these limits and no retries.
fn client_with(server: &Server, limits: Limits) -> Client {
    builder(server)
        .limits(limits)
        .max_retries(0)
        .build()
        .unwrap()
}

const KIB: usize = 1024;
const MIB: u64 = 1024 * 1024;

#[test]
fn an_endless_line_is_a_limit_error() {
    let written = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&written);
    let server = Server::start(move |conn: &mut Conn| {
        conn.start_sse().sse_data(&chunk_json("before"));
        conn.body(b"data: ");
        write_until_gone(conn, &[b'a'; 16 * KIB], 256 * MIB, &counter);
    });
    let limits = Limits::default().with_max_line(64 * KIB);
    let client = client_with(&server, limits);
    let mut stream = client.stream(&request()).unwrap();
    let (tokens, error) = drain(&mut stream);
    assert_eq!(tokens, ["before"]);
    let error = error.expect("an endless line fails");
    assert_eq!(error.kind(), ErrorKind::Limit, "{error:?}");
    assert_eq!(error.http_status(), Some(200));
    assert!(error.message().contains("line"), "{error}");
    drop(stream);
    assert!(server.wait_idle(secs(10)));
    // The client stopped reading soon after the limit (the kernel buffers some more).
    assert!(written.load(Ordering::Relaxed) < 64 * MIB);
}

#[test]
fn an_endless_event_of_short_data_lines_is_a_limit_error() {
    let written = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&written);
    let server = Server::start(move |conn: &mut Conn| {
        conn.start_sse().sse_data(&chunk_json("before"));
        write_until_gone(conn, &b"data: x\n".repeat(2 * KIB), 256 * MIB, &counter);
    });
    let limits = Limits::default().with_max_event(256 * KIB);
    let client = client_with(&server, limits);
    let mut stream = client.stream(&request()).unwrap();
    let (tokens, error) = drain(&mut stream);
    assert_eq!(tokens, ["before"]);
    let error = error.expect("an endless event fails");
    assert_eq!(error.kind(), ErrorKind::Limit, "{error:?}");
    assert_eq!(error.http_status(), Some(200));
    assert!(error.message().contains("event"), "{error}");
    drop(stream);
    assert!(server.wait_idle(secs(10)));
    assert!(written.load(Ordering::Relaxed) < 64 * MIB);
}

/// A 500 announcing a 1 GiB body, generated lazily until the client hangs up.
fn huge_error_body(written: Arc<AtomicU64>) -> impl Fn(&mut Conn) + Send + Sync + 'static {
    move |conn: &mut Conn| {
        let length = (1u64 << 30).to_string();
        conn.send_head(
            500,
            &[("Content-Type", "text/plain"), ("Content-Length", &length)],
        );
        write_until_gone(conn, &[b'e'; 64 * KIB], 1 << 30, &written);
    }
}

#[test]
fn a_one_gib_error_body_is_a_limit_error_with_the_status() {
    let written = Arc::new(AtomicU64::new(0));
    let server = Server::start(huge_error_body(Arc::clone(&written)));
    let client = builder(&server).max_retries(0).build().unwrap();
    let error = client.stream(&request()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Limit, "{error:?}");
    assert_eq!(error.http_status(), Some(500));
    assert!(error.message().contains("500"), "{error}");
    assert_eq!(error.attempts(), 1);
    assert!(server.wait_idle(secs(10)), "the client hung up");
    let written = written.load(Ordering::Relaxed);
    assert!(written < 64 * MIB, "the server wrote {written} bytes");
}

#[test]
fn a_huge_error_body_from_a_5xx_is_still_retried() {
    let written = Arc::new(AtomicU64::new(0));
    let server = Server::start(fail_then(
        1,
        huge_error_body(Arc::clone(&written)),
        serve_tokens(&["recovered"]),
    ));
    let client = builder(&server).max_retries(1).build().unwrap();
    let mut stream = client.stream(&request()).unwrap();
    assert_eq!(stream.attempts(), 2);
    assert_eq!(drain(&mut stream).0, ["recovered"]);
}

#[test]
fn a_small_error_body_limit_is_honoured() {
    let body = format!("{{\"error\":{{\"message\":\"{}\"}}}}", "m".repeat(4000));
    let server = Server::start(serve_json(400, &body));
    let limits = Limits::default().with_max_error_body(1000);
    let client = builder(&server).limits(limits).build().unwrap();
    let error = client.stream(&request()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Limit, "{error:?}");
    assert_eq!(error.http_status(), Some(400));
    assert_eq!(error.attempts(), 1);
}

#[test]
fn a_huge_json_answer_is_a_limit_error() {
    let content = "j".repeat(300 * KIB);
    let body = format!(
        r#"{{"id":"x","object":"chat.completion","choices":[{{"index":0,"message":{{"role":"assistant","content":"{content}"}},"finish_reason":"stop"}}]}}"#
    );
    let server = Server::start(serve_json(200, &body));
    let limits = Limits::default().with_max_event(100 * KIB);
    let client = client_with(&server, limits);
    let error = client.stream(&request()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Limit, "{error:?}");
    assert_eq!(error.http_status(), Some(200));
}

#[test]
fn huge_response_headers_are_a_limit_error() {
    let server = Server::start(|conn: &mut Conn| {
        let big = "h".repeat(200 * KIB);
        conn.send_head(
            200,
            &[("Content-Type", "text/event-stream"), ("X-Big", &big)],
        );
    });
    let client = builder(&server).max_retries(0).build().unwrap();
    let error = client.stream(&request()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Limit, "{error:?}");
    assert!(server.wait_idle(secs(10)));
}

#[test]
fn limits_at_exactly_the_size_pass() {
    // A line of exactly max_line bytes (line end excluded) is accepted.
    let event = format!("data: {}", chunk_json("edge"));
    let limits = Limits::default()
        .with_max_line(event.len())
        .with_max_event(event.len() - "data: ".len());
    let body = format!("{event}\n\ndata: [DONE]\n\n");
    let server = Server::start(move |conn: &mut Conn| {
        conn.start_sse().body(body.as_bytes()).end_chunks();
    });
    let client = builder(&server).limits(limits).build().unwrap();
    let mut stream = client.stream(&request()).unwrap();
    let (tokens, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens, ["edge"]);

    let tighter = limits.with_max_line(limits.max_line - 1);
    let body = format!("{event}\n\ndata: [DONE]\n\n");
    let mut stream =
        ChatStream::from_reader(std::io::Cursor::new(body), upstage::Flavor::Api, tighter);
    let (tokens, error) = drain(&mut stream);
    assert!(tokens.is_empty());
    assert_eq!(error.unwrap().kind(), ErrorKind::Limit);
}

/// A stream that sends `first` (chunk JSON), then `next(i)` for i = 0, 1, ... until the
/// client hangs up or `cap` bytes were written.
fn endless_chunks(
    first: String,
    next: impl Fn(u64) -> String + Send + Sync + 'static,
    cap: u64,
) -> Server {
    Server::start(move |conn: &mut Conn| {
        conn.start_sse().sse_data(&first);
        let mut written = 0;
        let mut i = 0;
        while !conn.client_gone() && written < cap {
            let event = format!("data: {}\n\n", next(i));
            conn.body(event.as_bytes());
            written += event.len() as u64;
            i += 1;
        }
    })
}

/// Drains `server`'s stream token by token under `limits`: the tokens, and the `Limit`
/// error that must end it (the connection released).
fn limit_error(server: &Server, limits: Limits) -> (Vec<String>, Error) {
    let client = client_with(server, limits);
    let mut stream = client.stream(&request()).unwrap();
    let (tokens, error) = drain(&mut stream);
    let error = error.expect("an endless stream into what is kept fails");
    assert_eq!(error.kind(), ErrorKind::Limit, "{error:?}");
    assert_eq!(error.http_status(), Some(200));
    drop(stream);
    assert!(server.wait_idle(secs(10)));
    (tokens, error)
}

/// [`limit_error`] with a 256 KiB budget for what is kept.
fn kept_limit(server: &Server) -> (Vec<String>, Error) {
    limit_error(server, Limits::default().with_max_assembled(256 * KIB))
}

#[test]
fn endless_text_of_another_choice_is_a_limit_error() {
    // Choice 0 says one word; choice 1 never stops. Token by token, only choice 0 is
    // handed out, but choice 1 is kept for the completion.
    let server = endless_chunks(
        r#"{"choices":[{"index":0,"delta":{"content":"before"}}]}"#.to_owned(),
        |_| {
            format!(
                r#"{{"choices":[{{"index":1,"delta":{{"content":"{}"}}}}]}}"#,
                "b".repeat(1000)
            )
        },
        256 * MIB,
    );
    let (tokens, error) = kept_limit(&server);
    assert_eq!(tokens, ["before"]);
    assert!(error.message().contains("completion"), "{error}");
}

#[test]
fn endless_tool_call_arguments_are_a_limit_error() {
    let server = endless_chunks(
        chunk_json("before"),
        |i| {
            let head = if i == 0 {
                r#""id":"call_1","function":{"name":"f","#
            } else {
                r#""function":{"#
            };
            format!(
                r#"{{"choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":0,{head}"arguments":"{}"}}}}]}}}}]}}"#,
                "a".repeat(1000)
            )
        },
        256 * MIB,
    );
    let (tokens, _) = kept_limit(&server);
    assert_eq!(tokens, ["before"]);
}

#[test]
fn endless_new_tool_calls_are_a_limit_error() {
    let server = endless_chunks(
        chunk_json("before"),
        |i| {
            format!(
                r#"{{"choices":[{{"index":0,"delta":{{"tool_calls":[{{"index":{i},"id":"call_{i}","function":{{"name":"f","arguments":"{{}}"}}}}]}}}}]}}"#
            )
        },
        256 * MIB,
    );
    // The default budget: the cap on calls per answer stops it first.
    let (tokens, error) = limit_error(&server, Limits::default());
    assert_eq!(tokens, ["before"]);
    assert!(error.message().contains("1024 tool calls"), "{error}");
}

#[test]
fn endless_new_choices_are_a_limit_error() {
    let server = endless_chunks(
        chunk_json("before"),
        |i| {
            format!(
                r#"{{"choices":[{{"index":{},"delta":{{"content":"x"}}}}]}}"#,
                i + 1
            )
        },
        256 * MIB,
    );
    let (tokens, error) = limit_error(&server, Limits::default());
    assert_eq!(tokens, ["before"]);
    assert!(error.message().contains("1024 choices"), "{error}");
}

#[test]
fn endless_log_probabilities_are_a_limit_error() {
    // Every chunk brings a token of choice 0 and its log probabilities: the tokens are
    // handed out, the log probabilities are kept.
    let server = endless_chunks(
        chunk_json("before"),
        |_| {
            r#"{"choices":[{"index":0,"delta":{"content":"t"},"logprobs":{"content":[{"token":"t","logprob":-0.5,"bytes":[116],"top_logprobs":[{"token":"t","logprob":-0.5,"bytes":[116]},{"token":"u","logprob":-1.5,"bytes":[117]}]}]}}]}"#.to_owned()
        },
        256 * MIB,
    );
    let (tokens, _) = kept_limit(&server);
    assert_eq!(tokens[0], "before");
    assert!(tokens[1..].iter().all(|t| t == "t"));
    assert!(tokens.len() > 100, "tokens were handed out until the limit");
}

#[test]
fn choice_zero_tokens_do_not_count_on_the_token_path() {
    // 4 MiB of choice 0's tokens against a 64 KiB budget: read token by token, nothing is
    // kept, so nothing is counted. Read as deltas, they are kept and counted.
    let tokens_json: Vec<String> = (0..4096).map(|_| chunk_json(&"x".repeat(1024))).collect();
    let body = |conn: &mut Conn, tokens: &[String]| {
        conn.start_sse();
        for token in tokens {
            conn.sse_data(token);
        }
        conn.sse_data(&finish_json("stop")).done().end_chunks();
    };
    let for_server = tokens_json.clone();
    let server = Server::start(move |conn: &mut Conn| body(conn, &for_server));
    let client = client_with(&server, Limits::default().with_max_assembled(64 * KIB));

    let mut stream = client.stream(&request()).unwrap();
    let (tokens, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens.len(), 4096);

    let error = client
        .stream(&request())
        .unwrap()
        .into_completion()
        .expect_err("a completion keeps the text");
    assert_eq!(error.kind(), ErrorKind::Limit, "{error:?}");
    assert!(
        client
            .stream(&request())
            .unwrap()
            .take(100)
            .all(|t| t.is_ok()),
        "the iterator hands tokens out without keeping them"
    );
}
