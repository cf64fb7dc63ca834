//! The chat request: model, messages and generation parameters, and the JSON body the
//! official API (and every OpenAI-compatible server) takes.

use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::overrides::Overrides;

/// The role of a message's author.
///
/// Messages store their role as a string, so any role a server accepts can be sent with
/// [`Message::new`]; this enum names the four every chat server knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The person chatting.
    User,
    /// The model's earlier answers.
    Assistant,
    /// The result of a tool call (with a `tool_call_id`).
    Tool,
}

impl Role {
    /// The wire name: `system`, `user`, `assistant` or `tool`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

impl AsRef<str> for Role {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// One message of a conversation.
///
/// `content` is any JSON value: usually a string, but a list of content parts
/// (`[{"type": "text", "text": ...}, ...]`) and `null` (an assistant message that only
/// calls tools) are sent as given. Other fields (`tool_call_id`, `name`, `tool_calls`)
/// are kept in order and sent verbatim.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    role: String,
    content: Value,
    fields: Map<String, Value>,
}

impl Message {
    /// A message with any role and content.
    pub fn new(role: impl AsRef<str>, content: impl Into<Value>) -> Message {
        Message {
            role: role.as_ref().to_owned(),
            content: content.into(),
            fields: Map::new(),
        }
    }

    /// A `system` message.
    pub fn system(content: impl Into<Value>) -> Message {
        Message::new(Role::System, content)
    }

    /// A `user` message.
    pub fn user(content: impl Into<Value>) -> Message {
        Message::new(Role::User, content)
    }

    /// An `assistant` message.
    pub fn assistant(content: impl Into<Value>) -> Message {
        Message::new(Role::Assistant, content)
    }

    /// A `tool` message answering the tool call `tool_call_id`.
    pub fn tool(tool_call_id: impl Into<String>, content: impl Into<Value>) -> Message {
        Message::new(Role::Tool, content).with_field("tool_call_id", tool_call_id.into())
    }

    /// Adds (or replaces) another field of the message, such as `name` or `tool_calls`.
    pub fn with_field(mut self, name: impl Into<String>, value: impl Into<Value>) -> Message {
        self.set_field(name.into(), value.into());
        self
    }

    fn set_field(&mut self, name: String, value: Value) {
        match name.as_str() {
            "role" => self.role = value.as_str().map(str::to_owned).unwrap_or_default(),
            "content" => self.content = value,
            _ => {
                self.fields.insert(name, value);
            }
        }
    }

    /// The author's role as sent.
    pub fn role(&self) -> &str {
        &self.role
    }

    /// The content as sent.
    pub fn content(&self) -> &Value {
        &self.content
    }

    /// Another field of the message (`tool_call_id`, `name`, ...), if set.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }

    /// Parses one message object: `role` must be a string, `content` may be absent.
    fn from_value(value: Value, index: usize) -> Result<Message> {
        let mut object = match value {
            Value::Object(object) => object,
            other => {
                return Err(Error::invalid_argument(format!(
                    "messages[{index}] must be an object, not {}",
                    json_type(&other)
                )))
            }
        };
        let role = match object.remove("role") {
            Some(Value::String(role)) => role,
            Some(other) => {
                return Err(Error::invalid_argument(format!(
                    "messages[{index}].role must be a string, not {}",
                    json_type(&other)
                )));
            }
            None => {
                return Err(Error::invalid_argument(format!(
                    "messages[{index}] has no \"role\""
                )));
            }
        };
        let content = object.remove("content").unwrap_or(Value::Null);
        Ok(Message {
            role,
            content,
            fields: object,
        })
    }

    fn to_value(&self) -> Value {
        let mut object = Map::with_capacity(2 + self.fields.len());
        object.insert("role".into(), Value::String(self.role.clone()));
        object.insert("content".into(), self.content.clone());
        for (name, value) in &self.fields {
            object.insert(name.clone(), value.clone());
        }
        Value::Object(object)
    }
}

/// A chat completion request: an optional model, the messages, and any body parameters.
///
/// Typed setters cover the common parameters; [`ChatRequest::param`] sets any other body
/// field (vendor extensions included) verbatim. `stream` is always decided by the client.
///
/// ```
/// use upstage::{ChatRequest, Message};
///
/// let request = ChatRequest::new("solar-pro4")
///     .message(Message::system("Answer in one word."))
///     .message(Message::user("Capital of France?"))
///     .temperature(0.2)
///     .max_tokens(16);
/// assert_eq!(request.messages().len(), 2);
/// ```
#[must_use = "a builder does nothing until it is used"]
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ChatRequest {
    model: Option<String>,
    messages: Vec<Message>,
    params: Map<String, Value>,
    /// Headers, query parameters, timeouts and retries this request changes.
    overrides: Overrides,
}

impl ChatRequest {
    /// A request for `model`; an empty name means the client's default model.
    pub fn new(model: impl Into<String>) -> ChatRequest {
        let model = model.into();
        ChatRequest {
            model: (!model.is_empty()).then_some(model),
            ..ChatRequest::default()
        }
    }

