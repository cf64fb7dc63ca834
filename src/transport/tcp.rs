//! TCP connections whose read buffer fits the traffic.
//!
//! ureq's own TCP transport has fixed buffers: large ones cost every open stream their size
//! (most streams are a few tokens a second), small ones cost a busy stream many more reads
//! (a loopback server sends tens of MB/s). This one starts small and doubles its read buffer
//! while reads keep filling it, up to [`MAX_INPUT`]; the write buffer exists only while a
//! request is being sent; both shrink back when the connection goes idle in the pool.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, NextTimeout, ShutdownHandle, Transport,
};

/// The read buffer of a new or idle connection: a response head and a few events.
const INITIAL_INPUT: usize = 8 * 1024;
/// The read buffer of a busy stream.
const MAX_INPUT: usize = 128 * 1024;
/// The write buffer while a request is sent: its head must fit; a longer body goes out in
/// several writes.
const OUTPUT: usize = 8 * 1024;
/// Scratch space for reading a request body before it is written.
const TMP: usize = 8 * 1024;

/// Opens TCP connections (unless an earlier connector, a SOCKS proxy, already made one).
#[derive(Debug, Default)]
pub(crate) struct Tcp;

impl<In: Transport> Connector<In> for Tcp {
    type Out = Either<In, TcpTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        if let Some(chained) = chained {
            return Ok(Some(Either::A(chained)));
        }
        let stream = Arc::new(connect(details)?);
        (details.register_shutdown)(Arc::downgrade(&stream) as Weak<dyn ShutdownHandle>)?;
        Ok(Some(Either::B(TcpTransport {
            stream,
            buffers: AdaptiveBuffers::default(),
            read_timeout: None,
            write_timeout: None,
        })))
    }
}

