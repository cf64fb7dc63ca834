package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// server answers every request with the given SSE body (or status and body when status is
// not 200).
func server(t *testing.T, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if status != http.StatusOK {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
		} else {
			w.Header().Set("Content-Type", "text/event-stream")
		}
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/v1"
}

func chunk(content, finish string) string {
	if finish != "" {
		return fmt.Sprintf("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":%q}]}\n\n", finish)
	}
	return fmt.Sprintf("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", content)
}

func runChat(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	t.Setenv("NO_PROXY", "*")
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestChatPrintsExactlyTheTokens(t *testing.T) {
	url := server(t, http.StatusOK, chunk("안녕", "")+chunk(", world", "")+chunk("", "stop")+"data: [DONE]\n\n")
	code, stdout, stderr := runChat(t, url, "solar-test", "hi")
	if code != 0 || stdout != "안녕, world" || stderr != "" {
		t.Fatalf("code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestChatHTTPError(t *testing.T) {
	url := server(t, http.StatusUnauthorized, `{"error":{"message":"Invalid API key"}}`)
	code, stdout, stderr := runChat(t, url, "solar-test", "hi")
	if code != 1 || stdout != "" {
		t.Fatalf("code %d, stdout %q", code, stdout)
	}
	if !strings.HasPrefix(stderr, "error[http]: ") || !strings.Contains(stderr, "Invalid API key") ||
		strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Fatalf("stderr %q is not one error[http] line", stderr)
	}
}

func TestChatTruncatedKeepsTokens(t *testing.T) {
	url := server(t, http.StatusOK, chunk("partial", ""))
	code, stdout, stderr := runChat(t, url, "solar-test", "hi")
	if code != 1 || stdout != "partial" || !strings.HasPrefix(stderr, "error[truncated]: ") {
		t.Fatalf("code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestChatUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"a"}, {"a", "b"}, {"a", "b", "c", "d"}} {
		code, stdout, stderr := runChat(t, args...)
		if code != 2 || stdout != "" || !strings.HasPrefix(stderr, "usage: ") {
			t.Errorf("args %q: code %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
}

func TestChatBadBaseURL(t *testing.T) {
	code, _, stderr := runChat(t, "not a url", "m", "hi")
	if code != 1 || !strings.HasPrefix(stderr, "error[invalid_argument]: ") {
		t.Fatalf("code %d, stderr %q", code, stderr)
	}
}
