//! What the tests of the installed C library share: the libraries cargo built for this run,
//! `include/install.sh` into a scratch prefix, optional tools, ELF dynamic sections and the
//! fenced code blocks of a README.
// Each test binary uses a subset of this module.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The crate's root directory.
pub fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>`: the test binary is `target/<profile>/deps/<name>-<hash>`.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The directory holding the `libupstage.a` and `libupstage.so` built with the code under
/// test. Cargo builds every crate type of the lib target into `target/<profile>/deps` for
/// `cargo test` too, and copies them up to `target/<profile>` only for `cargo build`, where
/// an older copy may linger: `deps` first.
pub fn built_lib_dir() -> PathBuf {
    let profile = profile_dir();
    let candidates = [profile.join("deps"), profile];
    candidates
        .iter()
        .find(|dir| dir.join("libupstage.a").is_file() && dir.join("libupstage.so").is_file())
        .unwrap_or_else(|| {
            panic!(
                "libupstage.a and libupstage.so are missing from {candidates:?}: the crate's \
                 crate-type must include \"cdylib\" and \"staticlib\""
            )
        })
        .clone()
}

/// A fresh scratch directory `target/<profile>/<name>` (kept for post-mortems).
pub fn scratch(name: &str) -> PathBuf {
    let dir = profile_dir().join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// Runs `cmd` with no standard input and returns its output, whatever its status.
pub fn run(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    cmd.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{shown}: {e}"))
}

/// Runs `cmd` and fails the test, showing its output, unless it succeeds.
pub fn check(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Whether `tool arg` runs and succeeds.
pub fn runs(tool: &str, arg: &str) -> bool {
    Command::new(tool)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the environment variable is `1`: the tool it names must be there.
pub fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| v == "1")
}

/// Whether `tool --version` runs; when it does not, fails the test if `require_var` is 1,
/// else prints that `test` is skipped.
pub fn tool_present(tool: &str, require_var: &str, test: &str) -> bool {
    if runs(tool, "--version") {
        return true;
    }
    assert!(
        !required(require_var),
        "{require_var}=1 but `{tool} --version` does not run (install {tool})"
    );
    println!("{test}: skipped ({tool} not found)");
    false
}

/// `include/install.sh prefix`, reusing the libraries of this run (`UPSTAGE_LIB_DIR`)
/// instead of a nested release build. Needs `patchelf`.
pub fn install_into(prefix: &Path) {
    check(
        Command::new("sh")
            .arg(manifest().join("include/install.sh"))
            .arg(prefix)
            .env("UPSTAGE_LIB_DIR", built_lib_dir()),
    );
}

/// The SONAME the installed library has: `libupstage.so.0.MINOR` before 1.0,
/// `libupstage.so.MAJOR` after.
pub fn installed_soname() -> String {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    if major == "0" {
        format!("libupstage.so.0.{}", env!("CARGO_PKG_VERSION_MINOR"))
    } else {
        format!("libupstage.so.{major}")
    }
}

/// The dynamic section of an ELF file, as `readelf -d` reads it.
#[derive(Debug, Default)]
pub struct Dynamic {
    /// `DT_SONAME`, if any.
    pub soname: Option<String>,
    /// The `DT_NEEDED` entries, in order.
    pub needed: Vec<String>,
    /// `DT_RPATH` or `DT_RUNPATH`, if any.
    pub run_path: Option<String>,
}

/// Reads the dynamic section of `file` with `readelf -d`.
pub fn dynamic_section(file: &Path) -> Dynamic {
    let out = check(Command::new("readelf").arg("-d").arg(file));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let value = |line: &str| {
        line.split_once(": [")
            .and_then(|(_, rest)| rest.strip_suffix(']'))
            .map(str::to_owned)
    };
    let mut dynamic = Dynamic::default();
    for line in text.lines() {
        if line.contains("(SONAME)") {
            dynamic.soname = value(line);
        } else if line.contains("(NEEDED)") {
            dynamic.needed.extend(value(line));
        } else if line.contains("(RUNPATH)") || line.contains("(RPATH)") {
            dynamic.run_path = value(line);
        }
    }
    dynamic
}

/// A stamp that changes whenever the file is rewritten: its length and modification time.
/// Go's build cache does not hash the libraries named by linker flags, so the Go tests put
/// this into `CGO_CFLAGS` to make Go rebuild against a new library.
pub fn file_stamp(path: &Path) -> String {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("{}_{modified}", meta.len())
}

/// The fenced code blocks of `markdown` whose info string is exactly `lang`.
pub fn fenced_blocks(markdown: &str, lang: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut lines = markdown.lines();
    while let Some(line) = lines.next() {
        if line.trim_end() != format!("```{lang}") {
            continue;
        }
        let block: Vec<&str> = lines
            .by_ref()
            .take_while(|l| l.trim_end() != "```")
            .collect();
        blocks.push(block.join("\n") + "\n");
    }
    blocks
}

/// A program's environment without the caller's key, server, model or proxies, and with
/// loopback exempt from any proxy.
pub fn clean_env(cmd: &mut Command) -> &mut Command {
    for var in [
        "UPSTAGE_API_KEY",
        "UPSTAGE_BASE_URL",
        "UPSTAGE_MODEL",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "LD_LIBRARY_PATH",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost")
}

/// A finished program: exit code, stdout, stderr.
#[derive(Debug, PartialEq, Eq)]
pub struct Ran {
    /// The exit code (None: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `cmd` (its environment cleaned) and collects what it did.
pub fn run_program(cmd: &mut Command) -> Ran {
    let out = run(clean_env(cmd));
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
