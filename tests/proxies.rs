//! Proxies, against real proxy daemons from Debian's packages started here on
//! 127.0.0.1: `tinyproxy` (HTTP, CONNECT, BasicAuth) and `microsocks` (SOCKS5 with a
//! user and password). Each test checks that the request really went through the proxy
//! (the proxy's own log names the tunnel to the loopback server) or really did not.
//!
//! The environment (`ALL_PROXY`, `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`) is
//! process-global, so those tests run the CLI example (`target/<profile>/examples/chat`)
//! or this test binary again (filtered to one child test) as a subprocess with the
//! variables set.
//!
//! Without the daemons the tests print "skipped: ..." and pass, unless
//! `UPSTAGE_REQUIRE_PROXIES=1` (CI), where they fail.

mod support;

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::Instant;

use support::*;
use upstage::{ChatRequest, Client, ErrorKind};

const USER: &str = "robust";
const PASSWORD: &str = "s3cret-pw";

/// Every proxy variable ureq reads; removed from every subprocess before setting some.
const PROXY_VARS: [&str; 8] = [
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "NO_PROXY",
    "no_proxy",
];

fn request() -> ChatRequest {
    hi_request()
}

// ---- daemons --------------------------------------------------------------------

/// Whether `program` is on the PATH. Prints "skipped" when not, and fails under
/// `UPSTAGE_REQUIRE_PROXIES=1`.
fn have(program: &str, test: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var("UPSTAGE_REQUIRE_PROXIES").as_deref() != Ok("1"),
            "UPSTAGE_REQUIRE_PROXIES=1 but {program} is not installed"
        );
        println!("skipped: {test}: {program} is not installed (apt-get install {program})");
    }
    found
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "upstage-{tag}-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A proxy daemon we started; killed (by its own pid) on drop.
struct Daemon {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    _dir: TempDir,
}

