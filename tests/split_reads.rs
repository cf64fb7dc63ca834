//! Property tests of the SSE decoder and the chunk parser through the public
//! `ChatStream::from_reader`:
//!
//! - any byte stream, split into reads at arbitrary points (with `Interrupted` errors
//!   sprinkled in), yields exactly the same deltas, tokens, finish reason and outcome
//!   (success or error kind) as one read, for both flavors and several limits;
//! - arbitrary bytes never panic;
//! - a well-formed stream in any legal spelling (LF, CRLF or lone CR line ends, a BOM,
//!   comments, `event`/`id`/`retry` fields, data split over several `data:` lines,
//!   optional `[DONE]`) yields exactly the tokens it encodes, however it is split.

use std::collections::VecDeque;
use std::io::{self, Cursor, Read};

use proptest::prelude::*;
use upstage::{ChatStream, Delta, ErrorKind, Flavor, Limits};

/// A reader handing out `data` in pieces of the given sizes (cycled), returning an
/// `Interrupted` error before a piece whenever `interrupt` says so.
struct Pieces {
    data: Vec<u8>,
    at: usize,
    sizes: VecDeque<usize>,
    interrupts: VecDeque<bool>,
}

impl Pieces {
    fn new(data: Vec<u8>, sizes: Vec<usize>, interrupts: Vec<bool>) -> Pieces {
        Pieces {
            data,
            at: 0,
            sizes: sizes.into_iter().map(|s| s.max(1)).collect(),
            interrupts: interrupts.into(),
        }
    }
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(interrupt) = self.interrupts.pop_front() {
            self.interrupts.push_back(false);
            if interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
        }
        if self.at >= self.data.len() || buf.is_empty() {
            return Ok(0);
        }
        let size = self.sizes.pop_front().unwrap_or(usize::MAX);
        self.sizes.push_back(size);
        let n = size.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Everything observable about one run.
#[derive(Debug, PartialEq)]
struct Outcome {
    deltas: Vec<Delta>,
    end: Result<(), ErrorKind>,
    finish_reason: Option<String>,
    skipped: u64,
}

fn events(reader: impl Read + Send + 'static, flavor: Flavor, limits: Limits) -> Outcome {
    let mut stream = ChatStream::from_reader(reader, flavor, limits);
    let mut deltas = Vec::new();
    let mut end = Ok(());
    while let Some(item) = stream.next_delta() {
        match item {
            Ok(delta) => deltas.push(delta),
            Err(e) => {
                end = Err(e.kind());
                break;
            }
        }
    }
    assert!(
        stream.next_delta().is_none(),
        "a finished stream stays finished"
    );
    Outcome {
        deltas,
        end,
        finish_reason: stream.finish_reason().map(str::to_owned),
        skipped: stream.skipped_chunks(),
    }
}

fn tokens(
    reader: impl Read + Send + 'static,
    flavor: Flavor,
    limits: Limits,
) -> (Vec<String>, Result<(), ErrorKind>) {
    let mut out = Vec::new();
    for item in ChatStream::from_reader(reader, flavor, limits) {
        match item {
            Ok(token) => out.push(token),
            Err(e) => return (out, Err(e.kind())),
        }
    }
    (out, Ok(()))
}

fn content(deltas: &[Delta]) -> Vec<String> {
    deltas
        .iter()
        .filter_map(|d| match d {
            Delta::Content(text) => Some(text.clone()),
            _ => None,
        })
        .collect()
}

fn limits_strategy() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::default()),
        (1usize..200, 1usize..400).prop_map(|(max_line, max_event)| Limits::default()
            .with_max_line(max_line)
            .with_max_event(max_event)),
    ]
}

fn flavor_strategy() -> impl Strategy<Value = Flavor> {
    prop_oneof![Just(Flavor::Api), Just(Flavor::WebDemo)]
}

