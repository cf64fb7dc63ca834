//! The typed view of the `x-ratelimit-*` response headers, so that a caller can pace
//! itself.
//!
//! OpenAI-compatible servers (OpenAI, Azure OpenAI, Groq, vLLM gateways, ...) send one
//! family per budget: `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`,
//! `x-ratelimit-reset-requests`, and the same with `-tokens`. Resets are durations such
//! as `1s`, `6m0s`, `20ms` or `1h2m3.5s`. Gateways such as OpenRouter send the short
//! family `x-ratelimit-limit`, `x-ratelimit-remaining`, `x-ratelimit-reset` for requests,
//! the reset as a Unix time in milliseconds. Both are read; values a server uses to say
//! "unknown" (negative numbers) count as absent.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::response_headers::ResponseHeaders;

/// The rate-limit state a response reported, for requests and for tokens.
///
/// ```
/// use std::time::Duration;
/// use upstage::{RateLimit, ResponseHeaders};
///
/// let headers = ResponseHeaders::from_pairs([
///     ("x-ratelimit-limit-requests", "100"),
///     ("x-ratelimit-remaining-requests", "99"),
///     ("x-ratelimit-reset-requests", "600ms"),
///     ("x-ratelimit-remaining-tokens", "149984"),
///     ("x-ratelimit-reset-tokens", "6m0s"),
/// ]);
/// let limits = RateLimit::from_headers(&headers).expect("rate-limit headers");
/// let requests = limits.requests.expect("request budget");
/// assert_eq!(requests.remaining, Some(99));
/// assert_eq!(requests.reset, Some(Duration::from_millis(600)));
/// assert_eq!(limits.tokens.unwrap().reset, Some(Duration::from_secs(360)));
/// assert!(RateLimit::from_headers(&ResponseHeaders::default()).is_none());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimit {
    /// The request budget, when the server reported one.
    pub requests: Option<RateLimitWindow>,
    /// The token budget, when the server reported one.
    pub tokens: Option<RateLimitWindow>,
}

/// One budget (requests or tokens): each part is `None` when the server did not send it
/// or sent a value that is not a count or a duration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RateLimitWindow {
    /// The most the window allows.
    pub limit: Option<u64>,
    /// What is left in the current window.
    pub remaining: Option<u64>,
    /// How long after the response until the budget is back to its limit.
    pub reset: Option<Duration>,
}

impl RateLimitWindow {
    fn is_empty(&self) -> bool {
        self.limit.is_none() && self.remaining.is_none() && self.reset.is_none()
    }
}

impl RateLimit {
    /// The rate limits in `headers`, or `None` when no `x-ratelimit-*` header held a
    /// usable value.
    pub fn from_headers(headers: &ResponseHeaders) -> Option<RateLimit> {
        let window = |suffix: &str| {
            let read = |part: &str| headers.get(&format!("x-ratelimit-{part}{suffix}"));
            RateLimitWindow {
                limit: read("limit").and_then(count),
                remaining: read("remaining").and_then(count),
                reset: read("reset").and_then(reset),
            }
        };
        let mut requests = window("-requests");
        let short = window("");
        requests.limit = requests.limit.or(short.limit);
        requests.remaining = requests.remaining.or(short.remaining);
        requests.reset = requests.reset.or(short.reset);
        let tokens = window("-tokens");
        let limits = RateLimit {
            requests: (!requests.is_empty()).then_some(requests),
            tokens: (!tokens.is_empty()).then_some(tokens),
        };
        (limits.requests.is_some() || limits.tokens.is_some()).then_some(limits)
    }
}

/// A count: a non-negative integer (a float such as `99.0` is accepted when whole).
fn count(text: &str) -> Option<u64> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u64>() {
        return Some(n);
    }
    let f = text.parse::<f64>().ok()?;
    (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < u64::MAX as f64).then_some(f as u64)
}

