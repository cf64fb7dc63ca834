//! Test support: a real HTTP/1.1 server on 127.0.0.1 with byte-exact control over
//! what is written and when, plus canned OpenAI-style stream payloads.
//!
//! ```ignore
//! mod support;
//! use support::*;
//!
//! let server = Server::start(serve_tokens(&["Hel", "lo"]));
//! // point the client at server.base() ("http://127.0.0.1:PORT/v1") ...
//! assert!(server.wait_for_requests(1, secs(5)));
//! assert_eq!(server.requests()[0].path, "/v1/chat/completions");
//! ```
//!
//! Every wait is bounded; dropping the [`Server`] never hangs, and re-raises
//! handler panics.
//!
//! Complete responses (`end_chunks`, `respond`, `json_response`) keep the
//! connection alive and a pooling client reuses it, so count retries with
//! [`Server::request_count`] or [`Conn::attempt`], not [`Server::connections`]
//! (or send `Connection: close` to force one connection per request).
// Each test binary uses a subset of this module.
#![allow(dead_code)]

mod conn;
mod faults;
mod pki;
mod request;
mod script;
mod server;
mod sys;
mod wire;

#[allow(unused_imports)]
pub use conn::{reason, Conn, REQUEST_TIMEOUT, STALL_LIMIT};
#[allow(unused_imports)]
pub use faults::{
    assert_kind, assert_released, bounded, builder, drain, request, run_stream, FullBacklog,
};
#[allow(unused_imports)]
pub use pki::{have_openssl, openssl, Pki, TempDir};
#[allow(unused_imports)]
pub use request::RecordedRequest;
#[allow(unused_imports)]
pub use script::{
    chunk_json, delta_json, error_json, fail_then, finish_json, role_json, serve_json,
    serve_tokens, stall, usage_json, Script, TEST_ID, TEST_MODEL,
};
pub use server::Server;
#[allow(unused_imports)]
pub use sys::{chat_binary, example_binary, open_fds, refused_port, rss_kib};

use std::time::Duration;

/// `Duration::from_secs`.
pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// `Duration::from_millis`.
pub fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

/// A client for `server`'s `/v1` base URL, without retries, so that a test sees each
/// failure exactly as the server provoked it.
pub fn client_for(server: &Server) -> upstage::Client {
    upstage::ClientBuilder::new()
        .base_url(server.base())
        .max_retries(0)
        .build()
        .expect("a loopback base URL is valid")
}

/// The request most tests send: one user message to the canned model.
pub fn hi_request() -> upstage::ChatRequest {
    upstage::ChatRequest::new(TEST_MODEL).message(upstage::Message::user("Hi"))
}

/// Reads a stream to its end: the tokens, and the error if it failed.
pub fn drain_tokens(stream: &mut upstage::ChatStream) -> (Vec<String>, Option<upstage::Error>) {
    let mut tokens = Vec::new();
    while let Some(item) = stream.next_token() {
        match item {
            Ok(token) => tokens.push(token.to_owned()),
            Err(e) => return (tokens, Some(e)),
        }
    }
    (tokens, None)
}
