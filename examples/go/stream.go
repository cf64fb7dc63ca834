package upstage

/*
#include "upstage.h"
*/
import "C"

import (
	"context"
	"runtime"
	"strings"
	"sync"
)

// Stream is the answer to a chat request, read token by token like a bufio.Scanner:
//
//	for s.Next() {
//		fmt.Print(s.Text())
//	}
//	if err := s.Err(); err != nil { ... }
//
// Next, NextEvent and the other methods belong to one goroutine at a time. Close may be
// called from any goroutine, even while Next is blocked, and so may the context be
// cancelled.
type Stream struct {
	st *streamState
}

// streamState is what the context watcher shares. The watcher holds no reference to the
// Stream itself, so a forgotten Stream can still be finalized.
type streamState struct {
	ctx context.Context

	// mu guards token against being freed while the watcher (or Close) cancels through it.
	mu    sync.Mutex
	token *C.upstage_cancel_token
	// busy is held for the whole of every call that uses ptr (upstage_stream_next blocks in
	// it), so that Close waits for a running Next before freeing the stream.
	busy sync.Mutex
	ptr  *C.upstage_stream

	done      chan struct{} // closed by Close (or a failed open): stops the watcher
	closeOnce sync.Once

	text    string
	event   Event
	err     error
	finish  string
	ended   bool
	timings Timings
}

// Stream sends req and returns once the response headers are in. Everything is cancelled
// when ctx ends: connecting, retrying, waiting for the headers (Stream then fails with
// ErrCancelled) and reading (a blocked Next returns false at once and Err reports
// ErrCancelled). Such errors also match ctx.Err() with errors.Is. Always Close the stream.
func (c *Client) Stream(ctx context.Context, req Request) (*Stream, error) {
	call, err := c.begin(ctx, req)
	if err != nil {
		return nil, err
	}
	defer call.end()
	client, creq, token := call.client, call.req, call.token
	st := &streamState{ctx: ctx, token: token, done: make(chan struct{})}
	if ctx.Done() != nil {
		go st.watch()
	}
	options, err := streamOptions(token, req.Record)
	if err != nil {
		st.ended = true
		st.close()
		return nil, err
	}
	defer C.upstage_stream_options_free(options)
	var out *C.upstage_stream
	var cerr C.upstage_error
	var details *C.upstage_error_details
	if rc := C.upstage_stream_open_with(client, creq, options, &out, &cerr, &details); rc != C.UPSTAGE_OK {
		st.ended = true
		st.close()
		e := withDetails(errorFrom(rc, &cerr), details)
		if e.Status == StatusCancelled {
			e.cause = ctx.Err()
		}
		return nil, e
	}
	return st.open(out), nil
}

// newStream wraps a C stream opened without a cancel token (a replay).
func newStream(ctx context.Context, token *C.upstage_cancel_token, out *C.upstage_stream) *Stream {
	st := &streamState{ctx: ctx, token: token, done: make(chan struct{})}
	return st.open(out)
}

// open attaches the C stream to st and returns the Stream that owns it.
func (st *streamState) open(out *C.upstage_stream) *Stream {
	st.ptr = out
	s := &Stream{st: st}
	runtime.SetFinalizer(s, (*Stream).Close)
	return s
}

// watch cancels the stream when the context ends before the stream is closed.
func (st *streamState) watch() {
	select {
	case <-st.ctx.Done():
		st.cancel()
	case <-st.done:
	}
}

// cancel interrupts the stream (or its opening), from any goroutine, unless it is freed.
func (st *streamState) cancel() {
	st.mu.Lock()
	if st.token != nil {
		C.upstage_cancel_token_cancel(st.token)
	}
	st.mu.Unlock()
}

// Next waits for the next token of the answer and reports whether there is one. It
// returns false at the end of the answer, on an error (see Err) and after Close. Reasoning,
// tool calls and the other events are skipped; see NextEvent.
func (s *Stream) Next() bool {
	st := s.st
	st.busy.Lock()
	defer st.busy.Unlock()
	st.text = ""
	if !st.ready() {
		return false
	}
	var text *C.char
	var n C.size_t
	var cerr C.upstage_error
	rc := C.upstage_stream_next(st.ptr, &text, &n, &cerr)
	if rc == C.UPSTAGE_OK {
		st.text = C.GoStringN(text, C.int(n))
		return true
	}
	st.end(rc, &cerr)
	return false
}

