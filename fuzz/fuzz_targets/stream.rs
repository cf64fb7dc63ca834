//! The SSE decoder and the chunk parser through the public API: arbitrary bytes as an
//! event-stream body, read whole and split into arbitrary reads. Never panics, and the
//! split never changes the deltas, the tokens or the outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upstage::Flavor;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&[flags, seed], body)) = data.split_first_chunk::<2>() else {
        return;
    };
    let flavor = if flags & 1 == 0 { Flavor::Api } else { Flavor::WebDemo };
    let limits = common::limits(flags >> 1);
    let max_piece = 1 + (flags >> 3) as usize;
    common::check(body, flavor, limits, u64::from(seed) * 0x9E37_79B9 + 1, max_piece);
});
