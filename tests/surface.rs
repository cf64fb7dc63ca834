//! The request and response surface against loopback servers: custom headers and query
//! parameters, per-request overrides, response headers and rate limits, timings, the debug
//! log (never a credential), recording and replay, DNS failures.

mod support;

use std::io::{Cursor, Write};
use std::sync::{Arc, Mutex};

use support::*;
use upstage::{
    CancelHandle, ChatRequest, ChatStream, ClientBuilder, ErrorKind, Flavor, Limits, Message,
    TimeoutPhase,
};

/// The rate-limit headers of an OpenAI-compatible server, plus a custom one and a cookie.
const LIMIT_HEADERS: [(&str, &str); 9] = [
    ("Content-Type", "text/event-stream"),
    ("Transfer-Encoding", "chunked"),
    ("X-Request-Id", "req-42"),
    ("x-ratelimit-limit-requests", "100"),
    ("x-ratelimit-remaining-requests", "97"),
    ("x-ratelimit-reset-requests", "1.5s"),
    ("x-ratelimit-remaining-tokens", "4990"),
    ("x-ratelimit-reset-tokens", "6m0s"),
    ("Set-Cookie", "session=cookie-secret"),
];

fn limited_stream(tokens: &'static [&'static str]) -> impl Fn(&mut Conn) + Send + Sync {
    move |conn: &mut Conn| {
        conn.send_head(200, &LIMIT_HEADERS);
        for token in tokens {
            conn.sse_data(&chunk_json(token));
        }
        conn.sse_data(&finish_json("stop")).done().end_chunks();
    }
}

#[test]
fn custom_headers_and_query_parameters_reach_the_server() {
    let server = Server::start(serve_tokens(&["ok"]));
    let client = ClientBuilder::new()
        .base_url(format!("{}?api-version=2024-10-21", server.base()))
        .api_key("client-key")
        .header("HTTP-Referer", "https://example.com/app")
        .header("X-Title", "client title")
        .header("User-Agent", "my-app/2.0")
        .query("team", "a b&c")
        .max_retries(0)
        .build()
        .unwrap();
    let request = hi_request()
        .header("x-title", "request title")
        .header("Authorization", "Basic dXNlcjpwYXNz")
        .header("X-Trace", "t-1")
        .query("trace", "on");
    let mut stream = client.stream(&request).unwrap();
    let (tokens, error) = drain_tokens(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens, ["ok"]);

    let sent = &server.requests()[0];
    assert_eq!(
        sent.path,
        "/v1/chat/completions?api-version=2024-10-21&team=a%20b%26c&trace=on"
    );
    assert_eq!(sent.header("http-referer"), Some("https://example.com/app"));
    // A request header replaces the client's of the same name, whatever its case.
    assert_eq!(sent.header_all("x-title"), ["request title"]);
    assert_eq!(sent.header_all("user-agent"), ["my-app/2.0"]);
    assert_eq!(sent.header_all("authorization"), ["Basic dXNlcjpwYXNz"]);
    assert_eq!(sent.header("x-trace"), Some("t-1"));
    assert_eq!(sent.header("accept"), Some("text/event-stream"));
}

#[test]
fn bad_headers_fail_before_anything_is_sent() {
    let server = Server::start(serve_tokens(&["never"]));
    for (name, value) in [
        ("X-Bad", "a\r\nInjected: yes"),
        ("X-Bad\n", "v"),
        ("X-Nul", "a\0b"),
        ("Content-Length", "1"),
        ("Host", "elsewhere"),
        ("transfer-encoding", "chunked"),
    ] {
        let err = ClientBuilder::new()
            .base_url(server.base())
            .header(name, value)
            .build()
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{name:?}");
        let err = client_for(&server)
            .stream(&hi_request().header(name, value))
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{name:?}");
        let err = client_for(&server)
            .complete(&hi_request().header(name, value))
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{name:?}");
    }
    let err = client_for(&server)
        .stream(&hi_request().query("", "x"))
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(server.request_count(), 0);
}