    /// Parses a whole request body (`{"model": ..., "messages": [...], ...}`).
    ///
    /// `messages` is required; `model` is optional; `stream` is ignored (the client decides);
    /// every other field is kept as a parameter.
    pub fn from_json(body: &str) -> Result<ChatRequest> {
        let value: Value = serde_json::from_str(body)
            .map_err(|e| Error::invalid_argument(format!("request body is not valid JSON: {e}")))?;
        let Value::Object(mut object) = value else {
            return Err(Error::invalid_argument(
                "request body must be a JSON object",
            ));
        };
        let messages = match object.remove("messages") {
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, m)| Message::from_value(m, i))
                .collect::<Result<Vec<_>>>()?,
            Some(_) => return Err(Error::invalid_argument("`messages` must be an array")),
            None => return Err(Error::invalid_argument("request body has no `messages`")),
        };
        let model = match object.remove("model") {
            Some(Value::String(model)) => Some(model).filter(|m| !m.is_empty()),
            Some(Value::Null) | None => None,
            Some(_) => return Err(Error::invalid_argument("`model` must be a string")),
        };
        object.remove("stream");
        Ok(ChatRequest {
            model,
            messages,
            params: object,
            overrides: Overrides::default(),
        })
    }

    /// Parses a JSON array of messages (`[{"role": ..., "content": ...}, ...]`).
    pub fn messages_from_json(json: &str) -> Result<Vec<Message>> {
        let value: Value = serde_json::from_str(json)
            .map_err(|e| Error::invalid_argument(format!("messages are not valid JSON: {e}")))?;
        let items = match value {
            Value::Array(items) => items,
            other => {
                return Err(Error::invalid_argument(format!(
                    "messages must be a JSON array, not {}",
                    json_type(&other)
                )))
            }
        };

        items
            .into_iter()
            .enumerate()
            .map(|(i, m)| Message::from_value(m, i))
            .collect()
    }

    /// Sets the model (empty: the client's default).
    pub fn model(mut self, model: impl Into<String>) -> ChatRequest {
        self.set_model(model);
        self
    }

    /// Sets the model in place (empty: the client's default).
    pub fn set_model(&mut self, model: impl Into<String>) {
        let model = model.into();
        self.model = (!model.is_empty()).then_some(model);
    }

    /// Appends a message.
    pub fn message(mut self, message: Message) -> ChatRequest {
        self.messages.push(message);
        self
    }

    /// Appends messages.
    pub fn messages_extend(mut self, messages: impl IntoIterator<Item = Message>) -> ChatRequest {
        self.messages.extend(messages);
        self
    }

    /// Appends a message in place.
    pub fn push_message(&mut self, message: Message) {
        self.messages.push(message);
    }

    /// Sampling temperature.
    pub fn temperature(self, temperature: f64) -> ChatRequest {
        self.param("temperature", temperature)
    }

    /// Nucleus sampling probability mass.
    pub fn top_p(self, top_p: f64) -> ChatRequest {
        self.param("top_p", top_p)
    }

    /// The most tokens to generate.
    pub fn max_tokens(self, max_tokens: u32) -> ChatRequest {
        self.param("max_tokens", max_tokens)
    }

    /// Stop sequences.
    pub fn stop<S: Into<String>>(self, stop: impl IntoIterator<Item = S>) -> ChatRequest {
        let stop: Vec<Value> = stop.into_iter().map(|s| Value::String(s.into())).collect();
        self.param("stop", stop)
    }

    /// Reasoning effort for reasoning models (`low`, `medium`, `high`).
    pub fn reasoning_effort(self, effort: impl Into<String>) -> ChatRequest {
        self.param("reasoning_effort", effort.into())
    }

    /// The response format object (`{"type": "json_object"}`, a JSON schema, ...).
    pub fn response_format(self, format: Value) -> ChatRequest {
        self.param("response_format", format)
    }

    /// The tools the model may call (an array of tool objects).
    pub fn tools(self, tools: Value) -> ChatRequest {
        self.param("tools", tools)
    }

    /// How the model chooses tools (`"auto"`, `"none"`, `"required"` or an object).
    pub fn tool_choice(self, choice: impl Into<Value>) -> ChatRequest {
        self.param("tool_choice", choice.into())
    }

    /// Stream options, such as `{"include_usage": true}`.
    pub fn stream_options(self, options: Value) -> ChatRequest {
        self.param("stream_options", options)
    }

    /// Sets any body field verbatim. `model` and `messages` set those parts of the request;
    /// `stream` is ignored because the client decides it.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<Value>) -> ChatRequest {
        // Infallible for these value types: only `messages` can be rejected, and a
        // builder chain has no error path, so a malformed `messages` value is dropped.
        let _ = self.set_param(name, value);
        self
    }

    /// Sets any body field in place; a `messages` value must be an array of message objects.
    pub fn set_param(&mut self, name: impl Into<String>, value: impl Into<Value>) -> Result<()> {
        let name = name.into();
        let value = value.into();
        match name.as_str() {
            "stream" => {}
            "model" => match value {
                Value::String(model) => self.set_model(model),
                Value::Null => self.model = None,
                _ => return Err(Error::invalid_argument("`model` must be a string")),
            },
            "messages" => {
                let Value::Array(items) = value else {
                    return Err(Error::invalid_argument("`messages` must be an array"));
                };
                self.messages = items
                    .into_iter()
                    .enumerate()
                    .map(|(i, m)| Message::from_value(m, i))
                    .collect::<Result<_>>()?;
            }
            _ => {
                self.params.insert(name, value);
            }
        }
        Ok(())
    }

    /// The model, when one was set.
    pub fn model_name(&self) -> Option<&str> {
        self.model.as_deref()
    }

    /// The messages.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// A body parameter, when set.
    pub fn parameter(&self, name: &str) -> Option<&Value> {
        self.params.get(name)
    }

    /// The body parameters other than `model`, `messages` and `stream`.
    pub(crate) fn params(&self) -> &Map<String, Value> {
        &self.params
    }

    /// The JSON body of the official API (and every OpenAI-compatible server): the model
    /// (or `default_model`), the messages as given, `stream`, and every other parameter.
    /// Empty messages are an error before any I/O.
    pub(crate) fn api_body(&self, default_model: &str, stream: bool) -> Result<Vec<u8>> {
        self.check_not_empty()?;
        let mut object = Map::with_capacity(3 + self.params.len());
        let model = self.model.as_deref().unwrap_or(default_model);
        object.insert("model".into(), model.into());
        let messages = self.messages.iter().map(Message::to_value).collect();
        object.insert("messages".into(), Value::Array(messages));
        object.insert("stream".into(), stream.into());
        for (name, value) in &self.params {
            object.insert(name.clone(), value.clone());
        }
        serde_json::to_vec(&Value::Object(object))
            .map_err(|e| Error::invalid_argument(format!("cannot serialize the request: {e}")))
    }

    /// A request without messages cannot be sent.
    pub(crate) fn check_not_empty(&self) -> Result<()> {
        match self.messages.is_empty() {
            true => Err(Error::invalid_argument("the request has no messages")),
            false => Ok(()),
        }
    }
}

