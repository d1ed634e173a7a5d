package relay_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/testclock"
)

// The identities of sessions built by Config.Connect (identity.go): the
// session's own token source renews a refused token with Config.Renew or,
// for an authenticated customer, with the customer's page's sign-in.

const connectorID = "c1"

// idWorld is a world whose service runs on clock (its agents stay signed
// in across the jumps), whose sessions are built by Connect with the
// session's token source, and whose renewals wait at gate while it is
// closed (renewing says one started).
type idWorld struct {
	*world
	clock    *testclock.Clock
	gate     atomic.Pointer[chan struct{}]
	renewing chan struct{}
	renewals atomic.Int64
}

func newIDWorld(t *testing.T, renew func(w *idWorld, ctx context.Context, id relay.Identity) (relay.Identity, error), byPage bool) *idWorld {
	t.Helper()
	iw := &idWorld{clock: testclock.New(time.Now()), renewing: make(chan struct{}, 1)}
	open := make(chan struct{})
	close(open)
	iw.gate.Store(&open)
	iw.world = newWorld(t, func(sc *simulator.Config, rc *relay.Config) {
		if sc != nil {
			sc.Now = iw.clock.Now
			sc.SessionTTL = 1000 * time.Hour
			sc.ConnectorID = connectorID
			sc.ExpiryCheck = 20 * time.Millisecond
		}
		if rc != nil {
			rc.Connect = func(_ relay.Identity, tokens messaging.TokenSource, tap func(bool, []byte)) (relay.Upstream, error) {
				return messaging.NewConsumer(messaging.ConsumerConfig{
					Endpoints: iw.ep, HTTPClient: iw.srv.Client(), Tap: tap, Token: tokens,
					SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
				})
			}
			rc.SignInByPage = byPage
			if renew != nil {
				rc.Renew = func(ctx context.Context, id relay.Identity) (relay.Identity, error) {
					iw.renewals.Add(1)
					select {
					case iw.renewing <- struct{}{}:
					default:
					}
					select {
					case <-*iw.gate.Load():
					case <-ctx.Done():
						return relay.Identity{}, ctx.Err()
					}
					return renew(iw, ctx, id)
				}
			}
		}
	})
	return iw
}

// hold makes the next renewals wait until release.
func (iw *idWorld) hold() {
	gate := make(chan struct{})
	iw.gate.Store(&gate)
}

func (iw *idWorld) release() { close(*iw.gate.Load()) }

// extendConnector is the node's renewal of a connector identity.
func extendConnector(iw *idWorld, ctx context.Context, id relay.Identity) (relay.Identity, error) {
	next, err := messaging.ExtendConnectorIdentity(ctx, iw.srv.Client(), iw.ep, connectorID, id.IDToken)
	if err != nil {
		return relay.Identity{}, err
	}
	return relay.Identity{Token: next.Token, IDToken: next.IDToken}, nil
}

