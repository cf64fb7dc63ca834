//! What one request changes in its client's configuration: extra headers and query
//! parameters, timeouts, retries.

use std::time::Duration;

use crate::error::Result;
use crate::request_headers::HeaderList;
use crate::url::QueryParams;
use crate::Timeouts;

/// A request's own additions and overrides; empty by default (the client decides).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Overrides {
    /// Headers that replace the client's of the same name.
    pub(crate) headers: HeaderList,
    /// Query parameters appended after the client's.
    pub(crate) query: QueryParams,
    /// Each timeout the request sets (`Some(None)`: no limit for this request).
    pub(crate) connect: Option<Option<Duration>>,
    pub(crate) headers_timeout: Option<Option<Duration>>,
    pub(crate) idle: Option<Option<Duration>>,
    pub(crate) total: Option<Option<Duration>>,
    /// Retries for this request instead of the client's.
    pub(crate) max_retries: Option<u32>,
}

impl Overrides {
    /// The client's timeouts with this request's overrides applied.
    pub(crate) fn timeouts(&self, client: Timeouts) -> Timeouts {
        let mut timeouts = client;
        if let Some(connect) = self.connect {
            timeouts.connect = connect;
        }
        if let Some(headers) = self.headers_timeout {
            timeouts.headers = headers;
        }
        if let Some(idle) = self.idle {
            timeouts.idle = idle;
        }
        if let Some(total) = self.total {
            timeouts.total = total;
        }
        timeouts
    }

    /// The client's retry count unless the request set its own.
    pub(crate) fn max_retries(&self, client: u32) -> u32 {
        self.max_retries.unwrap_or(client)
    }

    /// Checks the headers and query parameter names, before anything is sent.
    pub(crate) fn check(&self) -> Result<()> {
        self.headers.checked()?;
        for (name, _) in self.query.as_slice() {
            crate::url::check_name(name)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn only_what_the_request_set_changes() {
        let client = Timeouts::default();
        let none = Overrides::default();
        assert_eq!(none.timeouts(client), client);
        assert_eq!(none.max_retries(2), 2);
        let some = Overrides {
            headers_timeout: Some(Some(Duration::from_millis(200))),
            total: Some(None),
            idle: Some(Some(Duration::from_secs(1))),
            max_retries: Some(0),
            ..Overrides::default()
        };
        let t = some.timeouts(client);
        assert_eq!(t.connect, client.connect);
        assert_eq!(t.headers, Some(Duration::from_millis(200)));
        assert_eq!(t.idle, Some(Duration::from_secs(1)));
        assert_eq!(t.total, None);
        assert_eq!(some.max_retries(2), 0);
    }

    #[test]
    fn bad_headers_and_names_are_caught() {
        let mut o = Overrides::default();
        o.headers.push("X-Ok", "1");
        o.query.push("a".into(), "".into());
        assert!(o.check().is_ok());
        o.query.push("".into(), "v".into());
        assert_eq!(o.check().unwrap_err().kind(), ErrorKind::InvalidArgument);
        let mut o = Overrides::default();
        o.headers.push("Host", "x");
        assert_eq!(o.check().unwrap_err().kind(), ErrorKind::InvalidArgument);
    }
}
