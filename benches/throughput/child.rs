//! The children: one path each, run in its own process so that its peak RSS is its own,
//! reporting `RESULT tokens bytes nanos vmhwm_kib` (or `SETUP ...` for the per-stream setup).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use upstage::{ChatRequest, ChatStream, Client, Flavor, Limits, Message};

use crate::workload::*;

pub fn vm_hwm_kib() -> u64 {
    proc_status_kib("/proc/self/status")
}

pub fn proc_status_kib(path: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

pub fn client(port: u16) -> Client {
    Client::builder()
        .base_url(format!("http://127.0.0.1:{port}/v1"))
        .proxy(upstage::Proxy::Disabled)
        .max_retries(0)
        .build()
        .expect("client")
}

pub fn request() -> ChatRequest {
    ChatRequest::new(MODEL).message(Message::user(PROMPT))
}

pub fn child(args: &[String]) {
    let path = args[0].as_str();
    let port: u16 = args[1].parse().unwrap();
    let n: usize = args[2].parse().unwrap();
    let (tokens, bytes, elapsed) = match path {
        "iter" => {
            let client = client(port);
            let request = request();
            let start = Instant::now();
            let (mut tokens, mut bytes) = (0u64, 0u64);
            for token in client.stream(&request).expect("stream") {
                let token = token.expect("token");
                tokens += 1;
                bytes += token.len() as u64;
            }
            (tokens, bytes, start.elapsed())
        }
        "token" => {
            let client = client(port);
            let request = request();
            let start = Instant::now();
            let mut stream = client.stream(&request).expect("stream");
            let (tokens, bytes) = drain(&mut stream);
            (tokens, bytes, start.elapsed())
        }
        "mem" => {
            let body: &'static [u8] = Workload::new(n).render().leak();
            let start = Instant::now();
            let mut stream =
                ChatStream::from_reader(io::Cursor::new(body), Flavor::Api, Limits::default());
            let (tokens, bytes) = drain(&mut stream);
            (tokens, bytes, start.elapsed())
        }
        "raw" => {
            let start = Instant::now();
            let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            let body = request_body();
            write!(
                conn,
                "POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\
                 content-type: application/json\r\naccept: text/event-stream\r\n\
                 content-length: {}\r\n\r\n",
                body.len()
            )
            .unwrap();
            conn.write_all(&body).unwrap();
            let mut buf = vec![0u8; FRAME];
            let mut bytes = 0u64;
            loop {
                match conn.read(&mut buf) {
                    Ok(0) => break,
                    Ok(k) => bytes += k as u64,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => panic!("raw read: {e}"),
                }
            }
            (n as u64, bytes, start.elapsed())
        }
        "ureq" => {
            let agent = bare_agent();
            let body = request_body();
            let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
            let mut buf = vec![0u8; 64 << 10];
            let start = Instant::now();
            let bytes = bare_request(&agent, &url, &body, &mut buf);
            (n as u64, bytes, start.elapsed())
        }
        "setup" => {
            setup_child(port, n);
            return;
        }
        other => panic!("unknown path {other}"),
    };
    println!(
        "RESULT {tokens} {bytes} {} {}",
        elapsed.as_nanos(),
        vm_hwm_kib()
    );
}

/// The borrowed path: tokens counted, nothing kept.
pub fn drain(stream: &mut ChatStream) -> (u64, u64) {
    let (mut tokens, mut bytes) = (0u64, 0u64);
    while let Some(token) = stream.next_token() {
        let token = token.expect("token");
        tokens += 1;
        bytes += token.len() as u64;
    }
    (tokens, bytes)
}

pub fn request_body() -> Vec<u8> {
    // The body the client sends for `request()`.
    let body = serde_json::json!({
        "model": MODEL,
        "messages": [{"role": "user", "content": PROMPT}],
        "stream": true,
    });
    serde_json::to_vec(&body).expect("request body")
}

pub fn bare_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .build()
        .into()
}

/// One bare ureq request, body read to the end and discarded; returns the body size.
pub fn bare_request(agent: &ureq::Agent, url: &str, body: &[u8], buf: &mut [u8]) -> u64 {
    let response = agent
        .post(url)
        .header("accept", "text/event-stream")
        .header("content-type", "application/json")
        .send(body)
        .expect("ureq request");
    let mut reader = response.into_body().into_reader();
    let mut bytes = 0u64;
    loop {
        match reader.read(buf) {
            Ok(0) => break,
            Ok(k) => bytes += k as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => panic!("ureq read: {e}"),
        }
    }
    bytes
}

/// Per-stream setup (N = 1): our client vs a bare ureq request, alternating one by one, each
/// request timed; also ureq configured with the client's default timeouts (connect 10 s,
/// response 600 s, body reads 300 s), which cost a few system calls per request. Prints
/// `SETUP ours_median_ns ureq_median_ns count ours_mean_ns ureq_mean_ns timed_median_ns`.
pub fn setup_child(port: u16, reps: usize) {
    let client = client(port);
    let request = request();
    let agent = bare_agent();
    let timed_agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_recv_response(Some(Duration::from_secs(600)))
        .timeout_recv_body(Some(Duration::from_secs(300)))
        .build()
        .into();
    let body = request_body();
    let url = format!("http://127.0.0.1:{port}/v1/chat/completions");
    let mut buf = vec![0u8; 64 << 10];
    // Warm-up: first connections, lazy statics.
    for _ in 0..20 {
        drain(&mut client.stream(&request).expect("stream"));
        bare_request(&agent, &url, &body, &mut buf);
        bare_request(&timed_agent, &url, &body, &mut buf);
    }
    let (mut ours, mut bare) = (Vec::with_capacity(reps), Vec::with_capacity(reps));
    let mut timed = Vec::with_capacity(reps);
    for i in 0..reps {
        let mut time_ours = || {
            let start = Instant::now();
            let mut stream = client.stream(&request).expect("stream");
            assert_eq!(drain(&mut stream).0, 1);
            drop(stream);
            ours.push(start.elapsed().as_nanos() as u64);
        };
        let mut time_bare = || {
            let start = Instant::now();
            bare_request(&agent, &url, &body, &mut buf);
            bare.push(start.elapsed().as_nanos() as u64);
        };
        // Alternate which goes first, so neither always follows the other.
        if i % 2 == 0 {
            time_ours();
            time_bare();
        } else {
            time_bare();
            time_ours();
        }
        let start = Instant::now();
        bare_request(&timed_agent, &url, &body, &mut buf);
        timed.push(start.elapsed().as_nanos() as u64);
    }
    let mean = |v: &[u64]| v.iter().sum::<u64>() / v.len() as u64;
    let (ours_mean, bare_mean) = (mean(&ours), mean(&bare));
    ours.sort_unstable();
    bare.sort_unstable();
    timed.sort_unstable();
    println!(
        "SETUP {} {} {reps} {ours_mean} {bare_mean} {}",
        ours[reps / 2],
        bare[reps / 2],
        timed[reps / 2]
    );
}
