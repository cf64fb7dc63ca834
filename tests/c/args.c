/* Argument checking, catalog, format_prompt, versions and statuses: no network. */
#include "check.h"

static const char BAD[] = "\xff\xfe bad utf-8";

static void test_version_and_statuses(void) {
    CHECK_STR(upstage_version(), UPSTAGE_VERSION_STRING);
    CHECK(UPSTAGE_VERSION_MAJOR >= 0 && UPSTAGE_VERSION_MINOR >= 0 && UPSTAGE_VERSION_PATCH >= 0);
    CHECK_STR(upstage_status_name(UPSTAGE_OK), "ok");
    CHECK_STR(upstage_status_name(UPSTAGE_DONE), "done");
    CHECK_STR(upstage_status_name(UPSTAGE_NOT_AVAILABLE), "not_available");
    CHECK_STR(upstage_status_name(UPSTAGE_ERR_NULL_ARGUMENT), "null_argument");
    CHECK_STR(upstage_status_name(UPSTAGE_ERR_INVALID_ARGUMENT), "invalid_argument");
    CHECK_STR(upstage_status_name(UPSTAGE_ERR_CONNECT), "connect");
    CHECK_STR(upstage_status_name(UPSTAGE_ERR_TIMEOUT), "timeout");
    CHECK_STR(upstage_status_name(UPSTAGE_ERR_HTTP), "http");
    CHECK_STR(upstage_status_name(UPSTAGE_ERR_API), "api");
    CHECK_STR(upstage_status_name(UPSTAGE_ERR_PROTOCOL), "protocol");
    CHECK_STR(upstage_status_name(UPSTAGE_ERR_TRUNCATED), "truncated");
    CHECK_STR(upstage_status_name(UPSTAGE_ERR_LIMIT), "limit");
    CHECK_STR(upstage_status_name(UPSTAGE_ERR_CANCELLED), "cancelled");
    CHECK_STR(upstage_status_name(UPSTAGE_ERR_IO), "io");
    CHECK_STR(upstage_status_name(UPSTAGE_ERR_PANIC), "panic");
    CHECK_STR(upstage_status_name(42), "unknown");
    CHECK_STR(upstage_status_name(-12), "unknown");
    /* The table of DESIGN.md, value by value. */
    CHECK(UPSTAGE_OK == 0 && UPSTAGE_DONE == 1);
    CHECK(UPSTAGE_ERR_NULL_ARGUMENT == -1 && UPSTAGE_ERR_INVALID_ARGUMENT == -2);
    CHECK(UPSTAGE_ERR_CONNECT == -3 && UPSTAGE_ERR_TIMEOUT == -4 && UPSTAGE_ERR_HTTP == -5);
    CHECK(UPSTAGE_ERR_API == -6 && UPSTAGE_ERR_PROTOCOL == -7 && UPSTAGE_ERR_TRUNCATED == -8);
    CHECK(UPSTAGE_ERR_LIMIT == -9 && UPSTAGE_ERR_CANCELLED == -10 && UPSTAGE_ERR_IO == -11);
    CHECK(UPSTAGE_ERR_PANIC == -100);
    CHECK(-UPSTAGE_ERR_PANIC == 100); /* the macros are parenthesized */
    CHECK(UPSTAGE_TIMEOUT_CONNECT == 0 && UPSTAGE_TIMEOUT_HEADERS == 1);
    CHECK(UPSTAGE_TIMEOUT_IDLE == 2 && UPSTAGE_TIMEOUT_TOTAL == 3);
    CHECK(sizeof(((upstage_error *)0)->message) == 512);
}