#[test]
fn response_headers_and_rate_limits_on_streams() {
    let server = Server::start(limited_stream(&["a", "b"]));
    let mut stream = client_for(&server).stream(&hi_request()).unwrap();
    assert_eq!(stream.headers().get("x-request-id"), Some("req-42"));
    assert_eq!(stream.header("X-Request-Id"), Some("req-42"));
    assert_eq!(
        stream.headers().get("X-RATELIMIT-LIMIT-REQUESTS"),
        Some("100")
    );
    let limits = stream.rate_limit().expect("rate-limit headers were sent");
    let requests = limits.requests.unwrap();
    assert_eq!(requests.limit, Some(100));
    assert_eq!(requests.remaining, Some(97));
    assert_eq!(requests.reset, Some(ms(1500)));
    let tokens = limits.tokens.unwrap();
    assert_eq!((tokens.limit, tokens.remaining), (None, Some(4990)));
    assert_eq!(tokens.reset, Some(secs(360)));
    drain_tokens(&mut stream);

    // A server without them: no rate limits, still headers.
    let plain = Server::start(serve_tokens(&["x"]));
    let stream = client_for(&plain).stream(&hi_request()).unwrap();
    assert!(stream.rate_limit().is_none());
    assert_eq!(
        stream.headers().get("content-type"),
        Some("text/event-stream")
    );
}

#[test]
fn response_headers_on_completions_and_http_errors() {
    let server = Server::start(|conn: &mut Conn| {
        conn.json_response(
            200,
            &[("x-ratelimit-remaining-requests", "5"), ("X-Custom", "yes")],
            r#"{"choices":[{"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}]}"#,
        );
    });
    let completion = client_for(&server).complete(&hi_request()).unwrap();
    assert_eq!(completion.content, "whole");
    let t = completion.timings;
    let (headers, content, end) = (t.headers.unwrap(), t.first_content.unwrap(), t.end.unwrap());
    assert!(headers <= content && content <= end, "{t:?}");
    assert!(t.bytes > 0 && t.content_tokens == 1, "{t:?}");
    assert_eq!(completion.headers.get("x-custom"), Some("yes"));
    assert_eq!(completion.header("X-Custom"), Some("yes"));
    assert_eq!(
        completion.rate_limit().unwrap().requests.unwrap().remaining,
        Some(5)
    );

    let limited = Server::start(|conn: &mut Conn| {
        conn.json_response(
            429,
            &[
                ("x-ratelimit-remaining-tokens", "0"),
                ("x-ratelimit-reset-tokens", "20ms"),
                ("x-request-id", "req-429"),
            ],
            r#"{"error":{"message":"slow down","type":"rate_limit","code":"tpm"}}"#,
        );
    });
    let err = client_for(&limited).stream(&hi_request()).err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Http);
    let headers = err.headers().expect("an HTTP error keeps its headers");
    assert_eq!(headers.get("x-request-id"), Some("req-429"));
    assert_eq!(err.header("X-Request-Id"), Some("req-429"));
    let tokens = err.rate_limit().unwrap().tokens.unwrap();
    assert_eq!((tokens.remaining, tokens.reset), (Some(0), Some(ms(20))));
    // Errors that never saw a response have none.
    let refused = ClientBuilder::new()
        .base_url(format!("http://127.0.0.1:{}/v1", refused_port()))
        .max_retries(0)
        .build()
        .unwrap();
    let err = refused.stream(&hi_request()).err().unwrap();
    assert!(err.headers().is_none());
}

#[test]
fn per_request_retries_and_timeouts_override_the_clients() {
    let busy_once = || {
        Server::start(fail_then(
            1,
            serve_json(503, r#"{"error":{"message":"busy"}}"#),
            serve_tokens(&["after retry"]),
        ))
    };
    // The client never retries; this request may, once.
    let server = busy_once();
    let err = client_for(&server).stream(&hi_request()).err().unwrap();
    assert_eq!(err.http_status(), Some(503));
    let server = busy_once();
    let mut stream = client_for(&server)
        .stream(&hi_request().max_retries(1))
        .unwrap();
    assert_eq!(drain_tokens(&mut stream).0, ["after retry"]);
    assert_eq!(stream.attempts(), 2);

    let silent = Server::start(stall());
    let err = client_for(&silent)
        .stream(&hi_request().headers_timeout(Some(ms(200))))
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.timeout_phase(), Some(TimeoutPhase::Headers));
}

