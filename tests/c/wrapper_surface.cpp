// The C++ wrapper's request and response surface against the loopback server.
// argv[1]: base URL; argv[2]: a scratch file for a recording.
#include <cstdio>
#include <string>

#include "upstage.hpp"

static int failures = 0;
static int checks = 0;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        ++checks;                                                                       \
        if (!(cond)) {                                                                  \
            std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                                 \
        }                                                                               \
    } while (0)

int main(int argc, char **argv) {
    if (argc < 3) return 2;
    const std::string base = argv[1];
    const std::string recording = argv[2];
    upstage::Client client = upstage::Client::Builder()
                                 .base_url(base + "?api-version=2024-10-21")
                                 .api_key("test-key")
                                 .no_proxy()
                                 .max_retries(0)
                                 .header("X-Title", "from C++")
                                 .query("team", "a b")
                                 .build();

    // Headers and query reach the server, which echoes them; rate limits, timings, recording.
    std::string live;
    {
        upstage::Request request("surface");
        request.add("user", "hi").header("X-Trace", "t-1").header("Authorization", "Bearer cpp").query("trace", "on");
        upstage::Stream stream = client.stream_recorded(request, recording);
        CHECK(stream.headers().get("X-REQUEST-ID") == std::optional<std::string>("req-surface"));
        auto limits = stream.rate_limit();
        CHECK(limits && limits->remaining_requests == 99 && limits->reset_tokens_ms == 360000);
        for (std::string_view token : stream) live += token;
        CHECK(live == "/v1/chat/completions?api-version=2024-10-21&team=a%20b&trace=on|from C++|t-1|Bearer cpp");
        upstage_timings t = stream.timings();
        CHECK(t.headers_ms >= 0 && t.end_ms >= t.first_content_ms && t.content_tokens == 3);
    }
    // The recording replays without a server.
    {
        upstage::Stream stream = client.replay(recording);
        std::string replayed;
        for (std::string_view token : stream) replayed += token;
        CHECK(replayed == live);
        CHECK(!stream.headers().get("set-cookie"));
    }
    // Errors carry their details.
    try {
        upstage::Request request("http429-full");
        request.add("user", "hi");
        client.stream(request);
        CHECK(false);
    } catch (const upstage::Error &e) {
        CHECK(e.status() == UPSTAGE_ERR_HTTP && e.http_status() == 429);
        const upstage::ErrorDetails *d = e.details();
        CHECK(d != nullptr);
        if (d) {
            CHECK(d->request_id == std::optional<std::string>("req-429"));
            CHECK(d->api_code == std::optional<std::string>("tpm"));
            CHECK(d->api_param == std::optional<std::string>("model"));
            CHECK(d->retry_after_ms == 2500 && d->attempts == 1 && d->timeout_phase == -1);
            CHECK(d->headers.rate_limit() && d->headers.rate_limit()->remaining_tokens == 0);
        }
    }
    try {
        upstage::Request request("stall-headers");
        request.add("user", "hi").timeout_ms(UPSTAGE_TIMEOUT_HEADERS, 200);
        client.complete(request);
        CHECK(false);
    } catch (const upstage::Error &e) {
        CHECK(e.status() == UPSTAGE_ERR_TIMEOUT);
        CHECK(e.details() && e.details()->timeout_phase == UPSTAGE_TIMEOUT_HEADERS);
    }
    try {
        upstage::Request request("truncated");
        request.add("user", "hi");
        upstage::Stream stream = client.stream(request);
        for (std::string_view token : stream) (void)token;
        CHECK(false);
    } catch (const upstage::Error &e) {
        CHECK(e.status() == UPSTAGE_ERR_TRUNCATED && e.details() != nullptr);
    }
    try {
        upstage::Request request("surface");
        request.header("Host", "elsewhere");
        CHECK(false);
    } catch (const upstage::Error &e) {
        CHECK(e.status() == UPSTAGE_ERR_INVALID_ARGUMENT);
    }
    // A completion's headers and timings.
    {
        upstage::Request request("complete-limits");
        request.add("user", "hi");
        upstage::Completion done = client.complete(request);
        CHECK(done.headers().get("x-custom") == std::optional<std::string>("yes"));
        CHECK(done.timings().end_ms >= done.timings().headers_ms);
    }
    std::fprintf(stderr, "wrapper_surface: %d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
