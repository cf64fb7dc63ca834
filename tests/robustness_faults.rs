//! Faults provoked for real against a loopback server: timeouts, retries and
//! cancellation. Each test checks the exact error kind, the tokens delivered before the
//! fault, and that the connection was released (the server sees the client go away).
//!
//! Timeouts are short (100–500 ms); elapsed times are only checked against generous
//! bounds so that a loaded 2-core machine does not make the tests flaky.

mod support;

use std::net::{SocketAddr, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};
use std::thread;
use std::time::Instant;

use support::*;
use upstage::{
    CancelHandle, ChatRequest, ChatStream, Client, ClientBuilder, Error, ErrorKind, TimeoutPhase,
};

fn request() -> ChatRequest {
    hi_request()
}

/// A client for `server`, never through a proxy from the environment.
fn builder(server: &Server) -> ClientBuilder {
    Client::builder().base_url(server.base()).proxy(None)
}

fn drain(stream: &mut ChatStream) -> (Vec<String>, Option<Error>) {
    drain_tokens(stream)
}

/// Opens a stream and reads it to its end; an error while opening has no tokens.
fn run(client: &Client) -> (Vec<String>, Option<Error>, u32) {
    match client.stream(&request()) {
        Ok(mut stream) => {
            let (tokens, error) = drain(&mut stream);
            (tokens, error, stream.attempts())
        }
        Err(e) => {
            let attempts = e.attempts();
            (Vec::new(), Some(e), attempts)
        }
    }
}

fn assert_kind(error: &Option<Error>, kind: ErrorKind) -> &Error {
    let error = error
        .as_ref()
        .unwrap_or_else(|| panic!("expected {kind:?}, got success"));
    assert_eq!(error.kind(), kind, "{error:?}");
    error
}

/// The server's connection threads all ended: the client closed every socket.
fn assert_released(server: &Server) {
    assert!(
        server.wait_idle(secs(10)),
        "the client kept a connection open"
    );
}

// ---- timeouts -------------------------------------------------------------------

#[test]
fn a_stall_mid_stream_is_an_idle_timeout_keeping_the_tokens() {
    let server = Server::start(
        Script::sse()
            .role()
            .tokens(&["Hel", "lo"])
            .stall()
            .handler(),
    );
    let client = builder(&server)
        .idle_timeout(Some(ms(300)))
        .max_retries(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let (tokens, error, attempts) = run(&client);
    assert_eq!(tokens, ["Hel", "lo"]);
    let error = assert_kind(&error, ErrorKind::Timeout);
    assert_eq!(error.timeout_phase(), Some(TimeoutPhase::Idle), "{error:?}");
    assert_eq!(error.http_status(), Some(200));
    assert_eq!(attempts, 1);
    assert!(started.elapsed() < secs(30));
    assert_eq!(
        server.request_count(),
        1,
        "an idle timeout is never retried"
    );
    assert_released(&server);
}

#[test]
fn a_stall_after_the_first_token_is_not_retried_even_with_retries() {
    let server = Server::start(Script::sse().token("only").stall().handler());
    let client = builder(&server)
        .idle_timeout(Some(ms(200)))
        .max_retries(3)
        .build()
        .unwrap();
    let (tokens, error, _) = run(&client);
    assert_eq!(tokens, ["only"]);
    let error = assert_kind(&error, ErrorKind::Timeout);
    assert_eq!(error.timeout_phase(), Some(TimeoutPhase::Idle));
    assert_eq!(error.attempts(), 1);
    assert_eq!(server.request_count(), 1);
    assert_released(&server);
}

#[test]
fn headers_that_never_come_are_a_headers_timeout() {
    let server = Server::start(stall());
    let client = builder(&server)
        .headers_timeout(Some(ms(300)))
        .max_retries(0)
        .build()
        .unwrap();
    let (tokens, error, attempts) = run(&client);
    assert!(tokens.is_empty());
    let error = assert_kind(&error, ErrorKind::Timeout);
    assert_eq!(
        error.timeout_phase(),
        Some(TimeoutPhase::Headers),
        "{error:?}"
    );
    assert_eq!(error.http_status(), None);
    assert_eq!(attempts, 1);
    assert_eq!(server.request_count(), 1);
    assert_released(&server);
}

#[test]
fn headers_timeouts_are_retried() {
    let server = Server::start(stall());
    let client = builder(&server)
        .headers_timeout(Some(ms(200)))
        .max_retries(2)
        .build()
        .unwrap();
    let (_, error, attempts) = run(&client);
    let error = assert_kind(&error, ErrorKind::Timeout);
    assert_eq!(error.timeout_phase(), Some(TimeoutPhase::Headers));
    assert_eq!(attempts, 3);
    assert_eq!(server.request_count(), 3);
    assert_released(&server);
}

#[test]
fn headers_timeout_then_success_on_the_retry() {
    let server = Server::start(fail_then(
        1,
        stall(),
        serve_tokens(&["late", " but", " fine"]),
    ));
    let client = builder(&server)
        .headers_timeout(Some(ms(200)))
        .max_retries(1)
        .build()
        .unwrap();
    let mut stream = client.stream(&request()).unwrap();
    assert_eq!(stream.attempts(), 2);
    let (tokens, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens.concat(), "late but fine");
    drop(stream);
    // The answered connection stays in the pool until the client goes.
    drop(client);
    assert_released(&server);
}

#[test]
fn keep_alive_comments_reset_the_idle_timer() {
    // 15 comments 100 ms apart: 1.5 s in all, three times the 500 ms idle limit.
    let comments = ": keep-alive\n\n".repeat(15);
    let server = Server::start(
        Script::sse()
            .role()
            .token("a")
            .trickle(comments.as_bytes(), ": keep-alive\n\n".len(), ms(100))
            .token("b")
            .finish("stop")
            .done()
            .end_chunks()
            .handler(),
    );
    let client = builder(&server)
        .idle_timeout(Some(ms(500)))
        .max_retries(0)
        .build()
        .unwrap();
    let (tokens, error, _) = run(&client);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens, ["a", "b"]);
}

