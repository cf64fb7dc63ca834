/*
 * upstage.hpp: header-only C++17 RAII wrapper over the C API of upstage.h.
 *
 *   upstage::Client client = upstage::Client::Builder().base_url("http://127.0.0.1:8000/v1").build();
 *   upstage::Request request("solar-pro4");
 *   request.add("user", "Hello!");
 *   upstage::Stream stream = client.stream(request);
 *   for (std::string_view token : stream) std::cout << token << std::flush;
 *
 * Errors are thrown as upstage::Error (status, HTTP status, message, and details: request id,
 * retry-after, API type/code/param, timeout phase, attempts, response headers). A Client is cheap to
 * copy (shared, immutable, thread-safe); a Request, Stream or Completion is used by one
 * thread at a time, except Stream::cancel(), callable from any thread. Text returned as
 * std::string_view is borrowed from the stream and valid until the next call on it.
 */
#ifndef UPSTAGE_HPP
#define UPSTAGE_HPP

#include <cstddef>
#include <cstdint>
#include <exception>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "upstage.h"

namespace upstage {

/** The headers of a response (a stream's, a completion's or an HTTP error's), copied. */
class Headers {
public:
    Headers() = default;

    /** Copies and frees `h` (NULL gives no headers). */
    explicit Headers(upstage_headers *h) {
        std::unique_ptr<upstage_headers, void (*)(upstage_headers *)> owned(h, upstage_headers_free);
        if (!h) return;
        for (std::size_t i = 0; i < upstage_headers_count(h); ++i) {
            fields_.emplace_back(upstage_headers_name_at(h, i), upstage_headers_value_at(h, i));
        }
        upstage_rate_limit limits;
        if (upstage_headers_rate_limit(h, &limits) == UPSTAGE_OK) rate_limit_ = limits;
    }

    /** The first value of header `name` (case-insensitive). */
    std::optional<std::string> get(std::string_view name) const {
        for (const auto &field : fields_) {
            if (field.first.size() != name.size()) continue;
            bool same = true;
            for (std::size_t i = 0; i < name.size() && same; ++i) {
                char a = field.first[i], b = name[i];
                if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
                if (b >= 'A' && b <= 'Z') b = static_cast<char>(b - 'A' + 'a');
                same = a == b;
            }
            if (same) return field.second;
        }
        return std::nullopt;
    }
    /** Every header as (lower-case name, value), in the server's order. */
    const std::vector<std::pair<std::string, std::string>> &fields() const noexcept { return fields_; }
    /** The `x-ratelimit-*` budget (fields are -1 when not sent), if the server sent any. */
    std::optional<upstage_rate_limit> rate_limit() const noexcept { return rate_limit_; }
    /** Whether there are none. */
    bool empty() const noexcept { return fields_.empty(); }

private:
    std::vector<std::pair<std::string, std::string>> fields_;
    std::optional<upstage_rate_limit> rate_limit_;
};

/** Everything known about an error beyond its status and message (`upstage_error_details`). */
struct ErrorDetails {
    std::string message;                  /**< The whole message, never cut. */
    std::optional<std::string> request_id; /**< The response's x-request-id. */
    std::optional<std::string> api_type;   /**< The server's error type. */
    std::optional<std::string> api_code;   /**< The server's error code. */
    std::optional<std::string> api_param;  /**< The server's error param. */
    int64_t retry_after_ms = -1;           /**< The wait the server asked for, -1 if none. */
    int32_t timeout_phase = -1;            /**< `UPSTAGE_TIMEOUT_*` for timeouts, else -1. */
    uint32_t attempts = 0;                 /**< HTTP attempts made. */
    Headers headers;                       /**< The response's headers, if there was one. */
};

/** An error reported by the library: the C status, the HTTP status (0 if none), the message,
    and, from the calls that provide them, the details. */
class Error : public std::runtime_error {
public:
    Error(upstage_status status, int32_t http_status, const std::string &message,
          std::shared_ptr<const ErrorDetails> details = nullptr)
        : std::runtime_error(message), status_(status), http_status_(http_status),
          details_(std::move(details)) {}

