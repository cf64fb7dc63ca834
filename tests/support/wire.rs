//! Socket I/O for one connection: every read is bounded by a deadline, and every
//! blocking call wakes up often enough to notice that the server is stopping.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long one blocking socket call may sleep before the stop flag is checked again.
pub(crate) const SLICE: Duration = Duration::from_millis(20);

/// Why a read did not produce the bytes asked for.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed its side (or we already closed ours).
    Eof,
    /// The deadline passed.
    Timeout,
    /// The server is shutting down.
    Stopped,
    /// The socket failed (typically `ConnectionReset`).
    Io(io::Error),
    /// The peer sent more than the configured limit.
    TooLarge,
    /// The peer sent something that is not HTTP/1.1.
    Malformed(String),
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Eof => f.write_str("peer closed the connection"),
            ReadError::Timeout => f.write_str("timed out"),
            ReadError::Stopped => f.write_str("server stopped"),
            ReadError::Io(e) => write!(f, "i/o error: {e}"),
            ReadError::TooLarge => f.write_str("request too large"),
            ReadError::Malformed(why) => write!(f, "malformed request: {why}"),
        }
    }
}

/// One accepted TCP connection plus the bytes read from it but not consumed yet.
pub(crate) struct Wire {
    stream: Option<TcpStream>,
    pending: Vec<u8>,
    stop: Arc<AtomicBool>,
}

impl Wire {
    /// Wraps an accepted stream: Nagle off (every write leaves at once), short timeouts.
    pub(crate) fn new(stream: TcpStream, stop: Arc<AtomicBool>) -> io::Result<Wire> {
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(SLICE))?;
        stream.set_write_timeout(Some(SLICE))?;
        Ok(Wire {
            stream: Some(stream),
            pending: Vec::new(),
            stop,
        })
    }

    /// Whether our side of the socket is still open.
    pub(crate) fn is_open(&self) -> bool {
        self.stream.is_some()
    }

    /// Whether the server is shutting down.
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Whether unconsumed bytes are buffered.
    pub(crate) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Reads at least one more byte into the pending buffer.
    pub(crate) fn fill(&mut self, deadline: Instant) -> Result<(), ReadError> {
        let stream = self.stream.as_ref().ok_or(ReadError::Eof)?;
        let mut buf = [0u8; 16 * 1024];
        loop {
            if self.stop.load(Ordering::SeqCst) {
                return Err(ReadError::Stopped);
            }
            if Instant::now() >= deadline {
                return Err(ReadError::Timeout);
            }
            match (&*stream).read(&mut buf) {
                Ok(0) => return Err(ReadError::Eof),
                Ok(n) => {
                    self.pending.extend_from_slice(&buf[..n]);
                    return Ok(());
                }
                Err(e) if is_transient(&e) => {}
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    /// Consumes bytes up to and including `delim`; fails once `max` bytes are buffered.
    pub(crate) fn read_through(
        &mut self,
        delim: &[u8],
        max: usize,
        deadline: Instant,
    ) -> Result<Vec<u8>, ReadError> {
        loop {
            if let Some(pos) = find(&self.pending, delim) {
                return Ok(self.pending.drain(..pos + delim.len()).collect());
            }
            if self.pending.len() > max {
                return Err(ReadError::TooLarge);
            }
            self.fill(deadline)?;
        }
    }

    /// Consumes exactly `n` bytes.
    pub(crate) fn take(&mut self, n: usize, deadline: Instant) -> Result<Vec<u8>, ReadError> {
        while self.pending.len() < n {
            self.fill(deadline)?;
        }
        Ok(self.pending.drain(..n).collect())
    }

    /// Waits until the peer closes or resets; bytes it sends meanwhile are kept.
    /// Returns `false` on timeout or server stop, `true` if our side is already closed.
    pub(crate) fn wait_peer_closed(&mut self, deadline: Instant) -> bool {
        loop {
            match self.fill(deadline) {
                Ok(()) => {}
                Err(ReadError::Eof | ReadError::Io(_)) => return true,
                Err(_) => return false,
            }
        }
    }

    /// Writes all of `bytes`, retrying short writes until done, failed or stopped.
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stream = self
            .stream
            .as_ref()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "connection closed"))?;
        let mut rest = bytes;
        while !rest.is_empty() {
            if self.stop.load(Ordering::SeqCst) {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "server stopped"));
            }
            match (&*stream).write(rest) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => rest = &rest[n..],
                Err(e) if is_transient(&e) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Orderly close: FIN first, then drain what the peer already sent so that the
    /// kernel does not turn the close into a reset.
    pub(crate) fn close(&mut self) {
        if let Some(stream) = self.stream.take() {
            let _ = stream.shutdown(Shutdown::Write);
            drain_nonblocking(&stream);
        }
    }

    /// Abortive close: `SO_LINGER` 0, then close, so the peer sees `ECONNRESET`.
    pub(crate) fn reset(&mut self) {
        if let Some(stream) = self.stream.take() {
            set_linger_zero(&stream).expect("setsockopt(SO_LINGER) failed");
        }
    }
}

/// Errors that only mean "try again" on a socket with a timeout.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}

/// Position of the first occurrence of `needle` in `haystack`.
pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Reads and discards whatever is already buffered in the kernel, without blocking.
fn drain_nonblocking(stream: &TcpStream) {
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let mut buf = [0u8; 16 * 1024];
    for _ in 0..64 {
        if !matches!((&*stream).read(&mut buf), Ok(n) if n > 0) {
            break;
        }
    }
}

/// Sets `SO_LINGER` to {on, 0 s}. `TcpStream::set_linger` is still unstable
/// (`tcp_linger`, rust-lang/rust#88494) in Rust 1.95, hence libc.
fn set_linger_zero(stream: &TcpStream) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::linger>())
        .expect("sizeof(linger) fits socklen_t");
    // SAFETY: the fd is an open socket owned by `stream`, which outlives the call;
    // the pointer and length describe a fully initialised `libc::linger` on our stack,
    // which setsockopt only reads during the call.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&linger).cast::<libc::c_void>(),
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}
