package web_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/web/window"
	"github.com/coder/websocket"
)

// TestSocketsPerClient: past SocketsPerClient sockets from one address, the
// next is answered 429 before the upgrade; when one closes, a socket is
// accepted again.
func TestSocketsPerClient(t *testing.T) {
	site := newSiteWithKeys(t, sessionKeys, func(c *window.Config) { c.SocketsPerClient = 2 })
	hc := client(t)
	startSession(t, site, hc)
	var open []*websocket.Conn
	for range 2 {
		c, _, err := dialSocket(t, site, hc, "")
		if err != nil {
			t.Fatalf("within the cap: %v", err)
		}
		open = append(open, c)
	}
	_, resp, err := dialSocket(t, site, hc, "")
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("over the cap: %v %v, want 429", resp, err)
	}
	open[0].Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, _, err := dialSocket(t, site, hc, "")
		if err == nil {
			c.Close(websocket.StatusNormalClosure, "")
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after one closed: still refused: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	open[1].Close(websocket.StatusNormalClosure, "")
}