// brandCode is a brand's identity token for customer sub, valid for an
// hour on the service's clock (the service takes it unverified).
func (iw *idWorld) brandCode(sub string) string {
	seg := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return seg(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." +
		seg(map[string]any{"sub": sub, "exp": iw.clock.Now().Add(time.Hour).Unix()}) + ".c2ln"
}

func (iw *idWorld) signIn(t *testing.T, sub string) string {
	t.Helper()
	tok, err := messaging.Authenticate(t.Context(), iw.srv.Client(), iw.ep, iw.brandCode(sub))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// waitAsking waits until the session asks its page to sign the customer in.
func (iw *idWorld) waitAsking(t *testing.T, sessionID string) {
	t.Helper()
	waitUntil(t, "the session asking the page", 10*time.Second, func() bool {
		v, _ := iw.mgr.View(sessionID)
		return v.SignIn
	})
}

// waitFresh waits until the tab shows a fresh window whose notice says
// why (it contains why).
func waitFresh(t *testing.T, tb *tab, why string) {
	t.Helper()
	waitUntil(t, "a fresh window that says why", 15*time.Second, func() bool {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		return tb.window.Phase == relay.PhaseNew && strings.Contains(tb.window.Notice, why) && len(tb.window.Messages) == 0
	})
}

// consumerTexts are the texts the consumer published in the dialog, in
// order, and who published them.
func consumerTexts(svc *simulator.Service, dialog, agentPID string) (texts []string, from map[string]bool) {
	from = map[string]bool{}
	for _, e := range svc.DialogEvents(dialog) {
		if e.Event.Type == protocol.EventContent && e.Originator() != agentPID {
			texts = append(texts, e.Event.Message)
			from[e.Originator()] = true
		}
	}
	return texts, from
}

// gap plays what happens while the session waits for its fresh token:
// the customer writes, the agent writes. It returns the agent's sequence.
func gap(t *testing.T, rt *relay.Tab, tb *tab, a *messaging.Agent, conv string) int64 {
	t.Helper()
	rt.Send("written in the gap")
	// The send reaches the tab through the session's loop: shown first,
	// then looked at (pending while the identity renews).
	waitUntil(t, "the gap's message shown", 10*time.Second, func() bool { return tb.receipt("written in the gap") != "" })
	seq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "answered in the gap"})
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// afterGap checks that the conversation went on as the same consumer:
// the message written in the gap went once, in order; the agent's
// got one ACCEPT and one READ; nothing says the conversation was lost.
func afterGap(t *testing.T, w *world, rt *relay.Tab, tb *tab, a *messaging.Agent, conv, consumer string, seq int64) {
	t.Helper()
	waitUntil(t, "the gap's message sent", 15*time.Second, func() bool {
		if tb.receipt("written in the gap") == relay.ReceiptFailed {
			t.Fatal("the message written in the gap shows as not sent")
		}
		return tb.receipt("written in the gap") == relay.ReceiptSent
	})
	waitUntil(t, "the READ of the gap's answer", 15*time.Second, func() bool {
		_, read := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
		return read[seq] >= 1
	})
	// Sends go out in order: once the marker is stored, a second copy of
	// the gap's message would be too.
	rt.Send("marker")
	waitUntil(t, "the marker sent", 10*time.Second, func() bool { return tb.receipt("marker") == relay.ReceiptSent })
	tb.mu.Lock()
	notice := tb.window.Notice
	tb.mu.Unlock()
	texts, from := consumerTexts(w.svc, conv, a.PID())
	accept, read := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
	got := struct {
		Texts          []string
		From           map[string]bool
		Accepts, Reads int
		Notice         string
	}{texts, from, accept[seq], read[seq], notice}
	want := got
	want.Texts, want.From, want.Accepts, want.Reads, want.Notice = []string{"hello", "written in the gap", "marker"}, map[string]bool{consumer: true}, 1, 1, ""
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after the gap (-want +got):\n%s", diff)
	}
}

// TestConnectorIdentityExtendedOnExpiry: the token of a connector's
// customer expires on the open socket (4407); the session extends the
// identity (Renew: the id_token refreshed, exchanged again) and goes on as
// the same consumer in the same conversation: a message written and an
// agent's answer given while it renews arrive once, with their receipts;
// the manager gives the web layer the new id_token for the cookie.
func TestConnectorIdentityExtendedOnExpiry(t *testing.T) {
	iw := newIDWorld(t, extendConnector, false)
	first, err := messaging.NewConnectorIdentity(t.Context(), iw.srv.Client(), iw.ep, connectorID)
	if err != nil {
		t.Fatal(err)
	}
	consumer, _ := messaging.Subject(first.Token)
	id := relay.Identity{SessionID: "s-connector", Token: first.Token, IDToken: first.IDToken}
	rt, tb, a, conv := iw.converse(t, id, "hello")

	iw.hold()
	iw.clock.Advance(48 * time.Hour) // past the token's 24 h; the id_token may be refreshed for 730 h
	select {
	case <-iw.renewing:
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not renew its identity after the expiry")
	}
	seq := gap(t, rt, tb, a, conv)
	if got := tb.receipt("written in the gap"); got != relay.ReceiptPending {
		t.Errorf("the message written in the gap is %q, want pending", got)
	}
	iw.release()
	afterGap(t, iw.world, rt, tb, a, conv, consumer, seq)

	now, ok := iw.mgr.Identity(id.SessionID)
	sub, _ := messaging.Subject(now.Token)
	if !ok || now.IDToken == first.IDToken || now.Token == first.Token || sub != consumer {
		t.Errorf("Manager.Identity = %v (new id_token %v, new token %v, consumer %q); want the renewed identity of %q",
			ok, now.IDToken != first.IDToken, now.Token != first.Token, sub, consumer)
	}
	if n := iw.renewals.Load(); n != 1 {
		t.Errorf("%d renewals, want 1", n)
	}
}

