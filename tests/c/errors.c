/* Every error kind through the C API, with its status, http_status and message.
   argv[1]: the server's base URL; argv[2]: a base URL whose port refuses connections. */
#include "check.h"

static const char *base;
static const char *refused;

/* Opening `model` fails with `status`/`http` and a message containing `part`. */
static void open_fails(upstage_client *c, const char *model, int status, int http,
                       const char *part) {
    upstage_request *r = check_request(model, "hi");
    upstage_stream *s = NULL;
    upstage_error e = check_blank_error();
    CHECK_STATUS(upstage_stream_open(c, r, &s, &e), status, &e);
    CHECK(s == NULL);
    CHECK_ERROR(e, status, http, part);
    upstage_stream_free(s);
    upstage_request_free(r);
}

/* Streaming `model` yields `tokens` tokens (-1: any number), then fails with `status`/`http`/`part`. */
static void stream_fails(upstage_client *c, const char *model, int tokens, int status, int http,
                         const char *part) {
    upstage_request *r = check_request(model, "hi");
    upstage_stream *s = NULL;
    upstage_error e = check_blank_error();
    const char *text;
    size_t len;
    int st, n = 0;
    CHECK_STATUS(upstage_stream_open(c, r, &s, &e), UPSTAGE_OK, &e);
    if (s != NULL) {
        while ((st = upstage_stream_next(s, &text, &len, &e)) == UPSTAGE_OK) n++;
        CHECK_STATUS(st, status, &e);
        CHECK(tokens < 0 || n == tokens);
        if (tokens >= 0 && n != tokens) fprintf(stderr, "    %s: %d tokens, want %d\n", model, n, tokens);
        CHECK_ERROR(e, status, http, part);
        /* After an error the stream is over. */
        CHECK_STATUS(upstage_stream_next(s, &text, &len, &e), UPSTAGE_DONE, &e);
    }
    upstage_stream_free(s);
    upstage_request_free(r);
}

/* The event path reports errors like the token path. */
static void events_fail(upstage_client *c, const char *model, int status, const char *part) {
    upstage_request *r = check_request(model, "hi");
    upstage_stream *s = NULL;
    upstage_error e = check_blank_error();
    upstage_event ev;
    int st;
    CHECK_STATUS(upstage_stream_open(c, r, &s, &e), UPSTAGE_OK, &e);
    if (s != NULL) {
        while ((st = upstage_stream_next_event(s, &ev, &e)) == UPSTAGE_OK) {}
        CHECK_STATUS(st, status, &e);
        CHECK_ERROR(e, status, 200, part);
        CHECK_STATUS(upstage_stream_next_event(s, &ev, &e), UPSTAGE_DONE, &e);
    }
    upstage_stream_free(s);
    upstage_request_free(r);
}

static int32_t count_cb(void *userdata, const char *text, size_t len) {
    (void)text;
    (void)len;
    ++*(int *)userdata;
    return UPSTAGE_CONTINUE;
}

static void test_http_errors(void) {
    upstage_client *c = check_client(base);
    open_fails(c, "http401", UPSTAGE_ERR_HTTP, 401, "Invalid API key provided");
    open_fails(c, "http429", UPSTAGE_ERR_HTTP, 429, "Rate limit reached");
    open_fails(c, "http500", UPSTAGE_ERR_HTTP, 500, "upstream exploded");
    open_fails(c, "html", UPSTAGE_ERR_PROTOCOL, 200, "text/html");
    upstage_client_free(c);
}

/* A server message longer than upstage_error.message: cut at a character boundary. */
static void test_long_message(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("http-long", "hi");
    upstage_stream *s = NULL;
    upstage_error e = check_blank_error();
    size_t len;
    CHECK_STATUS(upstage_stream_open(c, r, &s, &e), UPSTAGE_ERR_HTTP, &e);
    CHECK(e.http_status == 400);
    len = strlen(e.message);
    CHECK(len < sizeof e.message && len > 400);
    CHECK(check_utf8(e.message));
    CHECK(strstr(e.message, "\xc3\xa9\xc3\xa9\xc3\xa9") != NULL);
    upstage_request_free(r);
    upstage_client_free(c);
}

static void test_stream_errors(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("truncated", "hi");
    upstage_error e = check_blank_error();
    int n = 0;

    stream_fails(c, "truncated", 2, UPSTAGE_ERR_TRUNCATED, 200, "");
    /* A reset may discard the token if it arrives before the client read it. */
    stream_fails(c, "reset", -1, UPSTAGE_ERR_TRUNCATED, 200, "");
    stream_fails(c, "inband", 1, UPSTAGE_ERR_API, 200, "model overloaded");
    stream_fails(c, "event-error", 0, UPSTAGE_ERR_API, 200, "bad things");
    stream_fails(c, "badjson", 1, UPSTAGE_ERR_PROTOCOL, 200, "JSON");
    events_fail(c, "inband", UPSTAGE_ERR_API, "model overloaded");
    events_fail(c, "truncated", UPSTAGE_ERR_TRUNCATED, "");
    events_fail(c, "badjson", UPSTAGE_ERR_PROTOCOL, "JSON");

    /* The callback path reports the same error after the tokens it delivered. */
    CHECK_STATUS(upstage_chat_stream(c, r, count_cb, &n, &e), UPSTAGE_ERR_TRUNCATED, &e);
    CHECK(n == 2);
    CHECK(e.http_status == 200);

    upstage_request_free(r);
    upstage_client_free(c);
}

