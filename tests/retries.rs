//! Retries provoked for real against a loopback server: which failures are retried (5xx,
//! 408, 409, 429, resets and closes before the response, connect failures), which are not
//! (4xx, quota, anything after the first token), how long the client waits (`Retry-After`,
//! `retry-after-ms`, backoff), and `x-should-retry`. Each test counts the requests the
//! server saw and checks the exact error kind.

mod support;

use std::time::Instant;

use support::*;
use upstage::{Client, ErrorKind, TimeoutPhase};

// ---- retries --------------------------------------------------------------------

#[test]
fn a_500_then_ok_is_retried_once() {
    let server = Server::start(fail_then(
        1,
        serve_json(500, &error_json("try again", "server_error")),
        serve_tokens(&["ok"]),
    ));
    let client = builder(&server).build().unwrap();
    let started = Instant::now();
    let mut stream = client.stream(&request()).unwrap();
    assert_eq!(stream.attempts(), 2);
    let (tokens, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens, ["ok"]);
    assert_eq!(server.request_count(), 2);
    // The default backoff before the first retry: 0.5 s minus up to 25 % jitter.
    assert!(started.elapsed() >= ms(350), "{:?}", started.elapsed());
}

#[test]
fn the_default_is_two_retries_with_growing_backoff() {
    let server = Server::start(serve_json(502, &error_json("bad gateway", "server_error")));
    let client = builder(&server).build().unwrap();
    let started = Instant::now();
    let (_, error, attempts) = run_stream(&client);
    let error = assert_kind(&error, ErrorKind::Http);
    assert_eq!(error.http_status(), Some(502));
    assert_eq!(error.message(), "HTTP 502: bad gateway");
    assert_eq!(attempts, 3);
    assert_eq!(server.request_count(), 3);
    // 0.5 s + 1 s, each minus up to 25 % jitter.
    assert!(started.elapsed() >= ms(1100), "{:?}", started.elapsed());
}

#[test]
fn a_429_with_retry_after_waits_that_long() {
    let server = Server::start(fail_then(
        1,
        |conn: &mut Conn| {
            conn.json_response(
                429,
                &[("Retry-After", "1")],
                &error_json("slow down", "rate_limit"),
            );
        },
        serve_tokens(&["after", " a", " pause"]),
    ));
    let client = builder(&server).build().unwrap();
    let started = Instant::now();
    let mut stream = client.stream(&request()).unwrap();
    let waited = started.elapsed();
    assert_eq!(stream.attempts(), 2);
    assert!(waited >= ms(950), "waited {waited:?}");
    assert!(waited < secs(30), "waited {waited:?}");
    let (tokens, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens.concat(), "after a pause");
}

#[test]
fn a_429_for_insufficient_quota_is_not_retried() {
    let body = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
    let server = Server::start(serve_json(429, body));
    let client = builder(&server).build().unwrap();
    let (_, error, attempts) = run_stream(&client);
    let error = assert_kind(&error, ErrorKind::Http);
    assert_eq!(error.http_status(), Some(429));
    assert_eq!(error.api_code(), Some("insufficient_quota"));
    assert!(error.message().contains("quota"), "{error}");
    assert_eq!(attempts, 1);
    assert_eq!(server.request_count(), 1);
}

#[test]
fn a_503_asking_for_300_seconds_fails_at_once_and_says_so() {
    let server = Server::start(|conn: &mut Conn| {
        conn.json_response(
            503,
            &[("retry-after", "300")],
            &error_json("overloaded", "server_error"),
        );
    });
    let client = builder(&server).build().unwrap();
    let started = Instant::now();
    let (_, error, attempts) = run_stream(&client);
    assert!(started.elapsed() < secs(60), "it must not wait 300 s");
    let error = assert_kind(&error, ErrorKind::Http);
    assert_eq!(error.http_status(), Some(503));
    assert_eq!(error.retry_after(), Some(secs(300)));
    assert!(error.message().contains("overloaded"), "{error}");
    assert!(
        error.message().contains("300"),
        "the wait is reported: {error}"
    );
    assert_eq!(attempts, 1);
    assert_eq!(server.request_count(), 1);
}

