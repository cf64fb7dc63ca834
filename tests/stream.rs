//! The core against a real loopback server: requests on the wire, the SSE and completion
//! rules, HTTP and in-band errors, and the stream shapes of the servers people run.

mod support;

use serde_json::{json, Value};
use support::*;
use upstage::{
    ChatRequest, ChatStream, Client, ClientBuilder, Delta, Error, ErrorKind, Flavor, Limits,
    Message,
};

fn client(server: &Server) -> Client {
    client_for(server)
}

fn hello() -> ChatRequest {
    ChatRequest::new("solar-pro4").message(Message::user("Hello"))
}

/// Every token of a stream, and how it ended.
fn drain(mut stream: ChatStream) -> (String, Option<Error>) {
    let mut text = String::new();
    while let Some(token) = stream.next_token() {
        match token {
            Ok(token) => text.push_str(token),
            Err(e) => return (text, Some(e)),
        }
    }
    (text, None)
}

fn stream_body(body: &'static [u8]) -> (String, Option<Error>) {
    let server = Server::start(move |conn: &mut Conn| {
        conn.start_sse().chunk(body).end_chunks();
    });
    drain(client(&server).stream(&hello()).unwrap())
}

fn ok_text(body: &'static [u8]) -> String {
    let (text, error) = stream_body(body);
    assert!(error.is_none(), "{error:?}");
    text
}

fn error_of(body: &'static [u8]) -> (String, Error) {
    let (text, error) = stream_body(body);
    (text, error.expect("the stream should fail"))
}

// ---------------------------------------------------------------- requests on the wire

#[test]
fn api_request_has_auth_headers_and_the_messages_as_given() {
    let server = Server::start(serve_tokens(&["ok"]));
    let client = ClientBuilder::new()
        .base_url(server.base())
        .api_key("sk-test-key")
        .build()
        .unwrap();
    let request = ChatRequest::new("solar-pro4")
        .message(Message::system("S"))
        .message(Message::user("Q"))
        .temperature(0.3)
        .max_tokens(5);
    assert_eq!(drain(client.stream(&request).unwrap()).0, "ok");
    let sent = &server.requests()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test-key"));
    assert_eq!(sent.header("accept"), Some("text/event-stream"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    let agent = format!("upstage-rs/{}", env!("CARGO_PKG_VERSION"));
    assert_eq!(sent.header("user-agent"), Some(agent.as_str()));
    assert_eq!(
        sent.header("accept-encoding"),
        None,
        "no compression on streams"
    );
    assert_eq!(
        sent.json,
        Some(json!({
            "model": "solar-pro4", "stream": true,
            "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
            "temperature": 0.3, "max_tokens": 5
        }))
    );
}

#[test]
fn api_request_without_model_uses_the_default() {
    let server = Server::start(serve_tokens(&["ok"]));
    let client = ClientBuilder::new()
        .base_url(server.base())
        .build()
        .unwrap();
    let request = ChatRequest::default().message(Message::user("x"));
    drain(client.stream(&request).unwrap());
    let sent = &server.requests()[0];
    assert_eq!(sent.json.as_ref().unwrap()["model"], json!("solar-pro4"));
    assert_eq!(sent.header("authorization"), None, "no key, no auth header");
}

#[test]
fn web_demo_request_is_the_seeds_exactly() {
    let server = Server::start(serve_tokens(&["ok"]));
    let client = ClientBuilder::new()
        .base_url(server.base())
        .flavor(Flavor::WebDemo)
        .api_key("sk-never-sent")
        .build()
        .unwrap();
    let request = ChatRequest::new("solar-mini")
        .message(Message::system("Be brief"))
        .message(Message::user("Hi"));
    assert_eq!(drain(client.stream(&request).unwrap()).0, "ok");
    let sent = &server.requests()[0];
    assert_eq!(sent.path, "/v1/web/demo/chat/completions");
    let expected = [
        ("accept", "*/*"),
        ("accept-language", "en-US,en;q=0.9"),
        ("cache-control", "no-cache"),
        ("content-type", "application/json"),
        ("dnt", "1"),
        ("origin", "https://console.upstage.ai"),
        ("pragma", "no-cache"),
        ("priority", "u=1, i"),
        ("referer", "https://console.upstage.ai/"),
        ("sec-ch-ua", "\"Not?A_Brand\";v=\"99\", \"Chromium\";v=\"130\""),
        ("sec-ch-ua-mobile", "?0"),
        ("sec-ch-ua-platform", "\"Linux\""),
        ("sec-fetch-dest", "empty"),
        ("sec-fetch-mode", "cors"),
        ("sec-fetch-site", "cross-site"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
        ),
    ];
    // Transport headers (host, content-length) aside, exactly the seed's, in its order.
    let sent_headers: Vec<(String, String)> = sent
        .headers
        .iter()
        .filter(|(n, _)| {
            !n.eq_ignore_ascii_case("host") && !n.eq_ignore_ascii_case("content-length")
        })
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .collect();
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    assert_eq!(sent_headers, expected);
    assert_eq!(
        sent.json,
        Some(json!({
            "stream": true,
            "messages": [{"role": "user", "content": "System: Be brief\nUser: Hi\nAssistant:"}],
            "model": "upstage/solar-1-mini-chat-ja"
        }))
    );
}

#[test]
fn missing_key_for_the_official_api_is_an_error_before_any_io() {
    let err = ClientBuilder::new().build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
}

#[test]
fn empty_messages_fail_before_any_io() {
    let server = Server::start(serve_tokens(&["never"]));
    let err = client(&server).stream(&ChatRequest::new("m")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert_eq!(server.request_count(), 0);
}

// ---------------------------------------------------------------- SSE rules

#[test]
fn line_endings_lf_crlf_and_lone_cr() {
    let lf = b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]\n\n";
    let crlf = b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\n\r\ndata: [DONE]\r\n\r\n";
    let cr = b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\r\rdata: [DONE]\r\r";
    for body in [&lf[..], &crlf[..], &cr[..]] {
        assert_eq!(ok_text(body), "a");
    }
}

#[test]
fn crlf_split_across_writes_is_one_line_end() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse()
            .chunk(b"data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}]}\r")
            .sleep(ms(30))
            .chunk(b"\n\r")
            .sleep(ms(30))
            .chunk(b"\ndata: {\"choices\":[{\"delta\":{\"content\":\"y\"}}]}\r\n\r\ndata: [DONE]\r\n\r\n")
            .end_chunks();
    });
    assert_eq!(drain(client(&server).stream(&hello()).unwrap()).0, "xy");
}

