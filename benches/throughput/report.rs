//! The report: the table of every path with its ratios to (e) and (f), and the targets that
//! compare paths of the same run.

use std::fmt::Write as _;

use crate::paths::{Artifacts, Path_, Run};
use crate::workload::Workload;

/// The best run of `path`, if it ran.
fn get(results: &[(Path_, Option<Run>)], path: Path_) -> Option<Run> {
    results
        .iter()
        .find(|(q, _)| *q == path)
        .and_then(|(_, r)| *r)
}

/// Tokens per second of `run`.
fn rate(work: &Workload, run: &Run) -> f64 {
    work.n as f64 / run.secs
}

/// Writes the table: tokens/s, MB/s, peak RSS, ratios to (e) and (f), cost per token over (e).
pub fn table(
    report: &mut String,
    work: &Workload,
    results: &[(Path_, Option<Run>)],
    artifacts: Option<&Artifacts>,
) {
    let mem = get(results, Path_::Mem);
    let raw = get(results, Path_::Raw);
    let rate = |r: &Run| rate(work, r);
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
    for (path, run) in results {
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
                let why = artifacts.map_or("the artifacts did not build", |a| match path {
                    Path_::C => a.c_note.as_str(),
                    _ => "not available",
                });
                writeln!(report, "| {} | missing: {why} | | | | | |", path.label()).unwrap();
            }
        }
    }
}

/// Writes the targets that compare paths of this run with (e).
pub fn targets(report: &mut String, work: &Workload, results: &[(Path_, Option<Run>)]) {
    let mem = get(results, Path_::Mem);
    let rate = |r: &Run| rate(work, r);
    writeln!(report).unwrap();
    let target = |report: &mut String, name: &str, path: Path_, min: f64| {
        if let (Some(run), Some(mem)) = (get(results, path), mem) {
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
    target(report, "(a)", Path_::Iter, 0.80);
    target(report, "(b)", Path_::Token, 0.90);
    target(report, "(c)", Path_::C, 0.90);
}
