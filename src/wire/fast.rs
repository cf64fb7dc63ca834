//! The fast path for usual chunks.

/// Decodes the usual shapes of a chunk without serde; `None` leaves the chunk to
/// `serde_json::from_slice::<Chunk>`.
///
/// [`FastDecoder::decode`] returns a chunk only when serde would return an equal [`Chunk`]: the
/// input is one JSON object that serde accepts, and every field decoded here is handled
/// exactly like the derived code does (strings or `null` for the text fields, `null` for
/// `usage`, `error`, `message` and `tool_calls`, objects for the first choice and its delta).
/// Anything else (other value types, duplicate fields, escaped or non-ASCII keys, escapes
/// outside `content`, deep nesting, any syntax error) gives `None`, so errors always come from
/// serde.
///
/// Two levels:
/// - A small recursive-descent parser that looks only at what a chunk needs and skips the
///   rest, checking its syntax.
/// - A template: streamed chunks differ only in their content, so the bytes before the content
///   string and after it are remembered from the last chunk the parser accepted. A chunk with
///   the same bytes around its content gets the same parse, except for the content, which is
///   the only part scanned.
///
/// The content is borrowed from the input when it has no escapes, else unescaped into a
/// reused buffer: after warm-up a chunk costs no allocation.
#[derive(Debug, Default)]
pub(crate) struct FastDecoder {
    scratch: String,
    template: Template,
}

/// What the fast decoder made of one event's data.
// Returned by value and matched at once, once per event: boxing the chunk would cost an
// allocation per chunk on the token path.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Decoded<'a> {
    /// A chunk whose content is all a token stream learns from it: the template's frame,
    /// with no finish reason or `type`, and no `id` or `model` the caller still needs.
    Content(&'a str),
    /// A chunk decoded exactly as serde would decode it.
    Chunk(Chunk<'a>),
    /// Not a shape decoded here: serde must decode it (and report any error).
    Fallback,
}

impl FastDecoder {
    /// Decodes one event's data for a token stream. `need_id` and `need_model` say whether
    /// the caller still wants the chunk's `id` and `model` (it reads them until it knows
    /// them); when it does not, they are left out and their UTF-8 is not re-checked.
    #[inline]
    pub fn decode<'a>(
        &'a mut self,
        data: &'a [u8],
        need_id: bool,
        need_model: bool,
    ) -> Decoded<'a> {
        // The usual token chunk: checked and scanned inline, the rest out of line.
        if self.template.matches(data) && self.template.content_only(need_id, need_model) {
            let FastDecoder { scratch, template } = self;
            return template
                .content(data, scratch)
                .map_or(Decoded::Fallback, Decoded::Content);
        }
        self.decode_chunk_or_fallback(data, need_id || need_model)
    }

    /// [`decode`](Self::decode) for everything but a content-only chunk of the template.
    fn decode_chunk_or_fallback<'a>(&'a mut self, data: &'a [u8], want_names: bool) -> Decoded<'a> {
        let FastDecoder { scratch, template } = self;
        if template.matches(data) {
            return template
                .apply(data, scratch, want_names)
                .map_or(Decoded::Fallback, Decoded::Chunk);
        }
        match parse(data) {
            Some(parsed) => {
                if let Some(content) = parsed.content {
                    template.learn(data, &parsed.chunk, content);
                }
                finish(parsed, data, scratch).map_or(Decoded::Fallback, Decoded::Chunk)
            }
            None => Decoded::Fallback,
        }
    }

    /// The chunk in `data`, or `None` to let serde decode it (what [`decode`](Self::decode)
    /// does when the caller wants every field).
    #[cfg(test)]
    fn decode_chunk<'a>(&'a mut self, data: &'a [u8], want_names: bool) -> Option<Chunk<'a>> {
        let FastDecoder { scratch, template } = self;
        if template.matches(data) {
            return template.apply(data, scratch, want_names);
        }
        let parsed = parse(data)?;
        if let Some(content) = parsed.content {
            template.learn(data, &parsed.chunk, content);
        }
        finish(parsed, data, scratch)
    }
}

use std::borrow::Cow;
use std::ops::Range;

use super::chunk::{Choice, Chunk, DeltaFields};

/// Deepest nesting of an ignored value that is skipped here (serde allows more; deeper
/// values go to serde).
const MAX_DEPTH: usize = 16;

/// Largest frame (a chunk without its content) kept as a template; real ones are a few
/// hundred bytes.
const MAX_FRAME: usize = 4096;

/// A chunk as the parser (or the template) found it: the content string is left as its
/// raw bytes.
struct Parsed<'a> {
    pub chunk: Chunk<'a>,
    /// The raw content string (between its quotes), if `delta.content` was a string.
    pub content: Option<RawContent>,
}

#[derive(Clone, Copy)]
struct RawContent {
    range: (usize, usize),
    escaped: bool,
}