#[test]
fn bom_comments_colonless_fields_and_the_optional_space() {
    let body = b"\xEF\xBB\xBF: keep-alive\n\
        event: message\nid: 7\nretry: 100\nunknown\n\
        data:{\"choices\":[{\"delta\":{\"content\":\"no-space \"}}]}\n\n\
        data:  {\"choices\":[{\"delta\":{\"content\":\"two-spaces\"}}]}\n\n\
        data: [DONE]\n\n";
    assert_eq!(ok_text(body), "no-space two-spaces");
}

#[test]
fn multi_line_data_is_joined_with_newlines() {
    let body =
        b"data: {\"choices\":\ndata: [{\"delta\":{\"content\":\"joined\"}}]}\n\ndata: [DONE]\n\n";
    assert_eq!(ok_text(body), "joined");
}

#[test]
fn byte_at_a_time_trickle_and_utf8_split_across_writes() {
    let server = Server::start(|conn: &mut Conn| {
        let mut body = String::new();
        for token in ["한국어", " ", "日本語", " 🎉", "é"] {
            body.push_str(&format!("data: {}\n\n", chunk_json(token)));
        }
        body.push_str("data: [DONE]\n\n");
        conn.start_sse()
            .trickle(body.as_bytes(), 1, ms(0))
            .end_chunks();
    });
    assert_eq!(
        drain(client(&server).stream(&hello()).unwrap()).0,
        "한국어 日本語 🎉é"
    );
}

#[test]
fn raw_and_escaped_utf8_give_the_same_text() {
    assert_eq!(
        ok_text(b"data: {\"choices\":[{\"delta\":{\"content\":\"\\ud55c\\uae00 \\ud83c\\udf89\"}}]}\n\ndata: [DONE]\n\n"),
        "한글 🎉"
    );
}

#[test]
fn unterminated_event_at_eof_is_discarded() {
    // The last event has no blank line: it never dispatches, and without a finish
    // reason the stream is truncated.
    let (text, err) = error_of(b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"b\"}}]}\n");
    assert_eq!(text, "a");
    assert_eq!(err.kind(), ErrorKind::Truncated);
}

