// tool_loop: a two-step tool loop through the upstage C++ wrapper. The model may call one
// tool, get_weather(city); the program runs it, sends the result back and prints the answer.
//
//   tool_loop BASE_URL MODEL QUESTION
//
// Same contract as examples/c/tool_loop.c: stdout receives the final answer, stderr one line
// per tool call; on failure "error[<status name>]: <message>" on stderr and exit 1; usage
// errors exit 2.
//
// Build: c++ -std=c++17 tool_loop.cpp -o tool_loop $(pkg-config --cflags --libs upstage)
#include <iostream>
#include <string>
#include <vector>

#include "upstage.hpp"

namespace {

const char *const kTools =
    R"([{"type":"function","function":{"name":"get_weather",)"
    R"("description":"The current weather in a city",)"
    R"("parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}])";

// The tool: a canned forecast, or an error object the model can read.
std::string run_tool(const upstage::ToolCall &call) {
    if (call.name != "get_weather") return R"({"error":"unknown tool"})";
    if (!call.arguments_are_json) return R"({"error":"the arguments are not valid JSON"})";
    return R"({"sky":"clear","celsius":21})";
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 4) {
        std::cerr << "usage: " << (argc > 0 ? argv[0] : "tool_loop") << " BASE_URL MODEL QUESTION\n";
        return 2;
    }
    try {
        upstage::Client client = upstage::Client::Builder().base_url(argv[1]).build();
        upstage::Request request(argv[2]);
        request.add("user", argv[3]).param("tools", kTools);
        for (int step = 0; step < 4; ++step) {
            upstage::Completion answer = client.complete(request);
            std::vector<upstage::ToolCall> calls = answer.tool_calls();
            if (calls.empty()) {
                std::cout << answer.content() << '\n';
                return 0;
            }
            // The assistant turn that asked for the tools, then one result per call.
            request.add_assistant(answer);
            for (const upstage::ToolCall &call : calls) {
                std::cerr << "call " << call.name << ' ' << call.arguments << '\n';
                request.add_tool(call.id, run_tool(call));
            }
        }
        std::cerr << "error[api]: no answer after 4 tool steps\n";
        return 1;
    } catch (const upstage::Error &e) {
        std::cout.flush();
        std::cerr << "error[" << e.status_name() << "]: " << e.what() << '\n';
        return 1;
    }
}