    /** Request id, retry-after, API type/code/param, timeout phase, attempts and headers;
        nullptr when the call that failed does not provide them. */
    const ErrorDetails *details() const noexcept { return details_.get(); }

    /** The C status (`UPSTAGE_ERR_*`). */
    upstage_status status() const noexcept { return status_; }
    /** The HTTP status, or 0 when there was none. */
    int32_t http_status() const noexcept { return http_status_; }
    /** The status's lower-case name: "http", "timeout", "cancelled", ... */
    const char *status_name() const noexcept { return upstage_status_name(status_); }

private:
    upstage_status status_;
    int32_t http_status_;
    std::shared_ptr<const ErrorDetails> details_;
};

namespace detail {

inline upstage_error blank_error() noexcept {
    upstage_error e;
    e.status = UPSTAGE_OK;
    e.http_status = 0;
    e.message[0] = '\0';
    return e;
}

/** Throws when `status` is an error; `e` (if given) supplies the HTTP status and message. */
inline upstage_status check(upstage_status status, const upstage_error *e = nullptr) {
    if (status >= 0) return status;
    if (e != nullptr) throw Error(status, e->http_status, e->message);
    throw Error(status, 0, std::string("upstage: ") + upstage_status_name(status));
}

/** Throws when `status` is an error, with the details of `d` (which is freed either way). */
inline upstage_status check_details(upstage_status status, const upstage_error &e,
                                    upstage_error_details *d) {
    std::unique_ptr<upstage_error_details, void (*)(upstage_error_details *)> owned(
        d, upstage_error_details_free);
    if (status >= 0) return status;
    if (!d) check(status, &e);
    auto details = std::make_shared<ErrorDetails>();
    details->message = upstage_error_details_message(d);
    auto opt = [](const char *t) { return t ? std::optional<std::string>(t) : std::nullopt; };
    details->request_id = opt(upstage_error_details_request_id(d));
    details->api_type = opt(upstage_error_details_api_type(d));
    details->api_code = opt(upstage_error_details_api_code(d));
    details->api_param = opt(upstage_error_details_api_param(d));
    details->retry_after_ms = upstage_error_details_retry_after_ms(d);
    details->timeout_phase = upstage_error_details_timeout_phase(d);
    details->attempts = upstage_error_details_attempts(d);
    details->headers = Headers(upstage_error_details_headers(d));
    throw Error(status, e.http_status, e.message, std::move(details));
}

inline std::string_view view(const char *text, std::size_t len) {
    return text == nullptr ? std::string_view() : std::string_view(text, len);
}

inline std::optional<std::string> opt_string(const char *text) {
    if (text == nullptr) return std::nullopt;
    return std::string(text);
}

struct ClientDeleter {
    void operator()(upstage_client *c) const noexcept { upstage_client_free(c); }
};
struct BuilderDeleter {
    void operator()(upstage_client_builder *b) const noexcept { upstage_client_builder_free(b); }
};
struct RequestDeleter {
    void operator()(upstage_request *r) const noexcept { upstage_request_free(r); }
};
struct StreamDeleter {
    void operator()(upstage_stream *s) const noexcept { upstage_stream_free(s); }
};
struct CompletionDeleter {
    void operator()(upstage_completion *c) const noexcept { upstage_completion_free(c); }
};

} // namespace detail

/** Token counts (`upstage_usage`: reasoning_tokens and cached_tokens are -1 when unknown). */
using Usage = upstage_usage;

/** The legacy web demo's model resolution (g4f's Upstage provider, `get_model`): never fails. */
inline std::string resolve_model(const std::string &name) { return upstage_resolve_model(name.c_str()); }

/** The legacy web demo's model catalog, in order. */
inline std::vector<std::string> models() {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < upstage_model_count(); ++i) out.emplace_back(upstage_model_at(i));
    return out;
}