/// Parses one chunk, or `None` when it is not a shape decoded here.
fn parse(data: &[u8]) -> Option<Parsed<'_>> {
    let mut p = Parser {
        data,
        pos: 0,
        content: None,
    };
    let chunk = p.chunk()?;
    p.ws();
    (p.pos == data.len()).then_some(Parsed {
        chunk,
        content: p.content,
    })
}

/// Fills in the content: borrowed when it has no escapes, else unescaped into `scratch`.
fn finish<'a>(parsed: Parsed<'a>, data: &'a [u8], scratch: &'a mut String) -> Option<Chunk<'a>> {
    let mut chunk = parsed.chunk;
    let Some(raw) = parsed.content else {
        return Some(chunk);
    };
    let text = content_text(&data[raw.range.0..raw.range.1], raw.escaped, scratch)?;
    let delta = chunk.choice.as_mut()?.delta.as_mut()?;
    delta.content = Some(Cow::Borrowed(text));
    Some(chunk)
}

/// A content string's text: borrowed when it has no escapes, else unescaped into
/// `scratch`; `None` when it is not valid UTF-8 or holds a lone surrogate.
#[inline]
fn content_text<'a>(raw: &'a [u8], escaped: bool, scratch: &'a mut String) -> Option<&'a str> {
    if escaped {
        unescape(raw, scratch)?;
        Some(scratch.as_str())
    } else {
        std::str::from_utf8(raw).ok()
    }
}

/// Where a text field of the template lies in a chunk that matches it.
#[derive(Clone, Copy, Debug, Default)]
enum Span {
    #[default]
    Absent,
    /// `data[start..end]`, before the content.
    Head(usize, usize),
    /// `data[len - from_end..len - to_end]`, after the content.
    Tail(usize, usize),
}

impl Span {
    fn of(field: &Option<Cow<'_, str>>, data: &[u8], content: (usize, usize)) -> Span {
        let Some(Cow::Borrowed(text)) = field else {
            return Span::Absent;
        };
        // Every text field but the content is borrowed from `data`.
        let start = text.as_ptr() as usize - data.as_ptr() as usize;
        let end = start + text.len();
        if end <= content.0 {
            Span::Head(start, end)
        } else {
            debug_assert!(start >= content.1);
            Span::Tail(data.len() - start, data.len() - end)
        }
    }

    /// The field in `data`, a chunk that matched the template (so the bytes are the ones
    /// checked when the template was learnt).
    fn get<'a>(self, data: &'a [u8]) -> Option<Option<Cow<'a, str>>> {
        let range = match self {
            Span::Absent => return Some(None),
            Span::Head(start, end) => start..end,
            Span::Tail(from_end, to_end) => data.len() - from_end..data.len() - to_end,
        };
        let text = std::str::from_utf8(&data[range]).ok()?;
        Some(Some(Cow::Borrowed(text)))
    }
}

/// The bytes around the content of the last chunk the parser accepted, and where its
/// text fields were.
#[derive(Debug, Default)]
struct Template {
    valid: bool,
    /// Everything up to and including the content's opening quote.
    prefix: Vec<u8>,
    /// Everything from the content's closing quote on.
    suffix: Vec<u8>,
    id: Span,
    model: Span,
    kind: Span,
    finish_reason: Span,
    reasoning: Span,
    reasoning_content: Span,
    refusal: Span,
}

impl Template {
    /// Remembers a chunk the parser accepted, whose content was a string.
    pub fn learn(&mut self, data: &[u8], chunk: &Chunk<'_>, content: RawContent) {
        let (start, end) = content.range;
        if start + (data.len() - end) > MAX_FRAME {
            // Not a usual chunk: not worth keeping (and memory stays small).
            self.valid = false;
            return;
        }
        let (Some(choice), Some(delta)) = (
            chunk.choice.as_ref(),
            chunk.choice.as_ref().and_then(|c| c.delta.as_ref()),
        ) else {
            self.valid = false;
            return;
        };
        let span = |field: &Option<Cow<'_, str>>| Span::of(field, data, (start, end));
        self.prefix.clear();
        self.prefix.extend_from_slice(&data[..start]);
        self.suffix.clear();
        self.suffix.extend_from_slice(&data[end..]);
        self.id = span(&chunk.id);
        self.model = span(&chunk.model);
        self.kind = span(&chunk.kind);
        self.finish_reason = span(&choice.finish_reason);
        self.reasoning = span(&delta.reasoning);
        self.reasoning_content = span(&delta.reasoning_content);
        self.refusal = span(&delta.refusal);
        self.valid = true;
    }

    /// The chunk in `data` if it has the template's bytes around its content: the parser
    /// would then take the same path through them, so only the content needs a look.
    /// Whether a matching chunk tells a token stream nothing but its content (see
    /// `FastDecoder::content`).
    #[inline]
    pub fn content_only(&self, need_id: bool, need_model: bool) -> bool {
        let absent = |span: Span| matches!(span, Span::Absent);
        absent(self.finish_reason)
            && absent(self.kind)
            && (!need_id || absent(self.id))
            && (!need_model || absent(self.model))
    }

