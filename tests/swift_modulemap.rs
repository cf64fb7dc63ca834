//! What can be checked of the Swift package (`examples/swift`) without a Swift toolchain
//! (CI compiles and tests the package itself with Swift 6 in a Debian trixie root:
//! `.ci/trixie-root.sh`, `tests/swift_package.rs`):
//!
//! - the `CUpstage` module map: clang compiles a C file that does `@import CUpstage;` through
//!   it, exactly the module Swift imports, links it against the static library and runs it;
//! - every `upstage_*` / `UPSTAGE_*` name the Swift sources use is declared in the header.
//!
//! Environment:
//! - `UPSTAGE_REQUIRE_CLANG=1`: a missing clang fails the test (CI); without it the module
//!   check prints "skipped: clang not found" and passes.
//! - `UPSTAGE_CLANG`: the clang command (default `clang`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The native libraries the Rust static library needs on Linux
/// (`cargo rustc --lib --crate-type staticlib -- --print native-static-libs`).
const STATIC_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn swift_package() -> PathBuf {
    manifest().join("examples").join("swift")
}

fn module_map() -> PathBuf {
    swift_package()
        .join("Sources")
        .join("CUpstage")
        .join("module.modulemap")
}

/// `target/<profile>`: this test binary is `target/<profile>/deps/swift_modulemap-<hash>`.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .to_path_buf()
}

/// The static library of this run: `deps` first (cargo test does not copy it up).
fn static_lib() -> PathBuf {
    let dir = profile_dir();
    let candidates = [
        dir.join("deps").join("libupstage.a"),
        dir.join("libupstage.a"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("libupstage.a is missing (looked at {candidates:?})"))
        .clone()
}

fn check(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{shown}: {e}"));
    assert!(
        out.status.success(),
        "{shown} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The body of the check program, after the line that imports the module.
const PROGRAM: &str = r#"
#include <stdio.h>
#include <string.h>

/* Uses the module the way the Swift binding does: functions, macros, structs. */
int main(void) {
    upstage_error err;
    memset(&err, 0, sizeof err);
    if (strcmp(upstage_status_name(UPSTAGE_ERR_TIMEOUT), "timeout") != 0) return 10;
    if (strcmp(upstage_resolve_model("solar-mini"), "upstage/solar-1-mini-chat-ja") != 0) return 11;
    if (upstage_model_count() != 3) return 12;

    upstage_client_builder *b = upstage_client_builder_new();
    if (upstage_client_builder_set_base_url(b, "http://127.0.0.1:9/v1") != UPSTAGE_OK) return 13;
    if (upstage_client_builder_set_timeout_ms(b, UPSTAGE_TIMEOUT_IDLE, 1000) != UPSTAGE_OK) return 14;
    upstage_client *c = NULL;
    if (upstage_client_builder_build(b, &c, &err) != UPSTAGE_OK) return 15;
    upstage_client_free(c);

    size_t n = 0;
    if (upstage_format_prompt("[{\"role\":\"user\",\"content\":\"hi\"}]", NULL, 0, &n, &err)
            != UPSTAGE_OK || n != 2) return 16;
    if (upstage_format_prompt("[]", NULL, 0, &n, &err) != UPSTAGE_ERR_INVALID_ARGUMENT
            || err.status != UPSTAGE_ERR_INVALID_ARGUMENT || err.message[0] == '\0') return 17;

    upstage_event ev;
    upstage_usage usage;
    memset(&ev, 0, sizeof ev);
    memset(&usage, 0, sizeof usage);
    if (ev.kind != UPSTAGE_EVENT_CONTENT || usage.total_tokens != 0) return 18;

    printf("%s\n", upstage_version());
    return 0;
}
"#;

#[test]
fn clang_imports_the_swift_module_map() {
    let clang = std::env::var("UPSTAGE_CLANG").unwrap_or_else(|_| "clang".to_owned());
    let found = Command::new(&clang)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !std::env::var("UPSTAGE_REQUIRE_CLANG").is_ok_and(|v| v == "1"),
            "UPSTAGE_REQUIRE_CLANG=1 but `{clang} --version` does not run (install clang)"
        );
        println!("skipped: clang not found");
        return;
    }

    let dir = profile_dir().join("swift-modulemap");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    // `@import` is Objective-C syntax; plain C imports a module with the pragma. Both load
    // the Clang module that Swift's `import CUpstage` loads.
    let variants = [
        ("objc.m", "@import CUpstage;", None),
        (
            "c.c",
            "#pragma clang module import CUpstage",
            Some("-std=c11"),
        ),
    ];
    for (name, import, std) in variants {
        let source = dir.join(name);
        std::fs::write(&source, format!("{import}\n{PROGRAM}")).expect("write the program");
        let exe = dir.join(name.replace('.', "_"));
        let mut cmd = Command::new(&clang);
        cmd.arg("-fmodules")
            .arg(format!("-fmodule-map-file={}", module_map().display()))
            .arg(format!(
                "-fmodules-cache-path={}",
                dir.join("module-cache").display()
            ))
            .args(std)
            .args(["-Wall", "-Wextra", "-Werror"])
            .arg(&source)
            .arg(static_lib())
            .args(STATIC_LIBS)
            .arg("-o")
            .arg(&exe);
        check(&mut cmd);

        let out = check(&mut Command::new(&exe));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            env!("CARGO_PKG_VERSION"),
            "{name}"
        );
    }
}

/// The identifiers of `text` that start with `prefix`.
fn identifiers(text: &str, prefix: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|word| word.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

fn swift_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read examples/swift") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            swift_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "swift") {
            out.push(path);
        }
    }
}

#[test]
fn the_swift_sources_use_only_names_the_header_declares() {
    let header = std::fs::read_to_string(manifest().join("include").join("upstage.h"))
        .expect("read include/upstage.h");
    let declared: BTreeSet<String> = identifiers(&header, "upstage_")
        .into_iter()
        .chain(identifiers(&header, "UPSTAGE_"))
        .collect();

    let mut files = Vec::new();
    swift_sources(&swift_package(), &mut files);
    assert!(files.len() >= 5, "Swift sources not found: {files:?}");
    let mut used = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read a Swift source");
        // Names in comments (file names, prose) are not uses.
        let text: String = text
            .lines()
            .map(|line| line.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n");
        for name in identifiers(&text, "upstage_")
            .into_iter()
            .chain(identifiers(&text, "UPSTAGE_"))
        {
            used += 1;
            assert!(
                declared.contains(&name),
                "{} uses `{name}`, which include/upstage.h does not declare",
                file.display()
            );
        }
    }
    assert!(used > 40, "only {used} C names found in the Swift sources");
}

#[test]
fn the_module_map_points_at_the_crate_header() {
    let map = std::fs::read_to_string(module_map()).expect("read module.modulemap");
    let header = map
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix("header \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("a header line in module.modulemap");
    let resolved = module_map()
        .parent()
        .expect("module map directory")
        .join(header);
    assert_eq!(
        resolved
            .canonicalize()
            .expect("the module map's header exists"),
        manifest()
            .join("include")
            .join("upstage.h")
            .canonicalize()
            .expect("include/upstage.h exists")
    );
    assert!(map.contains("link \"upstage\""), "{map}");
}
