//! The complete Swift program of `examples/swift/README.md` (`ask PROMPT [SECONDS]`), built
//! by Swift from a package that depends on `examples/swift`, against loopback servers: an
//! answer, an HTTP error, and a silent server that the program's time limit cancels.
//!
//! This machine's Debian has no Swift: `.ci/trixie-root.sh` builds the program in a Debian
//! trixie root and runs this test with `UPSTAGE_SWIFT_ASK` naming a command that runs it
//! there. Without `UPSTAGE_SWIFT_ASK` the test prints "skipped" and passes, unless
//! `UPSTAGE_REQUIRE_SWIFT=1`.

mod install;
mod support;

use std::process::Command;

use install::*;
use support::*;

/// Runs the program with the server's base URL in the environment.
fn ask(program: &str, base: &str, args: &[&str]) -> Ran {
    let mut cmd = Command::new(program);
    cmd.args(args);
    clean_env(&mut cmd).env("UPSTAGE_BASE_URL", base);
    let out = run(&mut cmd);
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn the_readme_program_streams_fails_and_is_cancelled() {
    let Ok(program) = std::env::var("UPSTAGE_SWIFT_ASK") else {
        assert!(
            !required("UPSTAGE_REQUIRE_SWIFT"),
            "UPSTAGE_REQUIRE_SWIFT=1 but UPSTAGE_SWIFT_ASK is not set (.ci/trixie-root.sh sets it)"
        );
        println!("swift_package: skipped (UPSTAGE_SWIFT_ASK not set)");
        return;
    };

    let server = Server::start(serve_tokens(&["Hel", "lo, ", "세계 🌍"]));
    let ran = ask(&program, &server.base(), &["Why is the sky blue?"]);
    assert_eq!(
        (ran.code, ran.stdout.as_str(), ran.stderr.as_str()),
        (Some(0), "Hello, 세계 🌍\n", "[finish: stop]\n"),
        "{ran:?}"
    );
    let body: serde_json::Value =
        serde_json::from_str(&server.requests()[0].body_text()).expect("a JSON body");
    assert_eq!(body["messages"][0]["content"], "Why is the sky blue?");
    assert_eq!(body["model"], "solar-pro4");

    let server = Server::start(serve_json(
        401,
        r#"{"error":{"message":"Invalid API key","type":"invalid_request_error"}}"#,
    ));
    let ran = ask(&program, &server.base(), &["hi"]);
    assert_eq!((ran.code, ran.stdout.as_str()), (Some(1), ""), "{ran:?}");
    assert!(
        ran.stderr.starts_with("HTTP 401: ") && ran.stderr.contains("Invalid API key"),
        "{ran:?}"
    );

    // A token, then silence: the 1 s limit cancels the stream; the token stays.
    let server = Server::start(Script::sse().token("partial").stall().handler());
    let ran = ask(&program, &server.base(), &["hi", "1"]);
    assert_eq!(
        (ran.code, ran.stdout.as_str()),
        (Some(1), "partial"),
        "{ran:?}"
    );
    assert!(ran.stderr.starts_with("cancelled: "), "{ran:?}");

    let ran = ask(&program, &server.base(), &[]);
    assert_eq!(ran.code, Some(2), "{ran:?}");
    assert!(ran.stderr.starts_with("usage: "), "{ran:?}");
}
