//! What the server's JSON says: the chunk types serde decodes, the fast path for usual
//! chunks, and the error envelopes servers report failures in.

mod api_error;
mod chunk;
mod fast;

pub(crate) use api_error::{api_error_parts, event_error, excerpt, in_band_error};
pub(crate) use chunk::{Chunk, DeltaFields, ToolCallFragment};
pub(crate) use fast::{Decoded, FastDecoder};
