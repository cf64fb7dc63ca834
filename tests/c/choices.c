/* Choices, tool calls, log probabilities, snapshots and the tool loop through the C API.
   argv[1]: the server's base URL. The request's model names the server's scenario. */
#include <math.h>

#include "check.h"

static const char *base;

/* "choices": two interleaved answers with log probabilities; choice 1 calls two tools that
   reuse index 0 (as Ollama does). */
static void test_choice_events(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("choices", "a color?");
    upstage_stream *s = NULL;
    upstage_error e = check_blank_error();
    upstage_choice_event ev;
    upstage_logprob lp;
    char text[2][64] = {"", ""};
    int st, logprob_events = 0, tool_events = 0, finishes = 0;

    CHECK_STATUS(upstage_stream_open(c, r, &s, &e), UPSTAGE_OK, &e);
    if (s == NULL) goto out;
    CHECK_STATUS(upstage_stream_next_choice_event(s, NULL, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    while ((st = upstage_stream_next_choice_event(s, &ev, &e)) == UPSTAGE_OK) {
        CHECK(ev.choice < 2);
        if (ev.choice >= 2) continue;
        switch (ev.event.kind) {
        case UPSTAGE_EVENT_CONTENT:
            CHECK(strlen(text[ev.choice]) + ev.event.len < sizeof text[0]);
            strncat(text[ev.choice], ev.event.text, ev.event.len);
            break;
        case UPSTAGE_EVENT_LOGPROBS:
            logprob_events++;
            CHECK(upstage_stream_event_logprob_count(s, UPSTAGE_LOGPROBS_CONTENT) == 1);
            CHECK(upstage_stream_event_logprob_count(s, UPSTAGE_LOGPROBS_REFUSAL) == 0);
            CHECK_STATUS(upstage_stream_event_logprob(s, UPSTAGE_LOGPROBS_CONTENT, 0, &lp),
                         UPSTAGE_OK, NULL);
            CHECK(lp.token != NULL && lp.token[lp.token_len] == '\0' && lp.logprob < 0);
            CHECK(lp.has_bytes == 1 && lp.bytes_len == lp.token_len &&
                  memcmp(lp.bytes, lp.token, lp.bytes_len) == 0);
            CHECK(lp.top_count == 1);
            CHECK_STATUS(upstage_stream_event_top_logprob(s, UPSTAGE_LOGPROBS_CONTENT, 0, 0, &lp),
                         UPSTAGE_OK, NULL);
            CHECK(lp.top_count == 0 && lp.has_bytes == 0 && lp.bytes == NULL);
            CHECK_STATUS(upstage_stream_event_logprob(s, UPSTAGE_LOGPROBS_CONTENT, 1, &lp),
                         UPSTAGE_NOT_AVAILABLE, NULL);
            CHECK_STATUS(upstage_stream_event_logprob(s, 7, 0, &lp),
                         UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
            break;
        case UPSTAGE_EVENT_TOOL_CALL:
            tool_events++;
            CHECK(ev.choice == 1);
            /* Two calls that both said index 0: the second is call 1. */
            CHECK(ev.event.tool_index == (tool_events == 1 ? 0u : 1u));
            break;
        case UPSTAGE_EVENT_FINISH:
            finishes++;
            CHECK_STR(ev.event.text, ev.choice == 0 ? "stop" : "tool_calls");
            break;
        default:
            break;
        }
    }
    CHECK_STATUS(st, UPSTAGE_DONE, &e);
    CHECK_STR(text[0], "Violet");
    CHECK_STR(text[1], "Turquoise");
    CHECK(logprob_events == 4 && tool_events == 2 && finishes == 2);
    /* The stream's finish reason is choice 0's. */
    CHECK_STR(upstage_stream_finish_reason(s), "stop");
out:
    upstage_stream_free(s);
    upstage_request_free(r);
    upstage_client_free(c);
}

/* The same stream through upstage_stream_next and a snapshot: tokens are choice 0's. */
static void test_tokens_and_snapshot(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("choices", "a color?");
    upstage_stream *s = NULL;
    upstage_completion *snap = NULL;
    upstage_error e = check_blank_error();
    upstage_tool_call call;
    upstage_logprob lp;
    char answer[64] = "";
    const char *text;
    size_t len;
    int st;

    CHECK_STATUS(upstage_stream_open(c, r, &s, &e), UPSTAGE_OK, &e);
    if (s == NULL) goto out;
    while ((st = upstage_stream_next(s, &text, &len, &e)) == UPSTAGE_OK) {
        CHECK(strlen(answer) + len < sizeof answer);
        strncat(answer, text, len);
    }
    CHECK_STATUS(st, UPSTAGE_DONE, &e);
    CHECK_STR(answer, "Violet");
    CHECK_STATUS(upstage_stream_snapshot(s, NULL, &e), UPSTAGE_ERR_NULL_ARGUMENT, &e);
    CHECK_STATUS(upstage_stream_snapshot(s, &snap, &e), UPSTAGE_OK, &e);
    if (snap == NULL) goto out;
    CHECK(upstage_completion_choice_count(snap) == 2);
    CHECK(upstage_completion_choice_index(snap, 1) == 1);
    CHECK_STR(upstage_completion_content(snap, &len), "Violet");
    CHECK_STR(upstage_completion_choice_content(snap, 0, &len), "Violet");
    CHECK(len == 6);
    CHECK_STR(upstage_completion_choice_content(snap, 1, NULL), "Turquoise");
    CHECK(upstage_completion_choice_content(snap, 2, &len) == NULL);
    CHECK_STR(upstage_completion_choice_finish_reason(snap, 1), "tool_calls");
    CHECK(upstage_completion_choice_tool_call_count(snap, 0) == 0);
    CHECK(upstage_completion_choice_tool_call_count(snap, 1) == 2);
    CHECK_STATUS(upstage_completion_tool_call(snap, 1, 1, &call), UPSTAGE_OK, NULL);
    CHECK(call.index == 1);
    CHECK_STR(call.id, "call_b");
    CHECK_STR(call.name, "get_time");
    CHECK_STR(call.arguments, "{}");
    CHECK(call.arguments_len == 2 && call.arguments_are_json == 1);
    CHECK_STATUS(upstage_completion_tool_call(snap, 1, 2, &call), UPSTAGE_NOT_AVAILABLE, NULL);
    CHECK_STATUS(upstage_completion_tool_call(snap, 1, 0, NULL), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK(upstage_completion_logprob_count(snap, 0, UPSTAGE_LOGPROBS_CONTENT) == 2);
    CHECK(upstage_completion_logprob_count(snap, 1, UPSTAGE_LOGPROBS_CONTENT) == 2);
    CHECK_STATUS(upstage_completion_logprob(snap, 1, UPSTAGE_LOGPROBS_CONTENT, 1, &lp),
                 UPSTAGE_OK, NULL);
    CHECK_STR(lp.token, "quoise");
    CHECK(fabs(lp.logprob - -0.25) < 1e-12);
    CHECK_STATUS(upstage_completion_top_logprob(snap, 1, UPSTAGE_LOGPROBS_CONTENT, 1, 0, &lp),
                 UPSTAGE_OK, NULL);
    CHECK_STR(lp.token, "quoise");
    CHECK_STATUS(upstage_completion_top_logprob(snap, 1, UPSTAGE_LOGPROBS_CONTENT, 1, 1, &lp),
                 UPSTAGE_NOT_AVAILABLE, NULL);
out:
    upstage_completion_free(snap);
    upstage_stream_free(s);
    upstage_request_free(r);
    upstage_client_free(c);
}

/* "partial": a token and a tool-call fragment, then an in-band error. */
static void test_snapshot_after_an_error(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("partial", "?");
    upstage_stream *s = NULL;
    upstage_completion *snap = NULL;
    upstage_error e = check_blank_error();
    upstage_tool_call call;
    const char *text;
    size_t len;
    int st;

    CHECK_STATUS(upstage_stream_open(c, r, &s, &e), UPSTAGE_OK, &e);
    if (s == NULL) goto out;
    while ((st = upstage_stream_next(s, &text, &len, &e)) == UPSTAGE_OK) {
    }
    CHECK_ERROR(e, UPSTAGE_ERR_API, 200, "Provider disconnected");
    CHECK_STATUS(upstage_stream_snapshot(s, &snap, &e), UPSTAGE_OK, &e);
    if (snap == NULL) goto out;
    CHECK_STR(upstage_completion_content(snap, NULL), "Partial");
    CHECK(upstage_completion_finish_reason(snap) == NULL);
    CHECK_STATUS(upstage_completion_tool_call(snap, 0, 0, &call), UPSTAGE_OK, NULL);
    CHECK_STR(call.arguments, "{\"q\":");
    CHECK(call.arguments_are_json == 0);
out:
    upstage_completion_free(snap);
    upstage_stream_free(s);
    upstage_request_free(r);
    upstage_client_free(c);
}

/* "tool_loop": the first answer calls get_weather; the second request must carry the
   assistant turn and the tool result (the server checks), and gets the final answer. */
static void test_tool_loop(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("tool_loop", "Weather in Seoul?");
    upstage_completion *first = NULL, *second = NULL;
    upstage_error e = check_blank_error();
    upstage_tool_call call;

    CHECK_STATUS(upstage_chat_complete(c, r, &first, &e), UPSTAGE_OK, &e);
    if (first == NULL) goto out;
    CHECK(upstage_completion_choice_tool_call_count(first, 0) == 1);
    CHECK_STATUS(upstage_completion_tool_call(first, 0, 0, &call), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_request_add_assistant_message(r, first, 1, 0),
                 UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_add_assistant_message(NULL, first, 0, 0),
                 UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_add_assistant_message(r, first, 0, 0), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_request_add_tool_message(r, NULL, "x"), UPSTAGE_ERR_NULL_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_add_tool_message(r, call.id, "{\"sky\":\"clear\"}"), UPSTAGE_OK,
                 NULL);
    CHECK_STATUS(upstage_request_add_message_json(r, "[1]"), UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_request_add_message_json(r, "{\"content\":\"no role\"}"),
                 UPSTAGE_ERR_INVALID_ARGUMENT, NULL);
    CHECK_STATUS(upstage_chat_complete(c, r, &second, &e), UPSTAGE_OK, &e);
    if (second == NULL) goto out;
    CHECK_STR(upstage_completion_content(second, NULL), "Clear skies.");
out:
    upstage_completion_free(first);
    upstage_completion_free(second);
    upstage_request_free(r);
    upstage_client_free(c);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: choices BASE_URL\n");
        return 2;
    }
    base = argv[1];
    test_choice_events();
    test_tokens_and_snapshot();
    test_snapshot_after_an_error();
    test_tool_loop();
    return check_report("choices");
}
