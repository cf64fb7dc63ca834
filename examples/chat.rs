//! `chat`: stream a chat completion to stdout.
//!
//! stdout receives exactly the content tokens, flushed as they arrive (plus a final newline
//! when stdout is a terminal). Failures print `error[<kind>]: <message>` on stderr and exit
//! 1, keeping what was already printed; usage errors exit 2. Run with `--help` for options.

use std::io::{self, IsTerminal, Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::{json, Value};
use upstage::{
    CancelHandle, ChatCompletion, ChatRequest, ChatStream, ClientBuilder, Delta, Error, ErrorKind,
    Flavor, Limits, Message, RateLimit, Timings,
};

const USAGE: &str = "\
usage: chat [OPTIONS] [PROMPT...]

Streams a chat completion to stdout. PROMPT words are joined with spaces; without
PROMPT (or with \"-\") the prompt is read from stdin.

  --model M               model name (default: UPSTAGE_MODEL or the flavor's default)
  --system TEXT           a system message before the prompt
  --messages FILE|-       a JSON array of {role, content} messages to send first
  --base-url URL          server base URL (default: UPSTAGE_BASE_URL or the official API)
  --api-key-env VAR       read the API key from VAR instead of UPSTAGE_API_KEY
  --web-demo              speak the seed's web-demo dialect
  --proxy URL|none        explicit proxy, or none to ignore the environment
  --temperature F  --top-p F  --max-tokens N  --stop S (repeatable)
  --reasoning-effort S    --param NAME=JSON (repeatable; any body field)
  --connect-timeout SECS  --headers-timeout SECS  --idle-timeout SECS  --total-timeout SECS
                          (0 = no limit)
  --retries N             retries before the first token (default 2)
  --ca-file PEM           trust these CA certificates instead of the bundled roots
  --header 'NAME: VALUE'  send this header too (repeatable; replaces a default of that name)
  --query NAME=VALUE      add this query parameter to the URL (repeatable)
  --record FILE           also write the raw response (status, headers without credentials,
                          body as received) to FILE
  --replay FILE           read the response from a recording instead of the network
  --debug-log             log what the client does to stderr (like UPSTAGE_LOG=debug)
  --reasoning             also print reasoning tokens, to stderr
  --usage                 print the finish reason, usage, rate limits and timings to stderr
                          at the end
  --no-stream             send a non-streaming request and print the whole answer
  --json                  print every event as one JSON line on stdout
  --print-prompt          print format_prompt(messages) and exit (no network)
  --resolve-model M       print get_model(M) and exit (no network)
  -h, --help              this text
";

/// What the command line asked for.
#[derive(Default)]
struct Options {
    model: Option<String>,
    system: Option<String>,
    messages_file: Option<String>,
    base_url: Option<String>,
    api_key_env: Option<String>,
    web_demo: bool,
    proxy: Option<String>,
    params: Vec<(String, Value)>,
    timeouts: [Option<Duration>; 4],
    timeouts_set: [bool; 4],
    retries: Option<u32>,
    ca_file: Option<String>,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    record: Option<String>,
    replay: Option<String>,
    debug_log: bool,
    reasoning: bool,
    usage: bool,
    no_stream: bool,
    json: bool,
    print_prompt: bool,
    resolve_model: Option<String>,
    prompt: Vec<String>,
}

/// A command-line mistake: exit 2.
struct UsageError(String);

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(UsageError(message)) => {
            eprintln!("chat: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("chat: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Chat(error)) => {
            let _ = io::stdout().flush();
            eprintln!("error[{}]: {}", error.kind().name(), error.message());
            ExitCode::from(1)
        }
    }
}

enum Failure {
    Usage(String),
    Chat(Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Chat(error)
    }
}

fn parse_args(args: impl Iterator<Item = String>) -> Result<Option<Options>, UsageError> {
    let mut options = Options::default();
    let mut args = args.peekable();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .ok_or_else(|| UsageError(format!("{name} needs a value")))
        };
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--model" => options.model = Some(value("--model")?),
            "--system" => options.system = Some(value("--system")?),
            "--messages" => options.messages_file = Some(value("--messages")?),
            "--base-url" => options.base_url = Some(value("--base-url")?),
            "--api-key-env" => options.api_key_env = Some(value("--api-key-env")?),
            "--web-demo" => options.web_demo = true,
            "--proxy" => options.proxy = Some(value("--proxy")?),
            "--temperature" | "--top-p" => {
                let number: f64 = parse_number(&arg, &value(&arg)?)?;
                let name = arg.trim_start_matches("--").replace('-', "_");
                options.params.push((name, json!(number)));
            }
            "--max-tokens" => {
                let n: u64 = parse_number(&arg, &value(&arg)?)?;
                options.params.push(("max_tokens".into(), json!(n)));
            }
            "--stop" => {
                let stop = value("--stop")?;
                match options.params.iter_mut().find(|(n, _)| n == "stop") {
                    Some((_, Value::Array(list))) => list.push(json!(stop)),
                    _ => options.params.push(("stop".into(), json!([stop]))),
                }
            }
            "--reasoning-effort" => {
                let effort = value(&arg)?;
                options
                    .params
                    .push(("reasoning_effort".into(), json!(effort)));
            }
            "--param" => options.params.push(parse_param(&value("--param")?)?),
            "--connect-timeout" | "--headers-timeout" | "--idle-timeout" | "--total-timeout" => {
                let which = ["--connect-timeout", "--headers-timeout", "--idle-timeout"]
                    .iter()
                    .position(|n| *n == arg)
                    .unwrap_or(3);
                let seconds: f64 = parse_number(&arg, &value(&arg)?)?;
                if !seconds.is_finite() || seconds < 0.0 {
                    return Err(UsageError(format!(
                        "{arg} must be a number of seconds >= 0"
                    )));
                }
                options.timeouts[which] = (seconds > 0.0).then(|| Duration::from_secs_f64(seconds));
                options.timeouts_set[which] = true;
            }
            "--retries" => options.retries = Some(parse_number(&arg, &value(&arg)?)?),
            "--ca-file" => options.ca_file = Some(value("--ca-file")?),
            "--header" => options.headers.push(parse_header(&value("--header")?)?),
            "--query" => options.query.push(parse_query(&value("--query")?)?),
            "--record" => options.record = Some(value("--record")?),
            "--replay" => options.replay = Some(value("--replay")?),
            "--debug-log" => options.debug_log = true,
            "--reasoning" => options.reasoning = true,
            "--usage" => options.usage = true,
            "--no-stream" => options.no_stream = true,
            "--json" => options.json = true,
            "--print-prompt" => options.print_prompt = true,
            "--resolve-model" => options.resolve_model = Some(value("--resolve-model")?),
            "--" => options.prompt.extend(args.by_ref()),
            flag if flag.starts_with("--") => {
                return Err(UsageError(format!("unknown option {flag}")));
            }
            _ => options.prompt.push(arg),
        }
    }
    Ok(Some(options))
}

