//! Limits provoked for real: an endless line, an endless event of short `data:` lines, a
//! huge error body, a huge JSON answer and huge response headers, each a `Limit` error
//! with the tokens before it kept and the connection released. The memory these cost is
//! measured in `memory.rs`, which runs alone.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use support::*;
use upstage::{ChatRequest, ChatStream, Client, Error, ErrorKind, Limits};

fn request() -> ChatRequest {
    hi_request()
}

fn drain(stream: &mut ChatStream) -> (Vec<String>, Option<Error>) {
    drain_tokens(stream)
}

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
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
        .limits(limits)
        .max_retries(0)
        .build()
        .unwrap();
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
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
        .limits(limits)
        .max_retries(0)
        .build()
        .unwrap();
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
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
        .max_retries(0)
        .build()
        .unwrap();
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
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
        .max_retries(1)
        .build()
        .unwrap();
    let mut stream = client.stream(&request()).unwrap();
    assert_eq!(stream.attempts(), 2);
    assert_eq!(drain(&mut stream).0, ["recovered"]);
}

#[test]
fn a_small_error_body_limit_is_honoured() {
    let body = format!("{{\"error\":{{\"message\":\"{}\"}}}}", "m".repeat(4000));
    let server = Server::start(serve_json(400, &body));
    let limits = Limits::default().with_max_error_body(1000);
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
        .limits(limits)
        .build()
        .unwrap();
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
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
        .limits(limits)
        .max_retries(0)
        .build()
        .unwrap();
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
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
        .max_retries(0)
        .build()
        .unwrap();
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
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
        .limits(limits)
        .build()
        .unwrap();
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
