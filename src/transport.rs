//! The connector chain of a client's one HTTP agent, and what lets its pooled keep-alive
//! connections be shared by streams safely.
//!
//! ureq keeps idle connections in the agent's pool and returns one there only when its
//! response was read to the end (chunked terminator or `Content-Length` reached) and
//! nothing more is waiting on it; a connection whose body is dropped unread is closed.
//! What ureq cannot know is which stream a connection serves: cancelling must shut down
//! that stream's socket only, the idle timeout applies to body reads only (ureq's per-read
//! timeout would also cut the legitimately long wait for the headers of a reasoning
//! model), the total timeout spans retries, and a pooled connection the server closed
//! while idle must be told from a real failure. An [`Exchange`] (one attempt of one
//! request) carries those, made current on the thread doing its I/O; the connection's
//! outermost transport, [`PooledTransport`], applies them.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use ureq::unversioned::transport::time::Duration as UreqDuration;
use ureq::unversioned::transport::{
    Buffers, ConnectProxyConnector, ConnectionDetails, Connector, NextTimeout, RustlsConnector,
    ShutdownHandle, SocksConnector, Transport,
};

use crate::cancel::{CancelHandle, Interrupt};

mod tcp;

/// How a client keeps idle keep-alive connections for reuse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pooling {
    /// Idle connections kept per host (and proxy); 0 turns pooling off.
    pub max_idle_per_host: usize,
    /// How long an idle connection is kept before it is closed.
    pub idle_timeout: Duration,
}

