package upstage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// watchdog bounds how long a test waits for something that must happen "at once"; it is a
// liveness bound, not a performance assertion.
const watchdog = 10 * time.Second

// sse writes server-sent events, flushing each one.
type sse struct {
	w http.ResponseWriter
	f http.Flusher
}

func startSSE(w http.ResponseWriter) *sse {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	f := w.(http.Flusher)
	f.Flush()
	return &sse{w: w, f: f}
}

func (s *sse) data(payload string) {
	fmt.Fprintf(s.w, "data: %s\n\n", payload)
	s.f.Flush()
}

func (s *sse) chunk(delta map[string]any, finish any) {
	choice := map[string]any{"index": 0, "delta": delta, "finish_reason": finish}
	body, err := json.Marshal(map[string]any{
		"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "solar-test",
		"choices": []any{choice},
	})
	if err != nil {
		panic(err)
	}
	s.data(string(body))
}

func (s *sse) token(text string)    { s.chunk(map[string]any{"content": text}, nil) }
func (s *sse) finish(reason string) { s.chunk(map[string]any{}, reason) }
func (s *sse) done()                { s.data("[DONE]") }

// answer streams tokens, a "stop" finish and [DONE].
func (s *sse) answer(tokens ...string) {
	for _, t := range tokens {
		s.token(t)
	}
	s.finish("stop")
	s.done()
}

// seen is what a handler received, handed to the test through a channel (the race
// detector cannot see the ordering the network gives).
type seen struct {
	path   string
	header http.Header
	body   []byte
}

// record reads r and sends it to requests without blocking.
func record(requests chan<- seen, r *http.Request) seen {
	body, _ := io.ReadAll(r.Body)
	s := seen{path: r.URL.Path, header: r.Header.Clone(), body: body}
	select {
	case requests <- s:
	default:
	}
	return s
}

// serve starts a test server and a client for it (no proxy, no retries).
func serve(t *testing.T, h http.HandlerFunc) (*Client, *httptest.Server) {
	t.Helper()
	return serveWith(t, Options{}, h)
}

func serveWith(t *testing.T, opts Options, h http.HandlerFunc) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	opts.BaseURL = srv.URL + "/v1"
	opts.Proxy = "none"
	if opts.MaxRetries == 0 {
		opts.MaxRetries = NoRetries
	}
	c, err := NewClient(opts)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, srv
}

func hello() Request {
	return Request{Model: "solar-test", Messages: []Message{User("hello")}}
}

// collect reads the whole stream.
func collect(t *testing.T, s *Stream) ([]string, error) {
	t.Helper()
	var tokens []string
	for s.Next() {
		tokens = append(tokens, s.Text())
	}
	return tokens, s.Err()
}

// within fails the test when f does not return within the watchdog time.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		f()
	}()
	select {
	case <-finished:
	case <-time.After(watchdog):
		t.Fatalf("%s did not return within %v", what, watchdog)
	}
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *upstage.Error", err, err)
	}
	return e
}

