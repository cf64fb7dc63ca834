//! Zero allocations per token on the borrowed paths: `ChatStream::next_token` (from memory and
//! over loopback through the client) and the C callback API (`upstage_chat_stream`, called
//! here through the same exported functions a C program links to).
//!
//! A counting global allocator counts the allocations made by the test's own thread (the
//! loopback server runs on another one). The same stream of N tokens is read with N = 1,000
//! and N = 10,000: the counts must be equal, so an extra token costs no allocation. Tokens
//! include escapes (`\n`, `\"`, `\\`, `\uXXXX`), non-ASCII text and a surrogate pair, and the
//! stream has the usual first (role), finish and usage chunks.
//!
//! This file is its own test binary, so the allocator affects nothing else. Implementing
//! `GlobalAlloc` needs `unsafe`; the implementation only forwards to `System`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::{c_char, c_void, CString};
use std::io::{Cursor, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::ptr;

use upstage::{ChatRequest, ChatStream, Client, Flavor, Limits, Message};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    // `try_with`: the slot may be gone while the thread is being torn down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by this thread while `f` runs.
fn allocations<T>(f: impl FnOnce() -> T) -> (u64, T) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (ALLOCATIONS.with(Cell::get) - before, out)
}

/// Token `i` as JSON string content and as the client returns it.
const VOCAB: &[(&str, &str)] = &[
    (" the", " the"),
    ("ing", "ing"),
    (" café", " café"),
    (" 안녕하세요", " 안녕하세요"),
    (" 日本語", " 日本語"),
    (" 🙂", " 🙂"),
    ("\\n", "\n"),
    ("\\n\\n", "\n\n"),
    (" \\\"quoted\\\"", " \"quoted\""),
    ("back\\\\slash", "back\\slash"),
    ("\\t", "\t"),
    ("\\u00e9t\\u00E9", "été"),
    ("\\ud83d\\ude00", "😀"),
    (" stream", " stream"),
    (".", "."),
    (",", ","),
];

fn chunk(delta: &str, finish: &str) -> String {
    format!(
        "data: {{\"id\":\"chatcmpl-alloc\",\"object\":\"chat.completion.chunk\",\"created\":1764000000,\
         \"model\":\"solar-pro4\",\"system_fingerprint\":null,\"choices\":[{{\"index\":0,\
         \"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}]}}\n\n"
    )
}

