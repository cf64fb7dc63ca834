//! What a stream has learned so far: chunks applied in order, every choice assembled by its
//! index (texts, tool calls, finish reason, log probabilities), deltas queued for the
//! caller.

use std::collections::VecDeque;
use std::mem::size_of;

use crate::choices::{ChoiceSet, ChoiceState, MAX_CHOICES};
use crate::completion::{ChatCompletion, ChoiceDelta, Delta, ToolCall, Usage};
use crate::config::Limits;
use crate::error::{Error, ErrorKind, Result};
use crate::timings::Stopwatch;
use crate::tool_calls::Fragment;
use crate::wire::{Choice, Chunk};

/// What a chunk is turned into: a token for `next_token`, or queued deltas for `next_delta`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Tokens,
    Deltas,
}

/// What a stream keeps for its completion, counted against
/// [`Limits::max_assembled`]: a server that streams without end into what is kept (another
/// choice's text, tool-call arguments, log probabilities) gets a `Limit` error instead of
/// all of the client's memory.
pub(crate) struct Budget {
    used: usize,
    max: usize,
}

impl Budget {
    pub fn new(max: usize) -> Budget {
        Budget { used: 0, max }
    }

    /// Counts `bytes` more kept.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Limit`] once the total passes the maximum.
    pub fn charge(&mut self, bytes: usize) -> Result<()> {
        self.used = self.used.saturating_add(bytes);
        if self.used <= self.max {
            return Ok(());
        }
        Err(Error::new(
            ErrorKind::Limit,
            format!(
                "what the stream keeps for its completion exceeds the {}-byte limit",
                self.max
            ),
        )
        .with_http_status(200))
    }
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(Limits::default().max_assembled)
    }
}

/// Everything learned from the stream so far, apart from the decoder.
#[derive(Default)]
pub(crate) struct Progress {
    /// The token `next_token` hands out (choice 0's content), reused so that a token costs
    /// no allocation.
    pub token: String,
    pub pending: VecDeque<ChoiceDelta>,
    /// Every choice seen, by index.
    pub choices: ChoiceSet,
    /// Whether choice 0's tokens are also kept in `choices` (for snapshots of a stream read
    /// token by token; off on the allocation-free token path).
    pub keep_tokens: bool,
    /// What `choices` holds, bounded.
    pub budget: Budget,
    pub usage: Option<Usage>,
    pub model: Option<String>,
    pub id: Option<String>,
    pub request_id: Option<String>,
    pub skipped_chunks: u64,
    pub attempts: u32,
    /// Body bytes read, kept once the decoder is dropped.
    pub bytes: u64,
    /// Milestones and counts.
    pub watch: Stopwatch,
}

impl Progress {
    /// Choice 0's finish reason.
    pub fn finish_reason(&self) -> Option<&str> {
        self.choices.get(0)?.finish_reason.as_deref()
    }

    /// Takes a token that the fast path decoded (choice 0's content).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Limit`] when the token is kept and passes the budget.
    pub fn take_token(&mut self, content: &str) -> Result<()> {
        if self.keep_tokens {
            let state = choice_mut(&mut self.choices, &mut self.budget, 0)?;
            self.budget.charge(content.len())?;
            state.content.push_str(content);
        }
        self.token.clear();
        self.token.push_str(content);
        self.watch.content();
        Ok(())
    }

    /// What was assembled so far, as a completion (nothing is checked).
    pub fn snapshot(&self) -> ChatCompletion {
        self.completion(self.choices.clone().into_partial())
    }

    /// A completion of `choices` with what the stream learned about the whole answer.
    pub fn completion(&self, choices: Vec<crate::choices::Choice>) -> ChatCompletion {
        let mut completion = ChatCompletion::from_choices(choices);
        completion.usage = self.usage;
        completion.model.clone_from(&self.model);
        completion.id.clone_from(&self.id);
        completion.request_id.clone_from(&self.request_id);
        completion.timings = self.watch.timings(self.bytes);
        completion
    }
}

/// The choice with this index, created (and counted against the budget and the most
/// choices a stream keeps) when new.
fn choice_mut<'a>(
    choices: &'a mut ChoiceSet,
    budget: &mut Budget,
    index: u32,
) -> Result<&'a mut ChoiceState> {
    if choices.get(index).is_none() {
        if choices.len() >= MAX_CHOICES {
            return Err(Error::new(
                ErrorKind::Limit,
                format!("the stream has more than {MAX_CHOICES} choices"),
            )
            .with_http_status(200));
        }
        budget.charge(size_of::<ChoiceState>())?;
    }
    Ok(choices.get_mut(index))
}

