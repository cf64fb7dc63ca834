//! The chunk parser: arbitrary bytes as the data of one SSE event (every line a `data:`
//! line), followed by a valid finish and `[DONE]`, so that JSON shapes are explored
//! rather than SSE framing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use upstage::Flavor;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, json)) = data.split_first() else {
        return;
    };
    let flavor = if flags & 1 == 0 { Flavor::Api } else { Flavor::WebDemo };
    let mut body = Vec::with_capacity(json.len() + 64);
    for line in json.split(|&b| b == b'\n' || b == b'\r') {
        body.extend_from_slice(b"data: ");
        body.extend_from_slice(line);
        body.push(b'\n');
    }
    body.extend_from_slice(b"\ndata: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
    common::check(&body, flavor, common::limits(flags >> 1), u64::from(flags) + 7, 1 + (flags >> 4) as usize);
});