/// The JSON name of a value's type, for error messages.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// What one request adds to, or changes in, its client's configuration.
impl ChatRequest {
    /// Adds a header to this request, replacing a client header of the same name
    /// (case-insensitive), the client's own `User-Agent` and `Authorization` included.
    /// A name or value with CR, LF or NUL, an invalid header name, or `Content-Length`,
    /// `Host` or `Transfer-Encoding` (set by the HTTP layer) make sending the request fail
    /// with [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument), before any I/O.
    ///
    /// ```
    /// let request = upstage::ChatRequest::new("solar-pro4")
    ///     .header("X-Title", "My app")
    ///     .query("api-version", "2024-10-21");
    /// assert_eq!(request.headers().collect::<Vec<_>>(), [("X-Title", "My app")]);
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> ChatRequest {
        self.overrides.headers.push(name, value);
        self
    }

    /// Adds a query parameter (percent-encoded) after the client's. An empty name makes
    /// sending the request fail with [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument).
    pub fn query(mut self, name: impl Into<String>, value: impl Into<String>) -> ChatRequest {
        self.overrides.query.push(name.into(), value.into());
        self
    }

    /// This request's connect timeout instead of the client's (`None`: no limit).
    pub fn connect_timeout(mut self, timeout: Option<Duration>) -> ChatRequest {
        self.overrides.connect = Some(timeout);
        self
    }

