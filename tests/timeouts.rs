//! Timeouts provoked for real against a loopback server: connect, headers, idle and total,
//! with and without retries, in the library and in the CLI, and stalls outside the event
//! stream (error bodies, JSON answers). Each test checks the exact error kind and phase, the
//! tokens delivered before the fault, and that the connection was released.
//!
//! Timeouts are short (100–500 ms); elapsed times are only checked against generous
//! bounds so that a loaded 2-core machine does not make the tests flaky.

mod support;

use std::time::Instant;

use support::*;
use upstage::{Client, ErrorKind, TimeoutPhase};

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
    let (tokens, error, attempts) = run_stream(&client);
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
    let (tokens, error, _) = run_stream(&client);
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
    let (tokens, error, attempts) = run_stream(&client);
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
    let (_, error, attempts) = run_stream(&client);
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
    let (tokens, error, _) = run_stream(&client);
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
    let (tokens, error, _) = run_stream(&client);
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
    let (tokens, error, attempts) = run_stream(&client);
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
    let (tokens, error, _) = run_stream(&client);
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
    let (_, error, _) = run_stream(&client);
    let error = assert_kind(&error, ErrorKind::Timeout);
    assert_eq!(
        error.timeout_phase(),
        Some(TimeoutPhase::Total),
        "{error:?}"
    );
    assert_released(&server);
}

#[test]
fn a_connect_that_hangs_is_a_connect_timeout() {
    let Some(backlog) = FullBacklog::new() else {
        println!("skipped: could not fill a loopback accept queue here");
        return;
    };
    let client = Client::builder()
        .base_url(format!("http://{}/v1", backlog.addr))
        .proxy(upstage::Proxy::Disabled)
        .connect_timeout(Some(ms(300)))
        .max_retries(0)
        .build()
        .unwrap();
    let started = Instant::now();
    let (_, error, attempts) = run_stream(&client);
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
        .proxy(upstage::Proxy::Disabled)
        .connect_timeout(Some(ms(150)))
        .max_retries(1)
        .build()
        .unwrap();
    let (_, error, attempts) = run_stream(&client);
    let error = assert_kind(&error, ErrorKind::Timeout);
    assert_eq!(
        error.timeout_phase(),
        Some(TimeoutPhase::Connect),
        "{error:?}"
    );
    assert_eq!(attempts, 2);
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
    let (_, error, attempts) = run_stream(&client);
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
    let (_, error, attempts) = run_stream(&client);
    assert!(started.elapsed() < secs(8), "took {:?}", started.elapsed());
    assert_kind(&error, ErrorKind::Timeout);
    assert!(attempts <= 2, "{attempts} attempts in a 1 s total");
}
