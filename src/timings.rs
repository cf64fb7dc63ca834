//! How long a stream took to reach each milestone, and how much it received.

use std::time::{Duration, Instant};

/// Milestones of one request, each measured from the moment the request was handed to the
/// client (so retries and their waits are included), plus what the stream received.
///
/// A milestone is `None` until it happens (and stays `None` for a stream that never reaches
/// it, e.g. no reasoning). A stream read from a reader or a recording measures from its
/// creation, and its `headers` is `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timings {
    /// Until the response status and headers of the attempt that succeeded were in.
    pub headers: Option<Duration>,
    /// Until the first reasoning text arrived.
    pub first_reasoning: Option<Duration>,
    /// Until the first content text arrived.
    pub first_content: Option<Duration>,
    /// Until the stream ended: finished, failed or cancelled.
    pub end: Option<Duration>,
    /// Chunks that carried content text (servers send about one model token per chunk).
    pub content_tokens: u64,
    /// Chunks that carried reasoning text.
    pub reasoning_tokens: u64,
    /// Body bytes received (after HTTP framing, before SSE decoding).
    pub bytes: u64,
}

impl Timings {
    /// Content tokens per second between the first content token and the end, when both
    /// are known and apart.
    pub fn content_tokens_per_second(&self) -> Option<f64> {
        let (first, end) = (self.first_content?, self.end?);
        let span = end.checked_sub(first)?.as_secs_f64();
        (span > 0.0 && self.content_tokens > 1).then(|| (self.content_tokens - 1) as f64 / span)
    }
}

/// Takes the measurements: `Instant::now()` only at each first milestone, counters
/// otherwise, so it costs nothing per token beyond an add.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Stopwatch {
    /// When the request was handed to the client; set when the stream is made.
    start: Option<Instant>,
    headers: Option<Instant>,
    first_reasoning: Option<Instant>,
    first_content: Option<Instant>,
    end: Option<Instant>,
    content_tokens: u64,
    reasoning_tokens: u64,
}

impl Stopwatch {
    /// Starts measuring at `start` (when the request was handed to the client).
    pub(crate) fn started_at(start: Instant) -> Stopwatch {
        Stopwatch {
            start: Some(start),
            ..Stopwatch::default()
        }
    }

    /// Measures from `start` from now on (milestones already taken are kept).
    pub(crate) fn restart_from(&mut self, start: Instant) {
        self.start = Some(start);
    }

    /// The response headers came in at `at` (the last attempt's, after any retries).
    pub(crate) fn headers_at(&mut self, at: Instant) {
        self.headers = Some(at);
    }

    /// The response headers are in now.
    #[cfg(test)]
    pub(crate) fn headers(&mut self) {
        self.headers_at(Instant::now());
    }

    /// A chunk carried reasoning text.
    pub(crate) fn reasoning(&mut self) {
        if self.first_reasoning.is_none() {
            self.first_reasoning = Some(Instant::now());
        }
        self.reasoning_tokens += 1;
    }

    /// A chunk carried content text.
    #[inline]
    pub(crate) fn content(&mut self) {
        if self.first_content.is_none() {
            self.first_content = Some(Instant::now());
        }
        self.content_tokens += 1;
    }

    /// The stream ended (the first end counts).
    pub(crate) fn end(&mut self) {
        if self.end.is_none() {
            self.end = Some(Instant::now());
        }
    }

    /// What was measured, with `bytes` body bytes received.
    pub(crate) fn timings(&self, bytes: u64) -> Timings {
        let since = |at: Option<Instant>| Some(at?.saturating_duration_since(self.start?));
        Timings {
            headers: since(self.headers),
            first_reasoning: since(self.first_reasoning),
            first_content: since(self.first_content),
            end: since(self.end),
            content_tokens: self.content_tokens,
            reasoning_tokens: self.reasoning_tokens,
            bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milestones_are_taken_once_and_in_order() {
        let mut watch = Stopwatch::started_at(Instant::now());
        assert_eq!(watch.timings(0), Timings::default());
        watch.headers();
        watch.reasoning();
        watch.reasoning();
        watch.content();
        let first_content = watch.timings(0).first_content;
        assert!(first_content.is_some());
        watch.content();
        watch.content();
        watch.end();
        let end = watch.timings(0).end;
        watch.end();
        let t = watch.timings(1234);
        assert_eq!(t.first_content, first_content);
        assert_eq!(t.end, end);
        assert_eq!(
            (t.content_tokens, t.reasoning_tokens, t.bytes),
            (3, 2, 1234)
        );
        let (h, r, c, e) = (
            t.headers.unwrap(),
            t.first_reasoning.unwrap(),
            t.first_content.unwrap(),
            t.end.unwrap(),
        );
        assert!(h <= r && r <= c && c <= e, "{t:?}");
    }

    #[test]
    fn nothing_is_measured_without_a_start() {
        let mut watch = Stopwatch::default();
        watch.content();
        let t = watch.timings(3);
        assert_eq!((t.first_content, t.content_tokens, t.bytes), (None, 1, 3));
        watch.restart_from(Instant::now());
        assert!(watch.timings(0).first_content.is_some());
    }

    #[test]
    fn rate_needs_two_tokens_and_a_span() {
        let mut t = Timings {
            first_content: Some(Duration::from_secs(1)),
            end: Some(Duration::from_secs(3)),
            content_tokens: 5,
            ..Timings::default()
        };
        assert_eq!(t.content_tokens_per_second(), Some(2.0));
        t.content_tokens = 1;
        assert_eq!(t.content_tokens_per_second(), None);
        t.content_tokens = 5;
        t.end = t.first_content;
        assert_eq!(t.content_tokens_per_second(), None);
        t.end = None;
        assert_eq!(t.content_tokens_per_second(), None);
    }
}
