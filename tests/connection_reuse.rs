//! Pooled keep-alive connections, provoked for real against loopback servers that count
//! the connections they accept: a connection is reused only after its response was read
//! to the end; cancelled, failed and dropped streams close theirs; a pooled connection the
//! server closed while idle is replaced without counting as a retry; clones and threads
//! share one pool; the same holds over TLS.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use support::*;
use upstage::{CancelHandle, ChatRequest, Client, ClientBuilder, ErrorKind, Message};

fn builder(server: &Server) -> ClientBuilder {
    ClientBuilder::new().base_url(server.base()).max_retries(0)
}

/// Streams `tokens`, a finish reason and `[DONE]`, then ends the chunked body.
fn answer(conn: &mut Conn, tokens: &[&str]) {
    conn.start_sse();
    for token in tokens {
        conn.sse_data(&chunk_json(token));
    }
    conn.sse_data(&finish_json("stop")).done().end_chunks();
}

fn tokens_of(client: &Client, request: &ChatRequest) -> String {
    let mut stream = client.stream(request).expect("the stream opens");
    let (tokens, error) = drain_tokens(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(stream.attempts(), 1);
    tokens.concat()
}

// ---- reuse ------------------------------------------------------------------------

#[test]
fn sequential_streams_share_one_connection() {
    let server = Server::start(|conn: &mut Conn| answer(conn, &["Hel", "lo"]));
    let client = builder(&server).build().unwrap();
    for _ in 0..20 {
        assert_eq!(tokens_of(&client, &hi_request()), "Hello");
    }
    assert_eq!(server.request_count(), 20);
    assert_eq!(server.connections(), 1);
}

#[test]
fn complete_and_error_answers_reuse_the_connection_too() {
    let server = Server::start(|conn: &mut Conn| match conn.attempt() % 3 {
        0 => {
            conn.json_response(429, &[], &error_json("slow down", "rate_limit"));
        }
        1 => answer(conn, &["streamed"]),
        _ => {
            conn.json_response(
                200,
                &[],
                r#"{"choices":[{"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}]}"#,
            );
        }
    });
    let client = builder(&server).build().unwrap();
    for _ in 0..3 {
        assert_eq!(tokens_of(&client, &hi_request()), "streamed");
        let completion = client.complete(&hi_request()).unwrap();
        assert_eq!(completion.content, "whole");
        let error = client.stream(&hi_request()).unwrap_err();
        assert_eq!(error.http_status(), Some(429));
    }
    assert_eq!(server.request_count(), 9);
    assert_eq!(server.connections(), 1);
}

#[test]
fn clones_and_threads_share_the_pool() {
    let server = Server::start(|conn: &mut Conn| answer(conn, &["shared"]));
    let client = builder(&server).build().unwrap();
    for _ in 0..4 {
        let clone = client.clone();
        thread::spawn(move || tokens_of(&clone, &hi_request()))
            .join()
            .unwrap();
    }
    assert_eq!(tokens_of(&client, &hi_request()), "shared");
    assert_eq!(server.connections(), 1);
}

#[test]
fn concurrent_streams_on_one_client_each_get_their_own_answer() {
    const STREAMS: usize = 8;
    // Every stream is held open until all of them have sent their request, so that they
    // are truly concurrent; each answer echoes its own question.
    let arrived = Arc::new(Barrier::new(STREAMS));
    let server = Server::start(move |conn: &mut Conn| {
        let question = conn.request().json.as_ref().unwrap()["messages"][0]["content"]
            .as_str()
            .unwrap()
            .to_owned();
        conn.start_sse().sse_data(&chunk_json("re: "));
        if conn.attempt() <= STREAMS {
            arrived.wait();
        }
        conn.sse_data(&chunk_json(&question))
            .sse_data(&finish_json("stop"))
            .done()
            .end_chunks();
    });
    let client = builder(&server)
        .max_idle_connections_per_host(STREAMS)
        .build()
        .unwrap();
    let run_all = |round: usize| {
        let workers: Vec<_> = (0..STREAMS)
            .map(|i| {
                let client = client.clone();
                thread::spawn(move || {
                    let question = format!("question {round}.{i}");
                    let request =
                        ChatRequest::new(TEST_MODEL).message(Message::user(question.clone()));
                    (question, tokens_of(&client, &request))
                })
            })
            .collect();
        for worker in workers {
            let (question, answer) = worker.join().unwrap();
            assert_eq!(answer, format!("re: {question}"));
        }
    };
    run_all(1);
    assert_eq!(server.connections(), STREAMS);
    // The second round finds every connection idle in the pool.
    run_all(2);
    assert_eq!(server.request_count(), 2 * STREAMS);
    assert_eq!(server.connections(), STREAMS);
}

#[test]
fn idle_connections_beyond_the_limit_are_closed() {
    const STREAMS: usize = 3;
    let arrived = Arc::new(Barrier::new(STREAMS));
    let server = Server::start(move |conn: &mut Conn| {
        conn.start_sse();
        if conn.attempt() <= STREAMS {
            arrived.wait();
        }
        conn.sse_data(&chunk_json("x")).done().end_chunks();
    });
    let client = builder(&server)
        .max_idle_connections_per_host(1)
        .build()
        .unwrap();
    let workers: Vec<_> = (0..STREAMS)
        .map(|_| {
            let client = client.clone();
            thread::spawn(move || tokens_of(&client, &hi_request()))
        })
        .collect();
    for worker in workers {
        assert_eq!(worker.join().unwrap(), "x");
    }
    // Only one of the three stays in the pool: the server sees the two others go.
    assert!(server.wait_active_at_most(1, secs(10)));
    for _ in 0..3 {
        tokens_of(&client, &hi_request());
    }
    assert_eq!(server.connections(), STREAMS);
}

#[test]
fn reuse_can_be_turned_off() {
    let server = Server::start(|conn: &mut Conn| answer(conn, &["a"]));
    let client = builder(&server).connection_reuse(false).build().unwrap();
    for _ in 0..3 {
        tokens_of(&client, &hi_request());
    }
    assert_eq!(server.connections(), 3);
    // Dropping nothing: the client keeps no idle connection.
    assert!(server.wait_idle(secs(10)));
}

#[test]
fn an_idle_connection_older_than_the_pool_timeout_is_not_reused() {
    let server = Server::start(|conn: &mut Conn| answer(conn, &["a"]));
    let client = builder(&server)
        .pool_idle_timeout(Duration::from_millis(1))
        .build()
        .unwrap();
    tokens_of(&client, &hi_request());
    thread::sleep(ms(20));
    tokens_of(&client, &hi_request());
    assert_eq!(server.connections(), 2);
}

// ---- what makes a connection unfit for reuse ------------------------------------

#[test]
fn bytes_after_done_are_read_and_the_connection_reused() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse()
            .sse_data(&chunk_json("tail"))
            .done()
            .body(b": a comment after the end\n\n")
            .body(b"data: {\"ignored\":true}\n\n")
            .end_chunks();
    });
    let client = builder(&server).build().unwrap();
    for _ in 0..3 {
        assert_eq!(tokens_of(&client, &hi_request()), "tail");
    }
    assert_eq!(server.connections(), 1);
}

