//! Memory under hostile servers, measured from `/proc/self/status`.
//!
//! Resident memory is process-wide, so this file holds ONE test that runs its cases one
//! after the other (no other test shares the process). Each case resets the peak RSS
//! (`VmHWM`, by writing `5` to `/proc/self/clear_refs`), runs, and checks that the peak
//! grew by less than the configured limit plus a few MiB: an endless line, an endless
//! event of short `data:` lines, and a 1 GiB error body never get buffered.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use support::*;
use upstage::{ChatRequest, Client, ErrorKind, Limits, Message};

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
/// What a case may cost beyond its limit: the decoder's 64 KiB buffer, the server's
/// buffers and thread stacks, allocator slack.
const SLACK: u64 = 6 * MIB;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/self/status"))
}

/// Resets the peak RSS to the current RSS; `false` when the kernel does not allow it.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A handler writing `prefix`, then `block` until the client goes (at most `cap` bytes).
fn endless(
    head: fn(&mut Conn),
    prefix: &'static [u8],
    block: Vec<u8>,
    cap: u64,
    written: Arc<AtomicU64>,
) -> impl Fn(&mut Conn) + Send + Sync + 'static {
    move |conn: &mut Conn| {
        head(conn);
        conn.body(prefix);
        let mut total = 0;
        while !conn.client_gone() && total < cap {
            conn.body(&block);
            total += block.len() as u64;
        }
        written.fetch_add(total, Ordering::Relaxed);
    }
}

fn sse_head(conn: &mut Conn) {
    conn.start_sse().sse_data(&chunk_json("before"));
}

fn huge_500_head(conn: &mut Conn) {
    let length = (1u64 << 30).to_string();
    conn.send_head(
        500,
        &[("Content-Type", "text/plain"), ("Content-Length", &length)],
    );
}

struct Case {
    name: &'static str,
    head: fn(&mut Conn),
    prefix: &'static [u8],
    block: Vec<u8>,
    limits: Limits,
    /// The limit the case runs into, in bytes.
    budget: u64,
}

/// Runs one case; returns (peak growth in bytes, bytes the server wrote).
fn run_case(case: &Case, can_reset: bool) -> (u64, u64) {
    let written = Arc::new(AtomicU64::new(0));
    let server = Server::start(endless(
        case.head,
        case.prefix,
        case.block.clone(),
        2 << 30,
        Arc::clone(&written),
    ));
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
        .limits(case.limits)
        .max_retries(0)
        .build()
        .unwrap();
    let request = ChatRequest::new("m").message(Message::user("Hi"));
    if can_reset {
        assert!(reset_peak());
    }
    let before = status_kib("VmRSS:");
    let error = match client.stream(&request) {
        Ok(stream) => {
            let mut tokens = Vec::new();
            let mut error = None;
            for item in stream {
                match item {
                    Ok(token) => tokens.push(token),
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            assert_eq!(tokens, ["before"], "{}", case.name);
            error.expect("the stream fails")
        }
        Err(e) => e,
    };
    assert_eq!(error.kind(), ErrorKind::Limit, "{}: {error:?}", case.name);
    assert!(error.http_status().is_some(), "{}", case.name);
    let peak = status_kib("VmHWM:");
    assert!(
        server.wait_idle(secs(10)),
        "{}: connection released",
        case.name
    );
    drop(server);
    (
        peak.saturating_sub(before) * KIB,
        written.load(Ordering::Relaxed),
    )
}

#[test]
fn hostile_servers_cost_at_most_the_limit_plus_a_few_mib() {
    let can_reset = reset_peak();
    if !can_reset {
        println!("note: /proc/self/clear_refs refused; peaks are measured from the start");
    }
    // Warm up: the first server and stream set up thread stacks and allocator arenas
    // that stay; the figures below are about what a hostile server adds.
    let warm = Server::start(serve_tokens(&["warm"]));
    let client = Client::builder()
        .base_url(warm.base())
        .proxy(upstage::Proxy::Disabled)
        .build()
        .unwrap();
    let request = ChatRequest::new("m").message(Message::user("Hi"));
    let tokens: Vec<String> = client
        .stream(&request)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(tokens, ["warm"]);
    drop(warm);
    let start_rss = status_kib("VmRSS:");
    let cases = [
        Case {
            name: "endless line, 1 MiB line limit",
            head: sse_head,
            prefix: b"data: ",
            block: vec![b'a'; 64 * 1024],
            limits: Limits::default().with_max_line(MIB as usize),
            budget: MIB,
        },
        Case {
            name: "endless line, default limits (4 MiB line)",
            head: sse_head,
            prefix: b"data: ",
            block: vec![b'a'; 64 * 1024],
            limits: Limits::default(),
            budget: 4 * MIB,
        },
        Case {
            name: "endless event of short data lines, 4 MiB event limit",
            head: sse_head,
            prefix: b"",
            block: b"data: x\n".repeat(8 * 1024),
            limits: Limits::default().with_max_event(4 * MIB as usize),
            budget: 4 * MIB,
        },
        Case {
            name: "1 GiB error body, default 64 KiB error-body limit",
            head: huge_500_head,
            prefix: b"",
            block: vec![b'e'; 64 * 1024],
            limits: Limits::default(),
            budget: 64 * KIB,
        },
    ];
    let mut report = Vec::new();
    for case in &cases {
        let (growth, written) = run_case(case, can_reset);
        report.push(format!(
            "{}: peak RSS +{} KiB (limit {} KiB), server wrote {} KiB",
            case.name,
            growth / KIB,
            case.budget / KIB,
            written / KIB
        ));
        assert!(
            growth < case.budget + SLACK,
            "{}: peak RSS grew by {} KiB",
            case.name,
            growth / KIB
        );
    }
    for line in &report {
        println!("{line}");
    }
    let end_rss = status_kib("VmRSS:");
    println!("RSS at start {start_rss} KiB, at end {end_rss} KiB");
    // glibc keeps some freed memory in its arenas for reuse: allow the largest limit.
    assert!(
        end_rss < start_rss + (4 * MIB + SLACK) / KIB,
        "RSS did not come back: {start_rss} KiB -> {end_rss} KiB"
    );
}
