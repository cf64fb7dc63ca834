/* The request and response surface through the C API: custom headers and query parameters,
   per-request overrides, response headers, rate limits, timings, error details, the log
   callback, recording and replay.
   argv[1]: the server's base URL; argv[2]: a scratch file for the recording. */
#include "check.h"

static const char *base;
static const char *record_path;

/* The log callback: counts lines and remembers whether a secret showed up. */
struct log_seen {
    int lines;
    int leaked;
};

static void on_log(void *userdata, const char *line) {
    struct log_seen *seen = (struct log_seen *)userdata;
    seen->lines++;
    if (strstr(line, "sk-c-secret") != NULL || strstr(line, "azure-c-secret") != NULL ||
        strstr(line, "req-c-secret") != NULL) {
        seen->leaked++;
        fprintf(stderr, "leaked: %s\n", line);
    }
}

static upstage_client *surface_client(void) {
    upstage_client_builder *b = upstage_client_builder_new();
    upstage_client *c = NULL;
    upstage_error e = check_blank_error();
    char url[512];
    snprintf(url, sizeof url, "%s?api-version=2024-10-21", base);
    CHECK_STATUS(upstage_client_builder_set_base_url(b, url), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_set_api_key(b, "sk-c-secret"), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_set_proxy(b, NULL), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_set_max_retries(b, 0), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_add_header(b, "X-Title", "from C"), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_add_header(b, "api-key", "azure-c-secret"), UPSTAGE_OK,
                 NULL);
    CHECK_STATUS(upstage_client_builder_add_query(b, "team", "a b"), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_set_debug_log(b, true), UPSTAGE_OK, NULL);
    /* Bad headers are refused at once and leave the builder as it was. */
    CHECK_STATUS(upstage_client_builder_add_header(b, "X-Bad", "a\r\nb: c"),
                 UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_add_header(b, "Host", "elsewhere"),
                 UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_add_header(NULL, "X-A", "b"), UPSTAGE_ERR_NULL_ARGUMENT,
                 NULL);
    CHECK_STATUS(upstage_client_builder_add_query(b, "", "x"), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_build(b, &c, &e), UPSTAGE_OK, &e);
    return c;
}

/* Stream "surface": the server echoes what it received as tokens; headers, rate limits,
   timings; the response is recorded. */
static void stream_with_everything(upstage_client *c, char *tokens, size_t cap) {
    upstage_request *r = check_request("surface", "hi");
    upstage_stream_options *o = upstage_stream_options_new();
    upstage_stream *s = NULL;
    upstage_error_details *d = (upstage_error_details *)1;
    upstage_error e = check_blank_error();
    const char *text;
    size_t len;
    int st;
    CHECK_STATUS(upstage_request_add_header(r, "X-Trace", "t-1"), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_request_add_header(r, "Authorization", "Bearer req-c-secret"), UPSTAGE_OK,
                 NULL);
    CHECK_STATUS(upstage_request_add_header(r, "Content-Length", "3"),
                 UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_add_query(r, "trace", "on"), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_request_set_timeout_ms(r, UPSTAGE_TIMEOUT_IDLE, 20000), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_request_set_timeout_ms(r, 9, 1), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_set_max_retries(r, 1), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_stream_options_set_record_path(o, record_path), UPSTAGE_OK, NULL);

    CHECK_STATUS(upstage_stream_open_with(c, r, o, &s, &e, &d), UPSTAGE_OK, &e);
    CHECK(d == NULL);
    tokens[0] = '\0';
    if (s != NULL) {
        upstage_headers *h = upstage_stream_headers(s);
        upstage_rate_limit limits;
        upstage_timings t;
        CHECK_STR(upstage_headers_get(h, "X-Request-Id"), "req-surface");
        CHECK(upstage_headers_get(h, "x-missing") == NULL);
        CHECK(upstage_headers_count(h) >= 5);
        CHECK(upstage_headers_name_at(h, 0) != NULL && upstage_headers_value_at(h, 0) != NULL);
        CHECK(upstage_headers_name_at(h, 1000) == NULL);
        CHECK_STATUS(upstage_headers_rate_limit(h, &limits), UPSTAGE_OK, NULL);
        CHECK(limits.limit_requests == 100 && limits.remaining_requests == 99);
        CHECK(limits.reset_requests_ms == 1500);
        CHECK(limits.limit_tokens == -1 && limits.remaining_tokens == 5000);
        CHECK(limits.reset_tokens_ms == 360000);
        upstage_headers_free(h);

        while ((st = upstage_stream_next(s, &text, &len, &e)) == UPSTAGE_OK) {
            strncat(tokens, text, cap - strlen(tokens) - 1);
        }
        CHECK_STATUS(st, UPSTAGE_DONE, &e);
        CHECK(upstage_stream_error_details(s) == NULL);
        CHECK_STATUS(upstage_stream_timings(s, &t), UPSTAGE_OK, NULL);
        CHECK(t.headers_ms >= 0 && t.first_content_ms >= t.headers_ms && t.end_ms >= t.first_content_ms);
        CHECK(t.first_reasoning_ms == -1);
        CHECK(t.content_tokens == 3 && t.bytes > 0);
    }
    /* The server saw the merged headers and the query string. */
    CHECK_STR(tokens, "/v1/chat/completions?api-version=2024-10-21&team=a%20b&trace=on|from C|t-1|"
                      "Bearer req-c-secret");
    upstage_stream_free(s);
    upstage_stream_options_free(o);
    upstage_request_free(r);
}