// ---------------------------------------------------------------- completion contract

#[test]
fn nothing_after_done_is_read() {
    let text = ok_text(
        b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [DONE]\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"LATE\"}}]}\n\nnot even sse",
    );
    assert_eq!(text, "a");
}

#[test]
fn a_connection_held_open_after_done_does_not_block() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse().sse_data(&chunk_json("a")).done();
        // Neither the chunked terminator nor a close: the client must not wait for them.
        let closed = conn.peer_closed(secs(20));
        conn.note(if closed { "closed" } else { "still open" });
    });
    let started = std::time::Instant::now();
    let (text, err) = drain(client(&server).stream(&hello()).unwrap());
    assert_eq!((text.as_str(), err.is_none()), ("a", true));
    assert!(started.elapsed() < secs(10));
    assert!(
        server.wait_for_note("closed", secs(10)),
        "the client closes at [DONE]"
    );
}

#[test]
fn clean_end_after_a_finish_reason_succeeds_without_done() {
    // Hugging Face `transformers serve` never sends [DONE].
    let server = Server::start(
        Script::sse()
            .token("fine")
            .finish("stop")
            .end_chunks()
            .handler(),
    );
    let mut stream = client(&server).stream(&hello()).unwrap();
    assert_eq!(stream.next_token().unwrap().unwrap(), "fine");
    assert!(stream.next_token().is_none());
    assert_eq!(stream.finish_reason(), Some("stop"));
    assert!(stream.is_done());
}

#[test]
fn close_delimited_body_after_finish_reason_succeeds() {
    let server = Server::start(
        Script::sse_close_delimited()
            .token("x")
            .finish("length")
            .close()
            .handler(),
    );
    let (text, err) = drain(client(&server).stream(&hello()).unwrap());
    assert_eq!(text, "x");
    assert!(err.is_none(), "{err:?}");
}

#[test]
fn eof_without_done_or_finish_reason_is_truncated_and_keeps_tokens() {
    for close_delimited in [false, true] {
        let server = Server::start(move |conn: &mut Conn| {
            if close_delimited {
                conn.start_sse_close_delimited();
            } else {
                conn.start_sse();
            }
            conn.sse_data(&chunk_json("kept"));
            if close_delimited {
                conn.close();
            } else {
                conn.end_chunks();
            }
        });
        let (text, err) = drain(client(&server).stream(&hello()).unwrap());
        assert_eq!(text, "kept");
        assert_eq!(err.unwrap().kind(), ErrorKind::Truncated);
    }
}

#[test]
fn a_reset_mid_stream_is_truncated() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse().sse_data(&chunk_json("before")).reset();
    });
    let (text, err) = drain(client(&server).stream(&hello()).unwrap());
    assert_eq!(text, "before");
    let err = err.unwrap();
    assert_eq!(err.kind(), ErrorKind::Truncated, "{err:?}");
    assert_eq!(err.http_status(), Some(200));
}

#[test]
fn an_incomplete_chunked_body_is_truncated() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse()
            .sse_data(&chunk_json("a"))
            .write_raw(b"40\r\ndata: {\"choi")
            .close();
    });
    let (text, err) = drain(client(&server).stream(&hello()).unwrap());
    assert_eq!(text, "a");
    assert_eq!(err.unwrap().kind(), ErrorKind::Truncated);
}

#[test]
fn bad_chunked_framing_is_a_protocol_or_truncation_error() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse()
            .sse_data(&chunk_json("a"))
            // A separate read: framing errors discard what shares their read.
            .sleep(ms(50))
            .write_raw(b"zz\r\nnot hex\r\n")
            .close();
    });
    let (text, err) = drain(client(&server).stream(&hello()).unwrap());
    assert_eq!(text, "a");
    let kind = err.unwrap().kind();
    assert!(
        matches!(kind, ErrorKind::Protocol | ErrorKind::Truncated),
        "{kind:?}"
    );
}

// ---------------------------------------------------------------- chunks

