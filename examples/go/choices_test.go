package upstage

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"
)

// twoChoices streams two interleaved answers with log probabilities, as Azure OpenAI does
// for "n": 2.
func twoChoices(w http.ResponseWriter) {
	s := startSSE(w)
	chunk := func(index int, delta map[string]any, logprobs any, finish any) {
		choice := map[string]any{"index": index, "delta": delta, "finish_reason": finish}
		if logprobs != nil {
			choice["logprobs"] = logprobs
		}
		body, _ := json.Marshal(map[string]any{
			"id": "chatcmpl-2", "object": "chat.completion.chunk", "model": "solar-test",
			"choices": []any{choice},
		})
		s.data(string(body))
	}
	token := func(text string, lp float64) any {
		bytes := []int{}
		for _, b := range []byte(text) {
			bytes = append(bytes, int(b))
		}
		return map[string]any{"content": []any{map[string]any{
			"token": text, "logprob": lp, "bytes": bytes,
			"top_logprobs": []any{map[string]any{"token": text, "logprob": lp, "bytes": nil}},
		}}}
	}
	chunk(0, map[string]any{"content": "V"}, token("V", -4.1), nil)
	chunk(1, map[string]any{"content": "Tur"}, token("Tur", -0.6), nil)
	chunk(0, map[string]any{"content": "iolet"}, token("iolet", -0.05), nil)
	chunk(1, map[string]any{"content": "quoise"}, token("quoise", -0.01), nil)
	chunk(0, map[string]any{}, nil, "stop")
	chunk(1, map[string]any{}, nil, "length")
	s.done()
}

func TestTokensAreChoiceZerosAndCompleteGivesEveryChoice(t *testing.T) {
	client, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		if body["stream"] == false {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"id":"c","object":"chat.completion","model":"m","choices":[` +
				`{"index":1,"message":{"role":"assistant","content":"Turquoise"},"finish_reason":"length"},` +
				`{"index":0,"message":{"role":"assistant","content":"Violet"},"finish_reason":"stop"}]}`))
			return
		}
		twoChoices(w)
	})
	ctx := context.Background()
	req := Request{Messages: []Message{User("a color?")}, Params: map[string]any{"n": 2}}
	stream, err := client.Stream(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	text, err := stream.ReadAll()
	if err != nil || text != "Violet" {
		t.Fatalf("ReadAll = %q, %v", text, err)
	}
	snapshot, err := stream.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	stream.Close()
	if len(snapshot.Choices) != 2 || snapshot.Choices[0].Content != "Violet" ||
		snapshot.Choices[1].Content != "Turquoise" || snapshot.Choices[1].FinishReason != "length" {
		t.Fatalf("snapshot choices = %+v", snapshot.Choices)
	}
	lp := snapshot.Choices[1].Logprobs
	if lp == nil || len(lp.Content) != 2 || lp.Content[0].Token != "Tur" ||
		lp.Content[0].Logprob != -0.6 || string(lp.Content[0].Bytes) != "Tur" ||
		len(lp.Content[0].TopLogprobs) != 1 || lp.Content[0].TopLogprobs[0].Bytes != nil {
		t.Fatalf("choice 1 logprobs = %+v", lp)
	}

	completion, err := client.Complete(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if completion.Content != "Violet" || len(completion.Choices) != 2 ||
		completion.Choices[1].Index != 1 || completion.Choices[1].Content != "Turquoise" {
		t.Fatalf("completion = %+v", completion)
	}
}

func TestChoiceEventsCarryTheirChoice(t *testing.T) {
	client, _ := serve(t, func(w http.ResponseWriter, r *http.Request) { twoChoices(w) })
	stream, err := client.Stream(context.Background(), Request{Messages: []Message{User("?")}})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	texts := map[int]string{}
	logprobEvents := 0
	for stream.NextChoiceEvent() {
		e := stream.Event()
		switch e.Kind {
		case EventContent:
			texts[e.Choice] += e.Text
		case EventLogprobs:
			logprobEvents++
			if e.Logprobs == nil || len(e.Logprobs.Content) != 1 {
				t.Fatalf("logprobs event %+v", e)
			}
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(texts, map[int]string{0: "Violet", 1: "Turquoise"}) || logprobEvents != 4 {
		t.Fatalf("texts %v, %d logprobs events", texts, logprobEvents)
	}
}

func TestAStreamThatFailsStillGivesWhatArrived(t *testing.T) {
	client, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		s := startSSE(w)
		s.token("Partial")
		s.chunk(map[string]any{"tool_calls": []any{map[string]any{
			"index": 0, "id": "c1", "type": "function",
			"function": map[string]any{"name": "lookup", "arguments": `{"q":`},
		}}}, nil)
		s.data(`{"error":{"message":"Provider disconnected","code":502}}`)
	})
	stream, err := client.Stream(context.Background(), Request{Messages: []Message{User("?")}})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	text, err := stream.ReadAll()
	if err == nil || text != "Partial" {
		t.Fatalf("ReadAll = %q, %v", text, err)
	}
	partial, err := stream.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if partial.Content != "Partial" || len(partial.ToolCalls) != 1 ||
		partial.ToolCalls[0].Arguments != `{"q":` || partial.ToolCalls[0].ArgumentsValid {
		t.Fatalf("partial = %+v", partial)
	}
}

func TestToolLoopSendsTheCallsAndTheResultsBack(t *testing.T) {
	requests := make(chan seen, 2)
	var count int32
	client, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		record(requests, r)
		s := startSSE(w)
		if atomic.AddInt32(&count, 1) == 1 {
			s.chunk(map[string]any{"tool_calls": []any{map[string]any{
				"index": 0, "id": "call_1", "type": "function",
				"function": map[string]any{"name": "get_weather", "arguments": `{"city":"Seoul"}`},
			}}}, nil)
			s.finish("tool_calls")
			s.done()
			return
		}
		s.answer("Sunny.")
	})
	ctx := context.Background()
	req := Request{Messages: []Message{User("Weather in Seoul?")}}
	first, err := client.Complete(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.ToolCalls) != 1 || !first.ToolCalls[0].ArgumentsValid {
		t.Fatalf("first answer %+v", first)
	}
	req.Messages = append(req.Messages, first.Message())
	for _, call := range first.ToolCalls {
		req.Messages = append(req.Messages, Tool(call.ID, `{"sky":"clear"}`))
	}
	second, err := client.Complete(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if second.Content != "Sunny." {
		t.Fatalf("second answer %q", second.Content)
	}
	<-requests
	body := (<-requests).body
	var sent struct {
		Messages []map[string]any `json:"messages"`
	}
	if err := json.Unmarshal(body, &sent); err != nil {
		t.Fatal(err)
	}
	want := []map[string]any{
		{"role": "user", "content": "Weather in Seoul?"},
		{"role": "assistant", "content": nil, "tool_calls": []any{map[string]any{
			"id": "call_1", "type": "function",
			"function": map[string]any{"name": "get_weather", "arguments": `{"city":"Seoul"}`},
		}}},
		{"role": "tool", "content": `{"sky":"clear"}`, "tool_call_id": "call_1"},
	}
	if !reflect.DeepEqual(sent.Messages, want) {
		t.Fatalf("second request messages:\n%v\nwant\n%v", sent.Messages, want)
	}
}