static void test_catalog(void) {
    CHECK(upstage_model_count() == 3);
    CHECK_STR(upstage_model_at(0), "upstage/solar-1-mini-chat");
    CHECK_STR(upstage_model_at(1), "upstage/solar-1-mini-chat-ja");
    CHECK_STR(upstage_model_at(2), "solar-pro");
    CHECK(upstage_model_at(3) == NULL);
    CHECK(upstage_model_at((size_t)-1) == NULL);
    CHECK_STR(upstage_resolve_model("solar-mini"), "upstage/solar-1-mini-chat-ja");
    CHECK_STR(upstage_resolve_model("upstage/solar-1-mini-chat"), "upstage/solar-1-mini-chat");
    CHECK_STR(upstage_resolve_model("solar-pro"), "solar-pro");
    CHECK_STR(upstage_resolve_model("SOLAR-PRO"), "solar-pro");
    CHECK_STR(upstage_resolve_model("gpt-4o"), "solar-pro");
    CHECK_STR(upstage_resolve_model(""), "solar-pro");
    CHECK_STR(upstage_resolve_model(NULL), "solar-pro");
    CHECK_STR(upstage_resolve_model(BAD), "solar-pro");
    /* Static storage: the same pointer every time. */
    CHECK(upstage_resolve_model("solar-pro") == upstage_model_at(2));
}

