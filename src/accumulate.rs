//! What a stream has learned so far: chunks applied in order, tool calls assembled by index,
//! deltas queued for the caller.

use std::collections::VecDeque;

use crate::completion::{Delta, ToolCall, ToolCallDelta, Usage};
use crate::timings::Stopwatch;
use crate::wire::{Chunk, DeltaFields, ToolCallFragment};

/// What a chunk is turned into: a token for `next_token`, or queued deltas for `next_delta`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Tokens,
    Deltas,
}

/// Everything learned from the stream so far, apart from the decoder.
#[derive(Default)]
pub(crate) struct Progress {
    pub token: String,
    pub pending: VecDeque<Delta>,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    pub model: Option<String>,
    pub id: Option<String>,
    pub request_id: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub skipped_chunks: u64,
    pub attempts: u32,
    /// Body bytes read, kept once the decoder is dropped.
    pub bytes: u64,
    /// Milestones and counts.
    pub watch: Stopwatch,
}

/// Records what a chunk says; returns whether it produced something to hand out.
pub(crate) fn apply_chunk(progress: &mut Progress, chunk: Chunk, mode: Mode) -> bool {
    if progress.id.is_none() {
        progress.id = chunk.id.map(|id| id.into_owned());
    }
    if progress.model.is_none() {
        progress.model = chunk.model.map(|m| m.into_owned());
    }
    let mut produced = false;
    if let Some(choice) = chunk.choice {
        if let Some(delta) = choice.delta {
            produced |= apply_delta(progress, delta, mode);
        }
        if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
            if mode == Mode::Deltas {
                progress
                    .pending
                    .push_back(Delta::Finish(reason.to_string()));
                produced = true;
            }
            progress.finish_reason = Some(reason.into_owned());
        }
    }
    if let Some(usage) = chunk.usage {
        let usage = usage.into_usage();
        progress.usage = Some(usage);
        if mode == Mode::Deltas {
            progress.pending.push_back(Delta::Usage(usage));
            produced = true;
        }
    }
    produced
}

fn apply_delta(progress: &mut Progress, delta: DeltaFields, mode: Mode) -> bool {
    let mut produced = false;
    for fragment in delta.tool_calls.into_iter().flatten() {
        let fragment = merge_tool_call(&mut progress.tool_calls, fragment);
        if mode == Mode::Deltas {
            progress.pending.push_back(Delta::ToolCall(fragment));
            produced = true;
        }
    }
    let reasoning = delta.reasoning.or(delta.reasoning_content);
    let texts = [
        (reasoning, Delta::Reasoning as fn(String) -> Delta),
        (delta.content, Delta::Content),
        (delta.refusal, Delta::Refusal),
    ];
    for (index, (text, make)) in texts.into_iter().enumerate() {
        let Some(text) = text.filter(|t| !t.is_empty()) else {
            continue;
        };
        match index {
            0 => progress.watch.reasoning(),
            1 => progress.watch.content(),
            _ => {}
        }
        match mode {
            Mode::Deltas => progress.pending.push_back(make(text.into_owned())),
            // Only content is a token; reuse the buffer so a token costs no allocation.
            Mode::Tokens if index == 1 => {
                progress.token.clear();
                progress.token.push_str(&text);
            }
            Mode::Tokens => continue,
        }
        produced = true;
    }
    produced
}

/// Adds a fragment to the call with the same index (creating it), and returns the
/// fragment as a public delta.
fn merge_tool_call(calls: &mut Vec<ToolCall>, fragment: ToolCallFragment) -> ToolCallDelta {
    // Servers that omit `index` send one fragment per call (whole calls).
    let index = fragment.index.unwrap_or(calls.len() as u32);
    let position = match calls.iter().position(|c| c.index == index) {
        Some(position) => position,
        None => {
            let at = calls.partition_point(|c| c.index < index);
            calls.insert(
                at,
                ToolCall {
                    index,
                    ..ToolCall::default()
                },
            );
            at
        }
    };
    let call = &mut calls[position];
    let (name, arguments) = match fragment.function {
        Some(f) => (f.name, f.arguments),
        None => (None, None),
    };
    let delta = ToolCallDelta {
        index,
        id: fragment.id.map(|s| s.into_owned()),
        name: name.map(|s| s.into_owned()),
        arguments: arguments.map(|s| s.into_owned()).unwrap_or_default(),
    };
    if let Some(id) = &delta.id {
        call.id.clone_from(id);
    }
    if let Some(name) = &delta.name {
        call.name.push_str(name);
    }
    call.arguments.push_str(&delta.arguments);
    delta
}
