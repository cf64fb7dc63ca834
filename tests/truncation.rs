//! How a stream that ends early is reported: a clean close without `[DONE]` or a finish
//! reason, a reset mid-stream and an incomplete chunked body are `Truncated` with the tokens
//! read so far; a finish reason followed by a clean close is a success.

mod support;

use support::*;
use upstage::ErrorKind;

#[test]
fn a_clean_close_without_done_or_finish_is_truncated() {
    let server = Server::start(Script::sse_close_delimited().token("cut").close().handler());
    let client = builder(&server).max_retries(0).build().unwrap();
    let (tokens, error, _) = run_stream(&client);
    assert_eq!(tokens, ["cut"]);
    assert_kind(&error, ErrorKind::Truncated);
    assert_released(&server);
}

#[test]
fn a_reset_mid_stream_is_truncated() {
    let server = Server::start(Script::sse().tokens(&["a", "b"]).reset().handler());
    let client = builder(&server).max_retries(0).build().unwrap();
    let (tokens, error, _) = run_stream(&client);
    assert_eq!(tokens, ["a", "b"]);
    assert_kind(&error, ErrorKind::Truncated);
    assert_released(&server);
}

#[test]
fn an_incomplete_chunked_body_is_truncated() {
    // The server closes in the middle of an HTTP chunk.
    let server = Server::start(
        Script::sse()
            .token("kept")
            .raw("40\r\ndata: {\"cho")
            .close()
            .handler(),
    );
    let client = builder(&server).max_retries(0).build().unwrap();
    let (tokens, error, _) = run_stream(&client);
    assert_eq!(tokens, ["kept"]);
    assert_kind(&error, ErrorKind::Truncated);
    assert_released(&server);
}

#[test]
fn a_finish_reason_then_a_clean_end_without_done_succeeds() {
    // Hugging Face `transformers serve` never sends [DONE].
    let server = Server::start(
        Script::sse()
            .tokens(&["no", " done"])
            .finish("stop")
            .end_chunks()
            .handler(),
    );
    let client = builder(&server).max_retries(0).build().unwrap();
    let (tokens, error, _) = run_stream(&client);
    assert!(error.is_none(), "{error:?}");
    assert_eq!(tokens, ["no", " done"]);
}