    /// The content of `data`, which `matches` the template; `None` when the parser would
    /// reject the chunk.
    #[inline]
    pub fn content<'a>(&self, data: &'a [u8], scratch: &'a mut String) -> Option<&'a str> {
        let (head, tail) = (self.prefix.len(), self.suffix.len());
        let mut p = Parser {
            data,
            pos: head,
            content: None,
        };
        let raw = p.string()?;
        // The content must end exactly where the suffix starts (with its closing quote).
        if p.pos != data.len() - tail + 1 {
            return None;
        }
        content_text(&data[raw.range], raw.escaped, scratch)
    }

    #[inline]
    pub fn matches(&self, data: &[u8]) -> bool {
        self.valid
            && data.len() >= self.prefix.len() + self.suffix.len()
            && data.starts_with(&self.prefix)
            && data.ends_with(&self.suffix)
    }

    /// The chunk in `data`, which `matches` the template. `None` means serde must decode
    /// it (the parser would reject it too).
    pub fn apply<'a>(
        &self,
        data: &'a [u8],
        scratch: &'a mut String,
        want_names: bool,
    ) -> Option<Chunk<'a>> {
        let content = self.content(data, scratch)?;
        let (id, model) = match want_names {
            true => (self.id.get(data)?, self.model.get(data)?),
            false => (None, None),
        };
        Some(Chunk {
            id,
            model,
            kind: self.kind.get(data)?,
            choice: Some(Choice {
                delta: Some(DeltaFields {
                    content: Some(Cow::Borrowed(content)),
                    reasoning: self.reasoning.get(data)?,
                    reasoning_content: self.reasoning_content.get(data)?,
                    refusal: self.refusal.get(data)?,
                    tool_calls: None,
                }),
                finish_reason: self.finish_reason.get(data)?,
            }),
            ..Chunk::default()
        })
    }
}

/// A string value as it was found: its raw bytes (between the quotes) and whether it
/// holds escapes.
struct RawStr<'a> {
    bytes: &'a [u8],
    range: Range<usize>,
    escaped: bool,
    ascii: bool,
}

struct Parser<'a> {
    data: &'a [u8],
    pos: usize,
    /// The content string, once seen.
    content: Option<RawContent>,
}

