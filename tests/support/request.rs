//! The request side: parsing one HTTP/1.1 request off a [`Wire`] and the record
//! that tests inspect afterwards.

use std::time::Instant;

use super::wire::{ReadError, Wire};

/// Largest request head (request line + headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// Largest request body accepted.
const MAX_BODY: usize = 64 * 1024 * 1024;
/// Largest chunk-size or trailer line accepted in a chunked request body.
const MAX_LINE: usize = 4 * 1024;

/// One request as the server received it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordedRequest {
    /// Request method, e.g. `"POST"`.
    pub method: String,
    /// Request target as sent, e.g. `"/v1/chat/completions"` (query included).
    pub path: String,
    /// Protocol version as sent, e.g. `"HTTP/1.1"`.
    pub version: String,
    /// Headers in the order received; names keep the case the client sent,
    /// values have surrounding whitespace trimmed.
    pub headers: Vec<(String, String)>,
    /// The body after de-chunking (empty when there was none).
    pub body: Vec<u8>,
    /// `body` parsed as JSON, when it is valid JSON.
    pub json: Option<serde_json::Value>,
    /// Whether the body arrived with `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// The request line and headers exactly as received, final CRLF CRLF included.
    pub raw_head: Vec<u8>,
    /// 1-based index of this request across the whole server.
    pub attempt: usize,
    /// 1-based index of the TCP connection that carried it.
    pub connection: usize,
}

impl RecordedRequest {
    /// First value of header `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).into_iter().next()
    }

    /// Every value of header `name` (ASCII case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Header names in the order received, as sent.
    pub fn header_names(&self) -> Vec<&str> {
        self.headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether header `name` has `token` in its comma-separated value list.
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.header_all(name)
            .iter()
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// Reads one request. `Ok(None)` means the peer went away (or stayed silent until
/// the deadline) before sending a single byte, which is not an error.
pub(crate) fn read_request(
    wire: &mut Wire,
    deadline: Instant,
) -> Result<Option<RecordedRequest>, ReadError> {
    if !wire.has_pending() {
        match wire.fill(deadline) {
            Ok(()) => {}
            Err(ReadError::Eof | ReadError::Stopped | ReadError::Timeout | ReadError::Io(_)) => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        }
    }
    let raw_head = wire.read_through(b"\r\n\r\n", MAX_HEAD, deadline)?;
    let mut request = parse_head(&raw_head)?;
    request.raw_head = raw_head;
    if request.has_token("Expect", "100-continue") {
        let _ = wire.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    request.body = read_body(wire, &mut request, deadline)?;
    request.json = serde_json::from_slice(&request.body).ok();
    Ok(Some(request))
}

/// Parses the request line and headers (`raw` ends with CRLF CRLF).
fn parse_head(raw: &[u8]) -> Result<RecordedRequest, ReadError> {
    let text = std::str::from_utf8(raw).map_err(|_| malformed("head is not UTF-8"))?;
    let mut lines = text.trim_end_matches("\r\n").split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = request_line.split(' ').collect();
    let [method, path, version] = parts[..] else {
        return Err(malformed(&format!("bad request line {request_line:?}")));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(malformed(&format!("unsupported version {version:?}")));
    }
    let headers = lines.map(parse_header).collect::<Result<_, _>>()?;
    Ok(RecordedRequest {
        method: method.to_owned(),
        path: path.to_owned(),
        version: version.to_owned(),
        headers,
        ..RecordedRequest::default()
    })
}

/// Parses one `Name: value` header line.
fn parse_header(line: &str) -> Result<(String, String), ReadError> {
    let (name, value) = line
        .split_once(':')
        .ok_or_else(|| malformed(&format!("bad header line {line:?}")))?;
    if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace()) {
        return Err(malformed(&format!("bad header name {name:?}")));
    }
    Ok((name.to_owned(), value.trim().to_owned()))
}

/// Reads the body framed by `Transfer-Encoding: chunked` or `Content-Length`.
fn read_body(
    wire: &mut Wire,
    request: &mut RecordedRequest,
    deadline: Instant,
) -> Result<Vec<u8>, ReadError> {
    if request.has_token("Transfer-Encoding", "chunked") {
        request.chunked = true;
        return read_chunked(wire, deadline);
    }
    let Some(length) = request.header("Content-Length") else {
        return Ok(Vec::new());
    };
    let length: usize = length
        .parse()
        .map_err(|_| malformed(&format!("bad Content-Length {length:?}")))?;
    if length > MAX_BODY {
        return Err(ReadError::TooLarge);
    }
    wire.take(length, deadline)
}

/// Decodes a chunked body, discarding chunk extensions and trailers.
fn read_chunked(wire: &mut Wire, deadline: Instant) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    loop {
        let line = read_line(wire, deadline)?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| malformed(&format!("bad chunk size {line:?}")))?;
        if size == 0 {
            while !read_line(wire, deadline)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(ReadError::TooLarge);
        }
        body.extend(wire.take(size, deadline)?);
        if wire.take(2, deadline)? != b"\r\n" {
            return Err(malformed("chunk data not followed by CRLF"));
        }
    }
}

/// Reads one CRLF-terminated line (CRLF removed).
fn read_line(wire: &mut Wire, deadline: Instant) -> Result<String, ReadError> {
    let mut line = wire.read_through(b"\r\n", MAX_LINE, deadline)?;
    line.truncate(line.len() - 2);
    String::from_utf8(line).map_err(|_| malformed("line is not UTF-8"))
}

fn malformed(why: &str) -> ReadError {
    ReadError::Malformed(why.to_owned())
}
