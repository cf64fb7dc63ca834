//! The fast chunk decoder, seen from outside: `next_token` takes it, `next_event` always uses
//! serde. Over many generated streams both must tell the same story: the same tokens in the
//! same order, the same error (kind and message) at the same point, and the same finish
//! reason, usage, model, id, tool calls and skipped-chunk count at the end, in both flavors.
//!
//! Chunks vary everything the decoder looks at: field order, whitespace, escapes (valid,
//! invalid, surrogate pairs, lone surrogates), non-ASCII text, invalid UTF-8, nulls, wrong
//! types, duplicate and escaped keys, extra fields and nesting, tool calls, reasoning,
//! refusals, usage, in-band errors and broken JSON. Many chunks of a stream share their frame
//! and differ only in their content, as real streams do (the decoder's template case).

use std::io::Cursor;

use proptest::prelude::*;
use upstage::{ChatStream, Delta, Flavor, Limits};

/// Everything observable about one read of a stream.
#[derive(Debug, PartialEq)]
struct Story {
    tokens: Vec<String>,
    error: Option<(String, String)>,
    finish_reason: Option<String>,
    usage: Option<String>,
    model: Option<String>,
    id: Option<String>,
    tool_calls: String,
    skipped: u64,
    done: bool,
}

fn stream(body: &[u8], flavor: Flavor) -> ChatStream {
    ChatStream::from_reader(Cursor::new(body.to_vec()), flavor, Limits::default())
}

fn finish(stream: &ChatStream, tokens: Vec<String>, error: Option<upstage::Error>) -> Story {
    Story {
        tokens,
        error: error.map(|e| (e.kind().name().to_owned(), e.message().to_owned())),
        finish_reason: stream.finish_reason().map(str::to_owned),
        usage: stream.usage().map(|u| format!("{u:?}")),
        model: stream.model().map(str::to_owned),
        id: stream.id().map(str::to_owned),
        tool_calls: format!("{:?}", stream.tool_calls()),
        skipped: stream.skipped_chunks(),
        done: stream.is_done(),
    }
}

/// Read with `next_token` (the fast decoder).
fn by_tokens(body: &[u8], flavor: Flavor) -> Story {
    let mut s = stream(body, flavor);
    let (mut tokens, mut error) = (Vec::new(), None);
    while let Some(token) = s.next_token() {
        match token {
            Ok(t) => tokens.push(t.to_owned()),
            Err(e) => error = Some(e),
        }
    }
    finish(&s, tokens, error)
}

/// Read with `next_event` (serde), keeping the content deltas as tokens.
fn by_events(body: &[u8], flavor: Flavor) -> Story {
    let mut s = stream(body, flavor);
    let (mut tokens, mut error) = (Vec::new(), None);
    while let Some(event) = s.next_delta() {
        match event {
            Ok(Delta::Content(t)) => tokens.push(t),
            Ok(_) => {}
            Err(e) => error = Some(e),
        }
    }
    finish(&s, tokens, error)
}

fn check(body: &[u8]) -> Result<(), TestCaseError> {
    for flavor in [Flavor::Api, Flavor::WebDemo] {
        let fast = by_tokens(body, flavor);
        let full = by_events(body, flavor);
        prop_assert_eq!(
            fast,
            full,
            "{:?} stream:\n{}",
            flavor,
            String::from_utf8_lossy(body)
        );
    }
    Ok(())
}

// ---- generators --------------------------------------------------------------------------

fn pick(list: &'static [&'static str]) -> BoxedStrategy<String> {
    prop::sample::select(list).prop_map(str::to_owned).boxed()
}

/// Usually one of `usual`, now and then one of `odd`.
fn usually(usual: &'static [&'static str], odd: &'static [&'static str]) -> BoxedStrategy<String> {
    prop_oneof![80 => pick(usual), 1 => pick(odd)].boxed()
}

fn ws() -> BoxedStrategy<String> {
    prop_oneof![60 => pick(&["", "", "", " ", "\n", "\t", "\r\n  "]), 1 => pick(&["\u{a0}", "\u{c}"])]
        .boxed()
}

/// Content strings: the body of a JSON string (without quotes), from pieces.
fn content_body() -> BoxedStrategy<String> {
    const USUAL: &[&str] = &[
        "Hi",
        " the",
        "ing",
        " café",
        " 日本語",
        " 🙂",
        "\\n",
        "\\n\\n",
        "\\\"",
        "\\\\",
        "\\t",
        "\\/",
        "\\b\\f\\r",
        "\\u00e9",
        "\\u00E9",
        "\\ud83d\\ude00",
        "\\u0000",
        " ",
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
    ];
    const ODD: &[&str] = &[
        "\\ud83d",
        "\\ude00",
        "\\ud83dx",
        "\\ud83d\\n",
        "\\x",
        "\\u12",
        "\\u12g4",
        "\u{1}",
        "\u{1f}",
        "\n",
        "\"",
        "\",\"content\":\"x",
        "\"}}],\"id\":\"y",
        "\\",
    ];
    prop::collection::vec(usually(USUAL, ODD), 0..5)
        .prop_map(|p| p.concat())
        .boxed()
}

