//! JSON read the way Python's `json.loads` reads it, for printing with Python's `str()`.
//!
//! `serde_json` (without its global `arbitrary_precision` feature, which would change every
//! number of every user of the crate) turns an integer beyond 64 bits into an `f64`:
//! `1000000000000000000000000000000` would print as `1e+30`, where Python, whose integers
//! have no size limit, prints every digit. This reader keeps an integer's digits as text,
//! so `str()` can print them exactly, and reads everything else as Python would: `1e400`
//! is `inf` (serde_json rejects it), `-0` is the integer `0`, duplicate keys keep the last
//! value.
//!
//! The text is first validated by serde_json (so that errors read the same as everywhere
//! else); the walk below then only has to handle valid JSON.

use serde::de::IgnoredAny;
use serde_json::Value;

/// A JSON value as Python's `json.loads` would build it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum PyValue {
    /// `None`.
    Null,
    /// `True` / `False`.
    Bool(bool),
    /// An `int` of any size, as its canonical decimal text (`-` and digits; never `-0`).
    Int(String),
    /// A `float`.
    Float(f64),
    /// A `str`.
    Str(String),
    /// A `list`.
    Array(Vec<PyValue>),
    /// A `dict`: members in first-insertion order, each key once with its last value.
    Object(Vec<(String, PyValue)>),
}

impl PyValue {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&PyValue> {
        match self {
            PyValue::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The JSON name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            PyValue::Null => "null",
            PyValue::Bool(_) => "a boolean",
            PyValue::Int(_) | PyValue::Float(_) => "a number",
            PyValue::Str(_) => "a string",
            PyValue::Array(_) => "an array",
            PyValue::Object(_) => "an object",
        }
    }

    /// The text of a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            PyValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&Value> for PyValue {
    /// A `serde_json` value (whose numbers already went through `f64` or 64-bit integers).
    fn from(value: &Value) -> PyValue {
        match value {
            Value::Null => PyValue::Null,
            Value::Bool(b) => PyValue::Bool(*b),
            Value::Number(n) => match n.as_f64() {
                Some(f) if n.is_f64() => PyValue::Float(f),
                _ => PyValue::Int(n.to_string()),
            },
            Value::String(s) => PyValue::Str(s.clone()),
            Value::Array(items) => PyValue::Array(items.iter().map(PyValue::from).collect()),
            Value::Object(members) => PyValue::Object(
                members
                    .iter()
                    .map(|(k, v)| (k.clone(), PyValue::from(v)))
                    .collect(),
            ),
        }
    }
}

/// Parses JSON text as Python's `json.loads` would.
///
/// # Errors
///
/// serde_json's error when the text is not valid JSON (Python's `json.loads` accepts a
/// few more things, such as `NaN` and lone surrogates, which are rejected here).
pub(crate) fn parse(text: &str) -> Result<PyValue, serde_json::Error> {
    serde_json::from_str::<IgnoredAny>(text)?;
    let mut walker = Walker {
        text,
        bytes: text.as_bytes(),
        pos: 0,
    };
    walker.value()
}

