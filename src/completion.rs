//! What a chat produces: streamed [`Delta`]s and the assembled [`ChatCompletion`].

use crate::headers::ResponseHeaders;
use crate::rate_limit::RateLimit;
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

/// A fragment of a tool call as it streams; fragments with the same `index` form one call.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ToolCallDelta {
    /// Which call this fragment belongs to.
    pub index: u32,
    /// The call id, usually only in the first fragment.
    pub id: Option<String>,
    /// The function name, usually only in the first fragment.
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ToolCall {
    /// The position the server gave the call.
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
}

/// A whole answer: from [`Client::complete`](crate::Client::complete) or
/// [`ChatStream::into_completion`](crate::ChatStream::into_completion).
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct ChatCompletion {
    /// The answer text.
    pub content: String,
    /// The reasoning text (empty when the model sent none).
    pub reasoning: String,
    /// The refusal text (empty when the model did not refuse).
    pub refusal: String,
    /// Tool calls, ordered by index.
    pub tool_calls: Vec<ToolCall>,
    /// Why generation stopped.
    pub finish_reason: Option<String>,
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