impl Daemon {
    /// Starts `command` (which must listen on `port`) and waits until it accepts.
    fn spawn(mut command: Command, port: u16, log: PathBuf, dir: TempDir) -> Daemon {
        let child = command.stdin(Stdio::null()).spawn().expect("spawn proxy");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut daemon = Daemon {
            child,
            addr,
            log,
            _dir: dir,
        };
        let deadline = Instant::now() + secs(10);
        while TcpStream::connect_timeout(&addr, ms(200)).is_err() {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("the proxy exited at once ({status}): {}", daemon.log_text());
            }
            assert!(Instant::now() < deadline, "the proxy never listened");
            thread::sleep(ms(20));
        }
        daemon
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (bounded) until the log mentions `needle`.
    fn log_mentions(&self, needle: &str) -> bool {
        let deadline = Instant::now() + secs(5);
        loop {
            if self.log_text().contains(needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(ms(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `tinyproxy` in the foreground on a free port, with BasicAuth, logging every request.
fn tinyproxy() -> Daemon {
    let dir = TempDir::new("tinyproxy");
    let port = free_port();
    let log = dir.0.join("tinyproxy.log");
    let config = dir.0.join("tinyproxy.conf");
    std::fs::write(
        &config,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Info\n\
             MaxClients 64\nAllow 127.0.0.1\nBasicAuth {USER} {PASSWORD}\n",
            log.display()
        ),
    )
    .unwrap();
    let mut command = Command::new("tinyproxy");
    command
        .arg("-d")
        .arg("-c")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Daemon::spawn(command, port, log, dir)
}

/// `microsocks` on a free port with a user and password, its log (stdout and stderr)
/// in a file.
fn microsocks() -> Daemon {
    let dir = TempDir::new("microsocks");
    let port = free_port();
    let log = dir.0.join("microsocks.log");
    let out = File::create(&log).unwrap();
    let err = out.try_clone().unwrap();
    let mut command = Command::new("microsocks");
    command
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-u",
            USER,
            "-P",
            PASSWORD,
        ])
        .stdout(out)
        .stderr(err);
    Daemon::spawn(command, port, log, dir)
}

/// Whether the SOCKS daemon logged a connection to the loopback server `port`.
fn socks_logged(socks: &Daemon, port: u16) -> bool {
    socks.log_mentions(&format!(":{port}"))
}

/// Whether tinyproxy logged a CONNECT tunnel to the loopback server `port`.
fn tinyproxy_logged(proxy: &Daemon, port: u16) -> bool {
    proxy.log_mentions(&format!("CONNECT 127.0.0.1:{port}"))
        || proxy.log_mentions(&format!("CONNECT localhost:{port}"))
}

fn tokens_through(proxy: &str, base: &str) -> Result<Vec<String>, upstage::Error> {
    let client = Client::builder()
        .base_url(base)
        .proxy(upstage::Proxy::Url(proxy.to_string()))
        .max_retries(0)
        .build()?;
    client.stream(&request())?.collect()
}

// ---- explicit proxies -------------------------------------------------------------

#[test]
fn an_explicit_http_proxy_with_credentials() {
    if !have("tinyproxy", "an_explicit_http_proxy_with_credentials") {
        return;
    }
    let proxy = tinyproxy();
    let server = Server::start(serve_tokens(&["via", " http"]));
    let url = format!("http://{USER}:{PASSWORD}@127.0.0.1:{}", proxy.port());
    let tokens = tokens_through(&url, &server.base()).unwrap();
    assert_eq!(tokens, ["via", " http"]);
    assert!(
        tinyproxy_logged(&proxy, server.port()),
        "the request did not go through tinyproxy: {}",
        proxy.log_text()
    );
    // The proxy does not see the password in clear in its log either way, and the
    // server never sees the proxy credentials.
    let request = &server.requests()[0];
    assert!(request.header("Proxy-Authorization").is_none());
}

#[test]
fn an_http_proxy_refusing_the_credentials_is_a_connect_error() {
    if !have(
        "tinyproxy",
        "an_http_proxy_refusing_the_credentials_is_a_connect_error",
    ) {
        return;
    }
    let proxy = tinyproxy();
    let server = Server::start(serve_tokens(&["never"]));
    for url in [
        format!("http://{USER}:wrong@127.0.0.1:{}", proxy.port()),
        format!("http://127.0.0.1:{}", proxy.port()),
    ] {
        let error = tokens_through(&url, &server.base()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Connect, "{url}: {error:?}");
        assert!(error.message().contains("proxy"), "{error}");
        assert!(!error.message().contains(PASSWORD), "{error}");
    }
    assert_eq!(server.request_count(), 0);
}

#[test]
fn an_explicit_socks5_proxy_with_credentials() {
    if !have("microsocks", "an_explicit_socks5_proxy_with_credentials") {
        return;
    }
    let socks = microsocks();
    let server = Server::start(serve_tokens(&["via", " socks5"]));
    let url = format!("socks5://{USER}:{PASSWORD}@127.0.0.1:{}", socks.port());
    let tokens = tokens_through(&url, &server.base()).unwrap();
    assert_eq!(tokens, ["via", " socks5"]);
    assert!(
        socks_logged(&socks, server.port()),
        "the request did not go through microsocks: {}",
        socks.log_text()
    );
}

#[test]
fn an_explicit_socks5h_proxy_resolves_the_host_name() {
    if !have(
        "microsocks",
        "an_explicit_socks5h_proxy_resolves_the_host_name",
    ) {
        return;
    }
    let socks = microsocks();
    let server = Server::start(serve_tokens(&["via", " socks5h"]));
    let url = format!("socks5h://{USER}:{PASSWORD}@127.0.0.1:{}", socks.port());
    let base = format!("http://localhost:{}/v1", server.port());
    let tokens = tokens_through(&url, &base).unwrap();
    assert_eq!(tokens, ["via", " socks5h"]);
    assert!(
        socks_logged(&socks, server.port()),
        "the request did not go through microsocks: {}",
        socks.log_text()
    );
}

#[test]
fn a_socks5_proxy_refusing_the_credentials_is_a_connect_error() {
    if !have(
        "microsocks",
        "a_socks5_proxy_refusing_the_credentials_is_a_connect_error",
    ) {
        return;
    }
    let socks = microsocks();
    let server = Server::start(serve_tokens(&["never"]));
    for url in [
        format!("socks5://{USER}:wrong@127.0.0.1:{}", socks.port()),
        format!("socks5://127.0.0.1:{}", socks.port()),
    ] {
        let error = tokens_through(&url, &server.base()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Connect, "{url}: {error:?}");
    }
    assert_eq!(server.request_count(), 0);
}

#[test]
fn a_proxy_that_is_down_is_a_connect_error() {
    let server = Server::start(serve_tokens(&["never"]));
    let port = refused_port();
    for scheme in ["http", "socks5", "socks5h"] {
        let url = format!("{scheme}://127.0.0.1:{port}");
        let error = tokens_through(&url, &server.base()).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Connect, "{url}: {error:?}");
    }
    assert_eq!(server.request_count(), 0);
}

#[test]
fn an_invalid_proxy_url_is_an_invalid_argument() {
    let error = Client::builder()
        .base_url("http://127.0.0.1:9/v1")
        .proxy(upstage::Proxy::Url("ftp://nope:1".into()))
        .build()
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidArgument, "{error:?}");
}

// ---- the environment, in subprocesses ---------------------------------------------

/// The CLI example built next to this test binary.
fn chat_binary(test: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let chat = exe.parent()?.parent()?.join("examples").join("chat");
    if chat.exists() {
        Some(chat)
    } else {
        println!(
            "skipped: {test}: {} is not built (cargo test builds it)",
            chat.display()
        );
        None
    }
}

/// Runs the CLI against `base` with exactly the proxy variables `env` and `args`.
fn chat(chat: &Path, base: &str, env: &[(&str, String)], args: &[&str]) -> Output {
    let mut command = Command::new(chat);
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    command
        .envs(env.iter().map(|(k, v)| (k, v.as_str())))
        .env_remove("UPSTAGE_API_KEY")
        .args([
            "--base-url",
            base,
            "--retries",
            "0",
            "--connect-timeout",
            "5",
        ])
        .args(args)
        .arg("Hi")
        .stdin(Stdio::null())
        .output()
        .expect("run the chat example")
}

fn assert_streamed(output: &Output, expected: &str) {
    assert!(
        output.status.success(),
        "exit {:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), expected);
}

#[test]
fn environment_proxies_are_used() {
    let test = "environment_proxies_are_used";
    if !have("tinyproxy", test) || !have("microsocks", test) {
        return;
    }
    let Some(chat_bin) = chat_binary(test) else {
        return;
    };
    let http = tinyproxy();
    let socks = microsocks();
    let http_url = format!("http://{USER}:{PASSWORD}@127.0.0.1:{}", http.port());
    let socks_url = format!("socks5://{USER}:{PASSWORD}@127.0.0.1:{}", socks.port());

    // Each variable alone sends the request through its proxy.
    for (var, url, through_socks) in [
        ("ALL_PROXY", &socks_url, true),
        ("all_proxy", &socks_url, true),
        ("HTTPS_PROXY", &http_url, false),
        ("HTTP_PROXY", &http_url, false),
        ("http_proxy", &http_url, false),
    ] {
        let server = Server::start(serve_tokens(&["env"]));
        let output = chat(&chat_bin, &server.base(), &[(var, url.clone())], &[]);
        assert_streamed(&output, "env");
        let logged = if through_socks {
            socks_logged(&socks, server.port())
        } else {
            tinyproxy_logged(&http, server.port())
        };
        assert!(logged, "{var} was not used");
    }

    // ALL_PROXY comes before HTTPS_PROXY and HTTP_PROXY.
    let server = Server::start(serve_tokens(&["all"]));
    let env = [
        ("ALL_PROXY", socks_url.clone()),
        ("HTTP_PROXY", http_url.clone()),
        ("HTTPS_PROXY", http_url.clone()),
    ];
    assert_streamed(&chat(&chat_bin, &server.base(), &env, &[]), "all");
    assert!(socks_logged(&socks, server.port()));
    assert!(!http.log_text().contains(&format!(":{}", server.port())));
}

#[test]
fn no_proxy_bypasses_the_environment_proxy() {
    let test = "no_proxy_bypasses_the_environment_proxy";
    let Some(chat_bin) = chat_binary(test) else {
        return;
    };
    // The environment names a proxy that is down: only a bypass can succeed.
    let dead = format!("http://127.0.0.1:{}", refused_port());
    let server = Server::start(serve_tokens(&["direct"]));
    for no_proxy in ["127.0.0.1", "localhost,127.0.0.1", "*"] {
        let env = [
            ("HTTP_PROXY", dead.clone()),
            ("NO_PROXY", no_proxy.to_owned()),
        ];
        assert_streamed(&chat(&chat_bin, &server.base(), &env, &[]), "direct");
    }
    // Without NO_PROXY the dead proxy is used, and fails.
    let output = chat(
        &chat_bin,
        &server.base(),
        &[("HTTP_PROXY", dead.clone())],
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error[connect]:"), "{stderr}");
    // A NO_PROXY naming another host does not bypass.
    let env = [
        ("HTTP_PROXY", dead),
        ("NO_PROXY", "example.invalid".to_owned()),
    ];
    assert_eq!(
        chat(&chat_bin, &server.base(), &env, &[]).status.code(),
        Some(1)
    );
}

#[test]
fn an_explicit_proxy_beats_the_environment_and_none_disables_it() {
    let test = "an_explicit_proxy_beats_the_environment_and_none_disables_it";
    let Some(chat_bin) = chat_binary(test) else {
        return;
    };
    let dead = format!("http://127.0.0.1:{}", refused_port());
    let env = [("ALL_PROXY", dead.clone()), ("HTTP_PROXY", dead)];

    // --proxy none: straight to the server whatever the environment says.
    let server = Server::start(serve_tokens(&["none"]));
    assert_streamed(
        &chat(&chat_bin, &server.base(), &env, &["--proxy", "none"]),
        "none",
    );

    // --proxy URL: that proxy, not the environment's.
    if !have("microsocks", test) {
        return;
    }
    let socks = microsocks();
    let url = format!("socks5h://{USER}:{PASSWORD}@127.0.0.1:{}", socks.port());
    let server = Server::start(serve_tokens(&["explicit"]));
    assert_streamed(
        &chat(&chat_bin, &server.base(), &env, &["--proxy", &url]),
        "explicit",
    );
    assert!(socks_logged(&socks, server.port()));
}

/// The library API, in a child process of this test binary: `Client::builder()` reads
/// the environment unless `proxy(..)` was called.
#[test]
fn the_library_reads_the_environment_unless_told_otherwise() {
    if std::env::var_os("UPSTAGE_ROBUST_PROXY_CHILD").is_some() {
        return; // this copy is the child itself, run through the filter below
    }
    let exe = std::env::current_exe().unwrap();
    let dead = format!("http://127.0.0.1:{}", refused_port());
    let server = Server::start(serve_tokens(&["lib"]));
    let mut command = Command::new(exe);
    for var in PROXY_VARS {
        command.env_remove(var);
    }
    let output = command
        .env("ALL_PROXY", &dead)
        .env("UPSTAGE_ROBUST_PROXY_CHILD", server.base())
        .args([
            "--exact",
            "child_library_proxy_choices",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("child ran"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs only as the child of the test above (with `ALL_PROXY` naming a dead proxy).
#[test]
fn child_library_proxy_choices() {
    let Some(base) = std::env::var_os("UPSTAGE_ROBUST_PROXY_CHILD") else {
        return;
    };
    let base = base.into_string().unwrap();
    // Default: the environment's (dead) proxy is used.
    let client = Client::builder()
        .base_url(&base)
        .max_retries(0)
        .build()
        .unwrap();
    let error = client.stream(&request()).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Connect, "{error:?}");
    // proxy(None): direct.
    let client = Client::builder()
        .base_url(&base)
        .proxy(upstage::Proxy::Disabled)
        .max_retries(0)
        .build()
        .unwrap();
    let tokens: Vec<String> = client
        .stream(&request())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(tokens, ["lib"]);
    println!("child ran");
}

// ---- faults through a proxy -------------------------------------------------------

#[test]
fn idle_timeout_and_cancel_work_through_a_socks5_proxy() {
    if !have(
        "microsocks",
        "idle_timeout_and_cancel_work_through_a_socks5_proxy",
    ) {
        return;
    }
    let socks = microsocks();
    let url = format!("socks5://{USER}:{PASSWORD}@127.0.0.1:{}", socks.port());
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse().sse_data(&chunk_json("first"));
        if conn.peer_closed(secs(20)) {
            conn.note("client closed");
        }
    });
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Url(url.clone()))
        .idle_timeout(Some(ms(300)))
        .max_retries(0)
        .build()
        .unwrap();

    // A stall: idle timeout, the token kept.
    let mut stream = client.stream(&request()).unwrap();
    assert_eq!(stream.next_token().unwrap().unwrap(), "first");
    let error = stream.next_token().unwrap().unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:?}");
    assert_eq!(error.timeout_phase(), Some(upstage::TimeoutPhase::Idle));
    drop(stream);

    // A cancel from another thread interrupts the read through the proxy.
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Url(url.clone()))
        .max_retries(0)
        .build()
        .unwrap();
    let mut stream = client.stream(&request()).unwrap();
    assert_eq!(stream.next_token().unwrap().unwrap(), "first");
    let handle = stream.cancel_handle();
    let canceller = thread::spawn(move || {
        thread::sleep(ms(200));
        handle.cancel();
    });
    let error = stream.next_token().unwrap().unwrap_err();
    canceller.join().unwrap();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:?}");
    drop(stream);
    assert!(server.wait_idle(secs(10)), "connections released");
    assert!(socks_logged(&socks, server.port()));
}

#[test]
fn cancel_works_through_an_http_proxy() {
    if !have("tinyproxy", "cancel_works_through_an_http_proxy") {
        return;
    }
    let proxy = tinyproxy();
    let url = format!("http://{USER}:{PASSWORD}@127.0.0.1:{}", proxy.port());
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse().sse_data(&chunk_json("first"));
        if conn.peer_closed(secs(20)) {
            conn.note("client closed");
        }
    });
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Url(url.clone()))
        .max_retries(0)
        .build()
        .unwrap();
    let mut stream = client.stream(&request()).unwrap();
    assert_eq!(stream.next_token().unwrap().unwrap(), "first");
    let handle = stream.cancel_handle();
    let canceller = thread::spawn(move || {
        thread::sleep(ms(200));
        handle.cancel();
    });
    let error = stream.next_token().unwrap().unwrap_err();
    canceller.join().unwrap();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:?}");
    drop(stream);
    // tinyproxy closes its side towards the server once the client is gone.
    assert!(server.wait_for_note("client closed", secs(10)));
    assert!(tinyproxy_logged(&proxy, server.port()));
}
