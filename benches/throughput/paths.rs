//! The measured paths (a)-(f'), how the orchestrator runs each once, and the checks on
//! what each returned.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{artifacts::*, child::*, server::*, workload::*};

/// One measured run.
#[derive(Clone, Copy, Debug, Default)]
pub struct Run {
    pub tokens: u64,
    pub bytes: u64,
    pub secs: f64,
    pub hwm_kib: u64,
}

pub fn parse_result(stdout: &str) -> Run {
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
pub struct Bench {
    pub exe: PathBuf,
    pub port: u16,
    pub gate: Gate,
    pub artifacts: Option<Artifacts>,
}

/// The CLI example and the C program, built in their own target directory (the outer
/// `cargo bench` holds the lock on ours).
pub struct Artifacts {
    pub cli: PathBuf,
    pub c_program: Option<PathBuf>,
    pub c_note: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Path_ {
    Iter,
    Token,
    C,
    Cli,
    Mem,
    Raw,
    Ureq,
}

impl Path_ {
    pub const ALL: [Path_; 7] = [
        Path_::Iter,
        Path_::Token,
        Path_::C,
        Path_::Cli,
        Path_::Mem,
        Path_::Raw,
        Path_::Ureq,
    ];

    pub fn key(self) -> &'static str {
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

    pub fn label(self) -> &'static str {
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
    pub fn run(&self, path: Path_, work: &Workload) -> Option<Run> {
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

    pub fn run_child(&self, args: Vec<String>) -> Run {
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
    pub fn run_cli(&self, work: &Workload) -> Option<Run> {
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
pub fn merge(best: Option<Run>, run: Run) -> Run {
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
pub fn check(path: Path_, work: &Workload, run: &Run) {
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
