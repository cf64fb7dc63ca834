//! The workload: N OpenAI/vLLM-style `chat.completion.chunk` events rendered from a fixed
//! vocabulary, and what the client must return for them.

/// Distinct chunks rendered once; the body repeats them (token `i` is token `i % PERIOD`).
pub const PERIOD: usize = 4096;
/// Size of each HTTP chunk the server writes.
pub const FRAME: usize = 1 << 20;
pub const MODEL: &str = "solar-pro4";
pub const PROMPT: &str = "Write a long story.";

/// Tokens as they appear inside the JSON string (`.0`) and as the client must return them
/// (`.1`): subwords with and without a leading space, punctuation, Korean, Japanese, accents,
/// an emoji, and about 8 % of tokens with escapes (newlines, quotes, backslashes, a tab).
pub const VOCAB: &[(&str, &str)] = &[
    (" the", " the"),
    (" of", " of"),
    (" and", " and"),
    (" to", " to"),
    (" a", " a"),
    (" in", " in"),
    (" is", " is"),
    (" that", " that"),
    (" for", " for"),
    (" it", " it"),
    (" with", " with"),
    (" as", " as"),
    (" was", " was"),
    (" on", " on"),
    ("ing", "ing"),
    ("ed", "ed"),
    (" stream", " stream"),
    (" token", " token"),
    (" Solar", " Solar"),
    (" model", " model"),
    (" language", " language"),
    (" server", " server"),
    (" quickly", " quickly"),
    (" under", " under"),
    ("ation", "ation"),
    ("ly", "ly"),
    (" be", " be"),
    (" by", " by"),
    (" this", " this"),
    (" which", " which"),
    (".", "."),
    (",", ","),
    (" (", " ("),
    (")", ")"),
    (":", ":"),
    (" 42", " 42"),
    ("2026", "2026"),
    (" café", " café"),
    (" naïve", " naïve"),
    (" über", " über"),
    (" 안녕", " 안녕"),
    ("하세요", "하세요"),
    (" 업스테이지", " 업스테이지"),
    (" 日本", " 日本"),
    ("語", "語"),
    (" 🙂", " 🙂"),
    ("—", "—"),
    (" “quoted”", " “quoted”"),
    (" a", " a"),
    (" the", " the"),
    (" of", " of"),
    (" data", " data"),
    (" fast", " fast"),
    (" memory", " memory"),
    (" parser", " parser"),
    (" bytes", " bytes"),
    (" per", " per"),
    (" second", " second"),
    ("\\n", "\n"),
    ("\\n\\n", "\n\n"),
    (" \\\"", " \""),
    ("\\\"", "\""),
    ("\\\\", "\\"),
    ("\\t", "\t"),
];

pub fn token(i: usize) -> (&'static str, &'static str) {
    let hash = ((i % PERIOD) as u64 ^ 0x5bd1_e995).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    VOCAB[(hash >> 40) as usize % VOCAB.len()]
}

pub const ID: &str = "chatcmpl-4f6c2a7e9b3d41c5a8e0f1b2c3d4e5f6";
pub const CREATED: u64 = 1_764_000_000;

pub fn chunk_line(delta: &str, finish: &str) -> String {
    format!(
        "data: {{\"id\":\"{ID}\",\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\
         \"model\":\"{MODEL}\",\"system_fingerprint\":null,\"choices\":[{{\"index\":0,\
         \"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}]}}\n\n"
    )
}

/// The response body of N tokens, held as one period of rendered chunks (so the server and the
/// socket paths need no memory proportional to N).
pub struct Workload {
    pub n: usize,
    pub head: Vec<u8>,
    pub period: Vec<u8>,
    /// `period[..ends[i]]` holds the first `i + 1` content chunks.
    pub ends: Vec<usize>,
    /// Content bytes of the first `i` tokens of a period.
    pub content_prefix: Vec<u64>,
    pub tail: Vec<u8>,
    pub done: Vec<u8>,
}

impl Workload {
    pub fn new(n: usize) -> Workload {
        let head = chunk_line(r#"{"role":"assistant","content":""}"#, "null").into_bytes();
        let mut period = Vec::new();
        let mut ends = Vec::with_capacity(PERIOD);
        let mut content_prefix = vec![0u64];
        for i in 0..PERIOD.min(n.max(1)) {
            let (json, text) = token(i);
            period.extend_from_slice(
                chunk_line(&format!(r#"{{"content":"{json}"}}"#), "null").as_bytes(),
            );
            ends.push(period.len());
            content_prefix.push(content_prefix[i] + text.len() as u64);
        }
        let mut tail = chunk_line("{}", "\"stop\"").into_bytes();
        tail.extend_from_slice(
            format!(
                "data: {{\"id\":\"{ID}\",\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\
                 \"model\":\"{MODEL}\",\"choices\":[],\"usage\":{{\"prompt_tokens\":12,\
                 \"completion_tokens\":{n},\"total_tokens\":{}}}}}\n\n",
                n + 12
            )
            .as_bytes(),
        );
        Workload {
            n,
            head,
            period,
            ends,
            content_prefix,
            tail,
            done: b"data: [DONE]\n\n".to_vec(),
        }
    }

    /// The body before `data: [DONE]`, as slices in order.
    pub fn pieces(&self) -> Vec<&[u8]> {
        let mut pieces = vec![&self.head[..]];
        let full = self.n / PERIOD;
        let rest = self.n % PERIOD;
        pieces.extend(std::iter::repeat(&self.period[..]).take(full));
        if rest > 0 {
            pieces.push(&self.period[..self.ends[rest - 1]]);
        }
        pieces.push(&self.tail);
        pieces
    }

    /// Body bytes after de-chunking, `[DONE]` included.
    pub fn body_len(&self) -> u64 {
        self.pieces().iter().map(|p| p.len() as u64).sum::<u64>() + self.done.len() as u64
    }

    /// Bytes of all tokens, as the client returns them.
    pub fn content_bytes(&self) -> u64 {
        let per_period = self.content_prefix[self.ends.len()];
        (self.n / PERIOD) as u64 * per_period + self.content_prefix[self.n % PERIOD]
    }

    /// The whole body in one buffer.
    pub fn render(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(self.body_len() as usize);
        for piece in self.pieces() {
            body.extend_from_slice(piece);
        }
        body.extend_from_slice(&self.done);
        body
    }
}