/// Bytes that look like an event stream often enough to get past the framing: fragments
/// of SSE syntax and chunk JSON mixed with arbitrary bytes.
fn sse_ish_bytes() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(b"data: ".to_vec()),
        Just(b"data:".to_vec()),
        Just(b"event: error\n".to_vec()),
        Just(b"id: 1\n".to_vec()),
        Just(b"retry: 5\n".to_vec()),
        Just(b": comment\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just(b"[DONE]".to_vec()),
        Just(br#"{"choices":[{"delta":{"content":"tok"}}]}"#.to_vec()),
        Just(br#"{"choices":[{"delta":{"reasoning_content":"r"},"finish_reason":"stop"}]}"#.to_vec()),
        Just(br#"{"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"name":"f","arguments":"{}"}}]}}]}"#.to_vec()),
        Just(br#"{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#.to_vec()),
        Just(br#"{"error":{"message":"boom","code":42}}"#.to_vec()),
        Just(br#"{"choices":[{"delta":{"content":"\u00e9\ud83d\ude00"}}]}"#.to_vec()),
        prop::collection::vec(any::<u8>(), 0..12),
    ];
    prop::collection::vec(fragment, 0..40).prop_map(|parts| parts.concat())
}

fn split_strategy() -> impl Strategy<Value = (Vec<usize>, Vec<bool>)> {
    (
        prop::collection::vec(1usize..64, 1..24),
        prop::collection::vec(prop::bool::weighted(0.1), 0..24),
    )
}

fn check_split_invariance(
    body: Vec<u8>,
    flavor: Flavor,
    limits: Limits,
    sizes: Vec<usize>,
    interrupts: Vec<bool>,
) -> Result<(), TestCaseError> {
    let whole = events(Cursor::new(body.clone()), flavor, limits);
    let split = events(
        Pieces::new(body.clone(), sizes.clone(), interrupts.clone()),
        flavor,
        limits,
    );
    prop_assert_eq!(&whole, &split);
    let bytewise = events(
        Pieces::new(body.clone(), vec![1], Vec::new()),
        flavor,
        limits,
    );
    prop_assert_eq!(&whole, &bytewise);
    let (tokens, end) = tokens(Pieces::new(body, sizes, interrupts), flavor, limits);
    prop_assert_eq!(end, whole.end);
    prop_assert_eq!(tokens, content(&whole.deltas));
    Ok(())
}

/// One way to spell a line end.
#[derive(Clone, Copy, Debug)]
enum Eol {
    Lf,
    CrLf,
    Cr,
}

impl Eol {
    fn bytes(self) -> &'static [u8] {
        match self {
            Eol::Lf => b"\n",
            Eol::CrLf => b"\r\n",
            Eol::Cr => b"\r",
        }
    }
}

fn eol() -> impl Strategy<Value = Eol> {
    prop_oneof![Just(Eol::Lf), Just(Eol::CrLf), Just(Eol::Cr)]
}

/// A well-formed stream: tokens, each encoded as a chunk spelled in one of many legal
/// ways, then an end (`[DONE]`, a finish reason, or both).
#[derive(Clone, Debug)]
struct Spelled {
    body: Vec<u8>,
    tokens: Vec<String>,
}

fn token_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 ]{1,8}",
        "\\PC{1,4}",
        Just("\n".to_owned()),
        Just("\"quoted\"".to_owned()),
        Just("tab\there".to_owned()),
    ]
}

fn spelled_stream() -> impl Strategy<Value = Spelled> {
    let event = (
        token_text(),
        eol(),
        any::<bool>(), // a comment before it
        any::<bool>(), // event/id/retry fields
        any::<bool>(), // JSON split over two data lines
        any::<bool>(), // no space after "data:"
    );
    (
        any::<bool>(), // BOM
        prop::collection::vec(event, 0..12),
        0u8..3, // 0: [DONE]; 1: finish_reason then EOF; 2: both
        eol(),
    )
        .prop_map(|(bom, events, end, last_eol)| {
            let mut body = Vec::new();
            if bom {
                body.extend_from_slice(b"\xEF\xBB\xBF");
            }
            let mut tokens = Vec::new();
            for (text, eol, comment, fields, split, no_space) in events {
                let e = eol.bytes();
                if comment {
                    body.extend_from_slice(b": keep-alive");
                    body.extend_from_slice(e);
                }
                if fields {
                    for field in [&b"event: message"[..], b"id: 42", b"retry: 1000"] {
                        body.extend_from_slice(field);
                        body.extend_from_slice(e);
                    }
                }
                let json = format!(
                    r#"{{"choices":[{{"index":0,"delta":{{"content":{}}},"finish_reason":null}}]}}"#,
                    serde_json::to_string(&text).unwrap()
                );
                let prefix: &[u8] = if no_space { b"data:" } else { b"data: " };
                if split {
                    // A JSON value may be cut anywhere whitespace is allowed; the two
                    // data lines are joined with "\n", which JSON ignores.
                    let cut = json.find(":{").unwrap() + 1;
                    body.extend_from_slice(prefix);
                    body.extend_from_slice(&json.as_bytes()[..cut]);
                    body.extend_from_slice(e);
                    body.extend_from_slice(prefix);
                    body.extend_from_slice(&json.as_bytes()[cut..]);
                } else {
                    body.extend_from_slice(prefix);
                    body.extend_from_slice(json.as_bytes());
                }
                body.extend_from_slice(e);
                body.extend_from_slice(e);
                tokens.push(text);
            }
            let e = last_eol.bytes();
            if end >= 1 {
                body.extend_from_slice(br#"data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#);
                body.extend_from_slice(e);
                body.extend_from_slice(e);
            }
            if end != 1 {
                body.extend_from_slice(b"data: [DONE]");
                body.extend_from_slice(e);
                body.extend_from_slice(e);
            }
            Spelled { body, tokens }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_split_anywhere_give_the_same_outcome(
        body in prop::collection::vec(any::<u8>(), 0..512),
        flavor in flavor_strategy(),
        limits in limits_strategy(),
        (sizes, interrupts) in split_strategy(),
    ) {
        check_split_invariance(body, flavor, limits, sizes, interrupts)?;
    }

    #[test]
    fn sse_like_bytes_split_anywhere_give_the_same_outcome(
        body in sse_ish_bytes(),
        flavor in flavor_strategy(),
        limits in limits_strategy(),
        (sizes, interrupts) in split_strategy(),
    ) {
        check_split_invariance(body, flavor, limits, sizes, interrupts)?;
    }

    #[test]
    fn well_formed_streams_yield_exactly_their_tokens(
        spelled in spelled_stream(),
        (sizes, interrupts) in split_strategy(),
    ) {
        for flavor in [Flavor::Api, Flavor::WebDemo] {
            let (whole, end) = tokens(Cursor::new(spelled.body.clone()), flavor, Limits::default());
            prop_assert_eq!(end, Ok(()));
            prop_assert_eq!(&whole, &spelled.tokens);
            let (split, end) = tokens(
                Pieces::new(spelled.body.clone(), sizes.clone(), interrupts.clone()),
                flavor,
                Limits::default(),
            );
            prop_assert_eq!(end, Ok(()));
            prop_assert_eq!(&split, &spelled.tokens);
        }
    }

    #[test]
    fn a_well_formed_stream_cut_short_is_truncated_keeping_its_tokens(
        spelled in spelled_stream(),
        cut in any::<prop::sample::Index>(),
    ) {
        // Cut strictly before the end marker: every prefix that has not reached the
        // final event is a truncated stream whose tokens are a prefix of the whole.
        let end = spelled.body.len();
        let at = cut.index(end.max(1));
        let prefix = spelled.body[..at].to_vec();
        let (got, outcome) = tokens(Cursor::new(prefix), Flavor::Api, Limits::default());
        prop_assert!(got.len() <= spelled.tokens.len());
        prop_assert_eq!(&got[..], &spelled.tokens[..got.len()]);
        if let Err(kind) = outcome {
            prop_assert_eq!(kind, ErrorKind::Truncated);
        }
    }
}

#[test]
fn arbitrary_bytes_never_panic_with_tiny_limits() {
    // Deterministic sweep over small inputs: every byte value at every position of a
    // short SSE-looking template, with limits of 1.
    let template = b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n";
    let limits = [
        Limits::default(),
        Limits::default().with_max_line(1).with_max_event(1),
    ];
    for position in 0..template.len() {
        for byte in [0u8, b'\n', b'\r', b':', b' ', b'"', b'\\', b'{', 0xFF, 0xEF] {
            let mut body = template.to_vec();
            body[position] = byte;
            for limits in limits {
                for flavor in [Flavor::Api, Flavor::WebDemo] {
                    let _ = events(Cursor::new(body.clone()), flavor, limits);
                }
            }
        }
    }
}