#[test]
fn timings_and_counts_of_a_stream() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse();
        conn.sse_data(&delta_json(r#"{"reasoning_content":"think"}"#, "null"));
        for token in ["a", "b", "c"] {
            conn.sse_data(&chunk_json(token));
        }
        conn.sse_data(&finish_json("stop")).done().end_chunks();
    });
    let mut stream = client_for(&server).stream(&hi_request()).unwrap();
    let before = stream.timings();
    assert!(before.headers.is_some() && before.first_content.is_none());
    while let Some(delta) = stream.next_delta() {
        delta.unwrap();
    }
    let t = stream.timings();
    let (headers, reasoning, content, end) = (
        t.headers.unwrap(),
        t.first_reasoning.unwrap(),
        t.first_content.unwrap(),
        t.end.unwrap(),
    );
    assert!(
        headers <= reasoning && reasoning <= content && content <= end,
        "{t:?}"
    );
    assert_eq!((t.content_tokens, t.reasoning_tokens), (3, 1));
    assert_eq!(t.bytes, stream.bytes_received());
    assert!(t.bytes > 0);
}

/// The log writer is global to the process: the tests that install one take turns.
static LOG_WRITER: Mutex<()> = Mutex::new(());

/// Every log line the client wrote while `f` ran.
fn log_lines(f: impl FnOnce()) -> Vec<String> {
    let _turn = LOG_WRITER.lock().unwrap_or_else(|p| p.into_inner());
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    upstage::set_debug_log_writer(Some(Box::new(move |line: &str| {
        sink.lock().unwrap().push(line.to_owned());
    })));
    f();
    upstage::set_debug_log_writer(None);
    let lines = lines.lock().unwrap().clone();
    lines
}