#[test]
fn bytes_after_the_response_cost_the_connection() {
    // The chunked body ends, then the server sends bytes no request asked for.
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse()
            .sse_data(&chunk_json("x"))
            .done()
            .end_chunks();
        conn.write_raw(b"HTTP/1.1 200 OK\r\n");
        conn.peer_closed(secs(10));
    });
    let client = builder(&server).build().unwrap();
    for _ in 0..2 {
        assert_eq!(tokens_of(&client, &hi_request()), "x");
    }
    assert_eq!(server.connections(), 2);
}

#[test]
fn a_body_held_open_after_done_is_closed_not_waited_for() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse().sse_data(&chunk_json("held")).done();
        // The chunked terminator never comes while the client is there.
        if conn.peer_closed(secs(30)) {
            conn.note("client closed");
        } else {
            conn.note("client waited");
        }
    });
    let client = builder(&server).build().unwrap();
    for _ in 0..2 {
        assert_eq!(tokens_of(&client, &hi_request()), "held");
    }
    assert!(server.wait_for_note("client closed", secs(10)));
    assert_eq!(server.connections(), 2);
    assert!(!server.notes().iter().any(|n| n == "client waited"));
}

#[test]
fn an_early_dropped_stream_closes_its_connection() {
    let server = Server::start(|conn: &mut Conn| {
        if conn.attempt() == 1 {
            conn.start_sse().sse_data(&chunk_json("first"));
            if conn.peer_closed(secs(30)) {
                conn.note("client closed");
            }
        } else {
            answer(conn, &["second"]);
        }
    });
    let client = builder(&server).build().unwrap();
    let mut stream = client.stream(&hi_request()).unwrap();
    assert_eq!(stream.next_token().unwrap().unwrap(), "first");
    drop(stream);
    assert!(server.wait_for_note("client closed", secs(10)));
    assert_eq!(tokens_of(&client, &hi_request()), "second");
    assert_eq!(server.connections(), 2);
}

