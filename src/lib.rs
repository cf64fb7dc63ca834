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
//! let request = ChatRequest::new("solar-pro2")
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
//! The data flows one way: [`ChatRequest`] → [`Client`] (HTTP, retries) → SSE decoder →
//! [`ChatStream`] → tokens ([`Iterator`], [`ChatStream::next_token`]) or [`Delta`]s
//! ([`ChatStream::next_event`]).
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod cancel;
mod chunk;
mod client;
mod completion;
mod custom_headers;
mod error;
mod headers;
mod log;
mod overrides;
mod rate_limit;
mod record;
mod resolver;
mod timings;
mod url;
// The only module allowed `unsafe`: the C ABI, each block with a SAFETY comment.
#[allow(unsafe_code)]
pub mod ffi;
mod models;
mod prompt;
mod request;
mod retry;
mod sse;
mod stream;
mod transport;

pub use cancel::CancelHandle;
pub use client::{
    Client, ClientBuilder, Flavor, Limits, Timeouts, DEFAULT_BASE_URL, WEB_DEMO_BASE_URL,
};
pub use completion::{ChatCompletion, Delta, ToolCall, ToolCallDelta, Usage};
pub use error::{Error, ErrorKind, Result, TimeoutPhase};
pub use headers::ResponseHeaders;
pub use log::{set_debug_log_writer, DebugLogWriter};
pub use models::{
    get_model, API_DEFAULT_MODEL, MODELS, MODEL_ALIASES, WEB_DEMO_DEFAULT_MODEL, WEB_DEMO_URL,
    WORKING,
};
pub use prompt::{content_to_string, format_prompt_json, format_prompt_parts, python_capitalize};
pub use rate_limit::{RateLimit, RateLimitWindow};
pub use request::{ChatRequest, Message, Role};
pub use stream::ChatStream;
pub use timings::Timings;

/// Flattens a conversation into one prompt exactly like the seed's `format_prompt`.
///
/// One message: its content alone. More: `Role: content` lines (roles capitalized like
/// Python's `str.capitalize`, whitespace-only messages dropped) and a final `Assistant:`.
///
/// ```
/// use upstage::{format_prompt, Message};
///
/// let prompt = format_prompt(&[Message::system("Be brief"), Message::user("Hi")])?;
/// assert_eq!(prompt, "System: Be brief\nUser: Hi\nAssistant:");
/// # Ok::<(), upstage::Error>(())
/// ```
pub fn format_prompt(messages: &[Message]) -> Result<String> {
    prompt::format_prompt_parts(messages.iter().map(|m| (m.role(), m.content())))
}

/// The README's Rust examples, compiled as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