/// Walks JSON text already known to be valid.
struct Walker<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl Walker<'_> {
    fn value(&mut self) -> Result<PyValue, serde_json::Error> {
        self.ws();
        let value = match self.bytes[self.pos] {
            b'n' => {
                self.pos += 4;
                PyValue::Null
            }
            b't' => {
                self.pos += 4;
                PyValue::Bool(true)
            }
            b'f' => {
                self.pos += 5;
                PyValue::Bool(false)
            }
            b'"' => PyValue::Str(self.string()?),
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    match self.bytes[self.pos] {
                        b']' => {
                            self.pos += 1;
                            break;
                        }
                        b',' => self.pos += 1,
                        _ => items.push(self.value()?),
                    }
                }
                PyValue::Array(items)
            }
            b'{' => {
                self.pos += 1;
                let mut members: Vec<(String, PyValue)> = Vec::new();
                loop {
                    self.ws();
                    match self.bytes[self.pos] {
                        b'}' => {
                            self.pos += 1;
                            break;
                        }
                        b',' => self.pos += 1,
                        _ => {
                            let key = self.string()?;
                            self.ws();
                            self.pos += 1; // ':'
                            let value = self.value()?;
                            match members.iter_mut().find(|(k, _)| *k == key) {
                                Some(member) => member.1 = value,
                                None => members.push((key, value)),
                            }
                        }
                    }
                }
                PyValue::Object(members)
            }
            _ => self.number(),
        };
        Ok(value)
    }

    /// A string literal, unescaped by serde_json (which also rejects lone surrogates).
    fn string(&mut self) -> Result<String, serde_json::Error> {
        let start = self.pos;
        self.pos += 1;
        loop {
            match self.bytes[self.pos] {
                b'\\' => self.pos += 2,
                b'"' => {
                    self.pos += 1;
                    break;
                }
                _ => self.pos += 1,
            }
        }
        serde_json::from_str(&self.text[start..self.pos])
    }

    fn number(&mut self) -> PyValue {
        let start = self.pos;
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|b| matches!(b, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
        {
            self.pos += 1;
        }
        let literal = &self.text[start..self.pos];
        if literal.contains(['.', 'e', 'E']) {
            // Correctly rounded like Python's `float()`; beyond the range: infinity.
            PyValue::Float(literal.parse().unwrap_or(f64::NAN))
        } else if literal == "-0" {
            PyValue::Int("0".to_owned())
        } else {
            PyValue::Int(literal.to_owned())
        }
    }

    fn ws(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn int(text: &str) -> PyValue {
        PyValue::Int(text.into())
    }

    #[test]
    fn integers_keep_every_digit() {
        assert_eq!(
            parse("1000000000000000000000000000000").unwrap(),
            int("1000000000000000000000000000000")
        );
        assert_eq!(
            parse("-18446744073709551617").unwrap(),
            int("-18446744073709551617")
        );
        assert_eq!(parse("-0").unwrap(), int("0"));
        assert_eq!(parse("0").unwrap(), int("0"));
    }

    #[test]
    fn floats_read_like_python() {
        assert_eq!(parse("1e400").unwrap(), PyValue::Float(f64::INFINITY));
        assert_eq!(parse("-1e400").unwrap(), PyValue::Float(f64::NEG_INFINITY));
        assert_eq!(parse("1E+2").unwrap(), PyValue::Float(100.0));
        assert_eq!(parse("-0.0").unwrap(), PyValue::Float(-0.0));
        assert_eq!(parse("1e-400").unwrap(), PyValue::Float(0.0));
    }

    #[test]
    fn structures_strings_and_duplicate_keys() {
        let value =
            parse(r#" {"a": [1, "x\u00e9\ud83d\ude00", null, true, false, {}], "a": [], "b": {"c": "d"}} "#)
                .unwrap();
        assert_eq!(
            value,
            PyValue::Object(vec![
                ("a".into(), PyValue::Array(vec![])),
                (
                    "b".into(),
                    PyValue::Object(vec![("c".into(), PyValue::Str("d".into()))])
                ),
            ])
        );
        let value = parse(r#"[1, "x\u00e9\ud83d\ude00", null, true, false, {}, [[]]]"#).unwrap();
        assert_eq!(
            value,
            PyValue::Array(vec![
                int("1"),
                PyValue::Str("xé😀".into()),
                PyValue::Null,
                PyValue::Bool(true),
                PyValue::Bool(false),
                PyValue::Object(vec![]),
                PyValue::Array(vec![PyValue::Array(vec![])]),
            ])
        );
    }

    #[test]
    fn invalid_json_is_rejected_with_serde_jsons_message() {
        for text in [
            "",
            "[1,]",
            "{\"a\" 1}",
            "01",
            "NaN",
            "\"\\ud800\"",
            "[1] x",
            "\"\u{1}\"",
        ] {
            assert!(parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn serde_values_convert() {
        let value: Value = serde_json::from_str(r#"{"a": [1, -2, 1.5, "s", null, true]}"#).unwrap();
        assert_eq!(
            PyValue::from(&value),
            PyValue::Object(vec![(
                "a".into(),
                PyValue::Array(vec![
                    int("1"),
                    int("-2"),
                    PyValue::Float(1.5),
                    PyValue::Str("s".into()),
                    PyValue::Null,
                    PyValue::Bool(true),
                ])
            )])
        );
    }

    /// A JSON integer literal of up to 400 digits.
    fn big_integer() -> impl Strategy<Value = String> {
        (any::<bool>(), "[1-9][0-9]{0,399}|0").prop_map(|(negative, digits)| {
            if negative {
                format!("-{digits}")
            } else {
                digits
            }
        })
    }

    proptest! {
        #[test]
        fn integers_far_beyond_64_bits_keep_their_digits(literal in big_integer()) {
            let expected = if literal == "-0" { "0".to_owned() } else { literal.clone() };
            prop_assert_eq!(parse(&literal).unwrap(), PyValue::Int(expected.clone()));
            // Inside structures too.
            let nested = format!(r#"{{"content": [{literal}, {{"text": {literal}}}]}}"#);
            let value = parse(&nested).unwrap();
            let items = match value.get("content") {
                Some(PyValue::Array(items)) => items.clone(),
                other => panic!("{other:?}"),
            };
            prop_assert_eq!(&items[0], &PyValue::Int(expected.clone()));
            prop_assert_eq!(items[1].get("text"), Some(&PyValue::Int(expected)));
        }

        /// Integers agree with serde_json; floats are correctly rounded like Python's
        /// (serde_json's default float parser may be one unit off in the last place).
        #[test]
        fn agrees_with_serde_json_within_64_bits(n in any::<i64>(), f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
            let text = format!("[{n}, {f:?}]");
            prop_assert_eq!(
                parse(&text).unwrap(),
                PyValue::Array(vec![PyValue::Int(n.to_string()), PyValue::Float(f)])
            );
        }
    }
}
