package upstage

/*
#include "upstage.h"
*/
import "C"

import "context"

// Completion is a whole answer, from Client.Complete.
type Completion struct {
	// Content is the answer text.
	Content string
	// Reasoning is the reasoning text ("" when the model sent none).
	Reasoning string
	// Refusal is the refusal text ("" when the model did not refuse).
	Refusal string
	// FinishReason is why generation stopped ("stop", "length", "tool_calls", ...).
	FinishReason string
	// Model is the model that answered, as the server named it.
	Model string
	// ID is the completion's id; RequestID the response's x-request-id header.
	ID        string
	RequestID string
	// Usage is nil when the server did not report it.
	Usage     *Usage
	ToolCalls []ToolCall
	// Headers are the response headers; RateLimit what their x-ratelimit-* fields said (nil
	// when nothing); Timings how long the answer took.
	Headers   Headers
	RateLimit *RateLimit
	Timings   Timings
}

// ToolCall is a whole tool call, its arguments assembled from every fragment.
type ToolCall struct {
	// ID is the call's id, to answer with a "tool" message.
	ID string
	// Name is the function to call.
	Name string
	// Arguments is the JSON text of the arguments.
	Arguments string
}

// Complete sends req as a non-streaming request ("stream": false) and waits for the whole
// answer; a server that streams anyway is drained into the same result. ctx cancels it at
// any point: while connecting, between retries, waiting for the answer or reading it.
func (c *Client) Complete(ctx context.Context, req Request) (*Completion, error) {
	call, err := c.begin(ctx, req)
	if err != nil {
		return nil, err
	}
	defer call.end()
	stopWatching := watchContext(ctx, call.token)
	options, err := streamOptions(call.token, req.Record)
	if err != nil {
		stopWatching()
		C.upstage_cancel_token_free(call.token)
		return nil, err
	}
	defer C.upstage_stream_options_free(options)
	var out *C.upstage_completion
	var cerr C.upstage_error
	var details *C.upstage_error_details
	rc := C.upstage_chat_complete_with(call.client, call.req, options, &out, &cerr, &details)
	// The watcher must be gone before the token is freed.
	stopWatching()
	C.upstage_cancel_token_free(call.token)
	if rc != C.UPSTAGE_OK {
		e := withDetails(errorFrom(rc, &cerr), details)
		if e.Status == StatusCancelled {
			e.cause = ctx.Err()
		}
		return nil, e
	}
	defer C.upstage_completion_free(out)
	return completionFrom(out), nil
}

// call holds what one C call needs: the C request, the client (kept alive until end) and a
// cancel token, whose ownership passes to the caller.
type call struct {
	req    *C.upstage_request
	client *C.upstage_client
	token  *C.upstage_cancel_token
	c      *Client
}

// begin checks ctx, builds the C request, takes a reference on the client and makes a
// cancel token. end frees the request and drops the reference (not the token).
func (c *Client) begin(ctx context.Context, req Request) (*call, error) {
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
	client, err := c.acquire()
	if err != nil {
		C.upstage_request_free(creq)
		return nil, err
	}
	token := C.upstage_cancel_token_new()
	if token == nil {
		C.upstage_request_free(creq)
		c.release()
		return nil, newError(StatusPanic, "upstage_cancel_token_new failed")
	}
	return &call{req: creq, client: client, token: token, c: c}, nil
}

func (k *call) end() {
	C.upstage_request_free(k.req)
	k.c.release()
}

// watchContext cancels token when ctx ends, until the returned function is called; that
// function returns only once the watcher can no longer touch token.
func watchContext(ctx context.Context, token *C.upstage_cancel_token) func() {
	if ctx.Done() == nil {
		return func() {}
	}
	finished := make(chan struct{})
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		select {
		case <-ctx.Done():
			C.upstage_cancel_token_cancel(token)
		case <-finished:
		}
	}()
	return func() {
		close(finished)
		<-gone
	}
}

func completionFrom(c *C.upstage_completion) *Completion {
	text := func(f func(*C.upstage_completion, *C.size_t) *C.char) string {
		var n C.size_t
		if p := f(c, &n); p != nil {
			return C.GoStringN(p, C.int(n))
		}
		return ""
	}
	out := &Completion{
		Content: text(func(c *C.upstage_completion, n *C.size_t) *C.char {
			return C.upstage_completion_content(c, n)
		}),
		Reasoning: text(func(c *C.upstage_completion, n *C.size_t) *C.char {
			return C.upstage_completion_reasoning(c, n)
		}),
		Refusal: text(func(c *C.upstage_completion, n *C.size_t) *C.char {
			return C.upstage_completion_refusal(c, n)
		}),
		FinishReason: goStringOrEmpty(C.upstage_completion_finish_reason(c)),
		Model:        goStringOrEmpty(C.upstage_completion_model(c)),
		ID:           goStringOrEmpty(C.upstage_completion_id(c)),
		RequestID:    goStringOrEmpty(C.upstage_completion_request_id(c)),
	}
	out.Headers, out.RateLimit = headersFrom(C.upstage_completion_headers(c))
	var t C.upstage_timings
	if C.upstage_completion_timings(c, &t) == C.UPSTAGE_OK {
		out.Timings = timingsFrom(&t)
	}
	var u C.upstage_usage
	if C.upstage_completion_usage(c, &u) == C.UPSTAGE_OK {
		usage := usageFrom(&u)
		out.Usage = &usage
	}
	n := C.upstage_completion_tool_call_count(c)
	for i := C.size_t(0); i < n; i++ {
		call := ToolCall{
			ID:   goStringOrEmpty(C.upstage_completion_tool_call_id(c, i)),
			Name: goStringOrEmpty(C.upstage_completion_tool_call_name(c, i)),
		}
		var argLen C.size_t
		if p := C.upstage_completion_tool_call_arguments(c, i, &argLen); p != nil {
			call.Arguments = C.GoStringN(p, C.int(argLen))
		}
		out.ToolCalls = append(out.ToolCalls, call)
	}
	return out
}