/** The legacy web demo's `format_prompt` (as g4f's Upstage provider) over a JSON array of messages. */
inline std::string format_prompt(const std::string &messages_json) {
    upstage_error e = detail::blank_error();
    std::size_t len = 0;
    detail::check(upstage_format_prompt(messages_json.c_str(), nullptr, 0, &len, &e), &e);
    std::string out(len + 1, '\0');
    detail::check(upstage_format_prompt(messages_json.c_str(), &out[0], out.size(), &len, &e), &e);
    out.resize(len);
    return out;
}

class Completion;

/** A chat request: model, messages, body parameters. Move-only. */
class Request {
public:
    /** A request for `model` (empty: the client's default). */
    explicit Request(const std::string &model = std::string())
        : r_(upstage_request_new(model.c_str())) {
        if (!r_) throw Error(UPSTAGE_ERR_INVALID_ARGUMENT, 0, "invalid model name");
    }

    /** Parses a whole request body (`{"model": ..., "messages": [...], ...}`). */
    static Request from_json(const std::string &body) {
        upstage_error e = detail::blank_error();
        upstage_request *r = nullptr;
        detail::check(upstage_request_from_json(body.c_str(), &r, &e), &e);
        return Request(r);
    }

    /** Appends a message with text content. */
    Request &add(const std::string &role, const std::string &content) {
        detail::check(upstage_request_add_message(r_.get(), role.c_str(), content.c_str()));
        return *this;
    }

    /** Appends a `"tool"` message: the result `content` of the tool call `tool_call_id`. */
    Request &add_tool(const std::string &tool_call_id, const std::string &content) {
        detail::check(upstage_request_add_tool_message(r_.get(), tool_call_id.c_str(), content.c_str()));
        return *this;
    }

    /** Appends choice `choice` of `answer` as the assistant message that continues the
        conversation (its content and tool calls; its reasoning too when `with_reasoning`). */
    Request &add_assistant(const Completion &answer, std::size_t choice = 0, bool with_reasoning = false);

    /** Appends one message given as a JSON object (`tool_calls`, `tool_call_id`, ... kept). */
    Request &add_json(const std::string &message_json) {
        detail::check(upstage_request_add_message_json(r_.get(), message_json.c_str()));
        return *this;
    }

    /** Sets a body field to a JSON value: `param("temperature", "0.2")`. */
    Request &param(const std::string &name, const std::string &json_value) {
        detail::check(upstage_request_set_param(r_.get(), name.c_str(), json_value.c_str()));
        return *this;
    }

    /** Sends this header with this request (replacing a client header of the same name). */
    Request &header(const std::string &name, const std::string &value) {
        detail::check(upstage_request_add_header(r_.get(), name.c_str(), value.c_str()));
        return *this;
    }

    /** Adds a query parameter to this request's URL, after the client's. */
    Request &query(const std::string &name, const std::string &value) {
        detail::check(upstage_request_add_query(r_.get(), name.c_str(), value.c_str()));
        return *this;
    }

    /** Overrides one of the client's timeouts (`UPSTAGE_TIMEOUT_*`, ms; 0: none). */
    Request &timeout_ms(int32_t which, uint64_t ms) {
        detail::check(upstage_request_set_timeout_ms(r_.get(), which, ms));
        return *this;
    }

    /** Overrides the client's retry count for this request. */
    Request &max_retries(uint32_t n) {
        detail::check(upstage_request_set_max_retries(r_.get(), n));
        return *this;
    }

    /** The C handle (still owned by this object). */
    const upstage_request *get() const noexcept { return r_.get(); }

private:
    explicit Request(upstage_request *r) : r_(r) {}
    std::unique_ptr<upstage_request, detail::RequestDeleter> r_;
};

/** One event of Stream::next_event(); its views are valid until the next call on the stream. */
struct Event {
    /** `UPSTAGE_EVENT_CONTENT`, `_REASONING`, `_TOOL_CALL`, `_REFUSAL`, `_FINISH` or `_USAGE`. */
    upstage_event_kind kind;
    /** Content, reasoning, refusal, finish reason, or tool-call arguments fragment. */
    std::string_view text;
    /** The tool call's index (tool-call events). */
    uint32_t tool_index;
    /** The tool call's id, when this fragment carries it. */
    std::optional<std::string_view> tool_id;
    /** The function name, when this fragment carries it. */
    std::optional<std::string_view> tool_name;
    /** Token counts (usage events). */
    Usage usage;
};

