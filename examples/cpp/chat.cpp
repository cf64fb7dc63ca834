// chat: stream one answer through the upstage C++ wrapper.
//
//   chat BASE_URL MODEL PROMPT
//   e.g. chat https://api.upstage.ai/v1 solar-pro4 "Hello!"
//
// Same contract as examples/c/chat.c: stdout is exactly the tokens, flushed; on failure
// "error[<status name>]: <message>" on stderr and exit 1; usage errors exit 2.
//
// Build: c++ -std=c++17 chat.cpp -o chat $(pkg-config --cflags --libs upstage)
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <iostream>

#include "upstage.hpp"

int main(int argc, char **argv) {
    if (argc != 4) {
        std::cerr << "usage: " << (argc > 0 ? argv[0] : "chat") << " BASE_URL MODEL PROMPT\n";
        return 2;
    }
    try {
        upstage::Client client = upstage::Client::Builder().base_url(argv[1]).build();
        upstage::Request request(argv[2]);
        request.add("user", argv[3]);
        // One call per token, on this thread; stop the stream when stdout fails.
        client.chat(request, [](std::string_view token) -> int32_t {
            std::cout.write(token.data(), static_cast<std::streamsize>(token.size()));
            std::cout.flush();
            return std::cout ? UPSTAGE_CONTINUE : UPSTAGE_STOP;
        });
        if (isatty(fileno(stdout))) std::cout << '\n';
        return 0;
    } catch (const upstage::Error &e) {
        std::cout.flush();
        std::cerr << "error[" << e.status_name() << "]: " << e.what() << '\n';
        return 1;
    }
}