#[test]
fn lenient_chunks_are_not_errors() {
    let text = ok_text(
        b"data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}],\"x-unknown\":{\"nested\":[1,2]}}\n\n\
          data: {\"choices\":[{\"delta\":null}]}\n\n\
          data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":\"\"}]}\n\n\
          data: {\"choices\":[{\"delta\":{\"content\":\"  \"}}]}\n\n\
          data: {\"choices\":[{\"delta\":{\"content\":null}}]}\n\n\
          data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"total_tokens\":3}}\n\n\
          data: [DONE]\n\n",
    );
    assert_eq!(text, "a  ", "whitespace-only content is yielded unchanged");
}

#[test]
fn finish_reason_empty_string_is_no_finish_reason() {
    let (_, err) = error_of(
        b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":\"\"}]}\n\n",
    );
    assert_eq!(err.kind(), ErrorKind::Truncated);
}

#[test]
fn invalid_json_is_a_protocol_error_in_the_api_flavor() {
    let (text, err) = error_of(
        b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {not json\n\ndata: [DONE]\n\n",
    );
    assert_eq!(text, "a");
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.message().contains("{not json"), "{}", err.message());
}

#[test]
fn invalid_json_is_skipped_and_counted_in_the_web_demo_flavor() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse()
            .chunk(b"data: {bad\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: [1,\n\ndata: [DONE]\n\n")
            .end_chunks();
    });
    let client = ClientBuilder::new()
        .base_url(server.base())
        .flavor(Flavor::WebDemo)
        .build()
        .unwrap();
    let mut stream = client.stream(&hello()).unwrap();
    assert_eq!(stream.next_token().unwrap().unwrap(), "a");
    assert!(stream.next_token().is_none());
    assert_eq!(stream.skipped_chunks(), 2);
}

#[test]
fn invalid_utf8_is_an_error_in_both_flavors() {
    for flavor in [Flavor::Api, Flavor::WebDemo] {
        let server = Server::start(|conn: &mut Conn| {
            conn.start_sse()
                .chunk(b"data: {\"choices\":[{\"delta\":{\"content\":\"ok\"}}]}\n\n")
                .chunk(b"data: {\"choices\":[{\"delta\":{\"content\":\"\xff\xfe\"}}]}\n\ndata: [DONE]\n\n")
                .end_chunks();
        });
        let client = ClientBuilder::new()
            .base_url(server.base())
            .flavor(flavor)
            .build()
            .unwrap();
        let (text, err) = drain(client.stream(&hello()).unwrap());
        assert_eq!(text, "ok");
        let err = err.unwrap();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{flavor:?}");
        assert!(err.message().contains("UTF-8"));
    }
}

// ---------------------------------------------------------------- in-band errors

