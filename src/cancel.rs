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
/// - Cancelling shuts down the stream's own HTTP connection, so a read blocked on a silent
///   server returns at once: plain, through TLS, or through a SOCKS5 or HTTP proxy. The
///   stream then reports [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled), never `Truncated` or `Io`.
/// - Cancelling while the request waits for its response headers, or during the wait before
///   a retry, stops it at once with `Cancelled`. A handle cancelled before the call sends
///   nothing at all.
/// - One handle may be given to several requests: cancelling it interrupts all of them.
/// - Cancelling after the stream completed changes nothing.
/// - A TCP connect in progress cannot be interrupted: it ends within the connect timeout,
///   and the result is then `Cancelled`.
///
/// Dropping a [`ChatStream`](crate::ChatStream) needs no handle: it closes the connection at once, and so does
/// reaching the end of the stream (the client never waits for the server to close).
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
    /// The agent this copy attached, so that its stream detaches its own agent only
    /// (one handle may be given to several streams).
    slot: Option<u64>,
}

#[derive(Default)]
struct State {
    cancelled: AtomicBool,
    /// The agents of every stream this handle was given, by slot.
    agents: Mutex<Vec<(u64, ureq::Agent)>>,
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
        let agents = std::mem::take(
            &mut *self
                .state
                .agents
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        self.state.wake.notify_all();
        for (_, agent) in agents {
            agent.shutdown();
        }
    }

    /// Whether [`cancel`](CancelHandle::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.state.cancelled.load(Ordering::SeqCst)
    }

    /// Remembers the agent whose sockets a cancel must shut down, and returns the copy of
    /// the handle its stream must use (it detaches that agent only). Returns `None`, and
    /// shuts the agent down, when the handle was already cancelled.
    pub(crate) fn attach(&self, agent: &ureq::Agent) -> Option<CancelHandle> {
        let mut agents = self
            .state
            .agents
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if self.is_cancelled() {
            drop(agents);
            agent.clone().shutdown();
            return None;
        }
        let slot = self.state.next_slot.fetch_add(1, Ordering::Relaxed);
        agents.push((slot, agent.clone()));
        Some(CancelHandle {
            state: Arc::clone(&self.state),
            slot: Some(slot),
        })
    }

    /// A copy sharing the cancellation but attached to no agent: dropping a stream that
    /// holds it detaches nothing.
    pub(crate) fn unslotted(&self) -> CancelHandle {
        CancelHandle {
            state: Arc::clone(&self.state),
            slot: None,
        }
    }

    /// Forgets this copy's agent, so that a handle kept by the caller does not keep it
    /// alive.
    pub(crate) fn detach(&self) {
        let Some(slot) = self.slot else {
            return;
        };
        self.state
            .agents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(s, _)| *s != slot);
    }

    /// Sleeps for `duration` unless cancelled first; returns `false` when cancelled.
    pub(crate) fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        let mut agents = self
            .state
            .agents
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while !self.is_cancelled() {
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            agents = self
                .state
                .wake
                .wait_timeout(agents, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        false
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
    use std::thread;

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
    fn each_attached_copy_detaches_its_own_agent() {
        let handle = CancelHandle::new();
        let count = || handle.state.agents.lock().unwrap().len();
        let first = handle.attach(&ureq::Agent::new_with_defaults()).unwrap();
        let second = handle.attach(&ureq::Agent::new_with_defaults()).unwrap();
        assert_eq!(count(), 2);
        handle.detach(); // the caller's copy attached nothing
        assert_eq!(count(), 2);
        first.detach();
        assert_eq!(count(), 1);
        second.detach();
        assert_eq!(count(), 0);
    }

    #[test]
    fn attach_after_cancel_refuses() {
        let handle = CancelHandle::new();
        handle.cancel();
        assert!(handle.attach(&ureq::Agent::new_with_defaults()).is_none());
    }
}