#[test]
fn single_bytes_trickled_reset_the_idle_timer() {
    // One token sent a byte at a time, 40 ms apart (about 2 s in all), idle limit 500 ms.
    let event = "data: {\"choices\":[{\"delta\":{\"content\":\"slow\"}}]}\n\n";
    let server = Server::start(
        Script::sse()
            .trickle(event.as_bytes(), 1, ms(40))
            .finish("stop")
            .done()
            .end_chunks()
            .handler(),
    );
    let client = builder(&server)
        .idle_timeout(Some(ms(500)))
        .max_retries(0)
        .build()
        .unwrap();
    let (tokens, error, _) = run(&client);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens, ["slow"]);
}

#[test]
fn a_long_wait_for_headers_is_not_cut_by_the_idle_timeout() {
    let server = Server::start(|conn: &mut Conn| {
        conn.sleep(ms(700));
        serve_tokens(&["thought", " hard"])(conn);
    });
    let client = builder(&server)
        .idle_timeout(Some(ms(200)))
        .headers_timeout(Some(secs(5)))
        .max_retries(0)
        .build()
        .unwrap();
    let (tokens, error, attempts) = run(&client);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens, ["thought", " hard"]);
    assert_eq!(attempts, 1);
}

#[test]
fn the_total_timeout_cuts_a_stream_that_never_ends() {
    let endless = format!("data: {}\n\n", chunk_json("t")).repeat(200);
    let server = Server::start(
        Script::sse()
            .trickle(endless.as_bytes(), endless.len() / 200, ms(50))
            .stall()
            .handler(),
    );
    let client = builder(&server)
        .total_timeout(Some(ms(1500)))
        .idle_timeout(Some(secs(10)))
        .max_retries(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let (tokens, error, _) = run(&client);
    let error = assert_kind(&error, ErrorKind::Timeout);
    assert_eq!(
        error.timeout_phase(),
        Some(TimeoutPhase::Total),
        "{error:?}"
    );
    assert!(!tokens.is_empty(), "tokens before the timeout are kept");
    assert!(tokens.len() < 200);
    assert!(tokens.iter().all(|t| t == "t"));
    assert!(started.elapsed() < secs(8), "{:?}", started.elapsed());
    assert_released(&server);
}

#[test]
fn the_total_timeout_also_bounds_the_wait_for_headers() {
    let server = Server::start(stall());
    let client = builder(&server)
        .total_timeout(Some(ms(300)))
        .max_retries(0)
        .build()
        .unwrap();
    let (_, error, _) = run(&client);
    let error = assert_kind(&error, ErrorKind::Timeout);
    assert_eq!(
        error.timeout_phase(),
        Some(TimeoutPhase::Total),
        "{error:?}"
    );
    assert_released(&server);
}

/// A loopback listener whose accept queue is full: further SYNs are dropped by the
/// kernel, so a connect to it hangs, as to a black-holed host. `listen(fd, 0)` keeps one
/// connection in the queue; the fillers (never accepted) take that place.
struct FullBacklog {
    _listener: OwnedFd,
    _fillers: Vec<TcpStream>,
    addr: SocketAddr,
}

impl FullBacklog {
    fn new() -> Option<FullBacklog> {
        // SAFETY: plain socket calls on a descriptor we own; `addr` is a fully
        // initialised sockaddr_in whose size we pass; the descriptor is wrapped in an
        // OwnedFd at once so it is closed on every path.
        let (listener, port) = unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            if fd < 0 {
                return None;
            }
            let listener = OwnedFd::from_raw_fd(fd);
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            if libc::bind(fd, std::ptr::from_ref(&addr).cast(), len) != 0
                || libc::listen(fd, 0) != 0
            {
                return None;
            }
            let mut bound: libc::sockaddr_in = std::mem::zeroed();
            let mut bound_len = len;
            if libc::getsockname(fd, std::ptr::from_mut(&mut bound).cast(), &mut bound_len) != 0 {
                return None;
            }
            (listener, u16::from_be(bound.sin_port))
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut fillers = Vec::new();
        for _ in 0..8 {
            match TcpStream::connect_timeout(&addr, ms(300)) {
                Ok(stream) => fillers.push(stream),
                Err(_) => {
                    return Some(FullBacklog {
                        _listener: listener,
                        _fillers: fillers,
                        addr,
                    })
                }
            }
        }
        None
    }
}

#[test]
fn a_connect_that_hangs_is_a_connect_timeout() {
    let Some(backlog) = FullBacklog::new() else {
        println!("skipped: could not fill a loopback accept queue here");
        return;
    };
    let client = Client::builder()
        .base_url(format!("http://{}/v1", backlog.addr))
        .proxy(None)
        .connect_timeout(Some(ms(300)))
        .max_retries(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let (_, error, attempts) = run(&client);
    let error = assert_kind(&error, ErrorKind::Timeout);
    assert_eq!(
        error.timeout_phase(),
        Some(TimeoutPhase::Connect),
        "{error:?}"
    );
    assert_eq!(attempts, 1);
    assert!(started.elapsed() < secs(10));
}

#[test]
fn connect_timeouts_are_retried() {
    let Some(backlog) = FullBacklog::new() else {
        println!("skipped: could not fill a loopback accept queue here");
        return;
    };
    let client = Client::builder()
        .base_url(format!("http://{}/v1", backlog.addr))
        .proxy(None)
        .connect_timeout(Some(ms(150)))
        .max_retries(1)
        .build()
        .unwrap();
    let (_, error, attempts) = run(&client);
    let error = assert_kind(&error, ErrorKind::Timeout);
    assert_eq!(
        error.timeout_phase(),
        Some(TimeoutPhase::Connect),
        "{error:?}"
    );
    assert_eq!(attempts, 2);
}

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
    let (_, error, attempts) = run(&client);
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
    let (_, error, attempts) = run(&client);
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
    let (_, error, attempts) = run(&client);
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
    let (_, error, attempts) = run(&client);
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
    let (_, error, attempts) = run(&client);
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
        .proxy(None)
        .max_retries(2)
        .build()
        .unwrap();
    let (_, error, attempts) = run(&client);
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
        .proxy(None)
        .max_retries(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let (_, error, attempts) = run(&client);
    assert_kind(&error, ErrorKind::Connect);
    assert_eq!(attempts, 1);
    assert!(started.elapsed() < secs(5));

    let server = Server::start(serve_json(500, &error_json("down", "server_error")));
    let client = builder(&server).max_retries(0).build().unwrap();
    let (_, error, attempts) = run(&client);
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
    let (tokens, error, attempts) = run(&client);
    assert_eq!(tokens, ["half"]);
    assert_kind(&error, ErrorKind::Truncated);
    assert_eq!(attempts, 1);
    assert_eq!(server.request_count(), 1);
    assert_released(&server);
}

#[test]
fn a_clean_close_without_done_or_finish_is_truncated() {
    let server = Server::start(Script::sse_close_delimited().token("cut").close().handler());
    let client = builder(&server).max_retries(0).build().unwrap();
    let (tokens, error, _) = run(&client);
    assert_eq!(tokens, ["cut"]);
    assert_kind(&error, ErrorKind::Truncated);
    assert_released(&server);
}

// ---- cancellation ---------------------------------------------------------------

/// A handler that streams one token, then waits for the client to go and notes it.
fn one_token_then_watch(conn: &mut Conn) {
    conn.start_sse().sse_data(&chunk_json("first"));
    if conn.peer_closed(secs(20)) {
        conn.note("client closed");
    } else {
        conn.note("client still there");
    }
}

#[test]
fn dropping_a_stream_closes_the_socket_at_once() {
    let server = Server::start(one_token_then_watch);
    let client = builder(&server).max_retries(0).build().unwrap();
    let mut stream = client.stream(&request()).unwrap();
    assert_eq!(stream.next_token().unwrap().unwrap(), "first");
    let dropped = Instant::now();
    drop(stream);
    assert!(
        server.wait_for_note("client closed", secs(5)),
        "{:?}",
        server.notes()
    );
    assert!(dropped.elapsed() < secs(5));
    assert_released(&server);
}

#[test]
fn dropping_an_unread_stream_closes_the_socket() {
    let server = Server::start(one_token_then_watch);
    let client = builder(&server).max_retries(0).build().unwrap();
    let stream = client.stream(&request()).unwrap();
    drop(stream);
    assert!(
        server.wait_for_note("client closed", secs(5)),
        "{:?}",
        server.notes()
    );
    assert_released(&server);
}

#[test]
fn done_closes_the_socket_without_waiting_for_the_server() {
    // After [DONE] the server keeps the connection open and silent: the client must
    // neither wait for it nor keep the socket.
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse().sse_data(&chunk_json("end")).done();
        if conn.peer_closed(secs(20)) {
            conn.note("client closed");
        }
    });
    let client = builder(&server).max_retries(0).build().unwrap();
    let mut stream = client.stream(&request()).unwrap();
    let started = Instant::now();
    let (tokens, error) = drain(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens, ["end"]);
    assert!(stream.is_done());
    assert!(started.elapsed() < secs(10));
    assert!(server.wait_for_note("client closed", secs(5)));
    drop(stream);
    assert_released(&server);
}

