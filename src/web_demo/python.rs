//! The bits of Python the legacy prompt must reproduce byte for byte: `str.capitalize` for
//! roles, `str.strip`'s whitespace for the emptiness test, and `str()` of the numbers
//! `json.loads` makes.

use std::fmt::Write as _;

use serde_json::Number;

/// Python's `str.capitalize`: the first character in titlecase, the rest in lowercase.
///
/// Rust has no titlecase, and it differs from `char::to_uppercase` for a few characters,
/// which are mapped explicitly: the Latin digraphs (`ǆ` → `ǅ`), `ß` and the Latin and
/// Armenian ligatures (`ß` → `Ss`, `ﬁ` → `Fi`), Georgian Mkhedruli (unchanged) and Greek
/// letters with ypogegrammeni (`ᾳ` → `ᾼ`). Lowercasing uses Rust's full mappings, including
/// the final-sigma rule evaluated over the whole string as CPython does (`"ΣΑΣ"` → `"Σας"`).
///
/// During development this was compared with CPython 3.11 (Unicode 14) over every code
/// point, alone and in context; the only differences come from case data added in later
/// Unicode versions, which Rust's standard library (and a newer Python) already has.
#[cfg(test)]
pub(crate) fn python_capitalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_capitalized(&mut out, s);
    out
}

/// Appends a JSON number as Python's `str()` would print the int or float `json.loads` made.
pub(super) fn push_python_number(out: &mut String, number: &Number) {
    match number.as_f64() {
        Some(float) if number.is_f64() => push_python_float(out, float),
        // Integers: serde_json prints plain decimal digits, as Python does.
        _ => {
            let _ = write!(out, "{number}");
        }
    }
}

/// Appends Python's `repr(float)`: the shortest digits that round-trip, in fixed notation
/// with a fractional part when the decimal exponent is in `-4..16`, else in scientific
/// notation with a signed, at least two-digit exponent (`1e+16`, `1.5e-05`).
pub(super) fn push_python_float(out: &mut String, float: f64) {
    if !float.is_finite() {
        // Unreachable from JSON, but a `Value` built in code could hold anything.
        let text = match float {
            f if f.is_nan() => "nan",
            f if f > 0.0 => "inf",
            _ => "-inf",
        };
        out.push_str(text);
        return;
    }
    let scientific = shortest_scientific(float);
    let (mantissa, exponent) = scientific
        .split_once('e')
        .expect("LowerExp output has an exponent");
    let exponent: i32 = exponent.parse().expect("LowerExp exponent is an integer");
    if (-4..16).contains(&exponent) {
        push_fixed(out, mantissa, exponent);
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        let _ = write!(out, "{mantissa}e{sign}{:02}", exponent.unsigned_abs());
    }
}

/// The shortest digits that round-trip, in Rust's scientific layout (`-1.5e-5`, `1e16`,
/// `0e0`), chosen as CPython's `repr` chooses them.
///
/// Rust's `{:e}` already finds the shortest length, but when two candidates of that length
/// are equally near the exact value it takes the upper one (`94013758258785.63`), whereas
/// CPython (David Gay's dtoa) takes the even one (`...785.62`). Rust's fixed-precision
/// formatting rounds the exact value half-to-even, so at the same length it yields Python's
/// pick whenever that still reads back as `float`.
pub(super) fn shortest_scientific(float: f64) -> String {
    let shortest = format!("{float:e}");
    let mantissa = shortest.split('e').next().unwrap_or_default();
    let digits = mantissa.bytes().filter(u8::is_ascii_digit).count();
    let nearest = format!("{float:.*e}", digits.saturating_sub(1));
    if nearest.parse::<f64>() == Ok(float) {
        nearest
    } else {
        shortest
    }
}

/// Lays out a `{:e}` mantissa (`[-]d[.ddd]`) times `10^exponent` in fixed notation, always
/// with a fractional part.
fn push_fixed(out: &mut String, mantissa: &str, exponent: i32) {
    let digits = match mantissa.strip_prefix('-') {
        Some(unsigned) => {
            out.push('-');
            unsigned
        }
        None => mantissa,
    };
    let (lead, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let Ok(integer_digits) = usize::try_from(exponent) else {
        // 0.000ddd: the lead digit sits -exponent places after the point.
        out.push_str("0.");
        push_zeros(out, exponent.unsigned_abs() as usize - 1);
        out.push_str(lead);
        out.push_str(fraction);
        return;
    };
    out.push_str(lead);
    if fraction.len() <= integer_digits {
        out.push_str(fraction);
        push_zeros(out, integer_digits - fraction.len());
        out.push_str(".0");
    } else {
        let (integer, decimals) = fraction.split_at(integer_digits);
        out.push_str(integer);
        out.push('.');
        out.push_str(decimals);
    }
}

/// Appends `count` zeros (the padding of fixed notation).
fn push_zeros(out: &mut String, count: usize) {
    out.extend(std::iter::repeat('0').take(count));
}

/// Python's `str.isspace` for one character: Unicode White_Space (which is exactly Rust's
/// `char::is_whitespace`) plus the separators U+001C..U+001F that Python also strips.
pub(super) fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1C}'..='\u{1F}').contains(&c)
}

