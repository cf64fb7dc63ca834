/* Cancelling from a second thread while the first is blocked in a read, and during open.
   argv[1]: the server's base URL. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <time.h>

#include "check.h"

static const char *base;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_ms(long ms) {
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static void *cancel_stream_later(void *arg) {
    sleep_ms(300);
    upstage_stream_cancel((const upstage_stream *)arg);
    return NULL;
}

static void *cancel_token_later(void *arg) {
    sleep_ms(300);
    upstage_cancel_token_cancel((const upstage_cancel_token *)arg);
    return NULL;
}

static void test_cancel_blocked_next(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("stall", "hi");
    upstage_stream *s = NULL;
    upstage_error e = check_blank_error();
    pthread_t thread;
    const char *text;
    size_t len;
    double started;

    CHECK_STATUS(upstage_stream_open(c, r, &s, &e), UPSTAGE_OK, &e);
    if (s == NULL) goto out;
    CHECK_STATUS(upstage_stream_next(s, &text, &len, &e), UPSTAGE_OK, &e);
    CHECK_STR(text, "first");
    CHECK(pthread_create(&thread, NULL, cancel_stream_later, s) == 0);
    started = now();
    /* The server sends nothing more: this blocks until the other thread cancels. */
    CHECK_STATUS(upstage_stream_next(s, &text, &len, &e), UPSTAGE_ERR_CANCELLED, &e);
    CHECK(now() - started < 10.0);
    CHECK(e.status == UPSTAGE_ERR_CANCELLED);
    CHECK(pthread_join(thread, NULL) == 0);
    CHECK_STATUS(upstage_stream_next(s, &text, &len, &e), UPSTAGE_DONE, &e);
    CHECK_STATUS(upstage_stream_cancel(s), UPSTAGE_OK, NULL);
out:
    upstage_stream_free(s);
    upstage_request_free(r);
    upstage_client_free(c);
}

static void test_cancel_before_next(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("utf8", "hi");
    upstage_stream *s = NULL;
    upstage_error e = check_blank_error();
    const char *text;
    size_t len;

    CHECK_STATUS(upstage_stream_open(c, r, &s, &e), UPSTAGE_OK, &e);
    if (s == NULL) goto out;
    CHECK_STATUS(upstage_stream_cancel(s), UPSTAGE_OK, NULL);
    CHECK_STATUS(upstage_stream_next(s, &text, &len, &e), UPSTAGE_ERR_CANCELLED, &e);
out:
    upstage_stream_free(s);
    upstage_request_free(r);
    upstage_client_free(c);
}

static void test_cancel_during_open(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("stall-headers", "hi");
    upstage_cancel_token *t = upstage_cancel_token_new();
    upstage_stream *s = NULL;
    upstage_error e = check_blank_error();
    pthread_t thread;
    double started;

    CHECK(pthread_create(&thread, NULL, cancel_token_later, t) == 0);
    started = now();
    CHECK_STATUS(upstage_stream_open_cancellable(c, r, t, &s, &e), UPSTAGE_ERR_CANCELLED, &e);
    CHECK(now() - started < 10.0);
    CHECK(s == NULL);
    CHECK(pthread_join(thread, NULL) == 0);
    upstage_cancel_token_free(t);
    upstage_stream_free(s);
    upstage_request_free(r);
    upstage_client_free(c);
}

static void test_token_cancels_the_stream_it_opened(void) {
    upstage_client *c = check_client(base);
    upstage_request *r = check_request("stall", "hi");
    upstage_cancel_token *t = upstage_cancel_token_new();
    upstage_stream *s = NULL;
    upstage_error e = check_blank_error();
    pthread_t thread;
    const char *text;
    size_t len;

    CHECK_STATUS(upstage_stream_open_cancellable(c, r, t, &s, &e), UPSTAGE_OK, &e);
    if (s == NULL) goto out;
    CHECK_STATUS(upstage_stream_next(s, &text, &len, &e), UPSTAGE_OK, &e);
    CHECK(pthread_create(&thread, NULL, cancel_token_later, t) == 0);
    CHECK_STATUS(upstage_stream_next(s, &text, &len, &e), UPSTAGE_ERR_CANCELLED, &e);
    CHECK(pthread_join(thread, NULL) == 0);
out:
    upstage_cancel_token_free(t);
    upstage_stream_free(s);
    upstage_request_free(r);
    upstage_client_free(c);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    base = argv[1];
    test_cancel_blocked_next();
    test_cancel_before_next();
    test_cancel_during_open();
    test_token_cancels_the_stream_it_opened();
    return check_report("cancel");
}
