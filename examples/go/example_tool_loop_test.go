package upstage_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"

	upstage "github.com/upstage-rs/upstage/examples/go"
)

// A two-step tool loop: the model asks for a tool, the program runs it and sends the
// result back, the model answers. The test server plays the model.
func ExampleCompletion_Message() {
	var turn int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		if atomic.AddInt32(&turn, 1) == 1 {
			fmt.Fprint(w, `data: {"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Seoul\"}"}}]}}]}`+"\n\n")
			fmt.Fprint(w, `data: {"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}`+"\n\ndata: [DONE]\n\n")
			return
		}
		fmt.Fprint(w, `data: {"choices":[{"index":0,"delta":{"content":"Clear skies in Seoul."},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
	}))
	defer server.Close()

	client, err := upstage.NewClient(upstage.Options{BaseURL: server.URL + "/v1", Proxy: "none"})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()
	req := upstage.Request{
		Model:    "solar-pro4",
		Messages: []upstage.Message{upstage.User("What is the weather in Seoul?")},
		Params: map[string]any{"tools": []any{map[string]any{
			"type": "function",
			"function": map[string]any{
				"name":       "get_weather",
				"parameters": map[string]any{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}},
			},
		}}},
	}
	for step := 0; step < 4; step++ {
		answer, err := client.Complete(ctx, req)
		if err != nil {
			log.Fatal(err)
		}
		if len(answer.ToolCalls) == 0 {
			fmt.Println(answer.Content)
			return
		}
		req.Messages = append(req.Messages, answer.Message())
		for _, call := range answer.ToolCalls {
			result := `{"error":"unknown tool"}`
			if call.Name == "get_weather" && call.ArgumentsValid && strings.Contains(call.Arguments, "Seoul") {
				result = `{"sky":"clear","celsius":21}`
			}
			fmt.Println("called", call.Name, call.Arguments)
			req.Messages = append(req.Messages, upstage.Tool(call.ID, result))
		}
	}
	// Output:
	// called get_weather {"city":"Seoul"}
	// Clear skies in Seoul.
}