#[test]
fn cancel_from_another_thread_interrupts_a_blocked_read() {
    let server = Server::start(one_token_then_watch);
    let client = builder(&server).max_retries(0).build().unwrap();
    let mut stream = client.stream(&request()).unwrap();
    assert_eq!(stream.next_token().unwrap().unwrap(), "first");
    let handle = stream.cancel_handle();
    let canceller = thread::spawn(move || {
        thread::sleep(ms(300));
        handle.cancel();
        Instant::now()
    });
    // Blocks on the silent server (idle timeout 300 s) until cancelled.
    let error = stream.next_token().unwrap().unwrap_err();
    let returned = Instant::now();
    let cancelled_at = canceller.join().unwrap();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:?}");
    assert!(returned.saturating_duration_since(cancelled_at) < secs(5));
    assert!(stream.next_token().is_none(), "a cancelled stream is over");
    assert!(
        server.wait_for_note("client closed", secs(5)),
        "{:?}",
        server.notes()
    );
    drop(stream);
    assert_released(&server);
}

#[test]
fn cancel_while_waiting_for_headers() {
    let server = Server::start(stall());
    let client = builder(&server).max_retries(2).build().unwrap();
    let handle = CancelHandle::new();
    let remote = handle.clone();
    let canceller = thread::spawn(move || {
        thread::sleep(ms(300));
        remote.cancel();
    });
    let started = Instant::now();
    let error = client.stream_with_cancel(&request(), &handle).unwrap_err();
    canceller.join().unwrap();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:?}");
    assert!(started.elapsed() < secs(10));
    assert_eq!(
        server.request_count(),
        1,
        "a cancelled attempt is not retried"
    );
    assert_released(&server);
}

