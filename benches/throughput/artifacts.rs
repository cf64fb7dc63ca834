//! Building what the (c) and (d) paths run: the CLI example, the static library and the
//! C program.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::paths::*;

pub fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target")
}

/// Builds the CLI example and the static library in `target/bench-artifacts`, then the C
/// program against that library.
pub fn build_artifacts() -> Option<Artifacts> {
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

pub fn build_c_program(manifest_dir: &Path, release: &Path) -> (Option<PathBuf>, String) {
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