static void test_limit(void) {
    upstage_client_builder *b = upstage_client_builder_new();
    upstage_client *c = NULL;
    upstage_error e;
    upstage_client_builder_set_base_url(b, base);
    upstage_client_builder_set_proxy(b, NULL);
    upstage_client_builder_set_max_retries(b, 0);
    CHECK_STATUS(upstage_client_builder_set_limit(b, UPSTAGE_LIMIT_LINE, 1024), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_build(b, &c, &e), UPSTAGE_OK, &e);
    stream_fails(c, "limit", 1, UPSTAGE_ERR_LIMIT, 200, "1024");
    upstage_client_free(c);
}

/* The pull API keeps choice 0's tokens for snapshots: they count against
 * UPSTAGE_LIMIT_ASSEMBLED. The callback API keeps nothing, so the same stream passes. */
static void test_assembled_limit(void) {
    upstage_client_builder *b = upstage_client_builder_new();
    upstage_client *c = NULL;
    upstage_request *r = check_request("limit", "hi");
    upstage_error e;
    int n = 0;
    upstage_client_builder_set_base_url(b, base);
    upstage_client_builder_set_proxy(b, NULL);
    upstage_client_builder_set_max_retries(b, 0);
    CHECK_STATUS(upstage_client_builder_set_limit(b, UPSTAGE_LIMIT_ASSEMBLED, 4096), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_build(b, &c, &e), UPSTAGE_OK, &e);
    stream_fails(c, "limit", 1, UPSTAGE_ERR_LIMIT, 200, "4096");
    CHECK_STATUS(upstage_chat_stream(c, r, count_cb, &n, &e), UPSTAGE_OK, &e);
    CHECK(n == 2);
    upstage_request_free(r);
    upstage_client_free(c);
}

static void test_timeouts(void) {
    upstage_client_builder *b = upstage_client_builder_new();
    upstage_client *c = NULL;
    upstage_error e;
    upstage_client_builder_set_base_url(b, base);
    upstage_client_builder_set_proxy(b, NULL);
    upstage_client_builder_set_max_retries(b, 0);
    /* Generous enough for valgrind on a slow machine, short enough to keep the test fast. */
    upstage_client_builder_set_timeout_ms(b, UPSTAGE_TIMEOUT_IDLE, 1000);
    upstage_client_builder_set_timeout_ms(b, UPSTAGE_TIMEOUT_HEADERS, 1000);
    CHECK_STATUS(upstage_client_builder_build(b, &c, &e), UPSTAGE_OK, &e);
    stream_fails(c, "stall", 1, UPSTAGE_ERR_TIMEOUT, 200, "idle");
    open_fails(c, "stall-headers", UPSTAGE_ERR_TIMEOUT, 0, "headers");
    upstage_client_free(c);
}

static void test_total_timeout(void) {
    upstage_client_builder *b = upstage_client_builder_new();
    upstage_client *c = NULL;
    upstage_error e;
    upstage_client_builder_set_base_url(b, base);
    upstage_client_builder_set_proxy(b, NULL);
    upstage_client_builder_set_max_retries(b, 0);
    upstage_client_builder_set_timeout_ms(b, UPSTAGE_TIMEOUT_IDLE, 0); /* no idle limit */
    upstage_client_builder_set_timeout_ms(b, UPSTAGE_TIMEOUT_TOTAL, 2500);
    CHECK_STATUS(upstage_client_builder_build(b, &c, &e), UPSTAGE_OK, &e);
    stream_fails(c, "stall", 1, UPSTAGE_ERR_TIMEOUT, 200, "total");
    upstage_client_free(c);
}

static void test_connect_refused(void) {
    upstage_client *c = check_client(refused);
    open_fails(c, "utf8", UPSTAGE_ERR_CONNECT, 0, "");
    upstage_client_free(c);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s BASE_URL REFUSED_BASE_URL\n", argv[0]);
        return 2;
    }
    base = argv[1];
    refused = argv[2];
    test_http_errors();
    test_long_message();
    test_stream_errors();
    test_limit();
    test_assembled_limit();
    test_timeouts();
    test_total_timeout();
    test_connect_refused();
    return check_report("errors");
}