// TestRenewedAsNewConsumerSaysSo: a renewal that cannot keep the customer
// (a demo signup: a new consumer) starts the window afresh and says why.
func TestRenewedAsNewConsumerSaysSo(t *testing.T) {
	iw := newIDWorld(t, func(iw *idWorld, ctx context.Context, _ relay.Identity) (relay.Identity, error) {
		tok, err := messaging.Signup(ctx, iw.srv.Client(), iw.ep)
		return relay.Identity{Token: tok}, err
	}, false)
	id := iw.identity(t)
	_, tb, _, _ := iw.converse(t, id, "hello")
	iw.clock.Advance(48 * time.Hour)
	waitFresh(t, tb, "could not be kept")
}

// TestSignInByPageOnExpiry: the token of an authenticated customer expires
// on the open socket (4401). Only the brand can sign the customer in: the
// session asks its tabs (View.SignIn) and waits; the page's answer,
// exchanged by the web layer, comes with Manager.SignIn, and the session
// goes on as the same consumer in the same conversation, nothing lost.
func TestSignInByPageOnExpiry(t *testing.T) {
	iw := newIDWorld(t, nil, true)
	tok := iw.signIn(t, "customer-1")
	consumer, _ := messaging.Subject(tok)
	id := relay.Identity{SessionID: "s-auth", Token: tok}
	if iw.mgr.SignIn(id.SessionID, tok) {
		t.Error("SignIn took a token for a session that does not run")
	}
	rt, tb, a, conv := iw.converse(t, id, "hello")
	if iw.mgr.SignIn(id.SessionID, tok) {
		t.Error("SignIn took a token while the session waited for none")
	}

	iw.clock.Advance(2 * time.Hour) // past the brand token's hour
	iw.waitAsking(t, id.SessionID)
	seq := gap(t, rt, tb, a, conv)
	if got := tb.receipt("written in the gap"); got != relay.ReceiptPending {
		t.Errorf("the message written in the gap is %q, want pending", got)
	}
	fresh := iw.signIn(t, "customer-1")
	if !iw.mgr.SignIn(id.SessionID, fresh) {
		t.Fatal("the waiting session did not take the page's token")
	}
	afterGap(t, iw.world, rt, tb, a, conv, consumer, seq)
	if v, _ := iw.mgr.View(id.SessionID); v.SignIn {
		t.Error("the session still asks the page after it signed in")
	}
	if now, _ := iw.mgr.Identity(id.SessionID); now.Token != fresh {
		t.Error("Manager.Identity does not give the page's token")
	}
}

// TestSignInByPageOnAttach: the page signed the customer in through another
// node (which wrote the cookie): the tab that attaches here with that
// cookie brings the waiting session its token.
func TestSignInByPageOnAttach(t *testing.T) {
	iw := newIDWorld(t, nil, true)
	id := relay.Identity{SessionID: "s-auth", Token: iw.signIn(t, "customer-1")}
	rt, err := iw.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	waitUntil(t, "open", 10*time.Second, func() bool { return tb.connection() == "open" })
	iw.clock.Advance(2 * time.Hour)
	iw.waitAsking(t, id.SessionID)
	fresh := relay.Identity{SessionID: id.SessionID, Token: iw.signIn(t, "customer-1")}
	rt2, err := iw.mgr.Attach(fresh)
	if err != nil {
		t.Fatal(err)
	}
	runTab(t, rt2, true)
	waitUntil(t, "open again on the cookie's token", 10*time.Second, func() bool {
		v, _ := iw.mgr.View(id.SessionID)
		now, _ := iw.mgr.Identity(id.SessionID)
		return v.Connection == messaging.StateOpen && !v.SignIn && now.Token == fresh.Token
	})
}

// TestSignInByPageAsAnotherCustomer: the page signs in someone else (the
// brand's site changed who is logged in): the session goes on as that
// consumer, the window starts afresh and says so.
func TestSignInByPageAsAnotherCustomer(t *testing.T) {
	iw := newIDWorld(t, nil, true)
	id := relay.Identity{SessionID: "s-auth", Token: iw.signIn(t, "customer-1")}
	_, tb, _, _ := iw.converse(t, id, "hello")
	iw.clock.Advance(2 * time.Hour)
	iw.waitAsking(t, id.SessionID)
	if !iw.mgr.SignIn(id.SessionID, iw.signIn(t, "customer-2")) {
		t.Fatal("the waiting session did not take the page's token")
	}
	waitFresh(t, tb, "signed in as someone else")
	if got := fmt.Sprint(iw.renewals.Load()); got != "0" {
		t.Errorf("Renew was called %s times for a session its page signs in", got)
	}
}