#[test]
fn in_band_errors_carry_the_servers_message() {
    let cases: [(&'static [u8], &str); 4] = [
        (
            b"data: {\"error\":{\"message\":\"model overloaded\",\"type\":\"server_error\",\"code\":503}}\n\n",
            "model overloaded",
        ),
        (
            b"event: error\ndata: {\"message\":\"quota gone\"}\n\n",
            "quota gone",
        ),
        (b"event: error\ndata: plain words\n\n", "plain words"),
        (
            b"data: {\"type\":\"error\",\"message\":\"typed failure\"}\n\n",
            "typed failure",
        ),
    ];
    for (error_event, message) in cases {
        let server = Server::start(move |conn: &mut Conn| {
            conn.start_sse()
                .sse_data(&chunk_json("partial"))
                .chunk(error_event)
                .end_chunks();
        });
        let (text, err) = drain(client(&server).stream(&hello()).unwrap());
        assert_eq!(text, "partial");
        let err = err.unwrap();
        assert_eq!(err.kind(), ErrorKind::Api);
        assert_eq!(err.message(), message);
    }
}

#[test]
fn in_band_error_details_are_kept() {
    let (_, err) = error_of(
        b"data: {\"error\":{\"message\":\"m\",\"type\":\"t\",\"code\":\"c\",\"param\":\"p\"}}\n\n",
    );
    assert_eq!(
        (err.api_type(), err.api_code(), err.api_param()),
        (Some("t"), Some("c"), Some("p"))
    );
}

// ---------------------------------------------------------------- HTTP errors

fn http_error(
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: &'static str,
) -> Error {
    let server = Server::start(move |conn: &mut Conn| {
        conn.respond(status, headers, body.as_bytes());
    });
    client(&server).stream(&hello()).unwrap_err()
}

#[test]
fn http_errors_report_the_servers_own_words() {
    let err = http_error(
        401,
        &[
            ("content-type", "application/json"),
            ("x-request-id", "req-42"),
        ],
        r#"{"error":{"message":"Invalid API key","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#,
    );
    assert_eq!(err.kind(), ErrorKind::Http);
    assert_eq!(err.http_status(), Some(401));
    assert_eq!(err.message(), "HTTP 401: Invalid API key");
    assert_eq!(err.api_type(), Some("invalid_request_error"));
    assert_eq!(err.api_code(), Some("invalid_api_key"));
    assert_eq!(err.request_id(), Some("req-42"));

    let err = http_error(400, &[], r#"{"error":{"message":"bad","code":400}}"#);
    assert_eq!(err.api_code(), Some("400"), "numeric codes become text");

    let err = http_error(
        422,
        &[],
        r#"{"detail":[{"loc":["body","messages"],"msg":"field required"}]}"#,
    );
    assert_eq!(
        err.message(),
        r#"HTTP 422: field required (at ["body","messages"])"#
    );

    let err = http_error(404, &[], r#"{"message":"no such model"}"#);
    assert_eq!(err.message(), "HTTP 404: no such model");

    let err = http_error(
        502,
        &[("content-type", "text/html")],
        "<html><title>502 Bad Gateway</title><body>nginx</body></html>",
    );
    assert_eq!(err.message(), "HTTP 502: 502 Bad Gateway");

    let err = http_error(403, &[], "");
    assert_eq!(err.message(), "HTTP 403 Forbidden");
}

#[test]
fn a_huge_error_body_is_a_limit_error_read_only_up_to_the_limit() {
    let server = Server::start(|conn: &mut Conn| {
        conn.send_head(500, &[("content-length", "1073741824")]);
        let block = vec![b'x'; 1 << 16];
        for _ in 0..(1 << 14) {
            conn.write_raw(&block);
            if conn.client_gone() {
                conn.note("client left");
                return;
            }
        }
    });
    let err = client(&server).stream(&hello()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Limit);
    assert_eq!(err.http_status(), Some(500));
    assert!(server.wait_for_note("client left", secs(20)));
}

// ---------------------------------------------------------------- limits

#[test]
fn a_64_mib_line_is_a_limit_error_with_bounded_memory() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse()
            .sse_data(&chunk_json("ok"))
            .chunk(b"data: ");
        let block = vec![b'a'; 1 << 20];
        for _ in 0..64 {
            conn.chunk(&block);
            if conn.client_gone() {
                return;
            }
        }
        conn.chunk(b"\n\n").done().end_chunks();
    });
    let client = ClientBuilder::new()
        .base_url(server.base())
        .limits(Limits::default().with_max_line(1 << 20))
        .build()
        .unwrap();
    let (text, err) = drain(client.stream(&hello()).unwrap());
    assert_eq!(text, "ok");
    let err = err.unwrap();
    assert_eq!(err.kind(), ErrorKind::Limit);
    assert!(err.message().contains("line"), "{}", err.message());
}

#[test]
fn an_endless_event_is_a_limit_error() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse();
        let lines =
            "data: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n".repeat(1000);
        for _ in 0..1000 {
            conn.chunk(lines.as_bytes());
            if conn.client_gone() {
                return;
            }
        }
    });
    let client = ClientBuilder::new()
        .base_url(server.base())
        .limits(Limits::default().with_max_event(1 << 20))
        .build()
        .unwrap();
    let (_, err) = drain(client.stream(&hello()).unwrap());
    let err = err.unwrap();
    assert_eq!(err.kind(), ErrorKind::Limit);
    assert!(err.message().contains("event"), "{}", err.message());
}

// ---------------------------------------------------------------- connect

#[test]
fn a_refused_port_is_a_connect_error() {
    let client = ClientBuilder::new()
        .base_url(format!("http://127.0.0.1:{}/v1", refused_port()))
        .max_retries(0)
        .build()
        .unwrap();
    let err = client.stream(&hello()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Connect, "{err:?}");
    assert_eq!(err.attempts(), 1);
}

// ---------------------------------------------------------------- responses that are not SSE

