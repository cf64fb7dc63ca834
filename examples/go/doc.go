// Package upstage is the Go binding of the upstage Rust crate: a streaming chat client for
// Upstage's Solar models and any OpenAI-compatible server (vLLM, llama.cpp, Ollama,
// LiteLLM, ...), over the crate's C ABI.
//
// Build the Rust static library first (cargo build --release) and tell cgo where it is:
//
//	CGO_LDFLAGS="$(pwd)/../../target/release/libupstage.a" go build ./...
//
// A Client is built once and shared by any number of goroutines. Client.Stream sends a
// request and returns a Stream that is read like a bufio.Scanner (Next, Text, Err); its
// context cancels it at any point, even while Next is blocked on a silent server. Every
// error is an *Error whose kind is matched with errors.Is against ErrTimeout, ErrHTTP,
// ErrTruncated and the other sentinels.
//
// The package has no dependencies besides the standard library and needs Go 1.19.
package upstage
