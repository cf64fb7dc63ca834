//! Canned OpenAI-style stream payloads, a declarative [`Script`], and ready-made handlers.

use std::time::Duration;

use super::conn::Conn;

/// `id` of every canned chunk.
pub const TEST_ID: &str = "chatcmpl-test";
/// `model` of every canned chunk.
pub const TEST_MODEL: &str = "solar-pro4";
/// `created` of every canned chunk.
pub const TEST_CREATED: u64 = 1_700_000_000;

/// `s` as a JSON string literal (quoted and escaped).
pub fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}

/// A `chat.completion.chunk` whose only choice has the given delta and finish reason
/// (both already JSON).
pub fn delta_json(delta: &str, finish_reason: &str) -> String {
    format!(
        r#"{{"id":"{TEST_ID}","object":"chat.completion.chunk","created":{TEST_CREATED},"model":"{TEST_MODEL}","choices":[{{"index":0,"delta":{delta},"finish_reason":{finish_reason}}}]}}"#
    )
}

/// The usual first chunk: `delta: {"role":"assistant","content":""}`.
pub fn role_json() -> String {
    delta_json(r#"{"role":"assistant","content":""}"#, "null")
}

/// A chunk with `choices[0].delta.content` = `content`.
pub fn chunk_json(content: &str) -> String {
    delta_json(&format!(r#"{{"content":{}}}"#, json_str(content)), "null")
}

/// A chunk with an empty delta and `choices[0].finish_reason` = `reason`.
pub fn finish_json(reason: &str) -> String {
    delta_json("{}", &json_str(reason))
}

/// A usage-only chunk: `choices: []` and `usage` with the given token counts.
pub fn usage_json(prompt_tokens: u64, completion_tokens: u64) -> String {
    let total = prompt_tokens + completion_tokens;
    format!(
        r#"{{"id":"{TEST_ID}","object":"chat.completion.chunk","created":{TEST_CREATED},"model":"{TEST_MODEL}","choices":[],"usage":{{"prompt_tokens":{prompt_tokens},"completion_tokens":{completion_tokens},"total_tokens":{total}}}}}"#
    )
}

/// An OpenAI-style error body: `{"error":{"message":..,"type":..,"param":null,"code":null}}`.
pub fn error_json(message: &str, kind: &str) -> String {
    format!(
        r#"{{"error":{{"message":{},"type":{},"param":null,"code":null}}}}"#,
        json_str(message),
        json_str(kind)
    )
}

/// One step of a [`Script`]; each maps to one [`Conn`] call.
#[derive(Clone, Debug)]
enum Step {
    Head(u16, Vec<(String, String)>),
    Raw(Vec<u8>),
    Body(Vec<u8>),
    Chunk(Vec<u8>),
    EndChunks,
    Trickle(Vec<u8>, usize, Duration),
    Sleep(Duration),
    Stall,
    Close,
    Reset,
}

/// A response written step by step, built with chained calls:
///
/// ```ignore
/// let handler = Script::sse().role().tokens(&["Hel", "lo"]).finish("stop").done().end_chunks().handler();
/// ```
///
/// SSE steps (`data`, `token`, `done`, ...) go through [`Conn::body`], so they are
/// chunk-framed after [`Script::sse`] and raw after [`Script::sse_close_delimited`].
#[derive(Clone, Debug, Default)]
pub struct Script {
    steps: Vec<Step>,
}

impl Script {
    /// An empty script (writes nothing; the connection is then closed).
    pub fn new() -> Script {
        Script::default()
    }

    /// Starts with the head of [`Conn::start_sse`] (chunked).
    pub fn sse() -> Script {
        Script::new().head(
            200,
            &[
                ("Content-Type", "text/event-stream"),
                ("Transfer-Encoding", "chunked"),
            ],
        )
    }

    /// Starts with the head of [`Conn::start_sse_close_delimited`]; end with
    /// [`close`](Script::close) (or let the server close after the script).
    pub fn sse_close_delimited() -> Script {
        Script::new().head(
            200,
            &[
                ("Content-Type", "text/event-stream"),
                ("Connection", "close"),
            ],
        )
    }

    fn step(mut self, step: Step) -> Script {
        self.steps.push(step);
        self
    }

    /// [`Conn::send_head`].
    pub fn head(self, status: u16, headers: &[(&str, &str)]) -> Script {
        let headers = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        self.step(Step::Head(status, headers))
    }

    /// [`Conn::write_raw`].
    pub fn raw(self, bytes: impl AsRef<[u8]>) -> Script {
        self.step(Step::Raw(bytes.as_ref().to_vec()))
    }

    /// [`Conn::body`].
    pub fn body(self, bytes: impl AsRef<[u8]>) -> Script {
        self.step(Step::Body(bytes.as_ref().to_vec()))
    }

    /// [`Conn::chunk`].
    pub fn chunk(self, bytes: impl AsRef<[u8]>) -> Script {
        self.step(Step::Chunk(bytes.as_ref().to_vec()))
    }

    /// [`Conn::sse_data`]: `data: {json}\n\n`.
    pub fn data(self, json: &str) -> Script {
        self.body(format!("data: {json}\n\n"))
    }

    /// The [`role_json`] event.
    pub fn role(self) -> Script {
        self.data(&role_json())
    }

    /// One [`chunk_json`] event.
    pub fn token(self, content: &str) -> Script {
        self.data(&chunk_json(content))
    }

    /// One [`chunk_json`] event per token.
    pub fn tokens(self, tokens: &[&str]) -> Script {
        tokens.iter().fold(self, |script, t| script.token(t))
    }

    /// The [`finish_json`] event.
    pub fn finish(self, reason: &str) -> Script {
        self.data(&finish_json(reason))
    }

    /// The [`usage_json`] event.
    pub fn usage(self, prompt_tokens: u64, completion_tokens: u64) -> Script {
        self.data(&usage_json(prompt_tokens, completion_tokens))
    }

    /// [`Conn::done`]: `data: [DONE]\n\n`.
    pub fn done(self) -> Script {
        self.body("data: [DONE]\n\n")
    }

    /// [`Conn::end_chunks`].
    pub fn end_chunks(self) -> Script {
        self.step(Step::EndChunks)
    }

    /// [`Conn::trickle`].
    pub fn trickle(self, bytes: impl AsRef<[u8]>, per_write: usize, delay: Duration) -> Script {
        self.step(Step::Trickle(bytes.as_ref().to_vec(), per_write, delay))
    }

    /// [`Conn::sleep`].
    pub fn sleep(self, duration: Duration) -> Script {
        self.step(Step::Sleep(duration))
    }

    /// [`Conn::stall`].
    pub fn stall(self) -> Script {
        self.step(Step::Stall)
    }

    /// [`Conn::close`].
    pub fn close(self) -> Script {
        self.step(Step::Close)
    }

    /// [`Conn::reset`].
    pub fn reset(self) -> Script {
        self.step(Step::Reset)
    }

    /// Plays the script on `conn`.
    pub fn run(&self, conn: &mut Conn) {
        for step in &self.steps {
            run_step(step, conn);
        }
    }

    /// A handler that plays the script for every request.
    pub fn handler(self) -> impl Fn(&mut Conn) + Send + Sync + 'static {
        move |conn: &mut Conn| self.run(conn)
    }
}

fn run_step(step: &Step, conn: &mut Conn) {
    match step {
        Step::Head(status, headers) => {
            let headers: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            conn.send_head(*status, &headers)
        }
        Step::Raw(bytes) => conn.write_raw(bytes),
        Step::Body(bytes) => conn.body(bytes),
        Step::Chunk(bytes) => conn.chunk(bytes),
        Step::EndChunks => conn.end_chunks(),
        Step::Trickle(bytes, per_write, delay) => conn.trickle(bytes, *per_write, *delay),
        Step::Sleep(duration) => conn.sleep(*duration),
        Step::Stall => conn.stall(),
        Step::Close => conn.close(),
        Step::Reset => conn.reset(),
    };
}

/// A handler streaming `tokens` as content chunks, then `finish_reason: "stop"`,
/// then `[DONE]`, then the last chunk (chunked SSE, keep-alive capable).
pub fn serve_tokens(tokens: &[&str]) -> impl Fn(&mut Conn) + Send + Sync + 'static {
    Script::sse()
        .tokens(tokens)
        .finish("stop")
        .done()
        .end_chunks()
        .handler()
}

/// A handler answering every request with `status` and the JSON `body`.
pub fn serve_json(status: u16, body: &str) -> impl Fn(&mut Conn) + Send + Sync + 'static {
    let body = body.to_owned();
    move |conn: &mut Conn| {
        conn.json_response(status, &[], &body);
    }
}

/// A handler that reads the request and never answers: it waits until the client
/// closes, the server is dropped, or [`STALL_LIMIT`](super::STALL_LIMIT) passes.
pub fn stall() -> impl Fn(&mut Conn) + Send + Sync + 'static {
    |conn: &mut Conn| {
        conn.stall();
    }
}

/// A handler running `failure` for the first `failures` attempts and `success` after.
pub fn fail_then(
    failures: usize,
    failure: impl Fn(&mut Conn) + Send + Sync + 'static,
    success: impl Fn(&mut Conn) + Send + Sync + 'static,
) -> impl Fn(&mut Conn) + Send + Sync + 'static {
    move |conn: &mut Conn| {
        if conn.attempt() <= failures {
            failure(conn);
        } else {
            success(conn);
        }
    }
}