#[test]
fn a_failed_stream_closes_its_connection() {
    let server = Server::start(|conn: &mut Conn| {
        if conn.attempt() == 1 {
            conn.start_sse().body(b"data: {not json\n\n");
            if conn.peer_closed(secs(30)) {
                conn.note("client closed");
            }
        } else {
            answer(conn, &["fine"]);
        }
    });
    let client = builder(&server).build().unwrap();
    let mut stream = client.stream(&hi_request()).unwrap();
    let error = stream.next_token().unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Protocol);
    assert!(server.wait_for_note("client closed", secs(10)));
    assert_eq!(tokens_of(&client, &hi_request()), "fine");
    assert_eq!(server.connections(), 2);
}

#[test]
fn an_idle_timeout_on_a_pooled_connection_closes_it() {
    let server = Server::start(|conn: &mut Conn| match conn.attempt() {
        2 => {
            conn.start_sse().sse_data(&chunk_json("then silence"));
            if conn.peer_closed(secs(30)) {
                conn.note("client closed");
            }
        }
        _ => answer(conn, &["ok"]),
    });
    let client = builder(&server)
        .idle_timeout(Some(ms(300)))
        .build()
        .unwrap();
    assert_eq!(tokens_of(&client, &hi_request()), "ok");
    let mut stream = client.stream(&hi_request()).unwrap();
    let (tokens, error) = drain_tokens(&mut stream);
    assert_eq!(tokens, ["then silence"]);
    let error = error.expect("an idle timeout");
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:?}");
    assert!(server.wait_for_note("client closed", secs(10)));
    assert_eq!(tokens_of(&client, &hi_request()), "ok");
    // The first connection served two requests; the timed-out one was not reused.
    assert_eq!(server.connections(), 2);
}

// ---- a connection the server closed while idle ----------------------------------

#[test]
fn a_connection_closed_while_idle_is_not_reused() {
    // The server answers, then closes the connection (without announcing it).
    let server = Server::start(|conn: &mut Conn| {
        answer(conn, &["once"]);
        conn.close();
    });
    let client = builder(&server).build().unwrap();
    assert_eq!(tokens_of(&client, &hi_request()), "once");
    // The close has reached the client's socket before the next request.
    assert!(server.wait_idle(secs(10)));
    assert_eq!(tokens_of(&client, &hi_request()), "once");
    assert_eq!(server.connections(), 2);
}

#[test]
fn a_request_on_a_connection_the_server_just_closed_goes_out_again_without_a_retry() {
    // The race the pool's check cannot see: the server closes the idle connection as the
    // next request arrives on it, answering nothing.
    let server = Server::start(|conn: &mut Conn| {
        if conn.connection() == 1 && conn.attempt() == 2 {
            conn.close();
        } else {
            answer(conn, &["fresh"]);
        }
    });
    // No retries allowed: the re-send must not count as one.
    let client = builder(&server).build().unwrap();
    assert_eq!(tokens_of(&client, &hi_request()), "fresh");
    assert_eq!(tokens_of(&client, &hi_request()), "fresh");
    assert_eq!(server.request_count(), 3);
    assert_eq!(server.connections(), 2);
    let requests = server.requests();
    assert_eq!(requests[1].connection, 1);
    assert_eq!(requests[2].connection, 2);
}

