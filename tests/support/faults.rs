//! What the fault tests (timeouts, retries, cancellation, truncation) share: the request
//! they send, a client builder that ignores proxies from the environment, and a listener on
//! which a connect hangs.

use std::net::{SocketAddr, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};

use upstage::{ChatRequest, ChatStream, Client, ClientBuilder, Error, ErrorKind};

use super::{drain_tokens, hi_request, ms, secs, Server};

pub fn request() -> ChatRequest {
    hi_request()
}

/// A client for `server`, never through a proxy from the environment.
pub fn builder(server: &Server) -> ClientBuilder {
    Client::builder()
        .base_url(server.base())
        .proxy(upstage::Proxy::Disabled)
}

pub fn drain(stream: &mut ChatStream) -> (Vec<String>, Option<Error>) {
    drain_tokens(stream)
}

/// Opens a stream and reads it to its end; an error while opening has no tokens.
pub fn run_stream(client: &Client) -> (Vec<String>, Option<Error>, u32) {
    match client.stream(&request()) {
        Ok(mut stream) => {
            let (tokens, error) = drain(&mut stream);
            (tokens, error, stream.attempts())
        }
        Err(e) => {
            let attempts = e.attempts();
            (Vec::new(), Some(e), attempts)
        }
    }
}

pub fn assert_kind(error: &Option<Error>, kind: ErrorKind) -> &Error {
    let error = error
        .as_ref()
        .unwrap_or_else(|| panic!("expected {kind:?}, got success"));
    assert_eq!(error.kind(), kind, "{error:?}");
    error
}

/// The server's connection threads all ended: the client closed every socket.
pub fn assert_released(server: &Server) {
    assert!(
        server.wait_idle(secs(10)),
        "the client kept a connection open"
    );
}

/// A loopback listener whose accept queue is full: further SYNs are dropped by the
/// kernel, so a connect to it hangs, as to a black-holed host. `listen(fd, 0)` keeps one
/// connection in the queue; the fillers (never accepted) take that place.
pub struct FullBacklog {
    _listener: OwnedFd,
    _fillers: Vec<TcpStream>,
    /// The address a connect to hangs.
    pub addr: SocketAddr,
}

impl FullBacklog {
    /// A full listener, or `None` if the kernel accepted every filler (no hang possible).
    pub fn new() -> Option<FullBacklog> {
        // SAFETY: plain socket calls on a descriptor we own; `addr` is a fully
        // initialised sockaddr_in whose size we pass; the descriptor is wrapped in an
        // OwnedFd at once so it is closed on every path.
        let (listener, port) = unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            if fd < 0 {
                return None;
            }
            let listener = OwnedFd::from_raw_fd(fd);
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from_ne_bytes([127, 0, 0, 1]);
            let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            if libc::bind(fd, std::ptr::from_ref(&addr).cast(), len) != 0
                || libc::listen(fd, 0) != 0
            {
                return None;
            }
            let mut bound: libc::sockaddr_in = std::mem::zeroed();
            let mut bound_len = len;
            if libc::getsockname(fd, std::ptr::from_mut(&mut bound).cast(), &mut bound_len) != 0 {
                return None;
            }
            (listener, u16::from_be(bound.sin_port))
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut fillers = Vec::new();
        for _ in 0..8 {
            match TcpStream::connect_timeout(&addr, ms(300)) {
                Ok(stream) => fillers.push(stream),
                Err(_) => {
                    return Some(FullBacklog {
                        _listener: listener,
                        _fillers: fillers,
                        addr,
                    })
                }
            }
        }
        None
    }
}

/// Runs `f` on a thread and waits at most `limit` for it: a hang fails the test instead of
/// hanging it (the thread is freed when the server is dropped).
pub fn bounded<T: Send + 'static>(
    limit: std::time::Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).ok()
}
