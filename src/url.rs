//! Endpoint URLs: a base URL (which may carry a query string, e.g. Azure's
//! `?api-version=...`), the chat path, and extra query parameters; plus the redacted form
//! of a URL that logs show.

use std::fmt::{self, Write as _};

use crate::error::{Error, Result};
use crate::response_headers;

/// `{base path}{path}?{base query}&{extra}`: the path goes before the base URL's query
/// string, which is kept as given; extra parameters are percent-encoded and appended.
///
/// The base must be `http(s)://host[:port][/path][?query]`, without a fragment.
pub(crate) fn endpoint(base: &str, path: &str, extra: &[(String, String)]) -> Result<String> {
    let invalid = |why: &str| Error::invalid_argument(format!("invalid base URL {base:?}: {why}"));
    if base.contains('#') {
        return Err(invalid("a fragment (#...) is never sent to a server"));
    }
    let (location, query) = match base.split_once('?') {
        Some((location, query)) => (location, Some(query)),
        None => (base, None),
    };
    let location = location.trim_end_matches('/');
    let uri: ureq::http::Uri = location.parse().map_err(|e| invalid(&format!("{e}")))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
        return Err(invalid("expected http(s)://host[:port][/path][?query]"));
    }
    let mut url = format!("{location}{path}");
    let mut separator = '?';
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        if query
            .bytes()
            .any(|b| b <= b' ' || b == 0x7f || b == b'"' || b == b'<' || b == b'>')
        {
            return Err(invalid(
                "the query string holds spaces or control characters (percent-encode them)",
            ));
        }
        url.push('?');
        url.push_str(query);
        separator = '&';
    }
    for (name, value) in extra {
        check_name(name)?;
        url.push(separator);
        separator = '&';
        encode_into(&mut url, name);
        url.push('=');
        encode_into(&mut url, value);
    }
    // The result must still be a URL the HTTP layer accepts.
    url.parse::<ureq::http::Uri>()
        .map_err(|e| invalid(&format!("{e}")))?;
    Ok(url)
}

/// `url` with `extra` parameters appended (percent-encoded) to its query string. Names
/// are checked beforehand ([`check_name`]).
pub(crate) fn with_query(url: &str, extra: &[(String, String)]) -> String {
    let mut url = url.to_owned();
    let mut separator = if url.contains('?') { '&' } else { '?' };
    for (name, value) in extra {
        url.push(separator);
        separator = '&';
        encode_into(&mut url, name);
        url.push('=');
        encode_into(&mut url, value);
    }
    url
}

/// Extra query parameters in the order they were added; `Debug` hides the values of those
/// that look like credentials (`key`, `api-key`, `token`, `sig`, ...).
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub(crate) fn push(&mut self, name: String, value: String) {
        self.0.push((name, value));
    }

    pub(crate) fn as_slice(&self) -> &[(String, String)] {
        &self.0
    }
}

impl fmt::Debug for QueryParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(name, value)| {
                let shown = if is_secret_param(name) {
                    "<redacted>"
                } else {
                    value.as_str()
                };
                (name, shown)
            }))
            .finish()
    }
}

/// A query parameter needs a name; its value may be anything (it is percent-encoded).
pub(crate) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid_argument("a query parameter name is empty"));
    }
    Ok(())
}

