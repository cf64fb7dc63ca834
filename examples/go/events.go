package upstage

/*
#include "upstage.h"
*/
import "C"

// EventKind is what an Event carries.
type EventKind int

// The kinds of Event, in the C library's numbering.
const (
	// EventContent is answer text (Text).
	EventContent EventKind = C.UPSTAGE_EVENT_CONTENT
	// EventReasoning is reasoning text (Text), from delta.reasoning or
	// delta.reasoning_content.
	EventReasoning EventKind = C.UPSTAGE_EVENT_REASONING
	// EventToolCall is a fragment of a tool call: ToolIndex, ToolID and ToolName (usually
	// only in a call's first fragment) and a piece of the JSON arguments (Text). Fragments
	// with the same ToolIndex form one call.
	EventToolCall EventKind = C.UPSTAGE_EVENT_TOOL_CALL
	// EventRefusal is refusal text (Text).
	EventRefusal EventKind = C.UPSTAGE_EVENT_REFUSAL
	// EventFinish is why generation stopped (Text): "stop", "length", "tool_calls", ...
	EventFinish EventKind = C.UPSTAGE_EVENT_FINISH
	// EventUsage is the token usage (Usage).
	EventUsage EventKind = C.UPSTAGE_EVENT_USAGE
	// EventLogprobs is the log probabilities of the tokens of a chunk (Logprobs), when
	// asked for (Params: {"logprobs": true}).
	EventLogprobs EventKind = C.UPSTAGE_EVENT_LOGPROBS
)

// String returns the kind's name: "content", "reasoning", "tool_call", "refusal",
// "finish", "usage", "logprobs".
func (k EventKind) String() string {
	switch k {
	case EventContent:
		return "content"
	case EventReasoning:
		return "reasoning"
	case EventToolCall:
		return "tool_call"
	case EventRefusal:
		return "refusal"
	case EventFinish:
		return "finish"
	case EventUsage:
		return "usage"
	case EventLogprobs:
		return "logprobs"
	}
	return "unknown"
}

// Event is one thing a stream reported, in the order the server sent it.
type Event struct {
	// Kind says which of the other fields are set.
	Kind EventKind
	// Text is the content, reasoning, refusal or finish reason, or a tool call's arguments
	// fragment.
	Text string
	// ToolIndex, ToolID and ToolName describe an EventToolCall; ToolID and ToolName are ""
	// in fragments that do not carry them.
	ToolIndex int
	ToolID    string
	ToolName  string
	// Usage is set for EventUsage.
	Usage Usage
	// Logprobs is set for EventLogprobs.
	Logprobs *Logprobs
	// Choice is the choice the event belongs to: always 0 from NextEvent, any from
	// NextChoiceEvent.
	Choice int
}

// Usage is the token usage the server reported.
type Usage struct {
	// PromptTokens is the number of tokens in the prompt.
	PromptTokens int64
	// CompletionTokens is the number of tokens generated.
	CompletionTokens int64
	// TotalTokens is prompt plus completion.
	TotalTokens int64
	// ReasoningTokens and CachedTokens are -1 when the server did not say.
	ReasoningTokens int64
	CachedTokens    int64
}

func usageFrom(u *C.upstage_usage) Usage {
	clamp := func(v C.uint64_t) int64 {
		if uint64(v) > 1<<63-1 {
			return 1<<63 - 1
		}
		return int64(v)
	}
	return Usage{
		PromptTokens:     clamp(u.prompt_tokens),
		CompletionTokens: clamp(u.completion_tokens),
		TotalTokens:      clamp(u.total_tokens),
		ReasoningTokens:  int64(u.reasoning_tokens),
		CachedTokens:     int64(u.cached_tokens),
	}
}

// NextEvent waits for the next event of any kind (content, reasoning, tool-call fragment,
// refusal, finish reason, usage) and reports whether there is one; read it with Event. It
// ends like Next, and may be mixed with Next (which skips all but content).
func (s *Stream) NextEvent() bool {
	return s.st.pullEvent(func(st *streamState, cerr *C.upstage_error) (C.upstage_status, Event) {
		var ev C.upstage_event
		rc := C.upstage_stream_next_event(st.ptr, &ev, cerr)
		if rc != C.UPSTAGE_OK {
			return rc, Event{}
		}
		return rc, st.eventFrom(&ev)
	})
}

// pullEvent reads one event with pull (which converts it only when it reports
// UPSTAGE_OK) under the stream's lock, and ends the stream on anything else.
func (st *streamState) pullEvent(pull func(*streamState, *C.upstage_error) (C.upstage_status, Event)) bool {
	st.busy.Lock()
	defer st.busy.Unlock()
	st.event = Event{}
	if !st.ready() {
		return false
	}
	var cerr C.upstage_error
	rc, e := pull(st, &cerr)
	if rc != C.UPSTAGE_OK {
		st.end(rc, &cerr)
		return false
	}
	st.event = e
	return true
}

// eventFrom converts a C event; the caller holds busy.
func (st *streamState) eventFrom(ev *C.upstage_event) Event {
	e := Event{Kind: EventKind(ev.kind), ToolIndex: int(ev.tool_index)}
	if ev.text != nil {
		e.Text = C.GoStringN(ev.text, C.int(ev.len))
	}
	switch e.Kind {
	case EventToolCall:
		e.ToolID = goStringOrEmpty(ev.tool_id)
		e.ToolName = goStringOrEmpty(ev.tool_name)
	case EventUsage:
		e.Usage = usageFrom(&ev.usage)
	case EventLogprobs:
		e.Logprobs = st.eventLogprobs()
	}
	return e
}

// Event returns the event the last successful NextEvent produced.
func (s *Stream) Event() Event {
	return s.st.event
}
