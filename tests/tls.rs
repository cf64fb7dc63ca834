//! TLS against a real local HTTPS server: certificates made by the `openssl` CLI in a
//! temporary directory (a CA, and a server certificate for 127.0.0.1 and localhost signed
//! by it), served with rustls (the version ureq already uses). Trusted through
//! `ca_file`, the stream works; without it, or with another CA, the error is `Connect`
//! naming certificate verification. Idle timeouts and cancellation work through TLS too.
//!
//! Without `openssl` on the PATH the tests print "skipped" and pass, unless
//! `UPSTAGE_REQUIRE_OPENSSL=1`.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Instant;

use support::{
    chunk_json, drain_tokens, finish_json, have_openssl, hi_request, ms, secs, Pki, TempDir,
};
use upstage::{ChatRequest, Client, Error, ErrorKind, TimeoutPhase};

fn request() -> ChatRequest {
    hi_request()
}

// ---- certificates ---------------------------------------------------------------

// ---- the HTTPS server -----------------------------------------------------------

#[derive(Clone, Copy)]
enum Behaviour {
    /// Streams tokens, a finish reason and `[DONE]`.
    Tokens,
    /// Streams one token, then stays silent until the client leaves.
    TokenThenStall,
}

/// One TLS connection at a time is enough for these tests.
struct HttpsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// What each connection ended with: "served", "handshake failed: ...", "peer closed".
    log: Arc<Mutex<Vec<String>>>,
    accept: Option<JoinHandle<()>>,
}

impl HttpsServer {
    fn start(config: Arc<rustls::ServerConfig>, behaviour: Behaviour) -> HttpsServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (stop2, log2) = (Arc::clone(&stop), Arc::clone(&log));
        let accept = thread::spawn(move || {
            for tcp in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(tcp) = tcp else { continue };
                let outcome = serve(tcp, Arc::clone(&config), behaviour, &stop2);
                log2.lock().unwrap().push(outcome);
            }
        });
        HttpsServer {
            addr,
            stop,
            log,
            accept: Some(accept),
        }
    }

    fn base(&self) -> String {
        format!("https://{}/v1", self.addr)
    }

    /// Waits until `n` connections have ended; returns their outcomes.
    fn outcomes(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + secs(10);
        while self.log.lock().unwrap().len() < n && Instant::now() < deadline {
            thread::sleep(ms(10));
        }
        self.log.lock().unwrap().clone()
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, secs(1));
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

