/* Streaming against the loopback server: pull, callback, events, usage, completion.
   argv[1]: the server's base URL. The request's model names the server's scenario. */
#include "check.h"

static const char *base;

#define UTF8_ANSWER "H\xc3\xa9llo, \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x9a\x80!"

static void test_pull_utf8(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("utf8", "hi");
    upstage_stream *s = NULL;
    upstage_error e = check_blank_error();
    upstage_usage u;
    upstage_event ev;
    char answer[256] = "";
    const char *text = NULL;
    size_t len = 0, total = 0;
    int tokens = 0, st;

    CHECK_STATUS(upstage_stream_open(c, r, &s, &e), UPSTAGE_OK, &e);
    CHECK(s != NULL);
    if (s == NULL) goto out;
    CHECK(e.status == UPSTAGE_OK && e.http_status == 0 && e.message[0] == '\0');
    CHECK_STR(upstage_stream_request_id(s), "req-utf8");
    CHECK(upstage_stream_finish_reason(s) == NULL);
    /* NULL out-parameters on a live stream. */
    CHECK_STATUS(upstage_stream_next(s, NULL, &len, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_stream_next(s, &text, NULL, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_stream_next_event(s, NULL, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_stream_usage(s, NULL), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK(text == NULL && len == 0);

    while ((st = upstage_stream_next(s, &text, &len, &e)) == UPSTAGE_OK) {
        CHECK(text != NULL && len > 0 && text[len] == '\0' && strlen(text) == len);
        CHECK(total + len < sizeof answer);
        if (total + len < sizeof answer) {
            memcpy(answer + total, text, len);
            total += len;
            answer[total] = '\0';
        }
        tokens++;
    }
    CHECK_STATUS(st, UPSTAGE_DONE, &e);
    CHECK(e.status == UPSTAGE_DONE && e.http_status == 0);
    CHECK(tokens == 5);
    CHECK_STR(answer, UTF8_ANSWER);
    CHECK_STR(upstage_stream_finish_reason(s), "stop");
    CHECK_STR(upstage_stream_model(s), "solar-pro4");
    CHECK_STATUS(upstage_stream_usage(s, &u), UPSTAGE_NOT_AVAILABLE, NULL);
    /* Finished: every further call says DONE; cancel changes nothing. */
    CHECK_STATUS(upstage_stream_next(s, &text, &len, &e), UPSTAGE_DONE, &e);
    CHECK_STATUS(upstage_stream_next_event(s, &ev, &e), UPSTAGE_DONE, &e);
    CHECK_STATUS(upstage_stream_cancel(s), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_stream_next(s, &text, &len, &e), UPSTAGE_DONE, &e);
out:
    upstage_stream_free(s);
    upstage_request_free(r);
    upstage_client_free(c);
}

/* A stream does not need its client or request once open. */
static void test_stream_outlives_client_and_request(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("utf8", "hi");
    upstage_stream *s = NULL;
    upstage_error e = check_blank_error();
    const char *text;
    size_t len;
    char answer[64] = "";
    int st;

    CHECK_STATUS(upstage_stream_open(c, r, &s, &e), UPSTAGE_OK, &e);
    upstage_request_free(r);
    upstage_client_free(c);
    if (s == NULL) return;
    /* err may be NULL. */
    while ((st = upstage_stream_next(s, &text, &len, NULL)) == UPSTAGE_OK) {
        if (strlen(answer) + len < sizeof answer) strcat(answer, text);
    }
    CHECK_STATUS(st, UPSTAGE_DONE, NULL);
    CHECK_STR(answer, UTF8_ANSWER);
    upstage_stream_free(s);
}

struct collect {
    char text[256];
    size_t len;
    int tokens;
    int stop_after;    /* 0: never */
    int32_t stop_with; /* returned to stop: UPSTAGE_STOP or any other non-zero value */
};

static int32_t collect_cb(void *userdata, const char *text, size_t len) {
    struct collect *col = (struct collect *)userdata;
    if (text[len] != '\0' || strlen(text) != len) return -1;
    if (col->len + len < sizeof col->text) {
        memcpy(col->text + col->len, text, len);
        col->len += len;
        col->text[col->len] = '\0';
    }
    col->tokens++;
    return col->stop_after != 0 && col->tokens >= col->stop_after ? col->stop_with : UPSTAGE_CONTINUE;
}

static void test_callback_utf8(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("utf8", "hi");
    upstage_error e = check_blank_error();
    struct collect col;
    memset(&col, 0, sizeof col);

    CHECK_STATUS(upstage_chat_stream(c, r, collect_cb, &col, &e), UPSTAGE_OK, &e);
    CHECK(col.tokens == 5);
    CHECK_STR(col.text, UTF8_ANSWER);
    /* The same request and client again. */
    memset(&col, 0, sizeof col);
    CHECK_STATUS(upstage_chat_stream(c, r, collect_cb, &col, NULL), UPSTAGE_OK, NULL);
    CHECK_STR(col.text, UTF8_ANSWER);

    /* Stop from the callback: cancelled, no more tokens. */
    CHECK(UPSTAGE_CONTINUE == 0 && UPSTAGE_STOP == 1);
    memset(&col, 0, sizeof col);
    col.stop_after = 2;
    col.stop_with = UPSTAGE_STOP;
    CHECK_STATUS(upstage_chat_stream(c, r, collect_cb, &col, &e), UPSTAGE_ERR_CANCELLED, &e);
    CHECK(e.status == UPSTAGE_ERR_CANCELLED && e.http_status == 0);
    CHECK(col.tokens == 2);
    CHECK_STR(col.text, "H\xc3\xa9llo, ");

    /* Any non-zero value stops too. */
    memset(&col, 0, sizeof col);
    col.stop_after = 1;
    col.stop_with = 42;
    CHECK_STATUS(upstage_chat_stream(c, r, collect_cb, &col, &e), UPSTAGE_ERR_CANCELLED, &e);
    CHECK(col.tokens == 1);
    CHECK(strstr(e.message, "42") != NULL);

    upstage_request_free(r);
    upstage_client_free(c);
}

static void test_events(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("events", "weather?");
    upstage_stream *s = NULL;
    upstage_error e = check_blank_error();
    upstage_event ev;
    upstage_usage u;
    int st, n = 0;

    CHECK_STATUS(upstage_stream_open(c, r, &s, &e), UPSTAGE_OK, &e);
    if (s == NULL) goto out;
    CHECK_STATUS(upstage_stream_usage(s, &u), UPSTAGE_NOT_AVAILABLE, NULL);
    while ((st = upstage_stream_next_event(s, &ev, &e)) == UPSTAGE_OK) {
        CHECK(ev.kind == UPSTAGE_EVENT_USAGE || (ev.text != NULL && ev.text[ev.len] == '\0'));
        switch (n++) {
        case 0:
            CHECK(ev.kind == UPSTAGE_EVENT_REASONING);
            CHECK_STR(ev.text, "Let me think \xe2\x80\xa6");
            CHECK(ev.tool_id == NULL && ev.tool_name == NULL);
            break;
        case 1:
            CHECK(ev.kind == UPSTAGE_EVENT_CONTENT);
            CHECK_STR(ev.text, "Hi");
            CHECK(ev.len == 2);
            break;
        case 2:
            CHECK(ev.kind == UPSTAGE_EVENT_TOOL_CALL);
            CHECK(ev.tool_index == 0);
            CHECK_STR(ev.tool_id, "call_a");
            CHECK_STR(ev.tool_name, "get_weather");
            CHECK_STR(ev.text, "{\"city\":\"Se");
            break;
        case 3:
            CHECK(ev.kind == UPSTAGE_EVENT_TOOL_CALL);
            CHECK(ev.tool_index == 1);
            CHECK_STR(ev.tool_id, "call_b");
            CHECK_STR(ev.tool_name, "get_time");
            CHECK_STR(ev.text, "{}");
            break;
        case 4:
            CHECK(ev.kind == UPSTAGE_EVENT_TOOL_CALL);
            CHECK(ev.tool_index == 0);
            CHECK(ev.tool_id == NULL && ev.tool_name == NULL);
            CHECK_STR(ev.text, "oul \xec\x84\x9c\xec\x9a\xb8\"}");
            break;
        case 5:
            CHECK(ev.kind == UPSTAGE_EVENT_REFUSAL);
            CHECK_STR(ev.text, "no");
            break;
        case 6:
            CHECK(ev.kind == UPSTAGE_EVENT_FINISH);
            CHECK_STR(ev.text, "tool_calls");
            break;
        case 7:
            CHECK(ev.kind == UPSTAGE_EVENT_USAGE);
            CHECK(ev.text == NULL && ev.len == 0);
            CHECK(ev.usage.prompt_tokens == 10 && ev.usage.completion_tokens == 5);
            CHECK(ev.usage.total_tokens == 15);
            CHECK(ev.usage.reasoning_tokens == -1 && ev.usage.cached_tokens == -1);
            break;
        default:
            CHECK(!"too many events");
        }
    }
    CHECK_STATUS(st, UPSTAGE_DONE, &e);
    CHECK(n == 8);
    CHECK_STR(upstage_stream_finish_reason(s), "tool_calls");
    memset(&u, 0, sizeof u);
    CHECK_STATUS(upstage_stream_usage(s, &u), UPSTAGE_OK, NULL);
    CHECK(u.prompt_tokens == 10 && u.completion_tokens == 5 && u.total_tokens == 15);
out:
    upstage_stream_free(s);
    upstage_request_free(r);
    upstage_client_free(c);
}

static void test_complete(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("complete", "weather?");
    upstage_completion *done = NULL;
    upstage_error e = check_blank_error();
    upstage_usage u;
    size_t len = 0;

    CHECK_STATUS(upstage_chat_complete(c, r, &done, &e), UPSTAGE_OK, &e);
    if (done == NULL) goto out;
    CHECK_STR(upstage_completion_content(done, &len), "It is sunny in \xec\x84\x9c\xec\x9a\xb8.");
    CHECK(len == strlen("It is sunny in \xec\x84\x9c\xec\x9a\xb8."));
    CHECK_STR(upstage_completion_content(done, NULL), "It is sunny in \xec\x84\x9c\xec\x9a\xb8.");
    CHECK_STR(upstage_completion_reasoning(done, &len), "Checked.");
    CHECK(len == 8);
    CHECK_STR(upstage_completion_refusal(done, &len), "");
    CHECK(len == 0);
    CHECK_STR(upstage_completion_finish_reason(done), "tool_calls");
    CHECK_STR(upstage_completion_model(done), "solar-pro4");
    CHECK_STR(upstage_completion_id(done), "chatcmpl-complete");
    CHECK_STR(upstage_completion_request_id(done), "req-complete");
    CHECK_STATUS(upstage_completion_usage(done, NULL), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    memset(&u, 0, sizeof u);
    CHECK_STATUS(upstage_completion_usage(done, &u), UPSTAGE_OK, NULL);
    CHECK(u.prompt_tokens == 7 && u.completion_tokens == 9 && u.total_tokens == 16);
    CHECK(u.reasoning_tokens == 3 && u.cached_tokens == -1);
    CHECK(upstage_completion_tool_call_count(done) == 1);
    CHECK_STR(upstage_completion_tool_call_id(done, 0), "call_1");
    CHECK_STR(upstage_completion_tool_call_name(done, 0), "get_weather");
    len = 0;
    CHECK_STR(upstage_completion_tool_call_arguments(done, 0, &len), "{\"city\":\"Seoul\"}");
    CHECK(len == 16);
    CHECK(upstage_completion_tool_call_id(done, 1) == NULL);
    CHECK(upstage_completion_tool_call_name(done, 1) == NULL);
    len = 99;
    CHECK(upstage_completion_tool_call_arguments(done, 1, &len) == NULL);
    CHECK(len == 99);
out:
    upstage_completion_free(done);
    upstage_request_free(r);
    upstage_client_free(c);
}

static void test_complete_from_a_stream(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("events", "weather?");
    upstage_completion *done = NULL;
    upstage_error e = check_blank_error();
    upstage_usage u;

    CHECK_STATUS(upstage_chat_complete(c, r, &done, &e), UPSTAGE_OK, &e);
    if (done == NULL) goto out;
    CHECK_STR(upstage_completion_content(done, NULL), "Hi");
    CHECK_STR(upstage_completion_reasoning(done, NULL), "Let me think \xe2\x80\xa6");
    CHECK_STR(upstage_completion_refusal(done, NULL), "no");
    CHECK(upstage_completion_tool_call_count(done) == 2);
    CHECK_STR(upstage_completion_tool_call_arguments(done, 0, NULL),
              "{\"city\":\"Seoul \xec\x84\x9c\xec\x9a\xb8\"}");
    CHECK_STR(upstage_completion_tool_call_name(done, 1), "get_time");
    CHECK_STATUS(upstage_completion_usage(done, &u), UPSTAGE_OK, NULL);
    CHECK(u.total_tokens == 15);
out:
    upstage_completion_free(done);
    upstage_request_free(r);
    upstage_client_free(c);
}

/* The seed's web demo flavor: its path, no key, the model resolved like get_model. */
static void test_web_demo(void) {
    upstage_client_builder *b = upstage_client_builder_new();
    upstage_client *c = NULL;
    upstage_request *r = upstage_request_new("solar-mini");
    upstage_error e = check_blank_error();
    struct collect col;

    CHECK_STATUS(upstage_client_builder_set_web_demo(b, true), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_set_base_url(b, base), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_set_api_key(b, "never-sent"), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_set_proxy(b, NULL), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_set_max_retries(b, 0), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_client_builder_build(b, &c, &e), UPSTAGE_OK, &e);
    upstage_request_add_message(r, "system", "Be brief");
    upstage_request_add_message(r, "user", "Hi");
    memset(&col, 0, sizeof col);
    CHECK_STATUS(upstage_chat_stream(c, r, collect_cb, &col, &e), UPSTAGE_OK, &e);
    CHECK_STR(col.text, "demo");
    upstage_request_free(r);
    upstage_client_free(c);
}

static void test_params_and_from_json(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("params", "with params");
    upstage_request *j = NULL;
    upstage_error e = check_blank_error();
    struct collect col;

    CHECK_STATUS(upstage_request_set_param(r, "temperature", "0.25"), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_request_set_param(r, "max_tokens", "64"), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_request_set_param(r, "stop", "[\"\\n\"]"), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_request_add_message(r, "assistant", "ok"), UPSTAGE_OK, NULL);
    memset(&col, 0, sizeof col);
    CHECK_STATUS(upstage_chat_stream(c, r, collect_cb, &col, &e), UPSTAGE_OK, &e);
    CHECK_STR(col.text, "ok");

    CHECK_STATUS(upstage_request_from_json(
                     "{\"model\":\"params-json\",\"messages\":[{\"role\":\"system\",\"content\":"
                     "\"be brief\"},{\"role\":\"user\",\"content\":\"hi\"}],\"top_p\":0.5,"
                     "\"stream\":false}",
                     &j, &e),
                 UPSTAGE_OK, &e);
    memset(&col, 0, sizeof col);
    CHECK_STATUS(upstage_chat_stream(c, j, collect_cb, &col, &e), UPSTAGE_OK, &e);
    CHECK_STR(col.text, "ok");

    upstage_request_free(j);
    upstage_request_free(r);
    upstage_client_free(c);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    base = argv[1];
    test_pull_utf8();
    test_stream_outlives_client_and_request();
    test_callback_utf8();
    test_events();
    test_complete();
    test_complete_from_a_stream();
    test_params_and_from_json();
    test_web_demo();
    return check_report("stream");
}