/** A streaming answer. Move-only; destroying it closes the connection. Iterate it with a
    range-for to get the content tokens; errors are thrown from the loop. */
class Stream {
public:
    /** Input iterator over the content tokens. */
    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = std::string_view;
        using difference_type = std::ptrdiff_t;
        using pointer = const std::string_view *;
        using reference = const std::string_view &;

        iterator() = default;
        reference operator*() const noexcept { return s_->token_; }
        pointer operator->() const noexcept { return &s_->token_; }
        iterator &operator++() {
            if (!s_->advance()) s_ = nullptr;
            return *this;
        }
        void operator++(int) { ++*this; }
        friend bool operator==(const iterator &a, const iterator &b) noexcept { return a.s_ == b.s_; }
        friend bool operator!=(const iterator &a, const iterator &b) noexcept { return a.s_ != b.s_; }

    private:
        friend class Stream;
        explicit iterator(Stream *s) : s_(s) {}
        Stream *s_ = nullptr;
    };

    /** Reads the first token (throws on error); `end()` when there is none. */
    iterator begin() {
        iterator it(this);
        if (!advance()) it.s_ = nullptr;
        return it;
    }
    iterator end() noexcept { return iterator(); }

    /** The next content token, or std::nullopt at the normal end. Throws Error. */
    std::optional<std::string_view> next() {
        if (!advance()) return std::nullopt;
        return token_;
    }

    /** The next event, or std::nullopt at the normal end. Throws Error. */
    std::optional<Event> next_event() {
        upstage_error e = detail::blank_error();
        upstage_event ev;
        if (check(upstage_stream_next_event(s_.get(), &ev, &e), e) == UPSTAGE_DONE) {
            return std::nullopt;
        }
        Event out{ev.kind, detail::view(ev.text, ev.len), ev.tool_index, std::nullopt, std::nullopt, ev.usage};
        if (ev.tool_id) out.tool_id = std::string_view(ev.tool_id);
        if (ev.tool_name) out.tool_name = std::string_view(ev.tool_name);
        return out;
    }

    /** The response headers. */
    Headers headers() const { return Headers(upstage_stream_headers(s_.get())); }
    /** The `x-ratelimit-*` budget, if the server sent any. */
    std::optional<upstage_rate_limit> rate_limit() const { return headers().rate_limit(); }
    /** Milestones in ms (-1 until reached) and what was received, so far. */
    upstage_timings timings() const {
        upstage_timings t{-1, -1, -1, -1, 0, 0, 0};
        upstage_stream_timings(s_.get(), &t);
        return t;
    }

    /** Cancels from any thread: a blocked next() throws Error(UPSTAGE_ERR_CANCELLED). */
    void cancel() const noexcept { upstage_stream_cancel(s_.get()); }

    /** Why generation stopped, once known. */
    std::optional<std::string> finish_reason() const { return detail::opt_string(upstage_stream_finish_reason(s_.get())); }
    /** The model named by the server, once known. */
    std::optional<std::string> model() const { return detail::opt_string(upstage_stream_model(s_.get())); }
    /** The response's x-request-id, if any. */
    std::optional<std::string> request_id() const { return detail::opt_string(upstage_stream_request_id(s_.get())); }
    /** Token usage, once reported. */
    std::optional<Usage> usage() const {
        Usage u;
        if (upstage_stream_usage(s_.get(), &u) != UPSTAGE_OK) return std::nullopt;
        return u;
    }

    /** What the stream assembled so far (also after an error), as a Completion. */
    Completion snapshot() const;

    /** The C handle (still owned by this object). */
    upstage_stream *get() const noexcept { return s_.get(); }

