//! Self-tests of the test-support server, driven by raw `TcpStream`s.

mod support;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use support::*;

/// Connects to `server` with a 5 s read timeout.
fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.addr()).expect("connect");
    stream.set_read_timeout(Some(secs(5))).unwrap();
    stream
}

/// Connects and writes `request` verbatim.
fn send(server: &Server, request: &[u8]) -> TcpStream {
    let mut stream = connect(server);
    stream.write_all(request).unwrap();
    stream
}

/// A minimal POST with a Content-Length body.
fn post(body: &str) -> Vec<u8> {
    format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Reads until EOF (panics on error or after 5 s).
fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    stream.read_to_end(&mut out).expect("read to EOF");
    out
}

/// Reads until `needle` has been received (panics on EOF, error or timeout).
fn read_until(stream: &mut TcpStream, needle: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !out.windows(needle.len()).any(|w| w == needle) {
        let n = stream.read(&mut buf).expect("read");
        assert!(n > 0, "EOF before {needle:?}; got {:?}", text(&out));
        out.extend_from_slice(&buf[..n]);
    }
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `HTTP/1.1 200 OK` SSE head as written by `start_sse`.
const SSE_HEAD: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

/// The chunk framing of `data`.
fn framed(data: &str) -> String {
    format!("{:x}\r\n{data}\r\n", data.len())
}

#[test]
fn records_content_length_request_with_header_order_and_case() {
    let server = Server::start(|conn: &mut Conn| {
        conn.json_response(200, &[("X-Extra", "1")], r#"{"ok":true}"#);
    });
    let body = r#"{"model":"m","stream":true}"#;
    let request = format!(
        "POST /v1/chat/completions?x=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nauthorization: Bearer k\r\n\
         X-Custom:  spaced value  \r\nx-custom: second\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut client = send(&server, request.as_bytes());
    let response = read_until(&mut client, br#"{"ok":true}"#);
    assert_eq!(
        text(&response),
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Extra: 1\r\n\
         Content-Length: 11\r\n\r\n{\"ok\":true}"
    );

    let recorded = &server.requests()[0];
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.path, "/v1/chat/completions?x=1");
    assert_eq!(recorded.version, "HTTP/1.1");
    assert_eq!(
        recorded.header_names(),
        [
            "Host",
            "authorization",
            "X-Custom",
            "x-custom",
            "Content-Length"
        ]
    );
    assert_eq!(recorded.header("Authorization"), Some("Bearer k"));
    assert_eq!(recorded.header_all("X-CUSTOM"), ["spaced value", "second"]);
    assert_eq!(recorded.body_text(), body);
    assert!(!recorded.chunked);
    assert_eq!(recorded.json.as_ref().unwrap()["stream"], true);
    assert!(recorded
        .raw_head
        .starts_with(b"POST /v1/chat/completions?x=1 HTTP/1.1\r\n"));
    assert!(recorded.raw_head.ends_with(b"Content-Length: 27\r\n\r\n"));
    assert_eq!((recorded.attempt, recorded.connection), (1, 1));
}

#[test]
fn records_chunked_request_body_with_extensions_and_trailers() {
    let server = Server::start(serve_json(200, "{}"));
    let request =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
                   5;ext=1\r\n{\"a\":\r\nA\r\n\"0123456\"}\r\n0\r\nX-Trailer: t\r\n\r\n";
    let mut client = send(&server, request.as_bytes());
    read_until(&mut client, b"{}");

    let recorded = &server.requests()[0];
    assert!(recorded.chunked);
    assert_eq!(recorded.body_text(), r#"{"a":"0123456"}"#);
    assert_eq!(recorded.json.as_ref().unwrap()["a"], "0123456");
}

#[test]
fn answers_expect_continue_before_reading_the_body() {
    let server = Server::start(serve_json(200, "{}"));
    let mut client = send(
        &server,
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    );
    read_until(&mut client, b"HTTP/1.1 100 Continue\r\n\r\n");
    client.write_all(b"{}").unwrap();
    read_until(&mut client, b"\r\n\r\n{}");
    assert_eq!(server.requests()[0].body, b"{}");
}

#[test]
fn serve_tokens_writes_exact_chunked_sse_and_keeps_the_connection_alive() {
    let server = Server::start(serve_tokens(&["Hel", "lo"]));
    let mut client = send(&server, &post("{}"));
    let response = read_until(&mut client, b"0\r\n\r\n");
    let expected = [
        SSE_HEAD.to_owned(),
        framed(&format!("data: {}\n\n", chunk_json("Hel"))),
        framed(&format!("data: {}\n\n", chunk_json("lo"))),
        framed(&format!("data: {}\n\n", finish_json("stop"))),
        framed("data: [DONE]\n\n"),
        "0\r\n\r\n".to_owned(),
    ]
    .concat();
    assert_eq!(text(&response), expected);

    client.write_all(&post("{}")).unwrap();
    read_until(&mut client, b"0\r\n\r\n");
    assert!(server.wait_for_requests(2, secs(5)));
    let requests = server.requests();
    assert_eq!((requests[1].attempt, requests[1].connection), (2, 1));
    assert_eq!(server.connections(), 1);
}

#[test]
fn close_delimited_mode_writes_raw_body_and_closes() {
    let server = Server::start(
        Script::sse_close_delimited()
            .token("a")
            .trickle("data: x\n\n", 4, ms(1))
            .done()
            .handler(),
    );
    let mut client = send(&server, &post("{}"));
    let response = read_to_eof(&mut client);
    let expected = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n\
         data: {}\n\ndata: x\n\ndata: [DONE]\n\n",
        chunk_json("a")
    );
    assert_eq!(text(&response), expected);
}

#[test]
fn trickle_in_chunked_mode_writes_one_chunk_per_piece() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse().trickle(b"abcde", 2, ms(5)).end_chunks();
    });
    let mut client = send(&server, &post("{}"));
    let response = read_until(&mut client, b"0\r\n\r\n");
    let body = "2\r\nab\r\n2\r\ncd\r\n1\r\ne\r\n0\r\n\r\n";
    assert_eq!(text(&response), format!("{SSE_HEAD}{body}"));
}

#[test]
fn send_head_and_write_raw_are_byte_exact() {
    let server = Server::start(|conn: &mut Conn| {
        conn.send_head(418, &[("content-length", "3"), ("X-A", "b")])
            .write_raw(b"abc")
            .write_raw(b"garbage");
    });
    let mut client = send(&server, &post("{}"));
    let response = read_to_eof(&mut client);
    assert_eq!(
        text(&response),
        "HTTP/1.1 418 Unknown\r\ncontent-length: 3\r\nX-A: b\r\n\r\nabcgarbage"
    );
}

#[test]
fn reset_gives_the_client_econnreset() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse().sse_data("{}").sleep(ms(100)).reset();
    });
    let mut client = send(&server, &post("{}"));
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let error = loop {
        match client.read(&mut buf) {
            Ok(0) => panic!("EOF instead of a reset after {:?}", text(&got)),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break e,
        }
    };
    assert_eq!(error.kind(), io::ErrorKind::ConnectionReset);
    assert!(text(&got).ends_with("data: {}\n\n\r\n"));
}

