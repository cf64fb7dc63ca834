// The C++ wrapper (include/upstage.hpp) against the loopback server. argv[1]: base URL.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

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

static upstage::Client make_client(const std::string &base) {
    return upstage::Client::Builder()
        .base_url(base)
        .api_key("test-key")
        .no_proxy()
        .max_retries(0)
        .timeout_ms(UPSTAGE_TIMEOUT_IDLE, 20000)
        .max_idle_connections(2)
        .pool_idle_timeout_ms(10000)
        .connection_reuse(true)
        .build();
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const std::string base = argv[1];
    const std::string answer = "H\xc3\xa9llo, \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x9a\x80!";

    upstage::Client client = make_client(base);
    upstage::Client copy = client; // shared, thread-safe

    // Range-for over the tokens.
    {
        upstage::Request request("utf8");
        request.add("user", "hi").param("temperature", "0.2");
        upstage::Stream stream = copy.stream(request);
        std::string got;
        int tokens = 0;
        for (std::string_view token : stream) {
            got += token;
            ++tokens;
        }
        CHECK(got == answer);
        CHECK(tokens == 5);
        CHECK(stream.finish_reason() == std::optional<std::string>("stop"));
        CHECK(stream.request_id() == std::optional<std::string>("req-utf8"));
        CHECK(!stream.usage().has_value());
        CHECK(!stream.next().has_value());
    }

    // Callback streaming; stopping early; an exception from the callback.
    {
        upstage::Request request("utf8");
        request.add("user", "hi");
        std::string got;
        client.chat(request, [&](std::string_view t) { got += t; return true; });
        CHECK(got == answer);
        int n = 0;
        try {
            client.chat(request, [&](std::string_view) { return ++n < 2; });
            CHECK(!"stopping must throw");
        } catch (const upstage::Error &e) {
            CHECK(e.status() == UPSTAGE_ERR_CANCELLED);
            CHECK(std::string(e.status_name()) == "cancelled");
        }
        CHECK(n == 2);
        // Callbacks may also answer with the C results.
        got.clear();
        client.chat(request, [&](std::string_view t) -> int32_t { got += t; return UPSTAGE_CONTINUE; });
        CHECK(got == answer);
        n = 0;
        try {
            client.chat(request, [&](std::string_view) -> int32_t { return ++n < 3 ? UPSTAGE_CONTINUE : UPSTAGE_STOP; });
            CHECK(!"UPSTAGE_STOP must throw");
        } catch (const upstage::Error &e) {
            CHECK(e.status() == UPSTAGE_ERR_CANCELLED);
        }
        CHECK(n == 3);
        try {
            client.chat(request, [&](std::string_view) -> bool { throw std::runtime_error("mine"); });
            CHECK(!"the callback's exception must propagate");
        } catch (const upstage::Error &) {
            CHECK(!"wrong exception");
        } catch (const std::runtime_error &e) {
            CHECK(std::string(e.what()) == "mine");
        }
    }

    // Errors as exceptions with status, http status and message.
    {
        upstage::Request request("http401");
        request.add("user", "hi");
        try {
            client.stream(request);
            CHECK(!"must throw");
        } catch (const upstage::Error &e) {
            CHECK(e.status() == UPSTAGE_ERR_HTTP);
            CHECK(e.http_status() == 401);
            CHECK(std::string(e.what()).find("Invalid API key provided") != std::string::npos);
        }
        upstage::Request truncated("truncated");
        truncated.add("user", "hi");
        std::string got;
        try {
            for (std::string_view t : client.stream(truncated)) got += t;
            CHECK(!"must throw");
        } catch (const upstage::Error &e) {
            CHECK(e.status() == UPSTAGE_ERR_TRUNCATED);
            CHECK(e.http_status() == 200);
        }
        CHECK(got == "ab");
        try {
            upstage::Request bad("m");
            bad.param("temperature", "not json");
            CHECK(!"must throw");
        } catch (const upstage::Error &e) {
            CHECK(e.status() == UPSTAGE_ERR_INVALID_ARGUMENT);
        }
        try {
            upstage::Request::from_json("{");
            CHECK(!"must throw");
        } catch (const upstage::Error &e) {
            CHECK(e.status() == UPSTAGE_ERR_INVALID_ARGUMENT);
        }
    }

    // Cancel from another thread while next() blocks.
    {
        upstage::Request request("stall");
        request.add("user", "hi");
        upstage::Stream stream = client.stream(request);
        CHECK(stream.next() == std::optional<std::string_view>("first"));
        std::thread canceller([&stream] {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            stream.cancel();
        });
        try {
            stream.next();
            CHECK(!"must throw");
        } catch (const upstage::Error &e) {
            CHECK(e.status() == UPSTAGE_ERR_CANCELLED);
        }
        canceller.join();
    }

    // Events, completion, catalog, format_prompt.
    {
        upstage::Request request("events");
        request.add("user", "weather?");
        upstage::Stream stream = client.stream(request);
        int tool_events = 0;
        std::string reasoning;
        while (auto ev = stream.next_event()) {
            if (ev->kind == UPSTAGE_EVENT_TOOL_CALL) ++tool_events;
            if (ev->kind == UPSTAGE_EVENT_REASONING) reasoning += ev->text;
            if (ev->kind == UPSTAGE_EVENT_USAGE) CHECK(ev->usage.total_tokens == 15);
        }
        CHECK(tool_events == 3);
        CHECK(reasoning == "Let me think \xe2\x80\xa6");
        CHECK(stream.usage().has_value() && stream.usage()->prompt_tokens == 10);

        upstage::Request complete("complete");
        complete.add("user", "weather?");
        upstage::Completion c = client.complete(complete);
        CHECK(c.content() == "It is sunny in \xec\x84\x9c\xec\x9a\xb8.");
        CHECK(c.reasoning() == "Checked.");
        CHECK(c.finish_reason() == std::optional<std::string>("tool_calls"));
        auto calls = c.tool_calls();
        CHECK(calls.size() == 1 && calls[0].name == "get_weather" && calls[0].arguments == "{\"city\":\"Seoul\"}");
        CHECK(c.usage().has_value() && c.usage()->reasoning_tokens == 3);
    }
    CHECK(upstage::resolve_model("solar-mini") == "upstage/solar-1-mini-chat-ja");
    CHECK(upstage::models().size() == 3);
    CHECK(upstage::format_prompt("[{\"role\":\"system\",\"content\":\"Be brief\"},{\"role\":\"user\",\"content\":\"Hi\"}]") ==
          "System: Be brief\nUser: Hi\nAssistant:");
    try {
        upstage::format_prompt("[]");
        CHECK(!"must throw");
    } catch (const upstage::Error &e) {
        CHECK(e.status() == UPSTAGE_ERR_INVALID_ARGUMENT);
    }

    std::fprintf(stderr, "wrapper: %d checks, %d failures\n", checks, failures);
    return failures == 0 ? 0 : 1;
}