func TestStreamUTF8AndRequestBody(t *testing.T) {
	requests := make(chan seen, 1)
	c, _ := serveWith(t, Options{APIKey: "sk-test"}, func(w http.ResponseWriter, r *http.Request) {
		record(requests, r)
		startSSE(w).answer("Hello", ", ", "세계", " 🌍", "!")
	})
	s, err := c.Stream(context.Background(), Request{
		Model:    "solar-test",
		Messages: []Message{System("Be brief."), User("Say hello in Korean 😀")},
		Params: map[string]any{
			"temperature": 0.2,
			"max_tokens":  64,
			"stop":        []string{"\n"},
			"raw":         json.RawMessage(`{"a":[1,2]}`),
		},
	})
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	defer s.Close()
	tokens, err := collect(t, s)
	if err != nil {
		t.Fatalf("Err: %v", err)
	}
	want := []string{"Hello", ", ", "세계", " 🌍", "!"}
	if !reflect.DeepEqual(tokens, want) {
		t.Fatalf("tokens %q, want %q", tokens, want)
	}
	for _, tok := range tokens {
		if !utf8.ValidString(tok) {
			t.Errorf("token %q is not valid UTF-8", tok)
		}
	}
	if got := s.FinishReason(); got != "stop" {
		t.Errorf("FinishReason %q, want stop", got)
	}
	if got := s.Model(); got != "solar-test" {
		t.Errorf("Model %q, want solar-test", got)
	}
	if s.Next() {
		t.Errorf("Next after the end returned true")
	}

	req := <-requests
	if req.path != "/v1/chat/completions" {
		t.Errorf("path %q", req.path)
	}
	var body map[string]any
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatalf("request body %q: %v", req.body, err)
	}
	if got := req.header.Get("Authorization"); got != "Bearer sk-test" {
		t.Errorf("Authorization %q", got)
	}
	if got := req.header.Get("Accept"); got != "text/event-stream" {
		t.Errorf("Accept %q", got)
	}
	wantBody := map[string]any{
		"model": "solar-test",
		"messages": []any{
			map[string]any{"role": "system", "content": "Be brief."},
			map[string]any{"role": "user", "content": "Say hello in Korean 😀"},
		},
		"stream":      true,
		"temperature": 0.2,
		"max_tokens":  float64(64),
		"stop":        []any{"\n"},
		"raw":         map[string]any{"a": []any{float64(1), float64(2)}},
	}
	for k, v := range wantBody {
		if !reflect.DeepEqual(body[k], v) {
			t.Errorf("body[%q] = %#v, want %#v", k, body[k], v)
		}
	}
}

func TestReadAll(t *testing.T) {
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w).answer("a", "b", "c")
	})
	s, err := c.Stream(context.Background(), hello())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	text, err := s.ReadAll()
	if text != "abc" || err != nil {
		t.Fatalf("ReadAll = %q, %v", text, err)
	}
}

