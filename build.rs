//! Generates `include/upstage.h` from `src/ffi/` with cbindgen.
//!
//! The header is written to `OUT_DIR/upstage.h` and copied to `include/upstage.h` only when
//! its content changed and `DOCS_RS` is unset. Failures are warnings, never panics: the
//! Rust library builds without a header. `tests/c_api.rs` fails when the committed header
//! is stale.
//!
//! The Go module keeps a copy of the header (`examples/go/upstage.h`) so that it builds
//! outside the repository; it is refreshed together with `include/upstage.h`.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-changed=src/ffi");
    println!("cargo:rerun-if-changed=include/cbindgen.toml");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=include/upstage.h");
    println!("cargo:rerun-if-changed=examples/go/upstage.h");
    println!("cargo:rerun-if-env-changed=DOCS_RS");

    // The SONAME of the shared library in the build tree is its file name: cargo cannot
    // create the `libupstage.so.0.1 -> libupstage.so` link a versioned SONAME would need, so
    // a program linked against target/<profile>/libupstage.so must ask for exactly that file.
    // include/install.sh gives the installed copy its versioned SONAME (patchelf); under
    // `cargo cinstall` (which turns on the `capi` feature) cargo-c sets the versioned SONAME
    // itself, and a second `-soname` here would race with it.
    if env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux")
        && env::var_os("CARGO_FEATURE_CAPI").is_none()
    {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libupstage.so");
    }

    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let generated = out_dir.join("upstage.h");
    println!(
        "cargo:rustc-env=UPSTAGE_GENERATED_HEADER={}",
        generated.display()
    );
    match generate(&manifest, &generated) {
        Ok(()) => {
            if env::var_os("DOCS_RS").is_none() {
                if let Err(e) = copy_if_changed(&generated, &manifest.join("include/upstage.h")) {
                    println!("cargo:warning=could not update include/upstage.h: {e}");
                }
                copy_into_go_module(&manifest, &generated);
            }
        }
        Err(e) => {
            println!("cargo:warning=cbindgen failed, include/upstage.h not regenerated: {e}");
            // Leave an empty file so that `UPSTAGE_GENERATED_HEADER` names a readable file
            // (the staleness test then fails with a clear message).
            let _ = fs::write(&generated, "");
        }
    }
}

fn version_macros() -> String {
    let part = |name: &str| env::var(name).unwrap_or_else(|_| "0".to_owned());
    format!(
        "\n/** Major version of the library this header belongs to. */\n\
         #define UPSTAGE_VERSION_MAJOR {}\n\
         /** Minor version of the library this header belongs to. */\n\
         #define UPSTAGE_VERSION_MINOR {}\n\
         /** Patch version of the library this header belongs to. */\n\
         #define UPSTAGE_VERSION_PATCH {}\n\
         /** The full version as a string literal; `upstage_version()` gives the library's. */\n\
         #define UPSTAGE_VERSION_STRING \"{}\"",
        part("CARGO_PKG_VERSION_MAJOR"),
        part("CARGO_PKG_VERSION_MINOR"),
        part("CARGO_PKG_VERSION_PATCH"),
        env::var("CARGO_PKG_VERSION").unwrap_or_default(),
    )
}

fn generate(manifest: &Path, out: &Path) -> Result<(), String> {
    let mut config = cbindgen::Config::from_file(manifest.join("include/cbindgen.toml"))
        .map_err(|e| format!("include/cbindgen.toml: {e}"))?;
    let macros = version_macros();
    config.after_includes = config
        .after_includes
        .map(|s| s.replace("@VERSION_MACROS@", &macros));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(manifest.join("src/ffi/mod.rs"))
        .generate()
        .map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    bindings.write(&mut bytes);
    let text = String::from_utf8(bytes).map_err(|e| e.to_string())?;
    fs::write(out, parenthesize_negatives(&text)).map_err(|e| format!("{}: {e}", out.display()))
}

/// `#define NAME -1` becomes `#define NAME (-1)`, so that the macros are safe in any
/// expression.
fn parenthesize_negatives(header: &str) -> String {
    let mut out = String::with_capacity(header.len() + 64);
    for line in header.lines() {
        let mut parts = line.splitn(3, ' ');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("#define"), Some(name), Some(value))
                if value.starts_with('-') && value[1..].bytes().all(|b| b.is_ascii_digit()) =>
            {
                out.push_str(&format!("#define {name} ({value})"));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Refreshes the Go module's copy of the header, when the Go module is there (it is not in
/// the published crate).
fn copy_into_go_module(manifest: &Path, generated: &Path) {
    let module = manifest.join("examples/go");
    if !module.join("go.mod").is_file() {
        return;
    }
    if let Err(e) = copy_if_changed(generated, &module.join("upstage.h")) {
        println!("cargo:warning=could not update examples/go/upstage.h: {e}");
    }
}

fn copy_if_changed(from: &Path, to: &Path) -> std::io::Result<()> {
    let new = fs::read(from)?;
    if new.is_empty() || fs::read(to).ok().as_deref() == Some(&new[..]) {
        return Ok(());
    }
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir)?;
    }
    fs::write(to, new)
}