fn parse_number<T: std::str::FromStr>(name: &str, text: &str) -> Result<T, UsageError> {
    text.trim()
        .parse()
        .map_err(|_| UsageError(format!("{name}: {text:?} is not a valid number")))
}

/// `NAME: VALUE`, as curl's `-H` takes it (the library checks the name and value).
fn parse_header(text: &str) -> Result<(String, String), UsageError> {
    match text.split_once(':') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(UsageError(format!(
            "--header {text:?}: expected 'NAME: VALUE'"
        ))),
    }
}

/// `NAME=VALUE` (a missing `=` means an empty value).
fn parse_query(text: &str) -> Result<(String, String), UsageError> {
    let (name, value) = text.split_once('=').unwrap_or((text, ""));
    if name.is_empty() {
        return Err(UsageError(format!("--query {text:?}: expected NAME=VALUE")));
    }
    Ok((name.to_owned(), value.to_owned()))
}

fn parse_param(text: &str) -> Result<(String, Value), UsageError> {
    let (name, json) = text
        .split_once('=')
        .ok_or_else(|| UsageError(format!("--param {text:?}: expected NAME=JSON")))?;
    let value = serde_json::from_str(json)
        .map_err(|e| UsageError(format!("--param {name}: the value is not JSON: {e}")))?;
    Ok((name.to_owned(), value))
}

