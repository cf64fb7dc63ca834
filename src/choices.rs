//! Choices: what one answer of a request with `n` answers is made of, its log
//! probabilities, and the per-choice state a stream assembles.
//!
//! A choice is identified by its `index` member, never by its place in the `choices`
//! array: with `"n": 2` servers interleave the answers chunk by chunk, and some put several
//! choices in one chunk in any order. Only a chunk whose choices carry no `index` at all (a
//! server that never numbers them) falls back to their places in the array; a chunk that
//! numbers some choices and not others is a [`Protocol`](crate::ErrorKind::Protocol) error,
//! since its unnumbered choices could belong to any answer.

use std::fmt;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::completion::{ToolCall, ToolCallDelta};
use crate::error::Result;
use crate::request::Message;
use crate::tool_calls::{Fragment, ToolCallAssembler};

/// How likely one generated token was, with the most likely alternatives when they were
/// asked for (`"logprobs": true`, `"top_logprobs": k`).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct TokenLogprob {
    /// The token's text.
    pub token: String,
    /// Its natural-log probability (`f64::NEG_INFINITY` when the server sent `null`).
    pub logprob: f64,
    /// Its UTF-8 bytes, when the server sent them (a token may hold part of a character).
    pub bytes: Option<Vec<u8>>,
    /// The most likely tokens at this position, most likely first as the server sent them.
    pub top_logprobs: Vec<TopLogprob>,
}

/// One alternative at a position: a token and its log probability.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct TopLogprob {
    /// The token's text.
    pub token: String,
    /// Its natural-log probability.
    pub logprob: f64,
    /// Its UTF-8 bytes, when the server sent them.
    pub bytes: Option<Vec<u8>>,
}

/// The log probabilities of a choice's tokens: of its content and of its refusal.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Logprobs {
    /// One entry per content token.
    pub content: Vec<TokenLogprob>,
    /// One entry per refusal token.
    pub refusal: Vec<TokenLogprob>,
}

impl Logprobs {
    /// Whether there is no entry at all.
    pub fn is_empty(&self) -> bool {
        self.content.is_empty() && self.refusal.is_empty()
    }

    /// About what these entries cost to keep: their texts and bytes, and the entries
    /// themselves.
    pub(crate) fn kept_size(&self) -> usize {
        fn bytes(b: &Option<Vec<u8>>) -> usize {
            b.as_ref().map_or(0, Vec::len)
        }
        let entry = |e: &TokenLogprob| {
            std::mem::size_of::<TokenLogprob>()
                + e.token.len()
                + bytes(&e.bytes)
                + e.top_logprobs
                    .iter()
                    .map(|t| std::mem::size_of::<TopLogprob>() + t.token.len() + bytes(&t.bytes))
                    .sum::<usize>()
        };
        self.content.iter().chain(&self.refusal).map(entry).sum()
    }

    fn extend(&mut self, more: Logprobs) {
        self.content.extend(more.content);
        self.refusal.extend(more.refusal);
    }
}

/// One whole answer of a request: with `"n": 1` (the default) the only one.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Choice {
    /// Which answer this is (`0..n`), as the server numbered it.
    pub index: u32,
    /// The answer text.
    pub content: String,
    /// The reasoning text (empty when the model sent none).
    pub reasoning: String,
    /// The refusal text (empty when the model did not refuse).
    pub refusal: String,
    /// Tool calls, in the order they appeared.
    pub tool_calls: Vec<ToolCall>,
    /// Why generation of this answer stopped.
    pub finish_reason: Option<String>,
    /// Log probabilities, when asked for and sent.
    pub logprobs: Option<Logprobs>,
}

impl Choice {
    /// Choice 0 as the fields of a completion built without choices.
    pub(crate) fn from_fields(completion: &crate::ChatCompletion) -> Choice {
        Choice {
            index: 0,
            content: completion.content.clone(),
            reasoning: completion.reasoning.clone(),
            refusal: completion.refusal.clone(),
            tool_calls: completion.tool_calls.clone(),
            finish_reason: completion.finish_reason.clone(),
            logprobs: completion.logprobs.clone(),
        }
    }

    /// This answer as the assistant message that continues the conversation: its content
    /// and its tool calls (answer each with [`Message::tool`]). The reasoning is left
    /// out, as most servers want it; [`to_message_with_reasoning`] keeps it.
    ///
    /// [`to_message_with_reasoning`]: Choice::to_message_with_reasoning
    pub fn to_message(&self) -> Message {
        let content = match self.content.is_empty() && !self.tool_calls.is_empty() {
            // OpenAI's shape for a turn that only calls tools.
            true => Value::Null,
            false => Value::String(self.content.clone()),
        };
        let mut message = Message::assistant(content);
        if !self.tool_calls.is_empty() {
            let calls = self.tool_calls.iter().map(tool_call_json).collect();
            message = message.with_field("tool_calls", Value::Array(calls));
        }
        message
    }

