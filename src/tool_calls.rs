//! Assembling tool calls from the fragments servers stream, as real servers send them.
//!
//! OpenAI's streams send a call's `id` and `function.name` once, in its first fragment, and
//! then pieces of `function.arguments` under the same `index`. Servers that speak the same
//! protocol differ (each case has a test named after the server that sends it):
//!
//! - the full name repeated in every fragment (TGI 3.x, llama.cpp's server before its
//!   streaming fix, MiniMax through NVIDIA NIM): a name equal to the call's name is not
//!   appended again;
//! - `"id": ""` or `"name": ""` in later fragments (vLLM, LM Studio, TGI): empty strings
//!   never erase what is known;
//! - no `index` at all (Ollama before 0.4.7, which sends every call whole): a fragment
//!   without index that names a function or brings a new id starts the next call, one that
//!   only carries arguments continues the last call;
//! - `index` 0 reused for every call of a turn, each call with its own id (Ollama 0.20,
//!   vLLM with some tool parsers, SGLang): a new non-empty id on a known index starts a new
//!   call; the same id repeated in every fragment (SGLang) does not;
//! - a different function name after the arguments began, under the same index and without
//!   any id: another call;
//! - the arguments as a JSON object or array instead of a string (llama.cpp's server in
//!   early 2026, TGI 2.x, MiniMax): taken as their JSON text;
//! - `tool_calls` as one object instead of an array (TGI 2.x), `type` missing, `null`
//!   anywhere: tolerated;
//! - the whole arguments sent again after they were complete (vLLM's final tool-call
//!   chunk): not appended a second time;
//! - a fragment that carries nothing (`{"index": 0, "function": {"arguments": ""}}` next to
//!   `finish_reason`, vLLM) changes nothing and never creates a call.
//!
//! Anything that cannot be read sensibly (a negative or non-integer index, arguments that
//! are a number, a second, different JSON object for the same call, a call that got
//! arguments but never a name) is a [`ErrorKind::Protocol`] error rather than a silently
//! wrong call. Whether a call's arguments parse as JSON is reported per call
//! ([`ToolCall::arguments_are_json`]), never guessed.
//!
//! Calls are numbered in the order they appear (`0, 1, 2, ...`): that number is the
//! [`ToolCall::index`] and the [`ToolCallDelta::index`] of every delta that belongs to it,
//! so concatenating the deltas of one index always gives the assembled call, even when the
//! server's own indexes were missing or reused.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::completion::{ToolCall, ToolCallDelta};
use crate::error::{Error, ErrorKind, Result};

/// One tool-call fragment as decoded from a delta's `tool_calls`, borrowing from the event.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireToolCall<'a> {
    /// The server's index: may be absent, reused, negative or not an integer.
    #[serde(default, borrow)]
    pub index: Option<&'a RawValue>,
    #[serde(default, borrow, deserialize_with = "text")]
    pub id: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    pub function: Option<WireFunction<'a>>,
}

/// The `function` member of a fragment.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireFunction<'a> {
    #[serde(default, borrow, deserialize_with = "text")]
    pub name: Option<Cow<'a, str>>,
    /// A string piece (the protocol), or a JSON value (some servers): kept raw.
    #[serde(default, borrow)]
    pub arguments: Option<&'a RawValue>,
}

/// `delta.tool_calls`: an array of fragments (the protocol), one fragment object (TGI 2.x)
/// or `null`. Decodes into `out` so that the usual single-fragment case costs one `Vec`.
#[derive(Debug, Default)]
pub(crate) struct WireToolCalls<'a>(pub Vec<WireToolCall<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for WireToolCalls<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrMany<'a>(std::marker::PhantomData<WireToolCalls<'a>>);

        impl<'de: 'a, 'a> Visitor<'de> for OneOrMany<'a> {
            type Value = WireToolCalls<'a>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of tool-call fragments, one fragment object, or null")
            }

            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(WireToolCalls::default())
            }

            fn visit_none<E>(self) -> Result<Self::Value, E> {
                Ok(WireToolCalls::default())
            }

            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
                d.deserialize_any(self)
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut calls = Vec::new();
                while let Some(call) = seq.next_element::<Option<WireToolCall<'a>>>()? {
                    // `null` entries carry nothing.
                    calls.extend(call);
                }
                Ok(WireToolCalls(calls))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let call = WireToolCall::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(WireToolCalls(vec![call]))
            }
        }

        deserializer.deserialize_option(OneOrMany(std::marker::PhantomData))
    }
}

