package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/outbox"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
)

// noOpenConversation checks at the service that the consumer of token has
// no open conversation: a new one can be requested (the service keeps one
// open conversation per consumer).
func noOpenConversation(t *testing.T, w *world, token string) {
	t.Helper()
	c := w.consumer(t, token)
	if _, err := c.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{ChannelType: "MESSAGING"}); err != nil {
		t.Errorf("the consumer still has an open conversation: %v", err)
	}
}

// TestForget: the customer's "end it and forget me" closes the open
// conversation at the service and lets the session's tabs go for good
// (SignedOut: they do not reconnect), having told them.
func TestForget(t *testing.T) {
	w := newWorld(t)
	id := w.identity(t)
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, false)
	rt.Send("hello, then forget me")
	waitUntil(t, "the message sent", 10*time.Second, func() bool { return tb.receipt("hello, then forget me") == relay.ReceiptSent })

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := w.mgr.Forget(ctx, id); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rt.Done():
		if r, _ := rt.Reason(); r != outbox.SignedOut {
			t.Errorf("the tab was let go as %v, want SignedOut", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the tab was not let go")
	}
	waitUntil(t, "the tab told", 5*time.Second, func() bool {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		return strings.Contains(tb.window.Notice, "no longer remembers you")
	})
	noOpenConversation(t, w, id.Token)
}

// TestForgetElsewhere: a customer whose conversation is open but whose
// session does not run on this node (another node has their tabs, or the
// session's grace ended) is forgotten too: the session is started for it
// and closes the conversation. Without one, Forget ends at once (a Sync
// shows there is none), not after forgetWait.
func TestForgetElsewhere(t *testing.T) {
	w := newWorld(t)
	id := w.identity(t)
	c := w.consumer(t, id.Token)
	if _, err := c.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{ChannelType: "MESSAGING"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := w.mgr.Forget(ctx, id); err != nil {
		t.Fatal(err)
	}
	noOpenConversation(t, w, id.Token)

	quiet := w.identity(t)
	start := time.Now()
	if err := w.mgr.Forget(ctx, quiet); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("forgetting a customer with no conversation took %s: it waited for the timeout", d)
	}
}
