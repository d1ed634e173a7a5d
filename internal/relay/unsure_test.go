package relay_test

import (
	"errors"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/inspector"
	"github.com/chatwindow/chatwindow/internal/outbox"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/simulator"
)

// TestSendCutInFlight: the customer's message is in flight when the
// upstream dies (held by the proxy, so it never lands). It shows pending,
// not failed; after the reconnect's catch-up shows no echo of it, it is
// sent again, and the service has it exactly once.
func TestSendCutInFlight(t *testing.T) {
	w := newWorld(t)
	rt, err := w.mgr.Attach(w.identity(t))
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	a, ups := w.agent(t)
	rt.Send("first")
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "the first message sent", 10*time.Second, func() bool { return tb.receipt("first") == relay.ReceiptSent })
	time.Sleep(100 * time.Millisecond) // let the chat state after it go out

	w.proxy.Stall()
	rt.Send("in flight")
	waitUntil(t, "the publish held in the proxy", 5*time.Second, func() bool { return w.proxy.Held() > 0 })
	w.proxy.CutAll()
	w.proxy.Unstall()
	if got := tb.receipt("in flight"); got != relay.ReceiptPending {
		t.Fatalf("right after the cut the message is %q, want pending", got)
	}
	waitUntil(t, "the message sent after the reconnect", 15*time.Second, func() bool { return tb.receipt("in flight") == relay.ReceiptSent })
	time.Sleep(300 * time.Millisecond)
	n := 0
	for _, e := range w.svc.DialogEvents(conv) {
		if e.Event.Type == protocol.EventContent && e.Event.Message == "in flight" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the service has the message %d times, want 1", n)
	}
}

// TestTabCap: a session takes MaxTabs tabs; one more is refused, and a
// place freed by a tab that left is taken again.
func TestTabCap(t *testing.T) {
	w := newWorld(t)
	id := w.identity(t)
	var tabs []*relay.Tab
	for range 16 {
		rt, err := w.mgr.Attach(id)
		if err != nil {
			t.Fatal(err)
		}
		runTab(t, rt, false)
		tabs = append(tabs, rt)
	}
	extra, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-extra.Done():
		if r, _ := extra.Reason(); r != outbox.TooMany {
			t.Error("the 17th tab ended, but not as too many")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the 17th tab was taken")
	}
	tabs[0].Detach()
	again, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	runTab(t, again, false)
	select {
	case <-again.Done():
		t.Error("a tab after one left was refused")
	case <-time.After(300 * time.Millisecond):
	}
}

// TestTabCapCountsInspectors: the QA inspector's watches are pages of the
// session like its tabs: MaxTabs bounds them together, and a watch closed
// frees its place.
func TestTabCapCountsInspectors(t *testing.T) {
	w := newWorld(t, func(_ *simulator.Config, c *relay.Config) {
		if c != nil {
			c.MaxTabs = 3
		}
	})
	id := w.identity(t)
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	runTab(t, rt, false)
	var watches []*inspector.Watch
	for range 2 {
		wt, err := w.mgr.Inspect(id)
		if err != nil {
			t.Fatalf("inspector within the cap: %v", err)
		}
		watches = append(watches, wt)
	}
	if _, err := w.mgr.Inspect(id); !errors.Is(err, relay.ErrTooManyTabs) {
		t.Errorf("a 4th page as an inspector: %v, want ErrTooManyTabs", err)
	}
	extra, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-extra.Done():
		if r, _ := extra.Reason(); r != outbox.TooMany {
			t.Error("a 4th page as a tab ended, but not as too many")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a 4th page as a tab was taken")
	}
	watches[0].Close()
	wt, err := w.mgr.Inspect(id)
	if err != nil {
		t.Fatalf("an inspector after one closed: %v", err)
	}
	wt.Close()
	watches[1].Close()
}
