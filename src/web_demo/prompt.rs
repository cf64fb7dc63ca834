//! Flattening a chat into one prompt string, byte for byte as g4f's `format_prompt` does.
//!
//! The legacy web demo received the whole conversation as a single user message. Reproducing
//! that string exactly means reproducing three bits of Python along the way (see
//! [`python`](super::python)): `str.capitalize` for roles, `str.strip` for the emptiness test
//! and `str()` for non-string content.

use serde_json::Value;

use super::python::{is_python_blank, push_capitalized, push_python_number};
use crate::error::{Error, Result};
use crate::request::{ChatRequest, Message};

/// What the original appends after the last line to cue the model's turn.
const ASSISTANT_CUE: &str = "\nAssistant:";

/// Flattens `(role, content)` pairs into one prompt.
///
/// A single message yields its content alone (role ignored, no cue, even when blank). Otherwise
/// each message whose content is not blank (Python whitespace only) becomes a line
/// `"{Role}: {content}"`; the lines are joined with `"\n"` and followed by `"\nAssistant:"`.
/// Content is never trimmed.
///
/// # Errors
///
/// [`crate::ErrorKind::InvalidArgument`] when `messages` is empty (the original crashed with
/// an `IndexError`).
pub fn format_prompt_parts<'a, I>(messages: I) -> Result<String>
where
    I: IntoIterator<Item = (&'a str, &'a Value)>,
{
    let mut messages = messages.into_iter();
    let first = messages
        .next()
        .ok_or_else(|| Error::invalid_argument("messages must not be empty"))?;
    let Some(second) = messages.next() else {
        return Ok(content_to_string(first.1));
    };
    let mut out = String::new();
    for (role, content) in [first, second].into_iter().chain(messages) {
        push_line(&mut out, role, content);
    }
    out.push_str(ASSISTANT_CUE);
    Ok(out)
}

/// Parses a JSON array of `{"role": ..., "content": ...}` objects and flattens it with
/// [`format_prompt_parts`].
///
/// `role` is required and must be a string; a missing `content` counts as `null`; any other
/// member is ignored. Every message is validated before anything is formatted.
///
/// # Errors
///
/// [`crate::ErrorKind::InvalidArgument`] when the text is not valid JSON, is not an array, is
/// an empty array, or holds a message that is not an object or lacks a string `role`. (The
/// original only read the role when there were two messages or more; we always require it.)
pub fn format_prompt_json(messages_json: &str) -> Result<String> {
    format_prompt(&ChatRequest::messages_from_json(messages_json)?)
}

/// Flattens a conversation into one prompt exactly like g4f's `format_prompt`.
///
/// One message: its content alone. More: `Role: content` lines (roles capitalized like
/// Python's `str.capitalize`, whitespace-only messages dropped) and a final `Assistant:`.
///
/// ```
/// use upstage::web_demo::format_prompt;
/// use upstage::Message;
///
/// let prompt = format_prompt(&[Message::system("Be brief"), Message::user("Hi")])?;
/// assert_eq!(prompt, "System: Be brief\nUser: Hi\nAssistant:");
/// # Ok::<(), upstage::Error>(())
/// ```
///
/// # Errors
///
/// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) when `messages` is
/// empty.
pub fn format_prompt(messages: &[Message]) -> Result<String> {
    format_prompt_parts(messages.iter().map(|m| (m.role(), m.content())))
}

/// Renders message content as the original's `to_string` helper does.
///
/// - a string is itself, `null` is `""`;
/// - an object is its `"text"` member rendered recursively, or `""` without one (the original
///   returned a non-string `text` raw, which later crashed or printed it with `str()`; we
///   print it);
/// - an array is the concatenation of its elements whose `"type"` is `"text"` or absent. The
///   original called `.get` on every element and so crashed on anything but an object; we
///   keep string elements (as text) and skip other non-objects;
/// - booleans and numbers are rendered like Python's `str()`: `True`, `5`, `1.5`, `1e+20`.
///
/// Numbers are rendered from what `serde_json` parsed: integers beyond the `i64`/`u64` range
/// arrive as `f64` and therefore print as floats (`1.8446744073709552e+19`) where Python
/// would print every digit, and JSON `-0` arrives as the float `-0.0` (Python prints `0`).
pub fn content_to_string(value: &Value) -> String {
    let mut out = String::new();
    push_content(&mut out, value);
    out
}

