//! The `chat` example with several choices, log probabilities and exact Python integers
//! (`--n N`, the choice index and log probabilities in `--json`, stdout keeping to choice 0),
//! and the `tool_loop` example.

mod support;

use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use support::*;

fn chat(args: &[&str]) -> Output {
    Command::new(chat_binary())
        .args(args)
        .env_remove("UPSTAGE_API_KEY")
        .env_remove("UPSTAGE_BASE_URL")
        .env_remove("UPSTAGE_MODEL")
        .env("NO_PROXY", "*")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Two interleaved choices with log probabilities (Azure OpenAI's shape for `"n": 2`).
fn two_choices() -> Server {
    Server::start(|conn: &mut Conn| {
        let chunk = |index: u32, delta: Value, logprobs: Value, finish: Value| {
            json!({"id": "c", "object": "chat.completion.chunk", "model": "m",
                "choices": [{"index": index, "delta": delta, "logprobs": logprobs,
                    "finish_reason": finish}]})
            .to_string()
        };
        let lp = |token: &str, logprob: f64| {
            json!({"content": [{"token": token, "logprob": logprob,
                "bytes": token.as_bytes(), "top_logprobs": []}]})
        };
        conn.start_sse()
            .sse_data(&chunk(
                0,
                json!({"content": "V"}),
                lp("V", -4.0),
                Value::Null,
            ))
            .sse_data(&chunk(
                1,
                json!({"content": "Tur"}),
                lp("Tur", -0.5),
                Value::Null,
            ))
            .sse_data(&chunk(
                0,
                json!({"content": "iolet"}),
                lp("iolet", -0.25),
                Value::Null,
            ))
            .sse_data(&chunk(
                1,
                json!({"content": "quoise"}),
                lp("quoise", -0.125),
                Value::Null,
            ))
            .sse_data(&chunk(0, json!({}), Value::Null, json!("stop")))
            .sse_data(&chunk(1, json!({}), Value::Null, json!("length")))
            .done()
            .end_chunks();
    })
}

#[test]
fn n_is_sent_and_stdout_gets_choice_zero_only() {
    let server = two_choices();
    let out = chat(&[
        "--base-url",
        &server.base(),
        "--model",
        "m",
        "--n",
        "2",
        "a",
        "color",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Violet");
    assert_eq!(server.requests()[0].json.as_ref().unwrap()["n"], json!(2));
}

#[test]
fn json_lines_carry_the_choice_and_the_logprobs() {
    let server = two_choices();
    let out = chat(&[
        "--base-url",
        &server.base(),
        "--model",
        "m",
        "--n",
        "2",
        "--json",
        "hi",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let contents: Vec<(u64, &str)> = lines
        .iter()
        .filter(|l| l["type"] == "content")
        .map(|l| (l["choice"].as_u64().unwrap(), l["text"].as_str().unwrap()))
        .collect();
    assert_eq!(
        contents,
        [(0, "V"), (1, "Tur"), (0, "iolet"), (1, "quoise")]
    );
    let logprobs: Vec<&Value> = lines.iter().filter(|l| l["type"] == "logprobs").collect();
    assert_eq!(logprobs.len(), 4);
    assert_eq!(
        logprobs[1],
        &json!({"type": "logprobs", "choice": 1, "refusal": [],
            "content": [{"token": "Tur", "logprob": -0.5, "bytes": [84, 117, 114], "top_logprobs": []}]})
    );
    let finishes: Vec<(u64, &str)> = lines
        .iter()
        .filter(|l| l["type"] == "finish")
        .map(|l| (l["choice"].as_u64().unwrap(), l["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(finishes, [(0, "stop"), (1, "length")]);
}

#[test]
fn no_stream_json_lists_every_choice() {
    let body = json!({"id": "c", "object": "chat.completion", "model": "m", "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "A"}, "finish_reason": "stop"},
        {"index": 1, "message": {"role": "assistant", "content": "B"}, "finish_reason": "stop"}]})
    .to_string();
    let server = Server::start(move |conn: &mut Conn| {
        conn.json_response(200, &[], &body);
    });
    let out = chat(&[
        "--base-url",
        &server.base(),
        "--model",
        "m",
        "--n",
        "2",
        "--no-stream",
        "--json",
        "hi",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let contents: Vec<(u64, String)> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["type"] == "content")
        .map(|l| {
            (
                l["choice"].as_u64().unwrap(),
                l["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(contents, [(0, "A".to_owned()), (1, "B".to_owned())]);
    // Without --json, stdout is choice 0's text.
    let out = chat(&[
        "--base-url",
        &server.base(),
        "--model",
        "m",
        "--no-stream",
        "hi",
    ]);
    assert_eq!(text(&out.stdout), "A");
}

#[test]
fn bad_n_is_a_usage_error() {
    for bad in ["0", "-1", "x"] {
        let out = chat(&["--n", bad, "hi"]);
        assert_eq!(out.status.code(), Some(2), "--n {bad}");
    }
}

#[test]
fn print_prompt_keeps_every_digit_of_big_integers() {
    let dir = std::env::temp_dir().join(format!("upstage-cli-choices-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("messages.json");
    std::fs::write(
        &file,
        r#"[{"role": "user", "content": 1000000000000000000000000000000},
            {"role": "assistant", "content": [{"type": "text", "text": -123456789012345678901234567890}]}]"#,
    )
    .unwrap();
    let out = chat(&["--print-prompt", "--messages", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "User: 1000000000000000000000000000000\nAssistant: -123456789012345678901234567890\nAssistant:"
    );
}

/// `examples/tool_loop.rs`: a two-step tool loop against a server that answers the second
/// request only when it carries the assistant turn and the tool result.
#[test]
fn the_tool_loop_example_sends_the_calls_and_their_results_back() {
    let server = Server::start(|conn: &mut Conn| {
        let body = conn.request().json.clone().unwrap_or_default();
        let messages = body["messages"].as_array().cloned().unwrap_or_default();
        if messages.len() == 1 {
            conn.start_sse()
                .sse_data(&delta_json(
                    r#"{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Seoul\"}"}}]}"#,
                    "null",
                ))
                .sse_data(&finish_json("tool_calls"))
                .done()
                .end_chunks();
        } else {
            conn.start_sse()
                .sse_data(&chunk_json("Clear skies."))
                .sse_data(&finish_json("stop"))
                .done()
                .end_chunks();
        }
    });
    let exe = example_binary("tool_loop");
    let out = Command::new(&exe)
        .args([server.base().as_str(), "solar-pro4", "Weather in Seoul?"])
        .env_remove("UPSTAGE_API_KEY")
        .env("NO_PROXY", "*")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Clear skies.\n");
    assert_eq!(text(&out.stderr), "call get_weather {\"city\":\"Seoul\"}\n");
    let second = server.requests()[1].json.clone().unwrap();
    assert_eq!(second["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(
        second["messages"],
        json!([
            {"role": "user", "content": "Weather in Seoul?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Seoul\"}"}}]},
            {"role": "tool", "tool_call_id": "call_1",
             "content": "{\"celsius\":21,\"city\":\"Seoul\",\"sky\":\"clear\"}"}
        ])
    );
}
