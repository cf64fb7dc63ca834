//! What a chat produces: streamed [`Delta`]s and the assembled [`ChatCompletion`].

use crate::choices::{Choice, Logprobs};
use crate::rate_limit::RateLimit;
use crate::response_headers::ResponseHeaders;
use crate::timings::Timings;

/// Token counts reported by the server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u64,
    /// Tokens generated.
    pub completion_tokens: u64,
    /// Prompt plus completion (computed when the server leaves it out).
    pub total_tokens: u64,
    /// Generated tokens spent on reasoning, when reported.
    pub reasoning_tokens: Option<u64>,
    /// Prompt tokens served from cache, when reported.
    pub cached_tokens: Option<u64>,
}

/// What a tool-call fragment added to a call; the deltas with the same `index` add up to
/// the call, whatever shape the server streamed it in (see [`ToolCall`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ToolCallDelta {
    /// Which call this fragment belongs to: the call's position among the choice's calls
    /// ([`ToolCall::index`]), not necessarily the server's own number.
    pub index: u32,
    /// The call id, when this fragment brought it (once per call).
    pub id: Option<String>,
    /// The function name (or a piece of it), when this fragment brought it; a server that
    /// repeats the full name in every fragment has it handed out once.
    pub name: Option<String>,
    /// A piece of the JSON arguments (may split anywhere, even inside a UTF-8 character's
    /// escape sequence on the wire; here it is always whole characters).
    pub arguments: String,
}

impl ToolCallDelta {
    /// A whole call as a single fragment (what a non-streaming answer amounts to).
    pub fn whole(call: &ToolCall) -> ToolCallDelta {
        ToolCallDelta {
            index: call.index,
            id: Some(call.id.clone()),
            name: Some(call.name.clone()),
            arguments: call.arguments.clone(),
        }
    }
}

/// A whole tool call, its arguments assembled from every fragment.
///
/// Servers stream tool calls in several shapes (the name repeated in every fragment, empty
/// ids in later fragments, no `index`, one `index` reused for several calls, arguments as a
/// JSON object): each is assembled into the calls the model made, and anything that cannot
/// be read as a call is an [`ErrorKind::Protocol`](crate::ErrorKind::Protocol) error. Whether
/// the arguments are valid JSON is for [`arguments_are_json`](ToolCall::arguments_are_json)
/// to say: a model may stop in the middle of an object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ToolCall {
    /// The call's position among the choice's calls, in the order they appeared (0, 1, ...).
    pub index: u32,
    /// The call id, to answer with [`Message::tool`](crate::Message::tool).
    pub id: String,
    /// The function to call.
    pub name: String,
    /// The JSON arguments, as text.
    pub arguments: String,
}

/// One thing a stream reports, in the order the server sent it.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Delta {
    /// Answer text.
    Content(String),
    /// Reasoning text (`delta.reasoning` or `delta.reasoning_content`).
    Reasoning(String),
    /// A tool-call fragment.
    ToolCall(ToolCallDelta),
    /// Refusal text.
    Refusal(String),
    /// Why generation stopped (`stop`, `length`, `tool_calls`, or any server string).
    Finish(String),
    /// Token usage.
    Usage(Usage),
    /// The log probabilities of a chunk's tokens, when the request asked for them
    /// (`"logprobs": true`).
    Logprobs(Logprobs),
}

/// A [`Delta`] with the choice it belongs to, from
/// [`ChatStream::next_choice_delta`](crate::ChatStream::next_choice_delta). A request with
/// `"n": 2` gets the deltas of its two answers interleaved; [`Delta::Usage`], which is about
/// the whole request, comes with choice 0.
#[derive(Clone, Debug, PartialEq)]
pub struct ChoiceDelta {
    /// The choice's index (`0..n`).
    pub choice: u32,
    /// What it reported.
    pub delta: Delta,
}

