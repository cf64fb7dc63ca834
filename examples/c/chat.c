/*
 * chat: stream one answer through the upstage C API.
 *
 *   chat BASE_URL MODEL PROMPT
 *   e.g. chat https://api.upstage.ai/v1 solar-pro4 "Hello!"
 *
 * stdout receives exactly the content tokens, flushed as they arrive (plus a final newline
 * only when stdout is a terminal). On failure, tokens already printed stay, stderr gets one
 * line "error[<status name>]: <message>" and the exit code is 1; usage errors exit 2.
 * The API key comes from UPSTAGE_API_KEY (optional for servers other than the official API).
 *
 * Build: cc -std=c99 chat.c -o chat $(pkg-config --cflags --libs upstage)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#include "upstage.h"

/* Receives each content token as it arrives (upstage_token_callback). Stops the stream when
 * stdout fails, e.g. a full disk or a pipe closed with SIGPIPE ignored. */
static int32_t print_token(void *userdata, const char *text, size_t len) {
    (void)userdata;
    if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) return UPSTAGE_STOP;
    return UPSTAGE_CONTINUE;
}

static int fail(const upstage_error *e) {
    fflush(stdout);
    fprintf(stderr, "error[%s]: %s\n", upstage_status_name(e->status), e->message);
    return 1;
}

int main(int argc, char **argv) {
    upstage_client_builder *builder;
    upstage_client *client = NULL;
    upstage_request *request = NULL;
    upstage_error err;
    int code = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: %s BASE_URL MODEL PROMPT\n", argc > 0 ? argv[0] : "chat");
        return 2;
    }
    builder = upstage_client_builder_new();
    if (builder == NULL) {
        fprintf(stderr, "error[panic]: cannot create a client builder\n");
        return 1;
    }
    if (upstage_client_builder_set_base_url(builder, argv[1]) != UPSTAGE_OK) {
        upstage_client_builder_free(builder);
        fprintf(stderr, "error[invalid_argument]: BASE_URL is not valid UTF-8\n");
        return 2;
    }
    if (upstage_client_builder_build(builder, &client, &err) != UPSTAGE_OK) return fail(&err);

    request = upstage_request_new(argv[2]);
    if (request == NULL) {
        upstage_client_free(client);
        fprintf(stderr, "error[invalid_argument]: MODEL is not valid UTF-8\n");
        return 2;
    }
    if (upstage_request_add_message(request, "user", argv[3]) != UPSTAGE_OK) {
        upstage_request_free(request);
        upstage_client_free(client);
        fprintf(stderr, "error[invalid_argument]: PROMPT is not valid UTF-8\n");
        return 2;
    }

    /* Blocks until the answer is complete; print_token runs on this thread once per token. */
    if (upstage_chat_stream(client, request, print_token, NULL, &err) != UPSTAGE_OK) {
        code = fail(&err);
    } else if (isatty(fileno(stdout))) {
        putchar('\n');
    }
    upstage_request_free(request);
    upstage_client_free(client);
    return code;
}
