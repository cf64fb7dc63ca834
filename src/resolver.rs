//! Name resolution that says what failed: ureq's resolver reports a failed lookup as a
//! plain I/O error ("failed to lookup address information"), which would be classified as
//! [`ErrorKind::Io`](crate::ErrorKind::Io). A lookup failure is a connection failure, so it
//! is re-labelled `NotFound` (which the error mapping turns into `Connect`) with the host
//! name in the message.

use std::fmt;
use std::io;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// The system resolver (through ureq), with lookup failures labelled as such.
#[derive(Default)]
pub(crate) struct NameResolver(DefaultResolver);

impl fmt::Debug for NameResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NameResolver")
    }
}

impl Resolver for NameResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        self.0
            .resolve(uri, config, timeout)
            .map_err(|error| match error {
                ureq::Error::Io(e) => ureq::Error::Io(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "cannot resolve the host name {}: {e}",
                        uri.host().unwrap_or("?")
                    ),
                )),
                other => other,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_lookup_is_not_found_and_names_the_host() {
        // A 64-byte label is longer than DNS allows: the system resolver refuses it
        // without sending a query, so no network is touched.
        let host = format!("{}.example", "a".repeat(64));
        let uri: Uri = format!("http://{host}/v1").parse().unwrap();
        let config = ureq::Agent::config_builder().build();
        let err = NameResolver::default()
            .resolve(&uri, &config, NextTimeout::default())
            .unwrap_err();
        match err {
            ureq::Error::Io(e) => {
                assert_eq!(e.kind(), io::ErrorKind::NotFound);
                assert!(e.to_string().contains(&host), "{e}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
