package simulator

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestStuckWriteIsCut: a write that a peer leaves blocked (it stopped
// reading, its buffers are full) is cut after the write timeout, long
// before its outbox could overflow; the publisher keeps going.
func TestStuckWriteIsCut(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RateLimit = 1e6; c.RateBurst = 1e6 })
	e.svc.writeTimeout = 200 * time.Millisecond // set before any socket opens
	conv, c := slowSubscriber(t, e)
	subscribed := func() int {
		e.svc.mu.Lock()
		defer e.svc.mu.Unlock()
		return len(e.svc.dialogs[conv].subs)
	}
	waitUntil(t, "the slow peer subscribed", func() bool { return subscribed() == 1 })
	// 16 frames of 8 KiB fill the pipe to a peer that does not read
	// (a few KiB of buffers each way) and sit far below the outbox's 1024.
	big := strings.Repeat("x", maxTextBytes)
	for range 16 {
		c.ok("ms.PublishEvent", text(conv, big))
	}
	waitUntil(t, "the stuck socket cut", func() bool { return subscribed() == 0 })
	c.ok("ms.PublishEvent", text(conv, "still here"))
}

// waitUntil polls cond until it holds, failing the test after waitLimit.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// slowSubscriber opens a conversation and subscribes a socket to it that
// never reads again, through a server on e's service whose connections
// have small buffers both ways (so that the pipe to it fills after little
// data); it returns the conversation and another socket of the same
// consumer, which never subscribes (the socket that created the
// conversation, subscribed implicitly, has left). Set e's service's limits
// before: they are read when a socket opens.
func slowSubscriber(t *testing.T, e *env) (conv string, publisher *client) {
	t.Helper()
	small := httptest.NewUnstartedServer(e.svc)
	small.Listener = smallBufListener{small.Listener}
	small.Start()
	t.Cleanup(small.Close)

	token := e.signup()
	creator := e.consumer(token)
	conv = creator.openConversation()
	_ = creator.conn.Close(websocket.StatusNormalClosure, "")
	publisher = e.consumer(token)
	h := http.Header{}
	h.Set("Authorization", "jwt "+token)
	ctx, cancel := contextWithTimeout()
	defer cancel()
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	transport := &http.Transport{DialContext: dialer.DialContext}
	t.Cleanup(transport.CloseIdleConnections)
	slow, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(small.URL, "http")+"/ws_api/account/123/messaging/consumer?v=3",
		&websocket.DialOptions{HTTPHeader: h, HTTPClient: &http.Client{Transport: transport}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { slow.CloseNow() })
	sub := `{"kind":"req","id":"s","type":"ms.SubscribeMessagingEvents","body":{"dialogId":"` + conv + `"}}`
	if err := slow.Write(ctx, websocket.MessageText, []byte(sub)); err != nil {
		t.Fatal(err)
	}
	return conv, publisher
}

// smallBufListener gives accepted connections a small send buffer.
type smallBufListener struct{ net.Listener }

func (l smallBufListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return conn, err
}
