//! A two-step tool loop: the model may call one tool, `get_weather(city)`; the program runs
//! it, sends the result back and prints the answer.
//!
//! ```text
//! cargo run --example tool_loop -- BASE_URL MODEL QUESTION
//! ```
//!
//! stdout receives the final answer; stderr one line per tool call (`call get_weather
//! {...}`). On failure stderr gets `error[<status name>]: <message>` and the exit code is 1;
//! usage errors exit 2. The API key comes from `UPSTAGE_API_KEY`.

use std::process::ExitCode;

use serde_json::json;
use upstage::{ChatRequest, ClientBuilder, Message, ToolCall};

/// How many model turns to allow before giving up.
const MAX_STEPS: usize = 4;

/// The tool: a canned forecast, or an error object the model can read.
fn run_tool(call: &ToolCall) -> String {
    match (call.name.as_str(), call.arguments_json()) {
        ("get_weather", Ok(args)) if args["city"].is_string() => {
            json!({"city": args["city"], "sky": "clear", "celsius": 21}).to_string()
        }
        ("get_weather", _) => json!({"error": "expected {\"city\": string}"}).to_string(),
        (name, _) => json!({"error": format!("unknown tool {name}")}).to_string(),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [base_url, model, question] = args.as_slice() else {
        eprintln!("usage: tool_loop BASE_URL MODEL QUESTION");
        return ExitCode::from(2);
    };
    match run(base_url, model, question) {
        Ok(answer) => {
            println!("{answer}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error[{}]: {}", e.kind().name(), e.message());
            ExitCode::from(1)
        }
    }
}

fn run(base_url: &str, model: &str, question: &str) -> upstage::Result<String> {
    let client = ClientBuilder::new().base_url(base_url).build()?;
    let mut request = ChatRequest::new(model)
        .message(Message::user(question))
        .tools(json!([{
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "The current weather in a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }]));
    for _ in 0..MAX_STEPS {
        let answer = client.complete(&request)?;
        if answer.tool_calls.is_empty() {
            return Ok(answer.content);
        }
        // The assistant turn that asked for the tools, then one result per call.
        request.push_message(answer.to_message());
        for call in &answer.tool_calls {
            eprintln!("call {} {}", call.name, call.arguments);
            request.push_message(Message::tool(&call.id, run_tool(call)));
        }
    }
    Err(upstage::Error::new(
        upstage::ErrorKind::Api,
        format!("no answer after {MAX_STEPS} tool steps"),
    ))
}
