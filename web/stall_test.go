package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/testing/faultproxy"
	"github.com/chatwindow/chatwindow/web/node"
	"github.com/chatwindow/chatwindow/web/window"
)

// Production keep-alive of page sockets (web/socket.go: pingEvery,
// writeTimeout): a page that stopped answering is cut within 30 s.
const (
	prodPingEvery   = 20 * time.Second
	prodPingTimeout = 10 * time.Second
)

// TestPageSocketStall: the network between a page and the server goes
// silent (a laptop lid closed, a Wi-Fi gone: bytes held both ways, no
// error). The server's ping finds it within the ping interval + its
// timeout, closes the socket and detaches the tab: the session (which
// allows one tab here) takes a new tab at once, and keeps its upstream.
//
// It runs with a short keep-alive; CHATWINDOW_SLOW_TESTS=1 runs it with the
// production settings (20 s + 10 s, about 35 s).
func TestPageSocketStall(t *testing.T) {
	every, timeout := 300*time.Millisecond, 300*time.Millisecond
	if os.Getenv("CHATWINDOW_SLOW_TESTS") != "" {
		every, timeout = prodPingEvery, prodPingTimeout
	}
	cfg := window.Config{PingInterval: every, PingTimeout: timeout}
	// bound is the keep-alive's promise; slack absorbs a loaded machine.
	// Not a speed assertion: without pings the tab would stay forever.
	bound := every + timeout
	const slack = 2 * time.Second

	site, mgr := newStallSite(t, cfg)
	hc := client(t)
	startSession(t, site, hc)
	proxy, err := faultproxy.New(context.Background(), strings.TrimPrefix(site.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })

	// The tab through the proxy (the cookie jar sends the session's cookie:
	// cookies do not depend on the port).
	ctx, cancel := context.WithTimeout(t.Context(), bound+slack+15*time.Second)
	defer cancel()
	tab, _, err := websocket.Dial(ctx, "ws://"+proxy.Addr()+"/ws", &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.CloseNow()
	if _, first, err := tab.Read(ctx); err != nil || !strings.Contains(string(first), `id="messages"`) {
		t.Fatalf("first frame %.100q, %v; want the window", first, err)
	}
	// Reading answers the server's pings, as a browser does; the read ends
	// when the socket does.
	ended := make(chan error, 1)
	// Ends when the socket is closed (by the server, or at the end).
	go func() {
		for {
			if _, _, err := tab.Read(ctx); err != nil {
				ended <- err
				return
			}
		}
	}()
	// A healthy page answers its pings and keeps its tab: a second tab is
	// refused (the session allows one).
	time.Sleep(min(3*every, 2*time.Second))
	if accepted, err := tryTab(t, site, hc); err != nil || accepted {
		t.Fatalf("second tab while the first answers its pings: accepted=%v, %v; want refused (1008)", accepted, err)
	}

	start := time.Now()
	proxy.Stall()
	for {
		accepted, err := tryTab(t, site, hc)
		if err != nil {
			t.Fatal(err)
		}
		if accepted {
			break
		}
		if time.Since(start) > bound+slack+10*time.Second {
			t.Fatalf("the stalled tab is still attached after %s (keep-alive %s + %s)", time.Since(start), every, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
	detected := time.Since(start)
	t.Logf("stalled page cut after %s (bound %s = ping every %s + timeout %s)", detected.Round(time.Millisecond), bound, every, timeout)
	if detected > bound+slack {
		t.Errorf("stalled page cut after %s, want within %s (+%s slack)", detected, bound, slack)
	}
	if got := mgr.Sessions(); got != 1 {
		t.Errorf("%d sessions, want the one, kept", got)
	}
	// Once the network flows again, the page learns that its socket is
	// gone (and reconnects, as chat.js does).
	proxy.Unstall()
	select {
	case err := <-ended:
		t.Logf("the stalled page's socket ended: %v", err)
	case <-ctx.Done():
		t.Error("the stalled page's socket is still open after the network came back")
	}
}

// tryTab opens a tab directly (no proxy) and reports whether the session
// took it (the window came) or refused it (close 1008); either way it is
// closed again.
func tryTab(t *testing.T, site *httptest.Server, hc *http.Client) (bool, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(site.URL, "http")+"/ws", &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		return false, err
	}
	defer c.CloseNow()
	_, b, err := c.Read(ctx)
	switch {
	case err == nil && strings.Contains(string(b), `id="messages"`):
		c.Close(websocket.StatusNormalClosure, "")
		return true, nil
	case websocket.CloseStatus(err) == websocket.StatusPolicyViolation:
		return false, nil
	case err != nil:
		return false, err
	}
	return false, nil
}

// newStallSite is newSite with one tab per session and a long grace
// period, and the relay manager, whose sessions the test counts.
func newStallSite(t *testing.T, cfg window.Config) (*httptest.Server, *relay.Manager) {
	t.Helper()
	lp := newService(t)
	cfg.SessionKeys = sessionKeys
	n := newNode(t, node.Config{Endpoints: lp.EP, HTTPClient: lp.Srv.Client(), Grace: time.Minute, MaxTabs: 1, Web: cfg})
	site := httptest.NewServer(n)
	t.Cleanup(site.Close)
	return site, n.Relay()
}
