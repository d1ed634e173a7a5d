package messaging_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

const connector = "c1"

func withConnector(c *simulator.Config) { c.ConnectorID = connector }

// subOf is a token's sub, read unverified.
func subOf(t *testing.T, tok string) string {
	t.Helper()
	sub, err := messaging.Subject(tok)
	if err != nil {
		t.Fatal(err)
	}
	return sub
}

// TestConnectorIdentityExtended: a new identity of the unauthenticated
// connector is an id_token and a consumer token naming the same consumer;
// once the id_token expired it is extended (refreshed, exchanged again)
// into fresh tokens of the same consumer; past the refresh period the
// extension is refused as a token refusal, so the caller knows the
// identity cannot be kept.
func TestConnectorIdentityExtended(t *testing.T) {
	e := newEnv(t, withConnector, func(c *simulator.Config) {
		c.ExtTokenTTL = 10 * time.Minute
		c.ExtTokenRefresh = time.Hour
	})
	hc := e.srv.Client()
	first, err := messaging.NewConnectorIdentity(t.Context(), hc, e.ep, connector)
	if err != nil {
		t.Fatal(err)
	}
	consumer := subOf(t, first.Token)
	if got := subOf(t, first.IDToken); got != consumer {
		t.Errorf("the id_token names %q, the consumer token %q", got, consumer)
	}

	e.clock.Advance(30 * time.Minute) // the id_token expired, refreshable still
	if _, err := messaging.ConnectorAuthenticate(t.Context(), hc, e.ep, connector, first.IDToken); messaging.Classify(err) != messaging.RefreshToken {
		t.Errorf("an expired id_token exchanged: %v, want a 401", err)
	}
	second, err := messaging.ExtendConnectorIdentity(t.Context(), hc, e.ep, connector, first.IDToken)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{subOf(t, second.Token), subOf(t, second.IDToken)}
	if diff := cmp.Diff([]string{consumer, consumer}, got); diff != "" {
		t.Errorf("the extended identity's consumer (-want +got):\n%s", diff)
	}
	if second.IDToken == first.IDToken || second.Token == first.Token {
		t.Error("the extension gave the same tokens again")
	}

	e.clock.Advance(3 * time.Hour) // past the refresh period of both
	_, err = messaging.ExtendConnectorIdentity(t.Context(), hc, e.ep, connector, second.IDToken)
	if messaging.Classify(err) != messaging.RefreshToken {
		t.Errorf("extension past the refresh period: %v, want a 401 (the identity cannot be kept)", err)
	}
}

// TestConnectorRefusals: an unknown connector is refused for good (404);
// a service without one too; a token that is not an id_token is
// refused as a token.
func TestConnectorRefusals(t *testing.T) {
	e := newEnv(t, withConnector)
	hc := e.srv.Client()
	idToken, err := messaging.AnonymousAuthorize(t.Context(), hc, e.ep, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = messaging.ConnectorAuthenticate(t.Context(), hc, e.ep, "unknown", idToken)
	var se *messaging.StatusError
	if !errors.As(err, &se) || se.StatusCode != http.StatusNotFound || messaging.Classify(err) != messaging.GiveUp {
		t.Errorf("an unknown connector: %v, want 404, given up", err)
	}

	plain := newEnv(t)
	if _, err := messaging.NewConnectorIdentity(t.Context(), plain.srv.Client(), plain.ep, connector); !errors.As(err, &se) || se.StatusCode != http.StatusNotFound {
		t.Errorf("a service without a connector: %v, want 404", err)
	}

	// A consumer token is no id_token.
	if _, err := messaging.AnonymousAuthorize(t.Context(), hc, e.ep, e.signup()); messaging.Classify(err) != messaging.RefreshToken {
		t.Errorf("refreshing a consumer token as an id_token: %v, want a 401", err)
	}
}

// TestConnectorTokenExtendedOn4407: a consumer of the connector whose
// token expires on an open socket is closed with 4407; its token source
// extends the identity and the session reconnects as the same consumer,
// its conversation still open.
func TestConnectorTokenExtendedOn4407(t *testing.T) {
	e := newEnv(t, withConnector, func(c *simulator.Config) {
		c.TokenTTL = time.Hour
		c.ExpiryCheck = 20 * time.Millisecond
	})
	hc := e.srv.Client()
	id, err := messaging.NewConnectorIdentity(t.Context(), hc, e.ep, connector)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	var idToken atomic.Value
	idToken.Store(id.IDToken)
	tokens := func(ctx context.Context) (string, error) {
		if calls.Add(1) == 1 {
			return id.Token, nil
		}
		next, err := messaging.ExtendConnectorIdentity(ctx, hc, e.ep, connector, idToken.Load().(string))
		if err != nil {
			return "", err
		}
		idToken.Store(next.IDToken)
		return next.Token, nil
	}
	c, col, _ := newConsumer(t, e, e.ep, false, tokens)
	conv, err := c.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{ChannelType: "MESSAGING"})
	if err != nil {
		t.Fatal(err)
	}

	e.clock.Advance(2 * time.Hour)
	col.WaitFor(t, "reopened", func(ups []messaging.Update) bool { return testenv.Opens(ups) == 2 })
	var lost error
	for _, u := range col.Snapshot() {
		if sc, ok := u.(messaging.StateChange); ok && sc.Err != nil && lost == nil {
			lost = sc.Err
		}
	}
	if websocket.CloseStatus(lost) != protocol.CloseTokenExtend {
		t.Errorf("the socket was lost with %v, want the close 4407", lost)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("the token source was asked %d times, want 2", got)
	}
	if got := subOf(t, c.Token()); got != subOf(t, id.Token) {
		t.Errorf("after the extension the consumer is %q, want %q", got, subOf(t, id.Token))
	}
	// The same consumer: its conversation is still its own, and open.
	_, err = c.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{ChannelType: "MESSAGING"})
	if pe := asProtocolError(err); pe == nil || pe.Code != http.StatusConflict {
		t.Errorf("a second conversation: %v, want 409 (conversation %s is still open)", err, conv)
	}
}