    /// This request's response-headers timeout instead of the client's (`None`: no limit).
    pub fn headers_timeout(mut self, timeout: Option<Duration>) -> ChatRequest {
        self.overrides.headers_timeout = Some(timeout);
        self
    }

    /// This request's idle timeout instead of the client's (`None`: no limit).
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> ChatRequest {
        self.overrides.idle = Some(timeout);
        self
    }

    /// This request's total timeout instead of the client's (`None`: no limit).
    pub fn total_timeout(mut self, timeout: Option<Duration>) -> ChatRequest {
        self.overrides.total = Some(timeout);
        self
    }

    /// How many times this request is retried before its first token, instead of the
    /// client's count.
    pub fn max_retries(mut self, retries: u32) -> ChatRequest {
        self.overrides.max_retries = Some(retries);
        self
    }

    /// The headers this request adds, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.overrides.headers.iter()
    }

    /// The query parameters this request adds, in order.
    pub fn query_params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.overrides
            .query
            .as_slice()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub(crate) fn overrides(&self) -> &Overrides {
        &self.overrides
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Vec<u8>) -> Value {
        serde_json::from_slice(&body).unwrap()
    }

    #[test]
    fn api_body_sends_messages_as_given_with_parameters() {
        let request = ChatRequest::new("")
            .message(Message::system("S"))
            .message(Message::user("Q"))
            .message(Message::tool("call_1", "42"))
            .temperature(0.5)
            .max_tokens(7)
            .stop(["\n"])
            .param("seed", 3);
        let body = parse(request.api_body("solar-pro4", true).unwrap());
        assert_eq!(
            body,
            json!({
                "model": "solar-pro4",
                "stream": true,
                "messages": [
                    {"role": "system", "content": "S"},
                    {"role": "user", "content": "Q"},
                    {"role": "tool", "content": "42", "tool_call_id": "call_1"}
                ],
                "temperature": 0.5, "max_tokens": 7, "stop": ["\n"], "seed": 3
            })
        );
    }

    #[test]
    fn web_demo_body_flattens_the_conversation_and_resolves_the_model() {
        let request = ChatRequest::new("solar-mini")
            .message(Message::system("Be brief"))
            .message(Message::user("Hi"))
            .top_p(0.9);
        let body = parse(crate::web_demo::request_body(&request, true).unwrap());
        assert_eq!(
            body,
            json!({
                "stream": true,
                "messages": [{"role": "user", "content": "System: Be brief\nUser: Hi\nAssistant:"}],
                "model": "upstage/solar-1-mini-chat-ja",
                "top_p": 0.9
            })
        );
    }

    #[test]
    fn empty_messages_are_an_invalid_argument() {
        let request = ChatRequest::new("m");
        let api = request.api_body("d", true).unwrap_err();
        let demo = crate::web_demo::request_body(&request, true).unwrap_err();
        for err in [api, demo] {
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument);
        }
    }

    #[test]
    fn from_json_keeps_every_field_but_stream() {
        let request = ChatRequest::from_json(
            r#"{"model":"m","stream":false,"messages":[{"role":"user","content":[{"type":"text","text":"a"}],"name":"bob"}],"tools":[],"x":{"y":1}}"#,
        )
        .unwrap();
        assert_eq!(request.model_name(), Some("m"));
        assert_eq!(request.messages()[0].field("name"), Some(&json!("bob")));
        assert_eq!(request.parameter("x"), Some(&json!({"y": 1})));
        assert_eq!(request.parameter("stream"), None);
        let body = parse(request.api_body("d", true).unwrap());
        assert_eq!(body["stream"], json!(true));
        assert_eq!(body["tools"], json!([]));
    }

    #[test]
    fn from_json_rejects_malformed_bodies() {
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"messages": 3}"#,
            r#"{"messages": [3]}"#,
            r#"{"messages": [{"content": "x"}]}"#,
            r#"{"messages": [{"role": 1}]}"#,
            r#"{"messages": [], "model": 5}"#,
        ] {
            let err = ChatRequest::from_json(bad).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidArgument, "{bad}");
        }
    }

    #[test]
    fn set_param_routes_model_and_messages() {
        let mut request = ChatRequest::default();
        request.set_param("model", "x").unwrap();
        request
            .set_param("messages", json!([{"role": "user", "content": "hi"}]))
            .unwrap();
        request.set_param("stream", false).unwrap();
        assert_eq!(request.model_name(), Some("x"));
        assert_eq!(request.messages().len(), 1);
        assert_eq!(request.parameter("stream"), None);
        assert!(request.set_param("messages", "nope").is_err());
        assert!(request.set_param("model", 3).is_err());
    }
}