fn run(options: &Options) -> Result<(), Failure> {
    if let Some(name) = &options.resolve_model {
        println!("{}", upstage::web_demo::resolve_model(name));
        return Ok(());
    }
    let stream = match &options.replay {
        // A recording needs no prompt, no key and no network.
        Some(path) => replay(options, path)?,
        None => {
            let request = build_request(options)?;
            if options.print_prompt {
                let prompt = upstage::web_demo::format_prompt(request.messages())?;
                return write_out(&prompt).map_err(Failure::Chat);
            }
            let client = build_client(options)?.build()?;
            let cancel = CancelHandle::new();
            match (&options.record, options.no_stream) {
                (None, true) => return print_completion(options, &client.complete(&request)?),
                (Some(path), true) => {
                    let file = create_recording(path)?;
                    let completion = client.complete_recorded(&request, file, &cancel)?;
                    return print_completion(options, &completion);
                }
                (None, false) => client.stream(&request)?,
                (Some(path), false) => {
                    client.stream_recorded(&request, create_recording(path)?, &cancel)?
                }
            }
        }
    };
    if options.no_stream {
        return print_completion(options, &stream.into_completion()?);
    }
    if options.json || options.reasoning || options.usage {
        print_events(options, stream)
    } else {
        print_tokens(stream)
    }
}

/// A stream over the recording at `path`, decoded like a live answer of the chosen flavor.
fn replay(options: &Options, path: &str) -> Result<ChatStream, Failure> {
    let file = std::fs::File::open(path)
        .map_err(|e| Error::new(ErrorKind::InvalidArgument, format!("--replay {path}: {e}")))?;
    let flavor = if options.web_demo {
        Flavor::WebDemo
    } else {
        Flavor::Api
    };
    Ok(ChatStream::replay(file, flavor, Limits::default())?)
}

fn create_recording(path: &str) -> Result<std::fs::File, Failure> {
    std::fs::File::create(path).map_err(|e| {
        Failure::Chat(Error::new(
            ErrorKind::InvalidArgument,
            format!("--record {path}: {e}"),
        ))
    })
}

fn build_request(options: &Options) -> Result<ChatRequest, Failure> {
    let mut request = ChatRequest::new(options.model.clone().unwrap_or_default());
    if let Some(system) = &options.system {
        request.push_message(Message::system(system.as_str()));
    }
    if let Some(file) = &options.messages_file {
        let text =
            read_source(file).map_err(|e| Failure::Usage(format!("--messages {file}: {e}")))?;
        for message in ChatRequest::messages_from_json(&text)? {
            request.push_message(message);
        }
    }
    let reads_stdin = options.prompt.is_empty() || options.prompt == ["-"];
    let prompt = if !reads_stdin {
        Some(options.prompt.join(" "))
    } else if options.messages_file.is_none() || options.prompt == ["-"] {
        let mut text = String::new();
        io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Failure::Usage(format!("cannot read the prompt from stdin: {e}")))?;
        Some(text)
    } else {
        None
    };
    if let Some(prompt) = prompt {
        request.push_message(Message::user(prompt));
    }
    for (name, value) in &options.params {
        request.set_param(name.as_str(), value.clone())?;
    }
    Ok(request)
}

fn read_source(path: &str) -> io::Result<String> {
    if path == "-" {
        let mut text = String::new();
        io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
    }
}

