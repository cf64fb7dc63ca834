//! Soak: threads sharing one client run many streams against the loopback server, a mix
//! of normal, truncated, failing, cancelled (from another thread) and dropped streams;
//! every outcome must be the expected one, and afterwards the open file descriptors, the
//! heap in use (glibc's `mallinfo2`, all arenas) and the resident memory must be back
//! where they started. RSS alone is a blunt measure: glibc keeps the stacks of ended
//! threads (up to 40 MiB) and freed arena pages for reuse, so the heap in use is the
//! leak check and RSS only gets a loose bound.
//!
//! This file holds ONE test (RSS and descriptors are process-wide). The full run, 8
//! threads × 1,000 streams, is `cargo bench --bench soak`, which includes this file.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use support::*;
use upstage::{ChatRequest, Client, ErrorKind, Message};

/// Tokens of a normal stream.
const TOKENS: usize = 20;

/// What a stream is asked to do; the server reads it from the prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Normal,
    Truncated,
    BadRequest,
    ServerError,
    Cancelled,
    Dropped,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Normal,
        Kind::Truncated,
        Kind::BadRequest,
        Kind::ServerError,
        Kind::Cancelled,
        Kind::Dropped,
    ];

    /// The mix: 3 normal streams in 8, one of each other kind (cancelled and dropped
    /// alternate).
    fn of(index: usize) -> Kind {
        match index % 8 {
            0..=2 => Kind::Normal,
            3 => Kind::Truncated,
            4 => Kind::BadRequest,
            5 => Kind::ServerError,
            6 => Kind::Cancelled,
            _ => Kind::Dropped,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Normal => "normal",
            Kind::Truncated => "truncated",
            Kind::BadRequest => "bad-request",
            Kind::ServerError => "server-error",
            Kind::Cancelled => "cancelled",
            Kind::Dropped => "dropped",
        }
    }

    fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

fn token(i: usize) -> String {
    format!("t{i} ")
}

/// The server side of every kind.
fn handler(conn: &mut Conn) {
    let prompt = conn
        .request()
        .json
        .as_ref()
        .and_then(|j| j["messages"][0]["content"].as_str().map(str::to_owned))
        .unwrap_or_default();
    match Kind::from_name(&prompt) {
        Some(Kind::Normal) => {
            conn.start_sse().sse_data(&role_json());
            for i in 0..TOKENS {
                conn.sse_data(&chunk_json(&token(i)));
            }
            conn.sse_data(&finish_json("stop")).done().end_chunks();
        }
        Some(Kind::Truncated) => {
            conn.start_sse();
            for i in 0..3 {
                conn.sse_data(&chunk_json(&token(i)));
            }
            conn.reset();
        }
        Some(Kind::BadRequest) => {
            conn.json_response(400, &[], &error_json("bad", "invalid_request_error"));
        }
        Some(Kind::ServerError) => {
            conn.json_response(
                500,
                &[("x-should-retry", "false")],
                &error_json("boom", "server_error"),
            );
        }
        Some(Kind::Cancelled | Kind::Dropped) => {
            conn.start_sse().sse_data(&chunk_json(&token(0)));
            conn.peer_closed(secs(30));
        }
        None => panic!("unknown prompt {prompt:?}"),
    }
}

/// Runs one stream of `kind` and checks its outcome; returns the tokens it got.
fn run_one(client: &Client, kind: Kind) -> usize {
    let request = ChatRequest::new("soak").message(Message::user(kind.name()));
    let opened = client.stream(&request);
    match kind {
        Kind::BadRequest | Kind::ServerError => {
            let error = opened.expect_err("an HTTP error");
            assert_eq!(error.kind(), ErrorKind::Http, "{kind:?}: {error:?}");
            let status = if kind == Kind::BadRequest { 400 } else { 500 };
            assert_eq!(error.http_status(), Some(status));
            assert_eq!(error.attempts(), 1);
            0
        }
        Kind::Normal => {
            let mut stream = opened.expect("a stream");
            let mut got = 0;
            while let Some(item) = stream.next_token() {
                assert_eq!(item.expect("no error"), token(got));
                got += 1;
            }
            assert_eq!(got, TOKENS);
            assert!(stream.is_done());
            got
        }
        Kind::Truncated => {
            let mut stream = opened.expect("a stream");
            let mut got = 0;
            let error = loop {
                match stream.next_token() {
                    Some(Ok(text)) => {
                        assert_eq!(text, token(got));
                        got += 1;
                    }
                    Some(Err(e)) => break e,
                    None => panic!("a truncated stream succeeded"),
                }
            };
            assert!(
                matches!(error.kind(), ErrorKind::Truncated | ErrorKind::Io),
                "{error:?}"
            );
            assert_eq!(got, 3);
            got
        }
        Kind::Cancelled => {
            let mut stream = opened.expect("a stream");
            assert_eq!(stream.next_token().unwrap().unwrap(), token(0));
            let handle = stream.cancel_handle();
            let canceller = thread::spawn(move || {
                thread::sleep(Duration::from_millis(5));
                handle.cancel();
            });
            let error = stream.next_token().unwrap().unwrap_err();
            canceller.join().unwrap();
            assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:?}");
            assert!(stream.next_token().is_none());
            1
        }
        Kind::Dropped => {
            let mut stream = opened.expect("a stream");
            assert_eq!(stream.next_token().unwrap().unwrap(), token(0));
            drop(stream);
            1
        }
    }
}

