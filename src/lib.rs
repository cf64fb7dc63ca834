//! upstage: a synchronous, blocking streaming chat client for Upstage Solar and any
//! OpenAI-compatible server, with a C ABI.
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod error;
mod models;
mod prompt;
mod sse;

pub use error::{Error, ErrorKind, Result, TimeoutPhase};