private:
    friend class Client;
    explicit Stream(upstage_stream *s) : s_(s) {}

    bool advance() {
        upstage_error e = detail::blank_error();
        const char *text = nullptr;
        std::size_t len = 0;
        if (check(upstage_stream_next(s_.get(), &text, &len, &e), e) == UPSTAGE_DONE) {
            token_ = std::string_view();
            return false;
        }
        token_ = std::string_view(text, len);
        return true;
    }

    /** Throws the error that ended the stream, with its details. */
    upstage_status check(upstage_status status, const upstage_error &e) const {
        if (status >= 0) return status;
        return detail::check_details(status, e, upstage_stream_error_details(s_.get()));
    }

    std::unique_ptr<upstage_stream, detail::StreamDeleter> s_;
    std::string_view token_;
};

/** A tool call of a Completion. */
struct ToolCall {
    std::string id;          /**< The call id. */
    std::string name;        /**< The function name. */
    std::string arguments;   /**< The JSON arguments. */
    bool arguments_are_json; /**< Whether `arguments` is one complete JSON value. */
};

/** A whole answer from Client::complete(). Move-only. */
class Completion {
public:
    /** The answer text. */
    std::string_view content() const {
        std::size_t len = 0;
        const char *t = upstage_completion_content(c_.get(), &len);
        return detail::view(t, len);
    }
    /** The reasoning text (empty when none). */
    std::string_view reasoning() const {
        std::size_t len = 0;
        const char *t = upstage_completion_reasoning(c_.get(), &len);
        return detail::view(t, len);
    }
    /** The refusal text (empty when none). */
    std::string_view refusal() const {
        std::size_t len = 0;
        const char *t = upstage_completion_refusal(c_.get(), &len);
        return detail::view(t, len);
    }
    /** Why generation stopped, if known. */
    std::optional<std::string> finish_reason() const { return detail::opt_string(upstage_completion_finish_reason(c_.get())); }
    /** The model that answered, if known. */
    std::optional<std::string> model() const { return detail::opt_string(upstage_completion_model(c_.get())); }
    /** Token usage, if reported. */
    std::optional<Usage> usage() const {
        Usage u;
        if (upstage_completion_usage(c_.get(), &u) != UPSTAGE_OK) return std::nullopt;
        return u;
    }
    /** The response headers. */
    Headers headers() const { return Headers(upstage_completion_headers(c_.get())); }
    /** Milestones in ms (-1 if not reached) and what was received. */
    upstage_timings timings() const {
        upstage_timings t{-1, -1, -1, -1, 0, 0, 0};
        upstage_completion_timings(c_.get(), &t);
        return t;
    }
    /** The tool calls of choice `choice` (0: the answer), in order. */
    std::vector<ToolCall> tool_calls(std::size_t choice = 0) const {
        std::vector<ToolCall> out;
        for (std::size_t i = 0; i < upstage_completion_choice_tool_call_count(c_.get(), choice); ++i) {
            upstage_tool_call call;
            if (upstage_completion_tool_call(c_.get(), choice, i, &call) != UPSTAGE_OK) continue;
            out.push_back(ToolCall{call.id, call.name, std::string(call.arguments, call.arguments_len),
                                   call.arguments_are_json != 0});
        }
        return out;
    }
    /** How many choices (answers) there are: 1 unless the request set `"n"`. */
    std::size_t choice_count() const noexcept { return upstage_completion_choice_count(c_.get()); }
    /** Choice `choice`'s answer text. */
    std::string_view choice_content(std::size_t choice) const {
        std::size_t len = 0;
        const char *t = upstage_completion_choice_content(c_.get(), choice, &len);
        return detail::view(t, len);
    }
    /** The C handle (still owned by this object). */
    const upstage_completion *get() const noexcept { return c_.get(); }

private:
    friend class Client;
    friend class Stream;
    explicit Completion(upstage_completion *c) : c_(c) {}
    std::unique_ptr<upstage_completion, detail::CompletionDeleter> c_;
};

inline Request &Request::add_assistant(const Completion &answer, std::size_t choice, bool with_reasoning) {
    detail::check(upstage_request_add_assistant_message(r_.get(), answer.get(), choice, with_reasoning ? 1 : 0));
    return *this;
}

