/* Path (c) of benches/throughput.rs: one stream through the C callback API.
 *
 * usage: throughput-c BASE_URL
 * Prints "RESULT tokens content_bytes nanoseconds vmhwm_kib" like the Rust children: the time
 * covers upstage_chat_stream (connect, request, every token, [DONE]); VmHWM is this process's
 * peak RSS, read from /proc/self/status at the end. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "upstage.h"

struct counts {
    uint64_t tokens;
    uint64_t bytes;
};

static int32_t on_token(void *userdata, const char *text, size_t len) {
    struct counts *counts = userdata;
    (void)text;
    counts->tokens += 1;
    counts->bytes += len;
    return 0;
}

static unsigned long long vm_hwm_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    unsigned long long kib = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kib = strtoull(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kib;
}

int main(int argc, char **argv) {
    struct upstage_error err;
    struct upstage_client *client = NULL;
    struct upstage_client_builder *b;
    struct upstage_request *r;
    struct counts counts = {0, 0};
    struct timespec t0, t1;
    upstage_status status;

    if (argc != 2) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    b = upstage_client_builder_new();
    if (!b || upstage_client_builder_set_base_url(b, argv[1]) != UPSTAGE_OK ||
        upstage_client_builder_set_proxy(b, NULL) != UPSTAGE_OK ||
        upstage_client_builder_set_max_retries(b, 0) != UPSTAGE_OK ||
        upstage_client_builder_build(b, &client, &err) != UPSTAGE_OK) {
        fprintf(stderr, "throughput-c: cannot build the client\n");
        return 1;
    }
    r = upstage_request_new("solar-pro4");
    if (!r || upstage_request_add_message(r, "user", "Write a long story.") != UPSTAGE_OK) {
        fprintf(stderr, "throughput-c: cannot build the request\n");
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t0);
    status = upstage_chat_stream(client, r, on_token, &counts, &err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (status != UPSTAGE_OK) {
        fprintf(stderr, "throughput-c: %s: %s\n", upstage_status_name(status), err.message);
        return 1;
    }
    upstage_request_free(r);
    upstage_client_free(client);
    printf("RESULT %llu %llu %llu %llu\n", (unsigned long long)counts.tokens,
           (unsigned long long)counts.bytes,
           (unsigned long long)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec)),
           vm_hwm_kib());
    return 0;
}
