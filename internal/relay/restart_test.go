package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/testclock"
)

// TestNewIdentity: the service refuses the session's token (it expired; a
// restarted service that lost its keys does the same) and a fresh one is
// obtained by signing up again, as the first was. The old conversation is
// out of reach: the window starts afresh and says why, the next message
// opens a new conversation, and the manager gives the web layer the new
// token for the cookie.
func TestNewIdentity(t *testing.T) {
	clock := testclock.New(time.Now())
	var w *world
	w = newWorld(t, func(sc *simulator.Config, rc *relay.Config) {
		if sc != nil {
			sc.Now = clock.Now
			// The brand's agent stays logged in across the jump: only the
			// consumer's token is to expire.
			sc.SessionTTL = 72 * time.Hour
		}
		if rc != nil {
			rc.Consumer = func(token string, tap func(bool, []byte)) (relay.Upstream, error) {
				first := true
				return messaging.NewConsumer(messaging.ConsumerConfig{
					Endpoints: w.ep, HTTPClient: w.srv.Client(), Tap: tap,
					Token: func(ctx context.Context) (string, error) {
						if first {
							first = false
							return token, nil
						}
						return messaging.Signup(ctx, w.srv.Client(), w.ep)
					},
					SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
				})
			}
		}
	})
	id := w.identity(t)
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	a, ups := w.agent(t)
	rt.Send("before")
	acceptFirstRing(t, a, ups)
	waitUntil(t, "sent", 10*time.Second, func() bool { return tb.receipt("before") == relay.ReceiptSent })

	clock.Advance(48 * time.Hour) // past the token's lifetime
	w.proxy.CutAll()
	waitUntil(t, "a fresh window that says why", 15*time.Second, func() bool {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		return tb.window.Phase == relay.PhaseNew && strings.Contains(tb.window.Notice, "restarted") && len(tb.window.Messages) == 0
	})
	tok, ok := w.mgr.Token(id.SessionID)
	if !ok || tok == id.Token {
		t.Errorf("Manager.Token = %v, %v; want a new token", ok, tok == id.Token)
	}

	rt.Send("after")
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "the new conversation's message sent", 10*time.Second, func() bool { return tb.receipt("after") == relay.ReceiptSent })
	for _, e := range w.svc.DialogEvents(conv) {
		if e.Event.Type == protocol.EventContent && e.Event.Message == "before" {
			t.Error("the new conversation holds the old one's message")
		}
	}
}

// TestUpstreamGivesUp: the service refuses every token the session can
// get; the upstream gives up (bounded, no storm), the banner says offline,
// and a message written then says not sent instead of waiting forever.
func TestUpstreamGivesUp(t *testing.T) {
	var w *world
	w = newWorld(t, func(_ *simulator.Config, rc *relay.Config) {
		if rc != nil {
			rc.Consumer = func(_ string, tap func(bool, []byte)) (relay.Upstream, error) {
				return messaging.NewConsumer(messaging.ConsumerConfig{
					Endpoints: w.ep, HTTPClient: w.srv.Client(), Tap: tap,
					Token:          messaging.StaticToken("not.a.token"),
					SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
				})
			}
		}
	})
	rt, err := w.mgr.Attach(w.identity(t))
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	waitUntil(t, "the banner to say offline", 10*time.Second, func() bool { return tb.connection() == "offline" })
	rt.Send("anyone?")
	waitUntil(t, "the message marked not sent", 5*time.Second, func() bool { return tb.receipt("anyone?") == relay.ReceiptFailed })
}