impl<'a> Parser<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    /// Skips JSON whitespace (exactly serde_json's set).
    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// The next non-whitespace byte, consumed.
    #[inline]
    fn next_token(&mut self) -> Option<u8> {
        self.ws();
        let b = self.peek()?;
        self.pos += 1;
        Some(b)
    }

    #[inline]
    fn literal(&mut self, rest: &[u8]) -> Option<()> {
        let end = self.pos + rest.len();
        (self.data.get(self.pos..end)? == rest).then(|| self.pos = end)
    }

    /// After a value in an object: `true` for `,` (another member follows), `false` for
    /// `}`.
    #[inline]
    fn member_end(&mut self) -> Option<bool> {
        match self.next_token()? {
            b',' => Some(true),
            b'}' => Some(false),
            _ => None,
        }
    }

    /// The key of the next member, up to and including its `:`. Keys must be plain ASCII
    /// without escapes (serde would unescape them and validate UTF-8).
    #[inline]
    fn key(&mut self) -> Option<&'a [u8]> {
        if self.next_token()? != b'"' {
            return None;
        }
        let key = self.string()?;
        if key.escaped || !key.ascii {
            return None;
        }
        (self.next_token()? == b':').then_some(key.bytes)
    }

    /// The rest of a string whose opening quote was consumed. Control characters and
    /// invalid escapes give `None` (serde rejects them); UTF-8 is not checked here.
    #[inline]
    fn string(&mut self) -> Option<RawStr<'a>> {
        let start = self.pos;
        let mut escaped = false;
        let mut high = 0u8;
        let data = self.data;
        let mut i = start;
        loop {
            let b = *data.get(i)?;
            match b {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    match *data.get(i + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => i += 2,
                        b'u' => {
                            let hex = data.get(i + 2..i + 6)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            i += 6;
                        }
                        _ => return None,
                    }
                }
                0..=0x1F => return None,
                _ => {
                    high |= b;
                    i += 1;
                }
            }
        }
        self.pos = i + 1;
        Some(RawStr {
            bytes: &data[start..i],
            range: start..i,
            escaped,
            ascii: high < 0x80,
        })
    }

    /// A text field (`Option<Cow<str>>` through `text`): `null` or a string without
    /// escapes.
    #[inline]
    fn text(&mut self) -> Option<Option<Cow<'a, str>>> {
        match self.next_token()? {
            b'n' => self.literal(b"ull").map(|()| None),
            b'"' => {
                let s = self.string()?;
                if s.escaped {
                    return None;
                }
                Some(Some(Cow::Borrowed(utf8(&s)?)))
            }
            _ => None,
        }
    }

    /// A field that is decoded here only when it is `null`.
    #[inline]
    fn null(&mut self) -> Option<()> {
        (self.next_token()? == b'n').then_some(())?;
        self.literal(b"ull")
    }

    /// Walks an object: calls `member` with each key (positioned at its value), which
    /// reads or skips the value and returns the key's bit (0 for keys it ignores). A
    /// key seen twice fails the fast path, since serde rejects duplicate fields.
    fn members(&mut self, mut member: impl FnMut(&mut Self, &'a [u8]) -> Option<u8>) -> Option<()> {
        if self.next_token()? != b'{' {
            return None;
        }
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Some(());
        }
        let mut seen = 0u8;
        loop {
            let key = self.key()?;
            let bit = member(self, key)?;
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
            if !self.member_end()? {
                return Some(());
            }
        }
    }

    /// The top-level object.
    fn chunk(&mut self) -> Option<Chunk<'a>> {
        let mut chunk = Chunk::default();
        self.members(|p, key| {
            Some(match key {
                b"id" => {
                    chunk.id = p.text()?;
                    1
                }
                b"model" => {
                    chunk.model = p.text()?;
                    2
                }
                b"choices" => {
                    chunk.choice = p.choices()?;
                    4
                }
                b"type" => {
                    chunk.kind = p.text()?;
                    8
                }
                b"usage" => {
                    p.null()?;
                    16
                }
                b"error" => {
                    p.null()?;
                    32
                }
                b"message" => {
                    p.null()?;
                    64
                }
                _ => {
                    p.skip_value()?;
                    0
                }
            })
        })?;
        Some(chunk)
    }

    /// `choices`: `null`, or an array whose first element (an object) is kept.
    fn choices(&mut self) -> Option<Option<Choice<'a>>> {
        match self.next_token()? {
            b'n' => return self.literal(b"ull").map(|()| None),
            b'[' => {}
            _ => return None,
        }
        self.ws();
        match self.peek()? {
            b']' => {
                self.pos += 1;
                return Some(None);
            }
            b'{' => {}
            _ => return None,
        }
        let choice = self.choice()?;
        loop {
            match self.next_token()? {
                b']' => return Some(Some(choice)),
                b',' => self.skip_value()?,
                _ => return None,
            }
        }
    }

    fn choice(&mut self) -> Option<Choice<'a>> {
        let mut choice = Choice::default();
        self.members(|p, key| {
            Some(match key {
                // `message` is an alias of `delta`: both count as the same field.
                b"delta" | b"message" => {
                    choice.delta = match p.next_token()? {
                        b'n' => {
                            p.literal(b"ull")?;
                            None
                        }
                        b'{' => {
                            p.pos -= 1;
                            Some(p.delta()?)
                        }
                        _ => return None,
                    };
                    1
                }
                b"finish_reason" => {
                    choice.finish_reason = p.text()?;
                    2
                }
                _ => {
                    p.skip_value()?;
                    0
                }
            })
        })?;
        Some(choice)
    }

    fn delta(&mut self) -> Option<DeltaFields<'a>> {
        let mut delta = DeltaFields::default();
        self.members(|p, key| {
            Some(match key {
                b"content" => {
                    delta.content = match p.next_token()? {
                        b'n' => {
                            p.literal(b"ull")?;
                            None
                        }
                        b'"' => {
                            // Checked and decoded by `finish`, once the whole chunk is
                            // known to be valid.
                            let s = p.string()?;
                            p.content = Some(RawContent {
                                range: (s.range.start, s.range.end),
                                escaped: s.escaped,
                            });
                            Some(Cow::Borrowed(""))
                        }
                        _ => return None,
                    };
                    1
                }
                b"reasoning" => {
                    delta.reasoning = p.text()?;
                    2
                }
                b"reasoning_content" => {
                    delta.reasoning_content = p.text()?;
                    4
                }
                b"refusal" => {
                    delta.refusal = p.text()?;
                    8
                }
                b"tool_calls" => {
                    p.null()?;
                    16
                }
                _ => {
                    p.skip_value()?;
                    0
                }
            })
        })?;
        Some(delta)
    }

    /// Skips any value, checking its syntax as strictly as serde_json does (strings are
    /// not checked for UTF-8: serde does not check ignored strings either).
    fn skip_value(&mut self) -> Option<()> {
        self.skip_nested(0)
    }

    fn skip_nested(&mut self, depth: usize) -> Option<()> {
        match self.next_token()? {
            b'"' => self.string().map(drop),
            b'n' => self.literal(b"ull"),
            b't' => self.literal(b"rue"),
            b'f' => self.literal(b"alse"),
            b'-' => self.number(),
            b'0'..=b'9' => {
                self.pos -= 1;
                self.number()
            }
            b'[' if depth < MAX_DEPTH => {
                self.ws();
                if self.peek()? == b']' {
                    self.pos += 1;
                    return Some(());
                }
                loop {
                    self.skip_nested(depth + 1)?;
                    match self.next_token()? {
                        b',' => {}
                        b']' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b'{' if depth < MAX_DEPTH => {
                self.ws();
                if self.peek()? == b'}' {
                    self.pos += 1;
                    return Some(());
                }
                loop {
                    if self.next_token()? != b'"' {
                        return None;
                    }
                    self.string()?;
                    if self.next_token()? != b':' {
                        return None;
                    }
                    self.skip_nested(depth + 1)?;
                    if !self.member_end()? {
                        return Some(());
                    }
                }
            }
            _ => None,
        }
    }

    /// A number after its optional minus sign: `0` or `[1-9][0-9]*`, then an optional
    /// fraction and exponent, each with at least one digit.
    fn number(&mut self) -> Option<()> {
        match self.peek()? {
            b'0' => {
                self.pos += 1;
                if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    return None;
                }
            }
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !self.peek()?.is_ascii_digit() {
                return None;
            }
            self.digits();
        }
        Some(())
    }

    #[inline]
    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }
}

