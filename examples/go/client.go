package upstage

/*
#include <stdlib.h>
#include "upstage.h"
*/
import "C"

import (
	"net/url"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// NoLimit, as a timeout in Options, turns that timeout off. (Any negative duration does.)
const NoLimit time.Duration = -1

// NoRetries, as Options.MaxRetries, disables retries. (Any negative number does.)
const NoRetries = -1

// Options configure a Client. The zero value of every field means "the library's default",
// so Options{} gives the same client as the Rust crate's ClientBuilder::from_env().
type Options struct {
	// APIKey is sent as "Authorization: Bearer <key>". Empty: the UPSTAGE_API_KEY
	// environment variable. A key is required only for the official base URL.
	APIKey string
	// BaseURL is the API root, requests go to BaseURL + "/chat/completions". Empty: the
	// UPSTAGE_BASE_URL environment variable, else https://api.upstage.ai/v1.
	BaseURL string
	// WebDemo selects the keyless web-demo flavor of the original provider.
	WebDemo bool
	// Proxy is an http://, https:// or socks5:// proxy URL. Empty: the proxy environment
	// variables (HTTPS_PROXY, ALL_PROXY, NO_PROXY, ...). "none": no proxy, environment
	// ignored.
	Proxy string

	// ConnectTimeout limits DNS, TCP and TLS (default 10 s).
	ConnectTimeout time.Duration
	// HeadersTimeout limits the wait for the response headers (default 600 s).
	HeadersTimeout time.Duration
	// IdleTimeout limits the wait between two reads of the body (default 300 s).
	IdleTimeout time.Duration
	// TotalTimeout limits the whole request (default: none).
	TotalTimeout time.Duration

	// MaxRetries is how often a failed request is retried before its first token (default
	// 2). Use NoRetries for none.
	MaxRetries int

	// DefaultModel is the model of requests that name none. Empty: the UPSTAGE_MODEL
	// environment variable, else solar-pro4.
	DefaultModel string
	// CAFile is a PEM file whose certificates are trusted instead of the bundled web roots.
	CAFile string

	// LineLimit, EventLimit, ErrorBodyLimit and AssembledLimit bound, in bytes, one SSE
	// line (default 4 MiB), one SSE event or non-streamed answer (default 16 MiB), the part
	// of an HTTP error body that is read (default 64 KiB) and what a stream keeps for its
	// completion: texts, tool calls and log probabilities of every choice (default
	// 256 MiB). Exceeding one is an ErrLimit. 0: default.
	LineLimit      int
	EventLimit     int
	ErrorBodyLimit int
	AssembledLimit int

	// NoConnectionReuse opens a new connection for every request. By default idle
	// keep-alive connections are kept and reused by every goroutine sharing the client; a
	// connection is reused only after its response was read to the end.
	NoConnectionReuse bool
	// MaxIdleConnections is how many idle connections are kept per host (default 4).
	MaxIdleConnections int
	// PoolIdleTimeout is how long an idle connection is kept for reuse (default 30 s).
	PoolIdleTimeout time.Duration
	// Headers are sent with every request (e.g. "HTTP-Referer" and "X-Title" for
	// OpenRouter, "api-key" for Azure). They replace the library's headers of the same
	// name, User-Agent and Authorization included. CR, LF or NUL, an invalid name, or
	// Content-Length, Host or Transfer-Encoding make NewClient fail with ErrInvalidArgument.
	Headers map[string]string
	// Query parameters are added to every request's URL, after any query string of BaseURL
	// (which is kept, e.g. Azure's "?api-version=...").
	Query url.Values
	// DebugLog turns the library's debug log on for this client (to stderr, or to
	// SetLogOutput's function). Off by default unless UPSTAGE_LOG=debug is set.
	DebugLog bool
}

// Client sends chat requests. It is safe for concurrent use by many goroutines; create one
// and share it. Close it when done (a finalizer frees a forgotten one, eventually).
type Client struct {
	mu     sync.Mutex
	ptr    *C.upstage_client
	refs   int  // calls in progress that use ptr
	closed bool // Close was called; the last call in progress frees ptr
}

// NewClient builds a client. It fails with ErrInvalidArgument for a bad option (a malformed
// URL, a missing API key for the official API, ...).
func NewClient(opts Options) (*Client, error) {
	b := C.upstage_client_builder_new()
	if b == nil {
		return nil, newError(StatusPanic, "upstage_client_builder_new failed")
	}
	if err := configure(b, &opts); err != nil {
		C.upstage_client_builder_free(b)
		return nil, err
	}
	var out *C.upstage_client
	var cerr C.upstage_error
	if rc := C.upstage_client_builder_build(b, &out, &cerr); rc != C.UPSTAGE_OK {
		return nil, errorFrom(rc, &cerr) // build always consumes the builder
	}
	c := &Client{ptr: out}
	runtime.SetFinalizer(c, (*Client).Close)
	return c, nil
}

// configure applies opts to a builder; the caller frees the builder on error.
func configure(b *C.upstage_client_builder, opts *Options) error {
	setString := func(what, value string, set func(*C.char) C.upstage_status) error {
		if value == "" {
			return nil
		}
		cs, err := cString(what, value)
		if err != nil {
			return err
		}
		defer C.free(unsafe.Pointer(cs))
		if rc := set(cs); rc != C.UPSTAGE_OK {
			return newError(Status(rc), "invalid "+what)
		}
		return nil
	}
	if err := setString("API key", opts.APIKey, func(s *C.char) C.upstage_status {
		return C.upstage_client_builder_set_api_key(b, s)
	}); err != nil {
		return err
	}
	if err := setString("base URL", opts.BaseURL, func(s *C.char) C.upstage_status {
		return C.upstage_client_builder_set_base_url(b, s)
	}); err != nil {
		return err
	}
	if opts.WebDemo {
		if rc := C.upstage_client_builder_set_web_demo(b, true); rc != C.UPSTAGE_OK {
			return newError(Status(rc), "cannot select the web demo")
		}
	}
	if strings.EqualFold(opts.Proxy, "none") {
		if rc := C.upstage_client_builder_set_proxy(b, nil); rc != C.UPSTAGE_OK {
			return newError(Status(rc), "cannot disable the proxy")
		}
	} else if err := setString("proxy URL", opts.Proxy, func(s *C.char) C.upstage_status {
		return C.upstage_client_builder_set_proxy(b, s)
	}); err != nil {
		return err
	}
	timeouts := []struct {
		which C.int32_t
		name  string
		d     time.Duration
	}{
		{C.UPSTAGE_TIMEOUT_CONNECT, "connect timeout", opts.ConnectTimeout},
		{C.UPSTAGE_TIMEOUT_HEADERS, "headers timeout", opts.HeadersTimeout},
		{C.UPSTAGE_TIMEOUT_IDLE, "idle timeout", opts.IdleTimeout},
		{C.UPSTAGE_TIMEOUT_TOTAL, "total timeout", opts.TotalTimeout},
	}
	for _, t := range timeouts {
		if t.d == 0 {
			continue
		}
		var ms C.uint64_t // 0: no limit
		if t.d > 0 {
			ms = C.uint64_t((t.d + time.Millisecond - 1) / time.Millisecond)
		}
		if rc := C.upstage_client_builder_set_timeout_ms(b, t.which, ms); rc != C.UPSTAGE_OK {
			return newError(Status(rc), "invalid "+t.name)
		}
	}
	if err := setString("default model", opts.DefaultModel, func(s *C.char) C.upstage_status {
		return C.upstage_client_builder_set_default_model(b, s)
	}); err != nil {
		return err
	}
	if err := setString("CA file", opts.CAFile, func(s *C.char) C.upstage_status {
		return C.upstage_client_builder_set_ca_file(b, s)
	}); err != nil {
		return err
	}
	limits := []struct {
		which C.int32_t
		name  string
		bytes int
	}{
		{C.UPSTAGE_LIMIT_LINE, "LineLimit", opts.LineLimit},
		{C.UPSTAGE_LIMIT_EVENT, "EventLimit", opts.EventLimit},
		{C.UPSTAGE_LIMIT_ERROR_BODY, "ErrorBodyLimit", opts.ErrorBodyLimit},
		{C.UPSTAGE_LIMIT_ASSEMBLED, "AssembledLimit", opts.AssembledLimit},
	}
	for _, l := range limits {
		if l.bytes == 0 {
			continue
		}
		if l.bytes < 0 {
			return newError(StatusInvalidArgument, l.name+" is negative")
		}
		if rc := C.upstage_client_builder_set_limit(b, l.which, C.size_t(l.bytes)); rc != C.UPSTAGE_OK {
			return newError(Status(rc), "invalid "+l.name)
		}
	}
	if opts.MaxIdleConnections < 0 {
		return newError(StatusInvalidArgument, "MaxIdleConnections is negative")
	}
	if opts.MaxIdleConnections > 0 {
		if rc := C.upstage_client_builder_set_max_idle_connections(b, C.size_t(opts.MaxIdleConnections)); rc != C.UPSTAGE_OK {
			return newError(Status(rc), "invalid MaxIdleConnections")
		}
	}
	if opts.NoConnectionReuse {
		if rc := C.upstage_client_builder_set_connection_reuse(b, 0); rc != C.UPSTAGE_OK {
			return newError(Status(rc), "cannot turn connection reuse off")
		}
	}
	if opts.PoolIdleTimeout < 0 {
		return newError(StatusInvalidArgument, "PoolIdleTimeout is negative")
	}
	if opts.PoolIdleTimeout > 0 {
		ms := C.uint64_t((opts.PoolIdleTimeout + time.Millisecond - 1) / time.Millisecond)
		if rc := C.upstage_client_builder_set_pool_idle_timeout_ms(b, ms); rc != C.UPSTAGE_OK {
			return newError(Status(rc), "invalid PoolIdleTimeout")
		}
	}
	if err := configureSurface(b, opts); err != nil {
		return err
	}
	if opts.MaxRetries != 0 {
		n := opts.MaxRetries
		if n < 0 {
			n = 0
		}
		if uint64(n) > 0xFFFFFFFF {
			return newError(StatusInvalidArgument, "MaxRetries out of range")
		}
		if rc := C.upstage_client_builder_set_max_retries(b, C.uint32_t(n)); rc != C.UPSTAGE_OK {
			return newError(Status(rc), "invalid MaxRetries")
		}
	}
	return nil
}

// Close frees the client. Streams already opened are independent of it and keep working;
// calls still opening a stream finish first (the client is freed after the last one).
// Close is idempotent and always returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	runtime.SetFinalizer(c, nil)
	if c.refs == 0 {
		C.upstage_client_free(c.ptr)
		c.ptr = nil
	}
	return nil
}

// acquire returns the C client for one call, to be given back with release.
func (c *Client) acquire() (*C.upstage_client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, newError(StatusInvalidArgument, "the client is closed")
	}
	c.refs++
	return c.ptr, nil
}

func (c *Client) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refs--
	if c.refs == 0 && c.closed && c.ptr != nil {
		C.upstage_client_free(c.ptr)
		c.ptr = nil
	}
}

// cString copies s to C memory (free it with C.free). Go strings may hold NUL bytes, C
// strings cannot: such a string is an ErrInvalidArgument instead of being cut short.
func cString(what, s string) (*C.char, error) {
	if strings.IndexByte(s, 0) >= 0 {
		return nil, newError(StatusInvalidArgument, what+" contains a NUL byte")
	}
	return C.CString(s), nil
}
