//! Recordings of responses, and replaying them through the same stream code.
//!
//! # The recording format
//!
//! A recording is the response as the client saw it, in the shape of an HTTP/1.1 message:
//!
//! ```text
//! upstage-recording/1 200 OK
//! content-type: text/event-stream
//! x-request-id: 6f1c...
//!
//! data: {"choices":[{"delta":{"content":"Hi"}}]}
//!
//! data: [DONE]
//!
//! ```
//!
//! - line 1: `upstage-recording/1`, the status code, and the reason phrase (optional);
//! - then one `name: value` line per response header, in the server's order, except
//!   credentials and cookies (`Authorization`, `api-key`, `Set-Cookie`, ...), which are left
//!   out;
//! - an empty line;
//! - then the body bytes exactly as the stream read them (after the HTTP framing, e.g.
//!   chunked encoding, was removed), to the end of the file.
//!
//! Head lines end in LF (CRLF is accepted when reading). Because the body runs to the end
//! of the file, a response cut short is recorded up to the cut and replays as cut short.
//! The output of `curl -sS -i` (a `HTTP/1.1 200 OK` or `HTTP/2 200` first line) is accepted
//! too, interim `1xx` responses skipped, so a response captured with curl replays as is.

use std::io::{self, BufRead, BufReader, Read, Write};

use crate::error::{Error, ErrorKind, Result};
use crate::response_headers::{self, ResponseHeaders};

/// The first word of a recording.
pub(crate) const MAGIC: &str = "upstage-recording/1";

/// The most a recording's head (status line and headers) may take.
const MAX_HEAD: u64 = 64 << 10;

/// Writes the head of a recording: status line, headers without credentials or cookies,
/// the empty line.
pub(crate) fn write_head(
    out: &mut dyn Write,
    status: u16,
    reason: &str,
    headers: &ResponseHeaders,
) -> io::Result<()> {
    let mut head = format!("{MAGIC} {status}");
    if !reason.is_empty() {
        head.push(' ');
        head.push_str(reason);
    }
    head.push('\n');
    for (name, value) in headers.iter() {
        if response_headers::is_sensitive(name) {
            continue;
        }
        // A value can hold no line end (the HTTP layer refuses them); replacing any keeps
        // the recording parseable whatever happens.
        let value = value.replace(['\r', '\n'], " ");
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value.trim());
        head.push('\n');
    }
    head.push('\n');
    out.write_all(head.as_bytes())?;
    out.flush()
}

/// Where a response is recorded. Consumed by the response that ends the attempts (the
/// stream's, or the final HTTP error), so that a retried failure is not recorded.
pub(crate) struct Recorder(Box<dyn Write + Send>);

impl Recorder {
    pub(crate) fn new(out: impl Write + Send + 'static) -> Recorder {
        Recorder(Box::new(out))
    }

    /// Writes the head now; the body is recorded as `body` is read.
    pub(crate) fn record_stream<R: Read>(
        mut self,
        status: u16,
        reason: &str,
        headers: &ResponseHeaders,
        body: R,
    ) -> Result<Tee<R>> {
        write_head(&mut self.0, status, reason, headers).map_err(write_failed)?;
        Ok(Tee::new(body, self.0))
    }

    /// Records a response whose body was already read (an HTTP error's).
    pub(crate) fn record_whole(
        mut self,
        status: u16,
        reason: &str,
        headers: &ResponseHeaders,
        body: &[u8],
    ) -> Result<()> {
        write_head(&mut self.0, status, reason, headers)
            .and_then(|()| self.0.write_all(body))
            .and_then(|()| self.0.flush())
            .map_err(write_failed)
    }
}

fn write_failed(e: io::Error) -> Error {
    Error::new(ErrorKind::Io, format!("cannot write the recording: {e}"))
}

/// A body reader that copies every byte it reads into a recording, flushed after each
/// read so that a recording survives a crash mid-stream.
pub(crate) struct Tee<R> {
    inner: R,
    out: Box<dyn Write + Send>,
}