inline Completion Stream::snapshot() const {
    upstage_error e = detail::blank_error();
    upstage_completion *c = nullptr;
    detail::check(upstage_stream_snapshot(s_.get(), &c, &e), &e);
    return Completion(c);
}

/** A configured client: immutable, thread-safe, cheap to copy (shared). */
class Client {
public:
    /** Configures a Client; starts from the defaults plus the environment. */
    class Builder {
    public:
        Builder() : b_(upstage_client_builder_new()) {
            if (!b_) throw Error(UPSTAGE_ERR_PANIC, 0, "upstage_client_builder_new failed");
        }
        /** The API key (Authorization: Bearer). */
        Builder &api_key(const std::string &key) { detail::check(upstage_client_builder_set_api_key(b_.get(), key.c_str())); return *this; }
        /** The base URL (`{base}/chat/completions`). */
        Builder &base_url(const std::string &url) { detail::check(upstage_client_builder_set_base_url(b_.get(), url.c_str())); return *this; }
        /** The legacy web demo flavor (the endpoint g4f's Upstage provider uses). */
        Builder &web_demo(bool on) { detail::check(upstage_client_builder_set_web_demo(b_.get(), on)); return *this; }
        /** An explicit proxy URL. */
        Builder &proxy(const std::string &url) { detail::check(upstage_client_builder_set_proxy(b_.get(), url.c_str())); return *this; }
        /** No proxy at all, whatever the environment says. */
        Builder &no_proxy() { detail::check(upstage_client_builder_set_proxy(b_.get(), nullptr)); return *this; }
        /** A timeout (`UPSTAGE_TIMEOUT_*`) in milliseconds; 0: none. */
        Builder &timeout_ms(int32_t which, uint64_t ms) { detail::check(upstage_client_builder_set_timeout_ms(b_.get(), which, ms)); return *this; }
        /** Retries before the first token. */
        Builder &max_retries(uint32_t n) { detail::check(upstage_client_builder_set_max_retries(b_.get(), n)); return *this; }
        /** The default model. */
        Builder &default_model(const std::string &model) { detail::check(upstage_client_builder_set_default_model(b_.get(), model.c_str())); return *this; }
        /** A PEM file of trusted CA certificates. */
        Builder &ca_file(const std::string &path) { detail::check(upstage_client_builder_set_ca_file(b_.get(), path.c_str())); return *this; }
        /** A header sent with every request (replaces the library's of the same name). */
        Builder &header(const std::string &name, const std::string &value) { detail::check(upstage_client_builder_add_header(b_.get(), name.c_str(), value.c_str())); return *this; }
        /** A query parameter added to every request's URL. */
        Builder &query(const std::string &name, const std::string &value) { detail::check(upstage_client_builder_add_query(b_.get(), name.c_str(), value.c_str())); return *this; }
        /** The debug log on or off for this client (default: `UPSTAGE_LOG` or a log callback). */
        Builder &debug_log(bool on) { detail::check(upstage_client_builder_set_debug_log(b_.get(), on)); return *this; }
        /** A size limit (`UPSTAGE_LIMIT_*`) in bytes. */
        Builder &limit(int32_t which, std::size_t bytes) { detail::check(upstage_client_builder_set_limit(b_.get(), which, bytes)); return *this; }
        /** Keep idle connections for reuse (the default) or open one per request. */
        Builder &connection_reuse(bool on) { detail::check(upstage_client_builder_set_connection_reuse(b_.get(), on ? 1 : 0)); return *this; }
        /** Idle connections kept per host (default 4; 0: no reuse). */
        Builder &max_idle_connections(std::size_t per_host) { detail::check(upstage_client_builder_set_max_idle_connections(b_.get(), per_host)); return *this; }
        /** How long an idle connection is kept, in milliseconds (default 30,000). */
        Builder &pool_idle_timeout_ms(uint64_t ms) { detail::check(upstage_client_builder_set_pool_idle_timeout_ms(b_.get(), ms)); return *this; }