#[test]
fn a_server_that_ignores_stream_answers_json_and_that_works() {
    let server = Server::start(serve_json(
        200,
        r#"{"id":"c1","object":"chat.completion","model":"m1","choices":[{"index":0,"message":{"role":"assistant","content":"whole answer","reasoning_content":"thought"},"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":3,"total_tokens":5}}"#,
    ));
    let mut stream = client(&server).stream(&hello()).unwrap();
    let mut events = Vec::new();
    while let Some(event) = stream.next_delta() {
        events.push(event.unwrap());
    }
    assert_eq!(events[0], Delta::Reasoning("thought".into()));
    assert_eq!(events[1], Delta::Content("whole answer".into()));
    assert_eq!(events[2], Delta::Finish("stop".into()));
    assert!(matches!(events[3], Delta::Usage(u) if u.total_tokens == 5));
    assert_eq!(stream.model(), Some("m1"));
}

#[test]
fn an_unexpected_content_type_is_a_protocol_error_naming_it() {
    let server = Server::start(|conn: &mut Conn| {
        conn.respond(
            200,
            &[("content-type", "text/plain")],
            b"Hello, I am not a stream",
        );
    });
    let err = client(&server).stream(&hello()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.message().contains("text/plain"), "{}", err.message());
}

#[test]
fn a_mislabelled_event_stream_is_still_read() {
    let server = Server::start(|conn: &mut Conn| {
        let body = format!("data: {}\n\ndata: [DONE]\n\n", chunk_json("sniffed"));
        conn.respond(200, &[("content-type", "text/plain")], body.as_bytes());
    });
    assert_eq!(
        drain(client(&server).stream(&hello()).unwrap()).0,
        "sniffed"
    );
}

#[test]
fn sniffing_a_mislabelled_stream_does_not_hold_back_the_first_token() {
    let server = Server::start(|conn: &mut Conn| {
        conn.send_head(
            200,
            &[
                ("content-type", "text/plain"),
                ("transfer-encoding", "chunked"),
            ],
        );
        conn.sse_data(&chunk_json("first")).stall();
    });
    let client = ClientBuilder::new()
        .base_url(server.base())
        .idle_timeout(Some(secs(3)))
        .build()
        .unwrap();
    let mut stream = client.stream(&hello()).unwrap();
    // Had the sniffing waited for more bytes, the idle timeout would come first.
    assert_eq!(stream.next_token().unwrap().unwrap(), "first");
}

// ---------------------------------------------------------------- servers people run

/// Streams the given SSE body verbatim (chunked) and returns tokens, finish, usage.
fn dialect(body: String) -> (String, Option<String>, Option<upstage::Usage>) {
    let server = Server::start(move |conn: &mut Conn| {
        conn.start_sse().chunk(body.as_bytes()).end_chunks();
    });
    let mut stream = client(&server).stream(&hello()).unwrap();
    let mut text = String::new();
    while let Some(token) = stream.next_token() {
        text.push_str(token.unwrap());
    }
    (
        text,
        stream.finish_reason().map(str::to_owned),
        stream.usage(),
    )
}

fn events(lines: &[Value]) -> String {
    lines
        .iter()
        .map(|v| format!("data: {v}\n\n"))
        .collect::<String>()
}

