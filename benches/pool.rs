//! Connection reuse and the memory of open streams.
//!
//! ```text
//! cargo bench --bench pool                  # (g) and (h)
//! cargo bench --bench pool -- --only g      # one of them
//! cargo bench --bench pool -- --streams 1,100,1000 --stack-kib 256
//! ```
//!
//! (g) 200 sequential short streams over TLS on loopback, on one client with connection
//! reuse and on one without: requests per second and connections the server accepted.
//!
//! (h) 1, 100 and 1,000 streams held open at once, each on its own thread (small stacks),
//! each after its first token: resident memory (`VmRSS`) and live heap bytes (a counting
//! allocator) per stream, over plain HTTP and over TLS. The server runs in a child process
//! (this binary re-executed), so that its memory is not counted; the cost of an idle thread
//! with the same stack is measured first and subtracted ("beyond the caller's thread").
//!
//! Certificates for the loopback HTTPS server are made with the `openssl` CLI; without it
//! the TLS figures are skipped.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use upstage::{ChatRequest, Client, ClientBuilder, Message};

// The certificates of the TLS tests (which use the parts this bench does not).
#[allow(dead_code)]
#[path = "../tests/support/pki.rs"]
mod pki;
use pki::{have_openssl, server_config_in, Pki};

// ---------------------------------------------------------------------------------------------
// Heap accounting
// ---------------------------------------------------------------------------------------------

/// The system allocator, counting the bytes currently allocated.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a counter is kept.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's. Zeroed memory from the
        // system is untouched, so it costs no resident pages until written.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix(field)
                    .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

/// The resident memory of the thread stacks of `stack_kib` KiB (each one mapping of that
/// size in `/proc/self/smaps`, its guard page being a mapping of its own).
fn stack_rss_kib(stack_kib: u64) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap_or_default();
    let mut size = 0;
    let mut total = 0;
    let kib = |rest: &str| {
        rest.trim()
            .trim_end_matches("kB")
            .trim()
            .parse::<u64>()
            .ok()
    };
    for line in smaps.lines() {
        if let Some(rest) = line.strip_prefix("Size:") {
            size = kib(rest).unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("Rss:") {
            if size == stack_kib {
                total += kib(rest).unwrap_or(0);
            }
        }
    }
    total
}

// ---------------------------------------------------------------------------------------------
// The loopback server (in this process for (g), in a child for (h))
// ---------------------------------------------------------------------------------------------

/// Token chunks of the answers.
fn event(data: &str) -> Vec<u8> {
    let event = format!("data: {data}\n\n");
    format!("{:x}\r\n{event}\r\n", event.len()).into_bytes()
}

fn token(text: &str) -> Vec<u8> {
    event(&format!(
        r#"{{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{{"index":0,"delta":{{"content":"{text}"}},"finish_reason":null}}]}}"#
    ))
}

const HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

/// Serves one connection: a short answer per request, or (a request saying `hold`) the
/// first token and then nothing until the client goes.
fn serve<S: Read + Write>(mut stream: S) {
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let (end, hold) = loop {
            if let Some(at) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&pending[..at]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if pending.len() >= at + 4 + length {
                    let body = &pending[at + 4..at + 4 + length];
                    let hold = body.windows(4).any(|w| w == b"hold");
                    break (at + 4 + length, hold);
                }
            }
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
            }
        };
        pending.drain(..end);
        let mut response = HEAD.to_vec();
        response.extend(token("Hi"));
        if hold {
            if stream.write_all(&response).is_err() || stream.flush().is_err() {
                return;
            }
            while matches!(stream.read(&mut buf), Ok(n) if n > 0) {}
            return;
        }
        response.extend(token(" there"));
        response.extend(event(
            r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
        ));
        response.extend(event("[DONE]"));
        response.extend_from_slice(b"0\r\n\r\n");
        if stream.write_all(&response).is_err() || stream.flush().is_err() {
            return;
        }
    }
}

/// Starts the server; returns its port and the count of accepted connections.
fn start_server(tls: Option<Arc<rustls::ServerConfig>>) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(tcp) = tcp else { continue };
            let _ = tcp.set_nodelay(true);
            counter.fetch_add(1, Ordering::SeqCst);
            let tls = tls.clone();
            let spawned = thread::Builder::new()
                .stack_size(128 << 10)
                .spawn(move || match tls {
                    Some(config) => {
                        let Ok(connection) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        serve(rustls::StreamOwned::new(connection, tcp));
                    }
                    None => serve(tcp),
                });
            if spawned.is_err() {
                eprintln!("pool bench server: cannot spawn a connection thread");
            }
        }
    });
    (port, accepted)
}

/// The server as a child process (this binary with `UPSTAGE_POOL_BENCH_SERVER` set).
struct ChildServer {
    child: Child,
    port: u16,
}