/// A whole answer: from [`Client::complete`](crate::Client::complete) or
/// [`ChatStream::into_completion`](crate::ChatStream::into_completion).
///
/// A request may ask for several answers (`"n": 2`): [`choices`](ChatCompletion::choices)
/// holds every one, ordered by index, and the fields `content` to `finish_reason` and
/// `logprobs` are choice 0's.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ChatCompletion {
    /// The answer text.
    pub content: String,
    /// The reasoning text (empty when the model sent none).
    pub reasoning: String,
    /// The refusal text (empty when the model did not refuse).
    pub refusal: String,
    /// Tool calls, in the order they appeared.
    pub tool_calls: Vec<ToolCall>,
    /// Why generation stopped.
    pub finish_reason: Option<String>,
    /// Log probabilities of the tokens, when asked for and sent.
    pub logprobs: Option<Logprobs>,
    /// Every answer, ordered by index (one unless the request set `"n"`); choice 0 is also
    /// in the fields above.
    pub choices: Vec<Choice>,
    /// Token usage, when the server reported it.
    pub usage: Option<Usage>,
    /// The model that answered, as the server named it.
    pub model: Option<String>,
    /// The completion id.
    pub id: Option<String>,
    /// The response's `x-request-id` header.
    pub request_id: Option<String>,
    /// The response headers (empty for an answer read from a plain body).
    pub headers: ResponseHeaders,
    /// How long the answer took, and how much was received.
    pub timings: Timings,
}

impl ChatCompletion {
    /// The first value of response header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)
    }

    /// The rate limits the response reported (`x-ratelimit-*` headers), when it did.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        RateLimit::from_headers(&self.headers)
    }
}

impl ChatCompletion {
    /// A completion from its choices (choice 0 first) and what is common to them.
    pub(crate) fn from_choices(choices: Vec<Choice>) -> ChatCompletion {
        let mut completion = ChatCompletion::default();
        if let Some(first) = choices.first() {
            completion.content.clone_from(&first.content);
            completion.reasoning.clone_from(&first.reasoning);
            completion.refusal.clone_from(&first.refusal);
            completion.tool_calls.clone_from(&first.tool_calls);
            completion.finish_reason.clone_from(&first.finish_reason);
            completion.logprobs.clone_from(&first.logprobs);
        }
        completion.choices = choices;
        completion
    }

    /// The answer (choice 0) as the assistant message that continues the conversation:
    /// its content and tool calls. Append it to the request, then one
    /// [`Message::tool`](crate::Message::tool) per call:
    ///
    /// ```no_run
    /// # fn run_tool(call: &upstage::ToolCall) -> String { String::new() }
    /// use upstage::{ChatRequest, Client, Message};
    ///
    /// let client = Client::from_env()?;
    /// let mut request = ChatRequest::new("solar-pro4")
    ///     .message(Message::user("What is the weather in Seoul?"))
    ///     .tools(serde_json::json!([{"type": "function", "function": {"name": "get_weather",
    ///         "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]));
    /// loop {
    ///     let answer = client.complete(&request)?;
    ///     if answer.tool_calls.is_empty() {
    ///         println!("{}", answer.content);
    ///         break;
    ///     }
    ///     request.push_message(answer.to_message());
    ///     for call in &answer.tool_calls {
    ///         request.push_message(Message::tool(&call.id, run_tool(call)));
    ///     }
    /// }
    /// # Ok::<(), upstage::Error>(())
    /// ```
    pub fn to_message(&self) -> crate::Message {
        match self.choices.first() {
            Some(first) => first.to_message(),
            None => Choice::from_fields(self).to_message(),
        }
    }

    /// [`to_message`](ChatCompletion::to_message) plus the reasoning, for servers that want
    /// it back (see [`Choice::to_message_with_reasoning`]).
    pub fn to_message_with_reasoning(&self) -> crate::Message {
        match self.choices.first() {
            Some(first) => first.to_message_with_reasoning(),
            None => Choice::from_fields(self).to_message_with_reasoning(),
        }
    }
}