#[test]
fn vllm_shape_role_chunk_then_usage_in_a_choices_empty_chunk() {
    let mut body = events(&[
        json!({"id":"x","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}),
        json!({"id":"x","choices":[{"index":0,"delta":{"content":"Hi"},"logprobs":null,"finish_reason":null}]}),
        json!({"id":"x","choices":[{"index":0,"delta":{"content":""},"logprobs":null,"finish_reason":"stop","stop_reason":null}]}),
        json!({"id":"x","choices":[],"usage":{"prompt_tokens":5,"total_tokens":6,"completion_tokens":1}}),
    ]);
    body.push_str("data: [DONE]\n\n");
    let (text, finish, usage) = dialect(body);
    assert_eq!((text.as_str(), finish.as_deref()), ("Hi", Some("stop")));
    assert_eq!(usage.unwrap().total_tokens, 6);
}

#[test]
fn llama_cpp_shape_usage_in_the_finish_chunk_and_escaped_utf8() {
    let mut body = events(&[
        json!({"choices":[{"finish_reason":null,"index":0,"delta":{"role":"assistant","content":null}}],"created":1,"id":"c","model":"gpt-3.5-turbo","object":"chat.completion.chunk"}),
        json!({"choices":[{"finish_reason":null,"index":0,"delta":{"content":"caf\u{e9}"}}],"object":"chat.completion.chunk"}),
        json!({"choices":[{"finish_reason":"stop","index":0,"delta":{}}],"usage":{"completion_tokens":1,"prompt_tokens":2,"total_tokens":3},"timings":{"predicted_ms":1.5}}),
    ]);
    body = body.replace("café", "caf\\u00e9");
    body.push_str("data: [DONE]\n\n");
    let (text, finish, usage) = dialect(body);
    assert_eq!((text.as_str(), finish.as_deref()), ("café", Some("stop")));
    assert_eq!(usage.unwrap().prompt_tokens, 2);
}

#[test]
fn ollama_shape_finish_in_the_last_content_chunk() {
    let mut body = events(&[
        json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"llama3","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}),
        json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"llama3","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"lo"},"finish_reason":"stop"}]}),
    ]);
    body.push_str("data: [DONE]\n\n");
    let (text, finish, _) = dialect(body);
    assert_eq!((text.as_str(), finish.as_deref()), ("Hello", Some("stop")));
}

#[test]
fn litellm_and_upstage_shape_usage_with_choices_delta_empty() {
    let mut body = events(&[
        json!({"id":"u","object":"chat.completion.chunk","created":1,"model":"solar-pro4","system_fingerprint":null,"choices":[{"index":0,"delta":{"role":"assistant","content":"Sol"},"logprobs":null,"finish_reason":null}]}),
        json!({"id":"u","object":"chat.completion.chunk","created":1,"model":"solar-pro4","choices":[{"index":0,"delta":{"content":"ar"},"logprobs":null,"finish_reason":"stop"}]}),
        json!({"id":"u","object":"chat.completion.chunk","created":1,"model":"solar-pro4","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":null}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11,"completion_tokens_details":{"reasoning_tokens":0}}}),
    ]);
    body.push_str("data: [DONE]\n\n");
    let (text, finish, usage) = dialect(body);
    assert_eq!((text.as_str(), finish.as_deref()), ("Solar", Some("stop")));
    assert_eq!(usage.unwrap().reasoning_tokens, Some(0));
}

#[test]
fn transformers_serve_shape_no_done() {
    let body = events(&[
        json!({"id":"t","choices":[{"delta":{"role":"assistant","content":"ok"},"index":0}],"created":1,"model":"Qwen","object":"chat.completion.chunk","system_fingerprint":""}),
        json!({"id":"t","choices":[{"delta":{},"finish_reason":"stop","index":0}],"created":1,"model":"Qwen","object":"chat.completion.chunk","system_fingerprint":""}),
    ]);
    let (text, finish, _) = dialect(body);
    assert_eq!((text.as_str(), finish.as_deref()), ("ok", Some("stop")));
}

// ---------------------------------------------------------------- the stream's other facts

#[test]
fn request_id_model_and_id_are_reported() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse_with(&[("x-request-id", "rid-7")]);
        conn.sse_data(&chunk_json("a"))
            .sse_data(&finish_json("stop"))
            .done()
            .end_chunks();
    });
    let mut stream = client(&server).stream(&hello()).unwrap();
    while stream.next_token().is_some() {}
    assert_eq!(stream.request_id(), Some("rid-7"));
    assert_eq!(stream.model(), Some(TEST_MODEL));
    assert_eq!(stream.id(), Some(TEST_ID));
    assert_eq!(stream.attempts(), 1);
}

#[test]
fn the_iterator_yields_owned_tokens_and_fuses_after_an_error() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse()
            .sse_data(&chunk_json("a"))
            .sse_data(&chunk_json("b"))
            .end_chunks();
    });
    let mut stream = client(&server).stream(&hello()).unwrap();
    assert_eq!(stream.next().unwrap().unwrap(), "a");
    assert_eq!(stream.next().unwrap().unwrap(), "b");
    assert_eq!(
        stream.next().unwrap().unwrap_err().kind(),
        ErrorKind::Truncated
    );
    assert!(stream.next().is_none());
}