static void test_format_prompt(void) {
    const char *json = "[{\"role\":\"system\",\"content\":\"Be brief\"},"
                       "{\"role\":\"USER\",\"content\":\"Hi \xc3\xa9\xe4\xb8\x96\"}]";
    const char *want = "System: Be brief\nUser: Hi \xc3\xa9\xe4\xb8\x96\nAssistant:";
    size_t want_len = strlen(want);
    char buf[256];
    size_t len = 12345;
    upstage_error e = check_blank_error();

    /* Measure with no buffer at all. */
    CHECK_STATUS(upstage_format_prompt(json, NULL, 0, &len, &e), UPSTAGE_OK, &e);
    CHECK(len == want_len);
    CHECK(e.status == UPSTAGE_OK && e.http_status == 0 && e.message[0] == '\0');

    /* Too small (no room for the NUL): buf untouched, full length reported. */
    memset(buf, 'X', sizeof buf);
    len = 0;
    CHECK_STATUS(upstage_format_prompt(json, buf, want_len, &len, &e), UPSTAGE_OK, &e);
    CHECK(len == want_len);
    CHECK(buf[0] == 'X' && buf[want_len - 1] == 'X' && buf[want_len] == 'X');
    memset(buf, 'X', sizeof buf);
    CHECK_STATUS(upstage_format_prompt(json, buf, 1, &len, &e), UPSTAGE_OK, &e);
    CHECK(buf[0] == 'X');

    /* Exact: text plus NUL. */
    memset(buf, 'X', sizeof buf);
    len = 0;
    CHECK_STATUS(upstage_format_prompt(json, buf, want_len + 1, &len, &e), UPSTAGE_OK, &e);
    CHECK(len == want_len);
    CHECK_STR(buf, want);
    CHECK(buf[want_len + 1] == 'X');

    /* Large. */
    memset(buf, 'X', sizeof buf);
    CHECK_STATUS(upstage_format_prompt(json, buf, sizeof buf, &len, &e), UPSTAGE_OK, &e);
    CHECK_STR(buf, want);

    /* One message: its content alone. */
    CHECK_STATUS(upstage_format_prompt("[{\"role\":\"user\",\"content\":\"Hello\"}]", buf,
                                       sizeof buf, &len, &e), UPSTAGE_OK, &e);
    CHECK_STR(buf, "Hello");
    CHECK(len == 5);

    /* Errors: out_len untouched. */
    len = 777;
    CHECK_STATUS(upstage_format_prompt("[]", buf, sizeof buf, &len, &e),
                 UPSTAGE_ERR_INVALID_ARGUMENT, &e);
    CHECK(len == 777);
    CHECK(e.status == UPSTAGE_ERR_INVALID_ARGUMENT && e.message[0] != '\0');
    CHECK_STATUS(upstage_format_prompt("[{", buf, sizeof buf, &len, &e),
                 UPSTAGE_ERR_INVALID_ARGUMENT, &e);
    CHECK_STATUS(upstage_format_prompt("{}", buf, sizeof buf, &len, &e),
                 UPSTAGE_ERR_INVALID_ARGUMENT, &e);
    CHECK_STATUS(upstage_format_prompt(BAD, buf, sizeof buf, &len, &e),
                 UPSTAGE_ERR_INVALID_ARGUMENT, &e);
    CHECK(strstr(e.message, "UTF-8") != NULL);
    CHECK_STATUS(upstage_format_prompt(NULL, buf, sizeof buf, &len, &e),
                 UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_format_prompt(json, NULL, 10, &len, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_format_prompt(json, buf, sizeof buf, NULL, &e),
                 UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK(len == 777);
    /* err may be NULL. */
    CHECK_STATUS(upstage_format_prompt(json, buf, sizeof buf, &len, NULL), UPSTAGE_OK, NULL);
}

static void test_builder(void) {
    upstage_client_builder *b;
    upstage_client *c = (upstage_client *)&c; /* a sentinel: must stay untouched on errors */
    upstage_client *sentinel = c;
    upstage_error e = check_blank_error();

    /* NULL builder for every setter. */
    CHECK_STATUS(upstage_client_builder_set_api_key(NULL, "k"), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_base_url(NULL, "http://x"), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_web_demo(NULL, true), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_proxy(NULL, NULL), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_timeout_ms(NULL, 0, 1), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_max_retries(NULL, 1), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_default_model(NULL, "m"), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_ca_file(NULL, "/x"), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_limit(NULL, 0, 1), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_connection_reuse(NULL, 1), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_max_idle_connections(NULL, 1), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_pool_idle_timeout_ms(NULL, 1), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_build(NULL, &c, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK(c == sentinel);
    CHECK(e.status == UPSTAGE_ERR_NULL_ARGUMENT && e.http_status == 0);
    upstage_client_builder_free(NULL);
    upstage_client_free(NULL);

    b = upstage_client_builder_new();
    CHECK(b != NULL);
    /* NULL strings. */
    CHECK_STATUS(upstage_client_builder_set_api_key(b, NULL), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_base_url(b, NULL), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_default_model(b, NULL), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_ca_file(b, NULL), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    /* Invalid UTF-8. */
    CHECK_STATUS(upstage_client_builder_set_api_key(b, BAD), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_base_url(b, BAD), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_default_model(b, BAD), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_ca_file(b, BAD), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_proxy(b, BAD), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    /* Bad option values. */
    CHECK_STATUS(upstage_client_builder_set_timeout_ms(b, 4, 1), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_timeout_ms(b, -1, 1), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_limit(b, 4, 1), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_limit(b, UPSTAGE_LIMIT_LINE, 0), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_client_builder_set_pool_idle_timeout_ms(b, 0), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    /* Good values. */
    CHECK_STATUS(upstage_client_builder_set_connection_reuse(b, 0), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_set_connection_reuse(b, 1), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_set_max_idle_connections(b, 8), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_set_pool_idle_timeout_ms(b, 5000), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_set_timeout_ms(b, UPSTAGE_TIMEOUT_TOTAL, 0), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_set_limit(b, UPSTAGE_LIMIT_EVENT, 1 << 20), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_set_limit(b, UPSTAGE_LIMIT_ASSEMBLED, 1 << 20), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_set_web_demo(b, false), UPSTAGE_OK, NULL);
    /* build with out NULL still consumes the builder (valgrind checks it is freed). */
    CHECK_STATUS(upstage_client_builder_build(b, NULL, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);

    /* The official API without a key: a clear error, builder consumed, out untouched. */
    b = upstage_client_builder_new();
    CHECK_STATUS(upstage_client_builder_build(b, &c, &e), UPSTAGE_ERR_INVALID_ARGUMENT, &e);
    CHECK(c == sentinel);
    CHECK(strstr(e.message, "API key") != NULL);

    /* A bad base URL. */
    b = upstage_client_builder_new();
    upstage_client_builder_set_base_url(b, "not a url");
    CHECK_STATUS(upstage_client_builder_build(b, &c, &e), UPSTAGE_ERR_INVALID_ARGUMENT, &e);
    CHECK(c == sentinel);

    /* A missing CA file. */
    b = upstage_client_builder_new();
    upstage_client_builder_set_base_url(b, "https://127.0.0.1:1/v1");
    upstage_client_builder_set_ca_file(b, "/nonexistent/ca.pem");
    CHECK_STATUS(upstage_client_builder_build(b, &c, &e), UPSTAGE_ERR_INVALID_ARGUMENT, &e);
    CHECK(c == sentinel);

    /* The web demo needs no key. */
    b = upstage_client_builder_new();
    upstage_client_builder_set_web_demo(b, true);
    c = NULL;
    CHECK_STATUS(upstage_client_builder_build(b, &c, &e), UPSTAGE_OK, &e);
    CHECK(c != NULL);
    CHECK(e.status == UPSTAGE_OK && e.message[0] == '\0');
    upstage_client_free(c);

    /* Abandon a configured builder. */
    b = upstage_client_builder_new();
    upstage_client_builder_set_api_key(b, "secret");
    upstage_client_builder_free(b);
}

static void test_request(void) {
    upstage_request *r, *out = (upstage_request *)&out;
    upstage_request *sentinel = out;
    upstage_error e = check_blank_error();

    CHECK(upstage_request_new(BAD) == NULL);
    r = upstage_request_new(NULL);
    CHECK(r != NULL);
    upstage_request_free(r);
    r = upstage_request_new("");
    CHECK(r != NULL);
    upstage_request_free(r);
    upstage_request_free(NULL);

    r = upstage_request_new("solar-pro4");
    CHECK_STATUS(upstage_request_add_message(NULL, "user", "x"), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_add_message(r, NULL, "x"), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_add_message(r, "user", NULL), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_add_message(r, BAD, "x"), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_add_message(r, "user", BAD), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_add_message(r, "", "x"), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_add_message(r, "user", "hi"), UPSTAGE_OK, NULL);

    CHECK_STATUS(upstage_request_set_param(NULL, "temperature", "0.2"), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_set_param(r, NULL, "0.2"), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_set_param(r, "temperature", NULL), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_set_param(r, BAD, "1"), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_set_param(r, "stop", BAD), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_set_param(r, "temperature", "0.2x"), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_set_param(r, "temperature", ""), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_set_param(r, "messages", "5"), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_set_param(r, "model", "5"), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_set_param(r, "temperature", "0.2"), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_request_set_param(r, "stop", "[\"\\n\"]"), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_request_set_param(r, "stream", "false"), UPSTAGE_OK, NULL);
    upstage_request_free(r);

    /* from_json */
    CHECK_STATUS(upstage_request_from_json(NULL, &out, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK(out == sentinel);
    CHECK_STATUS(upstage_request_from_json("{\"messages\":[]}", NULL, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_request_from_json(BAD, &out, &e), UPSTAGE_ERR_INVALID_ARGUMENT, &e);
    CHECK_STATUS(upstage_request_from_json("{", &out, &e), UPSTAGE_ERR_INVALID_ARGUMENT, &e);
    CHECK(strstr(e.message, "JSON") != NULL);
    CHECK_STATUS(upstage_request_from_json("[]", &out, &e), UPSTAGE_ERR_INVALID_ARGUMENT, &e);
    CHECK_STATUS(upstage_request_from_json("{\"model\":\"m\"}", &out, &e), UPSTAGE_ERR_INVALID_ARGUMENT, &e);
    CHECK(strstr(e.message, "messages") != NULL);
    CHECK_STATUS(upstage_request_from_json("{\"messages\":{}}", &out, &e), UPSTAGE_ERR_INVALID_ARGUMENT, &e);
    CHECK_STATUS(upstage_request_from_json("{\"messages\":[],\"model\":5}", &out, &e), UPSTAGE_ERR_INVALID_ARGUMENT, &e);
    CHECK(out == sentinel);
    CHECK_STATUS(upstage_request_from_json(
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"temperature\":0}",
        &out, &e), UPSTAGE_OK, &e);
    CHECK(out != sentinel && out != NULL);
    upstage_request_free(out);
}

static int32_t never_called(void *userdata, const char *text, size_t len) {
    (void)userdata; (void)text; (void)len;
    return UPSTAGE_STOP;
}

static void test_network_functions_without_network(void) {
    upstage_client *c = check_client("http://127.0.0.1:1/v1");
    upstage_request *r = check_request("m", "hi");
    upstage_request *empty = upstage_request_new("m");
    upstage_stream *s = (upstage_stream *)&s, *sentinel = s;
    upstage_completion *done = (upstage_completion *)&done, *done_sentinel = done;
    upstage_cancel_token *t = upstage_cancel_token_new();
    upstage_error e = check_blank_error();
    upstage_usage u;
    const char *text = NULL;
    size_t len = 0;
    upstage_event ev;

    CHECK(c != NULL && r != NULL && empty != NULL && t != NULL);

    CHECK_STATUS(upstage_stream_open(NULL, r, &s, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_stream_open(c, NULL, &s, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_stream_open(c, r, NULL, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_stream_open_cancellable(NULL, r, t, &s, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_stream_open_cancellable(c, NULL, t, &s, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_stream_open_cancellable(c, r, NULL, &s, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_stream_open_cancellable(c, r, t, NULL, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK(s == sentinel);
    /* Empty messages: an error before any I/O (the port is closed anyway). */
    CHECK_STATUS(upstage_stream_open(c, empty, &s, &e), UPSTAGE_ERR_INVALID_ARGUMENT, &e);
    CHECK(s == sentinel);

    CHECK_STATUS(upstage_stream_next(NULL, &text, &len, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK(text == NULL && len == 0);
    CHECK_STATUS(upstage_stream_next_event(NULL, &ev, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_stream_cancel(NULL), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK(upstage_stream_finish_reason(NULL) == NULL);
    CHECK(upstage_stream_model(NULL) == NULL);
    CHECK(upstage_stream_request_id(NULL) == NULL);
    CHECK_STATUS(upstage_stream_usage(NULL, &u), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    upstage_stream_free(NULL);

    CHECK_STATUS(upstage_chat_stream(NULL, r, never_called, NULL, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_chat_stream(c, NULL, never_called, NULL, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_chat_stream(c, r, NULL, NULL, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_chat_stream(c, empty, never_called, NULL, &e), UPSTAGE_ERR_INVALID_ARGUMENT, &e);

    CHECK_STATUS(upstage_chat_complete(NULL, r, &done, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_chat_complete(c, NULL, &done, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_chat_complete(c, r, NULL, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_chat_complete(c, empty, &done, &e), UPSTAGE_ERR_INVALID_ARGUMENT, &e);
    CHECK_STATUS(upstage_chat_complete_cancellable(NULL, r, t, &done, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_chat_complete_cancellable(c, NULL, t, &done, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_chat_complete_cancellable(c, r, NULL, &done, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_chat_complete_cancellable(c, r, t, NULL, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK(done == done_sentinel);

    CHECK(upstage_completion_content(NULL, &len) == NULL);
    CHECK(upstage_completion_reasoning(NULL, &len) == NULL);
    CHECK(upstage_completion_refusal(NULL, &len) == NULL);
    CHECK(upstage_completion_finish_reason(NULL) == NULL);
    CHECK(upstage_completion_model(NULL) == NULL);
    CHECK(upstage_completion_id(NULL) == NULL);
    CHECK(upstage_completion_request_id(NULL) == NULL);
    CHECK_STATUS(upstage_completion_usage(NULL, &u), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK(upstage_completion_tool_call_count(NULL) == 0);
    CHECK(upstage_completion_tool_call_id(NULL, 0) == NULL);
    CHECK(upstage_completion_tool_call_name(NULL, 0) == NULL);
    CHECK(upstage_completion_tool_call_arguments(NULL, 0, &len) == NULL);
    upstage_completion_free(NULL);

    CHECK_STATUS(upstage_cancel_token_cancel(NULL), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    upstage_cancel_token_free(NULL);

    /* A cancelled token stops the open before any I/O. */
    CHECK_STATUS(upstage_cancel_token_cancel(t), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_cancel_token_cancel(t), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_stream_open_cancellable(c, r, t, &s, &e), UPSTAGE_ERR_CANCELLED, &e);
    CHECK(s == sentinel);
    CHECK_STATUS(upstage_chat_complete_cancellable(c, r, t, &done, &e), UPSTAGE_ERR_CANCELLED, &e);
    CHECK(done == done_sentinel);

    /* Connection refused (port 1): a connect error, no HTTP status. */
    CHECK_STATUS(upstage_stream_open(c, r, &s, &e), UPSTAGE_ERR_CONNECT, &e);
    CHECK(e.http_status == 0);
    CHECK(s == sentinel);

    upstage_cancel_token_free(t);
    upstage_request_free(empty);
    upstage_request_free(r);
    upstage_client_free(c);
}

int main(void) {
    test_version_and_statuses();
    test_catalog();
    test_format_prompt();
    test_builder();
    test_request();
    test_network_functions_without_network();
    return check_report("args");
}