#[test]
fn retry_after_ms_wins_over_retry_after() {
    let server = Server::start(fail_then(
        1,
        |conn: &mut Conn| {
            conn.json_response(
                503,
                &[("retry-after-ms", "250"), ("retry-after", "100")],
                &error_json("busy", "server_error"),
            );
        },
        serve_tokens(&["x"]),
    ));
    let client = builder(&server).build().unwrap();
    let started = Instant::now();
    let stream = client.stream(&request()).unwrap();
    let waited = started.elapsed();
    assert_eq!(stream.attempts(), 2);
    assert!(waited >= ms(200), "waited {waited:?}");
    assert!(
        waited < secs(60),
        "retry-after: 100 must not be used: {waited:?}"
    );
}

#[test]
fn retry_after_as_an_http_date_in_the_past_retries_at_once() {
    let server = Server::start(fail_then(
        1,
        |conn: &mut Conn| {
            conn.json_response(
                429,
                &[("Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT")],
                &error_json("later", "rate_limit"),
            );
        },
        serve_tokens(&["x"]),
    ));
    let client = builder(&server).build().unwrap();
    let stream = client.stream(&request()).unwrap();
    assert_eq!(stream.attempts(), 2);
}

#[test]
fn x_should_retry_false_stops_a_500_from_being_retried() {
    let server = Server::start(|conn: &mut Conn| {
        conn.json_response(
            500,
            &[("x-should-retry", "false")],
            &error_json("no", "server_error"),
        );
    });
    let client = builder(&server).build().unwrap();
    let (_, error, attempts) = run_stream(&client);
    let error = assert_kind(&error, ErrorKind::Http);
    assert_eq!(error.http_status(), Some(500));
    assert_eq!(attempts, 1);
    assert_eq!(server.request_count(), 1);
}

#[test]
fn x_should_retry_true_retries_a_400() {
    let server = Server::start(fail_then(
        1,
        |conn: &mut Conn| {
            conn.json_response(
                400,
                &[("x-should-retry", "true"), ("retry-after-ms", "10")],
                &error_json("flaky", "invalid_request_error"),
            );
        },
        serve_tokens(&["y"]),
    ));
    let client = builder(&server).build().unwrap();
    let stream = client.stream(&request()).unwrap();
    assert_eq!(stream.attempts(), 2);
}

#[test]
fn a_400_is_not_retried() {
    let server = Server::start(serve_json(400, &error_json("bad", "invalid_request_error")));
    let client = builder(&server).build().unwrap();
    let (_, error, attempts) = run_stream(&client);
    assert_eq!(
        assert_kind(&error, ErrorKind::Http).http_status(),
        Some(400)
    );
    assert_eq!(attempts, 1);
    assert_eq!(server.request_count(), 1);
}

#[test]
fn a_refused_port_is_a_connect_error_after_every_retry() {
    let port = refused_port();
    let client = Client::builder()
        .base_url(format!("http://127.0.0.1:{port}/v1"))
        .proxy(upstage::Proxy::Disabled)
        .max_retries(2)
        .build()
        .unwrap();
    let (_, error, attempts) = run_stream(&client);
    let error = assert_kind(&error, ErrorKind::Connect);
    assert!(error.message().contains("connect"), "{error}");
    assert_eq!(attempts, 3);
    assert_eq!(error.attempts(), 3);
}