func TestHTTPError(t *testing.T) {
	var requests atomic.Int32
	c, _ := serveWith(t, Options{MaxRetries: 2}, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"message":"Invalid API key","type":"invalid_request_error","code":"invalid_api_key"}}`)
	})
	s, err := c.Stream(context.Background(), hello())
	if err == nil {
		s.Close()
		t.Fatal("Stream succeeded on a 401")
	}
	if !errors.Is(err, ErrHTTP) {
		t.Fatalf("error %v is not ErrHTTP", err)
	}
	e := asError(t, err)
	if e.HTTPStatus != 401 {
		t.Errorf("HTTPStatus %d, want 401", e.HTTPStatus)
	}
	if !strings.Contains(e.Message, "Invalid API key") {
		t.Errorf("Message %q does not carry the server's words", e.Message)
	}
	if errors.Is(err, ErrAPI) || errors.Is(err, ErrTimeout) {
		t.Errorf("error %v matches other kinds", err)
	}
	if n := requests.Load(); n != 1 {
		t.Errorf("a 401 was retried: %d requests", n)
	}
}

func TestRetryAfterServerError(t *testing.T) {
	var requests atomic.Int32
	c, _ := serveWith(t, Options{MaxRetries: 1}, func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			w.Header().Set("Retry-After-Ms", "10")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		startSSE(w).answer("second")
	})
	s, err := c.Stream(context.Background(), hello())
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	defer s.Close()
	if text, err := s.ReadAll(); text != "second" || err != nil {
		t.Fatalf("ReadAll = %q, %v", text, err)
	}
	if n := requests.Load(); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

func TestInBandError(t *testing.T) {
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		s := startSSE(w)
		s.token("partial")
		s.data(`{"error":{"message":"boom","type":"server_error"}}`)
	})
	s, err := c.Stream(context.Background(), hello())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tokens, err := collect(t, s)
	if !reflect.DeepEqual(tokens, []string{"partial"}) {
		t.Errorf("tokens %q", tokens)
	}
	if !errors.Is(err, ErrAPI) {
		t.Fatalf("error %v is not ErrAPI", err)
	}
	if e := asError(t, err); !strings.Contains(e.Message, "boom") {
		t.Errorf("error %+v", e)
	}
}

func TestTruncated(t *testing.T) {
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		s := startSSE(w)
		s.token("Hel")
		s.token("lo")
		// The body ends cleanly, without [DONE] and without a finish_reason.
	})
	s, err := c.Stream(context.Background(), hello())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tokens, err := collect(t, s)
	if !reflect.DeepEqual(tokens, []string{"Hel", "lo"}) {
		t.Errorf("tokens %q: the tokens before the truncation must be kept", tokens)
	}
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("error %v is not ErrTruncated", err)
	}
	if s.FinishReason() != "" {
		t.Errorf("FinishReason %q", s.FinishReason())
	}
}

func TestAssembledLimit(t *testing.T) {
	// Choice 1 never stops; only choice 0's tokens are handed out, but choice 1 is kept
	// for the completion, so AssembledLimit ends the stream.
	c, _ := serveWith(t, Options{AssembledLimit: 4096}, func(w http.ResponseWriter, r *http.Request) {
		s := startSSE(w)
		s.token("Hel")
		other := fmt.Sprintf(`{"choices":[{"index":1,"delta":{"content":%q}}]}`, strings.Repeat("x", 1000))
		for i := 0; i < 1000 && r.Context().Err() == nil; i++ {
			s.data(other)
		}
	})
	s, err := c.Stream(context.Background(), hello())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tokens, err := collect(t, s)
	if !reflect.DeepEqual(tokens, []string{"Hel"}) {
		t.Errorf("tokens %q: the tokens before the limit must be kept", tokens)
	}
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("error %v is not ErrLimit", err)
	}
	if !strings.Contains(err.Error(), "4096") {
		t.Errorf("error %q does not name the limit", err)
	}
}

func TestFinishReasonWithoutDone(t *testing.T) {
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		s := startSSE(w)
		s.token("cut")
		s.finish("length")
	})
	s, err := c.Stream(context.Background(), hello())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if text, err := s.ReadAll(); text != "cut" || err != nil {
		t.Fatalf("ReadAll = %q, %v", text, err)
	}
	if got := s.FinishReason(); got != "length" {
		t.Errorf("FinishReason %q", got)
	}
}

// stall returns a handler that sends first (when not empty) and then writes nothing until
// the client goes away or the test ends.
func stall(t *testing.T, first string, beforeHeaders bool) http.HandlerFunc {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice when the client goes away.
		io.Copy(io.Discard, r.Body)
		if !beforeHeaders {
			s := startSSE(w)
			if first != "" {
				s.token(first)
			}
		}
		select {
		case <-r.Context().Done():
		case <-release:
		case <-time.After(2 * watchdog):
		}
	}
}

func TestCancelThroughContextDuringStall(t *testing.T) {
	c, _ := serve(t, stall(t, "first", false))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := c.Stream(ctx, hello())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Next() || s.Text() != "first" {
		t.Fatalf("first token: %v %q %v", false, s.Text(), s.Err())
	}
	time.AfterFunc(100*time.Millisecond, cancel)
	within(t, "Next after cancel", func() {
		if s.Next() {
			t.Errorf("Next returned a token from a stalled server")
		}
	})
	err = s.Err()
	if !errors.Is(err, ErrCancelled) {
		t.Fatalf("error %v is not ErrCancelled", err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v does not match context.Canceled", err)
	}
	if errors.Is(err, ErrTruncated) {
		t.Errorf("a cancel is reported as truncated: %v", err)
	}
}

func TestContextDeadlineDuringStall(t *testing.T) {
	c, _ := serve(t, stall(t, "first", false))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	s, err := c.Stream(ctx, hello())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var tokens []string
	var err2 error
	within(t, "reading a stalled stream with a deadline", func() {
		tokens, err2 = collect(t, s)
	})
	if !reflect.DeepEqual(tokens, []string{"first"}) {
		t.Errorf("tokens %q", tokens)
	}
	if !errors.Is(err2, ErrCancelled) || !errors.Is(err2, context.DeadlineExceeded) {
		t.Fatalf("error %v is not ErrCancelled + context.DeadlineExceeded", err2)
	}
}

func TestCancelWhileWaitingForHeaders(t *testing.T) {
	c, _ := serve(t, stall(t, "", true))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(100*time.Millisecond, cancel)
	var err error
	within(t, "Stream after cancel", func() {
		var s *Stream
		if s, err = c.Stream(ctx, hello()); err == nil {
			s.Close()
		}
	})
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v is not ErrCancelled + context.Canceled", err)
	}
}

func TestContextAlreadyDone(t *testing.T) {
	var requests atomic.Int32
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		startSSE(w).answer("x")
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Stream(ctx, hello()); !errors.Is(err, ErrCancelled) || !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
	if _, err := c.Complete(ctx, hello()); !errors.Is(err, ErrCancelled) {
		t.Fatalf("Complete error %v", err)
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d requests sent with a done context", n)
	}
}

func TestCloseFromAnotherGoroutineDuringNext(t *testing.T) {
	c, _ := serve(t, stall(t, "first", false))
	s, err := c.Stream(context.Background(), hello())
	if err != nil {
		t.Fatal(err)
	}
	if !s.Next() {
		t.Fatalf("no first token: %v", s.Err())
	}
	time.AfterFunc(100*time.Millisecond, func() { s.Close() })
	within(t, "Next after Close", func() {
		if s.Next() {
			t.Errorf("Next returned true")
		}
	})
	if !errors.Is(s.Err(), ErrCancelled) {
		t.Errorf("error %v is not ErrCancelled", s.Err())
	}
	s.Close()
	s.Close()
	if s.Next() || s.NextEvent() {
		t.Errorf("reading a closed stream succeeded")
	}
}

func TestFinalizerClosesAForgottenStream(t *testing.T) {
	gone := make(chan struct{}, 1)
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		startSSE(w).token("first")
		select {
		case <-r.Context().Done():
			gone <- struct{}{}
		case <-time.After(2 * watchdog):
		}
	})
	// A live context keeps its watcher goroutine running; it must not keep the Stream alive.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	func() {
		s, err := c.Stream(ctx, hello())
		if err != nil {
			t.Fatal(err)
		}
		if !s.Next() {
			t.Fatalf("no first token: %v", s.Err())
		}
	}()
	deadline := time.Now().Add(watchdog)
	for time.Now().Before(deadline) {
		runtime.GC()
		select {
		case <-gone:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatalf("the forgotten stream's connection is still open after %v", watchdog)
}

func TestIdleTimeout(t *testing.T) {
	c, _ := serveWith(t, Options{IdleTimeout: 300 * time.Millisecond}, stall(t, "first", false))
	s, err := c.Stream(context.Background(), hello())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var tokens []string
	within(t, "a stream past its idle timeout", func() { tokens, err = collect(t, s) })
	if !reflect.DeepEqual(tokens, []string{"first"}) {
		t.Errorf("tokens %q", tokens)
	}
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("error %v is not ErrTimeout", err)
	}
}

func TestConnectError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c, err := NewClient(Options{BaseURL: "http://" + addr + "/v1", Proxy: "none", MaxRetries: NoRetries})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Stream(context.Background(), hello())
	if !errors.Is(err, ErrConnect) {
		t.Fatalf("error %v is not ErrConnect", err)
	}
}

func TestManyGoroutinesShareOneClient(t *testing.T) {
	// The server echoes the last message back, one rune per token.
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Messages []Message `json:"messages"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || len(body.Messages) == 0 {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		var tokens []string
		for _, r := range body.Messages[len(body.Messages)-1].Content {
			tokens = append(tokens, string(r))
		}
		startSSE(w).answer(tokens...)
	})
	const goroutines, rounds = 16, 4
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*rounds)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < rounds; i++ {
				prompt := fmt.Sprintf("goroutine %d, round %d: 안녕 ✓", g, i)
				s, err := c.Stream(context.Background(), Request{Messages: []Message{User(prompt)}})
				if err != nil {
					errs <- err
					return
				}
				text, err := s.ReadAll()
				s.Close()
				if err != nil {
					errs <- err
				} else if text != prompt {
					errs <- fmt.Errorf("got %q, want %q", text, prompt)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestStreamOutlivesClientClose(t *testing.T) {
	proceed := make(chan struct{})
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		s := startSSE(w)
		s.token("one")
		<-proceed
		s.answer("two")
	})
	s, err := c.Stream(context.Background(), hello())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c.Close()
	c.Close()
	close(proceed)
	if text, err := s.ReadAll(); text != "onetwo" || err != nil {
		t.Fatalf("ReadAll = %q, %v", text, err)
	}
	if _, err := c.Stream(context.Background(), hello()); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Stream on a closed client: %v", err)
	}
}