/// Records what a chunk says; returns whether it produced something to hand out: a token
/// (choice 0's content) in `Tokens` mode, queued deltas in `Deltas` mode.
///
/// # Errors
///
/// [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) for tool-call fragments that cannot be
/// read as a call, and for a chunk that numbers some of its choices and not others.
pub(crate) fn apply_chunk(progress: &mut Progress, chunk: Chunk, mode: Mode) -> Result<bool> {
    if progress.id.is_none() {
        progress.id = chunk.id.map(|id| id.into_owned());
    }
    if progress.model.is_none() {
        progress.model = chunk.model.map(|m| m.into_owned());
    }
    let mut produced = false;
    for (index, choice) in chunk.choices.into_indexed()? {
        produced |= apply_choice(progress, index, choice, mode, produced)?;
    }
    if let Some(usage) = chunk.usage {
        let usage = usage.into_usage();
        progress.usage = Some(usage);
        if mode == Mode::Deltas {
            progress.pending.push_back(ChoiceDelta {
                choice: 0,
                delta: Delta::Usage(usage),
            });
            produced = true;
        }
    }
    Ok(produced)
}

/// Applies one choice of a chunk. `token_taken`: an earlier choice of the same chunk already
/// produced the token (a chunk may hold choice 0 twice; the second text then waits in
/// `pending`, so that no text is lost).
fn apply_choice(
    progress: &mut Progress,
    index: u32,
    choice: Choice,
    mode: Mode,
    token_taken: bool,
) -> Result<bool> {
    let Progress {
        token,
        pending,
        choices,
        keep_tokens,
        budget,
        watch,
        ..
    } = progress;
    let state = choice_mut(choices, budget, index)?;
    let deltas = mode == Mode::Deltas;
    let mut produced = false;
    let mut queue = |delta: Delta| {
        pending.push_back(ChoiceDelta {
            choice: index,
            delta,
        });
    };
    if let Some(delta) = choice.delta {
        for call in delta.tool_calls.iter().flat_map(|calls| &calls.0) {
            let calls_before = state.tools.calls().len();
            if let Some(added) = state.apply_tool_call(Fragment::from_wire(call))? {
                let new_call = state.tools.calls().len() > calls_before;
                budget.charge(
                    added.id.as_ref().map_or(0, String::len)
                        + added.name.as_ref().map_or(0, String::len)
                        + added.arguments.len()
                        + if new_call { size_of::<ToolCall>() } else { 0 },
                )?;
                if deltas {
                    queue(Delta::ToolCall(added));
                    produced = true;
                }
            }
        }
        let reasoning = delta.reasoning.or(delta.reasoning_content);
        if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
            watch.reasoning();
            budget.charge(text.len())?;
            state.reasoning.push_str(&text);
            if deltas {
                queue(Delta::Reasoning(text.into_owned()));
                produced = true;
            }
        }
        if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
            watch.content();
            if deltas {
                budget.charge(text.len())?;
                state.content.push_str(&text);
                queue(Delta::Content(text.into_owned()));
                produced = true;
            } else if index == 0 {
                if *keep_tokens {
                    budget.charge(text.len())?;
                    state.content.push_str(&text);
                }
                if token_taken {
                    queue(Delta::Content(text.into_owned()));
                } else {
                    // The token; reuse the buffer so that a token costs no allocation.
                    token.clear();
                    token.push_str(&text);
                    produced = true;
                }
            } else {
                budget.charge(text.len())?;
                state.content.push_str(&text);
            }
        }
        if let Some(text) = delta.refusal.filter(|t| !t.is_empty()) {
            budget.charge(text.len())?;
            state.refusal.push_str(&text);
            if deltas {
                queue(Delta::Refusal(text.into_owned()));
                produced = true;
            }
        }
    }
    if let Some(logprobs) = choice.logprobs.map(|l| l.0).filter(|l| !l.is_empty()) {
        budget.charge(logprobs.kept_size())?;
        if deltas {
            queue(Delta::Logprobs(logprobs.clone()));
            produced = true;
        }
        state.add_logprobs(logprobs);
    }
    if let Some(reason) = choice.finish_reason.filter(|r| !r.is_empty()) {
        state.finish_reason = Some(reason.to_string());
        if deltas {
            queue(Delta::Finish(reason.into_owned()));
            produced = true;
        }
    }
    Ok(produced)
}