#[test]
fn orderly_close_gives_the_client_eof() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse().sse_data("{}").close();
    });
    let mut client = send(&server, &post("{}"));
    let response = read_to_eof(&mut client);
    assert!(text(&response).ends_with("data: {}\n\n\r\n"));
}

#[test]
fn attempts_count_across_connections() {
    let fail = serve_json(503, &error_json("busy", "server_error"));
    let server = Server::start(fail_then(2, fail, serve_tokens(&["ok"])));
    let statuses: Vec<String> = (0..3)
        .map(|_| {
            let mut client = send(&server, &post("{}"));
            let head = read_until(&mut client, b"\r\n\r\n");
            text(&head).lines().next().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        statuses,
        [
            "HTTP/1.1 503 Service Unavailable",
            "HTTP/1.1 503 Service Unavailable",
            "HTTP/1.1 200 OK"
        ]
    );
    assert!(server.wait_for_requests(3, secs(5)));
    let attempts: Vec<_> = server.requests().iter().map(|r| r.attempt).collect();
    assert_eq!(attempts, [1, 2, 3]);
    assert_eq!(server.connections(), 3);
}

#[test]
fn dropping_the_server_does_not_hang() {
    let server = Server::start(|conn: &mut Conn| {
        if conn.attempt() == 1 {
            conn.stall();
        } else {
            conn.start_sse().hold_open(secs(60));
        }
    });
    let _stalled = send(&server, &post("{}"));
    let _held = send(&server, &post("{}"));
    let _silent = connect(&server);
    assert!(server.wait_for_requests(2, secs(5)));
    assert!(server.wait_for_connections(3, secs(5)));

    let started = Instant::now();
    drop(server);
    assert!(
        started.elapsed() < secs(3),
        "drop took {:?}",
        started.elapsed()
    );
}

#[test]
fn peer_closed_detects_the_client_going_away() {
    let server = Server::start(|conn: &mut Conn| {
        let early = conn.start_sse().peer_closed(ms(200));
        conn.note(format!("early: {early}"));
        let later = conn.sse_data("{}").peer_closed(secs(5));
        conn.note(format!("later: {later}"));
    });
    let mut client = send(&server, &post("{}"));
    assert!(server.wait_for_note("early: false", secs(5)));
    read_until(&mut client, b"data: {}\n\n\r\n");
    drop(client);
    assert!(server.wait_for_note("later: true", secs(5)));
}

#[test]
fn writes_to_a_departed_client_are_recorded_not_fatal() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse();
        for _ in 0..500 {
            if conn.client_gone() {
                break;
            }
            conn.sse_data("{}").sleep(ms(5));
        }
        let kind = conn.write_error();
        conn.note(format!("{kind:?}"));
        conn.note(format!("gone: {}", conn.client_gone()));
    });
    let client = send(&server, &post("{}"));
    assert!(server.wait_for_requests(1, secs(5)));
    drop(client);
    assert!(server.wait_for_note("gone: true", secs(10)));
    let kind = server.notes()[0].clone();
    assert!(
        kind.contains("BrokenPipe") || kind.contains("ConnectionReset"),
        "{kind}"
    );
    assert_eq!(server.write_failures(), 1);
}