func TestEvents(t *testing.T) {
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		s := startSSE(w)
		s.chunk(map[string]any{"role": "assistant", "reasoning": "Think"}, nil)
		s.chunk(map[string]any{"reasoning_content": "ing."}, nil)
		s.token("Calling ")
		s.chunk(map[string]any{"tool_calls": []any{map[string]any{
			"index": 0, "id": "call_1", "type": "function",
			"function": map[string]any{"name": "weather", "arguments": `{"city":`},
		}}}, nil)
		s.chunk(map[string]any{"tool_calls": []any{map[string]any{
			"index": 0, "function": map[string]any{"arguments": `"서울"}`},
		}}}, nil)
		s.finish("tool_calls")
		s.data(`{"id":"chatcmpl-1","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}`)
		s.done()
	})
	s, err := c.Stream(context.Background(), hello())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var got []string
	for s.NextEvent() {
		e := s.Event()
		switch e.Kind {
		case EventToolCall:
			got = append(got, fmt.Sprintf("%v %d %q %q %q", e.Kind, e.ToolIndex, e.ToolID, e.ToolName, e.Text))
		case EventUsage:
			got = append(got, fmt.Sprintf("%v %+v", e.Kind, e.Usage))
		default:
			got = append(got, fmt.Sprintf("%v %q", e.Kind, e.Text))
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
	want := []string{
		`reasoning "Think"`,
		`reasoning "ing."`,
		`content "Calling "`,
		`tool_call 0 "call_1" "weather" "{\"city\":"`,
		`tool_call 0 "" "" "\"서울\"}"`,
		`finish "tool_calls"`,
		`usage {PromptTokens:5 CompletionTokens:7 TotalTokens:12 ReasoningTokens:-1 CachedTokens:-1}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	u, ok := s.Usage()
	if !ok || u.TotalTokens != 12 {
		t.Errorf("Usage = %+v, %v", u, ok)
	}
	if s.FinishReason() != "tool_calls" {
		t.Errorf("FinishReason %q", s.FinishReason())
	}
}

func TestUsageNotReported(t *testing.T) {
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		startSSE(w).answer("x")
	})
	s, err := c.Stream(context.Background(), hello())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ReadAll(); err != nil {
		t.Fatal(err)
	}
	if u, ok := s.Usage(); ok {
		t.Errorf("Usage = %+v, true", u)
	}
}

func TestComplete(t *testing.T) {
	requests := make(chan seen, 1)
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		record(requests, r)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req-42")
		io.WriteString(w, `{"id":"cmpl-1","object":"chat.completion","model":"solar-test",
			"choices":[{"index":0,"message":{"role":"assistant","content":"Hi, 세계",
			"tool_calls":[{"id":"call_9","type":"function","function":{"name":"f","arguments":"{}"}}]},
			"finish_reason":"stop"}],
			"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7}}`)
	})
	got, err := c.Complete(context.Background(), hello())
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	var body map[string]any
	if err := json.Unmarshal((<-requests).body, &body); err != nil {
		t.Fatal(err)
	}
	if body["stream"] != false {
		t.Errorf("body stream = %v, want false", body["stream"])
	}
	want := &Completion{
		Content: "Hi, 세계", FinishReason: "stop", Model: "solar-test", ID: "cmpl-1",
		RequestID: "req-42",
		Usage:     &Usage{PromptTokens: 3, CompletionTokens: 4, TotalTokens: 7, ReasoningTokens: -1, CachedTokens: -1},
		ToolCalls: []ToolCall{{ID: "call_9", Name: "f", Arguments: "{}", ArgumentsValid: true}},
	}
	want.Choices = []Choice{{
		Content: "Hi, 세계", FinishReason: "stop", ToolCalls: want.ToolCalls,
	}}
	if got.Headers.Get("x-request-id") != "req-42" || got.Timings.End < 0 {
		t.Errorf("Complete headers %v timings %+v", got.Headers, got.Timings)
	}
	got.Headers, got.Timings = nil, Timings{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Complete =\n%+v\nwant\n%+v", got, want)
	}
}

func TestCompleteCancelledByContext(t *testing.T) {
	c, _ := serve(t, stall(t, "", true))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	var err error
	within(t, "Complete after the deadline", func() {
		_, err = c.Complete(ctx, hello())
	})
	if !errors.Is(err, ErrCancelled) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v is not ErrCancelled + context.DeadlineExceeded", err)
	}
}

