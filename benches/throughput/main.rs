//! Streaming throughput against the in-memory limit and the raw-transfer floor.
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

mod artifacts;
mod child;
mod options;
mod paths;
mod report;
mod scenarios;
mod server;
mod workload;

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use crate::artifacts::build_artifacts;
use crate::child::child;
use crate::options::parse_options;
use crate::paths::{check, merge, Bench, Path_, Run};
use crate::server::{start_server, Gate};
use crate::workload::Workload;

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

    let results = rounds(&bench, &work, options.reps, wanted);

    report::table(&mut report, &work, &results, bench.artifacts.as_ref());
    report::targets(&mut report, &work, &results);
    if options.rss_check {
        scenarios::rss_flat_in_n(&mut report, &exe, bench.artifacts.as_ref(), wanted);
    }
    if options.setup_reps > 0 && wanted(Path_::Token) {
        scenarios::setup_cost(&mut report, &exe, options.setup_reps);
    }

    println!("{report}");
}

/// Every wanted path `reps` times, in rounds: every path once per round, so that load from
/// other processes on this shared machine falls on all paths alike. The best time of all
/// rounds is kept; a path that cannot run here is `None`.
fn rounds(
    bench: &Bench,
    work: &Workload,
    reps: usize,
    wanted: impl Fn(Path_) -> bool,
) -> Vec<(Path_, Option<Run>)> {
    let mut results: Vec<(Path_, Option<Run>)> = Path_::ALL
        .into_iter()
        .filter(|&p| wanted(p))
        .map(|p| (p, None))
        .collect();
    let mut missing = vec![false; results.len()];
    for round in 1..=reps {
        eprintln!("round {round} of {} ...", reps);
        for (i, (path, best)) in results.iter_mut().enumerate() {
            if missing[i] {
                continue;
            }
            match bench.run(*path, work) {
                Some(run) => {
                    check(*path, work, &run);
                    *best = Some(merge(*best, run));
                }
                None => missing[i] = true,
            }
        }
    }
    results
}
