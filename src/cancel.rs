//! Cancelling a stream from any thread.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Cancels a stream, or a request that has not produced a stream yet, from any thread.
///
/// A `CancelHandle` is `Send + Sync + Clone`; get one from [`ChatStream::cancel_handle`](crate::ChatStream::cancel_handle), or
/// create one and pass it to [`Client::stream_with_cancel`](crate::Client::stream_with_cancel) or
/// [`Client::complete_with_cancel`](crate::Client::complete_with_cancel) before the request is sent.
///
/// - Cancelling shuts down the connection the stream is using at that moment, so a read
///   blocked on a silent server returns at once: plain, through TLS, or through a SOCKS5 or
///   HTTP proxy. That connection is closed, never reused; a pooled connection that has
///   moved on to another stream is never touched. The
///   stream then reports [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled), never `Truncated` or `Io`.
/// - Cancelling while the request waits for its response headers, or during the wait before
///   a retry, stops it at once with `Cancelled`. A handle cancelled before the call sends
///   nothing at all.
/// - One handle may be given to several requests: cancelling it interrupts all of them.
/// - Cancelling after the stream completed changes nothing.
/// - A TCP connect in progress cannot be interrupted: it ends within the connect timeout,
///   and the result is then `Cancelled`.
///
/// Dropping a [`ChatStream`](crate::ChatStream) needs no handle: it closes the connection at once. A stream
/// that reached its end leaves its connection to the client for reuse when the rest of the
/// response was already there (or came within a short grace), and closes it otherwise: the
/// client never waits for the server.
///
/// ```
/// let handle = upstage::CancelHandle::new();
/// let remote = handle.clone();
/// std::thread::spawn(move || remote.cancel()).join().unwrap();
/// assert!(handle.is_cancelled());
/// ```
#[derive(Clone, Default)]
pub struct CancelHandle {
    state: Arc<State>,
    /// The slot this copy registers its connections under, so that its stream forgets its
    /// own connections only (one handle may be given to several streams).
    slot: Option<u64>,
    /// Whether [`detach`](CancelHandle::detach) forgets the slot's registrations.
    owns_slot: bool,
}

/// Something a cancel interrupts: the socket of one request on one connection.
pub(crate) trait Interrupt: Send + Sync {
    /// Shuts the socket down so that blocked I/O on it returns at once; never blocks.
    fn interrupt(&self);
}

#[derive(Default)]
struct State {
    cancelled: AtomicBool,
    /// What a cancel must interrupt, by the slot of the stream that registered it.
    live: Mutex<Vec<(u64, Arc<dyn Interrupt>)>>,
    next_slot: AtomicU64,
    wake: Condvar,
}

impl CancelHandle {
    /// A handle not yet attached to any stream.
    pub fn new() -> CancelHandle {
        CancelHandle::default()
    }

    /// Cancels: idempotent, never blocks on I/O.
    pub fn cancel(&self) {
        self.state.cancelled.store(true, Ordering::SeqCst);
        let live = std::mem::take(
            &mut *self
                .state
                .live
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        self.state.wake.notify_all();
        for (_, target) in live {
            target.interrupt();
        }
    }

    /// Whether [`cancel`](CancelHandle::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.state.cancelled.load(Ordering::SeqCst)
    }

    /// The copy of the handle one stream uses: it registers that stream's sockets under a
    /// slot of its own, and [`detach`](CancelHandle::detach) forgets them. `None` when the
    /// handle was already cancelled.
    pub(crate) fn slotted(&self) -> Option<CancelHandle> {
        if self.is_cancelled() {
            return None;
        }
        let slot = self.state.next_slot.fetch_add(1, Ordering::Relaxed);
        Some(CancelHandle {
            state: Arc::clone(&self.state),
            slot: Some(slot),
            owns_slot: true,
        })
    }

    /// Remembers what a cancel must interrupt while this copy's stream uses it. When the
    /// handle is already cancelled it is interrupted at once, and `false` is returned.
    pub(crate) fn register(&self, target: Arc<dyn Interrupt>) -> bool {
        let mut live = self
            .state
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Checked under the lock `cancel` takes its list with: a registration racing a
        // cancel is either in the list it interrupts, or sees the flag here.
        if self.is_cancelled() {
            drop(live);
            target.interrupt();
            return false;
        }
        live.push((self.slot.unwrap_or(u64::MAX), target));
        true
    }

    /// A copy registering under the same slot without owning it: dropping a stream that
    /// holds it forgets nothing; the owner's [`detach`](CancelHandle::detach) forgets it all.
    pub(crate) fn unslotted(&self) -> CancelHandle {
        CancelHandle {
            state: Arc::clone(&self.state),
            slot: self.slot,
            owns_slot: false,
        }
    }

    /// Forgets what this copy registered, so that a handle kept by the caller neither
    /// keeps it alive nor interrupts a connection that has moved on to another stream.
    pub(crate) fn detach(&self) {
        let Some(slot) = self.slot.filter(|_| self.owns_slot) else {
            return;
        };
        self.state
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(s, _)| *s != slot);
    }

    /// Sleeps for `duration` unless cancelled first; returns `false` when cancelled.
    pub(crate) fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        let mut live = self
            .state
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while !self.is_cancelled() {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            live = self
                .state
                .wake
                .wait_timeout(live, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        false
    }

    /// How many targets are registered (tests).
    #[cfg(test)]
    pub(crate) fn registered(&self) -> usize {
        self.state
            .live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::thread;

    #[derive(Default)]
    struct Counter(AtomicUsize);

    impl Interrupt for Counter {
        fn interrupt(&self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn cancel_wakes_a_sleeper_at_once() {
        let handle = CancelHandle::new();
        let sleeper = handle.clone();
        let started = Instant::now();
        let worker = thread::spawn(move || sleeper.sleep(Duration::from_secs(60)));
        thread::sleep(Duration::from_millis(20));
        handle.cancel();
        assert!(!worker.join().unwrap());
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn sleep_runs_its_course_when_not_cancelled() {
        assert!(CancelHandle::new().sleep(Duration::from_millis(1)));
    }

    #[test]
    fn each_slotted_copy_forgets_its_own_targets() {
        let handle = CancelHandle::new();
        let first = handle.slotted().unwrap();
        let second = handle.slotted().unwrap();
        assert!(first.register(Arc::new(Counter::default())));
        assert!(second.register(Arc::new(Counter::default())));
        assert_eq!(handle.registered(), 2);
        handle.detach(); // the caller's copy registered nothing
        assert_eq!(handle.registered(), 2);
        first.detach();
        assert_eq!(handle.registered(), 1);
        second.detach();
        assert_eq!(handle.registered(), 0);
    }

    #[test]
    fn cancel_interrupts_every_registered_target_once() {
        let handle = CancelHandle::new();
        let stream = handle.slotted().unwrap();
        let target = Arc::new(Counter::default());
        stream.register(target.clone());
        stream.register(target.clone());
        handle.cancel();
        handle.cancel();
        assert_eq!(target.0.load(Ordering::SeqCst), 2);
        assert_eq!(handle.registered(), 0);
    }

    #[test]
    fn registering_after_cancel_interrupts_at_once() {
        let handle = CancelHandle::new();
        let stream = handle.slotted().unwrap();
        handle.cancel();
        let target = Arc::new(Counter::default());
        assert!(!stream.register(target.clone()));
        assert_eq!(target.0.load(Ordering::SeqCst), 1);
        assert!(handle.slotted().is_none());
    }
}