func TestCompleteHTTPError(t *testing.T) {
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"message":"bad model"}}`)
	})
	_, err := c.Complete(context.Background(), hello())
	if e := asError(t, err); e.Status != StatusHTTP || e.HTTPStatus != 400 || !strings.Contains(e.Message, "bad model") {
		t.Fatalf("error %+v", e)
	}
}

func TestWebDemo(t *testing.T) {
	requests := make(chan seen, 1)
	c, _ := serveWith(t, Options{WebDemo: true, APIKey: "sk-unused"}, func(w http.ResponseWriter, r *http.Request) {
		record(requests, r)
		startSSE(w).answer("ok")
	})
	messages := []Message{System("Be brief."), User("Hi")}
	s, err := c.Stream(context.Background(), Request{Model: "solar-mini", Messages: messages})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if text, err := s.ReadAll(); text != "ok" || err != nil {
		t.Fatalf("ReadAll = %q, %v", text, err)
	}
	prompt, err := FormatPrompt(messages)
	if err != nil {
		t.Fatal(err)
	}
	req := <-requests
	var body struct {
		Model    string    `json:"model"`
		Messages []Message `json:"messages"`
	}
	if err := json.Unmarshal(req.body, &body); err != nil {
		t.Fatal(err)
	}
	if req.path != "/v1/web/demo/chat/completions" {
		t.Errorf("path %q", req.path)
	}
	if auth := req.header.Get("Authorization"); auth != "" {
		t.Errorf("the web demo sent Authorization %q", auth)
	}
	if body.Model != ResolveModel("solar-mini") {
		t.Errorf("model %q", body.Model)
	}
	if want := []Message{User(prompt)}; !reflect.DeepEqual(body.Messages, want) {
		t.Errorf("messages %+v, want %+v", body.Messages, want)
	}
}

func TestInvalidArguments(t *testing.T) {
	var requests atomic.Int32
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		startSSE(w).answer("x")
	})
	bad := map[string]Request{
		"NUL in content":   {Messages: []Message{User("a\x00b")}},
		"NUL in role":      {Messages: []Message{{Role: "us\x00er", Content: "x"}}},
		"NUL in model":     {Model: "m\x00", Messages: []Message{User("x")}},
		"unencodable":      {Messages: []Message{User("x")}, Params: map[string]any{"f": func() {}}},
		"no messages":      {Model: "m"},
		"bad raw param":    {Messages: []Message{User("x")}, Params: map[string]any{"p": json.RawMessage(`{`)}},
		"NUL in parameter": {Messages: []Message{User("x")}, Params: map[string]any{"p\x00": 1}},
	}
	for name, req := range bad {
		if s, err := c.Stream(context.Background(), req); !errors.Is(err, ErrInvalidArgument) {
			if err == nil {
				s.Close()
			}
			t.Errorf("%s: error %v is not ErrInvalidArgument", name, err)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Errorf("%d invalid requests were sent", n)
	}
}

func TestNewClientErrors(t *testing.T) {
	t.Setenv("UPSTAGE_API_KEY", "")
	t.Setenv("UPSTAGE_BASE_URL", "")
	cases := map[string]Options{
		"missing key for the official API": {BaseURL: "https://api.upstage.ai/v1"},
		"malformed base URL":               {BaseURL: "not a url"},
		"key with a newline":               {BaseURL: "http://127.0.0.1:9/v1", APIKey: "sk-se\ncret"},
		"NUL in base URL":                  {BaseURL: "http://x\x00/v1"},
		"malformed proxy":                  {BaseURL: "http://127.0.0.1:9/v1", Proxy: "::nope::"},
		"missing CA file":                  {BaseURL: "http://127.0.0.1:9/v1", CAFile: "/nonexistent/ca.pem"},
		"negative limit":                   {BaseURL: "http://127.0.0.1:9/v1", EventLimit: -1},
		"negative assembled limit":         {BaseURL: "http://127.0.0.1:9/v1", AssembledLimit: -1},
	}
	for name, opts := range cases {
		c, err := NewClient(opts)
		if err == nil {
			c.Close()
			t.Errorf("%s: NewClient succeeded", name)
			continue
		}
		if !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("%s: error %v is not ErrInvalidArgument", name, err)
		}
		if strings.Contains(err.Error(), "cret") {
			t.Errorf("%s: the key shows in %v", name, err)
		}
	}
}

func TestLineLimit(t *testing.T) {
	c, _ := serveWith(t, Options{LineLimit: 1024}, func(w http.ResponseWriter, r *http.Request) {
		s := startSSE(w)
		s.token("short")
		s.token(strings.Repeat("x", 4096))
		s.done()
	})
	s, err := c.Stream(context.Background(), hello())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tokens, err := collect(t, s)
	if !reflect.DeepEqual(tokens, []string{"short"}) || !errors.Is(err, ErrLimit) {
		t.Fatalf("tokens %q, error %v; want [short], ErrLimit", tokens, err)
	}
}

func TestDefaultModel(t *testing.T) {
	requests := make(chan seen, 1)
	c, _ := serveWith(t, Options{DefaultModel: "my-default"}, func(w http.ResponseWriter, r *http.Request) {
		record(requests, r)
		startSSE(w).answer("x")
	})
	s, err := c.Stream(context.Background(), Request{Messages: []Message{User("hi")}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.ReadAll(); err != nil {
		t.Fatal(err)
	}
	var body struct{ Model string }
	if err := json.Unmarshal((<-requests).body, &body); err != nil || body.Model != "my-default" {
		t.Fatalf("model %q, %v", body.Model, err)
	}
}

func TestOptionsAreAccepted(t *testing.T) {
	c, err := NewClient(Options{
		BaseURL: "http://127.0.0.1:9/v1", APIKey: "sk-x", Proxy: "http://127.0.0.1:3128",
		ConnectTimeout: time.Second, HeadersTimeout: NoLimit, IdleTimeout: 1500 * time.Microsecond,
		TotalTimeout: time.Hour, MaxRetries: 5, DefaultModel: "m", LineLimit: 1 << 20,
		EventLimit: 1 << 22, ErrorBodyLimit: 1 << 10, AssembledLimit: 1 << 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestErrors(t *testing.T) {
	e := &Error{Status: StatusHTTP, HTTPStatus: 429, Message: "HTTP 429: slow down"}
	if got, want := e.Error(), "upstage: http: HTTP 429: slow down"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := (&Error{Status: StatusHTTP, HTTPStatus: 502}).Error(), "upstage: http: HTTP 502"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := ErrTimeout.Error(), "upstage: timeout"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(e, ErrHTTP) || errors.Is(e, ErrAPI) {
		t.Errorf("Is does not compare kinds")
	}
	wrapped := fmt.Errorf("chat: %w", e)
	if !errors.Is(wrapped, ErrHTTP) {
		t.Errorf("wrapped error lost its kind")
	}
	names := map[Status]string{
		StatusOK: "ok", StatusDone: "done", StatusNullArgument: "null_argument",
		StatusInvalidArgument: "invalid_argument", StatusConnect: "connect",
		StatusTimeout: "timeout", StatusHTTP: "http", StatusAPI: "api",
		StatusProtocol: "protocol", StatusTruncated: "truncated", StatusLimit: "limit",
		StatusCancelled: "cancelled", StatusIO: "io", StatusPanic: "panic", Status(-42): "unknown",
	}
	for s, want := range names {
		if got := s.String(); got != want {
			t.Errorf("Status(%d).String() = %q, want %q", int32(s), got, want)
		}
	}
	sentinels := []*Error{ErrNullArgument, ErrInvalidArgument, ErrConnect, ErrTimeout, ErrHTTP,
		ErrAPI, ErrProtocol, ErrTruncated, ErrLimit, ErrCancelled, ErrIO, ErrPanic}
	for i, a := range sentinels {
		for j, b := range sentinels {
			if errors.Is(a, b) != (i == j) {
				t.Errorf("errors.Is(%v, %v) = %v", a, b, !(i == j))
			}
		}
	}
}

func TestFormatPrompt(t *testing.T) {
	cases := []struct {
		messages []Message
		want     string
	}{
		{[]Message{User("just this")}, "just this"},
		{[]Message{System("Be brief."), User("Hi")}, "System: Be brief.\nUser: Hi\nAssistant:"},
		{[]Message{User("안녕 <b>&"), Assistant("  "), User("🌍")}, "User: 안녕 <b>&\nUser: 🌍\nAssistant:"},
		{[]Message{User(strings.Repeat("long ", 4000)), User("x")},
			"User: " + strings.Repeat("long ", 4000) + "\nUser: x\nAssistant:"},
		{[]Message{User("")}, ""},
	}
	for _, tc := range cases {
		got, err := FormatPrompt(tc.messages)
		if err != nil || got != tc.want {
			t.Errorf("FormatPrompt(%v) = %.80q, %v; want %.80q", tc.messages, got, err, tc.want)
		}
	}
	if _, err := FormatPrompt(nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("FormatPrompt(nil) error %v", err)
	}
}

func TestCatalog(t *testing.T) {
	want := []string{"upstage/solar-1-mini-chat", "upstage/solar-1-mini-chat-ja", "solar-pro"}
	if got := Models(); !reflect.DeepEqual(got, want) {
		t.Errorf("Models() = %q", got)
	}
	resolve := map[string]string{
		"solar-mini":                "upstage/solar-1-mini-chat-ja",
		"upstage/solar-1-mini-chat": "upstage/solar-1-mini-chat",
		"solar-pro":                 "solar-pro",
		"":                          "solar-pro",
		"gpt-4o":                    "solar-pro",
		"SOLAR-MINI":                "solar-pro",
		"solar-mini\x00":            "solar-pro",
	}
	for name, want := range resolve {
		if got := ResolveModel(name); got != want {
			t.Errorf("ResolveModel(%q) = %q, want %q", name, got, want)
		}
	}
	if v := Version(); v == "" || strings.Count(v, ".") < 2 {
		t.Errorf("Version() = %q", v)
	}
}
