package upstage

/*
#include <stdlib.h>
#include "upstage.h"
*/
import "C"

import (
	"encoding/json"
	"unsafe"
)

// Choice is one answer of a request. A request asks for several with the "n" parameter
// (Params: {"n": 2}); Completion.Choices holds them all, ordered by index, and the
// Completion's own fields repeat choice 0.
type Choice struct {
	// Index is the answer's number, 0 to n-1.
	Index int
	// Content, Reasoning and Refusal are the answer's texts.
	Content   string
	Reasoning string
	Refusal   string
	// FinishReason is why this answer stopped ("" when the server did not say).
	FinishReason string
	// ToolCalls are the tools the model asked to call, in order.
	ToolCalls []ToolCall
	// Logprobs is nil unless asked for (Params: {"logprobs": true}) and sent.
	Logprobs *Logprobs
}

// Logprobs are the log probabilities of a choice's tokens.
type Logprobs struct {
	// Content has one entry per content token, Refusal one per refusal token.
	Content []TokenLogprob
	Refusal []TokenLogprob
}

// TokenLogprob is one token and its natural-log probability.
type TokenLogprob struct {
	Token   string
	Logprob float64
	// Bytes are the token's UTF-8 bytes, nil when the server did not send them.
	Bytes []byte
	// TopLogprobs are the most likely tokens at this position (Params: {"top_logprobs": k}).
	TopLogprobs []TokenLogprob
}

// Tool returns the "tool" message that answers the tool call toolCallID with content.
func Tool(toolCallID, content string) Message {
	return Message{Role: "tool", Content: content, ToolCallID: toolCallID}
}

// Message returns the answer (choice 0) as the assistant message that continues the
// conversation: its content and its tool calls. Append it to the request's messages,
// then one Tool message per call.
func (c *Completion) Message() Message {
	if len(c.Choices) == 0 {
		return Message{Role: "assistant", Content: c.Content, ToolCalls: c.ToolCalls}
	}
	return c.Choices[0].Message()
}

// Message returns the choice as the assistant message that continues the conversation.
// The reasoning is left out, as most servers want it; see MessageWithReasoning.
func (c *Choice) Message() Message {
	return Message{Role: "assistant", Content: c.Content, ToolCalls: c.ToolCalls}
}

// MessageWithReasoning is Message plus the reasoning, sent as reasoning_content, for
// servers that want it back.
func (c *Choice) MessageWithReasoning() Message {
	m := c.Message()
	m.Reasoning = c.Reasoning
	return m
}

// needsJSON reports whether the message has more than a role and a text content.
func (m *Message) needsJSON() bool {
	return m.ToolCallID != "" || len(m.ToolCalls) > 0 || m.Reasoning != ""
}

// json encodes the message as the chat API wants it.
func (m *Message) json() (string, error) {
	obj := map[string]any{"role": m.Role, "content": m.Content}
	if len(m.ToolCalls) > 0 {
		if m.Content == "" {
			obj["content"] = nil
		}
		calls := make([]any, 0, len(m.ToolCalls))
		for _, t := range m.ToolCalls {
			calls = append(calls, map[string]any{
				"id":       t.ID,
				"type":     "function",
				"function": map[string]any{"name": t.Name, "arguments": t.Arguments},
			})
		}
		obj["tool_calls"] = calls
	}
	if m.ToolCallID != "" {
		obj["tool_call_id"] = m.ToolCallID
	}
	if m.Reasoning != "" {
		obj["reasoning_content"] = m.Reasoning
	}
	text, err := json.Marshal(obj)
	return string(text), err
}

// addJSON appends the message to req through its JSON form.
func (m *Message) addJSON(req *C.upstage_request) error {
	text, err := m.json()
	if err != nil {
		return newError(StatusInvalidArgument, "message: "+err.Error())
	}
	ctext := C.CString(text) // JSON text never holds a raw NUL
	defer C.free(unsafe.Pointer(ctext))
	if rc := C.upstage_request_add_message_json(req, ctext); rc != C.UPSTAGE_OK {
		return newError(Status(rc), "invalid message")
	}
	return nil
}

