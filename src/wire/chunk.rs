//! The JSON inside one SSE event: a `chat.completion.chunk` (or a whole `chat.completion`,
//! or an error object), decoded leniently and borrowing from the event's bytes.
//!
//! Only the fields we use are decoded; unknown fields are skipped without allocating.
//! Strings without escapes borrow from the input (`Cow::Borrowed`).

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::completion::Usage;

/// One decoded chunk. Everything is optional: servers differ in what they send.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Chunk<'a> {
    #[serde(default, borrow, deserialize_with = "text")]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "text")]
    pub model: Option<Cow<'a, str>>,
    /// The first choice only: this client streams one answer (`n = 1`).
    #[serde(default, borrow, rename = "choices", deserialize_with = "first_choice")]
    pub choice: Option<Choice<'a>>,
    #[serde(default)]
    pub usage: Option<RawUsage>,
    /// `{"error": {...}}`: an in-band error.
    #[serde(default)]
    pub error: Option<Value>,
    /// `{"type": "error", ...}`: another in-band error shape.
    #[serde(default, borrow, rename = "type", deserialize_with = "text")]
    pub kind: Option<Cow<'a, str>>,
    /// Top-level `message`, used by some in-band error shapes.
    #[serde(default)]
    pub message: Option<Value>,
}

impl Chunk<'_> {
    /// Whether this chunk reports an error instead of carrying data.
    pub fn is_error(&self) -> bool {
        self.error.is_some() || self.kind.as_deref() == Some("error")
    }
}

/// A choice: `delta` in a streamed chunk, `message` in a whole completion.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Choice<'a> {
    #[serde(default, borrow, alias = "message")]
    pub delta: Option<DeltaFields<'a>>,
    #[serde(default, borrow, deserialize_with = "text")]
    pub finish_reason: Option<Cow<'a, str>>,
}

/// The parts of a delta (or message) that carry text.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DeltaFields<'a> {
    #[serde(default, borrow, deserialize_with = "text")]
    pub content: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "text")]
    pub reasoning: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "text")]
    pub reasoning_content: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "text")]
    pub refusal: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub tool_calls: Option<Vec<ToolCallFragment<'a>>>,
}

/// A piece of a tool call; fragments with the same `index` add up to one call.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ToolCallFragment<'a> {
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default, borrow, deserialize_with = "text")]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub function: Option<FunctionFragment<'a>>,
}

/// The function part of a tool-call fragment.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct FunctionFragment<'a> {
    #[serde(default, borrow, deserialize_with = "text")]
    pub name: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "text")]
    pub arguments: Option<Cow<'a, str>>,
}

/// Usage as servers send it (nested details, nulls).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct RawUsage {
    #[serde(default)]
    prompt_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens: Option<u64>,
    #[serde(default)]
    total_tokens: Option<u64>,
    #[serde(default)]
    completion_tokens_details: Option<ReasoningDetails>,
    #[serde(default)]
    prompt_tokens_details: Option<CachedDetails>,
}

#[derive(Debug, Default, Deserialize)]
struct ReasoningDetails {
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct CachedDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
}

impl RawUsage {
    pub fn into_usage(self) -> Usage {
        let prompt = self.prompt_tokens.unwrap_or(0);
        let completion = self.completion_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: self.total_tokens.unwrap_or(prompt + completion),
            reasoning_tokens: self
                .completion_tokens_details
                .and_then(|d| d.reasoning_tokens),
            cached_tokens: self.prompt_tokens_details.and_then(|d| d.cached_tokens),
        }
    }
}

/// Decodes an optional string borrowing it from the input when it has no escapes.
///
/// serde's `borrow` attribute only borrows a bare `Cow<str>`; inside an `Option` it would
/// allocate every string, and so every token.
fn text<'de, D>(deserializer: D) -> Result<Option<Cow<'de, str>>, D::Error>
where
    D: Deserializer<'de>,
{
    struct Text;

    impl<'de> Visitor<'de> for Text {
        type Value = Option<Cow<'de, str>>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or null")
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_str(self)
        }

        fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Borrowed(s)))
        }

        fn visit_str<E>(self, s: &str) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(s.to_owned())))
        }

        fn visit_string<E>(self, s: String) -> Result<Self::Value, E> {
            Ok(Some(Cow::Owned(s)))
        }
    }

    deserializer.deserialize_option(Text)
}

/// Decodes `choices` keeping only its first element, so a chunk costs no `Vec`.
fn first_choice<'de, D>(deserializer: D) -> Result<Option<Choice<'de>>, D::Error>
where
    D: Deserializer<'de>,
{
    struct FirstChoice;

    impl<'de> Visitor<'de> for FirstChoice {
        type Value = Option<Choice<'de>>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array of choices or null")
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let first = seq.next_element::<Choice<'de>>()?;
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(first)
        }
    }

    deserializer.deserialize_option(FirstChoice)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(json: &str) -> Chunk<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn borrows_unescaped_content_and_ignores_unknown_fields() {
        let c = chunk(
            r#"{"id":"c1","object":"chat.completion.chunk","x":[1,{"y":2}],"choices":[{"index":0,"delta":{"role":"assistant","content":"Hi"},"logprobs":null,"finish_reason":null}]}"#,
        );
        let content = c.choice.unwrap().delta.unwrap().content.unwrap();
        assert!(matches!(content, Cow::Borrowed("Hi")));
    }

    #[test]
    fn lenient_shapes_decode() {
        for json in [
            r#"{"choices":[]}"#,
            r#"{"choices":null}"#,
            r#"{"choices":[{"delta":null}]}"#,
            r#"{"choices":[{"delta":{}, "finish_reason":""}]}"#,
            r#"{}"#,
        ] {
            let c = chunk(json);
            let text = c.choice.and_then(|c| c.delta).and_then(|d| d.content);
            assert!(text.is_none(), "{json}");
        }
    }

    #[test]
    fn only_the_first_choice_is_kept() {
        let c = chunk(r#"{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]}"#);
        assert_eq!(c.choice.unwrap().delta.unwrap().content.unwrap(), "a");
    }

    #[test]
    fn usage_fills_totals_and_details() {
        let c = chunk(
            r#"{"usage":{"prompt_tokens":3,"completion_tokens":4,"completion_tokens_details":{"reasoning_tokens":2},"prompt_tokens_details":null}}"#,
        );
        let usage = c.usage.unwrap().into_usage();
        assert_eq!(usage.total_tokens, 7);
        assert_eq!(usage.reasoning_tokens, Some(2));
        assert_eq!(usage.cached_tokens, None);
    }
}