/// A string without escapes as `&str`, when it is valid UTF-8.
#[inline]
fn utf8<'a>(s: &RawStr<'a>) -> Option<&'a str> {
    std::str::from_utf8(s.bytes).ok()
}

/// Decodes the raw bytes of a string with escapes (already checked by `string`) into
/// `out`, as serde_json does; `None` for invalid UTF-8 or a lone surrogate.
fn unescape(raw: &[u8], out: &mut String) -> Option<()> {
    let raw = std::str::from_utf8(raw).ok()?;
    out.clear();
    let bytes = raw.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            i += 1;
            continue;
        }
        out.push_str(&raw[start..i]);
        let c = match bytes[i + 1] {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            _ => {
                // `\u` and four hex digits: a code unit, maybe a high surrogate
                // whose low half must follow.
                let first = hex4(&bytes[i + 2..i + 6]);
                i += 6;
                let code = match first {
                    0xD800..=0xDBFF => {
                        let second = bytes.get(i..i + 6)?;
                        if second[0] != b'\\' || second[1] != b'u' {
                            return None;
                        }
                        let low = hex4(&second[2..]);
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return None;
                        }
                        i += 6;
                        0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(low) - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return None,
                    _ => u32::from(first),
                };
                out.push(char::from_u32(code)?);
                start = i;
                continue;
            }
        };
        out.push(c);
        i += 2;
        start = i;
    }
    out.push_str(&raw[start..]);
    Some(())
}

/// Four hex digits (checked by `Parser::string`).
fn hex4(hex: &[u8]) -> u16 {
    hex.iter().fold(0u16, |n, &d| {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => d - b'A' + 10,
        };
        n << 4 | u16::from(v)
    })
}

/// The fast decoder against serde: whenever it decodes a chunk, serde must decode an equal one.
#[cfg(test)]
mod fast_tests {
    use super::*;
    use proptest::prelude::*;

    /// What serde makes of `data`, as text (`Cow` variants print alike), or `None` on error.
    fn serde_view(data: &[u8]) -> Option<String> {
        serde_json::from_slice::<Chunk>(data)
            .ok()
            .map(|c| format!("{c:?}"))
    }

    /// Decodes each chunk in turn with one decoder (so templates carry over) and checks every
    /// chunk it decodes against serde; returns how many it decoded.
    fn check_sequence(chunks: &[Vec<u8>]) -> Result<usize, TestCaseError> {
        let mut fast = FastDecoder::default();
        let mut decoded = 0;
        for data in chunks {
            // What a token stream that knows id and model takes from the chunk.
            let content = match fast.decode(data, false, false) {
                Decoded::Content(content) => Some(content.to_owned()),
                Decoded::Chunk(_) | Decoded::Fallback => None,
            };
            if let Some(content) = content {
                let chunk = serde_json::from_slice::<Chunk>(data);
                let chunk = chunk.as_ref().ok();
                let choice = chunk.and_then(|c| c.choice.as_ref());
                let delta = choice.and_then(|c| c.delta.as_ref());
                prop_assert!(
                    chunk.is_some_and(|c| c.kind.is_none()
                        && c.usage.is_none()
                        && c.error.is_none())
                        && choice.is_some_and(|c| c.finish_reason.is_none())
                        && delta.is_some_and(|d| d.tool_calls.is_none()
                            && d.content.as_deref() == Some(content.as_str())),
                    "content {:?} of {:?}",
                    content,
                    String::from_utf8_lossy(data)
                );
            }
            if let Some(chunk) = fast.decode_chunk(data, true) {
                decoded += 1;
                let view = format!("{chunk:?}");
                prop_assert_eq!(
                    Some(view),
                    serde_view(data),
                    "chunk {:?}",
                    String::from_utf8_lossy(data)
                );
            }
        }
        Ok(decoded)
    }

