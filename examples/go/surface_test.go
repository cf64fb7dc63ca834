package upstage

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// limitedAnswer streams "Hi there" with rate-limit headers, a request id and a cookie.
func limitedAnswer(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("X-Request-Id", "req-go")
	h.Set("X-Ratelimit-Limit-Requests", "60")
	h.Set("X-Ratelimit-Remaining-Requests", "59")
	h.Set("X-Ratelimit-Reset-Requests", "1s")
	h.Set("X-Ratelimit-Remaining-Tokens", "900")
	h.Set("Set-Cookie", "session=go-cookie-secret")
	s := startSSE(w)
	s.chunk(map[string]any{"reasoning_content": "hmm"}, nil)
	s.answer("Hi", " there")
}

func TestHeadersAndQueryReachTheServer(t *testing.T) {
	requests := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests <- seen{path: r.URL.RequestURI(), header: r.Header.Clone()}
		startSSE(w).answer("ok")
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(Options{
		BaseURL:    srv.URL + "/v1?api-version=2024-10-21",
		Proxy:      "none",
		MaxRetries: NoRetries,
		Headers:    map[string]string{"X-Title": "client", "User-Agent": "go-test/1"},
		Query:      url.Values{"team": {"a b"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := hello()
	req.Headers = map[string]string{"x-title": "request", "X-Trace": "t-1"}
	req.Query = url.Values{"trace": {"on"}}
	s, err := c.Stream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if text, err := s.ReadAll(); err != nil || text != "ok" {
		t.Fatalf("ReadAll = %q, %v", text, err)
	}
	got := <-requests
	if want := "/v1/chat/completions?api-version=2024-10-21&team=a%20b&trace=on"; got.path != want {
		t.Errorf("path %q, want %q", got.path, want)
	}
	if v := got.header.Values("X-Title"); len(v) != 1 || v[0] != "request" {
		t.Errorf("X-Title %q", v)
	}
	if v := got.header.Get("User-Agent"); v != "go-test/1" {
		t.Errorf("User-Agent %q", v)
	}
	if v := got.header.Get("X-Trace"); v != "t-1" {
		t.Errorf("X-Trace %q", v)
	}
}

func TestBadHeadersAreInvalidArguments(t *testing.T) {
	_, err := NewClient(Options{BaseURL: "http://127.0.0.1:1/v1", Headers: map[string]string{"Host": "x"}})
	if !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("NewClient with Host: %v", err)
	}
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		t.Error("nothing may be sent")
	})
	req := hello()
	req.Headers = map[string]string{"X-Bad": "a\r\nInjected: 1"}
	if _, err := c.Stream(context.Background(), req); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Stream with CR LF: %v", err)
	}
}

func TestRateLimitsTimingsAndHeadersOfAStream(t *testing.T) {
	c, _ := serve(t, limitedAnswer)
	s, err := c.Stream(context.Background(), hello())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Headers().Get("x-request-id"); got != "req-go" {
		t.Errorf("x-request-id %q", got)
	}
	l := s.RateLimit()
	if l == nil || l.Requests == nil || l.Tokens == nil {
		t.Fatalf("RateLimit %+v", l)
	}
	if *l.Requests != (RateLimitWindow{Limit: 60, Remaining: 59, Reset: time.Second}) {
		t.Errorf("requests %+v", *l.Requests)
	}
	if *l.Tokens != (RateLimitWindow{Limit: -1, Remaining: 900, Reset: -1}) {
		t.Errorf("tokens %+v", *l.Tokens)
	}
	if _, err := s.ReadAll(); err != nil {
		t.Fatal(err)
	}
	tm := s.Timings()
	if tm.Headers < 0 || tm.FirstReasoning < tm.Headers || tm.FirstContent < tm.FirstReasoning || tm.End < tm.FirstContent {
		t.Errorf("timings out of order: %+v", tm)
	}
	if tm.ContentTokens != 2 || tm.ReasoningTokens != 1 || tm.Bytes == 0 {
		t.Errorf("counts: %+v", tm)
	}
	s.Close()
	if after := s.Timings(); after != tm {
		t.Errorf("timings after Close %+v, want %+v", after, tm)
	}
}