impl<R: Read> Tee<R> {
    pub(crate) fn new(inner: R, out: Box<dyn Write + Send>) -> Tee<R> {
        Tee { inner, out }
    }
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            // Losing the recording silently would defeat its purpose: fail the read.
            self.out
                .write_all(&buf[..n])
                .and_then(|()| self.out.flush())
                .map_err(|e| io::Error::other(format!("cannot write the recording: {e}")))?;
        }
        Ok(n)
    }
}

/// A recording read back: status, headers, and the body still to read.
pub(crate) struct Recording {
    pub(crate) status: u16,
    pub(crate) reason: String,
    pub(crate) headers: ResponseHeaders,
    pub(crate) body: Box<dyn Read + Send>,
}

impl Recording {
    /// Reads the head of a recording from `reader`; the body is read later, as the stream
    /// consumes it.
    pub(crate) fn read(reader: impl Read + Send + 'static) -> Result<Recording> {
        let mut reader = BufReader::new(reader);
        let mut budget = MAX_HEAD;
        loop {
            let first = head_line(&mut reader, &mut budget)?;
            let (status, reason) = status_line(&first)?;
            let mut headers = ResponseHeaders::default();
            loop {
                let line = head_line(&mut reader, &mut budget)?;
                if line.is_empty() {
                    break;
                }
                let Some((name, value)) = line.split_once(':') else {
                    return Err(not_a_recording(&format!(
                        "header line {line:?} has no colon"
                    )));
                };
                if name.trim().is_empty() {
                    return Err(not_a_recording("a header line has no name"));
                }
                headers.push(name, value.trim().to_owned());
            }
            // curl -i shows interim responses (100 Continue) before the real one.
            if (100..200).contains(&status) && first.starts_with("HTTP/") {
                continue;
            }
            return Ok(Recording {
                status,
                reason,
                headers,
                body: Box::new(reader),
            });
        }
    }
}