/// Percent-encodes everything except RFC 3986's unreserved characters.
fn encode_into(out: &mut String, text: &str) {
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

/// The URL as logs show it: a password in the user info and the values of query
/// parameters that look like credentials (`key`, `api-key`, `token`, `sig`, ...) replaced
/// by `<redacted>`.
pub(crate) fn redacted(url: &str) -> String {
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = redact_userinfo(before_query);
    if let Some(query) = query {
        out.push('?');
        for (i, pair) in query.split('&').enumerate() {
            if i > 0 {
                out.push('&');
            }
            match pair.split_once('=') {
                Some((name, _)) if is_secret_param(name) => {
                    out.push_str(name);
                    out.push_str("=<redacted>");
                }
                _ => out.push_str(pair),
            }
        }
    }
    out
}

/// `scheme://user:password@host/...` -> `scheme://user:<redacted>@host/...`.
fn redact_userinfo(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let authority_end = url[scheme_end..]
        .find('/')
        .map_or(url.len(), |i| scheme_end + i);
    let authority = &url[scheme_end..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let user = authority[..at].split(':').next().unwrap_or("");
    let password = authority[..at].contains(':');
    format!(
        "{}{}{}{}",
        &url[..scheme_end],
        user,
        if password { ":<redacted>@" } else { "@" },
        &url[scheme_end + at + 1..]
    )
}

fn is_secret_param(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    response_headers::is_sensitive(&name)
        || [
            "key",
            "apikey",
            "token",
            "sig",
            "signature",
            "password",
            "secret",
            "code",
        ]
        .contains(&name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_base_query_string_is_kept_after_the_path() {
        let url = endpoint(
            "https://r.openai.azure.com/openai/deployments/d?api-version=2024-10-21",
            "/chat/completions",
            &[],
        )
        .unwrap();
        assert_eq!(
            url,
            "https://r.openai.azure.com/openai/deployments/d/chat/completions?api-version=2024-10-21"
        );
        let url = endpoint("http://h:8/v1/?a=1", "/chat/completions", &[]).unwrap();
        assert_eq!(url, "http://h:8/v1/chat/completions?a=1");
    }

    #[test]
    fn extra_parameters_are_encoded_and_appended() {
        let extra = pairs(&[("api-version", "2024-10-21"), ("q", "a b&c=d/é")]);
        assert_eq!(
            endpoint("http://h/v1", "/chat/completions", &extra).unwrap(),
            "http://h/v1/chat/completions?api-version=2024-10-21&q=a%20b%26c%3Dd%2F%C3%A9"
        );
        assert_eq!(
            endpoint("http://h/v1?x=1", "/p", &pairs(&[("y", "")])).unwrap(),
            "http://h/v1/p?x=1&y="
        );
        assert_eq!(
            endpoint("http://h/v1?", "/p", &pairs(&[("y", "2")])).unwrap(),
            "http://h/v1/p?y=2"
        );
    }

    #[test]
    fn bad_bases_and_names_are_invalid_arguments() {
        for base in [
            "",
            "ftp://x",
            "not a url",
            "http://",
            "http://h/v1#frag",
            "http://h/v1?a b",
        ] {
            let err = endpoint(base, "/p", &[]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{base}");
        }
        let err = endpoint("http://h", "/p", &pairs(&[("", "v")])).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    }

    #[test]
    fn request_parameters_follow_the_clients() {
        let pairs = pairs(&[("trace", "a b")]);
        assert_eq!(with_query("http://h/p", &pairs), "http://h/p?trace=a%20b");
        assert_eq!(
            with_query("http://h/p?x=1", &pairs),
            "http://h/p?x=1&trace=a%20b"
        );
        assert_eq!(with_query("http://h/p", &[]), "http://h/p");
    }

    #[test]
    fn debug_hides_secret_parameters() {
        let mut params = QueryParams::default();
        params.push("api-version".into(), "1".into());
        params.push("key".into(), "sk-query-secret".into());
        let shown = format!("{params:?}");
        assert!(
            shown.contains("api-version") && shown.contains("\"1\""),
            "{shown}"
        );
        assert!(!shown.contains("sk-query-secret"), "{shown}");
    }

    #[test]
    fn redaction_hides_passwords_and_secret_parameters() {
        assert_eq!(
            redacted("http://user:pa55@proxy:3128"),
            "http://user:<redacted>@proxy:3128"
        );
        assert_eq!(
            redacted("socks5h://u:p@h:1/x?y=1"),
            "socks5h://u:<redacted>@h:1/x?y=1"
        );
        assert_eq!(redacted("http://user@h/x"), "http://user@h/x");
        assert_eq!(
            redacted("https://h/v1/chat?api-version=1&api-key=sk-9&key=k&sig=s"),
            "https://h/v1/chat?api-version=1&api-key=<redacted>&key=<redacted>&sig=<redacted>"
        );
        assert_eq!(redacted("http://h/a@b"), "http://h/a@b");
    }
}
