//! The measurements beyond the table: peak RSS flat in N (1k vs 1M tokens on the streaming
//! paths) and the per-stream setup cost (N = 1) against bare ureq.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use crate::paths::{check, Artifacts, Bench, Path_};
use crate::server::{start_server, Gate};
use crate::workload::Workload;

/// Peak RSS of each streaming path at 1k and at 1M tokens: it must not grow with N.
pub fn rss_flat_in_n(
    report: &mut String,
    exe: &Path,
    artifacts: Option<&Artifacts>,
    wanted: impl Fn(Path_) -> bool,
) {
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
                exe: exe.to_path_buf(),
                port,
                gate,
                artifacts: artifacts.map(|a| Artifacts {
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

/// The cost of one stream of one token (connect, request, [DONE], close), median of `reps`,
/// against bare ureq.
pub fn setup_cost(report: &mut String, exe: &Path, reps: usize) {
    eprintln!("per-stream setup, {} streams each ...", reps);
    let one = Arc::new(Workload::new(1));
    let port = start_server(one, Arc::new(Mutex::new(None)));
    let output = Command::new(exe)
        .args(["child", "setup", &port.to_string(), &reps.to_string()])
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