#[test]
fn cancel_during_the_retry_wait() {
    let server = Server::start(|conn: &mut Conn| {
        conn.json_response(
            503,
            &[("Retry-After", "60")],
            &error_json("busy", "server_error"),
        );
    });
    let client = builder(&server).max_retries(2).build().unwrap();
    let handle = CancelHandle::new();
    let remote = handle.clone();
    let canceller = thread::spawn(move || {
        thread::sleep(ms(300));
        remote.cancel();
    });
    let started = Instant::now();
    let error = client.stream_with_cancel(&request(), &handle).unwrap_err();
    canceller.join().unwrap();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:?}");
    assert_eq!(error.attempts(), 1);
    assert!(started.elapsed() < secs(30), "the 60 s wait was cut short");
    assert_eq!(server.request_count(), 1);
}

#[test]
fn cancel_before_the_request_sends_nothing() {
    let server = Server::start(serve_tokens(&["never"]));
    let client = builder(&server).build().unwrap();
    let handle = CancelHandle::new();
    handle.cancel();
    let error = client.stream_with_cancel(&request(), &handle).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:?}");
    thread::sleep(ms(200));
    assert_eq!(server.request_count(), 0);
    assert_eq!(server.connections(), 0);
}

#[test]
fn cancel_during_a_connect_that_hangs() {
    // ureq cannot interrupt a TCP connect in progress; the connect timeout bounds it and
    // the outcome is still reported as Cancelled.
    let Some(backlog) = FullBacklog::new() else {
        println!("skipped: could not fill a loopback accept queue here");
        return;
    };
    let client = Client::builder()
        .base_url(format!("http://{}/v1", backlog.addr))
        .proxy(None)
        .connect_timeout(Some(ms(600)))
        .max_retries(5)
        .build()
        .unwrap();
    let handle = CancelHandle::new();
    let remote = handle.clone();
    let canceller = thread::spawn(move || {
        thread::sleep(ms(100));
        remote.cancel();
    });
    let error = client.stream_with_cancel(&request(), &handle).unwrap_err();
    canceller.join().unwrap();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:?}");
    assert_eq!(error.attempts(), 1);
}