        /** Builds the client (the builder is used up either way). */
        Client build() {
            upstage_error e = detail::blank_error();
            upstage_client *c = nullptr;
            upstage_status st = upstage_client_builder_build(b_.release(), &c, &e);
            detail::check(st, &e);
            return Client(c);
        }

    private:
        std::unique_ptr<upstage_client_builder, detail::BuilderDeleter> b_;
    };

    /** Opens a stream (blocks until the response headers are in). */
    Stream stream(const Request &request) const {
        upstage_error e = detail::blank_error();
        upstage_stream *s = nullptr;
        upstage_error_details *d = nullptr;
        upstage_status st = upstage_stream_open_with(c_.get(), request.get(), nullptr, &s, &e, &d);
        detail::check_details(st, e, d);
        return Stream(s);
    }

    /** Like stream(), and records the response into the file at `path`. */
    Stream stream_recorded(const Request &request, const std::string &path) const {
        std::unique_ptr<upstage_stream_options, void (*)(upstage_stream_options *)> options(
            upstage_stream_options_new(), upstage_stream_options_free);
        if (!options) throw Error(UPSTAGE_ERR_PANIC, 0, "upstage_stream_options_new failed");
        detail::check(upstage_stream_options_set_record_path(options.get(), path.c_str()));
        upstage_error e = detail::blank_error();
        upstage_stream *s = nullptr;
        upstage_error_details *d = nullptr;
        upstage_status st = upstage_stream_open_with(c_.get(), request.get(), options.get(), &s, &e, &d);
        detail::check_details(st, e, d);
        return Stream(s);
    }

    /** A stream over a recording instead of the network (no request is sent). */
    Stream replay(const std::string &path) const {
        upstage_error e = detail::blank_error();
        upstage_stream *s = nullptr;
        upstage_error_details *d = nullptr;
        upstage_status st = upstage_stream_replay(c_.get(), path.c_str(), &s, &e, &d);
        detail::check_details(st, e, d);
        return Stream(s);
    }

    /** Streams through a callback on this thread, one call per content token. The callback
        is `bool(std::string_view token)` (true: go on, false: stop) or
        `int32_t(std::string_view token)` (`UPSTAGE_CONTINUE`, or `UPSTAGE_STOP` / any
        non-zero value to stop). Stopping throws Error(UPSTAGE_ERR_CANCELLED). An exception
        thrown by the callback stops the stream and is rethrown here. */
    template <typename F>
    void chat(const Request &request, F &&on_token) const {
        struct Ctx {
            F *f;
            std::exception_ptr error;
        } ctx{&on_token, nullptr};
        auto trampoline = [](void *userdata, const char *text, std::size_t len) -> int32_t {
            Ctx *c = static_cast<Ctx *>(userdata);
            try {
                auto result = (*c->f)(std::string_view(text, len));
                if constexpr (std::is_same_v<decltype(result), bool>) {
                    return result ? UPSTAGE_CONTINUE : UPSTAGE_STOP;
                } else {
                    return static_cast<int32_t>(result);
                }
            } catch (...) {
                c->error = std::current_exception();
                return UPSTAGE_STOP;
            }
        };
        upstage_error e = detail::blank_error();
        upstage_status st = upstage_chat_stream(c_.get(), request.get(), trampoline, &ctx, &e);
        if (ctx.error) std::rethrow_exception(ctx.error);
        detail::check(st, &e);
    }

    /** Sends a non-streaming request and returns the whole answer. */
    Completion complete(const Request &request) const {
        upstage_error e = detail::blank_error();
        upstage_completion *c = nullptr;
        upstage_error_details *d = nullptr;
        upstage_status st = upstage_chat_complete_with(c_.get(), request.get(), nullptr, &c, &e, &d);
        detail::check_details(st, e, d);
        return Completion(c);
    }

    /** The C handle (shared by every copy of this Client). */
    const upstage_client *get() const noexcept { return c_.get(); }

private:
    explicit Client(upstage_client *c) : c_(c, detail::ClientDeleter()) {}
    std::shared_ptr<upstage_client> c_;
};

} // namespace upstage

#endif /* UPSTAGE_HPP */