fn build_client(options: &Options) -> Result<ClientBuilder, Failure> {
    let mut builder = ClientBuilder::from_env();
    if let Some(var) = &options.api_key_env {
        let key = std::env::var(var)
            .map_err(|_| Failure::Usage(format!("--api-key-env: {var} is not set")))?;
        builder = builder.api_key(key);
    }
    if let Some(url) = &options.base_url {
        builder = builder.base_url(url.as_str());
    }
    if options.web_demo {
        builder = builder.flavor(Flavor::WebDemo);
    }
    match options.proxy.as_deref() {
        Some("none") => builder = builder.proxy(upstage::Proxy::Disabled),
        Some(url) => builder = builder.proxy(upstage::Proxy::Url(url.to_owned())),
        None => {}
    }
    let mut timeouts = upstage::Timeouts::default();
    let slots = [
        &mut timeouts.connect,
        &mut timeouts.headers,
        &mut timeouts.idle,
        &mut timeouts.total,
    ];
    for (i, slot) in slots.into_iter().enumerate() {
        if options.timeouts_set[i] {
            *slot = options.timeouts[i];
        }
    }
    builder = builder.timeouts(timeouts);
    if let Some(retries) = options.retries {
        builder = builder.max_retries(retries);
    }
    if let Some(path) = &options.ca_file {
        builder = builder.ca_file(path.as_str());
    }
    for (name, value) in &options.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    for (name, value) in &options.query {
        builder = builder.query(name.as_str(), value.as_str());
    }
    if options.debug_log {
        builder = builder.debug_log(true);
    }
    Ok(builder)
}

/// The fast path: content tokens only, no allocation per token.
fn print_tokens(mut stream: ChatStream) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    let mut wrote = false;
    while let Some(token) = stream.next_token() {
        let token = token?;
        out.write_all(token.as_bytes())
            .and_then(|()| out.flush())
            .map_err(stdout_error)?;
        wrote = true;
    }
    finish_line(&mut out, wrote)
}

fn print_events(options: &Options, mut stream: ChatStream) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    let mut wrote = false;
    while let Some(delta) = stream.next_delta() {
        let delta = delta?;
        wrote |= print_delta(options, &mut out, &delta)?;
    }
    if !options.json {
        finish_line(&mut out, wrote)?;
    }
    if options.usage {
        report_usage(stream.finish_reason(), stream.usage());
        report_surface(stream.rate_limit(), &stream.timings());
    }
    Ok(())
}

/// Prints one delta; returns whether content went to stdout.
fn print_delta(options: &Options, out: &mut impl Write, delta: &Delta) -> Result<bool, Failure> {
    if options.json {
        writeln!(out, "{}", delta_json(delta))
            .and_then(|()| out.flush())
            .map_err(stdout_error)?;
        return Ok(false);
    }
    match delta {
        Delta::Content(text) => {
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(stdout_error)?;
            return Ok(true);
        }
        Delta::Reasoning(text) if options.reasoning => {
            let mut err = io::stderr().lock();
            let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
        }
        _ => {}
    }
    Ok(false)
}

fn delta_json(delta: &Delta) -> Value {
    match delta {
        Delta::Content(text) => json!({"type": "content", "text": text}),
        Delta::Reasoning(text) => json!({"type": "reasoning", "text": text}),
        Delta::Refusal(text) => json!({"type": "refusal", "text": text}),
        Delta::ToolCall(call) => json!({
            "type": "tool_call", "index": call.index, "id": call.id,
            "name": call.name, "arguments": call.arguments,
        }),
        Delta::Finish(reason) => json!({"type": "finish", "reason": reason}),
        Delta::Usage(usage) => json!({
            "type": "usage",
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "cached_tokens": usage.cached_tokens,
        }),
        other => json!({"type": "unknown", "debug": format!("{other:?}")}),
    }
}

fn print_completion(options: &Options, completion: &ChatCompletion) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    if options.json {
        for delta in completion_deltas(completion) {
            print_delta(options, &mut out, &delta)?;
        }
    } else {
        if options.reasoning && !completion.reasoning.is_empty() {
            eprint!("{}", completion.reasoning);
        }
        out.write_all(completion.content.as_bytes())
            .and_then(|()| out.flush())
            .map_err(stdout_error)?;
        finish_line(&mut out, !completion.content.is_empty())?;
    }
    if options.usage {
        report_usage(completion.finish_reason.as_deref(), completion.usage);
        report_surface(completion.rate_limit(), &completion.timings);
    }
    Ok(())
}