#[test]
fn the_debug_log_tells_what_happened_and_never_a_credential() {
    let server = Server::start(fail_then(
        1,
        serve_json(503, r#"{"error":{"message":"busy"}}"#),
        limited_stream(&["hi"]),
    ));
    let lines = log_lines(|| {
        let client = ClientBuilder::new()
            .base_url(server.base())
            .api_key("sk-the-api-key-1234")
            .header("api-key", "azure-key-5678")
            .query("key", "query-key-9012")
            .debug_log(true)
            .max_retries(1)
            .build()
            .unwrap();
        let request = hi_request().header("Authorization", "Bearer request-token-3456");
        let mut stream = client.stream(&request).unwrap();
        drain_tokens(&mut stream);
        // A proxy with a password (nothing listens there: the attempt fails to connect).
        let proxied = ClientBuilder::new()
            .base_url(server.base())
            .proxy(upstage::Proxy::Url(format!(
                "http://user:proxy-pass-7890@127.0.0.1:{}",
                refused_port()
            )))
            .debug_log(true)
            .max_retries(0)
            .build()
            .unwrap();
        assert!(proxied.stream(&hi_request()).is_err());
    });
    let all = lines.join("\n");
    for secret in [
        "sk-the-api-key-1234",
        "azure-key-5678",
        "query-key-9012",
        "request-token-3456",
        "proxy-pass-7890",
        "cookie-secret",
    ] {
        assert!(
            !all.contains(secret),
            "{secret} leaked into the log:\n{all}"
        );
    }
    let has = |needle: &str| all.contains(needle);
    assert!(has("POST http://127.0.0.1:"), "request line:\n{all}");
    assert!(has("503"), "status:\n{all}");
    assert!(has("retry"), "the wait and why:\n{all}");
    assert!(has("200"), "final status:\n{all}");
    assert!(has("first content"), "timings:\n{all}");
    assert!(has("connection"), "pool use:\n{all}");
    assert!(
        has("proxy http://user:<redacted>@127.0.0.1:"),
        "proxy:\n{all}"
    );
}

#[test]
fn the_log_is_off_unless_asked() {
    let server = Server::start(serve_tokens(&["quiet"]));
    let marker = format!("127.0.0.1:{}", server.port());
    let lines = log_lines(|| {
        let client = ClientBuilder::new()
            .base_url(server.base())
            .debug_log(false)
            .build()
            .unwrap();
        drain_tokens(&mut client.stream(&hi_request()).unwrap());
    });
    assert!(!lines.iter().any(|l| l.contains(&marker)), "{lines:?}");
}

/// A `Write` the test reads back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_recorded_stream_replays_identically_without_network() {
    let server = Server::start(limited_stream(&["Hel", "lo", " ✓"]));
    let file = Shared::default();
    let client = ClientBuilder::new()
        .base_url(server.base())
        .api_key("sk-never-recorded")
        .max_retries(0)
        .build()
        .unwrap();
    let mut live = client
        .stream_recorded(&hi_request(), file.clone(), &CancelHandle::new())
        .unwrap();
    let (live_tokens, live_error) = drain_tokens(&mut live);
    assert!(live_error.is_none(), "{live_error:?}");
    let recorded = file.0.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&recorded).into_owned();
    assert!(text.starts_with("upstage-recording/1 200 OK\n"), "{text}");
    assert!(!text.contains("sk-never-recorded") && !text.contains("cookie-secret"));
    assert!(text.contains("x-ratelimit-remaining-requests: 97\n"));

    let mut replayed =
        ChatStream::replay(Cursor::new(recorded), Flavor::Api, Limits::default()).unwrap();
    let (replayed_tokens, replayed_error) = drain_tokens(&mut replayed);
    assert!(replayed_error.is_none(), "{replayed_error:?}");
    assert_eq!(replayed_tokens, live_tokens);
    assert_eq!(replayed.request_id(), Some("req-42"));
    assert_eq!(replayed.finish_reason(), Some("stop"));
    assert_eq!(replayed.rate_limit(), live.rate_limit());
}

#[test]
fn a_recorded_http_error_replays_as_the_same_error() {
    let server = Server::start(serve_json(
        401,
        r#"{"error":{"message":"bad key","type":"auth","code":"invalid_api_key"}}"#,
    ));
    let file = Shared::default();
    let err = client_for(&server)
        .stream_recorded(&hi_request(), file.clone(), &CancelHandle::new())
        .err()
        .unwrap();
    let recorded = file.0.lock().unwrap().clone();
    let replayed = ChatStream::replay(Cursor::new(recorded), Flavor::Api, Limits::default())
        .err()
        .unwrap();
    assert_eq!(replayed.kind(), ErrorKind::Http);
    assert_eq!(replayed.message(), err.message());
    assert_eq!(replayed.http_status(), Some(401));
    assert_eq!(replayed.api_code(), Some("invalid_api_key"));
}

#[test]
fn the_shipped_recording_replays() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/recordings/upstage-solar.rec"
    );
    let file = std::fs::File::open(path).unwrap();
    let mut stream = ChatStream::replay(file, Flavor::Api, Limits::default()).unwrap();
    let (tokens, error) = drain_tokens(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert!(tokens.concat().contains("the sky looks blue"), "{tokens:?}");
    assert_eq!(stream.finish_reason(), Some("stop"));
    assert_eq!(stream.usage().unwrap().total_tokens, 42);
    assert!(stream.rate_limit().unwrap().tokens.is_some());
}

#[test]
fn an_unresolvable_host_is_a_connect_error() {
    // A 64-byte label is longer than DNS allows (63): the resolver refuses the name
    // without sending a query, so this test never touches the network.
    let client = ClientBuilder::new()
        .base_url(format!("http://{}.example/v1", "a".repeat(64)))
        .proxy(upstage::Proxy::Disabled)
        .max_retries(0)
        .build()
        .unwrap();
    let err = client
        .stream(&ChatRequest::new("m").message(Message::user("hi")))
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err}");
}