/// Python's `s.strip() == ""`.
pub(super) fn is_python_blank(s: &str) -> bool {
    s.chars().all(is_python_whitespace)
}

/// Appends [`python_capitalize`] of `s` to `out`.
pub(super) fn push_capitalized(out: &mut String, s: &str) {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return;
    };
    push_titlecase(out, first);
    let rest = chars.as_str();
    if rest.contains('Σ') {
        // Final sigma depends on the characters before it, the first one included, so
        // lowercase the whole string and drop the first character's (context-free) share.
        let lower = s.to_lowercase();
        let first_len: usize = first.to_lowercase().map(char::len_utf8).sum();
        out.push_str(&lower[first_len..]);
    } else {
        out.extend(rest.chars().flat_map(char::to_lowercase));
    }
}

/// Appends the full titlecase mapping of `c`.
///
/// Only characters whose titlecase differs from `char::to_uppercase` need care; the two
/// tables below list every one of them in Unicode 14 (CPython 3.11).
fn push_titlecase(out: &mut String, c: char) {
    if let Some(title) = titlecase_expansion(c) {
        out.push_str(title);
    } else if let Some(title) = titlecase_single(c) {
        out.push(title);
    } else {
        out.extend(c.to_uppercase());
    }
}

/// Titlecase mappings to several characters (SpecialCasing.txt) that are not the uppercase
/// one: ligatures capitalise only their first letter, and Greek letters with
/// ypogegrammeni keep it as a combining mark instead of turning it into a capital iota.
fn titlecase_expansion(c: char) -> Option<&'static str> {
    let title = match c {
        'ß' => "Ss",
        '\u{587}' => "\u{535}\u{582}",
        '\u{FB00}' => "Ff",
        '\u{FB01}' => "Fi",
        '\u{FB02}' => "Fl",
        '\u{FB03}' => "Ffi",
        '\u{FB04}' => "Ffl",
        '\u{FB05}' | '\u{FB06}' => "St",
        '\u{FB13}' => "\u{544}\u{576}",
        '\u{FB14}' => "\u{544}\u{565}",
        '\u{FB15}' => "\u{544}\u{56B}",
        '\u{FB16}' => "\u{54E}\u{576}",
        '\u{FB17}' => "\u{544}\u{56D}",
        '\u{1FB2}' => "\u{1FBA}\u{345}",
        '\u{1FB4}' => "\u{386}\u{345}",
        '\u{1FB7}' => "\u{391}\u{342}\u{345}",
        '\u{1FC2}' => "\u{1FCA}\u{345}",
        '\u{1FC4}' => "\u{389}\u{345}",
        '\u{1FC7}' => "\u{397}\u{342}\u{345}",
        '\u{1FF2}' => "\u{1FFA}\u{345}",
        '\u{1FF4}' => "\u{38F}\u{345}",
        '\u{1FF7}' => "\u{3A9}\u{342}\u{345}",
        _ => return None,
    };
    Some(title)
}

/// Titlecase mappings to one character that is not the uppercase one.
fn titlecase_single(c: char) -> Option<char> {
    let title = match c {
        // Latin digraphs DŽ Dž dž (and LJ, NJ, DZ): the titlecase form is the middle one.
        '\u{1C4}'..='\u{1C6}' => '\u{1C5}',
        '\u{1C7}'..='\u{1C9}' => '\u{1C8}',
        '\u{1CA}'..='\u{1CC}' => '\u{1CB}',
        '\u{1F1}'..='\u{1F3}' => '\u{1F2}',
        // Georgian Mkhedruli uppercases to Mtavruli but titlecases to itself.
        '\u{10D0}'..='\u{10FA}' | '\u{10FD}'..='\u{10FF}' => c,
        // Greek with ypogegrammeni: titlecase is the capital with prosgegrammeni, which sits
        // 8 code points later in each block of 16 (and is its own titlecase).
        '\u{1F80}'..='\u{1FAF}' => char::from_u32(u32::from(c) | 0x8)?,
        '\u{1FB3}' | '\u{1FBC}' => '\u{1FBC}',
        '\u{1FC3}' | '\u{1FCC}' => '\u{1FCC}',
        '\u{1FF3}' | '\u{1FFC}' => '\u{1FFC}',
        _ => return None,
    };
    Some(title)
}
