//! The headers of a response, which a caller reads by name, and which header values are
//! credentials (never logged, never recorded).

use std::fmt;

/// Names whose values are credentials or session state: never logged, never recorded.
const SENSITIVE: [&str; 9] = [
    "authorization",
    "proxy-authorization",
    "api-key",
    "x-api-key",
    "cookie",
    "set-cookie",
    "x-goog-api-key",
    "ocp-apim-subscription-key",
    "x-auth-token",
];

/// Whether a header's value is a credential or a cookie (names are case-insensitive).
///
/// Besides the usual names (`Authorization`, `api-key`, `Cookie`, ...), any name ending in
/// `-key`, `-token`, `-secret` or `-password` counts, so that a gateway's own credential
/// header is covered too. The rate-limit headers (`...-tokens`) are not credentials.
pub(crate) fn is_sensitive(name: &str) -> bool {
    let name = name.trim().to_ascii_lowercase();
    SENSITIVE.contains(&name.as_str())
        || ["-key", "-token", "-secret", "-password", "_key", "_token"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

/// A header value as logs and `Debug` show it.
pub(crate) fn shown_value<'a>(name: &str, value: &'a str) -> &'a str {
    if is_sensitive(name) {
        "<redacted>"
    } else {
        value
    }
}

/// The headers of a response, as received: names lower-case, in the server's order,
/// repeated names kept. Values that are not valid UTF-8 are kept with their invalid bytes
/// replaced by U+FFFD.
///
/// ```
/// use upstage::ResponseHeaders;
///
/// let headers = ResponseHeaders::from_pairs([("X-Request-Id", "req-1"), ("Via", "a"), ("via", "b")]);
/// assert_eq!(headers.get("x-request-id"), Some("req-1"));
/// assert_eq!(headers.get_all("VIA").collect::<Vec<_>>(), ["a", "b"]);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ResponseHeaders {
    entries: Vec<(String, String)>,
}

impl ResponseHeaders {
    /// Headers from name/value pairs (names are lower-cased), e.g. for tests or replays.
    pub fn from_pairs<N: AsRef<str>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (N, V)>,
    ) -> ResponseHeaders {
        let mut headers = ResponseHeaders::default();
        for (name, value) in pairs {
            headers.push(name.as_ref(), value.into());
        }
        headers
    }

    /// The headers of an HTTP response, in order (values that are not UTF-8 are kept with
    /// U+FFFD in place of the invalid bytes).
    pub(crate) fn from_http(map: &ureq::http::HeaderMap) -> ResponseHeaders {
        ResponseHeaders {
            entries: map
                .iter()
                .map(|(name, value)| {
                    let value = match value.to_str() {
                        Ok(text) => text.to_owned(),
                        Err(_) => String::from_utf8_lossy(value.as_bytes()).into_owned(),
                    };
                    (name.as_str().to_owned(), value)
                })
                .collect(),
        }
    }

    pub(crate) fn push(&mut self, name: &str, value: String) {
        self.entries.push((name.trim().to_ascii_lowercase(), value));
    }

    /// The first value of header `name` (case-insensitive), trimmed.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// Every value of header `name` (case-insensitive), in order, trimmed.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }

    /// Every header as `(lower-case name, value)`, in the server's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many header lines there are.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none (a stream read from a plain body has none).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Credentials and cookies are shown as `<redacted>`.
impl fmt::Debug for ResponseHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries.iter().map(|(n, v)| (n, shown_value(n, v))))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitivity_by_name() {
        for name in [
            "Authorization",
            "api-key",
            "X-Api-Key",
            "cookie",
            "Set-Cookie",
            "x-my-gateway-token",
            "x-client-secret",
            "proxy-authorization",
        ] {
            assert!(is_sensitive(name), "{name}");
        }
        for name in [
            "x-ratelimit-remaining-tokens",
            "x-request-id",
            "content-type",
            "x-title",
        ] {
            assert!(!is_sensitive(name), "{name}");
        }
    }

    #[test]
    fn from_an_http_header_map() {
        let mut map = ureq::http::HeaderMap::new();
        map.append("X-Request-Id", "r1".parse().unwrap());
        map.append(
            "x-bytes",
            ureq::http::HeaderValue::from_bytes(b"a\xffb").unwrap(),
        );
        let headers = ResponseHeaders::from_http(&map);
        assert_eq!(headers.get("x-request-id"), Some("r1"));
        assert_eq!(headers.get("x-bytes"), Some("a\u{fffd}b"));
    }

    #[test]
    fn response_headers_by_name() {
        let headers = ResponseHeaders::from_pairs([
            ("Content-Type", " text/event-stream "),
            ("X-Request-Id", "r1"),
            ("x-request-id", "r2"),
        ]);
        assert_eq!(headers.get("content-type"), Some("text/event-stream"));
        assert_eq!(headers.get("X-REQUEST-ID"), Some("r1"));
        assert_eq!(headers.get_all("x-request-id").count(), 2);
        assert_eq!(headers.get("missing"), None);
        assert_eq!(headers.len(), 3);
        assert!(ResponseHeaders::default().is_empty());
        assert_eq!(
            headers.iter().next(),
            Some(("content-type", " text/event-stream "))
        );
    }
}