// choicesFrom reads every choice of a C completion.
func choicesFrom(c *C.upstage_completion) []Choice {
	n := C.upstage_completion_choice_count(c)
	choices := make([]Choice, 0, int(n))
	for i := C.size_t(0); i < n; i++ {
		text := func(p *C.char, n C.size_t) string {
			if p == nil {
				return ""
			}
			return C.GoStringN(p, C.int(n))
		}
		var n1, n2, n3 C.size_t
		ch := Choice{Index: int(C.upstage_completion_choice_index(c, i))}
		ch.Content = text(C.upstage_completion_choice_content(c, i, &n1), n1)
		ch.Reasoning = text(C.upstage_completion_choice_reasoning(c, i, &n2), n2)
		ch.Refusal = text(C.upstage_completion_choice_refusal(c, i, &n3), n3)
		ch.FinishReason = goStringOrEmpty(C.upstage_completion_choice_finish_reason(c, i))
		calls := C.upstage_completion_choice_tool_call_count(c, i)
		for k := C.size_t(0); k < calls; k++ {
			var t C.upstage_tool_call
			if C.upstage_completion_tool_call(c, i, k, &t) != C.UPSTAGE_OK {
				continue
			}
			ch.ToolCalls = append(ch.ToolCalls, ToolCall{
				ID:             goStringOrEmpty(t.id),
				Name:           goStringOrEmpty(t.name),
				Arguments:      C.GoStringN(t.arguments, C.int(t.arguments_len)),
				ArgumentsValid: t.arguments_are_json != 0,
			})
		}
		ch.Logprobs = readLogprobs(
			func(which C.upstage_logprobs_kind) C.size_t {
				return C.upstage_completion_logprob_count(c, i, which)
			},
			func(which C.upstage_logprobs_kind, k C.size_t, out *C.upstage_logprob) C.upstage_status {
				return C.upstage_completion_logprob(c, i, which, k, out)
			},
			func(which C.upstage_logprobs_kind, k, j C.size_t, out *C.upstage_logprob) C.upstage_status {
				return C.upstage_completion_top_logprob(c, i, which, k, j, out)
			},
		)
		choices = append(choices, ch)
	}
	return choices
}

// readLogprobs reads both token lists through the given accessors; nil when both are empty.
func readLogprobs(
	count func(C.upstage_logprobs_kind) C.size_t,
	entry func(C.upstage_logprobs_kind, C.size_t, *C.upstage_logprob) C.upstage_status,
	top func(C.upstage_logprobs_kind, C.size_t, C.size_t, *C.upstage_logprob) C.upstage_status,
) *Logprobs {
	list := func(which C.upstage_logprobs_kind) []TokenLogprob {
		n := count(which)
		var out []TokenLogprob
		for k := C.size_t(0); k < n; k++ {
			var lp C.upstage_logprob
			if entry(which, k, &lp) != C.UPSTAGE_OK {
				continue
			}
			t := tokenFrom(&lp)
			for j := C.size_t(0); j < lp.top_count; j++ {
				var alt C.upstage_logprob
				if top(which, k, j, &alt) == C.UPSTAGE_OK {
					t.TopLogprobs = append(t.TopLogprobs, tokenFrom(&alt))
				}
			}
			out = append(out, t)
		}
		return out
	}
	lp := &Logprobs{
		Content: list(C.UPSTAGE_LOGPROBS_CONTENT),
		Refusal: list(C.UPSTAGE_LOGPROBS_REFUSAL),
	}
	if len(lp.Content) == 0 && len(lp.Refusal) == 0 {
		return nil
	}
	return lp
}

func tokenFrom(lp *C.upstage_logprob) TokenLogprob {
	t := TokenLogprob{
		Token:   C.GoStringN(lp.token, C.int(lp.token_len)),
		Logprob: float64(lp.logprob),
	}
	if lp.has_bytes != 0 {
		t.Bytes = C.GoBytes(unsafe.Pointer(lp.bytes), C.int(lp.bytes_len))
		if t.Bytes == nil {
			t.Bytes = []byte{}
		}
	}
	return t
}

// NextChoiceEvent is NextEvent for requests with several choices: it reports the events
// of every choice (NextEvent keeps to choice 0), each with its Choice; usage comes with
// choice 0.
func (s *Stream) NextChoiceEvent() bool {
	return s.st.pullEvent(func(st *streamState, cerr *C.upstage_error) (C.upstage_status, Event) {
		var ev C.upstage_choice_event
		rc := C.upstage_stream_next_choice_event(st.ptr, &ev, cerr)
		if rc != C.UPSTAGE_OK {
			return rc, Event{}
		}
		e := st.eventFrom(&ev.event)
		e.Choice = int(ev.choice)
		return rc, e
	})
}

// eventLogprobs reads the log probabilities of the stream's last event.
func (st *streamState) eventLogprobs() *Logprobs {
	return readLogprobs(
		func(which C.upstage_logprobs_kind) C.size_t {
			return C.upstage_stream_event_logprob_count(st.ptr, which)
		},
		func(which C.upstage_logprobs_kind, k C.size_t, out *C.upstage_logprob) C.upstage_status {
			return C.upstage_stream_event_logprob(st.ptr, which, k, out)
		},
		func(which C.upstage_logprobs_kind, k, j C.size_t, out *C.upstage_logprob) C.upstage_status {
			return C.upstage_stream_event_top_logprob(st.ptr, which, k, j, out)
		},
	)
}

// Snapshot returns what the stream has assembled so far, as a Completion: every choice's
// text (including the tokens Next returned), tool calls, finish reasons, log probabilities
// and the usage. After Next returned false with an error, it is what arrived before the
// failure.
func (s *Stream) Snapshot() (*Completion, error) {
	st := s.st
	st.busy.Lock()
	defer st.busy.Unlock()
	if st.ptr == nil {
		return nil, newError(StatusInvalidArgument, "the stream is closed")
	}
	var out *C.upstage_completion
	var cerr C.upstage_error
	if rc := C.upstage_stream_snapshot(st.ptr, &out, &cerr); rc != C.UPSTAGE_OK {
		return nil, errorFrom(rc, &cerr)
	}
	defer C.upstage_completion_free(out)
	return completionFrom(out), nil
}
