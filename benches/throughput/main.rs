//! Streaming throughput against the in-memory limit and the raw-transfer floor (issue 6).
//!
//! ```text
//! cargo bench --bench throughput                 # N = 200,000 tokens
//! cargo bench --bench throughput -- -n 1000000   # N from 1 to 1,000,000
//! ```
//!
//! Options (after `--`): `-n N` tokens per stream, `--reps R` runs per path (best time is
//! kept, default 5), `--setup-reps S` streams for the per-stream setup cost (default 2,000),
//! `--no-rss-check` to skip the 1k-vs-1M peak-RSS comparison, `--only a,b,e` to run some
//! paths only.
//!
//! A loopback server thread sends one OpenAI/vLLM-style `chat.completion.chunk` per token
//! (chunked transfer encoding, 1 MiB writes). Every path runs in a child process (this binary
//! re-executed with `child ...`, the CLI example, or the C program), so that each peak RSS
//! (`VmHWM`) is its own. Each figure is printed as a ratio to (e), the in-memory limit, and to
//! (f), the raw-transfer floor, measured in the same run.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use upstage::{ChatRequest, ChatStream, Client, Flavor, Limits, Message};

/// Distinct chunks rendered once; the body repeats them (token `i` is token `i % PERIOD`).
const PERIOD: usize = 4096;
/// Size of each HTTP chunk the server writes.
const FRAME: usize = 1 << 20;
const MODEL: &str = "solar-pro2";
const PROMPT: &str = "Write a long story.";

// ---------------------------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------------------------

/// Tokens as they appear inside the JSON string (`.0`) and as the client must return them
/// (`.1`): subwords with and without a leading space, punctuation, Korean, Japanese, accents,
/// an emoji, and about 8 % of tokens with escapes (newlines, quotes, backslashes, a tab).
const VOCAB: &[(&str, &str)] = &[
    (" the", " the"),
    (" of", " of"),
    (" and", " and"),
    (" to", " to"),
    (" a", " a"),
    (" in", " in"),
    (" is", " is"),
    (" that", " that"),
    (" for", " for"),
    (" it", " it"),
    (" with", " with"),
    (" as", " as"),
    (" was", " was"),
    (" on", " on"),
    ("ing", "ing"),
    ("ed", "ed"),
    (" stream", " stream"),
    (" token", " token"),
    (" Solar", " Solar"),
    (" model", " model"),
    (" language", " language"),
    (" server", " server"),
    (" quickly", " quickly"),
    (" under", " under"),
    ("ation", "ation"),
    ("ly", "ly"),
    (" be", " be"),
    (" by", " by"),
    (" this", " this"),
    (" which", " which"),
    (".", "."),
    (",", ","),
    (" (", " ("),
    (")", ")"),
    (":", ":"),
    (" 42", " 42"),
    ("2026", "2026"),
    (" café", " café"),
    (" naïve", " naïve"),
    (" über", " über"),
    (" 안녕", " 안녕"),
    ("하세요", "하세요"),
    (" 업스테이지", " 업스테이지"),
    (" 日本", " 日本"),
    ("語", "語"),
    (" 🙂", " 🙂"),
    ("—", "—"),
    (" “quoted”", " “quoted”"),
    (" a", " a"),
    (" the", " the"),
    (" of", " of"),
    (" data", " data"),
    (" fast", " fast"),
    (" memory", " memory"),
    (" parser", " parser"),
    (" bytes", " bytes"),
    (" per", " per"),
    (" second", " second"),
    ("\\n", "\n"),
    ("\\n\\n", "\n\n"),
    (" \\\"", " \""),
    ("\\\"", "\""),
    ("\\\\", "\\"),
    ("\\t", "\t"),
];

fn token(i: usize) -> (&'static str, &'static str) {
    let hash = ((i % PERIOD) as u64 ^ 0x5bd1_e995).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    VOCAB[(hash >> 40) as usize % VOCAB.len()]
}

const ID: &str = "chatcmpl-4f6c2a7e9b3d41c5a8e0f1b2c3d4e5f6";
const CREATED: u64 = 1_764_000_000;

