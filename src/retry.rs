//! Retries: which failures are worth another attempt, how long to wait first, and the loop
//! that sends a request until it opens, fails for good, or is cancelled.
//!
//! A request is retried only before its first token: after a failure to connect, a timeout
//! before the headers, a 408, 409, 429 (not an exhausted quota) or 5xx status, or a body that
//! died before anything was handed out. The server's `x-should-retry` verdict wins;
//! `retry-after-ms` / `retry-after` set the wait (up to [`MAX_SERVER_WAIT`]), else an
//! exponential backoff with jitter; the total timeout bounds every attempt and wait.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::cancel::CancelHandle;
use crate::error::{Error, ErrorKind, Result, TimeoutPhase};
use crate::log::{debug_log, DebugLog};

/// A failed attempt: the error, and the server's `x-should-retry` verdict when it gave one
/// (`Some(false)` also marks failures that must not be retried whatever they are).
pub(crate) struct Failure {
    pub error: Error,
    pub should_retry: Option<bool>,
}

impl Failure {
    /// A failure the policy weighs on its own.
    pub fn new(error: Error) -> Failure {
        Failure {
            error,
            should_retry: None,
        }
    }

    /// A failure that ends the call.
    pub fn fatal(error: Error) -> Failure {
        Failure {
            error,
            should_retry: Some(false),
        }
    }

    /// A stream that failed after its headers, before anything reached the caller: a body
    /// that died (reset, closed early) may be sent again; anything the server said (an error,
    /// bad data) is final.
    pub fn before_first_token(error: Error) -> Failure {
        let died = matches!(error.kind(), ErrorKind::Truncated | ErrorKind::Io);
        Failure {
            error,
            should_retry: Some(died),
        }
    }
}

/// How many retries a call may make, and until when.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    pub max_retries: u32,
    /// The end of the total timeout, which bounds every attempt and every wait.
    pub deadline: Option<Instant>,
    /// Where the waits and their reasons are logged.
    pub log: DebugLog,
}

/// Calls `attempt` (with the 1-based attempt number) until it succeeds, its failure is final,
/// or `cancel` fires. `made` attempts were made already, the last failing with `last`, which
/// is weighed (and waited for) before the next.
pub(crate) fn run<T>(
    budget: Budget,
    cancel: &CancelHandle,
    mut made: u32,
    mut last: Option<Failure>,
    mut attempt: impl FnMut(u32) -> std::result::Result<T, Failure>,
) -> Result<T> {
    loop {
        if let Some(failure) = last.take() {
            wait_before_retry(budget, failure, made, cancel)?;
        }
        made += 1;
        match attempt(made) {
            Ok(value) => return Ok(value),
            Err(failure) => last = Some(failure),
        }
    }
}

/// Returns the error when it is final; otherwise waits as a retry should.
fn wait_before_retry(
    budget: Budget,
    failure: Failure,
    attempt: u32,
    cancel: &CancelHandle,
) -> Result<()> {
    let error = failure.error.with_attempts(attempt);
    let give_up = |error: Error, why: &str| {
        debug_log!(
            budget.log,
            "attempt {attempt} failed: error[{}]: {}; not retried: {why}",
            error.kind(),
            error.message()
        );
        error
    };
    if attempt > budget.max_retries {
        return Err(give_up(error, "no retries left"));
    }
    if !is_retryable(&error, failure.should_retry) {
        return Err(give_up(error, "retrying cannot help"));
    }
    let (wait, why) = match error.retry_after() {
        Some(wait) if wait > MAX_SERVER_WAIT => {
            let error = too_long_a_wait(error, wait);
            return Err(give_up(error, "the server asks for too long a wait"));
        }
        Some(wait) => (wait, "the server asked for this wait"),
        None => (backoff(attempt - 1), "exponential backoff"),
    };
    if budget
        .deadline
        .is_some_and(|deadline| Instant::now() + wait >= deadline)
    {
        let message = format!(
            "{} (not retried: the total timeout would expire first)",
            error.message()
        );
        return Err(give_up(error.with_message(message), "the total timeout"));
    }
    debug_log!(
        budget.log,
        "attempt {attempt} failed: error[{}]: {}; retrying in {:.1} ms ({why})",
        error.kind(),
        error.message(),
        wait.as_secs_f64() * 1000.0
    );
    if !cancel.sleep(wait) {
        return Err(Error::cancelled().with_attempts(attempt));
    }
    Ok(())
}

fn too_long_a_wait(error: Error, wait: Duration) -> Error {
    let message = format!(
        "{} (the server asks to retry after {} s, more than the {} s we wait)",
        error.message(),
        wait.as_secs(),
        MAX_SERVER_WAIT.as_secs()
    );
    error.with_message(message)
}

/// The longest server-requested wait we honour; a longer one fails at once.
pub(crate) const MAX_SERVER_WAIT: Duration = Duration::from_secs(120);

