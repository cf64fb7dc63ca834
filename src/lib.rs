//! # upstage
//!
//! A synchronous, blocking client that streams chat completions token by token from
//! Upstage's Solar models and any OpenAI-compatible server (vLLM, llama.cpp, Ollama,
//! LiteLLM, `transformers serve`), with a C ABI for C, C++, Go and Swift.
//!
//! It re-implements the `Upstage` provider of gpt4free: send a chat, read the
//! server-sent-events answer line by line, hand out text as it arrives. It adds what the
//! original lacked: the official API, a standards-compliant SSE decoder, typed errors, a
//! completion contract that notices truncated streams, retries, per-phase timeouts,
//! cancellation from any thread, and memory limits.
//!
//! ```no_run
//! use std::io::Write;
//! use upstage::{ChatRequest, Client, Message};
//!
//! // UPSTAGE_API_KEY (and optionally UPSTAGE_BASE_URL, UPSTAGE_MODEL) from the environment.
//! let client = Client::from_env()?;
//! let request = ChatRequest::new("solar-pro4")
//!     .message(Message::system("You are concise."))
//!     .message(Message::user("Why is the sky blue?"));
//! let mut stream = client.stream(&request)?;
//! while let Some(token) = stream.next_token() {
//!     print!("{}", token?);
//!     std::io::stdout().flush().ok();
//! }
//! println!("\n[{}]", stream.finish_reason().unwrap_or("?"));
//! # Ok::<(), upstage::Error>(())
//! ```
//!
//! The data flows one way, one module per step:
//!
//! | step | module | what it does |
//! |---|---|---|
//! | [`ChatRequest`] | `request` | model, messages, parameters; the JSON body |
//! | [`Client`] | `client` | sends it over HTTP (`transport`), retries (`retry`) |
//! | response | `response` | a 2xx body of a known kind, or an [`Error`] in the server's words |
//! | SSE | `sse` | events from the body, line by line, bounded |
//! | chunks | `wire` | the JSON of each event (fast path, serde, error envelopes) |
//! | assembly | `accumulate` | what the chunks say: tokens, [`Delta`]s, tool calls |
//! | [`ChatStream`] | `stream` | tokens ([`Iterator`], [`ChatStream::next_token`]) or [`Delta`]s ([`ChatStream::next_delta`]) |
//!
//! Beside them: `config` (flavor, timeouts, limits, proxy), `error`, `cancel`,
//! [`web_demo`] (the legacy web demo's catalog and prompt), and the C ABI (`ffi`,
//! documented in `include/upstage.h`). What a caller adds to a request and reads from a
//! response: custom headers and query parameters (`custom_headers`, `url`, `overrides`),
//! [`ResponseHeaders`] and [`RateLimit`] (`headers`, `rate_limit`), [`Timings`], the debug log
//! (`log`, [`set_debug_log_writer`]), recordings ([`Client::stream_recorded`],
//! [`ChatStream::replay`]; `record`), and name resolution that reports a failed lookup as
//! [`ErrorKind::Connect`] (`resolver`).
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod accumulate;
mod cancel;
mod client;
mod completion;
mod config;
mod custom_headers;
mod error;
// The only module allowed `unsafe`: the C ABI, each block with a SAFETY comment. Public
// so that Rust tests can drive the C functions, hidden because its readers use the header.
#[allow(unsafe_code)]
#[doc(hidden)]
pub mod ffi;
mod headers;
mod log;
mod overrides;
mod rate_limit;
mod record;
mod request;
mod resolver;
mod response;
mod retry;
mod sse;
mod stream;
mod timings;
mod transport;
mod url;
pub mod web_demo;
mod wire;

pub use cancel::CancelHandle;
pub use client::{Client, ClientBuilder};
pub use completion::{ChatCompletion, Delta, ToolCall, ToolCallDelta, Usage};
pub use config::{Flavor, Limits, Proxy, Timeouts, DEFAULT_BASE_URL, DEFAULT_MODEL};
pub use error::{Error, ErrorKind, Result, TimeoutPhase};
pub use headers::ResponseHeaders;
pub use log::{set_debug_log_writer, DebugLogWriter};
pub use rate_limit::{RateLimit, RateLimitWindow};
pub use request::{ChatRequest, Message, Role};
pub use stream::ChatStream;
pub use timings::Timings;

/// The README's Rust examples, compiled as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
