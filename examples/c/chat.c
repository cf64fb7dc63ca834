/*
 * chat: stream one answer through the upstage C API.
 *
 *   chat BASE_URL MODEL PROMPT
 *
 * stdout receives exactly the content tokens, flushed as they arrive (plus a final newline
 * only when stdout is a terminal). On failure, tokens already printed stay, stderr gets one
 * line "error[<status name>]: <message>" and the exit code is 1; usage errors exit 2.
 * The API key comes from UPSTAGE_API_KEY (optional for servers other than the official API).
 *
 * Build: cc -std=c99 chat.c -o chat $(pkg-config --cflags --libs upstage)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <unistd.h>

#include "upstage.h"

static int fail(const upstage_error *e) {
    fflush(stdout);
    fprintf(stderr, "error[%s]: %s\n", upstage_status_name(e->status), e->message);
    return 1;
}

int main(int argc, char **argv) {
    upstage_client_builder *builder;
    upstage_client *client = NULL;
    upstage_request *request = NULL;
    upstage_stream *stream = NULL;
    upstage_error err;
    const char *text;
    size_t len;
    int status, code = 0;

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

    if (upstage_stream_open(client, request, &stream, &err) != UPSTAGE_OK) {
        code = fail(&err);
    } else {
        while ((status = upstage_stream_next(stream, &text, &len, &err)) == UPSTAGE_OK) {
            fwrite(text, 1, len, stdout);
            fflush(stdout);
        }
        if (status != UPSTAGE_DONE) {
            code = fail(&err);
        } else if (isatty(fileno(stdout))) {
            putchar('\n');
        }
    }
    upstage_stream_free(stream);
    upstage_request_free(request);
    upstage_client_free(client);
    return code;
}
