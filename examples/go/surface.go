package upstage

/*
#include <stdlib.h>
#include "upstage.h"

// Exported from Go below (this file may only declare C functions, not define them).
void upstageGoLog(void *userdata, char *line);
*/
import "C"

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// HeaderField is one response header line.
type HeaderField struct {
	Name  string // lower-case
	Value string
}

// Headers are the headers of a response, in the server's order.
type Headers []HeaderField

// Get returns the first value of header name (case-insensitive), or "".
func (h Headers) Get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Values returns every value of header name (case-insensitive), in order.
func (h Headers) Values(name string) []string {
	var values []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			values = append(values, f.Value)
		}
	}
	return values
}

// RateLimitWindow is one budget (requests or tokens). Each number is -1 when the server did
// not send it.
type RateLimitWindow struct {
	Limit     int64         // the most the window allows
	Remaining int64         // what is left in the current window
	Reset     time.Duration // until the budget is full again
}

// RateLimit is what the x-ratelimit-* headers of a response said. A nil window means the
// server reported nothing about that budget.
type RateLimit struct {
	Requests *RateLimitWindow
	Tokens   *RateLimitWindow
}

// Timings are the milestones of one request, measured from when it was handed to the client
// (retries included); -1 when not reached. Counts are what the stream received.
type Timings struct {
	Headers         time.Duration // until the response headers were in
	FirstReasoning  time.Duration // until the first reasoning text
	FirstContent    time.Duration // until the first content text
	End             time.Duration // until the stream ended
	ContentTokens   uint64        // chunks that carried content (about one token each)
	ReasoningTokens uint64        // chunks that carried reasoning
	Bytes           uint64        // body bytes received
}

// headersFrom copies and frees a C headers handle (nil gives nil).
func headersFrom(h *C.upstage_headers) (Headers, *RateLimit) {
	if h == nil {
		return nil, nil
	}
	defer C.upstage_headers_free(h)
	n := int(C.upstage_headers_count(h))
	headers := make(Headers, 0, n)
	for i := 0; i < n; i++ {
		headers = append(headers, HeaderField{
			Name:  goStringOrEmpty(C.upstage_headers_name_at(h, C.size_t(i))),
			Value: goStringOrEmpty(C.upstage_headers_value_at(h, C.size_t(i))),
		})
	}
	var l C.upstage_rate_limit
	if C.upstage_headers_rate_limit(h, &l) != C.UPSTAGE_OK {
		return headers, nil
	}
	return headers, rateLimitFrom(&l)
}

func rateLimitFrom(l *C.upstage_rate_limit) *RateLimit {
	window := func(limit, remaining, resetMs C.int64_t) *RateLimitWindow {
		if limit < 0 && remaining < 0 && resetMs < 0 {
			return nil
		}
		w := &RateLimitWindow{Limit: int64(limit), Remaining: int64(remaining), Reset: -1}
		if resetMs >= 0 {
			w.Reset = time.Duration(resetMs) * time.Millisecond
		}
		return w
	}
	return &RateLimit{
		Requests: window(l.limit_requests, l.remaining_requests, l.reset_requests_ms),
		Tokens:   window(l.limit_tokens, l.remaining_tokens, l.reset_tokens_ms),
	}
}

func timingsFrom(t *C.upstage_timings) Timings {
	d := func(ms C.double) time.Duration {
		if ms < 0 {
			return -1
		}
		return time.Duration(float64(ms) * float64(time.Millisecond))
	}
	return Timings{
		Headers:         d(t.headers_ms),
		FirstReasoning:  d(t.first_reasoning_ms),
		FirstContent:    d(t.first_content_ms),
		End:             d(t.end_ms),
		ContentTokens:   uint64(t.content_tokens),
		ReasoningTokens: uint64(t.reasoning_tokens),
		Bytes:           uint64(t.bytes),
	}
}

