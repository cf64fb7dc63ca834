/* One client shared by 8 threads streaming at once (pull and callback).
   argv[1]: the server's base URL. The "echo" scenario streams the prompt back char by char. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "check.h"

#define THREADS 8
#define ROUNDS 3

static const char *base;
static upstage_client *shared;

struct job {
    int id;
    int failures;
    char prompt[64];
};

static int32_t append_cb(void *userdata, const char *text, size_t len) {
    char *out = (char *)userdata;
    size_t have = strlen(out);
    if (have + len >= 64) return UPSTAGE_STOP;
    memcpy(out + have, text, len + 1);
    return UPSTAGE_CONTINUE;
}

static void *worker(void *arg) {
    struct job *job = (struct job *)arg;
    int round;
    for (round = 0; round < ROUNDS; round++) {
        upstage_request *r = check_request("echo", job->prompt);
        upstage_stream *s = NULL;
        upstage_error e;
        char got[64] = "";
        const char *text;
        size_t len, have = 0;
        int st;
        if (upstage_stream_open(shared, r, &s, &e) != UPSTAGE_OK) {
            fprintf(stderr, "thread %d: open: %s\n", job->id, e.message);
            job->failures++;
        } else {
            while ((st = upstage_stream_next(s, &text, &len, &e)) == UPSTAGE_OK) {
                if (have + len < sizeof got) {
                    memcpy(got + have, text, len + 1);
                    have += len;
                }
            }
            if (st != UPSTAGE_DONE || strcmp(got, job->prompt) != 0) {
                fprintf(stderr, "thread %d: %s: \"%s\" (%s)\n", job->id,
                        upstage_status_name(st), got, e.message);
                job->failures++;
            }
        }
        upstage_stream_free(s);
        got[0] = '\0';
        if (upstage_chat_stream(shared, r, append_cb, got, &e) != UPSTAGE_OK ||
            strcmp(got, job->prompt) != 0) {
            fprintf(stderr, "thread %d: callback: \"%s\" (%s)\n", job->id, got, e.message);
            job->failures++;
        }
        upstage_request_free(r);
    }
    return NULL;
}

int main(int argc, char **argv) {
    pthread_t threads[THREADS];
    struct job jobs[THREADS];
    int i;
    if (argc < 2) {
        fprintf(stderr, "usage: %s BASE_URL\n", argv[0]);
        return 2;
    }
    base = argv[1];
    shared = check_client(base);
    CHECK(shared != NULL);
    if (shared == NULL) return check_report("threads");
    for (i = 0; i < THREADS; i++) {
        jobs[i].id = i;
        jobs[i].failures = 0;
        snprintf(jobs[i].prompt, sizeof jobs[i].prompt, "thread %d says h\xc3\xa9llo \xe4\xb8\x96", i);
        CHECK(pthread_create(&threads[i], NULL, worker, &jobs[i]) == 0);
    }
    for (i = 0; i < THREADS; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        CHECK(jobs[i].failures == 0);
    }
    upstage_client_free(shared);
    return check_report("threads");
}
