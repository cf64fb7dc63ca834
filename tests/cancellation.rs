//! Cancellation provoked for real against a loopback server: dropping a stream, `done`, and
//! a `CancelHandle` fired from another thread while connecting, waiting for headers, waiting
//! to retry or blocked in a read. Each test checks the outcome is `Cancelled` (never
//! `Truncated` or `Io`) and that the socket was closed at once.

mod support;

use std::thread;
use std::time::Instant;

use support::*;
use upstage::{CancelHandle, Client, ErrorKind};

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
        .proxy(upstage::Proxy::Disabled)
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
