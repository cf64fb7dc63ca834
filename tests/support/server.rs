//! The server: accept loop, one thread per connection, shared records.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::conn::Conn;
use super::request::RecordedRequest;
use super::wire::Wire;

/// How long `Drop` waits for handler threads to finish after asking them to stop.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The type-erased per-connection handler.
pub(crate) type Handler = dyn Fn(&mut Conn) + Send + Sync + 'static;

/// Everything the server records; guarded by `Shared::state`.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) requests: Vec<RecordedRequest>,
    pub(crate) connections: usize,
    pub(crate) active: usize,
    pub(crate) panics: Vec<String>,
    pub(crate) notes: Vec<String>,
    pub(crate) protocol_errors: Vec<String>,
    pub(crate) write_failures: usize,
}

/// State shared by the `Server`, its accept thread and every connection thread.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) stop: Arc<AtomicBool>,
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Mutates the state and wakes every waiter.
    pub(crate) fn update<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let out = f(&mut self.lock());
        self.changed.notify_all();
        out
    }

    /// Reads the state.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&State) -> T) -> T {
        f(&self.lock())
    }

    /// Waits until `done` holds or `timeout` passes; returns whether it holds.
    pub(crate) fn wait_until(&self, timeout: Duration, done: impl Fn(&State) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock();
        while !done(&state) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Records a request and returns its 1-based attempt number.
    pub(crate) fn record_request(&self, mut request: RecordedRequest) -> RecordedRequest {
        self.update(|s| {
            request.attempt = s.requests.len() + 1;
            s.requests.push(request.clone());
            request
        })
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// A real HTTP/1.1 server on `127.0.0.1:<ephemeral port>`.
///
/// Each accepted connection gets its own thread, which reads a request, records
/// it, and runs the handler with a [`Conn`]. If the handler leaves a complete,
/// reusable response (see [`Conn`]), the same connection is read again for the
/// next request (keep-alive); otherwise it is closed with a FIN.
///
/// Dropping the server stops accepting, wakes every sleeping or stalled handler,
/// waits up to 5 s for them, and then panics if any handler panicked (unless the
/// test is already panicking).
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// In a `Mutex` only so that `&Server` is unwind-safe (usable in `catch_unwind`).
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl Server {
    /// Binds `127.0.0.1:0` and serves every connection with `handler`.
    pub fn start(handler: impl Fn(&mut Conn) + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        let shared = Arc::new(Shared::default());
        let handler: Arc<Handler> = Arc::new(handler);
        let accept_shared = Arc::clone(&shared);
        let accept = thread::Builder::new()
            .name(format!("support-accept-{}", addr.port()))
            .spawn(move || accept_loop(&listener, &accept_shared, &handler))
            .expect("spawn accept thread");
        Server {
            addr,
            shared,
            accept: Mutex::new(Some(accept)),
        }
    }

    /// `"http://127.0.0.1:PORT"`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `"http://127.0.0.1:PORT/v1"`: a base URL to which a client appends `/chat/completions`.
    pub fn base(&self) -> String {
        format!("{}/v1", self.url())
    }

    /// The bound socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.read(|s| s.requests.clone())
    }

    /// How many requests were received so far.
    pub fn request_count(&self) -> usize {
        self.shared.read(|s| s.requests.len())
    }

    /// How many TCP connections were accepted so far.
    pub fn connections(&self) -> usize {
        self.shared.read(|s| s.connections)
    }

    /// Waits until at least `n` requests have arrived; `false` on timeout.
    pub fn wait_for_requests(&self, n: usize, timeout: Duration) -> bool {
        self.shared.wait_until(timeout, |s| s.requests.len() >= n)
    }

    /// Waits until at least `n` connections were accepted; `false` on timeout.
    pub fn wait_for_connections(&self, n: usize, timeout: Duration) -> bool {
        self.shared.wait_until(timeout, |s| s.connections >= n)
    }

    /// Waits until at most `n` connection threads are running; `false` on timeout.
    pub fn wait_active_at_most(&self, n: usize, timeout: Duration) -> bool {
        self.shared.wait_until(timeout, |s| s.active <= n)
    }

    /// Waits until no connection thread is running; `false` on timeout.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        self.shared.wait_until(timeout, |s| s.active == 0)
    }

    /// Notes left by handlers with [`Conn::note`], in order.
    pub fn notes(&self) -> Vec<String> {
        self.shared.read(|s| s.notes.clone())
    }

    /// Waits until a handler has left the note `note`; `false` on timeout.
    pub fn wait_for_note(&self, note: &str, timeout: Duration) -> bool {
        self.shared
            .wait_until(timeout, |s| s.notes.iter().any(|n| n == note))
    }

    /// Requests that could not be parsed (or timed out half-way), one message each.
    pub fn protocol_errors(&self) -> Vec<String> {
        self.shared.read(|s| s.protocol_errors.clone())
    }

    /// How many connections saw a failed write (the client had gone away).
    pub fn write_failures(&self) -> usize {
        self.shared.read(|s| s.write_failures)
    }

    /// Messages of handler panics so far.
    pub fn handler_panics(&self) -> Vec<String> {
        self.shared.read(|s| s.panics.clone())
    }

    /// Returns and forgets handler panics (so that `Drop` does not re-raise them).
    pub fn take_handler_panics(&self) -> Vec<String> {
        self.shared.update(|s| std::mem::take(&mut s.panics))
    }

    /// Panics if any handler panicked.
    pub fn assert_no_handler_panics(&self) {
        let panics = self.handler_panics();
        assert!(panics.is_empty(), "handler panicked: {panics:#?}");
    }

    /// Stops accepting and unblocks the accept thread; `true` if it could be joined.
    fn stop_accepting(&mut self) -> bool {
        self.shared.stop.store(true, Ordering::SeqCst);
        let woke = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok();
        let accept = self
            .accept
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match accept {
            Some(accept) if woke => accept.join().is_ok(),
            _ => false,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_accepting();
        self.shared.wait_until(DRAIN_TIMEOUT, |s| s.active == 0);
        if !thread::panicking() {
            self.assert_no_handler_panics();
        }
    }
}

/// Accepts until the stop flag is set, spawning one thread per connection.
fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, handler: &Arc<Handler>) {
    for stream in listener.incoming() {
        if shared.stopping() {
            return;
        }
        match stream {
            Ok(stream) => spawn_connection(stream, shared, handler),
            Err(e) => {
                eprintln!("support server: accept failed: {e}");
                thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// Counts the connection and serves it on a new thread.
fn spawn_connection(stream: TcpStream, shared: &Arc<Shared>, handler: &Arc<Handler>) {
    let index = shared.update(|s| {
        s.connections += 1;
        s.active += 1;
        s.connections
    });
    let shared = Arc::clone(shared);
    let handler = Arc::clone(handler);
    let spawned = thread::Builder::new()
        .name(format!("support-conn-{index}"))
        .spawn(move || {
            let _active = ActiveGuard(Arc::clone(&shared));
            serve_connection(stream, index, &shared, &*handler);
        });
    if let Err(e) = spawned {
        eprintln!("support server: cannot spawn connection thread: {e}");
    }
}

/// Decrements the active-connection count when a connection thread ends.
struct ActiveGuard(Arc<Shared>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.update(|s| s.active -= 1);
    }
}

/// Serves requests on one connection until it cannot be reused.
fn serve_connection(stream: TcpStream, index: usize, shared: &Arc<Shared>, handler: &Handler) {
    let wire = match Wire::new(stream, Arc::clone(&shared.stop)) {
        Ok(wire) => wire,
        Err(e) => return eprintln!("support server: cannot set up connection {index}: {e}"),
    };
    let mut conn = Conn::new(wire, index, Arc::clone(shared));
    loop {
        match conn.next_request() {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let message = format!("connection {index}: {e}");
                shared.update(|s| s.protocol_errors.push(message));
                break;
            }
        }
        run_handler(handler, &mut conn, shared);
        if !conn.reusable() {
            break;
        }
    }
    conn.finish();
}

/// Runs the handler, turning a panic into a recorded message.
fn run_handler(handler: &Handler, conn: &mut Conn, shared: &Shared) {
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| handler(conn)));
    if let Err(payload) = outcome {
        conn.abandon();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_owned());
        let message = format!("attempt {}: {message}", conn.attempt());
        shared.update(|s| s.panics.push(message));
    }
}