    /// Like [`to_message`](Choice::to_message), plus the reasoning as
    /// `reasoning_content` for servers that want it back (vLLM and others serving models
    /// that keep reasoning across tool calls). Servers that reject the field (DeepSeek's
    /// API) need [`to_message`](Choice::to_message).
    pub fn to_message_with_reasoning(&self) -> Message {
        let message = self.to_message();
        match self.reasoning.is_empty() {
            true => message,
            false => message.with_field("reasoning_content", self.reasoning.clone()),
        }
    }
}

/// A tool call as an assistant message carries it.
fn tool_call_json(call: &ToolCall) -> Value {
    serde_json::json!({
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments},
    })
}

/// What a stream has assembled for one choice.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChoiceState {
    pub index: u32,
    pub content: String,
    pub reasoning: String,
    pub refusal: String,
    pub tools: ToolCallAssembler,
    pub finish_reason: Option<String>,
    pub logprobs: Option<Logprobs>,
}

impl ChoiceState {
    /// Adds a tool-call fragment; returns the delta it made, if any.
    pub fn apply_tool_call(&mut self, fragment: Fragment<'_>) -> Result<Option<ToolCallDelta>> {
        self.tools.apply(fragment)
    }

    /// Adds a chunk's log probabilities.
    pub fn add_logprobs(&mut self, logprobs: Logprobs) {
        match &mut self.logprobs {
            Some(mine) => mine.extend(logprobs),
            None => self.logprobs = Some(logprobs),
        }
    }

    /// The choice as far as it got (a partial result: nothing is checked).
    pub fn into_choice(mut self) -> Choice {
        Choice {
            index: self.index,
            content: self.content,
            reasoning: self.reasoning,
            refusal: self.refusal,
            tool_calls: self.tools.take_calls(),
            finish_reason: self.finish_reason,
            logprobs: self.logprobs,
        }
    }
}

/// The most choices a stream keeps: a request asks for at most `n` answers (OpenAI allows
/// 128), and the sorted insert of a new choice costs a move of those after it.
pub(crate) const MAX_CHOICES: usize = 1024;

/// Every choice a stream has seen, ordered by index.
///
/// Sorted by index rather than indexed by it: a server's index is not trusted to be
/// small, and a stream usually has one or two choices.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChoiceSet {
    choices: Vec<ChoiceState>,
}

impl ChoiceSet {
    /// The choice with this index, created when new.
    pub fn get_mut(&mut self, index: u32) -> &mut ChoiceState {
        let at = match self.choices.binary_search_by_key(&index, |c| c.index) {
            Ok(at) => at,
            Err(at) => {
                self.choices.insert(
                    at,
                    ChoiceState {
                        index,
                        ..ChoiceState::default()
                    },
                );
                at
            }
        };
        &mut self.choices[at]
    }

    /// How many choices were seen.
    pub fn len(&self) -> usize {
        self.choices.len()
    }

    /// The choice with this index, if seen.
    pub fn get(&self, index: u32) -> Option<&ChoiceState> {
        self.choices
            .binary_search_by_key(&index, |c| c.index)
            .ok()
            .map(|at| &self.choices[at])
    }

    /// Checks every choice's tool calls (each must have a name).
    pub fn check(&self) -> Result<()> {
        self.choices.iter().try_for_each(|c| c.tools.check())
    }

    /// Whether every choice seen has a finish reason (and at least one was seen).
    pub fn all_finished(&self) -> bool {
        !self.choices.is_empty() && self.choices.iter().all(|c| c.finish_reason.is_some())
    }

    /// The choices as far as they got, always including choice 0.
    pub fn into_partial(self) -> Vec<Choice> {
        self.with_first()
            .into_iter()
            .map(ChoiceState::into_choice)
            .collect()
    }

    fn with_first(mut self) -> Vec<ChoiceState> {
        self.get_mut(0);
        self.choices
    }
}

/// `choices[].logprobs` as servers send it.
///
/// Two shapes: the chat shape `{"content": [...], "refusal": [...]}` (OpenAI, vLLM,
/// llama.cpp's server, LiteLLM), and the completions shape that early vLLM versions sent
/// for chat too (`{"tokens": [...], "token_logprobs": [...], "top_logprobs": [{token:
/// logprob}]}`).
#[derive(Debug, Default)]
pub(crate) struct WireLogprobs(pub Logprobs);