// withDetails copies the details of a C error handle into e and frees the handle.
func withDetails(e *Error, d *C.upstage_error_details) *Error {
	if d == nil {
		return e
	}
	defer C.upstage_error_details_free(d)
	e.Message = goStringOrEmpty(C.upstage_error_details_message(d))
	e.RequestID = goStringOrEmpty(C.upstage_error_details_request_id(d))
	e.APIType = goStringOrEmpty(C.upstage_error_details_api_type(d))
	e.Code = goStringOrEmpty(C.upstage_error_details_api_code(d))
	e.Param = goStringOrEmpty(C.upstage_error_details_api_param(d))
	e.RetryAfter = -1
	if ms := C.upstage_error_details_retry_after_ms(d); ms >= 0 {
		e.RetryAfter = time.Duration(ms) * time.Millisecond
	}
	switch C.upstage_error_details_timeout_phase(d) {
	case C.UPSTAGE_TIMEOUT_CONNECT:
		e.TimeoutPhase = "connect"
	case C.UPSTAGE_TIMEOUT_HEADERS:
		e.TimeoutPhase = "headers"
	case C.UPSTAGE_TIMEOUT_IDLE:
		e.TimeoutPhase = "idle"
	case C.UPSTAGE_TIMEOUT_TOTAL:
		e.TimeoutPhase = "total"
	}
	e.Attempts = int(C.upstage_error_details_attempts(d))
	e.Headers, e.RateLimit = headersFrom(C.upstage_error_details_headers(d))
	return e
}

// applyPairs calls add for every name and value, names sorted so that requests are the same
// from run to run.
func applyPairs(what string, pairs map[string][]string, add func(name, value *C.char) C.upstage_status) error {
	names := make([]string, 0, len(pairs))
	for name := range pairs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, value := range pairs[name] {
			cn, err := cString(what+" name", name)
			if err != nil {
				return err
			}
			cv, err := cString(what+" value", value)
			if err != nil {
				C.free(unsafe.Pointer(cn))
				return err
			}
			rc := add(cn, cv)
			C.free(unsafe.Pointer(cn))
			C.free(unsafe.Pointer(cv))
			if rc != C.UPSTAGE_OK {
				return newError(Status(rc), "invalid "+what+" "+strconv.Quote(name))
			}
		}
	}
	return nil
}

func single(m map[string]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = []string{v}
	}
	return out
}

// configureSurface applies the headers, query parameters and log switch of opts.
func configureSurface(b *C.upstage_client_builder, opts *Options) error {
	if err := applyPairs("header", single(opts.Headers), func(n, v *C.char) C.upstage_status {
		return C.upstage_client_builder_add_header(b, n, v)
	}); err != nil {
		return err
	}
	if err := applyPairs("query parameter", opts.Query, func(n, v *C.char) C.upstage_status {
		return C.upstage_client_builder_add_query(b, n, v)
	}); err != nil {
		return err
	}
	if opts.DebugLog {
		if rc := C.upstage_client_builder_set_debug_log(b, true); rc != C.UPSTAGE_OK {
			return newError(Status(rc), "cannot turn the debug log on")
		}
	}
	return nil
}

// fillSurface applies the request's own headers, query parameters and overrides.
func (r *Request) fillSurface(req *C.upstage_request) error {
	if err := applyPairs("header", single(r.Headers), func(n, v *C.char) C.upstage_status {
		return C.upstage_request_add_header(req, n, v)
	}); err != nil {
		return err
	}
	if err := applyPairs("query parameter", r.Query, func(n, v *C.char) C.upstage_status {
		return C.upstage_request_add_query(req, n, v)
	}); err != nil {
		return err
	}
	timeouts := []struct {
		which C.int32_t
		d     time.Duration
	}{
		{C.UPSTAGE_TIMEOUT_CONNECT, r.ConnectTimeout},
		{C.UPSTAGE_TIMEOUT_HEADERS, r.HeadersTimeout},
		{C.UPSTAGE_TIMEOUT_IDLE, r.IdleTimeout},
		{C.UPSTAGE_TIMEOUT_TOTAL, r.TotalTimeout},
	}
	for _, t := range timeouts {
		if t.d == 0 {
			continue
		}
		var ms C.uint64_t
		if t.d > 0 {
			ms = C.uint64_t((t.d + time.Millisecond - 1) / time.Millisecond)
		}
		if rc := C.upstage_request_set_timeout_ms(req, t.which, ms); rc != C.UPSTAGE_OK {
			return newError(Status(rc), "invalid request timeout")
		}
	}
	if r.MaxRetries != 0 {
		n := r.MaxRetries
		if n < 0 {
			n = 0
		}
		if rc := C.upstage_request_set_max_retries(req, C.uint32_t(n)); rc != C.UPSTAGE_OK {
			return newError(Status(rc), "invalid MaxRetries")
		}
	}
	return nil
}