/// One head line without its line end; the end of the input before the empty line is an
/// error, and so is a head larger than [`MAX_HEAD`].
fn head_line(reader: &mut BufReader<impl Read>, budget: &mut u64) -> Result<String> {
    let mut line = Vec::new();
    let read = reader
        .by_ref()
        .take(*budget)
        .read_until(b'\n', &mut line)
        .map_err(|e| Error::new(ErrorKind::Io, format!("cannot read the recording: {e}")))?;
    *budget -= read as u64;
    if line.last() != Some(&b'\n') {
        return Err(if *budget == 0 {
            Error::new(
                ErrorKind::Limit,
                format!("the recording's head exceeds {MAX_HEAD} bytes"),
            )
        } else {
            not_a_recording("it ends before the empty line that closes the head")
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line).map_err(|_| not_a_recording("its head is not UTF-8"))
}

/// `upstage-recording/1 200 OK` or `HTTP/1.1 200 OK` -> (200, "OK").
fn status_line(line: &str) -> Result<(u16, String)> {
    let mut parts = line.splitn(3, ' ');
    let protocol = parts.next().unwrap_or("");
    if protocol != MAGIC && !protocol.starts_with("HTTP/") {
        return Err(not_a_recording(&format!(
            "the first line should start with {MAGIC:?}"
        )));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .filter(|s| (100..1000).contains(s))
        .ok_or_else(|| not_a_recording("the first line has no status code"))?;
    Ok((status, parts.next().unwrap_or("").trim().to_owned()))
}

fn not_a_recording(why: &str) -> Error {
    Error::invalid_argument(format!("not a recording: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;
    use std::sync::{Arc, Mutex};

    /// A `Write` whose bytes the test can read afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn read_all(recording: Recording) -> (u16, String, ResponseHeaders, Vec<u8>) {
        let mut body = Vec::new();
        let Recording {
            status,
            reason,
            headers,
            body: mut reader,
        } = recording;
        reader.read_to_end(&mut body).unwrap();
        (status, reason, headers, body)
    }

    #[test]
    fn a_recording_round_trips_byte_for_byte() {
        let headers = ResponseHeaders::from_pairs([
            ("Content-Type", "text/event-stream"),
            ("x-request-id", "req-7"),
            ("Set-Cookie", "session=secret-cookie"),
            ("Authorization", "Bearer secret-key"),
            ("x-ratelimit-remaining-tokens", "99"),
        ]);
        // Awkward bytes on purpose: CR LF split across reads, a BOM, raw invalid UTF-8.
        let body: &[u8] =
            b"\xEF\xBB\xBFdata: {\"a\":1}\r\r\n\ndata: \xFF\xFE\r\n\r\ndata: [DONE]\n\n";
        let file = Shared::default();
        let mut out: Box<dyn Write + Send> = Box::new(file.clone());
        write_head(&mut out, 200, "OK", &headers).unwrap();
        let mut tee = Tee::new(Cursor::new(body.to_vec()), out);
        let mut seen = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = tee.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        assert_eq!(seen, body);
        let recorded = file.0.lock().unwrap().clone();
        let text = String::from_utf8_lossy(&recorded);
        assert!(!text.contains("secret"), "{text}");
        assert!(text.starts_with(
            "upstage-recording/1 200 OK\ncontent-type: text/event-stream\nx-request-id: req-7\n"
        ));

        let (status, reason, replayed_headers, replayed_body) =
            read_all(Recording::read(Cursor::new(recorded)).unwrap());
        assert_eq!((status, reason.as_str()), (200, "OK"));
        assert_eq!(replayed_headers.get("x-request-id"), Some("req-7"));
        assert_eq!(
            replayed_headers.get("x-ratelimit-remaining-tokens"),
            Some("99")
        );
        assert_eq!(replayed_headers.get("set-cookie"), None);
        assert_eq!(replayed_headers.len(), 3);
        assert_eq!(replayed_body, body);
    }

    #[test]
    fn a_whole_response_is_recorded_at_once() {
        let file = Shared::default();
        let headers = ResponseHeaders::from_pairs([("retry-after", "1")]);
        Recorder::new(file.clone())
            .record_whole(429, "Too Many Requests", &headers, b"{\"error\":{}}")
            .unwrap();
        let recorded = file.0.lock().unwrap().clone();
        assert_eq!(
            recorded,
            b"upstage-recording/1 429 Too Many Requests\nretry-after: 1\n\n{\"error\":{}}"
        );
        let mut body = Vec::new();
        Recorder::new(file.clone())
            .record_stream(
                200,
                "",
                &ResponseHeaders::default(),
                Cursor::new(b"abc".to_vec()),
            )
            .unwrap()
            .read_to_end(&mut body)
            .unwrap();
        assert_eq!(body, b"abc");
    }

    #[test]
    fn curl_output_replays_too() {
        let text =
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/2 429 \r\nretry-after: 3\r\n\r\n{\"error\":{}}";
        let (status, reason, headers, body) = read_all(Recording::read(Cursor::new(text)).unwrap());
        assert_eq!((status, reason.as_str()), (429, ""));
        assert_eq!(headers.get("retry-after"), Some("3"));
        assert_eq!(body, b"{\"error\":{}}");
    }

    #[test]
    fn an_empty_body_is_fine() {
        let (status, _, headers, body) =
            read_all(Recording::read(Cursor::new("upstage-recording/1 204\n\n")).unwrap());
        assert_eq!(status, 204);
        assert!(headers.is_empty() && body.is_empty());
    }

    #[test]
    fn malformed_recordings_are_typed_errors() {
        for bad in [
            "",
            "data: [DONE]\n\n",
            "upstage-recording/1\n\n",
            "upstage-recording/1 abc\n\n",
            "upstage-recording/1 200 OK\nno colon here\n\n",
            "upstage-recording/1 200 OK\n: no name\n\n",
            "upstage-recording/1 200 OK\ncontent-type: x\n",
            "upstage-recording/2 200\n\n",
        ] {
            let err = Recording::read(Cursor::new(bad)).err().expect(bad);
            assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}");
        }
        let huge = format!("{MAGIC} 200\nx: {}\n\n", "a".repeat(MAX_HEAD as usize));
        let err = Recording::read(Cursor::new(huge)).err().unwrap();
        assert_eq!(err.kind(), ErrorKind::Limit);
    }

    #[test]
    fn a_failing_recording_fails_the_read() {
        struct Full;
        impl Write for Full {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::Error::other("disk full"))
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut tee = Tee::new(Cursor::new(b"data".to_vec()), Box::new(Full));
        let err = tee.read(&mut [0u8; 8]).unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
    }
}