/// Decodes an optional string, borrowing it when it has no escapes.
fn text<'de, D>(deserializer: D) -> Result<Option<Cow<'de, str>>, D::Error>
where
    D: Deserializer<'de>,
{
    Option::<Cow<'de, str>>::deserialize(deserializer)
}

/// A fragment reduced to what the assembler needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fragment<'a> {
    /// The server's `index` as JSON text (`None`: absent or `null`).
    pub index: Option<&'a str>,
    pub id: Option<&'a str>,
    pub name: Option<&'a str>,
    /// The `arguments` member as JSON text: a string literal, a JSON value or `None`.
    pub arguments: Option<&'a str>,
}

impl<'a> Fragment<'a> {
    /// The fragment in a decoded wire fragment.
    pub fn from_wire(call: &'a WireToolCall<'_>) -> Fragment<'a> {
        let function = call.function.as_ref();
        Fragment {
            index: call.index.map(RawValue::get).filter(|i| *i != "null"),
            id: call.id.as_deref(),
            name: function.and_then(|f| f.name.as_deref()),
            arguments: function
                .and_then(|f| f.arguments)
                .map(RawValue::get)
                .filter(|a| *a != "null"),
        }
    }
}

impl ToolCall {
    /// Whether [`arguments`](ToolCall::arguments) is one complete JSON value. Servers are
    /// not bound to send valid JSON (a model may stop mid-object, or a server may join two
    /// calls); check before handing the arguments to a tool.
    pub fn arguments_are_json(&self) -> bool {
        is_json(&self.arguments)
    }

    /// The arguments parsed as JSON.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::Protocol`] when they are not one complete JSON value.
    pub fn arguments_json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.arguments).map_err(|e| {
            Error::new(
                ErrorKind::Protocol,
                format!(
                    "the arguments of tool call {} ({}) are not valid JSON: {e}",
                    self.index, self.name
                ),
            )
        })
    }
}

/// The most tool calls one choice keeps: finding the call a fragment belongs to looks
/// through them, so that a server sending endless new calls would make the work quadratic.
pub(crate) const MAX_TOOL_CALLS: usize = 1024;

/// The tool calls of one choice, assembled fragment by fragment.
#[derive(Clone, Debug, Default)]
pub(crate) struct ToolCallAssembler {
    /// Every call, in the order it appeared (position = public index).
    calls: Vec<ToolCall>,
    /// The server's index -> the position of the call that index currently feeds.
    slots: Vec<(u32, usize)>,
    /// The call the last fragment went to (for fragments without index).
    last: Option<usize>,
}

impl ToolCallAssembler {
    /// The calls assembled so far, in order.
    pub fn calls(&self) -> &[ToolCall] {
        &self.calls
    }

    /// Takes the calls out, leaving the assembler empty.
    pub fn take_calls(&mut self) -> Vec<ToolCall> {
        self.slots.clear();
        self.last = None;
        std::mem::take(&mut self.calls)
    }