fn serve(
    tcp: TcpStream,
    config: Arc<rustls::ServerConfig>,
    behaviour: Behaviour,
    stop: &AtomicBool,
) -> String {
    tcp.set_read_timeout(Some(ms(50))).unwrap();
    tcp.set_nodelay(true).unwrap();
    let connection = rustls::ServerConnection::new(config).unwrap();
    let mut tls = rustls::StreamOwned::new(connection, tcp);
    // Read the request head and its Content-Length body.
    let deadline = Instant::now() + secs(10);
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let body_start = loop {
        if let Some(at) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if Instant::now() > deadline || stop.load(Ordering::SeqCst) {
            return "timed out reading the request".into();
        }
        match tls.read(&mut buf) {
            Ok(0) => return "peer closed before a request".into(),
            Ok(n) => request.extend_from_slice(&buf[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) if tls.conn.is_handshaking() => return format!("handshake failed: {e}"),
            Err(e) => return format!("read failed: {e}"),
        }
    };
    let head = String::from_utf8_lossy(&request[..body_start]).to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while request.len() < body_start + length && Instant::now() < deadline {
        match tls.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => return format!("read failed: {e}"),
        }
    }
    let mut response =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n".to_vec();
    match behaviour {
        Behaviour::Tokens => {
            for token in ["secure", " hello"] {
                response.extend_from_slice(format!("data: {}\n\n", chunk_json(token)).as_bytes());
            }
            response.extend_from_slice(format!("data: {}\n\n", finish_json("stop")).as_bytes());
            response.extend_from_slice(b"data: [DONE]\n\n");
            let _ = tls.write_all(&response);
            tls.conn.send_close_notify();
            let _ = tls.flush();
            "served".into()
        }
        Behaviour::TokenThenStall => {
            response.extend_from_slice(format!("data: {}\n\n", chunk_json("first")).as_bytes());
            let _ = tls.write_all(&response);
            let _ = tls.flush();
            let deadline = Instant::now() + secs(20);
            while Instant::now() < deadline && !stop.load(Ordering::SeqCst) {
                match tls.read(&mut buf) {
                    Ok(0) => return "peer closed".into(),
                    Ok(_) => {}
                    Err(e) if is_timeout(&e) => {}
                    Err(_) => return "peer closed".into(),
                }
            }
            "peer stayed".into()
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn drain(client: &Client) -> (Vec<String>, Option<Error>) {
    let mut stream = match client.stream(&request()) {
        Ok(stream) => stream,
        Err(e) => return (Vec::new(), Some(e)),
    };
    drain_tokens(&mut stream)
}

// ---- tests ----------------------------------------------------------------------

#[test]
fn a_server_trusted_through_ca_file_streams() {
    if !have_openssl("a_server_trusted_through_ca_file_streams") {
        return;
    }
    let pki = Pki::new();
    let server = HttpsServer::start(pki.server_config(), Behaviour::Tokens);
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
        .ca_file(pki.ca())
        .build()
        .unwrap();
    let (tokens, error) = drain(&client);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens, ["secure", " hello"]);
    assert_eq!(server.outcomes(1), ["served"]);
}

#[test]
fn without_the_ca_file_certificate_verification_fails() {
    if !have_openssl("without_the_ca_file_certificate_verification_fails") {
        return;
    }
    let pki = Pki::new();
    let server = HttpsServer::start(pki.server_config(), Behaviour::Tokens);
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
        .max_retries(2)
        .build()
        .unwrap();
    let (tokens, error) = drain(&client);
    assert!(tokens.is_empty());
    let error = error.expect("an unknown CA fails");
    assert_eq!(
        error.attempts(),
        1,
        "an untrusted certificate is not retried"
    );
    assert_eq!(error.kind(), ErrorKind::Connect, "{error:?}");
    assert!(
        error.message().contains("certificate verification"),
        "the message names certificate verification: {error}"
    );
    assert_eq!(error.http_status(), None);
    let outcomes = server.outcomes(1);
    assert!(outcomes[0].starts_with("handshake failed"), "{outcomes:?}");
}

#[test]
fn another_ca_is_not_trusted_either() {
    if !have_openssl("another_ca_is_not_trusted_either") {
        return;
    }
    let pki = Pki::new();
    let other = Pki::new();
    let server = HttpsServer::start(pki.server_config(), Behaviour::Tokens);
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
        .ca_file(other.ca())
        .max_retries(0)
        .build()
        .unwrap();
    let (_, error) = drain(&client);
    let error = error.expect("a certificate from another CA fails");
    assert_eq!(error.kind(), ErrorKind::Connect, "{error:?}");
    assert!(error.message().contains("certificate"), "{error}");
}

#[test]
fn https_to_a_plain_http_server_is_a_connect_error() {
    // A plain HTTP server answers the ClientHello with a 400 in clear text.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let plain = thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(secs(5))).unwrap();
        let mut buf = [0u8; 1024];
        let _ = tcp.read(&mut buf);
        let _ = tcp.write_all(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    });
    let client = Client::builder()
        .base_url(format!("https://{addr}/v1"))
        .proxy(upstage::Proxy::Disabled)
        .max_retries(0)
        .build()
        .unwrap();
    let (_, error) = drain(&client);
    plain.join().unwrap();
    let error = error.expect("a TLS handshake with an HTTP server fails");
    assert_eq!(error.kind(), ErrorKind::Connect, "{error:?}");
    assert!(error.message().contains("TLS"), "{error}");
}

#[test]
fn a_bad_ca_file_is_an_invalid_argument_at_build_time() {
    let dir = TempDir::new("badca");
    let missing = Client::builder()
        .base_url("https://127.0.0.1:9/v1")
        .ca_file(dir.path("missing.pem"))
        .build()
        .unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::InvalidArgument, "{missing:?}");
    std::fs::write(dir.path("empty.pem"), "not a certificate\n").unwrap();
    let empty = Client::builder()
        .base_url("https://127.0.0.1:9/v1")
        .ca_file(dir.path("empty.pem"))
        .build()
        .unwrap_err();
    assert_eq!(empty.kind(), ErrorKind::InvalidArgument, "{empty:?}");
}

