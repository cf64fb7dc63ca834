/*
 * tool_loop: a two-step tool loop through the upstage C API. The model may call one tool,
 * get_weather(city); the program runs it, sends the result back and prints the answer.
 *
 *   tool_loop BASE_URL MODEL QUESTION
 *
 * stdout receives the final answer; stderr one line per tool call ("call get_weather
 * {...}"). On failure stderr gets "error[<status name>]: <message>" and the exit code is 1;
 * usage errors exit 2. The API key comes from UPSTAGE_API_KEY.
 *
 * Build: cc -std=c99 tool_loop.c -o tool_loop $(pkg-config --cflags --libs upstage)
 */
#include <stdio.h>
#include <string.h>

#include "upstage.h"

#define MAX_STEPS 4

static const char TOOLS[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
    "\"description\":\"The current weather in a city\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"string\"}},"
    "\"required\":[\"city\"]}}}]";

static int fail(const upstage_error *e) {
    fflush(stdout);
    fprintf(stderr, "error[%s]: %s\n", upstage_status_name(e->status), e->message);
    return 1;
}

/* The tool: a canned forecast, or an error object the model can read. */
static const char *run_tool(const upstage_tool_call *call) {
    if (strcmp(call->name, "get_weather") != 0) return "{\"error\":\"unknown tool\"}";
    if (!call->arguments_are_json) return "{\"error\":\"the arguments are not valid JSON\"}";
    return "{\"sky\":\"clear\",\"celsius\":21}";
}

int main(int argc, char **argv) {
    upstage_client_builder *builder;
    upstage_client *client = NULL;
    upstage_request *request = NULL;
    upstage_completion *answer = NULL;
    upstage_error err;
    int step, code = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: %s BASE_URL MODEL QUESTION\n", argc > 0 ? argv[0] : "tool_loop");
        return 2;
    }
    builder = upstage_client_builder_new();
    if (builder == NULL || upstage_client_builder_set_base_url(builder, argv[1]) != UPSTAGE_OK) {
        upstage_client_builder_free(builder);
        fprintf(stderr, "error[invalid_argument]: bad BASE_URL\n");
        return 2;
    }
    if (upstage_client_builder_build(builder, &client, &err) != UPSTAGE_OK) return fail(&err);
    request = upstage_request_new(argv[2]);
    if (request == NULL || upstage_request_add_message(request, "user", argv[3]) != UPSTAGE_OK ||
        upstage_request_set_param(request, "tools", TOOLS) != UPSTAGE_OK) {
        upstage_request_free(request);
        upstage_client_free(client);
        fprintf(stderr, "error[invalid_argument]: bad MODEL or QUESTION\n");
        return 2;
    }

    for (step = 0; step < MAX_STEPS; step++) {
        size_t i, calls;
        if (upstage_chat_complete(client, request, &answer, &err) != UPSTAGE_OK) {
            code = fail(&err);
            break;
        }
        calls = upstage_completion_choice_tool_call_count(answer, 0);
        if (calls == 0) {
            size_t len = 0;
            const char *text = upstage_completion_content(answer, &len);
            fwrite(text, 1, len, stdout);
            putchar('\n');
            break;
        }
        /* The assistant turn that asked for the tools, then one result per call. */
        if (upstage_request_add_assistant_message(request, answer, 0, 0) != UPSTAGE_OK) {
            code = 1;
            break;
        }
        for (i = 0; i < calls; i++) {
            upstage_tool_call call;
            if (upstage_completion_tool_call(answer, 0, i, &call) != UPSTAGE_OK) continue;
            fprintf(stderr, "call %s %s\n", call.name, call.arguments);
            if (upstage_request_add_tool_message(request, call.id, run_tool(&call)) !=
                UPSTAGE_OK) {
                code = 1;
            }
        }
        upstage_completion_free(answer);
        answer = NULL;
        if (code != 0) break;
    }
    if (step == MAX_STEPS) {
        fprintf(stderr, "error[api]: no answer after %d tool steps\n", MAX_STEPS);
        code = 1;
    }
    upstage_completion_free(answer);
    upstage_request_free(request);
    upstage_client_free(client);
    return code;
}