fn chunk_line(delta: &str, finish: &str) -> String {
    format!(
        "data: {{\"id\":\"{ID}\",\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\
         \"model\":\"{MODEL}\",\"system_fingerprint\":null,\"choices\":[{{\"index\":0,\
         \"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}]}}\n\n"
    )
}

/// The response body of N tokens, held as one period of rendered chunks (so the server and the
/// socket paths need no memory proportional to N).
struct Workload {
    n: usize,
    head: Vec<u8>,
    period: Vec<u8>,
    /// `period[..ends[i]]` holds the first `i + 1` content chunks.
    ends: Vec<usize>,
    /// Content bytes of the first `i` tokens of a period.
    content_prefix: Vec<u64>,
    tail: Vec<u8>,
    done: Vec<u8>,
}

impl Workload {
    fn new(n: usize) -> Workload {
        let head = chunk_line(r#"{"role":"assistant","content":""}"#, "null").into_bytes();
        let mut period = Vec::new();
        let mut ends = Vec::with_capacity(PERIOD);
        let mut content_prefix = vec![0u64];
        for i in 0..PERIOD.min(n.max(1)) {
            let (json, text) = token(i);
            period.extend_from_slice(
                chunk_line(&format!(r#"{{"content":"{json}"}}"#), "null").as_bytes(),
            );
            ends.push(period.len());
            content_prefix.push(content_prefix[i] + text.len() as u64);
        }
        let mut tail = chunk_line("{}", "\"stop\"").into_bytes();
        tail.extend_from_slice(
            format!(
                "data: {{\"id\":\"{ID}\",\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\
                 \"model\":\"{MODEL}\",\"choices\":[],\"usage\":{{\"prompt_tokens\":12,\
                 \"completion_tokens\":{n},\"total_tokens\":{}}}}}\n\n",
                n + 12
            )
            .as_bytes(),
        );
        Workload {
            n,
            head,
            period,
            ends,
            content_prefix,
            tail,
            done: b"data: [DONE]\n\n".to_vec(),
        }
    }

    /// The body before `data: [DONE]`, as slices in order.
    fn pieces(&self) -> Vec<&[u8]> {
        let mut pieces = vec![&self.head[..]];
        let full = self.n / PERIOD;
        let rest = self.n % PERIOD;
        pieces.extend(std::iter::repeat(&self.period[..]).take(full));
        if rest > 0 {
            pieces.push(&self.period[..self.ends[rest - 1]]);
        }
        pieces.push(&self.tail);
        pieces
    }

    /// Body bytes after de-chunking, `[DONE]` included.
    fn body_len(&self) -> u64 {
        self.pieces().iter().map(|p| p.len() as u64).sum::<u64>() + self.done.len() as u64
    }

    /// Bytes of all tokens, as the client returns them.
    fn content_bytes(&self) -> u64 {
        let per_period = self.content_prefix[self.ends.len()];
        (self.n / PERIOD) as u64 * per_period + self.content_prefix[self.n % PERIOD]
    }

    /// The whole body in one buffer.
    fn render(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.body_len() as usize);
        for piece in self.pieces() {
            body.extend_from_slice(piece);
        }
        body.extend_from_slice(&self.done);
        body
    }
}

// ---------------------------------------------------------------------------------------------
// The loopback server
// ---------------------------------------------------------------------------------------------

/// Runs before the server writes `data: [DONE]` (the CLI path samples the CLI's peak RSS there).
type Gate = Arc<Mutex<Option<Box<dyn FnMut() + Send>>>>;

fn start_server(work: Arc<Workload>, gate: Gate) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut frame = Vec::with_capacity(FRAME + 16);
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let _ = serve(conn, &work, &gate, &mut frame);
        }
    });
    port
}