impl<'de> Deserialize<'de> for WireLogprobs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Shape {
            #[serde(default)]
            content: Option<Vec<Option<WireToken>>>,
            #[serde(default)]
            refusal: Option<Vec<Option<WireToken>>>,
            #[serde(default)]
            tokens: Option<Vec<Option<String>>>,
            #[serde(default)]
            token_logprobs: Option<Vec<Option<f64>>>,
            #[serde(default)]
            top_logprobs: Option<Vec<Option<LegacyTop>>>,
        }

        let shape = Shape::deserialize(deserializer)?;
        let entries = |list: Option<Vec<Option<WireToken>>>| -> Vec<TokenLogprob> {
            list.into_iter()
                .flatten()
                .flatten()
                .map(WireToken::into_public)
                .collect()
        };
        let mut logprobs = Logprobs {
            content: entries(shape.content),
            refusal: entries(shape.refusal),
        };
        if logprobs.content.is_empty() {
            if let Some(tokens) = shape.tokens {
                let values = shape.token_logprobs.unwrap_or_default();
                let mut tops = shape.top_logprobs.unwrap_or_default().into_iter();
                for (i, token) in tokens.into_iter().enumerate() {
                    let top = tops.next().flatten().map(|t| t.0).unwrap_or_default();
                    logprobs.content.push(TokenLogprob {
                        token: token.unwrap_or_default(),
                        logprob: values
                            .get(i)
                            .copied()
                            .flatten()
                            .unwrap_or(f64::NEG_INFINITY),
                        bytes: None,
                        top_logprobs: top,
                    });
                }
            }
        }
        Ok(WireLogprobs(logprobs))
    }
}

/// One entry of the chat shape.
#[derive(Deserialize)]
struct WireToken {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    logprob: Option<f64>,
    #[serde(default)]
    bytes: Option<Vec<u8>>,
    #[serde(default)]
    top_logprobs: Option<Vec<Option<WireTop>>>,
}

#[derive(Deserialize)]
struct WireTop {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    logprob: Option<f64>,
    #[serde(default)]
    bytes: Option<Vec<u8>>,
}

impl WireToken {
    fn into_public(self) -> TokenLogprob {
        TokenLogprob {
            token: self.token.unwrap_or_default(),
            logprob: self.logprob.unwrap_or(f64::NEG_INFINITY),
            bytes: self.bytes,
            top_logprobs: self
                .top_logprobs
                .into_iter()
                .flatten()
                .flatten()
                .map(|top| TopLogprob {
                    token: top.token.unwrap_or_default(),
                    logprob: top.logprob.unwrap_or(f64::NEG_INFINITY),
                    bytes: top.bytes,
                })
                .collect(),
        }
    }
}

/// `{token: logprob, ...}` of the completions shape, kept in the order sent.
struct LegacyTop(Vec<TopLogprob>);

impl<'de> Deserialize<'de> for LegacyTop {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;

