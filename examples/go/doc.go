// Package upstage is the Go binding of the upstage C library (written in Rust): a streaming
// chat client for Upstage's Solar models and any OpenAI-compatible server (vLLM, llama.cpp,
// Ollama, LiteLLM, ...).
//
// Import it as
//
//	import upstage "github.com/upstage-rs/upstage/examples/go"
//
// The package links the static C library through pkg-config (upstage-static.pc, which the
// crate's include/install.sh PREFIX installs; set PKG_CONFIG_PATH=PREFIX/lib/pkgconfig for a
// non-system prefix). With the build tag upstage_nopkgconfig it does not run pkg-config and
// the library is named in CGO_LDFLAGS instead:
//
//	CGO_LDFLAGS=/path/to/libupstage.a go build -tags upstage_nopkgconfig ./...
//
// A Client is built once and shared by any number of goroutines. Client.Stream sends a
// request and returns a Stream that is read like a bufio.Scanner (Next, Text, Err); its
// context cancels it at any point, even while Next is blocked on a silent server. Every
// error is an *Error whose kind is matched with errors.Is against ErrTimeout, ErrHTTP,
// ErrTruncated and the other sentinels.
//
// The package has no dependencies besides the standard library and needs Go 1.19 and cgo
// (a C compiler).
package upstage