impl Default for Pooling {
    fn default() -> Self {
        Pooling {
            max_idle_per_host: 4,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// The fixed read buffer of the layers that are not [`tcp::Tcp`]'s adaptive one: TLS
/// plaintext (a TLS record is at most 16 KiB) and SOCKS connections. It also bounds the
/// response head. (ureq's default is 128 KiB, which every open stream would pay.)
pub(crate) const INPUT_BUFFER: usize = 16 * 1024;
/// The fixed write buffer of the same layers: the request head must fit in it; a longer
/// body goes out in several writes.
pub(crate) const OUTPUT_BUFFER: usize = 8 * 1024;
/// How long after `[DONE]` the rest of the body (usually only the chunked terminator) may
/// take to arrive for the connection to be reused; a server that holds the body open
/// longer costs its connection, not the caller's time.
pub(crate) const GRACE_AFTER_DONE: Duration = Duration::from_millis(50);
/// How many bytes after `[DONE]` are read (and discarded) to reach the end of the body.
pub(crate) const MAX_AFTER_DONE: usize = 16 * 1024;

/// The connector chain of a client's agent: SOCKS or CONNECT proxy, TCP (with adaptive
/// buffers), rustls (its configuration built once per client), and [`Pooled`] around all
/// of it.
pub(crate) fn pooled_connector() -> impl Connector {
    Pooled(
        ().chain(SocksConnector::default())
            .chain(ConnectProxyConnector::default())
            .chain(tcp::Tcp)
            .chain(RustlsConnector::default()),
    )
}

static NEXT_EXCHANGE: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// The exchange whose I/O this thread is doing, if any.
    static CURRENT: RefCell<Option<Arc<Exchange>>> = const { RefCell::new(None) };
}

/// One attempt of one request, from sending it to the end of its body, as the connection
/// serving it sees it.
///
/// ureq picks the connection (pooled or new) and does all I/O on the calling thread, so
/// the exchange makes itself current on that thread ([`Exchange::enter`]) for every call
/// into ureq: sending, and each read of the body ([`ExchangeBody`]). The connection's
/// outermost transport reads it on each read or write: it registers its sockets with the
/// stream's [`CancelHandle`] when it starts serving the exchange, and applies its
/// timeouts.
pub(crate) struct Exchange {
    id: u64,
    cancel: CancelHandle,
    /// Between two body reads, once the headers are in.
    idle: Option<Duration>,
    /// The end of the total timeout: caps every wait, connecting included.
    deadline: Option<Instant>,
    body: AtomicBool,
    /// The end of the grace for the rest of the body after `[DONE]`.
    /// In nanoseconds after `created`; 0 while there is none. (Read on every read of the
    /// body: an atomic, not a lock.)
    grace_until: AtomicU64,
    created: Instant,
    /// The connection had served an earlier exchange (it came from the pool).
    reused: AtomicBool,
    /// Some byte of the response arrived.
    received: AtomicBool,
}

impl Exchange {
    /// A new exchange for the stream whose (slotted) cancel handle is `cancel`.
    pub fn new(
        cancel: &CancelHandle,
        idle: Option<Duration>,
        deadline: Option<Instant>,
    ) -> Arc<Exchange> {
        Arc::new(Exchange {
            id: NEXT_EXCHANGE.fetch_add(1, Ordering::Relaxed),
            cancel: cancel.clone(),
            idle,
            deadline,
            body: AtomicBool::new(false),
            grace_until: AtomicU64::new(0),
            created: Instant::now(),
            reused: AtomicBool::new(false),
            received: AtomicBool::new(false),
        })
    }

    /// Makes this exchange current on this thread until the guard is dropped.
    pub fn enter(self: &Arc<Self>) -> Entered {
        let previous = CURRENT.with(|current| current.replace(Some(Arc::clone(self))));
        Entered { previous }
    }

    /// The headers are in: body reads get the idle timeout from now on.
    pub fn begin_body(&self) {
        self.body.store(true, Ordering::Release);
    }

    /// From now on a read waits at most until `grace` has passed.
    pub fn begin_grace(&self, grace: Duration) {
        let until = (self.created.elapsed() + grace).as_nanos();
        let until = u64::try_from(until).unwrap_or(u64::MAX).max(1);
        self.grace_until.store(until, Ordering::Release);
    }

    /// Whether the exchange ran on a pooled connection that had served before and no byte
    /// of the response came back: the signature of a connection the server closed while it
    /// was idle, on which the request can go out again safely.
    pub fn went_stale(&self) -> bool {
        self.reused.load(Ordering::Acquire) && !self.received.load(Ordering::Acquire)
    }

    /// Whether the connection serving the exchange came from the pool.
    pub fn reused(&self) -> bool {
        self.reused.load(Ordering::Acquire)
    }

    /// The timeout for the next read or write, with this exchange's limits applied; a
    /// timeout error once the total timeout has expired (even when data keeps coming).
    fn limit(&self, mut timeout: NextTimeout, read: bool) -> Result<NextTimeout, ureq::Error> {
        if read {
            if let (Some(idle), true) = (self.idle, self.body.load(Ordering::Acquire)) {
                // The innermost (TCP) transport applies `per_read`, so any byte, a
                // keep-alive comment included, restarts the idle clock.
                timeout.per_read = Some(cap(timeout.per_read, idle));
            }
            let grace = self.grace_until.load(Ordering::Acquire);
            if grace != 0 {
                let until = self.created + Duration::from_nanos(grace);
                let left = until.saturating_duration_since(Instant::now());
                // Zero would mean "no limit" to the socket: at least a millisecond.
                timeout.per_read = Some(cap(timeout.per_read, left.max(MIN_WAIT)));
            }
        }
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ureq::Error::Timeout(ureq::Timeout::Global));
            }
            let left = UreqDuration::from(left);
            if left < timeout.after {
                timeout.after = left;
                timeout.reason = ureq::Timeout::Global;
            }
        }
        Ok(timeout)
    }
}

/// The shortest wait handed to a socket (zero would mean no limit).
const MIN_WAIT: Duration = Duration::from_millis(1);

fn cap(limit: Option<UreqDuration>, to: Duration) -> UreqDuration {
    let to = UreqDuration::from(to);
    match limit {
        Some(limit) if limit < to => limit,
        _ => to,
    }
}

