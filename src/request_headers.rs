//! Custom request headers, checked before anything is sent.
//!
//! Request headers come from three places, later ones replacing earlier ones of the same
//! name (compared case-insensitively): the client's own (`Accept`, `Content-Type`,
//! `User-Agent`, `Authorization`), the client-wide custom headers, the request's custom
//! headers. So a custom `User-Agent` or `Authorization` replaces the client's. The
//! headers that describe the message framing and its destination (`Content-Length`,
//! `Host`, `Transfer-Encoding`) belong to the HTTP layer and cannot be set.

use std::fmt;

use crate::error::{Error, Result};
use crate::response_headers::shown_value;

/// Headers the HTTP layer computes itself: setting one would corrupt the request.
const RESERVED: [&str; 3] = ["content-length", "host", "transfer-encoding"];

/// A `tchar` of RFC 9110: what a header name is made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Checks one custom request header. The error names the header, never its value (which
/// may be a credential).
pub(crate) fn check(name: &str, value: &str) -> Result<()> {
    let shown: String = name.escape_debug().take(100).collect();
    if name.is_empty() {
        return Err(Error::invalid_argument("a header name is empty"));
    }
    if name.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(Error::invalid_argument(format!(
            "header name \"{shown}\" contains CR, LF or NUL"
        )));
    }
    if !name.bytes().all(is_token_byte) {
        return Err(Error::invalid_argument(format!(
            "header name \"{shown}\" contains a character not allowed in a header name"
        )));
    }
    if RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name)) {
        return Err(Error::invalid_argument(format!(
            "header \"{shown}\" is set by the HTTP layer and cannot be overridden"
        )));
    }
    if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
        return Err(Error::invalid_argument(format!(
            "the value of header \"{shown}\" contains CR, LF or NUL"
        )));
    }
    // Other control characters are refused by the HTTP layer later, with a vaguer error.
    if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(Error::invalid_argument(format!(
            "the value of header \"{shown}\" contains a control character"
        )));
    }
    Ok(())
}

/// Custom request headers in the order they were added, not yet checked: builders cannot
/// fail, so [`HeaderList::checked`] runs before the request is sent.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct HeaderList(Vec<(String, String)>);

impl HeaderList {
    pub(crate) fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Every header checked; the first bad one is the error.
    pub(crate) fn checked(&self) -> Result<&Self> {
        for (name, value) in &self.0 {
            check(name, value)?;
        }
        Ok(self)
    }
}

impl fmt::Debug for HeaderList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(n, v)| (n, shown_value(n, v))))
            .finish()
    }
}

/// The headers to send: `defaults`, then `layers` in order, a later header replacing any
/// earlier one of the same name (case-insensitive). Each name appears once, where it first
/// appeared.
pub(crate) fn merge<'a>(
    defaults: &[(&'a str, &'a str)],
    layers: &[&'a HeaderList],
) -> Vec<(&'a str, &'a str)> {
    let mut merged: Vec<(&str, &str)> = defaults.to_vec();
    for (name, value) in layers.iter().flat_map(|layer| layer.iter()) {
        match merged
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => merged.push((name, value)),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::response_headers::ResponseHeaders;

    #[test]
    fn good_headers_pass() {
        for (name, value) in [
            ("HTTP-Referer", "https://example.com"),
            ("X-Title", "My app ✓"),
            ("api-key", "k"),
            ("User-Agent", "mine/1.0"),
            ("Authorization", "Basic abc"),
            ("x-trace", ""),
            ("x-tab", "a\tb"),
        ] {
            check(name, value).unwrap();
        }
    }

    #[test]
    fn bad_headers_are_invalid_arguments_that_do_not_show_the_value() {
        for (name, value) in [
            ("", "v"),
            ("x-a\r\nInjected", "v"),
            ("x-a\0", "v"),
            ("bad name", "v"),
            ("x-é", "v"),
            ("x-ok", "secret\r\nInjected: 1"),
            ("x-ok", "secret\nmore"),
            ("x-ok", "secret\0"),
            ("x-ok", "secret\x07"),
            ("Content-Length", "5"),
            ("host", "evil"),
            ("TRANSFER-ENCODING", "chunked"),
        ] {
            let err = check(name, value).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{name:?}");
            assert!(!err.message().contains("secret"), "{}", err.message());
        }
    }

    #[test]
    fn later_layers_replace_earlier_ones_case_insensitively() {
        let mut client = HeaderList::default();
        client.push("X-Team", "a");
        client.push("user-agent", "mine/1");
        let mut request = HeaderList::default();
        request.push("x-team", "b");
        request.push("Authorization", "Basic x");
        let merged = merge(
            &[
                ("accept", "text/event-stream"),
                ("user-agent", "upstage-rs"),
                ("authorization", "Bearer k"),
            ],
            &[&client, &request],
        );
        assert_eq!(
            merged,
            [
                ("accept", "text/event-stream"),
                ("user-agent", "mine/1"),
                ("authorization", "Basic x"),
                ("X-Team", "b"),
            ]
        );
    }

    #[test]
    fn a_list_is_checked_as_a_whole() {
        let mut list = HeaderList::default();
        list.push("x-ok", "1");
        assert!(list.checked().is_ok());
        list.push("Host", "x");
        assert!(list.checked().is_err());
    }

    #[test]
    fn credentials_never_show_in_debug() {
        let mut list = HeaderList::default();
        list.push("api-key", "sk-111");
        list.push("Authorization", "Bearer sk-222");
        list.push("X-Title", "visible");
        let headers = ResponseHeaders::from_pairs([
            ("Set-Cookie", "session=sk-333"),
            ("x-ratelimit-remaining-tokens", "99"),
        ]);
        let shown = format!("{list:?} {headers:?}");
        for secret in ["sk-111", "sk-222", "sk-333"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("visible") && shown.contains("99"), "{shown}");
    }
}