// streamOptions makes the C options of one call: its cancel token and recording file. Free
// them with C.upstage_stream_options_free.
func streamOptions(token *C.upstage_cancel_token, record string) (*C.upstage_stream_options, error) {
	o := C.upstage_stream_options_new()
	if o == nil {
		return nil, newError(StatusPanic, "upstage_stream_options_new failed")
	}
	C.upstage_stream_options_set_cancel(o, token)
	if record != "" {
		cs, err := cString("recording path", record)
		if err != nil {
			C.upstage_stream_options_free(o)
			return nil, err
		}
		defer C.free(unsafe.Pointer(cs))
		if rc := C.upstage_stream_options_set_record_path(o, cs); rc != C.UPSTAGE_OK {
			C.upstage_stream_options_free(o)
			return nil, newError(Status(rc), "invalid recording path")
		}
	}
	return o, nil
}

// Headers returns the response headers of the stream (nil after Close, and for a replayed
// recording without headers).
func (s *Stream) Headers() Headers {
	st := s.st
	st.busy.Lock()
	defer st.busy.Unlock()
	if st.ptr == nil {
		return nil
	}
	h, _ := headersFrom(C.upstage_stream_headers(st.ptr))
	return h
}

// RateLimit returns what the response's x-ratelimit-* headers said, or nil when it sent
// none.
func (s *Stream) RateLimit() *RateLimit {
	st := s.st
	st.busy.Lock()
	defer st.busy.Unlock()
	if st.ptr == nil {
		return nil
	}
	_, l := headersFrom(C.upstage_stream_headers(st.ptr))
	return l
}

// Timings returns the stream's milestones so far (all of them once it ended). After Close it
// returns what was known when it closed.
func (s *Stream) Timings() Timings {
	st := s.st
	st.busy.Lock()
	defer st.busy.Unlock()
	st.readTimings()
	return st.timings
}

// readTimings copies the timings; the caller holds busy.
func (st *streamState) readTimings() {
	if st.ptr == nil {
		return
	}
	var t C.upstage_timings
	if C.upstage_stream_timings(st.ptr, &t) == C.UPSTAGE_OK {
		st.timings = timingsFrom(&t)
	}
}

// Replay opens a stream over a recording (Request.Record, the chat command's --record, or
// `curl -i` output) instead of the network, decoded as this client would decode a live
// answer. A recorded HTTP error is returned as that error.
func (c *Client) Replay(path string) (*Stream, error) {
	client, err := c.acquire()
	if err != nil {
		return nil, err
	}
	defer c.release()
	cs, err := cString("recording path", path)
	if err != nil {
		return nil, err
	}
	defer C.free(unsafe.Pointer(cs))
	var out *C.upstage_stream
	var cerr C.upstage_error
	var details *C.upstage_error_details
	if rc := C.upstage_stream_replay(client, cs, &out, &cerr, &details); rc != C.UPSTAGE_OK {
		return nil, withDetails(errorFrom(rc, &cerr), details)
	}
	return newStream(context.Background(), nil, out), nil
}

var logMu sync.Mutex
var logOutput func(line string)

//export upstageGoLog
func upstageGoLog(_ unsafe.Pointer, line *C.char) {
	logMu.Lock()
	out := logOutput
	logMu.Unlock()
	if out != nil {
		out(C.GoString(line))
	}
}

// SetLogOutput sends the library's debug log to fn, one line per call (nil: back to stderr).
// It also turns the log on for clients whose Options did not set DebugLog. Lines never
// contain the API key, credential headers or proxy passwords. fn may be called from any
// goroutine and must return quickly.
func SetLogOutput(fn func(line string)) {
	logMu.Lock()
	logOutput = fn
	logMu.Unlock()
	if fn == nil {
		C.upstage_log_set(nil, nil)
		return
	}
	C.upstage_log_set(C.upstage_log_callback(C.upstageGoLog), nil)
}