    /// Adds one fragment. Returns what it added to a call as a delta (its `index` is the
    /// call's position), or `None` when it added nothing.
    pub fn apply(&mut self, fragment: Fragment<'_>) -> Result<Option<ToolCallDelta>> {
        let index = fragment.index.map(server_index).transpose()?;
        let id = fragment.id.filter(|s| !s.is_empty());
        let name = fragment.name.filter(|s| !s.is_empty());
        let arguments = fragment.arguments.map(arguments_text).transpose()?;
        let arguments = arguments.filter(|a| !a.text.is_empty());
        let carries_nothing = id.is_none() && name.is_none() && arguments.is_none();

        let known = match index {
            Some(index) => self.slot(index),
            None => match id {
                Some(id) => self.calls.iter().rposition(|c| c.id == id),
                // A name without index or id starts a call, unless it repeats the last
                // call's name before that call's arguments are complete.
                None => self.last.filter(|&at| {
                    let call = &self.calls[at];
                    name.map_or(true, |name| call.name == name && !is_json(&call.arguments))
                }),
            },
        };
        // A known call keeps the fragment unless the fragment is visibly another call.
        let target = known.filter(|&at| {
            let call = &self.calls[at];
            let new_id = id.is_some_and(|id| !call.id.is_empty() && call.id != id);
            let new_name = name.is_some_and(|name| {
                !call.name.is_empty() && call.name != name && !call.arguments.is_empty()
            });
            !new_id && !new_name
        });
        let at = match target {
            Some(at) => at,
            None if carries_nothing => return Ok(None),
            None => {
                let at = self.calls.len();
                if at >= MAX_TOOL_CALLS {
                    return Err(Error::new(
                        ErrorKind::Limit,
                        format!("an answer has more than {MAX_TOOL_CALLS} tool calls"),
                    )
                    .with_http_status(200));
                }
                let position = u32::try_from(at).expect("MAX_TOOL_CALLS fits in u32");
                self.calls.push(ToolCall {
                    index: position,
                    ..ToolCall::default()
                });
                if let Some(index) = index {
                    self.set_slot(index, at);
                }
                at
            }
        };
        self.last = Some(at);

        let call = &mut self.calls[at];
        let mut delta = ToolCallDelta {
            index: call.index,
            ..ToolCallDelta::default()
        };
        if let Some(id) = id {
            if call.id.is_empty() {
                call.id.push_str(id);
                delta.id = Some(id.to_owned());
            }
        }
        if let Some(name) = name {
            // Equal: the full name repeated. Different: a piece of a name streamed in parts
            // (a different name after the arguments began was a new call, above).
            if call.name != name {
                call.name.push_str(name);
                delta.name = Some(name.to_owned());
            }
        }
        if let Some(arguments) = arguments {
            let append = match arguments.json {
                true if call.arguments.is_empty() => true,
                true if same_json(&call.arguments, &arguments.text) => false,
                true => {
                    return Err(Error::new(
                        ErrorKind::Protocol,
                        format!(
                            "tool call {} got its arguments as a JSON value after other \
                             arguments: {}",
                            call.index,
                            excerpt(&arguments.text)
                        ),
                    ))
                }
                // The whole arguments sent again once they were complete.
                false => !(arguments.text == call.arguments && is_json(&call.arguments)),
            };
            if append {
                call.arguments.push_str(&arguments.text);
                delta.arguments = arguments.text.into_owned();
            }
        }
        let changed = delta.id.is_some() || delta.name.is_some() || !delta.arguments.is_empty();
        Ok(changed.then_some(delta))
    }

    /// Checks the calls once the choice is finished: every call must have a name.
    pub fn check(&self) -> Result<()> {
        match self.calls.iter().find(|c| c.name.is_empty()) {
            None => Ok(()),
            Some(call) => Err(Error::new(
                ErrorKind::Protocol,
                format!(
                    "tool call {} never received a function name (id {:?}, arguments {})",
                    call.index,
                    call.id,
                    excerpt(&call.arguments)
                ),
            )),
        }
    }

    fn slot(&self, index: u32) -> Option<usize> {
        self.slots
            .iter()
            .find(|(server, _)| *server == index)
            .map(|&(_, at)| at)
    }

    fn set_slot(&mut self, index: u32, at: usize) {
        match self.slots.iter_mut().find(|(server, _)| *server == index) {
            Some(slot) => slot.1 = at,
            None => self.slots.push((index, at)),
        }
    }
}