impl ChildServer {
    fn start(certs: Option<&Path>) -> ChildServer {
        let mut command = Command::new(std::env::current_exe().expect("current exe"));
        command
            .env(
                "UPSTAGE_POOL_BENCH_SERVER",
                certs.map_or("plain".into(), |d| d.display().to_string()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped());
        let mut child = command.spawn().expect("spawn the server process");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .expect("the server's port");
        let port = line.trim().parse().expect("a port");
        ChildServer { child, port }
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        // Closing its stdin ends the server process.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The child's side: serve until stdin closes.
fn run_child_server(mode: &str) {
    let tls = (mode != "plain").then(|| server_config_in(Path::new(mode)));
    let (port, _) = start_server(tls);
    println!("{port}");
    std::io::stdout().flush().unwrap();
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
}

// ---------------------------------------------------------------------------------------------
// The client side
// ---------------------------------------------------------------------------------------------

/// A client for the loopback server. `retries`: 1,000 connections at once can overflow
/// the server's accept queue, which resets a few; they are sent again.
fn client(port: u16, certs: Option<&Path>, reuse: bool, retries: u32) -> Client {
    let scheme = if certs.is_some() { "https" } else { "http" };
    let mut builder = ClientBuilder::new()
        .base_url(format!("{scheme}://127.0.0.1:{port}/v1"))
        .connection_reuse(reuse)
        .max_retries(retries);
    if let Some(dir) = certs {
        builder = builder.ca_file(dir.join("ca.pem"));
    }
    builder.build().expect("client")
}

fn request(text: &str) -> ChatRequest {
    ChatRequest::new("solar-pro4").message(Message::user(text))
}

/// (g): 200 sequential short streams on one client; requests per second and connections.
fn sequential(certs: &Path, reuse: bool) -> (f64, usize) {
    const STREAMS: usize = 200;
    let (port, accepted) = start_server(Some(server_config_in(certs)));
    let client = client(port, Some(certs), reuse, 0);
    let started = Instant::now();
    for _ in 0..STREAMS {
        let mut stream = client.stream(&request("short")).expect("stream");
        let mut text = String::new();
        while let Some(token) = stream.next_token() {
            text.push_str(token.expect("token"));
        }
        assert_eq!(text, "Hi there");
    }
    let rate = STREAMS as f64 / started.elapsed().as_secs_f64();
    (rate, accepted.load(Ordering::SeqCst))
}

struct Held {
    /// Resident memory per stream beyond an idle thread, its stack pages excluded.
    rss_per_stream_kib: f64,
    /// Stack pages the stream's calls dirtied, per thread.
    stack_per_stream_kib: f64,
    heap_per_stream_kib: f64,
    threads: u64,
}

/// What `hold` measured: resident memory, of it the threads' stacks, live heap (bytes),
/// and the process's threads.
struct Measured {
    rss: u64,
    stacks: u64,
    heap: isize,
    threads: u64,
}

/// Spawns `n` threads with `stack` bytes of stack that each run `work` after the barrier
/// of all of them is reached once, then wait for the release barrier.
fn hold<F>(n: usize, stack: usize, work: F) -> Measured
where
    F: Fn() -> Option<upstage::ChatStream> + Send + Sync + 'static,
{
    let work = Arc::new(work);
    let ready = Arc::new(Barrier::new(n + 1));
    let release = Arc::new(Barrier::new(n + 1));
    let rss_before = status_kib("VmRSS:");
    let stacks_before = stack_rss_kib(stack as u64 >> 10);
    let heap_before = LIVE.load(Ordering::SeqCst);
    let workers: Vec<_> = (0..n)
        .map(|_| {
            let (work, ready, release) =
                (Arc::clone(&work), Arc::clone(&ready), Arc::clone(&release));
            thread::Builder::new()
                .stack_size(stack)
                .spawn(move || {
                    let held = work();
                    ready.wait();
                    release.wait();
                    drop(held);
                })
                .expect("spawn")
        })
        .collect();
    ready.wait();
    // Let the kernel and allocator settle.
    thread::sleep(Duration::from_millis(200));
    let measured = Measured {
        rss: status_kib("VmRSS:").saturating_sub(rss_before),
        stacks: stack_rss_kib(stack as u64 >> 10).saturating_sub(stacks_before),
        heap: LIVE.load(Ordering::SeqCst) - heap_before,
        threads: status_kib("Threads:"),
    };
    release.wait();
    for worker in workers {
        worker.join().unwrap();
    }
    measured
}

/// (h): `n` streams held open after their first token.
fn held_open(n: usize, stack: usize, certs: Option<&Path>) -> Held {
    let server = ChildServer::start(certs);
    let client = client(server.port, certs, true, 3);
    // Warm up: the TLS configuration and the first connection are the client's, not a
    // stream's.
    {
        let mut stream = client.stream(&request("short")).expect("stream");
        while stream.next_token().is_some() {}
    }
    let idle = hold(n, stack, || None);
    let failures = Arc::new(AtomicUsize::new(0));
    let failed = Arc::clone(&failures);
    let open = hold(n, stack, move || {
        // A failure must still reach the barriers: it is counted, not a panic.
        let opened =
            client
                .stream(&request("hold"))
                .and_then(|mut stream| match stream.next_token() {
                    Some(Ok("Hi")) => Ok(stream),
                    Some(Err(e)) => Err(e),
                    other => panic!("unexpected first token: {other:?}"),
                });
        match opened {
            Ok(stream) => Some(stream),
            Err(e) => {
                if failed.fetch_add(1, Ordering::SeqCst) == 0 {
                    eprintln!("a stream failed: {e}");
                }
                None
            }
        }
    });
    let failures = failures.load(Ordering::SeqCst);
    assert_eq!(failures, 0, "{failures} of {n} streams failed to open");
    drop(server);
    let per = |kib: i64| kib as f64 / n as f64;
    let stacks = open.stacks as i64 - idle.stacks as i64;
    Held {
        rss_per_stream_kib: per(open.rss as i64 - idle.rss as i64 - stacks),
        stack_per_stream_kib: per(stacks),
        heap_per_stream_kib: (open.heap - idle.heap) as f64 / 1024.0 / n as f64,
        threads: open.threads,
    }
}

/// [`held_open`] in a child process of its own.
fn held_open_in_child(n: usize, stack: usize, certs: Option<&Path>) -> Held {
    let job = format!(
        "{n},{stack},{}",
        certs.map_or(String::new(), |c| c.display().to_string())
    );
    let output = Command::new(std::env::current_exe().expect("current exe"))
        .env("UPSTAGE_POOL_BENCH_HOLD", job)
        .stderr(Stdio::inherit())
        .output()
        .expect("run a measurement");
    let text = String::from_utf8_lossy(&output.stdout);
    let numbers: Vec<f64> = text
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 4, "measurement output: {text}");
    Held {
        rss_per_stream_kib: numbers[0],
        heap_per_stream_kib: numbers[1],
        stack_per_stream_kib: numbers[2],
        threads: numbers[3] as u64,
    }
}

fn main() {
    if let Ok(mode) = std::env::var("UPSTAGE_POOL_BENCH_SERVER") {
        run_child_server(&mode);
        return;
    }
    if let Ok(job) = std::env::var("UPSTAGE_POOL_BENCH_HOLD") {
        // One (h) measurement in a fresh process: memory freed by an earlier one would
        // otherwise be reused and hide the cost.
        let mut parts = job.splitn(3, ',');
        let n: usize = parts.next().unwrap().parse().unwrap();
        let stack: usize = parts.next().unwrap().parse().unwrap();
        let certs = parts.next().filter(|c| !c.is_empty()).map(PathBuf::from);
        let held = held_open(n, stack, certs.as_deref());
        println!(
            "{} {} {} {}",
            held.rss_per_stream_kib,
            held.heap_per_stream_kib,
            held.stack_per_stream_kib,
            held.threads
        );
        return;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs bench binaries without `--bench`.
        eprintln!("pool: run with `cargo bench --bench pool`");
        return;
    }
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let only = value("--only");
    let wanted = |part: &str| {
        only.as_deref()
            .map_or(true, |o| o.split(',').any(|p| p == part))
    };
    let counts: Vec<usize> = value("--streams")
        .unwrap_or_else(|| "1,100,1000".into())
        .split(',')
        .filter_map(|n| n.parse().ok())
        .collect();
    let stack = value("--stack-kib")
        .and_then(|k| k.parse::<usize>().ok())
        .unwrap_or(256)
        << 10;
    // Kept to the end: dropping it removes the certificates.
    let pki = have_openssl("TLS figures").then(Pki::new);
    let certs: Option<PathBuf> = pki.as_ref().map(|pki| pki.dir().to_path_buf());

    if wanted("g") {
        if let Some(certs) = &certs {
            println!("(g) 200 sequential short streams over TLS on loopback");
            let (off_rate, off_connections) = sequential(certs, false);
            let (on_rate, on_connections) = sequential(certs, true);
            println!(
                "    without reuse: {off_rate:8.0} requests/s, {off_connections:3} connections"
            );
            println!("    with reuse:    {on_rate:8.0} requests/s, {on_connections:3} connections");
            println!("    speed-up: {:.2}x", on_rate / off_rate);
        }
    }

    if wanted("h") {
        println!(
            "(h) streams held open after their first token, one thread each ({} KiB stacks)",
            stack >> 10
        );
        println!("    transport  streams  RSS/stream  (heap)    +stack/thread  threads");
        let transports: Vec<(&str, Option<&Path>)> = std::iter::once(("http", None))
            .chain(certs.as_deref().map(|c| ("https", Some(c))))
            .collect();
        for (name, certs) in transports {
            for &n in &counts {
                let held = held_open_in_child(n, stack, certs);
                println!(
                    "    {name:9}  {n:7}  {:6.1} KiB  ({:5.1} KiB)  {:6.1} KiB  {:7}",
                    held.rss_per_stream_kib,
                    held.heap_per_stream_kib,
                    held.stack_per_stream_kib,
                    held.threads
                );
            }
        }
    }
    drop(pki);
}
