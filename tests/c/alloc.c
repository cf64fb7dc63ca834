/* No heap allocation per token, on the pull and the callback paths (core included).
   Linked with -Wl,--wrap=malloc,--wrap=realloc,--wrap=calloc so that every allocation of
   the static library is counted. argv[1]: the server's base URL ("many": 3000 tokens). */
#include "check.h"

void *__real_malloc(size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_calloc(size_t n, size_t size);
void *__wrap_malloc(size_t n);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_calloc(size_t n, size_t size);

/* Counted from the main thread only (the test streams on it; nothing else allocates). */
static volatile long allocations = 0;

void *__wrap_malloc(size_t n) {
    allocations++;
    return __real_malloc(n);
}
void *__wrap_realloc(void *p, size_t n) {
    allocations++;
    return __real_realloc(p, n);
}
void *__wrap_calloc(size_t n, size_t size) {
    allocations++;
    return __real_calloc(n, size);
}

#define WARM_UP 100
#define TOKENS 3000

struct counter {
    long tokens;
    long at_warm_up;
};

static int32_t count_cb(void *userdata, const char *text, size_t len) {
    struct counter *c = (struct counter *)userdata;
    (void)text;
    (void)len;
    if (++c->tokens == WARM_UP) c->at_warm_up = allocations;
    return UPSTAGE_CONTINUE;
}

int main(int argc, char **argv) {
    upstage_client *c;
    upstage_request *r;
    upstage_stream *s = NULL;
    upstage_error e;
    struct counter cb = {0, 0};
    const char *text;
    size_t len;
    long tokens = 0, at_warm_up = 0, pull, push;
    int st;

    if (argc < 2) return 2;
    c = check_client(argv[1]);
    r = check_request("many", "hi");
    CHECK_STATUS(upstage_stream_open(c, r, &s, &e), UPSTAGE_OK, &e);
    if (s == NULL) return check_report("alloc");
    while ((st = upstage_stream_next(s, &text, &len, &e)) == UPSTAGE_OK) {
        if (++tokens == WARM_UP) at_warm_up = allocations;
    }
    pull = allocations - at_warm_up;
    CHECK_STATUS(st, UPSTAGE_DONE, &e);
    CHECK(tokens == TOKENS);
    upstage_stream_free(s);

    CHECK_STATUS(upstage_chat_stream(c, r, count_cb, &cb, &e), UPSTAGE_OK, &e);
    push = allocations - cb.at_warm_up;
    CHECK(cb.tokens == TOKENS);

    fprintf(stderr, "allocations over the last %d tokens: pull %ld, callback %ld\n",
            TOKENS - WARM_UP, pull, push);
    /* A few at the end (finish reason, [DONE], closing) are fine; one per token is not. */
    CHECK(pull < 50);
    CHECK(push < 50);
    upstage_request_free(r);
    upstage_client_free(c);
    return check_report("alloc");
}
