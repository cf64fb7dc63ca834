//! Rich deltas, assembled completions and non-streaming requests.

mod support;

use serde_json::json;
use support::*;
use upstage::{ChatRequest, Client, Delta, ErrorKind, Message};

fn client(server: &Server) -> Client {
    client_for(server)
}

fn ask() -> ChatRequest {
    ChatRequest::new("solar-pro4").message(Message::user("weather?"))
}

/// Serves these chunk JSONs then `[DONE]`.
fn serve_chunks(chunks: Vec<String>) -> Server {
    Server::start(move |conn: &mut Conn| {
        conn.start_sse();
        for chunk in &chunks {
            conn.sse_data(chunk);
        }
        conn.done().end_chunks();
    })
}

fn all_events(server: &Server) -> Vec<Delta> {
    let mut stream = client(server).stream(&ask()).unwrap();
    let mut events = Vec::new();
    while let Some(event) = stream.next_delta() {
        events.push(event.unwrap());
    }
    events
}

#[test]
fn reasoning_then_content_in_order_and_tokens_skip_reasoning() {
    let chunks = vec![
        role_json(),
        delta_json(r#"{"reasoning":"Let me "}"#, "null"),
        delta_json(r#"{"reasoning_content":"think."}"#, "null"),
        chunk_json("Sunny"),
        finish_json("stop"),
    ];
    let server = serve_chunks(chunks.clone());
    assert_eq!(
        all_events(&server),
        [
            Delta::Reasoning("Let me ".into()),
            Delta::Reasoning("think.".into()),
            Delta::Content("Sunny".into()),
            Delta::Finish("stop".into()),
        ]
    );
    let tokens: Vec<String> = client(&server)
        .stream(&ask())
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(tokens, ["Sunny"]);
}

#[test]
fn parallel_tool_calls_interleave_by_index_and_assemble() {
    let fragment = |index: u32, id: Option<&str>, name: Option<&str>, args: &str| {
        let mut function = json!({"arguments": args});
        if let Some(name) = name {
            function["name"] = json!(name);
        }
        let mut call = json!({"index": index, "type": "function", "function": function});
        if let Some(id) = id {
            call["id"] = json!(id);
        }
        delta_json(&json!({"tool_calls": [call]}).to_string(), "null")
    };
    // Arguments split mid-escape (`\` | `"`) and between the bytes of a multi-byte
    // character's escape pair, interleaved between two calls.
    let chunks = vec![
        fragment(0, Some("call_a"), Some("weather"), "{\"city\": \"Seo"),
        fragment(1, Some("call_b"), Some("time"), "{\"tz\": \"As"),
        fragment(0, None, None, "ul \\"),
        fragment(1, None, None, "ia/Tōkyō\"}"),
        fragment(0, None, None, "\"한\\\" 🎉\"}"),
        finish_json("tool_calls"),
    ];
    let server = serve_chunks(chunks);
    let events = all_events(&server);
    let Delta::ToolCall(first) = &events[0] else {
        panic!("not a tool call: {:?}", events[0]);
    };
    assert_eq!(
        (first.index, first.id.as_deref(), first.name.as_deref()),
        (0, Some("call_a"), Some("weather"))
    );
    assert_eq!(first.arguments, "{\"city\": \"Seo");
    assert_eq!(events.last(), Some(&Delta::Finish("tool_calls".into())));
    let completion = client(&server)
        .stream(&ask())
        .unwrap()
        .into_completion()
        .unwrap();
    let calls: Vec<(u32, &str, &str, &str)> = completion
        .tool_calls
        .iter()
        .map(|c| {
            (
                c.index,
                c.id.as_str(),
                c.name.as_str(),
                c.arguments.as_str(),
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            (
                0,
                "call_a",
                "weather",
                "{\"city\": \"Seoul \\\"한\\\" 🎉\"}"
            ),
            (1, "call_b", "time", "{\"tz\": \"Asia/Tōkyō\"}"),
        ]
    );
    let args: serde_json::Value =
        serde_json::from_str(&completion.tool_calls[0].arguments).unwrap();
    assert_eq!(args["city"], json!("Seoul \"한\" 🎉"));
    assert_eq!(completion.finish_reason.as_deref(), Some("tool_calls"));
}

#[test]
fn usage_in_a_choices_empty_chunk_or_in_the_last_content_chunk() {
    let separate = serve_chunks(vec![chunk_json("a"), finish_json("stop"), usage_json(3, 1)]);
    let events = all_events(&separate);
    assert!(matches!(events.last(), Some(Delta::Usage(u)) if u.total_tokens == 4));

    let together = serve_chunks(vec![
        chunk_json("a"),
        r#"{"choices":[{"delta":{"content":"b"},"finish_reason":"length"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}"#.into(),
    ]);
    let mut stream = client(&together).stream(&ask()).unwrap();
    let tokens: Vec<String> = stream.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(tokens, ["a", "b"]);
    assert_eq!(stream.finish_reason(), Some("length"));
    let usage = stream.usage().unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens,
            usage.reasoning_tokens,
            usage.cached_tokens
        ),
        (5, 2, 7, None, None)
    );
}

#[test]
fn refusal_is_its_own_delta() {
    let server = serve_chunks(vec![
        delta_json(r#"{"refusal":"I can't help with that."}"#, "null"),
        finish_json("stop"),
    ]);
    assert_eq!(
        all_events(&server)[0],
        Delta::Refusal("I can't help with that.".into())
    );
    let completion = client(&server)
        .stream(&ask())
        .unwrap()
        .into_completion()
        .unwrap();
    assert_eq!(completion.refusal, "I can't help with that.");
    assert_eq!(completion.content, "");
}

#[test]
fn finish_reasons_are_any_string_and_empty_means_none() {
    for reason in [
        "stop",
        "length",
        "tool_calls",
        "content_filter",
        "eos_token_42",
    ] {
        let server = serve_chunks(vec![chunk_json("x"), finish_json(reason)]);
        let mut stream = client(&server).stream(&ask()).unwrap();
        while stream.next_token().is_some() {}
        assert_eq!(stream.finish_reason(), Some(reason));
    }
    let server = serve_chunks(vec![chunk_json("x"), finish_json("")]);
    let mut stream = client(&server).stream(&ask()).unwrap();
    while stream.next_token().is_some() {}
    assert_eq!(stream.finish_reason(), None);
    assert!(!all_events(&server)
        .iter()
        .any(|e| matches!(e, Delta::Finish(_))));
}

#[test]
fn mixing_next_event_and_next_token_loses_nothing() {
    let server = serve_chunks(vec![
        r#"{"choices":[{"delta":{"reasoning":"r","content":"c1"}}]}"#.into(),
        chunk_json("c2"),
        finish_json("stop"),
    ]);
    let mut stream = client(&server).stream(&ask()).unwrap();
    assert_eq!(
        stream.next_delta().unwrap().unwrap(),
        Delta::Reasoning("r".into())
    );
    assert_eq!(stream.next_token().unwrap().unwrap(), "c1");
    assert_eq!(stream.next_token().unwrap().unwrap(), "c2");
    assert!(stream.next_token().is_none());
}

#[test]
fn complete_sends_stream_false_and_reads_the_whole_answer() {
    let server = Server::start(serve_json(
        200,
        r#"{"id":"cmpl-1","object":"chat.completion","model":"solar-pro4-250710","choices":[{"index":0,"message":{"role":"assistant","content":"Clear skies.","reasoning":"Checked.","tool_calls":[{"id":"t1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Seoul\"}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":10,"completion_tokens":4,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":8}}}"#,
    ));
    let request = ask().tools(json!([{"type": "function", "function": {"name": "weather"}}]));
    let completion = client(&server).complete(&request).unwrap();
    assert_eq!(completion.content, "Clear skies.");
    assert_eq!(completion.reasoning, "Checked.");
    assert_eq!(completion.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(completion.model.as_deref(), Some("solar-pro4-250710"));
    assert_eq!(completion.id.as_deref(), Some("cmpl-1"));
    assert_eq!(completion.usage.unwrap().cached_tokens, Some(8));
    assert_eq!(completion.tool_calls.len(), 1);
    assert_eq!(completion.tool_calls[0].name, "weather");
    assert_eq!(completion.tool_calls[0].arguments, r#"{"city":"Seoul"}"#);
    let sent = server.requests()[0].json.clone().unwrap();
    assert_eq!(sent["stream"], json!(false));
    assert_eq!(sent["tools"][0]["function"]["name"], json!("weather"));
}

#[test]
fn complete_drains_a_server_that_streams_anyway() {
    let server = Server::start(serve_tokens(&["streamed ", "anyway"]));
    let completion = client(&server).complete(&ask()).unwrap();
    assert_eq!(completion.content, "streamed anyway");
    assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
}

#[test]
fn complete_reports_errors_in_a_200_json_answer() {
    let server = Server::start(serve_json(
        200,
        r#"{"error":{"message":"context too long","code":"context_length_exceeded"}}"#,
    ));
    let err = client(&server).complete(&ask()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Api);
    assert_eq!(err.message(), "context too long");
    assert_eq!(err.api_code(), Some("context_length_exceeded"));
}

#[test]
fn a_json_answer_that_is_not_a_completion_is_a_protocol_error() {
    let server = Server::start(serve_json(200, "[1, 2, 3]"));
    let err = client(&server).complete(&ask()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
}