#[test]
fn cancel_after_done_changes_nothing() {
    let server = Server::start(serve_tokens(&["a", "b"]));
    let client = builder(&server).build().unwrap();
    let mut stream = client.stream(&request()).unwrap();
    let (tokens, error) = drain(&mut stream);
    assert!(error.is_none());
    stream.cancel_handle().cancel();
    assert!(stream.next_token().is_none());
    assert!(stream.is_done());
    assert_eq!(tokens, ["a", "b"]);
}

#[test]
fn a_cancelled_stream_is_never_truncated_or_io() {
    // Many rounds of cancelling at varied moments of a trickling stream.
    let body = format!("data: {}\n\n", chunk_json("z")).repeat(40);
    let server = Server::start(
        Script::sse()
            .trickle(body.as_bytes(), 7, ms(2))
            .stall()
            .handler(),
    );
    let client = builder(&server).max_retries(0).build().unwrap();
    for round in 0..20u64 {
        let mut stream = client.stream(&request()).unwrap();
        let handle = stream.cancel_handle();
        let canceller = thread::spawn(move || {
            thread::sleep(ms(round * 7 % 60));
            handle.cancel();
        });
        let (tokens, error) = drain(&mut stream);
        canceller.join().unwrap();
        let error = error.expect("the server never ends the stream");
        assert_eq!(
            error.kind(),
            ErrorKind::Cancelled,
            "round {round}: {error:?}"
        );
        assert!(tokens.iter().all(|t| t == "z"));
    }
    assert_released(&server);
}

