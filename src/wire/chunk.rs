//! The JSON inside one SSE event: a `chat.completion.chunk` (or a whole `chat.completion`,
//! or an error object), decoded leniently and borrowing from the event's bytes.
//!
//! Only the fields we use are decoded; unknown fields are skipped without allocating.
//! Strings without escapes borrow from the input (`Cow::Borrowed`).

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserializer, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use crate::choices::WireLogprobs;
use crate::completion::Usage;
use crate::error::{Error, ErrorKind, Result};
use crate::tool_calls::WireToolCalls;

/// One decoded chunk. Everything is optional: servers differ in what they send.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Chunk<'a> {
    #[serde(default, borrow, deserialize_with = "text")]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow, deserialize_with = "text")]
    pub model: Option<Cow<'a, str>>,
    /// `choices`, in the order sent (a choice's `index`, not its place, says which it is).
    #[serde(default, borrow)]
    pub choices: Choices<'a>,
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

/// The `choices` array: the first element apart, so that the usual one-choice chunk costs
/// no `Vec` (`rest` stays empty and unallocated).
#[derive(Debug, Default)]
pub(crate) struct Choices<'a> {
    pub first: Option<Choice<'a>>,
    pub rest: Vec<Choice<'a>>,
}

impl<'a> Choices<'a> {
    /// Every choice with the index it stands for: its `index`, or its place in the array
    /// when no choice of the chunk has one (a server that never numbers its choices).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Protocol`] when the chunk numbers some choices and not others: which
    /// answer an unnumbered one belongs to would be a guess (its place may be another
    /// choice's index).
    pub fn into_indexed(self) -> Result<impl Iterator<Item = (u32, Choice<'a>)>> {
        let all = || self.first.iter().chain(&self.rest);
        if all().any(|c| c.index.is_some()) {
            if let Some(place) = all().position(|c| c.index.is_none()) {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!(
                        "a chunk numbers some of its choices and not others: the choice at \
                         place {place} of `choices` has no `index`"
                    ),
                ));
            }
        }
        Ok(self
            .first
            .into_iter()
            .chain(self.rest)
            .enumerate()
            .map(|(place, choice)| {
                let index = choice
                    .index
                    .unwrap_or_else(|| u32::try_from(place).unwrap_or(u32::MAX));
                (index, choice)
            }))
    }
}

/// A choice: `delta` in a streamed chunk, `message` in a whole completion.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Choice<'a> {
    /// Which answer this is; `None` when the server left it out.
    #[serde(default)]
    pub index: Option<u32>,
    #[serde(default, borrow, alias = "message")]
    pub delta: Option<DeltaFields<'a>>,
    #[serde(default, borrow, deserialize_with = "text")]
    pub finish_reason: Option<Cow<'a, str>>,
    /// Present only when the request asked for log probabilities.
    #[serde(default)]
    pub logprobs: Option<WireLogprobs>,
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
    /// Fragments in any shape servers send (see `tool_calls`).
    #[serde(default, borrow)]
    pub tool_calls: Option<WireToolCalls<'a>>,
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

impl<'de: 'a, 'a> Deserialize<'de> for Choices<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ChoicesVisitor<'a>(std::marker::PhantomData<Choices<'a>>);

        impl<'de: 'a, 'a> Visitor<'de> for ChoicesVisitor<'a> {
            type Value = Choices<'a>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of choices or null")
            }

            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(Choices::default())
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Choices::default())
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_seq(self)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<Choice<'a>>()?;
                let mut rest = Vec::new();
                if first.is_some() {
                    while let Some(choice) = seq.next_element::<Choice<'a>>()? {
                        rest.push(choice);
                    }
                }
                Ok(Choices { first, rest })
            }
        }

        deserializer.deserialize_option(ChoicesVisitor(std::marker::PhantomData))
    }
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
        let content = c.choices.first.unwrap().delta.unwrap().content.unwrap();
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
            let text = c
                .choices
                .first
                .and_then(|c| c.delta)
                .and_then(|d| d.content);
            assert!(text.is_none(), "{json}");
        }
    }

    fn indexed(json: &str) -> Result<Vec<(u32, String)>> {
        Ok(chunk(json)
            .choices
            .into_indexed()?
            .map(|(i, c)| (i, c.delta.unwrap().content.unwrap().into_owned()))
            .collect())
    }

    #[test]
    fn every_choice_is_kept_with_its_index() {
        assert_eq!(
            indexed(
                r#"{"choices":[{"index":1,"delta":{"content":"b"}},{"index":0,"delta":{"content":"a"}},{"index":0,"delta":{"content":"c"}}]}"#
            )
            .unwrap(),
            [(1, "b".into()), (0, "a".into()), (0, "c".into())],
            "the index, never the place"
        );
        assert_eq!(
            indexed(r#"{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"}}]}"#)
                .unwrap(),
            [(0, "a".into()), (1, "b".into())],
            "no choice numbered: the place"
        );
    }

    #[test]
    fn a_chunk_that_numbers_some_choices_and_not_others_is_refused() {
        for json in [
            r#"{"choices":[{"index":1,"delta":{"content":"b"}},{"delta":{"content":"a"}}]}"#,
            r#"{"choices":[{"delta":{"content":"a"}},{"index":0,"delta":{"content":"b"}}]}"#,
            r#"{"choices":[{"index":null,"delta":{"content":"a"}},{"index":1,"delta":{"content":"b"}}]}"#,
        ] {
            let error = indexed(json).unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Protocol, "{json}");
            assert!(error.to_string().contains("no `index`"), "{error}");
        }
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
