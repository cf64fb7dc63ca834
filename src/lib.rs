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
//! | [`ChatRequest`] | `request`, `request_headers`, `overrides` | model, messages, parameters, the JSON body; custom headers, query, per-request overrides |
//! | [`Client`] | `client`, `url` | builds the request and sends it; the retry loop is `retry` |
//! | connection | `transport`, `resolver` | pooled keep-alive connections, per-request cancel and timeouts, name resolution |
//! | response | `response`, `response_headers`, `rate_limit` | a 2xx body of a known kind, or an [`Error`] in the server's words; headers, [`RateLimit`] |
//! | SSE | `sse` | events from the body, line by line, bounded |
//! | chunks | `wire`, `in_band` | the JSON of each event (fast path, serde, error envelopes); what an in-band error stands for |
//! | assembly | `accumulate`, `choices`, `tool_calls` | what the chunks say: tokens, [`Delta`]s, every choice, tool calls, log probabilities |
//! | [`ChatStream`] | `stream`, `timings` | tokens ([`Iterator`], [`ChatStream::next_token`]) or [`Delta`]s ([`ChatStream::next_delta`]); [`Timings`] |
//!
//! Beside them: `config` (flavor, timeouts, limits, proxy), `error`, `cancel`, `log` (the debug
//! log, [`set_debug_log_writer`]), `record` (recordings: [`Client::stream_recorded`],
//! [`ChatStream::replay`]), [`web_demo`] (the legacy web demo's catalog and prompt), and the C
//! ABI (`ffi`, documented in `include/upstage.h`).
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod accumulate;
mod cancel;
mod choices;
mod client;
mod completion;
mod config;
mod error;
mod in_band;
mod request_headers;
// The only module allowed `unsafe`: the C ABI, each block with a SAFETY comment. Public
// so that Rust tests can drive the C functions, hidden because its readers use the header.
#[allow(unsafe_code)]
#[doc(hidden)]
pub mod ffi;
mod log;
mod overrides;
mod rate_limit;
mod record;
mod request;
mod resolver;
mod response;
mod response_headers;
mod retry;
mod sse;
mod stream;
mod timings;
mod tool_calls;
mod transport;
mod url;
pub mod web_demo;
mod wire;

pub use cancel::CancelHandle;
pub use choices::{Choice, Logprobs, TokenLogprob, TopLogprob};
pub use client::{Client, ClientBuilder};
pub use completion::{ChatCompletion, ChoiceDelta, Delta, ToolCall, ToolCallDelta, Usage};
pub use config::{Flavor, Limits, Proxy, Timeouts, DEFAULT_BASE_URL, DEFAULT_MODEL};
pub use error::{Error, ErrorKind, Result, TimeoutPhase};
pub use log::{set_debug_log_writer, DebugLogWriter};
pub use rate_limit::{RateLimit, RateLimitWindow};
pub use request::{ChatRequest, Message, Role};
pub use response_headers::ResponseHeaders;
pub use stream::ChatStream;
pub use timings::Timings;

/// The README's Rust examples, compiled as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