/// A whole completion as the deltas a stream would have produced.
fn completion_deltas(completion: &ChatCompletion) -> Vec<Delta> {
    let mut deltas = Vec::new();
    let texts = [
        (
            &completion.reasoning,
            Delta::Reasoning as fn(String) -> Delta,
        ),
        (&completion.content, Delta::Content),
        (&completion.refusal, Delta::Refusal),
    ];
    for (text, make) in texts {
        if !text.is_empty() {
            deltas.push(make(text.clone()));
        }
    }
    for call in &completion.tool_calls {
        deltas.push(Delta::ToolCall(upstage::ToolCallDelta::whole(call)));
    }
    if let Some(reason) = &completion.finish_reason {
        deltas.push(Delta::Finish(reason.clone()));
    }
    if let Some(usage) = completion.usage {
        deltas.push(Delta::Usage(usage));
    }
    deltas
}

fn report_usage(finish_reason: Option<&str>, usage: Option<upstage::Usage>) {
    let mut line = format!("finish_reason={}", finish_reason.unwrap_or("none"));
    if let Some(u) = usage {
        line.push_str(&format!(
            " prompt_tokens={} completion_tokens={} total_tokens={}",
            u.prompt_tokens, u.completion_tokens, u.total_tokens
        ));
        if let Some(r) = u.reasoning_tokens {
            line.push_str(&format!(" reasoning_tokens={r}"));
        }
    }
    eprintln!("{line}");
}

/// The rate limits (when the server reported any) and the timings, one line each:
/// `rate_limit requests=99/100 requests_reset_ms=600 tokens=99968/100000 tokens_reset_ms=19`
/// and `timings headers_ms=... first_content_ms=... end_ms=... content_tokens=... bytes=...`.
fn report_surface(rate_limit: Option<RateLimit>, timings: &Timings) {
    if let Some(limits) = rate_limit {
        let mut line = String::from("rate_limit");
        for (name, window) in [("requests", limits.requests), ("tokens", limits.tokens)] {
            let Some(w) = window else { continue };
            let shown = |v: Option<u64>| v.map_or("?".to_owned(), |v| v.to_string());
            line.push_str(&format!(
                " {name}={}/{}",
                shown(w.remaining),
                shown(w.limit)
            ));
            if let Some(reset) = w.reset {
                line.push_str(&format!(" {name}_reset_ms={}", reset.as_millis()));
            }
        }
        eprintln!("{line}");
    }
    let mut line = String::from("timings");
    let milestones = [
        ("headers_ms", timings.headers),
        ("first_reasoning_ms", timings.first_reasoning),
        ("first_content_ms", timings.first_content),
        ("end_ms", timings.end),
    ];
    for (name, at) in milestones {
        if let Some(at) = at {
            line.push_str(&format!(" {name}={:.1}", at.as_secs_f64() * 1000.0));
        }
    }
    line.push_str(&format!(
        " content_tokens={} reasoning_tokens={} bytes={}",
        timings.content_tokens, timings.reasoning_tokens, timings.bytes
    ));
    if let Some(rate) = timings.content_tokens_per_second() {
        line.push_str(&format!(" tokens_per_s={rate:.1}"));
    }
    eprintln!("{line}");
}

/// Writes text exactly, with a final newline only for a terminal.
fn write_out(text: &str) -> Result<(), Error> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes()).map_err(stdout_error)?;
    finish_line(&mut out, true).map_err(|f| match f {
        Failure::Chat(e) => e,
        Failure::Usage(m) => Error::new(ErrorKind::Io, m),
    })
}

fn finish_line(out: &mut impl Write, wrote: bool) -> Result<(), Failure> {
    if wrote && io::stdout().is_terminal() {
        out.write_all(b"\n").map_err(stdout_error)?;
    }
    out.flush().map_err(stdout_error)?;
    Ok(())
}

fn stdout_error(error: io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("cannot write to stdout: {error}"))
}