impl fmt::Debug for Exchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Exchange")
            .field("id", &self.id)
            .field("reused", &self.reused)
            .field("received", &self.received)
            .finish_non_exhaustive()
    }
}

/// Keeps an exchange current on this thread; restores the previous one when dropped.
pub(crate) struct Entered {
    previous: Option<Arc<Exchange>>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|current| *current.borrow_mut() = previous);
    }
}

fn with_current<T>(f: impl FnOnce(Option<&Arc<Exchange>>) -> T) -> T {
    CURRENT.with(|current| f(current.borrow().as_ref()))
}

/// A response body read with its exchange current, so that the connection applies the
/// exchange's timeouts and cancel to every read.
pub(crate) struct ExchangeBody<R> {
    inner: R,
    exchange: Arc<Exchange>,
}

impl<R> ExchangeBody<R> {
    pub fn new(inner: R, exchange: &Arc<Exchange>) -> Self {
        ExchangeBody {
            inner,
            exchange: Arc::clone(exchange),
        }
    }
}

impl<R: Read> Read for ExchangeBody<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let _entered = self.exchange.enter();
        self.inner.read(buf)
    }
}

/// Reads what is left of a body after `[DONE]` so that ureq can return the connection to
/// the pool: only what is already there or arrives within the grace, at most
/// [`MAX_AFTER_DONE`] bytes. Returns whether the body ended; when it did not, dropping
/// the reader closes the connection.
pub(crate) fn drain_after_done(reader: &mut dyn Read, exchange: &Exchange) -> bool {
    exchange.begin_grace(GRACE_AFTER_DONE);
    let mut scratch = [0u8; 1024];
    let mut left = MAX_AFTER_DONE;
    loop {
        match reader.read(&mut scratch) {
            Ok(0) => return true,
            Ok(n) if n < left => left -= n,
            Ok(_) => return false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// The sockets of one connection and the exchange they serve, shared with the cancel
/// handles of the streams it served.
#[derive(Default)]
struct Lease {
    state: Mutex<LeaseState>,
}

#[derive(Default)]
struct LeaseState {
    /// The exchange being served; 0 while the connection is idle (in the pool).
    serving: u64,
    /// Set when a cancel reached the exchange being served: sockets registered later (a
    /// TLS or proxy handshake still under way) are shut down at once.
    interrupted: bool,
    sockets: Vec<Weak<dyn ShutdownHandle>>,
}

impl Lease {
    fn lock(&self) -> MutexGuard<'_, LeaseState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn serve(&self, exchange: u64) {
        let mut state = self.lock();
        state.serving = exchange;
        state.interrupted = false;
    }

    fn add_socket(&self, socket: Weak<dyn ShutdownHandle>) {
        let mut state = self.lock();
        if state.interrupted {
            if let Some(socket) = socket.upgrade() {
                socket.shutdown();
            }
        }
        state.sockets.push(socket);
    }
}

/// What a stream's cancel handle holds: "shut this connection down if it still serves
/// this exchange".
struct Ticket {
    lease: Arc<Lease>,
    exchange: u64,
}

impl Interrupt for Ticket {
    fn interrupt(&self) {
        let mut state = self.lease.lock();
        if state.serving != self.exchange {
            // Back in the pool or serving another stream: not ours to cancel.
            return;
        }
        state.interrupted = true;
        for socket in state.sockets.iter().filter_map(Weak::upgrade) {
            socket.shutdown();
        }
    }
}

/// Registers the lease with the exchange's cancel handle; `false` when already cancelled.
fn register(lease: &Arc<Lease>, exchange: &Exchange) -> bool {
    lease.serve(exchange.id);
    exchange.cancel.register(Arc::new(Ticket {
        lease: Arc::clone(lease),
        exchange: exchange.id,
    }))
}

fn cancelled_io() -> ureq::Error {
    ureq::Error::Io(io::Error::new(
        io::ErrorKind::NotConnected,
        "the request was cancelled",
    ))
}

/// What [`ConnectionDetails::register_shutdown`] holds.
type RegisterSocket = dyn Fn(Weak<dyn ShutdownHandle>) -> Result<(), ureq::Error> + Send + Sync;

/// Wraps a connector chain: collects the sockets each connection's connectors register
/// (for [`Agent::shutdown`](ureq::Agent::shutdown)), so that one stream's cancel can
/// shut down its own connection only, and wraps the connection in [`PooledTransport`].
#[derive(Debug)]
pub(crate) struct Pooled<C>(C);

impl<C: Connector> Connector for Pooled<C> {
    type Out = PooledTransport<C::Out>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<()>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let lease = Arc::new(Lease::default());
        let exchange = with_current(|exchange| exchange.cloned());
        if let Some(exchange) = &exchange {
            if !register(&lease, exchange) {
                return Err(cancelled_io());
            }
        }
        let agent_register = Arc::clone(&details.register_shutdown);
        let socket_lease = Arc::clone(&lease);
        let cancel = exchange.as_ref().map(|e| e.cancel.clone());
        let register_shutdown: Arc<RegisterSocket> =
            Arc::new(move |socket: Weak<dyn ShutdownHandle>| {
                agent_register(socket.clone())?;
                socket_lease.add_socket(socket);
                // A cancel that came before the socket was in the lease saw no socket to shut.
                match &cancel {
                    Some(cancel) if cancel.is_cancelled() => Err(cancelled_io()),
                    _ => Ok(()),
                }
            });
        let timeout = match &exchange {
            Some(exchange) => exchange.limit(details.timeout, false)?,
            None => details.timeout,
        };
        let details = ConnectionDetails {
            uri: details.uri,
            addrs: details.addrs.clone(),
            config: details.config,
            // Every request carries request-level timeouts, and rustls caches its
            // configuration (root store, verifier) only for agent-level connections: built
            // once per client instead of once per connection. Requests never change the
            // TLS settings, so the agent's apply.
            request_level: false,
            resolver: details.resolver,
            now: details.now,
            timeout,
            current_time: Arc::clone(&details.current_time),
            run_connector: Arc::clone(&details.run_connector),
            register_shutdown,
        };
        let Some(inner) = self.0.connect(&details, chained)? else {
            return Ok(None);
        };
        Ok(Some(PooledTransport {
            inner,
            serving: exchange.as_ref().map_or(0, |e| e.id),
            served: u32::from(exchange.is_some()),
            lease,
        }))
    }
}

/// A connection as the pool holds it: applies the current exchange's cancel and timeouts.
pub(crate) struct PooledTransport<T> {
    inner: T,
    lease: Arc<Lease>,
    /// The exchange being served; 0 when none.
    serving: u64,
    /// How many exchanges this connection has served.
    served: u32,
}

impl<T> PooledTransport<T> {
    /// Starts serving the current exchange if it is a new one, and returns the timeout for
    /// the next read or write.
    fn prepare(&mut self, timeout: NextTimeout, read: bool) -> Result<NextTimeout, ureq::Error> {
        with_current(|exchange| {
            let Some(exchange) = exchange else {
                return Ok(timeout);
            };
            if exchange.id != self.serving {
                self.serving = exchange.id;
                exchange.reused.store(self.served > 0, Ordering::Release);
                self.served = self.served.saturating_add(1);
                if !register(&self.lease, exchange) {
                    return Err(cancelled_io());
                }
            }
            exchange.limit(timeout, read)
        })
    }
}

impl<T: Transport> Transport for PooledTransport<T> {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = self.prepare(timeout, false)?;
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        let timeout = self.prepare(timeout, true)?;
        let progress = self.inner.await_input(timeout)?;
        if progress {
            with_current(|exchange| {
                if let Some(exchange) = exchange {
                    exchange.received.store(true, Ordering::Release);
                }
            });
        }
        Ok(progress)
    }

    /// ureq asks right before pooling a connection whose response was read to its end, and
    /// right before taking one from the pool: either way the exchange it served is over,
    /// and a late cancel of that exchange must not touch it any more.
    fn is_open(&mut self) -> bool {
        self.serving = 0;
        self.lease.serve(0);
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}

impl<T: Transport> fmt::Debug for PooledTransport<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PooledTransport")
            .field("inner", &self.inner)
            .field("served", &self.served)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn per_read(timeout: NextTimeout) -> Option<Duration> {
        timeout.per_read.map(|d| *d)
    }

    #[test]
    fn the_idle_timeout_applies_to_body_reads_only() {
        let idle = Duration::from_secs(5);
        let exchange = Exchange::new(&CancelHandle::new(), Some(idle), None);
        let headers = exchange.limit(NextTimeout::default(), true).unwrap();
        assert_eq!(per_read(headers), None);
        exchange.begin_body();
        let body = exchange.limit(NextTimeout::default(), true).unwrap();
        assert_eq!(per_read(body), Some(idle));
        let write = exchange.limit(NextTimeout::default(), false).unwrap();
        assert_eq!(per_read(write), None);
    }

    #[test]
    fn the_grace_after_done_caps_reads() {
        let exchange = Exchange::new(&CancelHandle::new(), Some(Duration::from_secs(300)), None);
        exchange.begin_body();
        exchange.begin_grace(Duration::from_millis(50));
        let read = per_read(exchange.limit(NextTimeout::default(), true).unwrap()).unwrap();
        assert!(
            read <= Duration::from_millis(50) && read >= MIN_WAIT,
            "{read:?}"
        );
    }

    #[test]
    fn an_expired_total_timeout_fails_every_io_at_once() {
        let past = Instant::now();
        let exchange = Exchange::new(&CancelHandle::new(), None, Some(past));
        for read in [true, false] {
            let error = exchange.limit(NextTimeout::default(), read).unwrap_err();
            assert!(matches!(error, ureq::Error::Timeout(ureq::Timeout::Global)));
        }
        let later = Instant::now() + Duration::from_secs(60);
        let exchange = Exchange::new(&CancelHandle::new(), None, Some(later));
        let timeout = exchange.limit(NextTimeout::default(), true).unwrap();
        assert_eq!(timeout.reason, ureq::Timeout::Global);
        assert!(*timeout.after <= Duration::from_secs(60));
    }

    #[test]
    fn a_ticket_interrupts_only_the_exchange_it_was_given_for() {
        #[derive(Default)]
        struct Flag(AtomicBool);
        impl ShutdownHandle for Flag {
            fn shutdown(&self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let socket = Arc::new(Flag::default());
        let lease = Arc::new(Lease::default());
        lease.add_socket(Arc::downgrade(&socket) as Weak<dyn ShutdownHandle>);
        lease.serve(1);
        let old = Ticket {
            lease: Arc::clone(&lease),
            exchange: 1,
        };
        // The connection went back to the pool and now serves exchange 2.
        lease.serve(2);
        old.interrupt();
        assert!(!socket.0.load(Ordering::SeqCst));
        let current = Ticket {
            lease: Arc::clone(&lease),
            exchange: 2,
        };
        current.interrupt();
        assert!(socket.0.load(Ordering::SeqCst));
    }

    #[test]
    fn a_socket_registered_after_the_cancel_is_shut_at_once() {
        #[derive(Default)]
        struct Flag(AtomicBool);
        impl ShutdownHandle for Flag {
            fn shutdown(&self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let lease = Arc::new(Lease::default());
        lease.serve(7);
        Ticket {
            lease: Arc::clone(&lease),
            exchange: 7,
        }
        .interrupt();
        let socket = Arc::new(Flag::default());
        lease.add_socket(Arc::downgrade(&socket) as Weak<dyn ShutdownHandle>);
        assert!(socket.0.load(Ordering::SeqCst));
    }
}