func TestErrorsCarryEveryDetail(t *testing.T) {
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Request-Id", "req-429")
		h.Set("Retry-After-Ms", "2500")
		h.Set("X-Ratelimit-Remaining-Tokens", "0")
		h.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"error":{"message":"slow down","type":"rate_limit_error","code":"tpm","param":"model"}}`))
	})
	_, err := c.Stream(context.Background(), hello())
	e := asError(t, err)
	if !errors.Is(err, ErrHTTP) || e.HTTPStatus != 429 {
		t.Fatalf("err %v", err)
	}
	if e.RequestID != "req-429" || e.RetryAfter != 2500*time.Millisecond || e.Attempts != 1 {
		t.Errorf("RequestID %q RetryAfter %v Attempts %d", e.RequestID, e.RetryAfter, e.Attempts)
	}
	if e.APIType != "rate_limit_error" || e.Code != "tpm" || e.Param != "model" || e.TimeoutPhase != "" {
		t.Errorf("APIType %q Code %q Param %q TimeoutPhase %q", e.APIType, e.Code, e.Param, e.TimeoutPhase)
	}
	if e.Headers.Get("x-request-id") != "req-429" || e.RateLimit == nil || e.RateLimit.Tokens.Remaining != 0 {
		t.Errorf("Headers %v RateLimit %+v", e.Headers, e.RateLimit)
	}

	// A per-request headers timeout names its phase.
	release := make(chan struct{})
	defer close(release)
	slow, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	req := hello()
	req.HeadersTimeout = 200 * time.Millisecond
	_, err = slow.Stream(context.Background(), req)
	e = asError(t, err)
	if !errors.Is(err, ErrTimeout) || e.TimeoutPhase != "headers" || e.Headers != nil || e.RetryAfter != -1 {
		t.Errorf("timeout: %v phase %q headers %v", err, e.TimeoutPhase, e.Headers)
	}
}

func TestCompletionHeadersAndTimings(t *testing.T) {
	c, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Ratelimit-Remaining-Requests", "4")
		w.Write([]byte(`{"choices":[{"message":{"role":"assistant","content":"whole"},"finish_reason":"stop"}]}`))
	})
	done, err := c.Complete(context.Background(), hello())
	if err != nil {
		t.Fatal(err)
	}
	if done.Content != "whole" || done.RateLimit == nil || done.RateLimit.Requests.Remaining != 4 {
		t.Errorf("completion %+v", done)
	}
	if done.Timings.Headers < 0 || done.Timings.End < done.Timings.Headers {
		t.Errorf("timings %+v", done.Timings)
	}
}

func TestRecordAndReplay(t *testing.T) {
	c, _ := serveWith(t, Options{APIKey: "sk-go-secret"}, limitedAnswer)
	path := filepath.Join(t.TempDir(), "answer.rec")
	req := hello()
	req.Record = path
	s, err := c.Stream(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	live, err := s.ReadAll()
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if text := string(recorded); !strings.HasPrefix(text, "upstage-recording/1 200 OK\n") ||
		strings.Contains(text, "sk-go-secret") || strings.Contains(text, "go-cookie-secret") {
		t.Errorf("recording:\n%s", text)
	}
	r, err := c.Replay(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := r.RateLimit(); got == nil || got.Requests.Remaining != 59 {
		t.Errorf("replayed RateLimit %+v", got)
	}
	if replayed, err := r.ReadAll(); err != nil || replayed != live {
		t.Errorf("replay %q, %v; want %q", replayed, err, live)
	}
	if _, err := c.Replay(filepath.Join(t.TempDir(), "missing.rec")); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("missing recording: %v", err)
	}
}

func TestLogOutputNeverShowsCredentials(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	SetLogOutput(func(line string) {
		mu.Lock()
		lines = append(lines, line)
		mu.Unlock()
	})
	defer SetLogOutput(nil)
	c, srv := serveWith(t, Options{
		APIKey:   "sk-go-log-secret",
		Headers:  map[string]string{"api-key": "azure-go-secret"},
		DebugLog: true,
	}, limitedAnswer)
	s, err := c.Stream(context.Background(), hello())
	if err != nil {
		t.Fatal(err)
	}
	s.ReadAll()
	s.Close()
	mu.Lock()
	all := strings.Join(lines, "\n")
	mu.Unlock()
	if !strings.Contains(all, "upstage: POST "+srv.URL) || !strings.Contains(all, "stream ended: done") {
		t.Errorf("log:\n%s", all)
	}
	for _, secret := range []string{"sk-go-log-secret", "azure-go-secret"} {
		if strings.Contains(all, secret) {
			t.Errorf("%s in the log:\n%s", secret, all)
		}
	}
}