// ready reports whether the stream may be read; the caller holds busy.
func (st *streamState) ready() bool {
	if st.ended || st.ptr == nil {
		return false
	}
	if err := st.ctx.Err(); err != nil {
		st.ended = true
		st.err = cancelled(err)
		st.readFinish()
		return false
	}
	return true
}

// end records how the stream ended: UPSTAGE_DONE or an error. The caller holds busy.
func (st *streamState) end(rc C.upstage_status, cerr *C.upstage_error) {
	st.ended = true
	st.readTimings()
	if rc != C.UPSTAGE_DONE {
		e := withDetails(errorFrom(rc, cerr), C.upstage_stream_error_details(st.ptr))
		if e.Status == StatusCancelled {
			e.cause = st.ctx.Err()
		}
		st.err = e
	}
	st.readFinish()
}

// readFinish copies the finish reason; the caller holds busy.
func (st *streamState) readFinish() {
	if st.ptr != nil && st.finish == "" {
		if reason := C.upstage_stream_finish_reason(st.ptr); reason != nil {
			st.finish = C.GoString(reason)
		}
	}
}

// Text returns the token the last successful Next produced (a copy: keep it as long as
// needed).
func (s *Stream) Text() string {
	return s.st.text
}

// Err returns the error that ended the stream, or nil when it finished normally or has
// not finished yet.
func (s *Stream) Err() error {
	st := s.st
	st.busy.Lock()
	defer st.busy.Unlock()
	return st.err
}

// FinishReason returns why generation stopped ("stop", "length", "tool_calls" or whatever
// the server said), or "" until the server has said it.
func (s *Stream) FinishReason() string {
	st := s.st
	st.busy.Lock()
	defer st.busy.Unlock()
	st.readFinish()
	return st.finish
}

// Model returns the model that answers, as the server named it in its chunks, or "" until
// known (and after Close).
func (s *Stream) Model() string {
	st := s.st
	st.busy.Lock()
	defer st.busy.Unlock()
	if st.ptr == nil {
		return ""
	}
	return goStringOrEmpty(C.upstage_stream_model(st.ptr))
}

// RequestID returns the response's x-request-id header, or "" when there was none (and
// after Close).
func (s *Stream) RequestID() string {
	st := s.st
	st.busy.Lock()
	defer st.busy.Unlock()
	if st.ptr == nil {
		return ""
	}
	return goStringOrEmpty(C.upstage_stream_request_id(st.ptr))
}

// Usage returns the token usage once the server reported it, usually at the end; servers
// report it when asked with the parameter "stream_options": {"include_usage": true}.
func (s *Stream) Usage() (Usage, bool) {
	st := s.st
	st.busy.Lock()
	defer st.busy.Unlock()
	if st.ptr == nil {
		return Usage{}, false
	}
	var u C.upstage_usage
	if C.upstage_stream_usage(st.ptr, &u) != C.UPSTAGE_OK {
		return Usage{}, false
	}
	return usageFrom(&u), true
}

// ReadAll reads the rest of the answer and returns it; the error is Err's.
func (s *Stream) ReadAll() (string, error) {
	var b strings.Builder
	for s.Next() {
		b.WriteString(s.Text())
	}
	return b.String(), s.Err()
}

// Close cancels the stream if it is still running, closes the connection and frees the
// stream. It is idempotent, safe from any goroutine (a Next blocked in another goroutine
// returns false with ErrCancelled), and always returns nil. FinishReason stays available.
func (s *Stream) Close() error {
	runtime.SetFinalizer(s, nil)
	s.st.close()
	return nil
}

func (st *streamState) close() {
	st.closeOnce.Do(func() {
		close(st.done)
		st.cancel() // wakes a Next blocked in another goroutine
		st.busy.Lock()
		st.readFinish()
		st.readTimings()
		if !st.ended {
			st.ended = true
			st.err = newError(StatusCancelled, "the stream was closed")
		}
		C.upstage_stream_free(st.ptr)
		st.ptr = nil
		st.busy.Unlock()

		st.mu.Lock()
		C.upstage_cancel_token_free(st.token)
		st.token = nil
		st.mu.Unlock()
	})
}

func goStringOrEmpty(s *C.char) string {
	if s == nil {
		return ""
	}
	return C.GoString(s)
}