#[test]
fn a_pooled_connection_that_dies_after_part_of_a_response_is_not_re_sent() {
    let server = Server::start(|conn: &mut Conn| {
        if conn.connection() == 1 && conn.attempt() == 2 {
            conn.write_raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n");
            conn.close();
        } else {
            answer(conn, &["ok"]);
        }
    });
    let client = builder(&server).build().unwrap();
    assert_eq!(tokens_of(&client, &hi_request()), "ok");
    let error = client.stream(&hi_request()).unwrap_err();
    assert_eq!(error.attempts(), 1, "{error:?}");
    assert_eq!(server.request_count(), 2);
}

// ---- cancel -----------------------------------------------------------------------

#[test]
fn a_cancelled_stream_on_a_pooled_connection_stops_at_once_and_closes_it() {
    let server = Server::start(|conn: &mut Conn| match conn.attempt() {
        2 => {
            conn.start_sse().sse_data(&chunk_json("before"));
            if conn.peer_closed(secs(30)) {
                conn.note("client closed");
            }
        }
        _ => answer(conn, &["ok"]),
    });
    let client = builder(&server).build().unwrap();
    assert_eq!(tokens_of(&client, &hi_request()), "ok");
    let handle = CancelHandle::new();
    let mut stream = client.stream_with_cancel(&hi_request(), &handle).unwrap();
    assert_eq!(stream.next_token().unwrap().unwrap(), "before");
    let canceller = thread::spawn(move || {
        thread::sleep(ms(50));
        handle.cancel();
    });
    // Blocked on a silent server until the cancel shuts the socket down.
    let error = stream.next_token().unwrap().unwrap_err();
    canceller.join().unwrap();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:?}");
    assert!(server.wait_for_note("client closed", secs(10)));
    assert_eq!(tokens_of(&client, &hi_request()), "ok");
    assert_eq!(server.connections(), 2);
}

#[test]
fn cancelling_a_finished_streams_handle_leaves_the_connection_alone() {
    // Request 2 goes out on the connection request 1 left in the pool and waits there
    // while the handle of request 1 is cancelled.
    let release = Arc::new(AtomicBool::new(false));
    let release_server = Arc::clone(&release);
    let server = Server::start(move |conn: &mut Conn| {
        if conn.attempt() == 2 {
            conn.start_sse().sse_data(&chunk_json("one"));
            let deadline = Instant::now() + secs(10);
            while !release_server.load(Ordering::SeqCst) && Instant::now() < deadline {
                thread::sleep(ms(5));
            }
            conn.sse_data(&chunk_json(" two")).done().end_chunks();
        } else {
            answer(conn, &["first"]);
        }
    });
    let client = builder(&server).build().unwrap();
    let first_handle = CancelHandle::new();
    let mut first = client
        .stream_with_cancel(&hi_request(), &first_handle)
        .unwrap();
    assert_eq!(drain_tokens(&mut first).0.concat(), "first");
    let mut second = client.stream(&hi_request()).unwrap();
    assert_eq!(second.next_token().unwrap().unwrap(), "one");
    first_handle.cancel();
    release.store(true, Ordering::SeqCst);
    let (tokens, error) = drain_tokens(&mut second);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens, [" two"]);
    assert_eq!(server.connections(), 1);
    drop(first);
}

// ---- TLS --------------------------------------------------------------------------

/// A CA and a server certificate for 127.0.0.1 signed by it; `None` without `openssl`.
fn pki() -> Option<(Pki, Arc<rustls::ServerConfig>)> {
    if !have_openssl("connection reuse over TLS") {
        return None;
    }
    let pki = Pki::new();
    let config = pki.server_config();
    Some((pki, config))
}

/// A keep-alive HTTPS server: request `n` (1-based, across connections) streams two
/// tokens, except when `stall_on` is `n`: one token, then silence until the client goes.
struct HttpsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicUsize>,
    closed_by_client: Arc<AtomicUsize>,
    accept: Option<JoinHandle<()>>,
}