/* The recording replays to the same tokens, without a server. */
static void replay(upstage_client *c, const char *want) {
    upstage_stream *s = NULL;
    upstage_error e = check_blank_error();
    char tokens[512] = "";
    const char *text;
    size_t len;
    int st;
    upstage_headers *h;
    CHECK_STATUS(upstage_stream_replay(c, record_path, &s, &e, NULL), UPSTAGE_OK, &e);
    if (s == NULL) return;
    h = upstage_stream_headers(s);
    CHECK_STR(upstage_headers_get(h, "x-request-id"), "req-surface");
    CHECK(upstage_headers_get(h, "set-cookie") == NULL);
    upstage_headers_free(h);
    while ((st = upstage_stream_next(s, &text, &len, &e)) == UPSTAGE_OK) {
        strncat(tokens, text, sizeof tokens - strlen(tokens) - 1);
    }
    CHECK_STATUS(st, UPSTAGE_DONE, &e);
    CHECK_STR(tokens, want);
    upstage_stream_free(s);
    CHECK_STATUS(upstage_stream_replay(c, "/nonexistent/recording", &s, &e, NULL),
                 UPSTAGE_ERR_INVALID_ARGUMENT, &e);
}

/* A 429 with everything an error can carry. */
static void error_details(upstage_client *c) {
    upstage_request *r = check_request("http429-full", "hi");
    upstage_stream *s = NULL;
    upstage_error_details *d = NULL;
    upstage_error e = check_blank_error();
    upstage_headers *h;
    upstage_rate_limit limits;
    CHECK_STATUS(upstage_stream_open_with(c, r, NULL, &s, &e, &d), UPSTAGE_ERR_HTTP, &e);
    CHECK(s == NULL && d != NULL);
    if (d != NULL) {
        CHECK_STATUS(upstage_error_details_status(d), UPSTAGE_ERR_HTTP, NULL);
        CHECK(upstage_error_details_http_status(d) == 429);
        CHECK(strstr(upstage_error_details_message(d), "slow down") != NULL);
        CHECK_STR(upstage_error_details_request_id(d), "req-429");
        CHECK_STR(upstage_error_details_api_type(d), "rate_limit_error");
        CHECK_STR(upstage_error_details_api_code(d), "tpm");
        CHECK_STR(upstage_error_details_api_param(d), "model");
        CHECK(upstage_error_details_retry_after_ms(d) == 2500);
        CHECK(upstage_error_details_timeout_phase(d) == -1);
        CHECK(upstage_error_details_attempts(d) == 1);
        h = upstage_error_details_headers(d);
        CHECK(h != NULL);
        CHECK_STATUS(upstage_headers_rate_limit(h, &limits), UPSTAGE_OK, NULL);
        CHECK(limits.remaining_tokens == 0);
        upstage_headers_free(h);
    }
    upstage_error_details_free(d);
    upstage_request_free(r);

    /* A per-request headers timeout. */
    r = check_request("stall-headers", "hi");
    d = NULL;
    CHECK_STATUS(upstage_request_set_timeout_ms(r, UPSTAGE_TIMEOUT_HEADERS, 200), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_stream_open_with(c, r, NULL, &s, &e, &d), UPSTAGE_ERR_TIMEOUT, &e);
    CHECK(upstage_error_details_timeout_phase(d) == UPSTAGE_TIMEOUT_HEADERS);
    CHECK(upstage_error_details_headers(d) == NULL);
    CHECK(upstage_error_details_request_id(d) == NULL);
    CHECK(upstage_error_details_retry_after_ms(d) == -1);
    upstage_error_details_free(d);
    upstage_request_free(r);

    /* The error that ends a stream. */
    r = check_request("truncated", "hi");
    CHECK_STATUS(upstage_stream_open(c, r, &s, &e), UPSTAGE_OK, &e);
    if (s != NULL) {
        const char *text;
        size_t len;
        while (upstage_stream_next(s, &text, &len, &e) == UPSTAGE_OK) {}
        d = upstage_stream_error_details(s);
        CHECK_STATUS(upstage_error_details_status(d), UPSTAGE_ERR_TRUNCATED, NULL);
        upstage_error_details_free(d);
    }
    upstage_stream_free(s);
    upstage_request_free(r);

    /* NULL everywhere is harmless. */
    CHECK_STATUS(upstage_error_details_status(NULL), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK(upstage_error_details_message(NULL) == NULL);
    CHECK(upstage_error_details_attempts(NULL) == 0);
    CHECK(upstage_headers_get(NULL, "x") == NULL);
    CHECK(upstage_headers_count(NULL) == 0);
    upstage_error_details_free(NULL);
    upstage_headers_free(NULL);
    upstage_stream_options_free(NULL);
}

/* A completion carries its headers and timings too. */
static void completion(upstage_client *c) {
    upstage_request *r = check_request("complete-limits", "hi");
    upstage_completion *done = NULL;
    upstage_error e = check_blank_error();
    upstage_timings t;
    upstage_headers *h;
    CHECK_STATUS(upstage_chat_complete_with(c, r, NULL, &done, &e, NULL), UPSTAGE_OK, &e);
    if (done != NULL) {
        h = upstage_completion_headers(done);
        CHECK_STR(upstage_headers_get(h, "x-custom"), "yes");
        upstage_headers_free(h);
        CHECK_STATUS(upstage_completion_timings(done, &t), UPSTAGE_OK, NULL);
        CHECK(t.headers_ms >= 0 && t.end_ms >= t.headers_ms);
    }
    upstage_completion_free(done);
    upstage_request_free(r);
}

int main(int argc, char **argv) {
    struct log_seen seen = {0, 0};
    upstage_client *c;
    char tokens[512];
    if (argc < 3) return 2;
    base = argv[1];
    record_path = argv[2];
    upstage_log_set(on_log, &seen);
    c = surface_client();
    if (c == NULL) return 1;
    stream_with_everything(c, tokens, sizeof tokens);
    replay(c, tokens);
    error_details(c);
    completion(c);
    upstage_log_set(NULL, NULL);
    CHECK(seen.lines > 0);
    CHECK(seen.leaked == 0);
    upstage_client_free(c);
    return check_report("surface");
}