#[test]
fn cancel_interrupts_a_close_delimited_stream_as_cancelled() {
    // Without chunked framing, the shut-down socket looks like an orderly end of body;
    // the stream must still say Cancelled, not Truncated.
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse_close_delimited()
            .sse_data(&chunk_json("first"));
        if conn.peer_closed(secs(20)) {
            conn.note("client closed");
        }
    });
    let client = builder(&server).max_retries(0).build().unwrap();
    let mut stream = client.stream(&request()).unwrap();
    assert_eq!(stream.next_token().unwrap().unwrap(), "first");
    let handle = stream.cancel_handle();
    let canceller = thread::spawn(move || {
        thread::sleep(ms(200));
        handle.cancel();
    });
    let error = stream.next_token().unwrap().unwrap_err();
    canceller.join().unwrap();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:?}");
    assert!(server.wait_for_note("client closed", secs(5)));
    drop(stream);
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
fn a_reset_mid_stream_is_truncated() {
    let server = Server::start(Script::sse().tokens(&["a", "b"]).reset().handler());
    let client = builder(&server).max_retries(0).build().unwrap();
    let (tokens, error, _) = run(&client);
    assert_eq!(tokens, ["a", "b"]);
    assert_kind(&error, ErrorKind::Truncated);
    assert_released(&server);
}

#[test]
fn an_incomplete_chunked_body_is_truncated() {
    // The server closes in the middle of an HTTP chunk.
    let server = Server::start(
        Script::sse()
            .token("kept")
            .raw("40\r\ndata: {\"cho")
            .close()
            .handler(),
    );
    let client = builder(&server).max_retries(0).build().unwrap();
    let (tokens, error, _) = run(&client);
    assert_eq!(tokens, ["kept"]);
    assert_kind(&error, ErrorKind::Truncated);
    assert_released(&server);
}

#[test]
fn a_finish_reason_then_a_clean_end_without_done_succeeds() {
    // Hugging Face `transformers serve` never sends [DONE].
    let server = Server::start(
        Script::sse()
            .tokens(&["no", " done"])
            .finish("stop")
            .end_chunks()
            .handler(),
    );
    let client = builder(&server).max_retries(0).build().unwrap();
    let (tokens, error, _) = run(&client);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens, ["no", " done"]);
}

// ---- the CLI's timeout and retry options ------------------------------------------

/// The CLI example built next to this test binary, if cargo built it.
fn chat_binary() -> Option<std::path::PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let chat = exe.parent()?.parent()?.join("examples").join("chat");
    chat.exists().then_some(chat)
}

fn chat(base: &str, args: &[&str]) -> Option<std::process::Output> {
    let Some(chat) = chat_binary() else {
        println!("skipped: the chat example is not built (cargo test builds it)");
        return None;
    };
    Some(
        std::process::Command::new(chat)
            .args(["--base-url", base, "--proxy", "none"])
            .args(args)
            .arg("Hi")
            .env_remove("UPSTAGE_API_KEY")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap(),
    )
}

#[test]
fn the_cli_idle_timeout_keeps_the_printed_tokens() {
    let server = Server::start(Script::sse().tokens(&["par", "tial"]).stall().handler());
    let Some(output) = chat(&server.base(), &["--idle-timeout", "0.3", "--retries", "0"]) else {
        return;
    };
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "partial");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error[timeout]:"), "{stderr}");
    assert_released(&server);
}

#[test]
fn the_cli_headers_timeout_and_retries() {
    let server = Server::start(stall());
    let Some(output) = chat(
        &server.base(),
        &["--headers-timeout", "0.2", "--retries", "1"],
    ) else {
        return;
    };
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error[timeout]:"), "{stderr}");
    assert_eq!(server.request_count(), 2);
}

#[test]
fn the_cli_total_timeout() {
    let endless = format!("data: {}\n\n", chunk_json("t")).repeat(100);
    let server = Server::start(
        Script::sse()
            .trickle(endless.as_bytes(), endless.len() / 100, ms(50))
            .stall()
            .handler(),
    );
    let Some(output) = chat(
        &server.base(),
        &["--total-timeout", "0.5", "--retries", "0"],
    ) else {
        return;
    };
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        !stdout.is_empty() && stdout.chars().all(|c| c == 't'),
        "{stdout}"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error[timeout]:"), "{stderr}");
}