/// Tries the resolved addresses in turn within the connect timeout.
fn connect(details: &ConnectionDetails) -> Result<TcpStream, ureq::Error> {
    let reason = details.timeout.reason;
    let deadline = details
        .timeout
        .not_zero()
        .map(|after| Instant::now() + *after);
    let mut last = None;
    for addr in details.addrs.iter() {
        let connected = match deadline {
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(ureq::Error::Timeout(reason));
                }
                TcpStream::connect_timeout(addr, left)
            }
            None => TcpStream::connect(addr),
        };
        match connected {
            Ok(stream) => {
                if details.config.no_delay() {
                    stream.set_nodelay(true)?;
                }
                return Ok(stream);
            }
            Err(e) if is_timeout(&e) => last = Some(ureq::Error::Timeout(reason)),
            Err(e) => last = Some(ureq::Error::Io(e)),
        }
    }
    Err(last.unwrap_or_else(|| {
        ureq::Error::Io(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            "no address to connect to",
        ))
    }))
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// A TCP connection with [`AdaptiveBuffers`].
#[derive(Debug)]
pub(crate) struct TcpTransport {
    /// Shared (weakly) with the cancel machinery, which shuts it down from other threads.
    stream: Arc<TcpStream>,
    buffers: AdaptiveBuffers,
    /// The socket's current timeouts, so that they are set only when they change.
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

/// The socket timeout for `timeout`, or the timeout error when nothing is left of it.
fn socket_timeout(timeout: NextTimeout) -> Result<Option<Duration>, ureq::Error> {
    if timeout.after.is_not_happening() {
        return Ok(None);
    }
    if timeout.after.is_zero() {
        return Err(ureq::Error::Timeout(timeout.reason));
    }
    Ok(Some(*timeout.after))
}

impl Transport for TcpTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        let timeout = timeout.for_write();
        let limit = socket_timeout(timeout)?;
        if limit != self.write_timeout {
            self.stream.set_write_timeout(limit)?;
            self.write_timeout = limit;
        }
        match (&*self.stream).write_all(&self.buffers.output[..amount]) {
            Ok(()) => Ok(()),
            Err(e) if is_timeout(&e) => Err(ureq::Error::Timeout(timeout.reason)),
            Err(e) => Err(e.into()),
        }
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        // The request is out: its buffers are not needed until the next one.
        self.buffers.release_output();
        let timeout = timeout.for_read();
        let limit = socket_timeout(timeout)?;
        if limit != self.read_timeout {
            self.stream.set_read_timeout(limit)?;
            self.read_timeout = limit;
        }
        let room = self.buffers.room_to_read();
        loop {
            match (&*self.stream).read(&mut self.buffers.input[self.buffers.filled..]) {
                Ok(n) => {
                    self.buffers.filled += n;
                    if n == room {
                        // The socket had at least as much as we took: read more at once.
                        self.buffers.grow();
                    }
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(ureq::Error::Timeout(timeout.reason)),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Whether the idle connection is still usable: nothing may be waiting on it (bytes
    /// nobody asked for, or the server's close). Called before a connection is pooled and
    /// before it is reused, so it also shrinks the buffers back.
    fn is_open(&mut self) -> bool {
        self.buffers.shrink_when_empty();
        if self.stream.set_nonblocking(true).is_err() {
            return false;
        }
        let open = matches!(
            (&*self.stream).read(&mut [0u8]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock
        );
        open && self.stream.set_nonblocking(false).is_ok()
    }
}

impl Drop for TcpTransport {
    fn drop(&mut self) {
        // Other owners of the socket (a cancel handle's weak reference upgraded this very
        // moment) must not keep the connection open.
        let _ = self.stream.shutdown(Shutdown::Both);
    }
}

/// Read and write buffers that grow with the traffic (see the module documentation).
#[derive(Debug, Default)]
struct AdaptiveBuffers {
    /// `input[consumed..filled]` is read but not consumed.
    input: Vec<u8>,
    consumed: usize,
    filled: usize,
    output: Vec<u8>,
    tmp: Vec<u8>,
    /// The last consume made progress (see [`Buffers::can_use_input`]).
    progress: bool,
}

impl AdaptiveBuffers {
    /// Makes room for a read (compacting, allocating or growing); returns its size.
    fn room_to_read(&mut self) -> usize {
        if self.input.is_empty() {
            self.input = vec![0; INITIAL_INPUT];
        }
        if self.consumed > 0 {
            self.input.copy_within(self.consumed..self.filled, 0);
            self.filled -= self.consumed;
            self.consumed = 0;
        }
        if self.filled == self.input.len() {
            // One response head (or chunk) that does not fit yet.
            self.grow();
        }
        self.input.len() - self.filled
    }

    fn grow(&mut self) {
        let len = (self.input.len() * 2).clamp(INITIAL_INPUT, MAX_INPUT);
        self.input.resize(len, 0);
    }

    fn release_output(&mut self) {
        if !self.output.is_empty() {
            self.output = Vec::new();
            self.tmp = Vec::new();
        }
    }

    fn shrink_when_empty(&mut self) {
        if self.consumed == self.filled && self.input.len() > INITIAL_INPUT {
            self.input = Vec::new();
            self.consumed = 0;
            self.filled = 0;
        }
    }
}

impl Buffers for AdaptiveBuffers {
    fn output(&mut self) -> &mut [u8] {
        if self.output.is_empty() {
            self.output = vec![0; OUTPUT];
        }
        &mut self.output
    }

    fn input(&self) -> &[u8] {
        &self.input[self.consumed..self.filled]
    }

    fn input_append_buf(&mut self) -> &mut [u8] {
        self.room_to_read();
        &mut self.input[self.filled..]
    }

    fn input_appended(&mut self, amount: usize) {
        self.filled = (self.filled + amount).min(self.input.len());
    }

    fn input_consume(&mut self, amount: usize) {
        self.progress = amount > 0;
        self.consumed = (self.consumed + amount).min(self.filled);
        if self.consumed == self.filled {
            self.consumed = 0;
            self.filled = 0;
        }
    }

    fn tmp_and_output(&mut self) -> (&mut [u8], &mut [u8]) {
        if self.output.is_empty() {
            self.output = vec![0; OUTPUT];
        }
        if self.tmp.is_empty() {
            self.tmp = vec![0; TMP];
        }
        (&mut self.tmp, &mut self.output)
    }

    fn can_use_input(&self) -> bool {
        self.consumed < self.filled && self.progress
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_buffer_grows_while_reads_fill_it_and_shrinks_when_idle() {
        let mut buffers = AdaptiveBuffers::default();
        assert_eq!(buffers.room_to_read(), INITIAL_INPUT);
        buffers.input_appended(INITIAL_INPUT);
        buffers.grow();
        buffers.input_consume(INITIAL_INPUT);
        assert_eq!(buffers.room_to_read(), 2 * INITIAL_INPUT);
        for _ in 0..10 {
            buffers.grow();
        }
        assert_eq!(buffers.input.len(), MAX_INPUT);
        buffers.shrink_when_empty();
        assert!(buffers.input.is_empty());
    }

    #[test]
    fn unconsumed_input_is_kept_across_compaction_and_growth() {
        let mut buffers = AdaptiveBuffers::default();
        buffers.input_append_buf()[..6].copy_from_slice(b"abcdef");
        buffers.input_appended(6);
        buffers.input_consume(2);
        assert!(buffers.can_use_input());
        // A head that fills the buffer makes it grow, keeping what was not consumed.
        let room = buffers.room_to_read();
        assert_eq!(buffers.input(), b"cdef");
        buffers.input_appended(room);
        assert_eq!(buffers.room_to_read(), INITIAL_INPUT);
        assert_eq!(&buffers.input()[..4], b"cdef");
        buffers.shrink_when_empty();
        assert_eq!(
            &buffers.input()[..4],
            b"cdef",
            "never shrinks over unread bytes"
        );
    }

    #[test]
    fn the_write_buffers_exist_only_while_sending() {
        let mut buffers = AdaptiveBuffers::default();
        assert_eq!(buffers.output().len(), OUTPUT);
        let (tmp, output) = buffers.tmp_and_output();
        assert_eq!((tmp.len(), output.len()), (TMP, OUTPUT));
        buffers.release_output();
        assert!(buffers.output.is_empty() && buffers.tmp.is_empty());
    }
}