#[test]
fn from_reader_needs_no_server() {
    let body = format!(
        "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
        chunk_json("off"),
        chunk_json("line")
    );
    let stream = ChatStream::from_reader(
        std::io::Cursor::new(body.into_bytes()),
        Flavor::Api,
        Limits::default(),
    );
    let tokens: Vec<String> = stream.collect::<Result<_, _>>().unwrap();
    assert_eq!(tokens, ["off", "line"]);
}

#[test]
fn one_client_is_shared_by_many_threads() {
    let server = Server::start(serve_tokens(&["shared", " ", "client"]));
    let client = client(&server);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let client = client.clone();
            std::thread::spawn(move || drain(client.stream(&hello()).unwrap()).0)
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap(), "shared client");
    }
}

// ---------------------------------------------------------------- retries before the first token

fn retrying_client(server: &Server, retries: u32) -> Client {
    ClientBuilder::new()
        .base_url(server.base())
        .max_retries(retries)
        .build()
        .unwrap()
}

/// A 200 whose body dies before any content: reset right after the headers, or after a
/// role chunk that hands nothing to the caller.
fn dies_early(role_first: bool) -> impl Fn(&mut Conn) + Send + Sync + 'static {
    move |conn: &mut Conn| {
        conn.start_sse();
        if role_first {
            conn.sse_data(&role_json());
        }
        conn.reset();
    }
}

#[test]
fn a_stream_that_dies_before_its_first_token_is_sent_again() {
    for role_first in [false, true] {
        let server = Server::start(fail_then(1, dies_early(role_first), serve_tokens(&["ok"])));
        let mut stream = retrying_client(&server, 2).stream(&hello()).unwrap();
        assert_eq!(stream.next_token().unwrap().unwrap(), "ok");
        assert!(stream.next_token().is_none());
        assert_eq!(stream.attempts(), 2);
        assert_eq!(server.request_count(), 2);
    }
}

#[test]
fn events_are_retried_before_the_first_delta_too() {
    let server = Server::start(fail_then(2, dies_early(true), serve_tokens(&["x"])));
    let mut stream = retrying_client(&server, 2).stream(&hello()).unwrap();
    assert_eq!(
        stream.next_delta().unwrap().unwrap(),
        Delta::Content("x".into())
    );
    assert_eq!(stream.attempts(), 3);
}

#[test]
fn the_retry_budget_covers_early_deaths_and_then_reports_them() {
    let server = Server::start(dies_early(false));
    let mut stream = retrying_client(&server, 1).stream(&hello()).unwrap();
    let err = stream.next_token().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Truncated);
    assert_eq!(err.attempts(), 2);
    assert_eq!(server.request_count(), 2);
    let server = Server::start(dies_early(false));
    let err = retrying_client(&server, 0)
        .stream(&hello())
        .unwrap()
        .next_token()
        .unwrap()
        .unwrap_err();
    assert_eq!((err.kind(), err.attempts()), (ErrorKind::Truncated, 1));
}

#[test]
fn nothing_is_sent_again_once_a_token_was_handed_out() {
    let server = Server::start(|conn: &mut Conn| {
        conn.start_sse().sse_data(&chunk_json("seen")).reset();
    });
    let (text, err) = drain(retrying_client(&server, 2).stream(&hello()).unwrap());
    assert_eq!(text, "seen");
    assert_eq!(err.unwrap().kind(), ErrorKind::Truncated);
    assert_eq!(server.request_count(), 1);
}

#[test]
fn a_stream_sent_again_can_still_be_cancelled() {
    let server = Server::start(fail_then(1, dies_early(false), |conn: &mut Conn| {
        conn.start_sse().sse_data(&role_json()).stall();
    }));
    let mut stream = retrying_client(&server, 2).stream(&hello()).unwrap();
    let cancel = stream.cancel_handle();
    let started = std::time::Instant::now();
    let err = std::thread::scope(|scope| {
        scope.spawn(|| {
            // Cancel the second connection, blocked in a read, not the wait before it.
            assert!(server.wait_for_requests(2, secs(20)));
            std::thread::sleep(ms(100));
            cancel.cancel();
        });
        stream.next_token().unwrap().unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    // Generous: a cancel that could not reach the second socket would wait for the
    // server to give up (two minutes).
    assert!(
        started.elapsed() < secs(60),
        "the cancel did not interrupt the second read"
    );
    assert_eq!(server.request_count(), 2);
}
