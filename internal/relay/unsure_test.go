package relay_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/inspector"
	"github.com/chatwindow/chatwindow/internal/messaging"
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
	rt, tb, conv := openConversation(t, w)
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
	if n := timesAtService(w, conv, "in flight"); n != 1 {
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

// flakySends is a session's real upstream whose sends of the texts in
// fails fail, so many times each, with err without being sent, as a send
// lost under a cut or left unanswered by the service would.
type flakySends struct {
	relay.Upstream
	err   error
	mu    sync.Mutex
	fails map[string]int
}

func (f *flakySends) PublishWithMetadata(ctx context.Context, dialogID, conversationID string, ev protocol.Event, metadata json.RawMessage) (int64, error) {
	f.mu.Lock()
	fail := f.fails[ev.Message] > 0
	if fail {
		f.fails[ev.Message]--
	}
	f.mu.Unlock()
	if fail {
		return 0, fmt.Errorf("%s: %w", protocol.TypePublishEvent, f.err)
	}
	return f.Upstream.PublishWithMetadata(ctx, dialogID, conversationID, ev, metadata)
}

// flakyWorld is a world whose sessions' upstreams are f.
func flakyWorld(t *testing.T, f *flakySends) *world {
	var w *world
	w = newWorld(t, func(_ *simulator.Config, rc *relay.Config) {
		if rc == nil {
			return
		}
		rc.Consumer = func(token string, tap func(bool, []byte)) (relay.Upstream, error) {
			up, err := messaging.NewConsumer(messaging.ConsumerConfig{
				Endpoints: w.ep, Token: messaging.StaticToken(token), HTTPClient: w.srv.Client(), Tap: tap,
				SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
			})
			f.Upstream = up
			return f, err
		}
	})
	return w
}

// openConversation attaches a tab to a new session of w and opens its
// conversation with a first message, which an agent accepts.
func openConversation(t *testing.T, w *world) (*relay.Tab, *tab, string) {
	t.Helper()
	rt, err := w.mgr.Attach(w.identity(t))
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	a, ups := w.agent(t)
	rt.Send("first")
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "the first message sent", 10*time.Second, func() bool { return tb.receipt("first") == relay.ReceiptSent })
	return rt, tb, conv
}

// timesAtService counts a text's events in a conversation's history.
func timesAtService(w *world, conv, text string) int {
	n := 0
	for _, e := range w.svc.DialogEvents(conv) {
		if e.Event.Type == protocol.EventContent && e.Event.Message == text {
			n++
		}
	}
	return n
}

// TestResendsCountUnanswered: a message whose sends were cut by lost
// sockets, however many times, goes out once the network lets it; one
// whose sends got no answer on a socket that stayed up (timeouts) shows
// failed after maxResends, 3.
func TestResendsCountUnanswered(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		fails int
		want  string // the message's receipt in the end
		times int    // how often the service has it
	}{
		{"socket lost under five sends", fmt.Errorf("%w: %w", messaging.ErrClosed, io.ErrUnexpectedEOF), 5, relay.ReceiptSent, 1},
		{"token refused under five sends", messaging.ErrTokenRejected, 5, relay.ReceiptSent, 1},
		{"three sends unanswered", fmt.Errorf("after 10s: %w", messaging.ErrTimeout), 3, relay.ReceiptFailed, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := flakyWorld(t, &flakySends{err: tt.err, fails: map[string]int{"flaky": tt.fails}})
			rt, tb, conv := openConversation(t, w)

			rt.Send("flaky")
			waitUntil(t, "the message settled", 15*time.Second, func() bool {
				r := tb.receipt("flaky")
				return r == relay.ReceiptSent || r == relay.ReceiptFailed
			})
			if got := tb.receipt("flaky"); got != tt.want {
				t.Errorf("the message ends %q, want %q", got, tt.want)
			}
			if n := timesAtService(w, conv, "flaky"); n != tt.times {
				t.Errorf("the service has the message %d times, want %d", n, tt.times)
			}
		})
	}
}