/// An SSE body of `n` tokens, and the concatenated tokens.
fn body(n: usize) -> (Vec<u8>, String) {
    let mut body = chunk(r#"{"role":"assistant","content":""}"#, "null");
    let mut text = String::new();
    for i in 0..n {
        let (json, token) = VOCAB[(i * 7 + i / VOCAB.len()) % VOCAB.len()];
        body.push_str(&chunk(&format!(r#"{{"content":"{json}"}}"#), "null"));
        text.push_str(token);
    }
    body.push_str(&chunk("{}", "\"stop\""));
    body.push_str(&format!(
        "data: {{\"id\":\"chatcmpl-alloc\",\"object\":\"chat.completion.chunk\",\"created\":1764000000,\
         \"model\":\"solar-pro4\",\"choices\":[],\"usage\":{{\"prompt_tokens\":5,\
         \"completion_tokens\":{n},\"total_tokens\":{}}}}}\n\ndata: [DONE]\n\n",
        n + 5
    ));
    (body.into_bytes(), text)
}

/// Serves `body` once over HTTP/1.1 with chunked encoding; returns the base URL.
fn serve_once(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        read_request(&mut conn);
        let mut out = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
                        transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            .to_vec();
        for piece in body.chunks(64 << 10) {
            out.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"0\r\n\r\n");
        // The client closes the connection after [DONE]; a failed write does not matter.
        let _ = conn.write_all(&out);
    });
    format!("http://127.0.0.1:{port}/v1")
}

fn read_request(conn: &mut TcpStream) {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        assert_eq!(conn.read(&mut byte).unwrap(), 1, "request cut short");
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0; length];
    conn.read_exact(&mut body).unwrap();
}

fn client(base: &str) -> Client {
    Client::builder()
        .base_url(base)
        .proxy(upstage::Proxy::Disabled)
        .max_retries(0)
        .build()
        .unwrap()
}

fn request() -> ChatRequest {
    ChatRequest::new("solar-pro4").message(Message::user("Count the allocations."))
}

/// Drains a stream with `next_token`, checking every token; returns the token count.
fn drain(stream: &mut ChatStream, expected: &str) -> usize {
    let mut rest = expected;
    let mut tokens = 0;
    while let Some(token) = stream.next_token() {
        let token = token.unwrap();
        rest = rest.strip_prefix(token).expect("tokens in order");
        tokens += 1;
    }
    assert!(rest.is_empty(), "missing tokens");
    assert_eq!(stream.finish_reason(), Some("stop"));
    tokens
}

const SMALL: usize = 1_000;
const LARGE: usize = 10_000;

/// Allocations of one whole stream of `n` tokens from memory: creating it, every token, the end.
/// The warm-up (and the count itself) covers one-time initialisations.
fn from_memory(n: usize) -> u64 {
    let (body, text) = body(n);
    let (count, tokens) = allocations(|| {
        let mut stream = ChatStream::from_reader(Cursor::new(body), Flavor::Api, Limits::default());
        drain(&mut stream, &text)
    });
    assert_eq!(tokens, n);
    count
}

#[test]
fn next_token_from_memory_allocates_nothing_per_token() {
    from_memory(10);
    let (small, large) = (from_memory(SMALL), from_memory(LARGE));
    assert_eq!(
        small, large,
        "{SMALL} tokens: {small} allocations, {LARGE} tokens: {large}"
    );
}

/// Allocations of one whole stream of `n` tokens through the client over loopback.
fn over_loopback(n: usize) -> u64 {
    let (body, text) = body(n);
    let client = client(&serve_once(body));
    let request = request();
    let (count, tokens) = allocations(|| {
        let mut stream = client.stream(&request).unwrap();
        drain(&mut stream, &text)
    });
    assert_eq!(tokens, n);
    count
}

#[test]
fn next_token_over_loopback_allocates_nothing_per_token() {
    // Warm-up: one-time initialisations (lazy statics of the HTTP stack) happen here.
    over_loopback(10);
    let (small, large) = (over_loopback(SMALL), over_loopback(LARGE));
    assert_eq!(
        small, large,
        "{SMALL} tokens: {small} allocations, {LARGE} tokens: {large}"
    );
}

/// The owned iterator allocates exactly its `String`s: one per token.
#[test]
fn the_iterator_allocates_one_string_per_token() {
    let count = |n: usize| {
        let (body, text) = body(n);
        let (count, joined) = allocations(|| {
            let stream = ChatStream::from_reader(Cursor::new(body), Flavor::Api, Limits::default());
            let mut joined = 0;
            for token in stream {
                joined += token.unwrap().len();
            }
            joined
        });
        assert_eq!(joined, text.len());
        count
    };
    assert_eq!(count(LARGE) - count(SMALL), (LARGE - SMALL) as u64);
}

/// What the C callback sees.
struct Seen {
    tokens: usize,
    text: String,
}

extern "C" fn on_token(userdata: *mut c_void, text: *const c_char, len: usize) -> i32 {
    // SAFETY: `userdata` is the `Seen` passed below; `text` points to `len` bytes of UTF-8
    // (the C API's contract).
    let (seen, bytes) = unsafe {
        (
            &mut *userdata.cast::<Seen>(),
            std::slice::from_raw_parts(text.cast::<u8>(), len),
        )
    };
    seen.tokens += 1;
    // Checked against the expected text without allocating: `seen.text` is pre-sized.
    seen.text.push_str(std::str::from_utf8(bytes).unwrap());
    0
}

/// Allocations of `upstage_chat_stream` for `n` tokens (client and request built before).
fn c_callback(n: usize) -> u64 {
    use upstage::ffi::*;
    let (body, text) = body(n);
    let base = CString::new(serve_once(body)).unwrap();
    let model = CString::new("solar-pro4").unwrap();
    let (role, content) = (CString::new("user").unwrap(), CString::new("Hi").unwrap());
    let mut seen = Seen {
        tokens: 0,
        text: String::with_capacity(text.len()),
    };
    // SAFETY: the C API used as documented: live handles, NUL-terminated strings, a callback
    // safe to call with `seen`, and everything freed once.
    let count = unsafe {
        let builder = upstage_client_builder_new();
        assert_eq!(
            upstage_client_builder_set_base_url(builder, base.as_ptr()),
            0
        );
        assert_eq!(upstage_client_builder_set_proxy(builder, ptr::null()), 0);
        assert_eq!(upstage_client_builder_set_max_retries(builder, 0), 0);
        let mut client = ptr::null_mut();
        assert_eq!(
            upstage_client_builder_build(builder, &mut client, ptr::null_mut()),
            0
        );
        let request = upstage_request_new(model.as_ptr());
        assert_eq!(
            upstage_request_add_message(request, role.as_ptr(), content.as_ptr()),
            0
        );
        let seen_ptr: *mut Seen = &mut seen;
        let (count, status) = allocations(|| {
            upstage_chat_stream(
                client,
                request,
                Some(on_token),
                seen_ptr.cast(),
                ptr::null_mut(),
            )
        });
        assert_eq!(status, 0, "upstage_chat_stream failed");
        upstage_request_free(request);
        upstage_client_free(client);
        count
    };
    assert_eq!((seen.tokens, seen.text == text), (n, true));
    count
}

#[test]
fn the_c_callback_allocates_nothing_per_token() {
    // Warm-up: one-time initialisations (lazy statics of the HTTP stack) happen here.
    c_callback(10);
    let (small, large) = (c_callback(SMALL), c_callback(LARGE));
    assert_eq!(
        small, large,
        "{SMALL} tokens: {small} allocations, {LARGE} tokens: {large}"
    );
}
