package upstage

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// countingServer answers every request with one token and counts the connections it
// accepted.
func countingServer(t *testing.T, opts Options) (*Client, *atomic.Int64) {
	t.Helper()
	var accepted atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		startSSE(w).answer("pooled")
	}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			accepted.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	opts.BaseURL = srv.URL + "/v1"
	opts.Proxy = "none"
	opts.MaxRetries = NoRetries
	c, err := NewClient(opts)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, &accepted
}

func streamOnce(t *testing.T, c *Client) {
	t.Helper()
	s, err := c.Stream(context.Background(), hello())
	if err != nil {
		t.Fatalf("Stream: %v", err)
	}
	defer s.Close()
	tokens, err := collect(t, s)
	if err != nil || len(tokens) != 1 || tokens[0] != "pooled" {
		t.Fatalf("got %q, %v", tokens, err)
	}
}

func TestSequentialStreamsReuseOneConnection(t *testing.T) {
	c, accepted := countingServer(t, Options{})
	for i := 0; i < 10; i++ {
		streamOnce(t, c)
	}
	if n := accepted.Load(); n != 1 {
		t.Fatalf("10 sequential streams opened %d connections, want 1", n)
	}
}

func TestConnectionReuseCanBeTurnedOff(t *testing.T) {
	c, accepted := countingServer(t, Options{NoConnectionReuse: true})
	for i := 0; i < 3; i++ {
		streamOnce(t, c)
	}
	if n := accepted.Load(); n != 3 {
		t.Fatalf("3 streams without reuse opened %d connections, want 3", n)
	}
}

func TestPoolOptionsAreChecked(t *testing.T) {
	for _, opts := range []Options{{MaxIdleConnections: -1}, {PoolIdleTimeout: -1}} {
		opts.BaseURL = "http://127.0.0.1:9/v1"
		if _, err := NewClient(opts); asError(t, err).Status != StatusInvalidArgument {
			t.Fatalf("%+v: %v", opts, err)
		}
	}
}
