//! What real servers send, replayed byte for byte from `tests/fixtures/servers/`: several
//! choices (`n`), tool-call fragments in every shape servers produce, log probabilities,
//! in-band errors, and what a failed stream still gives back. Each test is named after the
//! server whose stream it replays; each fixture's first lines say where its shape comes from.

mod support;

use std::path::Path;

use serde_json::{json, Value};
use support::*;
use upstage::{
    ChatCompletion, ChatRequest, ChoiceDelta, Client, ClientBuilder, Delta, ErrorKind, Message,
    ToolCall,
};

/// The bytes of `tests/fixtures/servers/<name>.sse`.
fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/servers")
        .join(format!("{name}.sse"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A server that answers every request with the fixture, byte for byte.
fn replay(name: &str) -> Server {
    let body = fixture(name);
    Server::start(move |conn: &mut Conn| {
        conn.start_sse().chunk(&body).end_chunks();
    })
}

fn ask() -> ChatRequest {
    ChatRequest::new(TEST_MODEL).message(Message::user("Hi"))
}

fn completion_of(server: &Server) -> ChatCompletion {
    client_for(server)
        .stream(&ask())
        .unwrap()
        .into_completion()
        .unwrap()
}

fn call(index: u32, id: &str, name: &str, arguments: &str) -> ToolCall {
    let mut call = ToolCall::default();
    call.index = index;
    call.id = id.into();
    call.name = name.into();
    call.arguments = arguments.into();
    call
}

/// The tool-call deltas of choice 0, as events hand them out.
fn tool_deltas(server: &Server) -> Vec<upstage::ToolCallDelta> {
    let mut stream = client_for(server).stream(&ask()).unwrap();
    let mut out = Vec::new();
    while let Some(delta) = stream.next_delta() {
        if let Delta::ToolCall(call) = delta.unwrap() {
            out.push(call);
        }
    }
    out
}

// ---- tool calls ------------------------------------------------------------------------

#[test]
fn tgi_repeats_full_name_in_every_fragment() {
    let server = replay("tgi_repeats_full_name_in_every_fragment");
    let completion = completion_of(&server);
    assert_eq!(
        completion.tool_calls,
        [call(
            0,
            "",
            "get_n_day_weather_forecast",
            r#"{"location": "Brooklyn, NY", "num_days": 3}"#
        )]
    );
    assert!(completion.tool_calls[0].arguments_are_json());
    // The name is handed out once, not once per fragment.
    let names: Vec<_> = tool_deltas(&server)
        .into_iter()
        .filter_map(|d| d.name)
        .collect();
    assert_eq!(names, ["get_n_day_weather_forecast"]);
}

#[test]
fn tgi_sends_tool_calls_as_one_object() {
    let server = replay("tgi_sends_tool_calls_as_one_object");
    let completion = completion_of(&server);
    // TGI 2.4 appends its end-of-turn token to the arguments: assembled as sent, and
    // reported as not JSON rather than silently repaired.
    assert_eq!(
        completion.tool_calls,
        [call(
            0,
            "",
            "get_current_weather",
            r#"{"location": "Paris, France"}<|eot_id|>"#
        )]
    );
    assert!(!completion.tool_calls[0].arguments_are_json());
    assert_eq!(
        completion.tool_calls[0]
            .arguments_json()
            .unwrap_err()
            .kind(),
        ErrorKind::Protocol
    );
    assert_eq!(completion.finish_reason.as_deref(), Some("stop"));
}

#[test]
fn llamacpp_repeats_full_name_in_every_fragment() {
    let completion = completion_of(&replay("llamacpp_repeats_full_name_in_every_fragment"));
    assert_eq!(
        completion.tool_calls,
        [call(
            0,
            "Wb4Lf3X0FEqb7kCBo1UOGJ4Y3lGw2hLd",
            "add_two_numbers",
            r#"{"a": 3, "b": 4}"#
        )]
    );
}

#[test]
fn llamacpp_sends_arguments_as_an_object() {
    let completion = completion_of(&replay("llamacpp_sends_arguments_as_an_object"));
    assert_eq!(
        completion.tool_calls,
        [call(
            0,
            "call_7",
            "get_weather",
            r#"{"city":"Seoul","days":[1,2]}"#
        )]
    );
    assert_eq!(
        completion.tool_calls[0].arguments_json().unwrap(),
        json!({"city": "Seoul", "days": [1, 2]})
    );
}

#[test]
fn vllm_sends_empty_id_and_reuses_index_zero() {
    let server = replay("vllm_sends_empty_id_and_reuses_index_zero");
    let completion = completion_of(&server);
    assert_eq!(
        completion.tool_calls,
        [
            call(
                0,
                "chatcmpl-tool-c9ZCzB9b9NikK5kjPBXpFG",
                "read_file",
                r#"{"path": "a.rs"}"#
            ),
            call(
                1,
                "chatcmpl-tool-HfzZPEVfQgvgpSJccb8Vr8",
                "read_file",
                r#"{"path": "b.rs"}"#
            ),
        ]
    );
    assert_eq!(completion.finish_reason.as_deref(), Some("tool_calls"));
    // Deltas carry the assembled index: the second call's fragments say 1.
    let indexes: Vec<u32> = tool_deltas(&server).iter().map(|d| d.index).collect();
    assert_eq!(indexes, [0, 0, 1, 1]);
}

#[test]
fn vllm_final_chunk_repeats_the_call() {
    let completion = completion_of(&replay("vllm_final_chunk_repeats_the_call"));
    assert_eq!(
        completion.tool_calls,
        [call(
            0,
            "chatcmpl-tool-a0d9",
            "searchGoogle",
            r#"{"query": "latest news on ai"}"#
        )]
    );
}

#[test]
fn lmstudio_sends_empty_name_in_later_fragments() {
    let completion = completion_of(&replay("lmstudio_sends_empty_name_in_later_fragments"));
    // The empty `{"id": "", "type": "function"}` entry is not a call.
    assert_eq!(
        completion.tool_calls,
        [call(0, "193629320", "count", r#"{"count":3}"#)]
    );
}

#[test]
fn ollama_leaves_index_out() {
    let completion = completion_of(&replay("ollama_leaves_index_out"));
    assert_eq!(
        completion.tool_calls,
        [
            call(0, "call_wteop8bt", "run_command", r#"{"command":"ls"}"#),
            call(1, "call_rk2xye1l", "run_command", r#"{"command":"ls -l"}"#),
        ]
    );
}

#[test]
fn fragments_without_index_continue_the_call_they_belong_to() {
    let fragment = |call: Value| delta_json(&json!({ "tool_calls": [call] }).to_string(), "null");
    let chunks = [
        fragment(
            json!({"id": "a", "type": "function", "function": {"name": "f", "arguments": ""}}),
        ),
        fragment(json!({"function": {"arguments": "{\"x\":"}})),
        fragment(json!({"function": {"arguments": "1}"}})),
        fragment(
            json!({"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}}),
        ),
        finish_json("tool_calls"),
    ];
    let server = Server::start(move |conn: &mut Conn| {
        conn.start_sse();
        for chunk in &chunks {
            conn.sse_data(chunk);
        }
        conn.done().end_chunks();
    });
    assert_eq!(
        completion_of(&server).tool_calls,
        [call(0, "a", "f", r#"{"x":1}"#), call(1, "b", "g", "{}")]
    );
}

#[test]
fn ollama_reuses_index_zero_with_a_new_id() {
    let completion = completion_of(&replay("ollama_reuses_index_zero_with_a_new_id"));
    assert_eq!(
        completion.tool_calls,
        [
            call(
                0,
                "call_abc123",
                "file_write",
                r#"{"filePath":"hello.py","content":"print(\"hello\")"}"#
            ),
            call(
                1,
                "call_def456",
                "file_write",
                r#"{"filePath":"world.py","content":"print(\"world\")"}"#
            ),
        ]
    );
    assert!(completion
        .tool_calls
        .iter()
        .all(ToolCall::arguments_are_json));
}

#[test]
fn sglang_repeats_the_id_and_reuses_index_zero() {
    let completion = completion_of(&replay("sglang_repeats_the_id_and_reuses_index_zero"));
    assert_eq!(
        completion.tool_calls,
        [
            call(0, "0", "get_weather", r#"{"city": "Paris"}"#),
            call(1, "1", "get_weather", r#"{"city": "London"}"#),
        ]
    );
}

#[test]
fn a_call_that_never_gets_a_name_is_a_protocol_error() {
    let chunks = [
        delta_json(
            r#"{"tool_calls":[{"index":0,"function":{"arguments":"{}"}}]}"#,
            "null",
        ),
        finish_json("tool_calls"),
    ];
    let server = Server::start(move |conn: &mut Conn| {
        conn.start_sse();
        for chunk in &chunks {
            conn.sse_data(chunk);
        }
        conn.done().end_chunks();
    });
    let error = client_for(&server)
        .stream(&ask())
        .unwrap()
        .into_completion()
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Protocol, "{error}");
}

#[test]
fn a_negative_tool_call_index_is_a_protocol_error() {
    let server = Server::start(move |conn: &mut Conn| {
        conn.start_sse().sse_data(&delta_json(
            r#"{"tool_calls":[{"index":-1,"id":"a","function":{"name":"f","arguments":"{}"}}]}"#,
            "null",
        ));
        conn.done().end_chunks();
    });
    let error = client_for(&server)
        .stream(&ask())
        .unwrap()
        .into_completion()
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Protocol, "{error}");
    assert!(error.message().contains("index"), "{error}");
}

// ---- choices -----------------------------------------------------------------------------

#[test]
fn azure_interleaves_two_choices_with_logprobs() {
    let server = replay("azure_interleaves_two_choices_with_logprobs");
    // Tokens are choice 0's only.
    let mut stream = client_for(&server).stream(&ask()).unwrap();
    let (tokens, error) = drain_tokens(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens, ["V", "iolet"]);
    assert_eq!(stream.finish_reason(), Some("stop"));

    let completion = completion_of(&server);
    assert_eq!(completion.content, "Violet");
    assert_eq!(completion.choices.len(), 2);
    let (first, second) = (&completion.choices[0], &completion.choices[1]);
    assert_eq!((first.index, &*first.content), (0, "Violet"));
    assert_eq!((second.index, &*second.content), (1, "Turquoise"));
    assert_eq!(first.finish_reason.as_deref(), Some("stop"));
    assert_eq!(second.finish_reason.as_deref(), Some("length"));
    let tokens = |choice: &upstage::Choice| -> Vec<String> {
        let logprobs = choice.logprobs.as_ref().expect("logprobs");
        logprobs.content.iter().map(|t| t.token.clone()).collect()
    };
    assert_eq!(tokens(first), ["V", "iolet"]);
    assert_eq!(tokens(second), ["Tur", "quoise"]);
    let v = &first.logprobs.as_ref().unwrap().content[0];
    assert_eq!(v.logprob, -4.132613);
    assert_eq!(v.bytes.as_deref(), Some(&b"V"[..]));
    assert_eq!(v.top_logprobs[0].token, "Tur");
    assert_eq!(v.top_logprobs[0].logprob, -0.66551673);
    // Choice 0's log probabilities are also the completion's.
    assert_eq!(completion.logprobs, first.logprobs);
}

#[test]
fn choice_deltas_carry_their_choice_and_next_delta_keeps_to_choice_zero() {
    let server = replay("azure_interleaves_two_choices_with_logprobs");
    let mut stream = client_for(&server).stream(&ask()).unwrap();
    let mut contents = Vec::new();
    let mut finishes = Vec::new();
    let mut logprob_events = 0;
    while let Some(delta) = stream.next_choice_delta() {
        let ChoiceDelta { choice, delta } = delta.unwrap();
        match delta {
            Delta::Content(text) => contents.push((choice, text)),
            Delta::Finish(reason) => finishes.push((choice, reason)),
            Delta::Logprobs(_) => logprob_events += 1,
            _ => {}
        }
    }
    assert_eq!(
        contents,
        [
            (0, "V".to_owned()),
            (1, "Tur".to_owned()),
            (0, "iolet".to_owned()),
            (1, "quoise".to_owned())
        ]
    );
    assert_eq!(finishes, [(0, "stop".to_owned()), (1, "length".to_owned())]);
    assert_eq!(logprob_events, 4);

    let mut stream = client_for(&server).stream(&ask()).unwrap();
    let mut texts = String::new();
    while let Some(delta) = stream.next_delta() {
        match delta.unwrap() {
            Delta::Content(text) => texts.push_str(&text),
            Delta::Finish(reason) => assert_eq!(reason, "stop"),
            _ => {}
        }
    }
    assert_eq!(texts, "Violet");
}

#[test]
fn two_choices_in_one_chunk_index_one_first() {
    let server = replay("two_choices_in_one_chunk_index_one_first");
    let mut stream = client_for(&server).stream(&ask()).unwrap();
    let (tokens, error) = drain_tokens(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens, ["A1", " A2"]);
    let completion = completion_of(&server);
    assert_eq!(completion.content, "A1 A2");
    assert_eq!(completion.choices[1].content, "B1 B2");
    assert_eq!(completion.choices[1].finish_reason.as_deref(), Some("stop"));
}

#[test]
fn a_chunk_that_numbers_some_choices_and_not_others_is_a_protocol_error() {
    // The unnumbered choice sits at place 1, which is also the other choice's index: taking
    // its place as its index would put choice 0's text into choice 1.
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse()
            .sse_data(r#"{"choices":[{"index":0,"delta":{"content":"A1"}}]}"#)
            .sse_data(
                r#"{"choices":[{"index":1,"delta":{"content":"B"}},{"delta":{"content":"A2"}}]}"#,
            )
            .sse_data(r#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#)
            .sse_data("[DONE]")
            .end_chunks();
    });
    let mut stream = client_for(&server).stream(&ask()).unwrap();
    let (tokens, error) = drain_tokens(&mut stream);
    assert_eq!(tokens, ["A1"], "what came before stays delivered");
    let error = error.expect("a protocol error");
    assert_eq!(error.kind(), ErrorKind::Protocol);
    assert!(error.to_string().contains("no `index`"), "{error}");

    let (completion, error) = client_for(&server)
        .stream(&ask())
        .unwrap()
        .into_partial_completion();
    assert_eq!(error.map(|e| e.kind()), Some(ErrorKind::Protocol));
    assert_eq!(completion.content, "A1");
    assert_eq!(
        completion.choices.len(),
        1,
        "nothing of the refused chunk is taken: {:?}",
        completion.choices
    );
}

#[test]
fn a_stream_ends_cleanly_only_when_every_choice_finished() {
    // Choice 1 finished, choice 0 did not, and the body ends without [DONE]: truncated.
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse()
            .sse_data(r#"{"choices":[{"index":0,"delta":{"content":"A"}}]}"#)
            .sse_data(r#"{"choices":[{"index":1,"delta":{"content":"B"},"finish_reason":"stop"}]}"#)
            .end_chunks();
    });
    let (completion, error) = client_for(&server)
        .stream(&ask())
        .unwrap()
        .into_partial_completion();
    assert_eq!(error.map(|e| e.kind()), Some(ErrorKind::Truncated));
    assert_eq!(completion.content, "A");
    assert_eq!(completion.choices[1].content, "B");
}

#[test]
fn non_streaming_answers_give_every_choice() {
    let body = json!({
        "id": "chatcmpl-2", "object": "chat.completion", "model": "m",
        "choices": [
            {"index": 1, "message": {"role": "assistant", "content": "second"}, "finish_reason": "length"},
            {"index": 0, "message": {"role": "assistant", "content": "first",
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]},
             "logprobs": {"content": [{"token": "first", "logprob": -0.5, "bytes": null, "top_logprobs": []}]},
             "finish_reason": "stop"}
        ]
    })
    .to_string();
    let server = Server::start(move |conn: &mut Conn| {
        conn.json_response(200, &[], &body);
    });
    let completion = client_for(&server).complete(&ask()).unwrap();
    assert_eq!(completion.content, "first");
    assert_eq!(completion.tool_calls, [call(0, "c", "f", r#"{"a":1}"#)]);
    assert_eq!(completion.choices.len(), 2);
    assert_eq!(completion.choices[1].content, "second");
    assert_eq!(
        completion.choices[1].finish_reason.as_deref(),
        Some("length")
    );
    assert_eq!(completion.logprobs.unwrap().content[0].token, "first");
}

#[test]
fn openai_refusal_with_logprobs() {
    let completion = completion_of(&replay("openai_refusal_with_logprobs"));
    assert_eq!(completion.refusal, "I can't");
    assert_eq!(completion.content, "");
    let logprobs = completion.logprobs.expect("logprobs");
    assert!(logprobs.content.is_empty());
    let refusal: Vec<_> = logprobs
        .refusal
        .iter()
        .map(|t| (t.token.as_str(), t.logprob))
        .collect();
    assert_eq!(refusal, [("I", -0.01), (" can't", -0.2)]);
}

// ---- errors and partial results ----------------------------------------------------------

#[test]
fn openrouter_error_mid_stream() {
    let server = replay("openrouter_error_mid_stream");
    let (completion, error) = client_for(&server)
        .stream(&ask())
        .unwrap()
        .into_partial_completion();
    let error = error.expect("the stream failed");
    assert_eq!(error.kind(), ErrorKind::Api);
    assert!(error.message().contains("Provider disconnected"), "{error}");
    assert_eq!(completion.content, "Partial answer");
    assert_eq!(
        completion.model.as_deref(),
        Some("meta-llama/llama-3.1-8b-instruct")
    );
    // into_completion reports the same error.
    let error = client_for(&server)
        .stream(&ask())
        .unwrap()
        .into_completion()
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Api);
}

#[test]
fn a_cut_stream_still_gives_what_was_assembled() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse()
            .sse_data(&delta_json(r#"{"reasoning_content":"hmm"}"#, "null"))
            .sse_data(&chunk_json("Let me check."))
            .sse_data(&delta_json(
                r#"{"tool_calls":[{"index":0,"id":"c1","type":"function","function":{"name":"lookup","arguments":"{\"q\":"}}]}"#,
                "null",
            ))
            .sse_data(&usage_json(3, 4))
            .reset();
    });
    let (completion, error) = client_for(&server)
        .stream(&ask())
        .unwrap()
        .into_partial_completion();
    assert!(error.is_some());
    assert_eq!(completion.reasoning, "hmm");
    assert_eq!(completion.content, "Let me check.");
    assert_eq!(completion.tool_calls, [call(0, "c1", "lookup", r#"{"q":"#)]);
    assert!(!completion.tool_calls[0].arguments_are_json());
    assert_eq!(completion.usage.map(|u| u.total_tokens), Some(7));
    assert_eq!(completion.finish_reason, None);
}

#[test]
fn a_snapshot_mid_stream_holds_what_arrived_so_far() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse()
            .sse_data(&chunk_json("Hel"))
            .sse_data(&chunk_json("lo"))
            .sse_data(&finish_json("stop"))
            .done()
            .end_chunks();
    });
    let mut stream = client_for(&server).stream(&ask()).unwrap();
    assert_eq!(
        stream.next_delta().unwrap().unwrap(),
        Delta::Content("Hel".into())
    );
    let snapshot = stream.snapshot();
    assert_eq!(snapshot.content, "Hel");
    assert_eq!(snapshot.finish_reason, None);
    while let Some(delta) = stream.next_delta() {
        delta.unwrap();
    }
    assert_eq!(stream.snapshot().content, "Hello");
    assert_eq!(stream.snapshot().finish_reason.as_deref(), Some("stop"));
}

/// A client that retries quickly enough for a test.
fn retrying_client(server: &Server) -> Client {
    ClientBuilder::new()
        .base_url(server.base())
        .max_retries(2)
        .build()
        .unwrap()
}

/// First attempt: the fixture; later attempts: a normal answer.
fn fixture_then_answer(name: &str) -> Server {
    let body = fixture(name);
    Server::start(move |conn: &mut Conn| {
        if conn.attempt() == 1 {
            conn.start_sse().chunk(&body).end_chunks();
        } else {
            conn.start_sse()
                .sse_data(&chunk_json("ok"))
                .sse_data(&finish_json("stop"))
                .done()
                .end_chunks();
        }
    })
}

fn tokens_after_retry(name: &str) -> (Vec<String>, Option<upstage::Error>, usize, u32) {
    let server = fixture_then_answer(name);
    let mut stream = retrying_client(&server).stream(&ask()).unwrap();
    let (tokens, error) = drain_tokens(&mut stream);
    (tokens, error, server.request_count(), stream.attempts())
}

#[test]
fn vllm_internal_error_before_first_token() {
    let (tokens, error, requests, attempts) =
        tokens_after_retry("vllm_internal_error_before_first_token");
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens, ["ok"]);
    assert_eq!((requests, attempts), (2, 2));
}

#[test]
fn openai_rate_limit_in_band() {
    let (tokens, error, requests, _) = tokens_after_retry("openai_rate_limit_in_band");
    assert!(error.is_none(), "{error:?}");
    assert_eq!((tokens, requests), (vec!["ok".to_owned()], 2));
}

#[test]
fn anthropic_style_overloaded_in_band() {
    let (tokens, error, requests, _) = tokens_after_retry("anthropic_style_overloaded_in_band");
    assert!(error.is_none(), "{error:?}");
    assert_eq!((tokens, requests), (vec!["ok".to_owned()], 2));
}

#[test]
fn openai_quota_in_band() {
    let (tokens, error, requests, _) = tokens_after_retry("openai_quota_in_band");
    let error = error.expect("not retried");
    assert_eq!(error.kind(), ErrorKind::Api);
    assert_eq!(error.api_code(), Some("insufficient_quota"));
    assert_eq!((tokens.len(), requests), (0, 1));
}

#[test]
fn groq_tool_use_failed_in_band() {
    let (tokens, error, requests, _) = tokens_after_retry("groq_tool_use_failed_in_band");
    let error = error.expect("not retried");
    assert_eq!(error.kind(), ErrorKind::Api);
    assert!(error.message().contains("tool call validation failed"));
    assert_eq!((tokens.len(), requests), (0, 1));
}

#[test]
fn sglang_bad_request_in_band() {
    let (_, error, requests, _) = tokens_after_retry("sglang_bad_request_in_band");
    assert_eq!(error.map(|e| e.kind()), Some(ErrorKind::Api));
    assert_eq!(requests, 1);
}

#[test]
fn an_in_band_error_after_the_first_token_is_not_retried() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse()
            .sse_data(&chunk_json("Hi"))
            .sse_data(r#"{"error":{"message":"busy","type":"server_error"}}"#)
            .end_chunks();
    });
    let mut stream = retrying_client(&server).stream(&ask()).unwrap();
    let (tokens, error) = drain_tokens(&mut stream);
    assert_eq!(tokens, ["Hi"]);
    assert_eq!(error.map(|e| e.kind()), Some(ErrorKind::Api));
    assert_eq!(server.request_count(), 1);
}

// ---- the tool loop -----------------------------------------------------------------------

#[test]
fn a_completion_with_tool_calls_becomes_the_next_turn() {
    let first = fixture("vllm_sends_empty_id_and_reuses_index_zero");
    let server = Server::start(move |conn: &mut Conn| {
        if conn.attempt() == 1 {
            conn.start_sse().chunk(&first).end_chunks();
        } else {
            conn.start_sse()
                .sse_data(&chunk_json("Both files read."))
                .sse_data(&finish_json("stop"))
                .done()
                .end_chunks();
        }
    });
    let client = client_for(&server);
    let mut request = ask();
    let turn = client.stream(&request).unwrap().into_completion().unwrap();
    request.push_message(turn.to_message());
    for call in &turn.tool_calls {
        request.push_message(Message::tool(
            &call.id,
            format!("contents of {}", call.arguments),
        ));
    }
    let answer = client.stream(&request).unwrap().into_completion().unwrap();
    assert_eq!(answer.content, "Both files read.");
    let body = server.requests()[1].json.clone().unwrap();
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "chatcmpl-tool-c9ZCzB9b9NikK5kjPBXpFG", "type": "function",
                 "function": {"name": "read_file", "arguments": "{\"path\": \"a.rs\"}"}},
                {"id": "chatcmpl-tool-HfzZPEVfQgvgpSJccb8Vr8", "type": "function",
                 "function": {"name": "read_file", "arguments": "{\"path\": \"b.rs\"}"}}
            ]},
            {"role": "tool", "content": "contents of {\"path\": \"a.rs\"}",
             "tool_call_id": "chatcmpl-tool-c9ZCzB9b9NikK5kjPBXpFG"},
            {"role": "tool", "content": "contents of {\"path\": \"b.rs\"}",
             "tool_call_id": "chatcmpl-tool-HfzZPEVfQgvgpSJccb8Vr8"}
        ])
    );
}

#[test]
fn a_whole_json_answer_that_is_a_retryable_error_is_retried() {
    let server = Server::start(|conn: &mut Conn| {
        if conn.attempt() == 1 {
            conn.json_response(
                200,
                &[],
                r#"{"error":{"message":"Overloaded","type":"overloaded_error"}}"#,
            );
        } else {
            conn.start_sse()
                .sse_data(&chunk_json("ok"))
                .sse_data(&finish_json("stop"))
                .done()
                .end_chunks();
        }
    });
    let mut stream = retrying_client(&server).stream(&ask()).unwrap();
    let (tokens, error) = drain_tokens(&mut stream);
    assert!(error.is_none(), "{error:?}");
    assert_eq!((tokens, server.request_count()), (vec!["ok".to_owned()], 2));
}