/// Whether a failed attempt may be retried. `x-should-retry` from the server wins.
fn is_retryable(error: &Error, should_retry: Option<bool>) -> bool {
    if error.is_permanent() {
        return false;
    }
    if let Some(verdict) = should_retry {
        return verdict;
    }
    match error.kind() {
        ErrorKind::Connect => true,
        // A connection that failed before any response (reset, closed early).
        ErrorKind::Io => error.http_status().is_none(),
        ErrorKind::Timeout => matches!(
            error.timeout_phase(),
            Some(TimeoutPhase::Connect | TimeoutPhase::Headers)
        ),
        ErrorKind::Http | ErrorKind::Limit => match error.http_status() {
            Some(429) => !is_quota_exhausted(error),
            Some(status) => matches!(status, 408 | 409) || status >= 500,
            None => false,
        },
        _ => false,
    }
}

/// A 429 that says the account is out of credit: waiting will not help.
fn is_quota_exhausted(error: &Error) -> bool {
    [error.api_code(), error.api_type()]
        .into_iter()
        .flatten()
        .any(|s| s == "insufficient_quota")
}

/// The exponential backoff before retry number `retry` (0-based):
/// `min(0.5 * 2^retry, 8)` seconds, minus up to 25 % jitter.
fn backoff(retry: u32) -> Duration {
    let base = (0.5 * 2f64.powi(retry.min(16) as i32)).min(8.0);
    let jitter = 1.0 - 0.25 * random_fraction();
    Duration::from_secs_f64(base * jitter)
}

/// A number in `[0, 1)`; the std hasher's random keys are enough for jitter.
fn random_fraction() -> f64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    );
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The wait a response asks for: `retry-after-ms` (milliseconds), else `retry-after`
/// (seconds, or an HTTP date).
pub(crate) fn server_wait(
    retry_after_ms: Option<&str>,
    retry_after: Option<&str>,
) -> Option<Duration> {
    if let Some(ms) = retry_after_ms.and_then(|v| v.trim().parse::<f64>().ok()) {
        if ms.is_finite() && ms >= 0.0 {
            return Some(Duration::from_secs_f64(ms / 1000.0));
        }
    }
    let value = retry_after?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let at = parse_http_date(value)?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the form servers send.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    let mut parts = value.split_ascii_whitespace();
    let _weekday = parts.next()?;
    let day: u64 = parts.next()?.parse().ok()?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year: i64 = parts.next()?.parse().ok()?;
    let mut clock = parts.next()?.split(':').map(|p| p.parse::<u64>().ok());
    let (h, m, s) = (clock.next()??, clock.next()??, clock.next()??);
    if parts.next()? != "GMT" || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month, day as i64);
    let seconds = u64::try_from(days).ok()? * 86_400 + h * 3600 + m * 60 + s;
    Some(UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> Error {
        Error::new(ErrorKind::Http, "x").with_http_status(status)
    }

    #[test]
    fn retryable_statuses() {
        for status in [408, 409, 429, 500, 502, 503, 504] {
            assert!(is_retryable(&http(status), None), "{status}");
        }
        for status in [400, 401, 403, 404, 422] {
            assert!(!is_retryable(&http(status), None), "{status}");
        }
        assert!(!is_retryable(&http(503), Some(false)));
        assert!(is_retryable(&http(400), Some(true)));
    }

    #[test]
    fn insufficient_quota_is_final() {
        let quota = http(429).with_api_details(None, Some("insufficient_quota".into()), None);
        assert!(!is_retryable(&quota, None));
    }

    #[test]
    fn permanent_errors_are_never_retried() {
        let untrusted = Error::new(ErrorKind::Connect, "TLS certificate verification failed");
        assert!(is_retryable(&untrusted, None));
        assert!(!is_retryable(&untrusted.clone().permanent(), None));
        assert!(!is_retryable(&untrusted.permanent(), Some(true)));
    }

    #[test]
    fn timeouts_retry_only_before_the_response() {
        assert!(is_retryable(&Error::timeout(TimeoutPhase::Connect), None));
        assert!(is_retryable(&Error::timeout(TimeoutPhase::Headers), None));
        assert!(!is_retryable(&Error::timeout(TimeoutPhase::Idle), None));
        assert!(!is_retryable(&Error::timeout(TimeoutPhase::Total), None));
    }

    #[test]
    fn backoff_doubles_to_eight_seconds_with_jitter() {
        for (retry, base) in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)] {
            let wait = backoff(retry).as_secs_f64();
            assert!(wait <= base && wait >= base * 0.75, "{retry}: {wait}");
        }
    }

    #[test]
    fn server_wait_forms() {
        assert_eq!(
            server_wait(Some("1500"), Some("9")),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(server_wait(None, Some("2")), Some(Duration::from_secs(2)));
        assert_eq!(
            server_wait(None, Some("0.5")),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            server_wait(None, Some("Sun, 06 Nov 1994 08:49:37 GMT")),
            Some(Duration::ZERO)
        );
        assert_eq!(server_wait(None, Some("soon")), None);
        assert_eq!(server_wait(None, None), None);
        assert_eq!(
            parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(UNIX_EPOCH + Duration::from_secs(784_111_777))
        );
        let later = server_wait(None, Some("Fri, 01 Jan 2100 00:00:00 GMT")).unwrap();
        assert!(later > MAX_SERVER_WAIT);
    }
}