fn serve(mut conn: TcpStream, work: &Workload, gate: &Gate, frame: &mut Vec<u8>) -> io::Result<()> {
    conn.set_nodelay(true)?;
    read_request(&mut conn)?;
    conn.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\
          transfer-encoding: chunked\r\nconnection: close\r\n\r\n",
    )?;
    let mut payload = Vec::with_capacity(FRAME);
    for piece in work.pieces() {
        let mut piece = piece;
        while !piece.is_empty() {
            let take = piece.len().min(FRAME - payload.len());
            payload.extend_from_slice(&piece[..take]);
            piece = &piece[take..];
            if payload.len() == FRAME {
                write_frame(&mut conn, frame, &payload)?;
                payload.clear();
            }
        }
    }
    if !payload.is_empty() {
        write_frame(&mut conn, frame, &payload)?;
    }
    if let Some(gate) = gate.lock().unwrap().as_mut() {
        gate();
    }
    write_frame(&mut conn, frame, &work.done)?;
    conn.write_all(b"0\r\n\r\n")?;
    conn.flush()
}

/// One HTTP chunk in one write.
fn write_frame(conn: &mut TcpStream, frame: &mut Vec<u8>, payload: &[u8]) -> io::Result<()> {
    frame.clear();
    write!(frame, "{:x}\r\n", payload.len())?;
    frame.extend_from_slice(payload);
    frame.extend_from_slice(b"\r\n");
    conn.write_all(frame)
}