#[test]
fn stall_handler_writes_nothing() {
    let server = Server::start(stall());
    let mut client = send(&server, &post("{}"));
    client.set_read_timeout(Some(ms(300))).unwrap();
    let error = client.read(&mut [0u8; 16]).expect_err("no bytes expected");
    assert!(matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ));
}

#[test]
fn handler_panics_are_surfaced() {
    let server = Server::start(|_: &mut Conn| panic!("boom"));
    let mut client = send(&server, &post("{}"));
    assert_eq!(read_to_eof(&mut client), b"");
    assert!(server.wait_idle(secs(5)));
    let raised = std::panic::catch_unwind(|| server.assert_no_handler_panics());
    assert!(raised.is_err());
    let panics = server.take_handler_panics();
    assert_eq!(panics, ["attempt 1: boom"]);
}

#[test]
fn malformed_requests_are_recorded_as_protocol_errors() {
    let server = Server::start(serve_json(200, "{}"));
    let mut client = send(&server, b"NONSENSE\r\n\r\n");
    assert_eq!(read_to_eof(&mut client), b"");
    assert!(server.wait_idle(secs(5)));
    assert_eq!(server.request_count(), 0);
    assert_eq!(server.protocol_errors().len(), 1);
}

#[test]
fn waits_time_out() {
    let server = Server::start(serve_json(200, "{}"));
    let started = Instant::now();
    assert!(!server.wait_for_requests(1, ms(100)));
    assert!(!server.wait_for_note("never", ms(100)));
    assert!(started.elapsed() >= ms(200));
}

#[test]
fn urls_point_at_the_server() {
    let server = Server::start(serve_json(200, "{}"));
    let port = server.port();
    assert_eq!(server.url(), format!("http://127.0.0.1:{port}"));
    assert_eq!(server.base(), format!("http://127.0.0.1:{port}/v1"));
}

#[test]
fn canned_json_is_valid_openai_chunks() {
    let tricky = "he said \"hi\"\n\\ \u{1F600}";
    let chunk: serde_json::Value = serde_json::from_str(&chunk_json(tricky)).unwrap();
    assert_eq!(chunk["object"], "chat.completion.chunk");
    assert_eq!(chunk["choices"][0]["delta"]["content"], tricky);
    assert!(chunk["choices"][0]["finish_reason"].is_null());

    let role: serde_json::Value = serde_json::from_str(&role_json()).unwrap();
    assert_eq!(role["choices"][0]["delta"]["role"], "assistant");
    assert_eq!(role["choices"][0]["delta"]["content"], "");

    let finish: serde_json::Value = serde_json::from_str(&finish_json("length")).unwrap();
    assert_eq!(finish["choices"][0]["finish_reason"], "length");

    let usage: serde_json::Value = serde_json::from_str(&usage_json(3, 4)).unwrap();
    assert_eq!(usage["choices"].as_array().unwrap().len(), 0);
    assert_eq!(usage["usage"]["total_tokens"], 7);

    let error: serde_json::Value =
        serde_json::from_str(&error_json("bad \"key\"", "auth")).unwrap();
    assert_eq!(error["error"]["message"], "bad \"key\"");
}

#[test]
fn refused_port_refuses() {
    let error = TcpStream::connect(("127.0.0.1", refused_port())).expect_err("refused");
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn process_gauges_read_proc() {
    assert!(rss_kib() > 0);
    let before = open_fds();
    let file = std::fs::File::open("/proc/self/status").unwrap();
    assert!(open_fds() > before);
    drop(file);
}

#[test]
fn reason_phrases_cover_common_statuses() {
    assert_eq!(reason(429), "Too Many Requests");
    assert_eq!(reason(599), "Unknown");
    let _ = (REQUEST_TIMEOUT, STALL_LIMIT, Duration::ZERO);
}
