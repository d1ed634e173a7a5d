package relay_test

import (
	"context"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/simulator"
)

// TestShutdownFlushes: receipts due when the server stops go out before
// the sessions end; the tabs are let go and no new one is taken.
func TestShutdownFlushes(t *testing.T) {
	// A flush window far longer than the test: only Shutdown flushes.
	w := newWorld(t, func(_ *simulator.Config, c *relay.Config) {
		if c != nil {
			c.FlushWindow = time.Hour
		}
	})
	rt, err := w.mgr.Attach(w.identity(t))
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	a, ups := w.agent(t)
	rt.Send("hi")
	conv := acceptFirstRing(t, a, ups)
	seq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the tab showing the agent's message", 10*time.Second, func() bool {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		return tb.agentSm[seq] == 1
	})
	time.Sleep(100 * time.Millisecond) // the tab's reports reach the session
	if accept, _ := consumerReceipts(w.svc.DialogEvents(conv), a.PID()); accept[seq] != 0 {
		t.Fatal("a receipt went out before shutdown: the test proves nothing")
	}

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := w.mgr.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	accept, read := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
	if accept[seq] != 1 || read[seq] != 1 {
		t.Errorf("after Shutdown: %d ACCEPT, %d READ at the service; want 1 each", accept[seq], read[seq])
	}
	select {
	case <-rt.Done():
	case <-time.After(time.Second):
		t.Error("the tab was not let go")
	}
	if err := w.mgr.Ready(); err == nil {
		t.Error("Ready after Shutdown")
	}
	if _, err := w.mgr.Attach(w.identity(t)); err == nil {
		t.Error("a tab was taken after Shutdown")
	}
	if _, err := w.mgr.Inspect(w.identity(t)); err == nil {
		t.Error("an inspector started a session after Shutdown")
	}
}
