package web_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// connCount is a listener that knows the connections its server has not
// closed yet, by the client's address: a socket whose descriptor the
// server still holds.
type connCount struct {
	net.Listener
	mu   sync.Mutex
	open map[string]bool
}

func (l *connCount) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.open[c.RemoteAddr().String()] = true
	l.mu.Unlock()
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *connCount
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.open, c.RemoteAddr().String())
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// waitOpen waits until the server holds exactly want of the connections
// from the client addresses addrs.
func (l *connCount) waitOpen(t *testing.T, addrs []string, want int, what string) {
	t.Helper()
	held := func() int {
		l.mu.Lock()
		defer l.mu.Unlock()
		n := 0
		for _, a := range addrs {
			if l.open[a] {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for held() != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the server holds %d of the sockets, want %d", what, held(), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dropDial opens a socket whose TCP connection the test can drop without
// a close frame (a laptop closed, a network gone, a probe); addr is the
// client's address, as the server sees it.
func dropDial(t *testing.T, u string, hc *http.Client) (addr string, drop func()) {
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
	return raw.LocalAddr().String(), func() { raw.Close() }
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
				ln = &connCount{Listener: l, open: map[string]bool{}}
				return ln
			}
			hc := client(t)
			u := tt.serve(t, wrap, hc)
			const n = 5
			var addrs []string
			var drops []func()
			for range n {
				addr, drop := dropDial(t, u, hc)
				addrs, drops = append(addrs, addr), append(drops, drop)
			}
			ln.waitOpen(t, addrs, n, "sockets open")
			for _, drop := range drops {
				drop()
			}
			ln.waitOpen(t, addrs, 0, "sockets dropped")
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