impl HttpsServer {
    fn start(config: Arc<rustls::ServerConfig>, stall_on: usize) -> HttpsServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicUsize::new(0));
        let closed_by_client = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(AtomicUsize::new(0));
        let (stop2, connections2, closed2) = (
            Arc::clone(&stop),
            Arc::clone(&connections),
            Arc::clone(&closed_by_client),
        );
        let accept = thread::spawn(move || {
            let mut workers = Vec::new();
            for tcp in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(tcp) = tcp else { continue };
                connections2.fetch_add(1, Ordering::SeqCst);
                let (config, stop, requests, closed) = (
                    Arc::clone(&config),
                    Arc::clone(&stop2),
                    Arc::clone(&requests),
                    Arc::clone(&closed2),
                );
                workers.push(thread::spawn(move || {
                    if serve_tls(tcp, config, &stop, &requests, stall_on) {
                        closed.fetch_add(1, Ordering::SeqCst);
                    }
                }));
            }
            for worker in workers {
                let _ = worker.join();
            }
        });
        HttpsServer {
            addr,
            stop,
            connections,
            closed_by_client,
            accept: Some(accept),
        }
    }

    fn base(&self) -> String {
        format!("https://{}/v1", self.addr)
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Serves requests on one TLS connection; returns whether the client closed it.
fn serve_tls(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    stop: &AtomicBool,
    requests: &AtomicUsize,
    stall_on: usize,
) -> bool {
    tcp.set_read_timeout(Some(ms(20))).unwrap();
    tcp.set_nodelay(true).unwrap();
    let connection = rustls::ServerConnection::new(config).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // One request: head, then its Content-Length body.
        let (head_end, length) = loop {
            if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&pending[..at]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if pending.len() >= at + 4 + length {
                    break (at + 4, length);
                }
            }
            if stop.load(Ordering::SeqCst) {
                return false;
            }
            match tls.read(&mut buf) {
                Ok(0) => return true,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return true,
            }
        };
        pending.drain(..head_end + length);
        let n = requests.fetch_add(1, Ordering::SeqCst) + 1;
        let mut response =
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                .to_vec();
        let event = |data: String| {
            let event = format!("data: {data}\n\n");
            format!("{:x}\r\n{event}\r\n", event.len()).into_bytes()
        };
        response.extend(event(chunk_json("secure")));
        if n == stall_on {
            if tls.write_all(&response).is_err() {
                return true;
            }
            // Silent until the client goes.
            loop {
                if stop.load(Ordering::SeqCst) {
                    return false;
                }
                match tls.read(&mut buf) {
                    Ok(0) => return true,
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => return true,
                }
            }
        }
        response.extend(event(chunk_json(" hello")));
        response.extend(event(finish_json("stop")));
        response.extend(event("[DONE]".into()));
        response.extend_from_slice(b"0\r\n\r\n");
        if tls.write_all(&response).is_err() {
            return true;
        }
    }
}

#[test]
fn tls_connections_are_reused_and_cancel_still_interrupts() {
    let Some((dir, config)) = pki() else { return };
    let server = HttpsServer::start(config, 6);
    let client = ClientBuilder::new()
        .base_url(server.base())
        .ca_file(dir.ca())
        .max_retries(0)
        .build()
        .unwrap();
    for _ in 0..5 {
        let mut stream = client.stream(&hi_request()).unwrap();
        let (tokens, error) = drain_tokens(&mut stream);
        assert!(error.is_none(), "{error:?}");
        assert_eq!(tokens.concat(), "secure hello");
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    // Request 6 stalls on the pooled connection; a cancel from another thread ends it.
    let handle = CancelHandle::new();
    let mut stream = client.stream_with_cancel(&hi_request(), &handle).unwrap();
    assert_eq!(stream.next_token().unwrap().unwrap(), "secure");
    let canceller = thread::spawn(move || {
        thread::sleep(ms(50));
        handle.cancel();
    });
    let error = stream.next_token().unwrap().unwrap_err();
    canceller.join().unwrap();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:?}");
    let deadline = Instant::now() + secs(10);
    while server.closed_by_client.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
        thread::sleep(ms(10));
    }
    assert_eq!(server.closed_by_client.load(Ordering::SeqCst), 1);
    // The next request needs a new connection: the cancelled one was not pooled.
    let mut stream = client.stream(&hi_request()).unwrap();
    assert_eq!(drain_tokens(&mut stream).0.concat(), "secure hello");
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
}