        impl<'de> Visitor<'de> for Entries {
            type Value = LegacyTop;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of token: logprob")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LegacyTop, A::Error> {
                let mut out = Vec::new();
                while let Some(token) = map.next_key::<String>()? {
                    let logprob = map.next_value::<Option<f64>>()?;
                    out.push(TopLogprob {
                        token,
                        logprob: logprob.unwrap_or(f64::NEG_INFINITY),
                        bytes: None,
                    });
                }
                Ok(LegacyTop(out))
            }
        }

        deserializer.deserialize_map(Entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logprobs(json: &str) -> Logprobs {
        serde_json::from_str::<WireLogprobs>(json).unwrap().0
    }

    fn entry(token: &str, logprob: f64, bytes: Option<&[u8]>) -> TokenLogprob {
        TokenLogprob {
            token: token.into(),
            logprob,
            bytes: bytes.map(<[u8]>::to_vec),
            top_logprobs: Vec::new(),
        }
    }

    #[test]
    fn openai_chat_logprobs_with_top_alternatives() {
        // Azure OpenAI through LiteLLM, `"logprobs": true, "top_logprobs": 1`.
        let parsed = logprobs(
            r#"{"content":[{"token":"V","bytes":[86],"logprob":-4.132613,"top_logprobs":[{"token":"Tur","bytes":[84,117,114],"logprob":-0.66551673}]}]}"#,
        );
        let mut expected = entry("V", -4.132613, Some(b"V"));
        expected.top_logprobs.push(TopLogprob {
            token: "Tur".into(),
            logprob: -0.66551673,
            bytes: Some(b"Tur".to_vec()),
        });
        assert_eq!(parsed.content, [expected]);
        assert!(parsed.refusal.is_empty());
    }

    #[test]
    fn openai_refusal_logprobs() {
        let parsed = logprobs(
            r#"{"content":null,"refusal":[{"token":"I","logprob":-0.1,"bytes":[73],"top_logprobs":[]}]}"#,
        );
        assert!(parsed.content.is_empty());
        assert_eq!(parsed.refusal, [entry("I", -0.1, Some(b"I"))]);
    }

    #[test]
    fn llamacpp_adds_token_ids_and_vllm_sends_null_bytes() {
        let parsed = logprobs(
            r#"{"content":[{"id":11,"token":",","logprob":0.0,"bytes":[44],"top_logprobs":[]},{"token":"x","logprob":-9999.0,"bytes":null,"top_logprobs":null}]}"#,
        );
        assert_eq!(
            parsed.content,
            [entry(",", 0.0, Some(b",")), entry("x", -9999.0, None)]
        );
    }

    #[test]
    fn vllm_early_chat_logprobs_in_the_completions_shape() {
        let parsed = logprobs(
            r#"{"content":null,"text_offset":[0,1],"token_logprobs":[-0.5,null],"tokens":["▁","▁Hello"],"top_logprobs":[{"▁":-0.5,"▁Hi":-1.5},null]}"#,
        );
        let mut first = entry("▁", -0.5, None);
        first.top_logprobs = vec![
            TopLogprob {
                token: "▁".into(),
                logprob: -0.5,
                bytes: None,
            },
            TopLogprob {
                token: "▁Hi".into(),
                logprob: -1.5,
                bytes: None,
            },
        ];
        assert_eq!(
            parsed.content,
            [first, entry("▁Hello", f64::NEG_INFINITY, None)]
        );
    }

    #[test]
    fn bad_bytes_are_decode_errors() {
        for json in [
            r#"{"content":[{"token":"a","logprob":-1,"bytes":[256]}]}"#,
            r#"{"content":[{"token":"a","logprob":"x"}]}"#,
            r#"{"content":{}}"#,
        ] {
            assert!(
                serde_json::from_str::<WireLogprobs>(json).is_err(),
                "{json}"
            );
        }
    }

    #[test]
    fn choices_are_kept_by_index_whatever_the_order() {
        let mut set = ChoiceSet::default();
        set.get_mut(1).content.push('B');
        set.get_mut(0).content.push('A');
        set.get_mut(1).content.push('b');
        set.get_mut(0).content.push('a');
        set.get_mut(0).finish_reason = Some("stop".into());
        assert!(!set.all_finished());
        set.get_mut(1).finish_reason = Some("length".into());
        assert!(set.all_finished());
        set.check().unwrap();
        let choices = set.into_partial();
        assert_eq!(choices.len(), 2);
        assert_eq!((choices[0].index, &*choices[0].content), (0, "Aa"));
        assert_eq!((choices[1].index, &*choices[1].content), (1, "Bb"));
    }

    #[test]
    fn choice_zero_is_always_there() {
        let mut set = ChoiceSet::default();
        set.get_mut(4_000_000_000).content.push('x');
        let choices = set.into_partial();
        assert_eq!(
            choices.iter().map(|c| c.index).collect::<Vec<_>>(),
            [0, 4_000_000_000]
        );
    }

    #[test]
    fn a_tool_call_turn_becomes_the_next_assistant_message() {
        let choice = Choice {
            reasoning: "think".into(),
            tool_calls: vec![ToolCall {
                index: 0,
                id: "call_1".into(),
                name: "get_weather".into(),
                arguments: r#"{"city":"Seoul"}"#.into(),
            }],
            finish_reason: Some("tool_calls".into()),
            ..Choice::default()
        };
        let message = choice.to_message();
        assert_eq!(
            (message.role(), message.content()),
            ("assistant", &Value::Null)
        );
        assert_eq!(
            message.field("tool_calls"),
            Some(&serde_json::json!([{"id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Seoul\"}"}}]))
        );
        assert_eq!(message.field("reasoning_content"), None);
        assert_eq!(
            choice
                .to_message_with_reasoning()
                .field("reasoning_content"),
            Some(&Value::from("think"))
        );
        let text = Choice {
            content: "Hi".into(),
            reasoning: "r".into(),
            ..Choice::default()
        };
        let message = text.to_message();
        assert_eq!(message.content(), &Value::from("Hi"));
        assert_eq!(message.field("tool_calls"), None);
    }
}