/// The server's `index` (JSON text) as a `u32`, or a protocol error.
fn server_index(text: &str) -> Result<u32> {
    text.parse::<u32>().map_err(|_| {
        Error::new(
            ErrorKind::Protocol,
            format!(
                "a tool-call index must be a non-negative integer, not {}",
                excerpt(text)
            ),
        )
    })
}

/// Arguments as text, and whether they came as a JSON value rather than a string.
struct ArgumentsText<'a> {
    text: Cow<'a, str>,
    json: bool,
}

/// Reads the raw `arguments` member: a string is its text; an object or array is its
/// JSON text as sent; anything else is a protocol error.
fn arguments_text(raw: &str) -> Result<ArgumentsText<'_>> {
    match raw.as_bytes().first() {
        Some(b'"') => {
            let text: Cow<str> = serde_json::from_str(raw).map_err(|e| {
                Error::new(
                    ErrorKind::Protocol,
                    format!("tool-call arguments are not a valid JSON string: {e}"),
                )
            })?;
            Ok(ArgumentsText { text, json: false })
        }
        Some(b'{' | b'[') => Ok(ArgumentsText {
            text: Cow::Borrowed(raw),
            json: true,
        }),
        _ => Err(Error::new(
            ErrorKind::Protocol,
            format!(
                "tool-call arguments must be a string or a JSON object, not {}",
                excerpt(raw)
            ),
        )),
    }
}

/// Whether `text` is one complete JSON value.
pub(crate) fn is_json(text: &str) -> bool {
    serde_json::from_str::<de::IgnoredAny>(text).is_ok()
}