/// Appends one prompt line (preceded by the separator when a line already exists), or nothing
/// when the content is blank. The content is rendered straight into `out` once and rolled
/// back if blank, so no per-message string is allocated.
fn push_line(out: &mut String, role: &str, content: &Value) {
    let line_start = out.len();
    // A kept line is never empty (it holds at least ": "), so a non-empty buffer means a line.
    if line_start > 0 {
        out.push('\n');
    }
    push_capitalized(out, role);
    out.push_str(": ");
    let content_start = out.len();
    push_content(out, content);
    if is_python_blank(&out[content_start..]) {
        out.truncate(line_start);
    }
}

/// Appends [`content_to_string`] of `value` to `out`.
fn push_content(out: &mut String, value: &Value) {
    match value {
        Value::String(text) => out.push_str(text),
        Value::Null => {}
        Value::Bool(flag) => out.push_str(if *flag { "True" } else { "False" }),
        Value::Number(number) => push_python_number(out, number),
        Value::Object(fields) => {
            if let Some(text) = fields.get("text") {
                push_content(out, text);
            }
        }
        Value::Array(parts) => {
            for part in parts.iter().filter(|part| is_text_part(part)) {
                push_content(out, part);
            }
        }
    }
}

/// Whether an element of array content counts as text: Python's
/// `x.get("type", "text") == "text"` for objects, and (our choice) any string.
fn is_text_part(part: &Value) -> bool {
    match part {
        Value::Object(fields) => match fields.get("type") {
            None => true,
            Some(kind) => kind.as_str() == Some("text"),
        },
        Value::String(_) => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::python::{is_python_whitespace, push_python_float, python_capitalize};
    use super::*;
    use crate::ErrorKind;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use serde_json::json;

    fn prompt(messages: &[(&str, Value)]) -> Result<String> {
        format_prompt_parts(messages.iter().map(|(role, content)| (*role, content)))
    }

    /// Runs a row of the original provider's behaviour table through both entry points.
    fn check_row(messages: &[(&str, Value)], expected: &str) {
        assert_eq!(prompt(messages).unwrap(), expected, "parts: {messages:?}");
        let json: Vec<Value> = messages
            .iter()
            .map(|(role, content)| json!({"role": role, "content": content}))
            .collect();
        let json = serde_json::to_string(&json).unwrap();
        assert_eq!(format_prompt_json(&json).unwrap(), expected, "json: {json}");
    }

    fn invalid(result: Result<String>) -> String {
        let error = result.expect_err("should be rejected");
        assert_eq!(error.kind(), ErrorKind::InvalidArgument);
        error.message().to_owned()
    }

    fn python_float(float: f64) -> String {
        let mut out = String::new();
        push_python_float(&mut out, float);
        out
    }

    // ---- SEED.md §3, one test per row ----

    #[test]
    fn seed_single_user_message() {
        check_row(&[("user", json!("Hello"))], "Hello");
    }

    #[test]
    fn seed_single_system_message() {
        check_row(&[("system", json!("Be brief"))], "Be brief");
    }

    #[test]
    fn seed_single_message_with_parts() {
        let parts = json!([
            {"type": "text", "text": "a"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            {"type": "text", "text": "b"}
        ]);
        check_row(&[("user", parts)], "ab");
    }

    #[test]
    fn seed_system_and_user() {
        check_row(
            &[("system", json!("Be brief")), ("user", json!("Hi"))],
            "System: Be brief\nUser: Hi\nAssistant:",
        );
    }

    #[test]
    fn seed_conversation() {
        check_row(
            &[
                ("system", json!("S")),
                ("user", json!("Q1")),
                ("assistant", json!("A1")),
                ("user", json!("Q2")),
            ],
            "System: S\nUser: Q1\nAssistant: A1\nUser: Q2\nAssistant:",
        );
    }

    #[test]
    fn seed_roles_are_capitalized() {
        check_row(
            &[("USER", json!("x")), ("assistant", json!("y"))],
            "User: x\nAssistant: y\nAssistant:",
        );
    }

    #[test]
    fn seed_blank_and_null_content_dropped() {
        check_row(
            &[
                ("user", json!("x")),
                ("assistant", json!("  ")),
                ("user", Value::Null),
            ],
            "User: x\nAssistant:",
        );
    }

    #[test]
    fn seed_content_is_not_trimmed() {
        check_row(
            &[("user", json!("  x \n")), ("user", json!("y"))],
            "User:   x \n\nUser: y\nAssistant:",
        );
    }

    #[test]
    fn seed_scalars_render_like_python() {
        check_row(
            &[
                ("user", json!(5)),
                ("tool", json!(true)),
                ("user", json!(1.5)),
            ],
            "User: 5\nTool: True\nUser: 1.5\nAssistant:",
        );
    }

    #[test]
    fn seed_all_blank() {
        check_row(&[("user", json!("")), ("user", json!(""))], "\nAssistant:");
    }

    // ---- format_prompt_parts / format_prompt_json ----

    #[test]
    fn empty_messages_are_rejected() {
        let message = invalid(format_prompt_parts(std::iter::empty()));
        assert!(message.contains("must not be empty"), "{message}");
        let message = invalid(format_prompt_json("[]"));
        assert!(message.contains("must not be empty"), "{message}");
    }

    #[test]
    fn single_blank_message_is_returned_verbatim() {
        check_row(&[("user", json!(" \n "))], " \n ");
        check_row(&[("user", Value::Null)], "");
    }

    #[test]
    fn json_rejects_what_is_not_an_array_of_messages() {
        for (input, needle) in [
            ("", "not valid JSON"),
            ("[{\"role\": \"user\"", "not valid JSON"),
            ("[] []", "not valid JSON"),
            (
                "{\"role\": \"user\"}",
                "must be a JSON array, not an object",
            ),
            ("null", "must be a JSON array, not null"),
            ("\"hi\"", "must be a JSON array, not a string"),
            (
                "[{\"role\": \"user\"}, 3]",
                "messages[1] must be an object, not a number",
            ),
            ("[{\"content\": \"hi\"}]", "messages[0] has no \"role\""),
            (
                "[{\"role\": null, \"content\": \"hi\"}]",
                "messages[0].role must be a string",
            ),
            (
                "[{\"role\": [\"user\"]}]",
                "role must be a string, not an array",
            ),
        ] {
            let message = invalid(format_prompt_json(input));
            assert!(message.contains(needle), "{input:?}: {message}");
        }
    }

    #[test]
    fn json_missing_content_is_null_and_extra_members_are_ignored() {
        let input =
            r#"[{"role": "user", "name": "bob"}, {"role": "user", "content": "hi", "x": 1}]"#;
        assert_eq!(format_prompt_json(input).unwrap(), "User: hi\nAssistant:");
        assert_eq!(format_prompt_json(r#"[{"role": "user"}]"#).unwrap(), "");
    }

    #[test]
    fn json_duplicate_keys_keep_the_last_value_like_python() {
        let input = r#"[{"role": "x", "role": "user", "content": "a", "content": "b"}, {"role": "tool", "content": "c"}]"#;
        assert_eq!(
            format_prompt_json(input).unwrap(),
            "User: b\nTool: c\nAssistant:"
        );
    }

    #[test]
    fn unusual_roles_are_capitalized_like_python() {
        let content = json!("c");
        let out = format_prompt_parts([("", &content), ("mY rOLE", &content)]).unwrap();
        assert_eq!(out, ": c\nMy role: c\nAssistant:");
    }

    #[test]
    fn python_whitespace_counts_as_blank() {
        for blank in [
            "\u{1C}",
            "\u{1D}",
            "\u{1E}",
            "\u{1F}",
            "\u{85}",
            "\u{A0}",
            "\u{3000}",
            "\u{2028}",
            "\t\n\u{B}\u{C}\r ",
            "\u{1C}\u{3000}\u{85}",
        ] {
            let out = prompt(&[("user", json!(blank)), ("user", json!("x"))]).unwrap();
            assert_eq!(out, "User: x\nAssistant:", "{blank:?}");
        }
    }

    #[test]
    fn zero_width_space_is_content() {
        let out = prompt(&[("user", json!("\u{200B}")), ("user", json!(" "))]).unwrap();
        assert_eq!(out, "User: \u{200B}\nAssistant:");
    }

    #[test]
    fn whitespace_set_is_exactly_pythons() {
        // Every code point for which CPython's str.isspace() is true.
        const PYTHON: [u32; 29] = [
            0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680, 0x2000,
            0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A, 0x2028,
            0x2029, 0x202F, 0x205F, 0x3000,
        ];
        for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
            assert_eq!(
                is_python_whitespace(c),
                PYTHON.contains(&u32::from(c)),
                "U+{:04X}",
                u32::from(c)
            );
        }
    }

    // ---- content_to_string ----

    #[test]
    fn content_strings_objects_and_null() {
        for (value, expected) in [
            (json!("plain"), "plain"),
            (json!(""), ""),
            (Value::Null, ""),
            (json!({"text": "t", "type": "image_url"}), "t"),
            (json!({"type": "text"}), ""),
            (json!({}), ""),
            (json!({"text": null}), ""),
            (json!({"text": 7}), "7"),
            (json!({"text": false}), "False"),
            (json!({"text": {"text": "deep"}}), "deep"),
            (json!({"text": [{"text": "a"}, {"text": "b"}]}), "ab"),
        ] {
            assert_eq!(content_to_string(&value), expected, "{value}");
        }
    }

    #[test]
    fn content_arrays_keep_only_text_parts() {
        for (value, expected) in [
            (json!([]), ""),
            (
                json!([{"text": "no type "}, {"type": "text", "text": "typed"}]),
                "no type typed",
            ),
            (
                json!([{"type": "image_url", "text": "hidden"}, {"type": "TEXT", "text": "x"}]),
                "",
            ),
            (
                json!([{"type": null, "text": "x"}, {"type": 1, "text": "y"}]),
                "",
            ),
            (
                json!([{"type": "text"}, {"type": "text", "text": 2.5}]),
                "2.5",
            ),
            (
                json!(["loose ", "strings", 1, true, null, ["nested"]]),
                "loose strings",
            ),
            (
                json!([{"text": [{"text": "in"}, {"type": "image", "text": "out"}]}]),
                "in",
            ),
        ] {
            assert_eq!(content_to_string(&value), expected, "{value}");
        }
    }

    #[test]
    fn content_scalars_render_like_python_str() {
        for (value, expected) in [
            (json!(true), "True"),
            (json!(false), "False"),
            (json!(0), "0"),
            (json!(-17), "-17"),
            (json!(i64::MIN), "-9223372036854775808"),
            (json!(u64::MAX), "18446744073709551615"),
            (json!(1.0), "1.0"),
            (json!(-2.5), "-2.5"),
        ] {
            assert_eq!(content_to_string(&value), expected, "{value}");
        }
    }

    #[test]
    fn json_numbers_render_like_python_after_json_loads() {
        for (input, expected) in [
            ("5", "5"),
            ("5.0", "5.0"),
            ("1e2", "100.0"),
            ("1E+20", "1e+20"),
            ("-0.0", "-0.0"),
            ("0.1", "0.1"),
            // Known limitation: beyond u64 serde_json yields an f64 (Python prints all digits).
            ("18446744073709551616", "1.8446744073709552e+19"),
        ] {
            let value: Value = serde_json::from_str(input).unwrap();
            assert_eq!(content_to_string(&value), expected, "{input}");
        }
    }

    #[test]
    fn floats_render_like_python_repr() {
        for (float, expected) in [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (1.0, "1.0"),
            (1.5, "1.5"),
            (-1.5, "-1.5"),
            (123.456, "123.456"),
            (0.1 + 0.2, "0.30000000000000004"),
            (0.0001, "0.0001"),
            (0.00012345, "0.00012345"),
            (0.00001, "1e-05"),
            (0.000015, "1.5e-05"),
            (9.999999999999999e-5, "9.999999999999999e-05"),
            (1e15, "1000000000000000.0"),
            (123456789012345.0, "123456789012345.0"),
            (1234567890123456.8, "1234567890123456.8"),
            (9999999999999998.0, "9999999999999998.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e20, "1e+20"),
            (-1e20, "-1e+20"),
            (1e100, "1e+100"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (2.2250738585072014e-308, "2.2250738585072014e-308"),
            (5e-324, "5e-324"),
            // Exact ties between two shortest candidates (the sums are exact): Python picks the
            // even last digit.
            (94_013_758_258_785.0 + 0.625, "94013758258785.62"),
            // Found by the float property: another exact tie, half to even (Python 3.11).
            (115_300_683_422_790.0 + 0.125, "115300683422790.12"),
            (-21_346_066_203_752.0 - 0.5625, "-21346066203752.562"),
            (2_207_379_444_829_784.0 + 0.25, "2207379444829784.2"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (f64::NAN, "nan"),
        ] {
            assert_eq!(python_float(float), expected, "{float:?}");
        }
    }

    // ---- python_capitalize ----

    #[test]
    fn capitalize_like_python() {
        // Expected values are CPython 3.11's str.capitalize().
        for (input, expected) in [
            ("", ""),
            ("user", "User"),
            ("USER", "User"),
            ("aSSISTANT", "Assistant"),
            ("hELLO wORLD", "Hello world"),
            ("123abc", "123abc"),
            (" user", " user"),
            ("é", "É"),
            ("ǆungla", "ǅungla"),
            ("Ǉ", "ǈ"),
            ("ǌ", "ǋ"),
            ("ǳ", "ǲ"),
            ("ß", "Ss"),
            ("ßA", "Ssa"),
            ("ﬁx", "Fix"),
            ("ﬃ", "Ffi"),
            ("ﬆ", "St"),
            ("և", "Եւ"),
            ("ﬓ", "Մն"),
            ("ŉ", "ʼN"),
            ("ა", "ა"),
            ("ᾀ", "ᾈ"),
            ("ᾳ", "ᾼ"),
            ("ᾷ", "\u{391}\u{342}\u{345}"),
            ("ΣΑΣ", "Σας"),
            ("AΣ", "Aς"),
            ("ΣA", "Σa"),
            ("Σ", "Σ"),
            ("AΣB", "Aσb"),
            ("A.Σ", "A.ς"),
            ("Xİ", "Xi̇"),
            ("İx", "İx"),
        ] {
            assert_eq!(python_capitalize(input), expected, "{input:?}");
        }
    }

    // ---- properties ----

    /// The original's algorithm written the obvious way, to check the single-buffer version.
    fn reference(messages: &[(String, Value)]) -> String {
        if let [(_, content)] = messages {
            return content_to_string(content);
        }
        let lines: Vec<String> = messages
            .iter()
            .map(|(role, content)| (role, content_to_string(content)))
            .filter(|(_, content)| !is_python_blank(content))
            .map(|(role, content)| format!("{}: {content}", python_capitalize(role)))
            .collect();
        lines.join("\n") + ASSISTANT_CUE
    }

    fn parts(messages: &[(String, Value)]) -> Result<String> {
        format_prompt_parts(
            messages
                .iter()
                .map(|(role, content)| (role.as_str(), content)),
        )
    }

    fn blank_text() -> impl Strategy<Value = String> {
        "[ \t\n\u{B}\u{C}\r\u{1C}-\u{1F}\u{85}\u{A0}\u{2000}\u{3000}]{0,4}"
    }

    fn blank_content() -> impl Strategy<Value = Value> {
        prop_oneof![
            blank_text().prop_map(Value::String),
            Just(Value::Null),
            Just(json!([])),
            Just(json!({"type": "image"})),
            blank_text().prop_map(|t| json!([{"type": "text", "text": t}])),
        ]
    }

    /// Content of every kind; `newlines` controls whether strings may hold line breaks.
    fn content(newlines: bool) -> impl Strategy<Value = Value> {
        let text = if newlines {
            "[ a-zA-Z\t\n\u{1C}\u{85}\u{3000}\u{200B}é]{0,6}"
        } else {
            "[ a-zA-Z\t\u{1C}\u{85}\u{3000}\u{200B}é]{0,6}"
        };
        let part = prop_oneof![
            text.prop_map(|t| json!({"type": "text", "text": t})),
            text.prop_map(|t| json!({"text": t})),
            text.prop_map(|t| json!({"type": "image_url", "text": t})),
        ];
        prop_oneof![
            text.prop_map(Value::String),
            blank_content(),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            // Quarters are exact in binary, so they survive a JSON round trip bit for bit.
            any::<i32>().prop_map(|q| Value::from(f64::from(q) / 4.0)),
            vec(part, 0..4).prop_map(Value::Array),
        ]
    }

    fn role() -> impl Strategy<Value = String> {
        "[a-zA-Z_ ßǆΣé]{0,8}"
    }

    fn messages(newlines: bool, min: usize) -> impl Strategy<Value = Vec<(String, Value)>> {
        vec((role(), content(newlines)), min..8)
    }

    proptest! {
        #[test]
        fn matches_the_straightforward_algorithm(messages in messages(true, 1)) {
            prop_assert_eq!(parts(&messages).unwrap(), reference(&messages));
        }

        #[test]
        fn json_and_parts_agree(messages in messages(true, 1)) {
            let json: Vec<Value> = messages
                .iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect();
            let json = serde_json::to_string(&json).unwrap();
            prop_assert_eq!(format_prompt_json(&json).unwrap(), parts(&messages).unwrap());
        }

        #[test]
        fn single_message_is_its_content(role in role(), content in content(true)) {
            let out = format_prompt_parts([(role.as_str(), &content)]).unwrap();
            prop_assert_eq!(out, content_to_string(&content));
        }

        #[test]
        fn several_messages_end_with_the_cue(messages in messages(true, 2)) {
            prop_assert!(parts(&messages).unwrap().ends_with(ASSISTANT_CUE));
        }

        #[test]
        fn one_line_per_non_blank_message(messages in messages(false, 2)) {
            let out = parts(&messages).unwrap();
            let kept: Vec<_> = messages
                .iter()
                .filter(|(_, content)| !is_python_blank(&content_to_string(content)))
                .collect();
            let lines: Vec<&str> = out.split('\n').collect();
            prop_assert_eq!(lines.len(), kept.len().max(1) + 1);
            prop_assert_eq!(*lines.last().unwrap(), "Assistant:");
            for ((role, content), line) in kept.iter().zip(&lines) {
                let expected = format!("{}: {}", python_capitalize(role), content_to_string(content));
                prop_assert_eq!(*line, expected.as_str());
            }
        }

        #[test]
        fn blank_messages_change_nothing(
            messages in messages(true, 2),
            role in role(),
            blank in blank_content(),
            at in any::<prop::sample::Index>(),
        ) {
            let before = parts(&messages).unwrap();
            let mut more = messages;
            more.insert(at.index(more.len() + 1), (role, blank));
            prop_assert_eq!(parts(&more).unwrap(), before);
        }

        #[test]
        fn ascii_capitalize_is_upper_then_lower(s in "[ -~]{0,12}") {
            let mut expected = s.to_ascii_lowercase();
            if let Some(first) = expected.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            prop_assert_eq!(python_capitalize(&s), expected);
        }

        #[test]
        fn floats_round_trip_and_look_like_python(bits in any::<u64>()) {
            let float = f64::from_bits(bits);
            prop_assume!(float.is_finite());
            let text = python_float(float);
            prop_assert_eq!(text.parse::<f64>().unwrap().to_bits(), float.to_bits());
            let fixed = float == 0.0 || (1e-4..1e16).contains(&float.abs());
            if fixed {
                // In this range repr is as short as Rust's shortest Display (plus ".0" for
                // whole numbers); the last digit may differ on exact ties, which Python
                // rounds half to even and Rust's Display rounds up (both round-trip).
                let display = format!("{float}");
                let expected = if display.contains('.') { display } else { display + ".0" };
                prop_assert_eq!(text.len(), expected.len());
                prop_assert_eq!(&text[..text.len() - 1], &expected[..expected.len() - 1]);
            } else {
                let (mantissa, exponent) = text.split_once('e').unwrap();
                prop_assert!(!mantissa.ends_with(".0"));
                prop_assert!(exponent.starts_with('+') || exponent.starts_with('-'));
                prop_assert!(exponent.len() >= 3);
            }
        }
    }
}
