/* A tiny test framework shared by the C tests (header-only, C99). */
#ifndef UPSTAGE_TEST_CHECK_H
#define UPSTAGE_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "upstage.h"

static int check_failures = 0;
static int check_count = 0;

#define CHECK(cond)                                                                        \
    do {                                                                                   \
        check_count++;                                                                     \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);       \
            check_failures++;                                                              \
        }                                                                                  \
    } while (0)

/* Checks a status, printing both names and the error message when it differs. */
#define CHECK_STATUS(got, want, errp)                                                      \
    do {                                                                                   \
        int check_got_ = (got);                                                            \
        int check_want_ = (want);                                                          \
        check_count++;                                                                     \
        if (check_got_ != check_want_) {                                                   \
            const upstage_error *check_e_ = (errp);                                        \
            fprintf(stderr, "%s:%d: %s: got %s (%d), want %s (%d)%s%s\n", __FILE__,        \
                    __LINE__, #got, upstage_status_name(check_got_), check_got_,           \
                    upstage_status_name(check_want_), check_want_,                         \
                    check_e_ ? ": " : "", check_e_ ? check_e_->message : "");              \
            check_failures++;                                                              \
        }                                                                                  \
    } while (0)

#define CHECK_STR(got, want)                                                               \
    do {                                                                                   \
        const char *check_g_ = (got);                                                      \
        const char *check_w_ = (want);                                                     \
        check_count++;                                                                     \
        if (check_g_ == NULL || strcmp(check_g_, check_w_) != 0) {                         \
            fprintf(stderr, "%s:%d: %s: got \"%s\", want \"%s\"\n", __FILE__, __LINE__,    \
                    #got, check_g_ ? check_g_ : "(null)", check_w_);                       \
            check_failures++;                                                              \
        }                                                                                  \
    } while (0)

/* Checks that an error struct says `status`, `http` and that its message contains `part`. */
#define CHECK_ERROR(e, st, http, part)                                                     \
    do {                                                                                   \
        CHECK_STATUS((e).status, (st), &(e));                                              \
        CHECK((e).http_status == (http));                                                  \
        if ((e).http_status != (http))                                                     \
            fprintf(stderr, "    http_status %d, want %d\n", (e).http_status, (http));     \
        CHECK(strstr((e).message, (part)) != NULL);                                        \
        if (strstr((e).message, (part)) == NULL)                                           \
            fprintf(stderr, "    message \"%s\" lacks \"%s\"\n", (e).message, (part));     \
    } while (0)

/* Whether `s` is well-formed UTF-8 (no truncated or overlong sequences). */
static inline int check_utf8(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2
              : (*p & 0xf8) == 0xf0 ? 3 : -1;
        if (n < 0 || (n == 1 && *p < 0xc2)) return 0;
        p++;
        while (n-- > 0) {
            if ((*p & 0xc0) != 0x80) return 0;
            p++;
        }
    }
    return 1;
}

/* An error struct full of garbage, to see that the library fills it. */
static inline upstage_error check_blank_error(void) {
    upstage_error e;
    memset(&e, 0x7f, sizeof e);
    e.message[sizeof e.message - 1] = '\0';
    return e;
}

static inline int check_report(const char *name) {
    fprintf(stderr, "%s: %d checks, %d failures\n", name, check_count, check_failures);
    return check_failures == 0 ? 0 : 1;
}

/* A client for `base_url`: no proxy, no retries, short timeouts. */
static inline upstage_client *check_client(const char *base_url) {
    upstage_client_builder *b = upstage_client_builder_new();
    upstage_client *c = NULL;
    upstage_error e;
    if (b == NULL) return NULL;
    upstage_client_builder_set_base_url(b, base_url);
    upstage_client_builder_set_api_key(b, "test-key");
    upstage_client_builder_set_proxy(b, NULL);
    upstage_client_builder_set_max_retries(b, 0);
    upstage_client_builder_set_timeout_ms(b, UPSTAGE_TIMEOUT_CONNECT, 5000);
    upstage_client_builder_set_timeout_ms(b, UPSTAGE_TIMEOUT_HEADERS, 20000);
    upstage_client_builder_set_timeout_ms(b, UPSTAGE_TIMEOUT_IDLE, 20000);
    if (upstage_client_builder_build(b, &c, &e) != UPSTAGE_OK) {
        fprintf(stderr, "client: %s\n", e.message);
        return NULL;
    }
    return c;
}

/* A request for scenario `model` with one user message. */
static inline upstage_request *check_request(const char *model, const char *prompt) {
    upstage_request *r = upstage_request_new(model);
    if (r != NULL) upstage_request_add_message(r, "user", prompt);
    return r;
}

#endif