/// Whether two JSON texts hold the same value (false when either is not JSON).
fn same_json(a: &str, b: &str) -> bool {
    match (
        serde_json::from_str::<serde_json::Value>(a),
        serde_json::from_str::<serde_json::Value>(b),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// A short, printable piece of text for an error message.
fn excerpt(text: &str) -> String {
    const MAX: usize = 120;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds each `tool_calls` value (JSON text, one per chunk) to a fresh assembler.
    fn assemble(values: &[&str]) -> Result<(Vec<ToolCall>, Vec<ToolCallDelta>)> {
        let mut assembler = ToolCallAssembler::default();
        let mut deltas = Vec::new();
        for value in values {
            let calls: WireToolCalls = serde_json::from_str(value)
                .map_err(|e| Error::new(ErrorKind::Protocol, e.to_string()))?;
            for call in &calls.0 {
                deltas.extend(assembler.apply(Fragment::from_wire(call))?);
            }
        }
        assembler.check()?;
        Ok((assembler.take_calls(), deltas))
    }

    fn calls(values: &[&str]) -> Vec<(String, String, String)> {
        let (calls, deltas) = assemble(values).unwrap();
        // The deltas of one index always add up to the assembled call.
        for call in &calls {
            let mine = deltas.iter().filter(|d| d.index == call.index);
            let (mut id, mut name, mut arguments) = (String::new(), String::new(), String::new());
            for d in mine {
                id.push_str(d.id.as_deref().unwrap_or_default());
                name.push_str(d.name.as_deref().unwrap_or_default());
                arguments.push_str(&d.arguments);
            }
            assert_eq!(
                (&id, &name, &arguments),
                (&call.id, &call.name, &call.arguments)
            );
        }
        for (position, call) in calls.iter().enumerate() {
            assert_eq!(call.index as usize, position);
        }
        calls
            .into_iter()
            .map(|c| (c.id, c.name, c.arguments))
            .collect()
    }

    fn call(id: &str, name: &str, arguments: &str) -> (String, String, String) {
        (id.into(), name.into(), arguments.into())
    }

    fn protocol_error(values: &[&str]) -> String {
        let error = assemble(values).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::Protocol, "{error}");
        error.to_string()
    }

    #[test]
    fn openai_sends_id_and_name_once_then_argument_pieces() {
        assert_eq!(
            calls(&[
                r#"[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]"#,
                r#"[{"index":0,"function":{"arguments":"{\""}}]"#,
                r#"[{"index":0,"function":{"arguments":"city\":\"Seoul\"}"}}]"#,
                r#"[{"index":1,"id":"call_2","type":"function","function":{"name":"get_time","arguments":"{}"}}]"#,
            ]),
            [
                call("call_1", "get_weather", r#"{"city":"Seoul"}"#),
                call("call_2", "get_time", "{}")
            ]
        );
    }

    #[test]
    fn tgi_repeats_full_name_in_every_fragment() {
        // TGI 3.1: every fragment has `"id": ""` and the full name.
        assert_eq!(
            calls(&[
                r#"[{"function":{"arguments":"{\"","name":"get_n_day_weather_forecast"},"id":"","index":0,"type":"function"}]"#,
                r#"[{"function":{"arguments":"days\": 3","name":"get_n_day_weather_forecast"},"id":"","index":0,"type":"function"}]"#,
                r#"[{"function":{"arguments":"}","name":"get_n_day_weather_forecast"},"id":"","index":0,"type":"function"}]"#,
            ]),
            [call("", "get_n_day_weather_forecast", r#"{"days": 3}"#)]
        );
    }

    #[test]
    fn llamacpp_repeats_full_name_in_every_fragment() {
        assert_eq!(
            calls(&[
                r#"[{"index":0,"id":"abc","type":"function","function":{"name":"read_file","arguments":"{\"path\""}}]"#,
                r#"[{"index":0,"id":"abc","type":"function","function":{"name":"read_file","arguments":":\"a\"}"}}]"#,
            ]),
            [call("abc", "read_file", r#"{"path":"a"}"#)]
        );
    }

    #[test]
    fn vllm_sends_empty_id_in_later_fragments() {
        assert_eq!(
            calls(&[
                r#"[{"index":0,"id":"chatcmpl-tool-1","type":"function","function":{"name":"f","arguments":""}}]"#,
                r#"[{"index":0,"id":"","type":"function","function":{"arguments":"{\"a\":1}"}}]"#,
            ]),
            [call("chatcmpl-tool-1", "f", r#"{"a":1}"#)]
        );
    }

    #[test]
    fn lmstudio_sends_empty_name_in_later_fragments() {
        assert_eq!(
            calls(&[
                r#"[{"index":0,"id":"193629320","type":"function","function":{"name":"count","arguments":""}}]"#,
                r#"[{"index":0,"type":"function","function":{"name":"","arguments":"{\"n\""}}]"#,
                r#"[{"index":0,"type":"function","function":{"name":"","arguments":":2}"}}]"#,
            ]),
            [call("193629320", "count", r#"{"n":2}"#)]
        );
    }

    #[test]
    fn lmstudio_empty_placeholder_call_is_not_a_call() {
        assert_eq!(calls(&[r#"[{"id":"","type":"function"}]"#]), []);
    }

    #[test]
    fn ollama_leaves_index_out_and_sends_whole_calls() {
        assert_eq!(
            calls(&[
                r#"[{"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]"#,
                r#"[{"id":"call_b","type":"function","function":{"name":"g","arguments":"{}"}}]"#,
            ]),
            [call("call_a", "f", r#"{"x":1}"#), call("call_b", "g", "{}")]
        );
    }

    #[test]
    fn ollama_reuses_index_zero_with_a_new_id() {
        // Today's bug: one call named "fg" with arguments "{}{}".
        assert_eq!(
            calls(&[
                r#"[{"id":"call_a","index":0,"type":"function","function":{"name":"f","arguments":"{}"}}]"#,
                r#"[{"id":"call_b","index":0,"type":"function","function":{"name":"g","arguments":"{}"}}]"#,
            ]),
            [call("call_a", "f", "{}"), call("call_b", "g", "{}")]
        );
    }

    #[test]
    fn vllm_reuses_index_zero_for_a_second_streamed_call() {
        assert_eq!(
            calls(&[
                r#"[{"index":0,"id":"tool-1","type":"function","function":{"name":"f","arguments":""}}]"#,
                r#"[{"index":0,"id":"","type":"function","function":{"arguments":"{\"q\":1}"}}]"#,
                r#"[{"index":0,"id":"tool-2","type":"function","function":{"name":"f","arguments":""}}]"#,
                r#"[{"index":0,"id":"","type":"function","function":{"arguments":"{\"q\":2}"}}]"#,
            ]),
            [
                call("tool-1", "f", r#"{"q":1}"#),
                call("tool-2", "f", r#"{"q":2}"#)
            ]
        );
    }

    #[test]
    fn sglang_repeats_the_id_in_every_fragment_and_reuses_index_zero() {
        assert_eq!(
            calls(&[
                r#"[{"index":0,"id":"0","type":"function","function":{"name":"f","arguments":""}}]"#,
                r#"[{"index":0,"id":"0","type":"function","function":{"arguments":"{\"q\":1}"}}]"#,
                r#"[{"index":0,"id":"1","type":"function","function":{"name":"f","arguments":""}}]"#,
                r#"[{"index":0,"id":"1","type":"function","function":{"arguments":"{\"q\":2}"}}]"#,
            ]),
            [call("0", "f", r#"{"q":1}"#), call("1", "f", r#"{"q":2}"#)]
        );
    }

    #[test]
    fn a_new_name_after_arguments_on_the_same_index_is_another_call() {
        assert_eq!(
            calls(&[
                r#"[{"index":0,"function":{"name":"f","arguments":"{}"}}]"#,
                r#"[{"index":0,"function":{"name":"g","arguments":"{}"}}]"#,
            ]),
            [call("", "f", "{}"), call("", "g", "{}")]
        );
    }

    #[test]
    fn a_name_streamed_in_pieces_is_joined() {
        assert_eq!(
            calls(&[
                r#"[{"index":0,"id":"c","function":{"name":"get_"}}]"#,
                r#"[{"index":0,"function":{"name":"weather"}}]"#,
                r#"[{"index":0,"function":{"arguments":"{}"}}]"#,
            ]),
            [call("c", "get_weather", "{}")]
        );
    }

    #[test]
    fn llamacpp_sends_arguments_as_a_json_object() {
        assert_eq!(
            calls(&[
                r#"[{"index":0,"id":"c","type":"function","function":{"name":"f","arguments":{"b": 1, "a": [2]}}}]"#
            ]),
            [call("c", "f", r#"{"b": 1, "a": [2]}"#)]
        );
    }

    #[test]
    fn tgi_sends_tool_calls_as_one_object_with_null_name() {
        // TGI 2.4: `tool_calls` is an object, later fragments have `"name": null`.
        assert_eq!(
            calls(&[
                r#"{"function":{"arguments":"{\"","name":"get_current_weather"},"id":"","index":0,"type":"function"}"#,
                r#"{"function":{"arguments":"location\":\"Paris\"}","name":null},"id":"","index":0,"type":"function"}"#,
            ]),
            [call("", "get_current_weather", r#"{"location":"Paris"}"#)]
        );
    }

    #[test]
    fn vllm_sends_an_empty_fragment_with_the_finish_reason() {
        assert_eq!(
            calls(&[
                r#"[{"index":0,"id":"c","function":{"name":"f","arguments":"{}"}}]"#,
                r#"[{"index":0,"function":{"arguments":""}}]"#,
                r#"[{"index":3,"function":{"arguments":""}}]"#,
            ]),
            [call("c", "f", "{}")]
        );
    }

    #[test]
    fn vllm_resends_the_whole_arguments_in_its_final_chunk() {
        assert_eq!(
            calls(&[
                r#"[{"index":0,"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":"}}]"#,
                r#"[{"index":0,"function":{"arguments":"1}"}}]"#,
                r#"[{"index":0,"id":"c","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]"#,
            ]),
            [call("c", "f", r#"{"a":1}"#)]
        );
    }

    #[test]
    fn nulls_and_missing_members_are_tolerated() {
        assert_eq!(
            calls(&[
                "null",
                "[]",
                "[null]",
                r#"[{"index":null,"id":null,"type":null,"function":null}]"#,
                r#"[{"index":0,"id":"c","function":{"name":"f","arguments":null}}]"#,
                r#"[{"index":0,"function":{"arguments":"{}"}}]"#,
            ]),
            [call("c", "f", "{}")]
        );
    }

    #[test]
    fn interleaved_calls_are_kept_apart_by_index() {
        assert_eq!(
            calls(&[
                r#"[{"index":0,"id":"a","function":{"name":"f","arguments":""}},{"index":1,"id":"b","function":{"name":"g","arguments":""}}]"#,
                r#"[{"index":1,"function":{"arguments":"{\"y\""}}]"#,
                r#"[{"index":0,"function":{"arguments":"{\"x\":1}"}}]"#,
                r#"[{"index":1,"function":{"arguments":":2}"}}]"#,
            ]),
            [call("a", "f", r#"{"x":1}"#), call("b", "g", r#"{"y":2}"#)]
        );
    }

    #[test]
    fn server_indexes_need_not_start_at_zero() {
        assert_eq!(
            calls(&[
                r#"[{"index":7,"id":"a","function":{"name":"f","arguments":"{}"}}]"#,
                r#"[{"index":4294967295,"id":"b","function":{"name":"g","arguments":"{}"}}]"#,
            ]),
            [call("a", "f", "{}"), call("b", "g", "{}")]
        );
    }

    #[test]
    fn arguments_without_index_continue_the_last_call() {
        assert_eq!(
            calls(&[
                r#"[{"id":"a","function":{"name":"f","arguments":"{\"x\""}}]"#,
                r#"[{"function":{"arguments":":1}"}}]"#,
            ]),
            [call("a", "f", r#"{"x":1}"#)]
        );
    }

    #[test]
    fn bad_indexes_are_protocol_errors() {
        for index in ["-1", "1.5", "\"0\"", "4294967296", "true", "{}"] {
            let fragment = format!(r#"[{{"index":{index},"id":"a","function":{{"name":"f"}}}}]"#);
            let message = protocol_error(&[&fragment]);
            assert!(message.contains("index"), "{message}");
        }
    }

    #[test]
    fn arguments_of_other_types_are_protocol_errors() {
        for arguments in ["1", "true", "-0.5"] {
            let fragment = format!(
                r#"[{{"index":0,"id":"a","function":{{"name":"f","arguments":{arguments}}}}}]"#
            );
            protocol_error(&[&fragment]);
        }
    }

    #[test]
    fn a_second_different_json_object_is_a_protocol_error() {
        protocol_error(&[
            r#"[{"index":0,"id":"a","function":{"name":"f","arguments":{"x":1}}}]"#,
            r#"[{"index":0,"function":{"arguments":{"x":2}}}]"#,
        ]);
        // The same object again is a repeat.
        assert_eq!(
            calls(&[
                r#"[{"index":0,"id":"a","function":{"name":"f","arguments":{"x":1}}}]"#,
                r#"[{"index":0,"function":{"arguments":{ "x" : 1 }}}]"#,
            ]),
            [call("a", "f", r#"{"x":1}"#)]
        );
    }

    #[test]
    fn a_call_without_a_name_is_a_protocol_error() {
        let message = protocol_error(&[r#"[{"index":0,"function":{"arguments":"{}"}}]"#]);
        assert!(message.contains("name"), "{message}");
    }

    #[test]
    fn tool_calls_of_other_shapes_are_decode_errors() {
        for value in [
            "1",
            "\"x\"",
            "[1]",
            r#"[{"function":"f"}]"#,
            r#"[{"id":5}]"#,
        ] {
            assert!(
                serde_json::from_str::<WireToolCalls>(value).is_err(),
                "{value}"
            );
        }
    }

    #[test]
    fn escaped_strings_are_unescaped() {
        assert_eq!(
            calls(&[
                r#"[{"index":0,"id":"c\u0031","function":{"name":"f\u00e9","arguments":"{\"k\":\"\\n\"}"}}]"#
            ]),
            [call("c1", "fé", r#"{"k":"\n"}"#)]
        );
    }
}