fn text_value() -> BoxedStrategy<String> {
    usually(
        &[
            "null",
            "\"chatcmpl-1\"",
            "\"\"",
            "\"solar-pro4\"",
            "\"日本\"",
        ],
        &[
            "\"esc\\\"aped\"",
            "\"\\u0073top\"",
            "1",
            "false",
            "{}",
            "[]",
        ],
    )
}

fn any_value() -> BoxedStrategy<String> {
    usually(
        &[
            "null",
            "true",
            "false",
            "0",
            "-0",
            "12",
            "1.5",
            "-1.5e10",
            "1E+2",
            "\"s\"",
            "[]",
            "{}",
            "[1,[2,{\"a\":null}]]",
            "{\"a\":{\"b\":\"c\"}}",
        ],
        &[
            "01",
            "1.",
            ".5",
            "-",
            "+1",
            "[1,]",
            "{\"a\":1,}",
            "nul",
            "NaN",
            "\"\\q\"",
        ],
    )
}

fn member(key: &'static str, value: BoxedStrategy<String>) -> BoxedStrategy<String> {
    (value, ws(), ws())
        .prop_map(move |(v, a, b)| format!("\"{key}\"{a}:{b}{v}"))
        .boxed()
}

fn extra() -> BoxedStrategy<String> {
    (
        usually(
            &[
                "object",
                "created",
                "index",
                "logprobs",
                "role",
                "x",
                "system_fingerprint",
            ],
            &["\\u0069d", "idé", "\\n"],
        ),
        any_value(),
    )
        .prop_map(|(k, v)| format!("\"{k}\":{v}"))
        .boxed()
}

/// An object of `required` plus some of `optional` (rarely twice), in a random order.
fn object(
    required: Vec<BoxedStrategy<String>>,
    optional: Vec<BoxedStrategy<String>>,
) -> BoxedStrategy<String> {
    let n = optional.len();
    (
        required,
        optional,
        prop::collection::vec((0..n.max(1), 0..20u8), 0..n + 2),
        prop::collection::vec(ws(), 4),
        any::<prop::sample::Index>(),
    )
        .prop_map(move |(required, optional, picks, gaps, at)| {
            let mut members: Vec<String> = Vec::new();
            for (i, twice) in picks {
                if n > 0 && (twice == 0 || !members.contains(&optional[i])) {
                    members.push(optional[i].clone());
                }
            }
            for r in required {
                let at = at.index(members.len() + 1);
                members.insert(at, r);
            }
            let mut out = format!("{{{}", gaps[0]);
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                    out.push_str(&gaps[i % 4]);
                }
                out.push_str(m);
                out.push_str(&gaps[(i + 2) % 4]);
            }
            out.push('}');
            out
        })
        .boxed()
}

fn tool_calls() -> BoxedStrategy<String> {
    usually(
        &["null"],
        &[
            "[]",
            r#"[{"index":0,"id":"call_1","type":"function","function":{"name":"get","arguments":""}}]"#,
            r#"[{"index":0,"function":{"arguments":"{\"a\":"}}]"#,
            r#"[{"function":{"name":"f","arguments":"1"}}]"#,
        ],
    )
}

fn delta(content: BoxedStrategy<String>) -> BoxedStrategy<String> {
    object(
        vec![member("content", content)],
        vec![
            member("role", usually(&["\"assistant\""], &["null", "1"])),
            member(
                "reasoning_content",
                usually(&["null"], &["\"think\"", "\"t\\nx\"", "2"]),
            ),
            member("reasoning", usually(&["null"], &["\"why\""])),
            member("refusal", usually(&["null"], &["\"no\"", "\"n\\u00f6\""])),
            member("tool_calls", tool_calls()),
            extra(),
        ],
    )
}

fn content_value() -> BoxedStrategy<String> {
    prop_oneof![
        20 => content_body().prop_map(|b| format!("\"{b}\"")),
        1 => pick(&["null", "1", "[]", "{}"]),
    ]
    .boxed()
}

fn choice(content: BoxedStrategy<String>) -> BoxedStrategy<String> {
    let delta_value = prop_oneof![
        20 => delta(content),
        1 => pick(&["null", "[]", "\"d\"", "{}"]),
    ]
    .boxed();
    let key = usually(&["delta"], &["message"]);
    object(
        vec![(key, delta_value)
            .prop_map(|(k, v)| format!("\"{k}\":{v}"))
            .boxed()],
        vec![
            member("index", usually(&["0"], &["1", "null"])),
            member(
                "finish_reason",
                usually(
                    &["null"],
                    &["\"stop\"", "\"\"", "\"length\"", "\"st\\u006fp\"", "3"],
                ),
            ),
            member("logprobs", usually(&["null"], &["{\"content\":[]}"])),
            extra(),
        ],
    )
}

