//! What an error reported inside a 200 event stream stands for, in HTTP terms.
//!
//! Servers that already sent `200 OK` report later failures in-band, as an event like
//! `{"error": {"message": ..., "type": ..., "code": ...}}`. When that happens before the
//! first token it is the same failure as the HTTP error the server could have sent
//! instead, and is retried under the same rules: rate limits, overload and server errors
//! are, invalid requests and exhausted quotas are not. The type and code strings differ
//! between servers:
//!
//! - OpenAI: `"type": "server_error"`, `"type": "requests", "code": "rate_limit_exceeded"`,
//!   `"code": "insufficient_quota"`;
//! - vLLM and SGLang: `"type": "InternalServerError", "code": 500`,
//!   `"type": "BadRequestError", "code": 400`;
//! - Groq: `"type": "invalid_request_error", "code": "tool_use_failed", "status_code": 400`;
//! - Anthropic-style proxies: `{"type": "error", "error": {"type": "overloaded_error"}}`;
//! - OpenRouter: `"code": 429` or `"code": 502` next to `finish_reason: "error"`.

/// The HTTP status an in-band error's `type` / `code` stands for, when they say.
///
/// A numeric code (`500`, `"429"`) is taken as the status when it is one; otherwise the
/// words of the type and the code are matched (case, `_`, `-` and an `error` suffix
/// ignored).
pub(crate) fn equivalent_status(kind: Option<&str>, code: Option<&str>) -> Option<u16> {
    let numeric = [code, kind]
        .into_iter()
        .flatten()
        .filter_map(|s| s.trim().parse::<u16>().ok())
        .find(|status| (400..600).contains(status));
    if numeric.is_some() {
        return numeric;
    }
    // The code is more specific than the type (`requests` / `rate_limit_exceeded`).
    [code, kind].into_iter().flatten().find_map(word_status)
}

/// The status one type or code word stands for.
fn word_status(word: &str) -> Option<u16> {
    let mut key: String = word
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if key.len() > "error".len() && key.ends_with("error") {
        key.truncate(key.len() - "error".len());
    }
    let status = match key.as_str() {
        "ratelimit" | "ratelimitexceeded" | "ratelimited" | "toomanyrequests" | "requests"
        | "tokens" => 429,
        // Out of credit: a 429 that waiting does not cure (see `retry::is_retryable`).
        "insufficientquota" | "quotaexceeded" | "billinghardlimitreached" => 429,
        "overloaded" | "serviceunavailable" | "unavailable" | "engineoverloaded"
        | "serveroverloaded" | "capacity" => 503,
        "server" | "internalserver" | "internal" | "api" | "servererror" => 500,
        "badgateway" | "upstream" => 502,
        "timeout" | "gatewaytimeout" | "deadlineexceeded" => 504,
        "invalidrequest"
        | "badrequest"
        | "validation"
        | "contextlengthexceeded"
        | "toolusefailed" => 400,
        "authentication" | "unauthorized" | "invalidapikey" => 401,
        "permission" | "permissiondenied" | "forbidden" => 403,
        "notfound" | "modelnotfound" => 404,
        _ => return None,
    };
    Some(status)
}

/// Whether the type or code says the account is out of credit.
pub(crate) fn is_quota(kind: Option<&str>, code: Option<&str>) -> bool {
    [code, kind].into_iter().flatten().any(|word| {
        let key: String = word
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        matches!(
            key.as_str(),
            "insufficientquota" | "quotaexceeded" | "billinghardlimitreached"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_words_map_to_http_statuses() {
        for (kind, code, status) in [
            (Some("server_error"), None, Some(500)),
            (Some("requests"), Some("rate_limit_exceeded"), Some(429)),
            (
                Some("insufficient_quota"),
                Some("insufficient_quota"),
                Some(429),
            ),
            (Some("InternalServerError"), Some("500"), Some(500)),
            (Some("BadRequestError"), Some("400"), Some(400)),
            (
                Some("invalid_request_error"),
                Some("tool_use_failed"),
                Some(400),
            ),
            (Some("overloaded_error"), None, Some(503)),
            (Some("api_error"), None, Some(500)),
            (None, Some("429"), Some(429)),
            (None, Some("502"), Some(502)),
            (Some("rate-limit"), None, Some(429)),
            (Some("ServiceUnavailableError"), None, Some(503)),
            (Some("something_else"), Some("x"), None),
            (None, Some("200"), None),
            (None, None, None),
        ] {
            assert_eq!(equivalent_status(kind, code), status, "{kind:?} {code:?}");
        }
    }

    #[test]
    fn quota_words() {
        assert!(is_quota(Some("insufficient_quota"), None));
        assert!(is_quota(None, Some("insufficient_quota")));
        assert!(!is_quota(Some("requests"), Some("rate_limit_exceeded")));
    }
}