// ---- stalls outside the event stream ----------------------------------------------

/// Runs `f` on a thread and waits at most `limit` for it: a hang fails the test instead of
/// hanging it (the thread is freed when the server is dropped).
fn bounded<T: Send + 'static>(
    limit: std::time::Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).ok()
}

#[test]
fn a_stalled_error_body_is_not_a_hang() {
    let server = Server::start(|conn: &mut Conn| {
        conn.send_head(
            500,
            &[
                ("Content-Type", "application/json"),
                ("Content-Length", "1000"),
            ],
        )
        .write_raw(b"{\"error\":{\"message\":\"half")
        .stall();
    });
    let client = builder(&server)
        .idle_timeout(Some(ms(300)))
        .max_retries(0)
        .build()
        .unwrap();
    let outcome = bounded(secs(20), move || client.stream(&request()).map(|_| ()));
    let error = outcome
        .expect("the client hung on a stalled error body")
        .unwrap_err();
    // The status is known; the body that never came adds nothing to it.
    assert_eq!(error.kind(), ErrorKind::Http, "{error:?}");
    assert_eq!(error.http_status(), Some(500));
    assert_eq!(error.attempts(), 1);
}

#[test]
fn after_a_stalled_error_body_the_retry_may_wait_long_for_its_headers() {
    // The idle timeout cut the stalled error body; it must not also cut the next
    // attempt's (legitimately long) wait for its headers.
    let server = Server::start(fail_then(
        1,
        |conn: &mut Conn| {
            conn.send_head(
                503,
                &[
                    ("Content-Type", "application/json"),
                    ("Content-Length", "1000"),
                    ("retry-after-ms", "10"),
                ],
            )
            .write_raw(b"{\"error\":")
            .stall();
        },
        |conn: &mut Conn| {
            conn.sleep(ms(900));
            serve_tokens(&["patient"])(conn);
        },
    ));
    let client = builder(&server)
        .idle_timeout(Some(ms(300)))
        .headers_timeout(Some(secs(10)))
        .max_retries(1)
        .build()
        .unwrap();
    let outcome = bounded(secs(30), move || {
        client.stream(&request()).map(|mut s| {
            let tokens: Vec<String> = s.by_ref().map(Result::unwrap).collect();
            (tokens, s.attempts())
        })
    });
    let (tokens, attempts) = outcome.expect("the client hung").unwrap();
    assert_eq!(tokens, ["patient"]);
    assert_eq!(attempts, 2);
}

#[test]
fn a_mislabelled_body_that_stalls_is_an_idle_timeout_not_a_hang() {
    // The content type is neither SSE nor JSON, so the client sniffs the first bytes.
    let server = Server::start(|conn: &mut Conn| {
        conn.send_head(
            200,
            &[
                ("Content-Type", "text/plain"),
                ("Transfer-Encoding", "chunked"),
            ],
        )
        .stall();
    });
    let client = builder(&server)
        .idle_timeout(Some(ms(300)))
        .max_retries(0)
        .build()
        .unwrap();
    let outcome = bounded(secs(20), move || client.stream(&request()).map(|_| ()));
    let error = outcome
        .expect("the client hung sniffing a silent body")
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:?}");
    assert_eq!(error.timeout_phase(), Some(TimeoutPhase::Idle), "{error:?}");
}

#[test]
fn a_json_answer_that_stalls_is_an_idle_timeout_not_a_hang() {
    let server = Server::start(|conn: &mut Conn| {
        conn.send_head(
            200,
            &[
                ("Content-Type", "application/json"),
                ("Content-Length", "500"),
            ],
        )
        .write_raw(b"{\"choices\":[")
        .stall();
    });
    let client = builder(&server)
        .idle_timeout(Some(ms(300)))
        .max_retries(0)
        .build()
        .unwrap();
    let outcome = bounded(secs(20), move || client.stream(&request()).map(|_| ()));
    let error = outcome
        .expect("the client hung on a stalled JSON answer")
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:?}");
    assert_eq!(error.timeout_phase(), Some(TimeoutPhase::Idle), "{error:?}");
}