#[test]
fn max_retries_zero_tries_once() {
    let port = refused_port();
    let client = Client::builder()
        .base_url(format!("http://127.0.0.1:{port}/v1"))
        .proxy(upstage::Proxy::Disabled)
        .max_retries(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let (_, error, attempts) = run_stream(&client);
    assert_kind(&error, ErrorKind::Connect);
    assert_eq!(attempts, 1);
    assert!(started.elapsed() < secs(5));

    let server = Server::start(serve_json(500, &error_json("down", "server_error")));
    let client = builder(&server).max_retries(0).build().unwrap();
    let (_, error, attempts) = run_stream(&client);
    assert_eq!(
        assert_kind(&error, ErrorKind::Http).http_status(),
        Some(500)
    );
    assert_eq!(attempts, 1);
    assert_eq!(server.request_count(), 1);
}

#[test]
fn a_reset_before_the_response_is_retried() {
    let server = Server::start(fail_then(
        1,
        |conn: &mut Conn| {
            conn.reset();
        },
        serve_tokens(&["again"]),
    ));
    let client = builder(&server).build().unwrap();
    let mut stream = client.stream(&request()).unwrap();
    assert_eq!(stream.attempts(), 2);
    assert_eq!(drain(&mut stream).0, ["again"]);
}

#[test]
fn nothing_is_retried_after_the_first_token() {
    let server = Server::start(Script::sse().role().token("half").reset().handler());
    let client = builder(&server).max_retries(3).build().unwrap();
    let (tokens, error, attempts) = run_stream(&client);
    assert_eq!(tokens, ["half"]);
    assert_kind(&error, ErrorKind::Truncated);
    assert_eq!(attempts, 1);
    assert_eq!(server.request_count(), 1);
    assert_released(&server);
}

#[test]
fn a_408_and_a_409_are_retried() {
    let server = Server::start(|conn: &mut Conn| match conn.attempt() {
        1 => {
            conn.json_response(
                408,
                &[("retry-after-ms", "10")],
                &error_json("timeout", "server_error"),
            );
        }
        2 => {
            conn.json_response(
                409,
                &[("retry-after-ms", "10")],
                &error_json("conflict", "server_error"),
            );
        }
        _ => serve_tokens(&["third", " time"])(conn),
    });
    let client = builder(&server).build().unwrap();
    let mut stream = client.stream(&request()).unwrap();
    assert_eq!(stream.attempts(), 3);
    assert_eq!(drain(&mut stream).0.concat(), "third time");
    drop(stream);
    // Read to their ends, the error responses left the connection reusable: the client
    // keeps it for the next request until the client goes.
    drop(client);
    assert_released(&server);
}

#[test]
fn http_errors_release_the_connection() {
    let server = Server::start(|conn: &mut Conn| {
        conn.json_response(401, &[], &error_json("bad key", "authentication_error"));
    });
    let client = builder(&server).build().unwrap();
    for _ in 0..3 {
        let error = client.stream(&request()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Http);
        assert_eq!(error.http_status(), Some(401));
        assert_eq!(error.message(), "HTTP 401: bad key");
    }
    // Each error body was read to its end, so one connection served all three.
    assert_eq!(server.connections(), 1);
    drop(client);
    assert_released(&server);
}

#[test]
fn a_close_before_the_response_is_retried() {
    let server = Server::start(fail_then(
        2,
        |conn: &mut Conn| {
            conn.close();
        },
        serve_tokens(&["third"]),
    ));
    let client = builder(&server).build().unwrap();
    let mut stream = client.stream(&request()).unwrap();
    assert_eq!(stream.attempts(), 3);
    assert_eq!(drain(&mut stream).0, ["third"]);

    let server = Server::start(|conn: &mut Conn| {
        conn.close();
    });
    let client = builder(&server).max_retries(0).build().unwrap();
    let (_, error, attempts) = run_stream(&client);
    let error = assert_kind(&error, ErrorKind::Io);
    assert_eq!(error.http_status(), None);
    assert_eq!(attempts, 1);
}

// ---- the non-streaming call shares the same machinery -------------------------------

#[test]
fn complete_retries_and_times_out_like_stream() {
    let answer = r#"{"id":"c","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}]}"#;
    let server = Server::start(fail_then(
        1,
        |conn: &mut Conn| {
            conn.json_response(
                503,
                &[("retry-after-ms", "10")],
                &error_json("busy", "server_error"),
            );
        },
        serve_json(200, answer),
    ));
    let client = builder(&server).build().unwrap();
    let completion = client.complete(&request()).unwrap();
    assert_eq!(completion.content, "whole");
    assert_eq!(server.request_count(), 2);

    let server = Server::start(|conn: &mut Conn| {
        conn.send_head(
            200,
            &[
                ("Content-Type", "application/json"),
                ("Content-Length", "300"),
            ],
        )
        .write_raw(b"{\"choices\":")
        .stall();
    });
    let client = builder(&server)
        .idle_timeout(Some(ms(300)))
        .max_retries(0)
        .build()
        .unwrap();
    let outcome = bounded(secs(20), move || client.complete(&request()).map(|_| ()));
    let error = outcome.expect("complete() hung").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:?}");
    assert_eq!(error.timeout_phase(), Some(TimeoutPhase::Idle));
    assert_released(&server);
}