/// A reset: a Go-style duration (`6m0s`, `20ms`, `1h2m3.5s`), or a bare number, which is
/// seconds, unless it is large enough to be a Unix time (in seconds, or in milliseconds
/// as OpenRouter sends), which is turned into the time left until then.
fn reset(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(number) = text.parse::<f64>() {
        if !number.is_finite() || number < 0.0 {
            return None;
        }
        // No window lasts 30 years: numbers this large are points in time.
        const UNIX_SECONDS: f64 = 1e9;
        const UNIX_MILLIS: f64 = 1e12;
        let at_secs = if number >= UNIX_MILLIS {
            number / 1000.0
        } else if number >= UNIX_SECONDS {
            number
        } else {
            return Some(Duration::from_secs_f64(number));
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
        return Some(Duration::from_secs_f64(
            (at_secs - now.as_secs_f64()).max(0.0),
        ));
    }
    go_duration(text)
}

/// `1h2m3.5s`, `6m0s`, `20ms`, `150us`, `7ns`: number-unit pairs, at least one.
fn go_duration(text: &str) -> Option<Duration> {
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&end| end > 0)?;
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    (total.is_finite() && total < 1e12).then(|| Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(pairs: &[(&str, &str)]) -> Option<RateLimit> {
        RateLimit::from_headers(&ResponseHeaders::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn the_openai_family_is_read_for_requests_and_tokens() {
        let l = limits(&[
            ("X-RateLimit-Limit-Requests", "60"),
            ("x-ratelimit-limit-tokens", "150000"),
            ("x-ratelimit-remaining-requests", "59"),
            ("x-ratelimit-remaining-tokens", "149984"),
            ("x-ratelimit-reset-requests", "1s"),
            ("x-ratelimit-reset-tokens", "6m0s"),
        ])
        .unwrap();
        assert_eq!(
            l.requests,
            Some(RateLimitWindow {
                limit: Some(60),
                remaining: Some(59),
                reset: Some(Duration::from_secs(1)),
            })
        );
        assert_eq!(
            l.tokens,
            Some(RateLimitWindow {
                limit: Some(150000),
                remaining: Some(149984),
                reset: Some(Duration::from_secs(360)),
            })
        );
    }

    #[test]
    fn absent_or_unusable_headers_give_none() {
        assert_eq!(limits(&[]), None);
        assert_eq!(limits(&[("x-request-id", "r")]), None);
        // Azure answers "unknown" with -1 and 0-less resets.
        assert_eq!(
            limits(&[
                ("x-ratelimit-limit-tokens", "-1"),
                ("x-ratelimit-remaining-tokens", "-1"),
            ]),
            None
        );
        let l = limits(&[
            ("x-ratelimit-remaining-tokens", "10"),
            ("x-ratelimit-reset-tokens", "soon"),
        ])
        .unwrap();
        assert_eq!(l.requests, None);
        assert_eq!(l.tokens.unwrap().reset, None);
    }

    #[test]
    fn the_short_family_counts_requests() {
        let l = limits(&[("x-ratelimit-limit", "20"), ("x-ratelimit-remaining", "3")]).unwrap();
        let r = l.requests.unwrap();
        assert_eq!((r.limit, r.remaining, r.reset), (Some(20), Some(3), None));
        assert_eq!(l.tokens, None);
        // The long family wins when both are present.
        let l = limits(&[
            ("x-ratelimit-remaining", "3"),
            ("x-ratelimit-remaining-requests", "7"),
        ])
        .unwrap();
        assert_eq!(l.requests.unwrap().remaining, Some(7));
    }

    #[test]
    fn resets_in_every_documented_form() {
        let cases = [
            ("1s", 1_000),
            ("6m0s", 360_000),
            ("20ms", 20),
            ("1h2m3.5s", 3_723_500),
            ("0.5s", 500),
            ("1500us", 1),
            ("60", 60_000),
            ("0.25", 250),
            ("0", 0),
        ];
        for (text, millis) in cases {
            assert_eq!(reset(text).map(|d| d.as_millis()), Some(millis), "{text}");
        }
        for bad in ["", "s", "1x", "1s2", "-1", "1..2s", "NaN", "inf"] {
            assert_eq!(reset(bad), None, "{bad}");
        }
    }

    #[test]
    fn unix_times_become_the_time_left() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let in_a_minute_ms = (now.as_millis() + 60_000).to_string();
        let left = reset(&in_a_minute_ms).unwrap();
        assert!(left <= Duration::from_secs(60) && left > Duration::from_secs(30));
        let past_secs = (now.as_secs() - 100).to_string();
        assert_eq!(reset(&past_secs), Some(Duration::ZERO));
    }

    #[test]
    fn counts() {
        assert_eq!(count(" 42 "), Some(42));
        assert_eq!(count("42.0"), Some(42));
        for bad in ["-1", "4.5", "x", "", "1e400"] {
            assert_eq!(count(bad), None, "{bad}");
        }
    }
}