    const CONTENTS: &[&str] = &[
        r#""""#,
        r#""Hi""#,
        r#"" the""#,
        r#""café 日本 🙂""#,
        r#""a\nb""#,
        r#""\"quoted\"""#,
        r#""back\\slash""#,
        r#""\/\b\f\r\t""#,
        r#""\u00e9\u00E9""#,
        r#""\ud83d\ude00""#,
        "null",
    ];

    const ODD_CONTENTS: &[&str] = &[
        r#""\ud83d""#,
        r#""\ude00""#,
        r#""\ud83dx""#,
        r#""\ud83d\n""#,
        r#""\ud83d\u0041""#,
        r#""\u0000""#,
        r#""\x""#,
        r#""\u12""#,
        r#""\u12g4""#,
        "\"tab\there\"",
        "\"nl\nraw\"",
        "\"\x7f del\"",
        r#""ends\\""#,
        r#""\\\"""#,
        "12",
        "true",
        "[]",
        "{}",
        r#""x","content":"y""#,
        r#""x"}}],"id":"z"#,
    ];

    const TEXTS: &[&str] = &["null", r#""chatcmpl-1""#, r#""""#, r#""stop""#, r#""日本""#];

    const ODD_TEXTS: &[&str] = &[
        r#""esc\"aped""#,
        r#""\u0073top""#,
        "1",
        "false",
        "{}",
        "[]",
        "\"\u{fffd}\"",
    ];

    const VALUES: &[&str] = &[
        "null",
        "true",
        "false",
        "0",
        "-0",
        "12",
        "1.5",
        "-1.5e10",
        "1E+2",
        "2e-3",
        "01",
        "1.",
        ".5",
        "-",
        "1e",
        "+1",
        r#""s""#,
        r#""\u00zz""#,
        r#""ctl\u0001""#,
        "\"raw\u{1}ctl\"",
        "[]",
        "{}",
        "[1,2,[3,{\"a\":[null]}]]",
        r#"{"a":{"b":{"c":"d"}}}"#,
    ];

    const ODD_VALUES: &[&str] = &[
        "[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]",
        "[1,]",
        r#"{"a":1,}"#,
        r#"{"a" 1}"#,
        "nul",
        "NaN",
    ];

    const WS: &[&str] = &["", "", "", "", "", " ", "\n", "\t", "\r\n "];
    const ODD_WS: &[&str] = &["\u{a0}", "\u{b}", "\u{c}"];

    fn pick(list: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop::sample::select(list).prop_map(str::to_owned)
    }

    /// Mostly from `usual`, sometimes from `odd`.
    fn biased(
        usual: &'static [&'static str],
        odd: &'static [&'static str],
    ) -> impl Strategy<Value = String> {
        prop_oneof![80 => pick(usual), 1 => pick(odd)]
    }

    fn ws() -> impl Strategy<Value = String> {
        prop_oneof![200 => pick(WS), 1 => pick(ODD_WS)]
    }

    fn text() -> impl Strategy<Value = String> {
        biased(TEXTS, ODD_TEXTS)
    }

    fn value() -> impl Strategy<Value = String> {
        biased(VALUES, ODD_VALUES)
    }

    /// An object from members (already `"key": value` strings), in the given order, with
    /// random whitespace.
    fn object(members: Vec<String>, gaps: Vec<String>) -> String {
        let mut out = format!("{{{}", gaps[0]);
        for (i, m) in members.iter().enumerate() {
            if i > 0 {
                out.push(',');
                out.push_str(&gaps[(i * 3 + 1) % gaps.len()]);
            }
            out.push_str(m);
            out.push_str(&gaps[(i * 3 + 2) % gaps.len()]);
        }
        out.push('}');
        out
    }

    fn member(
        key: &'static str,
        value: impl Strategy<Value = String>,
    ) -> impl Strategy<Value = String> {
        (value, ws(), ws()).prop_map(move |(v, a, b)| format!("\"{key}\"{a}:{b}{v}"))
    }

    fn unknown() -> impl Strategy<Value = String> {
        (
            biased(
                &[
                    "object",
                    "created",
                    "index",
                    "logprobs",
                    "x",
                    "",
                    "role",
                    "system_fingerprint",
                ],
                &["\\u0069d", "idé", "\\n"],
            ),
            value(),
        )
            .prop_map(|(k, v)| format!("\"{k}\":{v}"))
    }

    /// Picks some of `members` (possibly duplicated) in a random order.
    fn shuffle(members: Vec<String>) -> impl Strategy<Value = Vec<String>> {
        let n = members.len();
        prop::collection::vec((0..n, 0..16u8), 0..n + 2).prop_map(move |picks| {
            let mut out: Vec<String> = Vec::new();
            for (i, dup) in picks {
                if dup == 0 || out.iter().all(|m| m != &members[i]) {
                    out.push(members[i].clone());
                }
            }
            out
        })
    }

    fn delta() -> BoxedStrategy<String> {
        let members = (
            member("content", biased(CONTENTS, ODD_CONTENTS)),
            member("reasoning", text()),
            member("reasoning_content", text()),
            member("refusal", text()),
            member(
                "tool_calls",
                biased(
                    &["null"],
                    &["[]", r#"[{"index":0,"function":{"arguments":"{}"}}]"#],
                ),
            ),
            member("role", text()),
            unknown(),
        );
        (members, prop::collection::vec(ws(), 8))
            .prop_flat_map(|(m, gaps)| {
                let all = vec![m.0.clone(), m.1, m.2, m.3, m.4, m.5, m.6];
                // Content nearly always, first or not.
                (Just(m.0), shuffle(all), Just(gaps), any::<bool>())
            })
            .prop_map(|(content, mut members, gaps, front)| {
                if !members.iter().any(|m| m.starts_with("\"content\"")) {
                    if front {
                        members.insert(0, content);
                    } else {
                        members.push(content);
                    }
                }
                object(members, gaps)
            })
            .boxed()
    }

    fn choice() -> BoxedStrategy<String> {
        let delta_value = prop_oneof![
            8 => delta(),
            1 => pick(&["null", "[]", "\"d\"", "1"]),
        ];
        let members = (
            (
                prop::sample::select(&["delta", "delta", "delta", "message"][..]),
                delta_value,
            )
                .prop_map(|(k, v)| format!("\"{k}\":{v}")),
            member("finish_reason", text()),
            member("index", value()),
            member("logprobs", value()),
            unknown(),
        );
        (members, prop::collection::vec(ws(), 6))
            .prop_flat_map(|(m, gaps)| {
                let all = vec![m.0.clone(), m.1, m.2, m.3, m.4];
                (Just(m.0), shuffle(all), Just(gaps)).prop_map(|(delta, mut members, gaps)| {
                    if !members.iter().any(|m| m == &delta) {
                        members.insert(0, delta);
                    }
                    object(members, gaps)
                })
            })
            .boxed()
    }

    fn choices() -> impl Strategy<Value = String> {
        prop_oneof![
            10 => choice().prop_map(|c| format!("[{c}]")),
            2 => (choice(), choice(), ws()).prop_map(|(a, b, w)| format!("[{w}{a},{w}{b}{w}]")),
            1 => (choice(), value()).prop_map(|(a, v)| format!("[{a},{v}]")),
            1 => pick(&["[]", "null", "[null]", "[1]", "{}", "[[]]", "[{},]"]),
        ]
    }

    /// A chunk: mostly the usual shape, with every field varied.
    fn chunk() -> BoxedStrategy<Vec<u8>> {
        let members = (
            member("id", text()),
            member("object", value()),
            member("created", value()),
            member("model", text()),
            member("choices", choices()),
            member(
                "usage",
                biased(
                    &["null"],
                    &[r#"{"prompt_tokens":1,"completion_tokens":2}"#, "{}", "1"],
                ),
            ),
            member("error", biased(&["null"], &[r#"{"message":"m"}"#, "\"e\""])),
            member("type", biased(&["null", "\"x\""], &["\"error\"", "1"])),
            member("message", biased(&["null"], &["\"m\"", "{}"])),
            unknown(),
        );
        (members, prop::collection::vec(ws(), 10), ws(), ws())
            .prop_flat_map(|(m, gaps, lead, trail)| {
                let all = vec![m.0, m.1, m.2, m.3, m.4.clone(), m.5, m.6, m.7, m.8, m.9];
                (Just(m.4), shuffle(all), Just(gaps), Just(lead), Just(trail))
            })
            .prop_map(|(choices, mut members, gaps, lead, trail)| {
                if !members.iter().any(|m| m.starts_with("\"choices\"")) {
                    members.push(choices);
                }
                format!("{lead}{}{trail}", object(members, gaps)).into_bytes()
            })
            .boxed()
    }

    /// A chunk with a byte changed, inserted or removed, to reach the error paths.
    fn mutated() -> impl Strategy<Value = Vec<u8>> {
        const BYTES: &[u8] = b"\"\\{}[],: \n\x01\x10\x1f\x7f\xff\xc3\xa9unt0e-.";
        (
            chunk(),
            any::<prop::sample::Index>(),
            prop::sample::select(BYTES),
            0..3u8,
        )
            .prop_map(|(mut data, at, byte, op)| {
                let i = at.index(data.len() + 1);
                match op {
                    0 if i < data.len() => data[i] = byte,
                    1 if i < data.len() => {
                        data.remove(i);
                    }
                    _ => data.insert(i, byte),
                }
                data
            })
    }

    /// Chunks that share a frame and differ in their content: the template's case.
    fn same_frame() -> impl Strategy<Value = Vec<Vec<u8>>> {
        const PIECES: &[&str] = &[
            "a",
            " the",
            "é",
            "日本",
            "🙂",
            "\\n",
            "\\\"",
            "\\\\",
            "\\u00e9",
            "\\ud83d\\ude00",
            "\\ud83d",
            "\\ude00",
            "\\",
            "\"",
            "\",\"x\":\"",
            "\"}}],\"id\":\"y",
            "\n",
            "\u{1}",
            "\u{1f}",
            " ",
            "\\u12",
            "\\q",
            "\"}",
        ];
        let content =
            prop::collection::vec(prop::sample::select(PIECES), 0..6).prop_map(|p| p.concat());
        (chunk(), prop::collection::vec(content, 1..8)).prop_map(|(base, contents)| {
            let text = String::from_utf8_lossy(&base).into_owned();
            let mut out = vec![base];
            // Replace the first content string's body, when there is a plain one.
            if let Some(at) = text.find("\"content\":\"") {
                let start = at + "\"content\":\"".len();
                if let Some(len) = text[start..].find('"') {
                    for c in contents {
                        let mut data = text[..start].to_owned();
                        data.push_str(&c);
                        data.push_str(&text[start + len..]);
                        out.push(data.into_bytes());
                    }
                    // Invalid UTF-8 in the content.
                    let mut data = text.as_bytes()[..start].to_vec();
                    data.extend_from_slice(b"\xff\xfe");
                    data.extend_from_slice(&text.as_bytes()[start + len..]);
                    out.push(data);
                }
            }
            out
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]

        #[test]
        fn fast_decoder_agrees_with_serde(chunks in prop::collection::vec(prop_oneof![3 => chunk(), 1 => mutated()], 1..6)) {
            check_sequence(&chunks)?;
        }

        #[test]
        fn template_agrees_with_serde(chunks in same_frame()) {
            check_sequence(&chunks)?;
        }
    }

    #[test]
    fn usual_chunks_take_the_fast_path() {
        let chunk = |content: &str| {
            format!(
                r#"{{"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"m","system_fingerprint":null,"choices":[{{"index":0,"delta":{{"content":{content}}},"logprobs":null,"finish_reason":null}}]}}"#
            )
            .into_bytes()
        };
        let chunks: Vec<Vec<u8>> = [r#""Hi""#, r#"" a\nb""#, r#""é\u00e9\ud83d\ude00""#, r#""""#]
            .iter()
            .map(|c| chunk(c))
            .collect();
        assert_eq!(check_sequence(&chunks).unwrap(), chunks.len());
        let finish =
            br#"{"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}"#;
        assert_eq!(check_sequence(&[finish.to_vec()]).unwrap(), 1);
        let role = br#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#;
        assert_eq!(check_sequence(&[role.to_vec()]).unwrap(), 1);
    }

    #[test]
    fn big_frames_are_parsed_but_not_kept() {
        let pad = "x".repeat(5000);
        let chunks: Vec<Vec<u8>> = ["a", "b\\n"]
            .iter()
            .map(|c| {
                format!(r#"{{"pad":"{pad}","choices":[{{"delta":{{"content":"{c}"}}}}]}}"#)
                    .into_bytes()
            })
            .collect();
        assert_eq!(check_sequence(&chunks).unwrap(), 2);
        let mut fast = FastDecoder::default();
        fast.decode_chunk(&chunks[0], true).unwrap();
        assert!(!fast.template.matches(&chunks[1]));
    }

    #[test]
    fn unusual_chunks_are_left_to_serde() {
        for data in [
            &br#"{"choices":[{"delta":{"content":"a"}}],"usage":{"total_tokens":1}}"#[..],
            br#"{"choices":[{"delta":{"tool_calls":[]}}]}"#,
            br#"{"error":{"message":"x"}}"#,
            br#"{"id":"a","id":"b"}"#,
            br#"{"\u0069d":"a"}"#,
            br#"{"choices":[{"delta":{"content":"\ud83d"}}]}"#,
            br#"{"choices":[{"delta":{"content":"a"}}]} x"#,
            br#"[{"choices":[]}]"#,
        ] {
            let mut fast = FastDecoder::default();
            assert!(
                fast.decode_chunk(data, true).is_none(),
                "{}",
                String::from_utf8_lossy(data)
            );
        }
    }

    /// Checks that the generators reach both outcomes often enough to mean something.
    #[test]
    fn generators_reach_both_paths() {
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let (mut fast, mut total) = (0, 0);
        for _ in 0..2000 {
            let chunks = prop::collection::vec(chunk(), 1..4)
                .new_tree(&mut runner)
                .unwrap()
                .current();
            total += chunks.len();
            fast += check_sequence(&chunks).unwrap();
        }
        eprintln!("fast path taken for {fast} of {total}");
        assert!(fast * 10 > total, "fast path taken for {fast} of {total}");
        assert!(
            fast * 10 < total * 9,
            "fast path taken for {fast} of {total}"
        );
    }
}