/// Bytes of heap in use (all glibc arenas): what is allocated and not freed, whatever
/// the allocator keeps cached. A leak shows here; arena retention does not.
fn heap_in_use() -> u64 {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    #[allow(unsafe_code)]
    let info = unsafe { libc::mallinfo2() };
    info.uordblks as u64 + info.hblkhd as u64
}

/// Resident set size and its peak, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// What a soak run measured.
#[derive(Debug)]
pub struct Figures {
    pub threads: usize,
    pub streams: usize,
    pub elapsed: Duration,
    pub tokens: u64,
    pub per_kind: Vec<(&'static str, u64)>,
    pub requests: usize,
    pub fds_before: usize,
    pub fds_after: usize,
    pub rss_before_kib: u64,
    pub rss_peak_kib: u64,
    pub rss_after_kib: u64,
    pub heap_before: u64,
    pub heap_after: u64,
}

/// Returns freed heap memory to the system, so that RSS shows what is in use rather
/// than what glibc keeps cached in its per-thread arenas.
fn trim() {
    // SAFETY: malloc_trim only walks and releases the allocator's free lists.
    #[allow(unsafe_code)]
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Runs `per_thread` streams on each of `threads` threads through one client of `server`;
/// returns the tokens and the count of each kind.
fn round(server: &Server, threads: usize, per_thread: usize) -> (u64, Vec<u64>) {
    let client = client_for(server);
    let counts: Arc<Vec<AtomicU64>> =
        Arc::new(Kind::ALL.iter().map(|_| AtomicU64::new(0)).collect());
    let tokens = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let client = client.clone();
            let counts = Arc::clone(&counts);
            let tokens = Arc::clone(&tokens);
            thread::spawn(move || {
                for i in 0..per_thread {
                    let kind = Kind::of(t * 7 + i);
                    let got = run_one(&client, kind);
                    tokens.fetch_add(got as u64, Ordering::Relaxed);
                    let slot = Kind::ALL.iter().position(|k| *k == kind).unwrap();
                    counts[slot].fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.join().expect("a soak worker failed");
    }
    assert!(server.wait_idle(secs(30)), "connections left open");
    let counts = counts.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    (tokens.load(Ordering::Relaxed), counts)
}

/// Runs `threads` × `per_thread` streams through one shared client.
pub fn soak(threads: usize, per_thread: usize) -> Figures {
    // Warm up at the same concurrency: the first streams set up what stays (allocator
    // arenas of each thread, std's thread-local state), which is not growth.
    {
        let server = Server::start(handler);
        round(&server, threads, per_thread.min(16));
    }
    trim();
    let fds_before = open_fds();
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let (rss_before_kib, _) = memory_kib();
    let heap_before = heap_in_use();
    let started = Instant::now();
    let server = Server::start(handler);
    let (tokens, counts) = round(&server, threads, per_thread);
    let requests = server.request_count();
    drop(server);
    let elapsed = started.elapsed();
    trim();
    let (rss_after_kib, rss_peak_kib) = memory_kib();
    let heap_after = heap_in_use();
    Figures {
        threads,
        streams: threads * per_thread,
        elapsed,
        tokens,
        per_kind: Kind::ALL.iter().map(|k| k.name()).zip(counts).collect(),
        requests,
        fds_before,
        fds_after: open_fds(),
        rss_before_kib,
        rss_peak_kib,
        rss_after_kib,
        heap_before,
        heap_after,
    }
}

fn client_for(server: &Server) -> Client {
    Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
        .idle_timeout(Some(secs(20)))
        .max_retries(0)
        .build()
        .unwrap()
}

#[test]
fn a_small_soak_releases_every_descriptor_and_its_memory() {
    let figures = soak(4, 50);
    println!("{figures:#?}");
    assert_eq!(figures.requests, 200);
    assert_eq!(figures.fds_after, figures.fds_before, "descriptors leaked");
    assert!(
        figures.heap_after < figures.heap_before + 256 * 1024,
        "heap in use grew from {} to {} bytes",
        figures.heap_before,
        figures.heap_after
    );
    assert!(
        figures.rss_after_kib < figures.rss_before_kib + 8 * 1024,
        "RSS grew from {} KiB to {} KiB",
        figures.rss_before_kib,
        figures.rss_after_kib
    );
}