#[test]
fn an_idle_timeout_works_through_tls() {
    if !have_openssl("an_idle_timeout_works_through_tls") {
        return;
    }
    let pki = Pki::new();
    let server = HttpsServer::start(pki.server_config(), Behaviour::TokenThenStall);
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
        .ca_file(pki.ca())
        .idle_timeout(Some(ms(300)))
        .max_retries(0)
        .build()
        .unwrap();
    let (tokens, error) = drain(&client);
    assert_eq!(tokens, ["first"]);
    let error = error.expect("the server stalls");
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error:?}");
    assert_eq!(error.timeout_phase(), Some(TimeoutPhase::Idle));
    assert_eq!(server.outcomes(1), ["peer closed"]);
}

#[test]
fn cancel_interrupts_a_blocked_tls_read() {
    if !have_openssl("cancel_interrupts_a_blocked_tls_read") {
        return;
    }
    let pki = Pki::new();
    let server = HttpsServer::start(pki.server_config(), Behaviour::TokenThenStall);
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
        .ca_file(pki.ca())
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
    let started = Instant::now();
    let error = stream.next_token().unwrap().unwrap_err();
    canceller.join().unwrap();
    assert_eq!(error.kind(), ErrorKind::Cancelled, "{error:?}");
    assert!(started.elapsed() < secs(10));
    assert_eq!(server.outcomes(1), ["peer closed"]);
}

#[test]
fn the_cli_takes_a_ca_file() {
    if !have_openssl("the_cli_takes_a_ca_file") {
        return;
    }
    let Some(chat) = chat_binary() else {
        println!("skipped: the_cli_takes_a_ca_file: target/debug/examples/chat is not built");
        return;
    };
    let pki = Pki::new();
    let server = HttpsServer::start(pki.server_config(), Behaviour::Tokens);
    let ca = pki.ca();
    let output = Command::new(&chat)
        .args(["--base-url", &server.base(), "--proxy", "none", "--ca-file"])
        .arg(&ca)
        .arg("Hi")
        .env_remove("UPSTAGE_API_KEY")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "secure hello");

    let output = Command::new(&chat)
        .args([
            "--base-url",
            &server.base(),
            "--proxy",
            "none",
            "--retries",
            "0",
            "Hi",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("error[connect]:"), "{stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");
}

/// `target/debug/examples/chat`, built by `cargo test` (examples are built with tests).
fn chat_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let debug = exe.parent()?.parent()?;
    let chat = debug.join("examples").join("chat");
    chat.exists().then_some(chat)
}

/// HTTPS through an HTTP CONNECT proxy (`tinyproxy`), trusted with the CA file: the
/// usual corporate set-up. Skipped without tinyproxy unless `UPSTAGE_REQUIRE_PROXIES=1`.
#[test]
fn https_through_an_http_connect_proxy() {
    if !have_openssl("https_through_an_http_connect_proxy") {
        return;
    }
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("tinyproxy").is_file()))
        .unwrap_or(false);
    if !found {
        assert!(
            std::env::var("UPSTAGE_REQUIRE_PROXIES").as_deref() != Ok("1"),
            "UPSTAGE_REQUIRE_PROXIES=1 but tinyproxy is not installed"
        );
        println!("skipped: https_through_an_http_connect_proxy: tinyproxy is not installed");
        return;
    }
    let pki = Pki::new();
    let server = HttpsServer::start(pki.server_config(), Behaviour::Tokens);
    let dir = TempDir::new("tls-tinyproxy");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = dir.path("tinyproxy.log");
    std::fs::write(
        dir.path("tinyproxy.conf"),
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Info\nAllow 127.0.0.1\n",
            log.display()
        ),
    )
    .unwrap();
    let mut proxy = Command::new("tinyproxy")
        .arg("-d")
        .arg("-c")
        .arg(dir.path("tinyproxy.conf"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + secs(10);
    while TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), ms(200)).is_err() {
        assert!(Instant::now() < deadline, "tinyproxy never listened");
        thread::sleep(ms(20));
    }
    let client = Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Url(format!("http://127.0.0.1:{port}")))
        .ca_file(pki.ca())
        .max_retries(0)
        .build()
        .unwrap();
    let (tokens, error) = drain(&client);
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    let _ = proxy.kill();
    let _ = proxy.wait();
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens, ["secure", " hello"]);
    assert!(
        logged.contains(&format!("CONNECT 127.0.0.1:{}", server.addr.port())),
        "{logged}"
    );
}
