//! Shared by the fuzz targets: run a body through `ChatStream::from_reader` whole and
//! split into reads at pseudo-random points, and check both give the same outcome.

use std::io::{self, Read};

use upstage::{ChatStream, Delta, ErrorKind, Flavor, Limits};

/// A reader handing out `data` in pieces whose sizes come from a small xorshift generator
/// seeded by the fuzzer (sizes 1..=max_piece), like a socket would.
pub struct Pieces {
    data: Vec<u8>,
    at: usize,
    state: u64,
    max_piece: usize,
}

impl Pieces {
    pub fn new(data: Vec<u8>, seed: u64, max_piece: usize) -> Pieces {
        Pieces {
            data,
            at: 0,
            state: seed | 1,
            max_piece: max_piece.max(1),
        }
    }
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.at >= self.data.len() || buf.is_empty() {
            return Ok(0);
        }
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        let want = 1 + (self.state % self.max_piece as u64) as usize;
        let n = want.min(buf.len()).min(self.data.len() - self.at);
        buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

/// Everything observable about one run: the deltas, the end, and what the stream kept.
#[derive(Debug, PartialEq)]
pub struct Outcome {
    pub deltas: Vec<Delta>,
    pub end: Result<(), ErrorKind>,
    pub finish_reason: Option<String>,
    pub skipped: u64,
}

pub fn run(reader: impl Read + Send + 'static, flavor: Flavor, limits: Limits) -> Outcome {
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
    // A failed or finished stream stays finished.
    assert!(
        stream.next_delta().is_none(),
        "stream yielded after its end"
    );
    Outcome {
        deltas,
        end,
        finish_reason: stream.finish_reason().map(str::to_owned),
        skipped: stream.skipped_chunks(),
    }
}

/// Tokens through the `Iterator` interface must match the content deltas.
pub fn tokens(
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

/// The whole check for one body.
pub fn check(body: &[u8], flavor: Flavor, limits: Limits, seed: u64, max_piece: usize) {
    let whole = run(io::Cursor::new(body.to_vec()), flavor, limits);
    let split = run(Pieces::new(body.to_vec(), seed, max_piece), flavor, limits);
    assert_eq!(whole, split, "splitting the reads changed the outcome");
    let (tokens, end) = tokens(Pieces::new(body.to_vec(), seed, max_piece), flavor, limits);
    let content: Vec<String> = whole
        .deltas
        .iter()
        .filter_map(|d| match d {
            Delta::Content(text) => Some(text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(end, whole.end, "tokens and events ended differently");
    assert_eq!(tokens, content, "tokens differ from the content deltas");
}

/// Small limits sometimes, so that the limit paths are fuzzed too.
pub fn limits(selector: u8) -> Limits {
    match selector % 4 {
        0 => Limits::default(),
        1 => Limits::default().with_max_line(64).with_max_event(256),
        2 => Limits::default().with_max_line(1).with_max_event(1),
        _ => Limits::default().with_max_line(4096).with_max_event(100),
    }
}
