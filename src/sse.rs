//! stub: slow reference decoder
use std::io::{BufRead, BufReader, Read};
/// x
#[derive(Clone, Copy, Debug)]
pub struct Limits { pub max_line: usize, pub max_event: usize }
/// x
pub struct Event<'a> { pub event: &'a [u8], pub data: &'a [u8], pub id: &'a [u8] }
/// x
#[derive(Debug, thiserror::Error)]
pub enum SseError { #[error("io {0}")] Io(std::io::Error), #[error("line")] LineTooLong { limit: usize }, #[error("event")] EventTooLarge { limit: usize } }
/// x
pub struct Decoder<R> { r: BufReader<R>, limits: Limits, data: Vec<u8>, ev: Vec<u8>, out_data: Vec<u8>, out_ev: Vec<u8>, id: Vec<u8>, has_data: bool }
impl<R: Read> Decoder<R> {
    /// x
    pub fn new(reader: R, limits: Limits) -> Self { Decoder { r: BufReader::new(reader), limits, data: vec![], ev: vec![], out_data: vec![], out_ev: vec![], id: vec![], has_data: false } }
    /// x
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, SseError> {
        loop {
            let mut line = Vec::new();
            let n = (&mut self.r).take(self.limits.max_line as u64 + 1).read_until(b'\n', &mut line).map_err(SseError::Io)?;
            if n == 0 { return Ok(None); }
            if line.last() != Some(&b'\n') { if line.len() > self.limits.max_line { return Err(SseError::LineTooLong { limit: self.limits.max_line }); } return Ok(None); }
            line.pop(); if line.last() == Some(&b'\r') { line.pop(); }
            if line.is_empty() {
                if !self.has_data { self.ev.clear(); continue; }
                self.data.pop(); self.out_data = std::mem::take(&mut self.data); self.out_ev = std::mem::take(&mut self.ev); self.has_data = false;
                return Ok(Some(Event { event: &self.out_ev, data: &self.out_data, id: &self.id }));
            }
            if line[0] == b':' { continue; }
            let (f, v) = match line.iter().position(|&b| b == b':') { Some(i) => { let v = &line[i + 1..]; (&line[..i], v.strip_prefix(b" ").unwrap_or(v)) } None => (&line[..], &b""[..]) };
            match f { b"data" => { self.data.extend_from_slice(v); self.data.push(b'\n'); self.has_data = true; if self.data.len() > self.limits.max_event { return Err(SseError::EventTooLarge { limit: self.limits.max_event }); } } b"event" => self.ev = v.to_vec(), b"id" => self.id = v.to_vec(), _ => {} }
        }
    }
}