fn chunk(content: BoxedStrategy<String>) -> BoxedStrategy<String> {
    let choices = prop_oneof![
        30 => choice(content.clone()).prop_map(|c| format!("[{c}]")),
        2 => (choice(content.clone()), choice(content)).prop_map(|(a, b)| format!("[{a},{b}]")),
        1 => pick(&["[]", "null", "[null]", "[1]", "{}"]),
    ]
    .boxed();
    object(
        vec![member("choices", choices)],
        vec![
            member("id", text_value()),
            member("object", usually(&["\"chat.completion.chunk\""], &["1"])),
            member("created", usually(&["1764000000"], &["1.5", "-1"])),
            member("model", text_value()),
            member(
                "system_fingerprint",
                usually(&["null", "\"fp_1\""], &["[]"]),
            ),
            member(
                "usage",
                usually(
                    &["null"],
                    &[
                        r#"{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}"#,
                        r#"{"prompt_tokens":1,"completion_tokens_details":{"reasoning_tokens":2}}"#,
                        "{}",
                        "\"u\"",
                    ],
                ),
            ),
            member(
                "error",
                usually(
                    &["null"],
                    &[
                        r#"{"message":"boom","type":"server_error","code":500}"#,
                        "\"e\"",
                    ],
                ),
            ),
            member("type", usually(&["null"], &["\"error\"", "\"x\""])),
            member("message", usually(&["null"], &["\"m\""])),
            extra(),
        ],
    )
}

/// One SSE event's data, sometimes broken after the fact.
fn event_data() -> BoxedStrategy<Vec<u8>> {
    let json = chunk(content_value()).prop_map(String::into_bytes).boxed();
    prop_oneof![
        30 => json.clone(),
        1 => (json.clone(), any::<prop::sample::Index>()).prop_map(|(mut d, at)| {
            let at = at.index(d.len());
            d.truncate(at);
            d
        }),
        1 => (json, any::<prop::sample::Index>(), prop::sample::select(&b"\xff\xc3\x01\"\\}]"[..])).prop_map(|(mut d, at, b)| {
            let at = at.index(d.len() + 1);
            d.insert(at, b);
            d
        }),
    ]
    .boxed()
}

/// A frame (a chunk with a placeholder content) and several contents for it.
fn same_frame() -> BoxedStrategy<Vec<Vec<u8>>> {
    const MARK: &str = "\u{1}MARK\u{1}";
    (
        chunk(Just(format!("\"{MARK}\"")).boxed()),
        prop::collection::vec(content_body(), 1..12),
    )
        .prop_map(|(frame, contents)| {
            contents
                .into_iter()
                .map(|c| frame.replacen(MARK, &c, 1).into_bytes())
                .collect()
        })
        .boxed()
}

/// A whole stream: a role chunk, events, and usually an end.
fn stream_body() -> BoxedStrategy<Vec<u8>> {
    let events = prop::collection::vec(
        prop_oneof![
            4 => same_frame(),
            4 => event_data().prop_map(|d| vec![d]),
        ],
        1..6,
    );
    let end = usually(
        &["data: [DONE]\n\n"],
        &[
            "",
            "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
            "event: error\ndata: {\"error\":{\"message\":\"late\"}}\n\n",
            "data:  [DONE] \n\n",
        ],
    );
    (events, end)
        .prop_map(|(events, end)| {
            let mut body =
                b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
                    .to_vec();
            for data in events.into_iter().flatten() {
                // A data line cannot hold a raw line end: split there into several data lines,
                // which SSE joins back with \n.
                body.extend_from_slice(b"data: ");
                for &b in &data {
                    match b {
                        b'\n' => body.extend_from_slice(b"\ndata: "),
                        b'\r' => body.extend_from_slice(b"\ndata:"),
                        _ => body.push(b),
                    }
                }
                body.extend_from_slice(b"\n\n");
            }
            body.extend_from_slice(end.as_bytes());
            body
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn tokens_match_the_full_decoder(body in stream_body()) {
        check(&body)?;
    }
}

/// The generated streams must produce tokens, errors and clean ends, or the test above
/// proves little.
#[test]
fn the_generator_reaches_tokens_errors_and_clean_ends() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut tokens, mut errors, mut done) = (0, 0, 0);
    for _ in 0..500 {
        let body = stream_body().new_tree(&mut runner).unwrap().current();
        let story = by_tokens(&body, Flavor::Api);
        tokens += story.tokens.len();
        errors += usize::from(story.error.is_some());
        done += usize::from(story.done);
    }
    assert!(tokens > 500, "{tokens} tokens");
    assert!(
        errors > 50 && done > 50,
        "{errors} errors, {done} clean ends"
    );
}

#[test]
fn a_usual_stream_reads_the_same_both_ways() {
    let mut body = String::new();
    for content in [
        "Hel",
        "lo",
        " wörld",
        "\\n",
        "\\\"q\\\"",
        "\\ud83d\\ude00",
        "",
    ] {
        body.push_str(&format!(
            "data: {{\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{content}\"}},\"finish_reason\":null}}]}}\n\n"
        ));
    }
    body.push_str("data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":6}}\n\ndata: [DONE]\n\n");
    let story = by_tokens(body.as_bytes(), Flavor::Api);
    assert_eq!(story.tokens, ["Hel", "lo", " wörld", "\n", "\"q\"", "😀"]);
    assert!(story.done);
    assert_eq!(story, by_events(body.as_bytes(), Flavor::Api));
}
