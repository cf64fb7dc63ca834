//! The loopback server: sends the workload as one chunked HTTP response, 1 MiB writes.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use crate::workload::*;

/// Runs before the server writes `data: [DONE]` (the CLI path samples the CLI's peak RSS there).
pub type Gate = Arc<Mutex<Option<Box<dyn FnMut() + Send>>>>;

pub fn start_server(work: Arc<Workload>, gate: Gate) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut frame = Vec::with_capacity(FRAME + 16);
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let _ = serve(conn, &work, &gate, &mut frame);
        }
    });
    port
}

pub fn serve(
    mut conn: TcpStream,
    work: &Workload,
    gate: &Gate,
    frame: &mut Vec<u8>,
) -> io::Result<()> {
    conn.set_nodelay(true)?;
    read_request(&mut conn)?;
    conn.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n\
          transfer-encoding: chunked\r\nconnection: close\r\n\r\n",
    )?;
    let mut payload = Vec::with_capacity(FRAME);
    for piece in work.pieces() {
        let mut piece = piece;
        while !piece.is_empty() {
            let take = piece.len().min(FRAME - payload.len());
            payload.extend_from_slice(&piece[..take]);
            piece = &piece[take..];
            if payload.len() == FRAME {
                write_frame(&mut conn, frame, &payload)?;
                payload.clear();
            }
        }
    }
    if !payload.is_empty() {
        write_frame(&mut conn, frame, &payload)?;
    }
    if let Some(gate) = gate.lock().unwrap().as_mut() {
        gate();
    }
    write_frame(&mut conn, frame, &work.done)?;
    conn.write_all(b"0\r\n\r\n")?;
    conn.flush()
}

/// One HTTP chunk in one write.
pub fn write_frame(conn: &mut TcpStream, frame: &mut Vec<u8>, payload: &[u8]) -> io::Result<()> {
    frame.clear();
    write!(frame, "{:x}\r\n", payload.len())?;
    frame.extend_from_slice(payload);
    frame.extend_from_slice(b"\r\n");
    conn.write_all(frame)
}

/// Reads the request head and its `content-length` body.
pub fn read_request(conn: &mut TcpStream) -> io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let mut have = buf.len() - head_end;
    while have < length {
        let n = conn.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        have += n;
    }
    Ok(())
}
