package relay_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/receipts"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/testclock"
)

// tokenLife is how long each token of an authWorld lives on the service's
// clock; the tests move the clock past it.
const tokenLife = time.Hour

// authWorld is a world whose customer is authenticated: every token, the
// first and each fresh one, is the brand's identity exchanged again
// (messaging.Authenticate), so a refreshed token names the same customer
// and the conversation stays. The service runs on clock; tokens counts
// what the session's token source was asked.
type authWorld struct {
	*world
	clock  *testclock.Clock
	id     relay.Identity
	tokens atomic.Int64
}

func newAuthWorld(t *testing.T) *authWorld {
	t.Helper()
	aw := &authWorld{clock: testclock.New(time.Now())}
	aw.world = newWorld(t, func(sc *simulator.Config, rc *relay.Config) {
		if sc != nil {
			sc.Now = aw.clock.Now
		}
		if rc != nil {
			rc.Consumer = func(token string, tap func(bool, []byte)) (relay.Upstream, error) {
				first := true
				return messaging.NewConsumer(messaging.ConsumerConfig{
					Endpoints: aw.ep, HTTPClient: aw.srv.Client(), Tap: tap,
					// Called by the consumer's Run only, one call at a time.
					Token: func(ctx context.Context) (string, error) {
						aw.tokens.Add(1)
						if first {
							first = false
							return token, nil
						}
						return aw.authenticate(ctx)
					},
					SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
				})
			}
		}
	})
	tok, err := aw.authenticate(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	aw.id = relay.Identity{SessionID: "s-authenticated", Token: tok}
	return aw
}

// authenticate exchanges the brand's identity token of one customer, valid
// for tokenLife from the service's now, for a consumer token.
func (aw *authWorld) authenticate(ctx context.Context) (string, error) {
	seg := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	// The service does not check the brand's signature (docs/simulator.md).
	code := seg(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." +
		seg(map[string]any{"sub": "customer-1", "exp": aw.clock.Now().Add(tokenLife).Unix()}) + ".c2ln"
	return messaging.Authenticate(ctx, aw.srv.Client(), aw.ep, code)
}

// expire moves the service's clock past the life of every token issued so
// far: the session's socket stays open, and its next request is refused
// with 401 (and the socket closed with 4401).
func (aw *authWorld) expire() { aw.clock.Advance(2 * tokenLife) }

// TestReceiptRefusedTokenPublishedAfterRefresh: a READ whose publish is
// answered 401 (the token expired while the socket was open) is not
// dropped: the upstream gets a fresh token for the same customer and
// reconnects, and the READ goes out then, exactly once.
func TestReceiptRefusedTokenPublishedAfterRefresh(t *testing.T) {
	aw := newAuthWorld(t)
	rt, err := aw.mgr.Attach(aw.id)
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, false) // reports delivered; the test reports seen
	a, ups := aw.agent(t)
	rt.Send("hello")
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "the customer's message sent", 10*time.Second, func() bool { return tb.receipt("hello") == relay.ReceiptSent })
	agentSays := func(text string) int64 {
		t.Helper()
		seq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text})
		if err != nil {
			t.Fatal(err)
		}
		// Everything the session sent before is answered once its ACCEPT
		// is stored: the next request it makes is the READ.
		waitUntil(t, "the ACCEPT of "+text, 10*time.Second, func() bool {
			accept, _ := consumerReceipts(aw.svc.DialogEvents(conv), a.PID())
			return accept[seq] == 1
		})
		return seq
	}
	seq := agentSays("question")

	aw.expire()
	rt.Report("seen", []receipts.Item{{DialogID: conv, Seq: seq}})
	waitUntil(t, "the READ at the service after the refresh", 15*time.Second, func() bool {
		_, read := consumerReceipts(aw.svc.DialogEvents(conv), a.PID())
		return read[seq] >= 1
	})
	if got := aw.tokens.Load(); got != 2 {
		t.Errorf("the token source was asked %d times, want 2 (the first, one refresh)", got)
	}

	// A later receipt goes out after anything still due for the first: once
	// its READ is stored, a second READ of the first would be too.
	marker := agentSays("marker")
	rt.Report("seen", []receipts.Item{{DialogID: conv, Seq: marker}})
	waitUntil(t, "the marker's READ", 10*time.Second, func() bool {
		_, read := consumerReceipts(aw.svc.DialogEvents(conv), a.PID())
		return read[marker] == 1
	})
	accept, read := consumerReceipts(aw.svc.DialogEvents(conv), a.PID())
	if accept[seq] != 1 || read[seq] != 1 {
		t.Errorf("sequence %d: %d ACCEPT, %d READ at the service; want exactly 1 each", seq, accept[seq], read[seq])
	}
}

// TestTextRefusedTokenSentAfterRefresh: the customer's message whose
// publish is answered 401 stays pending (never shown as not sent) and is
// sent on the fresh token's connection, once.
func TestTextRefusedTokenSentAfterRefresh(t *testing.T) {
	aw := newAuthWorld(t)
	rt, err := aw.mgr.Attach(aw.id)
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	a, ups := aw.agent(t)
	rt.Send("hello")
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "the customer's message sent", 10*time.Second, func() bool { return tb.receipt("hello") == relay.ReceiptSent })
	// Everything the session sent before is answered once the READ of an
	// agent's message is stored: the next request it makes is the message.
	seq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "question"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the READ of the agent's message", 10*time.Second, func() bool {
		_, read := consumerReceipts(aw.svc.DialogEvents(conv), a.PID())
		return read[seq] == 1
	})

	aw.expire()
	rt.Send("after expiry")
	waitUntil(t, "the message sent after the refresh", 15*time.Second, func() bool {
		switch tb.receipt("after expiry") {
		case relay.ReceiptFailed:
			t.Fatal("the message refused for its token shows as not sent")
		case relay.ReceiptSent:
			return true
		}
		return false
	})
	if got := aw.tokens.Load(); got != 2 {
		t.Errorf("the token source was asked %d times, want 2 (the first, one refresh)", got)
	}

	// Sends go out in order: once the next one is stored, a second copy of
	// the first would be too.
	rt.Send("marker")
	waitUntil(t, "the marker sent", 10*time.Second, func() bool { return tb.receipt("marker") == relay.ReceiptSent })
	var texts []string
	for _, e := range aw.svc.DialogEvents(conv) {
		if e.Event.Type == protocol.EventContent && e.Originator() != a.PID() {
			texts = append(texts, e.Event.Message)
		}
	}
	if got, want := fmt.Sprint(texts), "[hello after expiry marker]"; got != want {
		t.Errorf("the service has %s, want %s (each once, in order)", got, want)
	}
}