#[test]
fn one_handle_cancels_every_stream_it_was_given() {
    // A handle shared by two streams (e.g. "cancel everything this task started").
    let server = Server::start(one_token_then_watch);
    let client = builder(&server).max_retries(0).build().unwrap();
    let handle = CancelHandle::new();
    let mut first = client.stream_with_cancel(&request(), &handle).unwrap();
    let mut second = client.stream_with_cancel(&request(), &handle).unwrap();
    assert_eq!(first.next_token().unwrap().unwrap(), "first");
    assert_eq!(second.next_token().unwrap().unwrap(), "first");
    let remote = handle.clone();
    let canceller = thread::spawn(move || {
        thread::sleep(ms(200));
        remote.cancel();
    });
    let results = bounded(secs(20), move || {
        let a = first.next_token().map(|r| r.map(str::to_owned));
        let b = second.next_token().map(|r| r.map(str::to_owned));
        (a, b)
    });
    canceller.join().unwrap();
    let (a, b) = results.expect("a stream sharing the handle was not interrupted");
    assert_eq!(a.unwrap().unwrap_err().kind(), ErrorKind::Cancelled);
    assert_eq!(b.unwrap().unwrap_err().kind(), ErrorKind::Cancelled);
    assert_released(&server);
}

#[test]
fn headers_trickled_a_byte_at_a_time_still_hit_the_headers_timeout() {
    // A slowloris server: each byte comes well within any per-read limit, but the head
    // as a whole takes far longer than the headers timeout.
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Slow: ".to_owned()
        + &"s".repeat(200)
        + "\r\n\r\n";
    let server = Server::start(move |conn: &mut Conn| {
        for byte in head.as_bytes() {
            if conn.client_gone() {
                break;
            }
            conn.write_raw(&[*byte]);
            conn.sleep(ms(40));
        }
    });
    let client = builder(&server)
        .headers_timeout(Some(ms(500)))
        .max_retries(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let outcome = bounded(secs(30), move || client.stream(&request()).map(|_| ()));
    let error = outcome.expect("the client hung").unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:?}");
    assert_eq!(
        error.timeout_phase(),
        Some(TimeoutPhase::Headers),
        "{error:?}"
    );
    // The head takes about 11 s to trickle; the timeout must cut it well before.
    assert!(started.elapsed() < secs(6), "{:?}", started.elapsed());
    assert_released(&server);
}

#[test]
fn the_total_timeout_bounds_the_retries_too() {
    // Retries and their waits happen inside the total timeout, not on top of it.
    let server = Server::start(|conn: &mut Conn| {
        conn.json_response(
            503,
            &[("retry-after", "30")],
            &error_json("busy", "server_error"),
        );
    });
    let client = builder(&server)
        .total_timeout(Some(secs(1)))
        .max_retries(2)
        .build()
        .unwrap();
    let started = Instant::now();
    let (_, error, attempts) = run(&client);
    assert!(
        started.elapsed() < secs(10),
        "waited {:?}",
        started.elapsed()
    );
    let error = assert_kind(&error, ErrorKind::Http);
    assert_eq!(error.http_status(), Some(503));
    assert_eq!(attempts, 1, "a 30 s wait cannot fit in a 1 s total");

    // Headers timeouts are retried with backoff (0.5 s, 1 s, 2 s, ...): a 1 s total
    // leaves room for one retry at most, cut by the total timeout.
    let server = Server::start(stall());
    let client = builder(&server)
        .headers_timeout(Some(ms(300)))
        .total_timeout(Some(secs(1)))
        .max_retries(5)
        .build()
        .unwrap();
    let started = Instant::now();
    let (_, error, attempts) = run(&client);
    assert!(started.elapsed() < secs(8), "took {:?}", started.elapsed());
    assert_kind(&error, ErrorKind::Timeout);
    assert!(attempts <= 2, "{attempts} attempts in a 1 s total");
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
    let (_, error, attempts) = run(&client);
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
