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
// Next, Text, Err and FinishReason belong to one goroutine at a time. Close may be called
// from any goroutine, even while Next is blocked, and so may the context be cancelled.
type Stream struct {
	st *streamState
}

// streamState is what the context watcher shares. The watcher holds no reference to the
// Stream itself, so a forgotten Stream can still be finalized.
type streamState struct {
	ctx context.Context

	// mu guards ptr against being freed while the watcher (or Close) cancels through it.
	mu  sync.Mutex
	ptr *C.upstage_stream
	// busy is held for the whole of every call that uses the stream (upstage_stream_next
	// blocks in it), so that Close waits for a running Next before freeing.
	busy sync.Mutex

	done      chan struct{} // closed by Close: stops the watcher
	closeOnce sync.Once

	text   string
	err    error
	finish string
	ended  bool
}

// Stream sends req and returns once the response headers are in. The stream is cancelled
// when ctx ends: a blocked Next returns false at once and Err reports ErrCancelled (which
// also matches ctx.Err() with errors.Is). Always Close the stream.
//
// Opening (connecting, sending, waiting for the headers, retries) is not interrupted by
// ctx; bound it with Options.ConnectTimeout and Options.HeadersTimeout.
func (c *Client) Stream(ctx context.Context, req Request) (*Stream, error) {
	if ctx == nil {
		panic("upstage: nil Context")
	}
	if err := ctx.Err(); err != nil {
		return nil, cancelled(err)
	}
	creq, err := req.build()
	if err != nil {
		return nil, err
	}
	defer C.upstage_request_free(creq)
	client, err := c.acquire()
	if err != nil {
		return nil, err
	}
	var out *C.upstage_stream
	var cerr C.upstage_error
	rc := C.upstage_stream_open(client, creq, &out, &cerr)
	c.release()
	if rc != C.UPSTAGE_OK {
		return nil, errorFrom(rc, &cerr)
	}
	st := &streamState{ctx: ctx, ptr: out, done: make(chan struct{})}
	if ctx.Done() != nil {
		go st.watch()
	}
	s := &Stream{st: st}
	runtime.SetFinalizer(s, (*Stream).Close)
	return s, nil
}

// watch cancels the stream when the context ends before the stream is closed.
func (st *streamState) watch() {
	select {
	case <-st.ctx.Done():
		st.cancel()
	case <-st.done:
	}
}

// cancel interrupts the stream, from any goroutine, unless it is already freed.
func (st *streamState) cancel() {
	st.mu.Lock()
	if st.ptr != nil {
		C.upstage_stream_cancel(st.ptr)
	}
	st.mu.Unlock()
}

// Next waits for the next token and reports whether there is one. It returns false at the
// end of the answer, on an error (see Err) and after Close.
func (s *Stream) Next() bool {
	st := s.st
	st.busy.Lock()
	defer st.busy.Unlock()
	st.text = ""
	if st.ended || st.ptr == nil {
		return false
	}
	if err := st.ctx.Err(); err != nil {
		st.fail(cancelled(err))
		return false
	}
	var text *C.char
	var n C.size_t
	var cerr C.upstage_error
	switch rc := C.upstage_stream_next(st.ptr, &text, &n, &cerr); rc {
	case C.UPSTAGE_OK:
		st.text = C.GoStringN(text, C.int(n))
		return true
	case C.UPSTAGE_DONE:
		st.ended = true
		st.readFinish()
		return false
	default:
		e := errorFrom(rc, &cerr)
		if e.Status == StatusCancelled {
			e.cause = st.ctx.Err()
		}
		st.fail(e)
		return false
	}
}

func (st *streamState) fail(err error) {
	st.ended = true
	st.err = err
	st.readFinish()
}

// readFinish copies the finish reason; the caller holds busy.
func (st *streamState) readFinish() {
	if st.ptr != nil {
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
		defer st.busy.Unlock()
		st.readFinish()
		if !st.ended {
			st.ended = true
			st.err = newError(StatusCancelled, "the stream was closed")
		}
		st.mu.Lock()
		C.upstage_stream_free(st.ptr)
		st.ptr = nil
		st.mu.Unlock()
	})
}