/// Reads the request head and its `content-length` body.
fn read_request(conn: &mut TcpStream) -> io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut have = buf.len() - head_end;
    while have < length {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        have += n;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Children: one path each, reporting `RESULT tokens bytes nanos vmhwm_kib`
// ---------------------------------------------------------------------------------------------

fn vm_hwm_kib() -> u64 {
    proc_status_kib("/proc/self/status")
}

fn proc_status_kib(path: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn client(port: u16) -> Client {
    Client::builder()
        .base_url(format!("http://127.0.0.1:{port}/v1"))
        .proxy(None)
        .max_retries(0)
        .build()
        .expect("client")
}

fn request() -> ChatRequest {
    ChatRequest::new(MODEL).message(Message::user(PROMPT))
}

fn child(args: &[String]) {
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
fn drain(stream: &mut ChatStream) -> (u64, u64) {
    let (mut tokens, mut bytes) = (0u64, 0u64);
    while let Some(token) = stream.next_token() {
        let token = token.expect("token");
        tokens += 1;
        bytes += token.len() as u64;
    }
    (tokens, bytes)
}

fn request_body() -> Vec<u8> {
    request()
        .body(Flavor::Api, MODEL, true)
        .expect("request body")
}

fn bare_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .build()
        .into()
}

/// One bare ureq request, body read to the end and discarded; returns the body size.
fn bare_request(agent: &ureq::Agent, url: &str, body: &[u8], buf: &mut [u8]) -> u64 {
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
fn setup_child(port: u16, reps: usize) {
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

// ---------------------------------------------------------------------------------------------
// The orchestrator
// ---------------------------------------------------------------------------------------------

struct Options {
    n: usize,
    reps: usize,
    setup_reps: usize,
    rss_check: bool,
    only: Option<Vec<String>>,
}

fn parse_options(args: &[String]) -> Options {
    let mut options = Options {
        n: 200_000,
        reps: 5,
        setup_reps: 2_000,
        rss_check: true,
        only: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("option needs a value").clone();
        match arg.as_str() {
            "-n" | "--tokens" => options.n = value().replace('_', "").parse().expect("-n N"),
            "--reps" => options.reps = value().parse().expect("--reps R"),
            "--setup-reps" => options.setup_reps = value().parse().expect("--setup-reps S"),
            "--no-rss-check" => options.rss_check = false,
            "--only" => options.only = Some(value().split(',').map(str::to_owned).collect()),
            // Added by `cargo bench`.
            "--bench" => {}
            other => panic!("unknown option {other}"),
        }
    }
    assert!(
        (1..=1_000_000).contains(&options.n),
        "N must be in 1..=1,000,000"
    );
    options.reps = options.reps.max(1);
    options
}

/// One measured run.
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    tokens: u64,
    bytes: u64,
    secs: f64,
    hwm_kib: u64,
}

fn parse_result(stdout: &str) -> Run {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in {stdout:?}"));
    let f: Vec<u64> = line
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    Run {
        tokens: f[0],
        bytes: f[1],
        secs: f[2] as f64 / 1e9,
        hwm_kib: f[3],
    }
}

/// Everything the orchestrator needs to run a path once.
struct Bench {
    exe: PathBuf,
    port: u16,
    gate: Gate,
    artifacts: Option<Artifacts>,
}

/// The CLI example and the C program, built in their own target directory (the outer
/// `cargo bench` holds the lock on ours).
struct Artifacts {
    cli: PathBuf,
    c_program: Option<PathBuf>,
    c_note: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Path_ {
    Iter,
    Token,
    C,
    Cli,
    Mem,
    Raw,
    Ureq,
}

impl Path_ {
    const ALL: [Path_; 7] = [
        Path_::Iter,
        Path_::Token,
        Path_::C,
        Path_::Cli,
        Path_::Mem,
        Path_::Raw,
        Path_::Ureq,
    ];

    fn key(self) -> &'static str {
        match self {
            Path_::Iter => "a",
            Path_::Token => "b",
            Path_::C => "c",
            Path_::Cli => "d",
            Path_::Mem => "e",
            Path_::Raw => "f",
            Path_::Ureq => "f2",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Path_::Iter => "(a) Rust Iterator<Item = String>",
            Path_::Token => "(b) Rust next_token() -> &str",
            Path_::C => "(c) C upstage_chat_stream callback",
            Path_::Cli => "(d) CLI chat > file, flush per token",
            Path_::Mem => "(e) in-memory: from_reader(&[u8])",
            Path_::Raw => "(f) raw TCP read, discarded",
            Path_::Ureq => "(f') ureq body read, discarded",
        }
    }
}

impl Bench {
    /// Runs `path` once with N tokens; `None` when the path cannot run here.
    fn run(&self, path: Path_, work: &Workload) -> Option<Run> {
        let n = work.n;
        let args = |name: &str| vec![name.to_owned(), self.port.to_string(), n.to_string()];
        let run = match path {
            Path_::Iter => self.run_child(args("iter")),
            Path_::Token => self.run_child(args("token")),
            Path_::Mem => self.run_child(args("mem")),
            Path_::Raw => self.run_child(args("raw")),
            Path_::Ureq => self.run_child(args("ureq")),
            Path_::C => {
                let program = self.artifacts.as_ref()?.c_program.as_ref()?;
                let output = Command::new(program)
                    .arg(format!("http://127.0.0.1:{}/v1", self.port))
                    .env_remove("UPSTAGE_API_KEY")
                    .stderr(Stdio::inherit())
                    .output()
                    .expect("run the C program");
                assert!(output.status.success(), "the C program failed");
                parse_result(&String::from_utf8_lossy(&output.stdout))
            }
            Path_::Cli => self.run_cli(work)?,
        };
        Some(run)
    }

    fn run_child(&self, args: Vec<String>) -> Run {
        let output = Command::new(&self.exe)
            .arg("child")
            .args(args)
            .stderr(Stdio::inherit())
            .output()
            .expect("re-run the bench binary");
        assert!(output.status.success(), "a bench child failed");
        parse_result(&String::from_utf8_lossy(&output.stdout))
    }

    /// The CLI prints each token to a file, flushing each. Its peak RSS is read from
    /// `/proc/PID/status` while the server holds back `data: [DONE]` until every token is in
    /// the file.
    fn run_cli(&self, work: &Workload) -> Option<Run> {
        let cli = &self.artifacts.as_ref()?.cli;
        let out_path = target_dir().join("bench-cli-output.txt");
        let out = std::fs::File::create(&out_path).expect("create the CLI output file");
        let expected = work.content_bytes();
        let pid = Arc::new(AtomicU32::new(0));
        let hwm = Arc::new(AtomicU64::new(0));
        {
            let (pid, hwm, out_path) = (pid.clone(), hwm.clone(), out_path.clone());
            *self.gate.lock().unwrap() = Some(Box::new(move || {
                let deadline = Instant::now() + Duration::from_secs(120);
                while std::fs::metadata(&out_path).map_or(0, |m| m.len()) < expected
                    && Instant::now() < deadline
                {
                    std::thread::sleep(Duration::from_micros(100));
                }
                let status = format!("/proc/{}/status", pid.load(Ordering::SeqCst));
                hwm.store(proc_status_kib(&status), Ordering::SeqCst);
            }));
        }
        let start = Instant::now();
        let mut child = Command::new(cli)
            .args(["--base-url", &format!("http://127.0.0.1:{}/v1", self.port)])
            .args([
                "--proxy",
                "none",
                "--retries",
                "0",
                "--model",
                MODEL,
                PROMPT,
            ])
            .env_remove("UPSTAGE_API_KEY")
            .env_remove("UPSTAGE_BASE_URL")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run the CLI");
        pid.store(child.id(), Ordering::SeqCst);
        let status = child.wait().expect("wait for the CLI");
        let secs = start.elapsed().as_secs_f64();
        *self.gate.lock().unwrap() = None;
        assert!(status.success(), "the CLI failed");
        let bytes = std::fs::metadata(&out_path).map_or(0, |m| m.len());
        assert_eq!(bytes, expected, "the CLI printed the wrong number of bytes");
        Some(Run {
            tokens: work.n as u64,
            bytes,
            secs,
            hwm_kib: hwm.load(Ordering::SeqCst),
        })
    }
}

/// Keeps the shortest time, and the largest peak RSS seen.
fn merge(best: Option<Run>, run: Run) -> Run {
    match best {
        Some(b) if b.secs <= run.secs => Run {
            hwm_kib: b.hwm_kib.max(run.hwm_kib),
            ..b
        },
        Some(b) => Run {
            hwm_kib: b.hwm_kib.max(run.hwm_kib),
            ..run
        },
        None => run,
    }
}

/// Every token path must return exactly the tokens that were sent.
fn check(path: Path_, work: &Workload, run: &Run) {
    match path {
        Path_::Raw | Path_::Ureq => assert!(run.bytes >= work.body_len(), "short body"),
        _ => assert_eq!(
            (run.tokens, run.bytes),
            (work.n as u64, work.content_bytes()),
            "{}: wrong tokens",
            path.label()
        ),
    }
}

fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target")
}

/// Builds the CLI example and the static library in `target/bench-artifacts`, then the C
/// program against that library.
fn build_artifacts() -> Option<Artifacts> {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = target_dir().join("bench-artifacts");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!(
        "building the CLI example and the static library in {} ...",
        target.display()
    );
    let status = Command::new(&cargo)
        .current_dir(manifest_dir)
        .args([
            "build",
            "--quiet",
            "--release",
            "--lib",
            "--example",
            "chat",
        ])
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .ok()?;
    if !status.success() {
        eprintln!("cargo build failed: paths (c) and (d) are skipped");
        return None;
    }
    let release = target.join("release");
    let cli = release.join("examples").join("chat");
    let (c_program, c_note) = build_c_program(manifest_dir, &release);
    Some(Artifacts {
        cli,
        c_program,
        c_note,
    })
}

fn build_c_program(manifest_dir: &Path, release: &Path) -> (Option<PathBuf>, String) {
    let source = manifest_dir.join("benches").join("c").join("throughput.c");
    let header_dir = manifest_dir.join("include");
    let lib = release.join("libupstage.a");
    if !header_dir.join("upstage.h").exists() || !lib.exists() {
        return (None, "no C ABI (include/upstage.h) on this branch".into());
    }
    let header = std::fs::read_to_string(header_dir.join("upstage.h")).unwrap_or_default();
    if !header.contains("upstage_chat_stream") {
        return (None, "the C ABI has no upstage_chat_stream yet".into());
    }
    let program = release.join("throughput-c");
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let status = Command::new(cc)
        .arg("-O2")
        .arg("-I")
        .arg(&header_dir)
        .arg(&source)
        .arg(&lib)
        .args(["-lpthread", "-ldl", "-lm", "-o"])
        .arg(&program)
        .status();
    match status {
        Ok(s) if s.success() => (Some(program), String::new()),
        _ => (None, "compiling benches/c/throughput.c failed".into()),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("child") {
        child(&args[1..]);
        return;
    }
    if args.first().map(String::as_str) == Some("serve") {
        // For profiling a path by hand: `throughput serve N`, then `throughput child PATH PORT N`.
        let n = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(200_000);
        let port = start_server(Arc::new(Workload::new(n)), Arc::new(Mutex::new(None)));
        println!("{port}");
        loop {
            std::thread::park();
        }
    }
    if !args.iter().any(|a| a == "--bench") {
        // `cargo test --all-targets` runs bench binaries without `--bench`: benchmarks never
        // run as tests.
        eprintln!("throughput: run with `cargo bench --bench throughput`");
        return;
    }
    let options = parse_options(&args);
    let wanted = |p: Path_| {
        options
            .only
            .as_ref()
            .map_or(true, |only| only.iter().any(|k| k == p.key()))
    };
    let artifacts = if wanted(Path_::C) || wanted(Path_::Cli) {
        build_artifacts()
    } else {
        None
    };
    let exe = std::env::current_exe().expect("current exe");
    let gate: Gate = Arc::new(Mutex::new(None));
    let work = Arc::new(Workload::new(options.n));
    let port = start_server(work.clone(), gate.clone());
    let bench = Bench {
        exe: exe.clone(),
        port,
        gate: gate.clone(),
        artifacts,
    };

    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mut report = String::new();
    writeln!(
        report,
        "N = {} tokens, body {:.1} MB (de-chunked), {} content bytes; best of {} runs; {cpus} CPUs",
        work.n,
        work.body_len() as f64 / 1e6,
        work.content_bytes(),
        options.reps
    )
    .unwrap();
    eprint!("{report}");

    // Rounds: every path once per round, so that load from other processes on this shared
    // machine falls on all paths alike. The best time of all rounds is kept.
    let mut results: Vec<(Path_, Option<Run>)> = Path_::ALL
        .into_iter()
        .filter(|&p| wanted(p))
        .map(|p| (p, None))
        .collect();
    let mut missing = vec![false; results.len()];
    for round in 1..=options.reps {
        eprintln!("round {round} of {} ...", options.reps);
        for (i, (path, best)) in results.iter_mut().enumerate() {
            if missing[i] {
                continue;
            }
            match bench.run(*path, &work) {
                Some(run) => {
                    check(*path, &work, &run);
                    *best = Some(merge(*best, run));
                }
                None => missing[i] = true,
            }
        }
    }
    let get = |p: Path_| results.iter().find(|(q, _)| *q == p).and_then(|(_, r)| *r);
    let mem = get(Path_::Mem);
    let raw = get(Path_::Raw);
    let rate = |r: &Run| work.n as f64 / r.secs;
    let ratio = |r: &Run, base: Option<Run>| {
        base.map_or("-".to_owned(), |b| format!("{:.3}", rate(r) / rate(&b)))
    };

    writeln!(report).unwrap();
    writeln!(
        report,
        "| path | tokens/s | MB/s | peak RSS | vs (e) | vs (f) | ns/token over (e) |\n\
         |---|---:|---:|---:|---:|---:|---:|"
    )
    .unwrap();
    // What a path costs per token beyond parsing the same bytes in memory.
    let over_mem = |r: &Run| {
        mem.map_or("-".to_owned(), |e| {
            format!("{:.0}", (r.secs - e.secs) / work.n as f64 * 1e9)
        })
    };
    for (path, run) in &results {
        match run {
            Some(run) => writeln!(
                report,
                "| {} | {:.0} | {:.1} | {:.1} MiB | {} | {} | {} |",
                path.label(),
                rate(run),
                work.body_len() as f64 / run.secs / 1e6,
                run.hwm_kib as f64 / 1024.0,
                ratio(run, mem),
                ratio(run, raw),
                over_mem(run),
            )
            .unwrap(),
            None => {
                let why = bench
                    .artifacts
                    .as_ref()
                    .map_or("the artifacts did not build", |a| match path {
                        Path_::C => a.c_note.as_str(),
                        _ => "not available",
                    });
                writeln!(report, "| {} | missing: {why} | | | | | |", path.label()).unwrap();
            }
        }
    }

    // Targets that compare paths of this run.
    writeln!(report).unwrap();
    let target = |report: &mut String, name: &str, path: Path_, min: f64| {
        if let (Some(run), Some(mem)) = (get(path), mem) {
            let r = rate(&run) / rate(&mem);
            let verdict = if r >= min { "met" } else { "NOT met" };
            writeln!(
                report,
                "target {name} >= {:.0}% of (e): {:.1}% {verdict}",
                min * 100.0,
                r * 100.0
            )
            .unwrap();
        }
    };
    target(&mut report, "(a)", Path_::Iter, 0.80);
    target(&mut report, "(b)", Path_::Token, 0.90);
    target(&mut report, "(c)", Path_::C, 0.90);
    // Peak RSS flat in N: 1k vs 1M tokens on the streaming paths.
    if options.rss_check {
        writeln!(report).unwrap();
        let small = Arc::new(Workload::new(1_000));
        let large = Arc::new(Workload::new(1_000_000));
        for path in [Path_::Iter, Path_::Token, Path_::C, Path_::Cli] {
            if !wanted(path) {
                continue;
            }
            eprintln!("peak RSS at 1k and 1M tokens: {} ...", path.label());
            let mut hwm = [0u64; 2];
            let mut ok = true;
            for (slot, work) in [&small, &large].into_iter().enumerate() {
                let gate: Gate = Arc::new(Mutex::new(None));
                let port = start_server(work.clone(), gate.clone());
                let bench = Bench {
                    exe: exe.clone(),
                    port,
                    gate,
                    artifacts: bench.artifacts.as_ref().map(|a| Artifacts {
                        cli: a.cli.clone(),
                        c_program: a.c_program.clone(),
                        c_note: a.c_note.clone(),
                    }),
                };
                match bench.run(path, work) {
                    Some(run) => {
                        check(path, work, &run);
                        hwm[slot] = run.hwm_kib;
                    }
                    None => ok = false,
                }
            }
            if ok {
                let delta = hwm[1] as i64 - hwm[0] as i64;
                let verdict = if delta.abs() <= 1024 {
                    "met"
                } else {
                    "NOT met"
                };
                writeln!(
                    report,
                    "peak RSS {}: 1k tokens {} KiB, 1M tokens {} KiB, difference {delta} KiB ({verdict}: within 1 MiB)",
                    path.label(),
                    hwm[0],
                    hwm[1]
                )
                .unwrap();
            }
        }
    }

    // Per-stream setup cost, N = 1.
    if options.setup_reps > 0 && wanted(Path_::Token) {
        eprintln!("per-stream setup, {} streams each ...", options.setup_reps);
        let one = Arc::new(Workload::new(1));
        let port = start_server(one, Arc::new(Mutex::new(None)));
        let output = Command::new(&exe)
            .args([
                "child",
                "setup",
                &port.to_string(),
                &options.setup_reps.to_string(),
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("setup child");
        let text = String::from_utf8_lossy(&output.stdout);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("SETUP "))
            .expect("SETUP line");
        let f: Vec<f64> = line
            .split_whitespace()
            .map(|v| v.parse().unwrap())
            .collect();
        let (ours, bare) = (f[0] / 1e3, f[1] / 1e3);
        let verdict = if ours <= bare { "met" } else { "NOT met" };
        writeln!(
            report,
            "\nper-stream setup (N = 1: connect, request, 1 token, [DONE], close; {} of each, \
             interleaved): median upstage {ours:.1} us, bare ureq {bare:.1} us, ratio {:.3} \
             ({verdict}: no slower than bare ureq); means {:.1} us and {:.1} us; \
             ureq with the client's default timeouts: median {:.1} us (ratio {:.3})",
            f[2],
            ours / bare,
            f[3] / 1e3,
            f[4] / 1e3,
            f[5] / 1e3,
            ours / (f[5] / 1e3)
        )
        .unwrap();
    }

    println!("{report}");
}
