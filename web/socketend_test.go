package web_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// connCount is a listener that counts the connections its server has not
// closed yet: a socket whose descriptor the server still holds.
type connCount struct {
	net.Listener
	open atomic.Int64
}

func (l *connCount) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.open.Add(1)
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *connCount
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close()
}

// waitOpen waits until the server holds want connections.
func (l *connCount) waitOpen(t *testing.T, want int64, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for l.open.Load() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the server holds %d connections, want %d", what, l.open.Load(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dropDial opens a socket whose TCP connection the test can drop without
// a close frame (a laptop closed, a network gone, a probe).
func dropDial(t *testing.T, u string, hc *http.Client) (drop func()) {
	t.Helper()
	var raw net.Conn
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			raw = c
			return c, err
		},
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: &http.Client{Jar: hc.Jar, Transport: tr}})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	// Read what the server sends, so that its writes never block.
	go func() {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	return func() { raw.Close() }
}

// TestSocketDroppedIsClosed: every page socket (the window's, the QA
// inspector's and the agent console's) whose TCP connection drops without
// a close frame is closed by the server: its descriptor is not held.
func TestSocketDroppedIsClosed(t *testing.T) {
	tests := []struct {
		name string
		// serve starts the site on ln and returns the socket's URL, with
		// hc's cookie ready for it.
		serve func(t *testing.T, wrap func(net.Listener) net.Listener, hc *http.Client) string
	}{
		{"window", func(t *testing.T, wrap func(net.Listener) net.Listener, hc *http.Client) string {
			site := serveWrapped(t, siteHandler(t, sessionKeys), wrap)
			startSession(t, site, hc)
			return "ws" + strings.TrimPrefix(site.URL, "http") + "/ws"
		}},
		{"inspector", func(t *testing.T, wrap func(net.Listener) net.Listener, hc *http.Client) string {
			site := serveWrapped(t, siteHandler(t, sessionKeys), wrap)
			startSession(t, site, hc)
			return "ws" + strings.TrimPrefix(site.URL, "http") + "/qa/ws"
		}},
		{"console", func(t *testing.T, wrap func(net.Listener) net.Listener, hc *http.Client) string {
			site := newConsoleSiteOn(t, wrap)
			signIn(t, site, hc)
			return "ws" + strings.TrimPrefix(site.URL, "http") + "/agent/ws"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ln *connCount
			wrap := func(l net.Listener) net.Listener {
				ln = &connCount{Listener: l}
				return ln
			}
			hc := client(t)
			hc.Transport = &http.Transport{DisableKeepAlives: true}
			u := tt.serve(t, wrap, hc)
			// What the server holds besides (the console's own agent
			// connection to the service on the same listener).
			base := ln.open.Load()
			const n = 5
			var drops []func()
			for range n {
				drops = append(drops, dropDial(t, u, hc))
			}
			ln.waitOpen(t, base+n, "sockets open")
			for _, drop := range drops {
				drop()
			}
			ln.waitOpen(t, base, "sockets dropped")
		})
	}
}

// serveWrapped serves h on wrap's listener until the test ends.
func serveWrapped(t *testing.T, h http.Handler, wrap func(net.Listener) net.Listener) *httptest.Server {
	t.Helper()
	site := httptest.NewUnstartedServer(h)
	site.Listener = wrap(site.Listener)
	site.Start()
	t.Cleanup(site.Close)
	return site
}
