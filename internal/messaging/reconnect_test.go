package messaging_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/faultproxy"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

// viaProxy returns endpoints whose messaging host is a fault proxy in front
// of the service (HTTP services stay direct).
func viaProxy(t *testing.T, e *env) (messaging.Endpoints, *faultproxy.Proxy) {
	t.Helper()
	p, err := faultproxy.New(context.Background(), strings.TrimPrefix(e.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	ep := e.ep
	ep.AsyncMessagingEnt = p.Addr()
	return ep, p
}

// seqAndText is what must match between a client's view and the store.
type seqAndText struct {
	Seq  int64
	Type string
	Text string
}

func summary(evs []protocol.MessagingEvent) []seqAndText {
	out := make([]seqAndText, 0, len(evs))
	for _, ev := range evs {
		s, _ := ev.Seq()
		out = append(out, seqAndText{s, ev.Event.Type, ev.Event.Message})
	}
	return out
}

// writer publishes n messages in the background, one after the other,
// retrying a publish that failed because the socket was down.
func writer(t *testing.T, n int, publish func(ctx context.Context, text string) error) <-chan struct{} {
	done := make(chan struct{})
	// Ends after n messages, or when the test ends.
	go func() {
		defer close(done)
		for i := 0; i < n; {
			err := publish(t.Context(), fmt.Sprintf("m%d", i))
			switch {
			case err == nil:
				i++
			case t.Context().Err() != nil:
				return
			default:
				time.Sleep(time.Millisecond)
			}
		}
	}()
	return done
}

// TestConsumerCatchUpAcrossCuts cuts the consumer's socket several times
// while the agent keeps writing; in the end the consumer has every event
// of the dialog exactly once, in sequence order, as the service stored it.
func TestConsumerCatchUpAcrossCuts(t *testing.T) {
	e := newEnv(t)
	ep, proxy := viaProxy(t, e)
	consumer, ccol, _ := newConsumer(t, e, ep, false, nil)
	if err := consumer.SubscribeConversations(t.Context(), protocol.SubscribeExConversations{}); err != nil {
		t.Fatal(err)
	}
	convID, err := consumer.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{})
	if err != nil {
		t.Fatal(err)
	}
	if err := consumer.Follow(t.Context(), convID, convID, 0); err != nil {
		t.Fatal(err)
	}
	agent, acol, _ := newAgent(t, e, e.ep)
	acceptRing(t, agent, acol, convID)

	const n = 120
	written := writer(t, n, func(ctx context.Context, text string) error {
		_, err := agent.Publish(ctx, convID, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text})
		return err
	})
	const cuts = 5
	for i := 1; i <= cuts; i++ {
		// Cut once some new events have arrived on the current socket.
		have := len(testenv.Events(ccol.Snapshot(), convID))
		ccol.WaitFor(t, "progress", func(ups []messaging.Update) bool {
			return testenv.IsOpen(ups) && (len(testenv.Events(ups, convID)) > have || len(testenv.Events(ups, convID)) == n)
		})
		proxy.CutAll()
		ccol.WaitFor(t, fmt.Sprintf("reopen %d", i), func(ups []messaging.Update) bool { return testenv.Opens(ups) == i+1 })
	}
	<-written
	ups := ccol.WaitFor(t, "every event", func(ups []messaging.Update) bool { return len(testenv.Events(ups, convID)) >= n })

	stored := e.svc.DialogEvents(convID)
	if diff := cmp.Diff(summary(stored), summary(testenv.Events(ups, convID))); diff != "" {
		t.Errorf("consumer's events vs the store (-want +got):\n%s", diff)
	}
	if got := proxy.Accepted(); got != cuts+1 {
		t.Errorf("connections = %d, want %d", got, cuts+1)
	}
	if last, ok := consumer.LastSequence(convID); !ok || last != int64(len(stored)-1) {
		t.Errorf("LastSequence = %d, %v", last, ok)
	}
}

// TestAgentCatchUpAcrossCuts does the same on the agent side: the agent's
// socket is cut while the consumer writes; the agent restores its state
// and catches up with QueryMessages, each event once, in order.
func TestAgentCatchUpAcrossCuts(t *testing.T) {
	e := newEnv(t)
	consumer, _, _ := newConsumer(t, e, e.ep, false, nil)
	convID, err := consumer.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consumer.Publish(t.Context(), convID, convID, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "early"}); err != nil {
		t.Fatal(err)
	}
	ep, proxy := viaProxy(t, e)
	agent, acol, _ := newAgent(t, e, ep)
	acceptRing(t, agent, acol, convID)
	// The consumer's first words came before the agent joined: Follow
	// brings them as history.
	if err := agent.Follow(t.Context(), convID, 0); err != nil {
		t.Fatal(err)
	}

	const n = 120
	written := writer(t, n, func(ctx context.Context, text string) error {
		_, err := consumer.Publish(ctx, convID, convID, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text})
		return err
	})
	const cuts = 5
	for i := 1; i <= cuts; i++ {
		have := len(testenv.Events(acol.Snapshot(), convID))
		acol.WaitFor(t, "progress", func(ups []messaging.Update) bool {
			return testenv.IsOpen(ups) && (len(testenv.Events(ups, convID)) > have || len(testenv.Events(ups, convID)) == n+1)
		})
		proxy.CutAll()
		acol.WaitFor(t, fmt.Sprintf("reopen %d", i), func(ups []messaging.Update) bool { return testenv.Opens(ups) == i+1 })
	}
	<-written
	ups := acol.WaitFor(t, "every event", func(ups []messaging.Update) bool { return len(testenv.Events(ups, convID)) >= n+1 })
	if diff := cmp.Diff(summary(e.svc.DialogEvents(convID)), summary(testenv.Events(ups, convID))); diff != "" {
		t.Errorf("agent's events vs the store (-want +got):\n%s", diff)
	}

	// The agent is still ONLINE and rung after the cuts: a new consumer's
	// conversation reaches it.
	c2, _, _ := newConsumer(t, e, e.ep, false, nil)
	conv2, err := c2.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{})
	if err != nil {
		t.Fatal(err)
	}
	acceptRing(t, agent, acol, conv2)
}

// TestFreshTokenAfterExpiry: the consumer's token expires while its socket
// is up; after a cut the handshake is refused (401) and the session asks
// its token source for a fresh one, once.
func TestFreshTokenAfterExpiry(t *testing.T) {
	e := newEnv(t, func(c *simulator.Config) {
		c.TokenTTL = time.Hour
		c.ExpiryCheck = time.Hour // the cut ends the socket, not the expiry
	})
	ep, proxy := viaProxy(t, e)
	var calls atomic.Int64
	tokens := func(ctx context.Context) (string, error) {
		calls.Add(1)
		return messaging.Signup(ctx, e.srv.Client(), e.ep)
	}
	_, col, _ := newConsumer(t, e, ep, false, tokens)
	e.clock.Advance(2 * time.Hour)
	proxy.CutAll()
	col.WaitFor(t, "reopened", func(ups []messaging.Update) bool { return testenv.Opens(ups) == 2 })
	if got := calls.Load(); got != 2 {
		t.Errorf("token source called %d times, want 2", got)
	}
}

// TestFreshTokenAfterBadToken: a refused token is replaced; a source that
// only ever gives refused tokens makes Run give up after a bounded number
// of attempts, with header auth and with InitConnection.
func TestFreshTokenAfterBadToken(t *testing.T) {
	for _, initConn := range []bool{false, true} {
		t.Run(fmt.Sprintf("InitConnection=%v", initConn), func(t *testing.T) {
			e := newEnv(t)
			var calls atomic.Int64
			firstBad := func(ctx context.Context) (string, error) {
				if calls.Add(1) == 1 {
					return "expired.or.forged", nil
				}
				return messaging.Signup(ctx, e.srv.Client(), e.ep)
			}
			newConsumer(t, e, e.ep, initConn, firstBad)
			if got := calls.Load(); got != 2 {
				t.Errorf("token source called %d times, want 2", got)
			}

			var bad atomic.Int64
			alwaysBad := func(context.Context) (string, error) {
				bad.Add(1)
				return "expired.or.forged", nil
			}
			c, err := messaging.NewConsumer(messaging.ConsumerConfig{
				Endpoints: e.ep, Token: alwaysBad, InitConnection: initConn,
				SessionOptions: messaging.SessionOptions{Backoff: fastBackoff, MaxTokenRefresh: 3},
			})
			if err != nil {
				t.Fatal(err)
			}
			col := testenv.Collect(c.Updates())
			err = testenv.Start(t, c.Run).Wait(t)
			if !messaging.IsTokenRejected(err) {
				t.Errorf("Run = %v, want a token rejection", err)
			}
			if got := bad.Load(); got != 4 {
				t.Errorf("token source called %d times, want 1 + 3 refreshes", got)
			}
			<-col.Done()
			ups := col.Snapshot()
			if last, ok := ups[len(ups)-1].(messaging.StateChange); !ok || last.State != messaging.StateOffline {
				t.Errorf("last update %v, want Offline", ups[len(ups)-1])
			}
		})
	}
}

// TestFreshTokenOnClose4401: a socket the service closes with 4401 (or
// 4407) is reopened with a fresh token.
func TestFreshTokenOnClose4401(t *testing.T) {
	for _, code := range []websocket.StatusCode{protocol.CloseTokenInvalid, protocol.CloseTokenExtend} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			srv := scriptServer(t, func(ctx context.Context, r *http.Request, c *websocket.Conn) {
				mu.Lock()
				seen = append(seen, r.Header.Get("Authorization"))
				first := len(seen) == 1
				mu.Unlock()
				if first {
					_ = c.Close(code, "token")
					return
				}
				_, _, _ = c.Read(ctx) // stay open until the client leaves
			})
			var calls atomic.Int64
			tokens := func(context.Context) (string, error) { return fmt.Sprintf("t%d", calls.Add(1)), nil }
			ep := messaging.Endpoints{Scheme: "http", Account: account, AsyncMessagingEnt: strings.TrimPrefix(srv.URL, "http://")}
			c, err := messaging.NewConsumer(messaging.ConsumerConfig{Endpoints: ep, Token: tokens,
				SessionOptions: messaging.SessionOptions{Backoff: fastBackoff}})
			if err != nil {
				t.Fatal(err)
			}
			col := testenv.Collect(c.Updates())
			r := testenv.Start(t, c.Run)
			col.WaitFor(t, "reopened", func(ups []messaging.Update) bool { return testenv.Opens(ups) == 2 })
			// The client is open once the upgrade is answered, which may
			// be before the server's handler has noted the header.
			for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
				mu.Lock()
				n := len(seen)
				mu.Unlock()
				if n >= 2 {
					break
				}
			}
			if err := r.Stop(t); err != nil {
				t.Errorf("Run = %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if diff := cmp.Diff([]string{"jwt t1", "jwt t2"}, seen); diff != "" {
				t.Errorf("Authorization headers (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFreshTokenOnRequest401: a service that answers a request 401 (the
// token expired while the socket was open) and keeps the socket open: the
// request is classified RefreshToken, the socket ends as refused, and the
// session reconnects with a fresh token, on which the same request goes
// through.
func TestFreshTokenOnRequest401(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := scriptServer(t, func(ctx context.Context, r *http.Request, c *websocket.Conn) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		first := len(seen) == 1
		mu.Unlock()
		for {
			req, err := readReq(ctx, c)
			if err != nil {
				return
			}
			resp, _ := protocol.NewResponse(req.ID, 200, protocol.TypePublishEventResponse, protocol.PublishEventResponse{Sequence: 7})
			if first {
				resp, _ = protocol.NewResponse(req.ID, http.StatusUnauthorized, "", "token expired")
			}
			if writeFrame(ctx, c, resp) != nil {
				return
			}
		}
	})
	var calls atomic.Int64
	tokens := func(context.Context) (string, error) { return fmt.Sprintf("t%d", calls.Add(1)), nil }
	ep := messaging.Endpoints{Scheme: "http", Account: account, AsyncMessagingEnt: strings.TrimPrefix(srv.URL, "http://")}
	c, err := messaging.NewConsumer(messaging.ConsumerConfig{Endpoints: ep, Token: tokens,
		SessionOptions: messaging.SessionOptions{Backoff: fastBackoff}})
	if err != nil {
		t.Fatal(err)
	}
	col := testenv.Collect(c.Updates())
	r := testenv.Start(t, c.Run)
	col.WaitFor(t, "open", func(ups []messaging.Update) bool { return testenv.Opens(ups) == 1 })

	ev := protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusRead, SequenceList: protocol.Seqs{3}}
	_, err = c.Publish(t.Context(), "D", "D", ev)
	if got := messaging.Classify(err); got != messaging.RefreshToken {
		t.Fatalf("Publish answered 401: %v, classified %v; want %v", err, got, messaging.RefreshToken)
	}
	ups := col.WaitFor(t, "reopened", func(ups []messaging.Update) bool { return testenv.Opens(ups) == 2 })
	lost := false
	for _, u := range ups {
		if sc, ok := u.(messaging.StateChange); ok && sc.State == messaging.StateReconnecting {
			lost = lost || messaging.IsTokenRejected(sc.Err)
		}
	}
	if !lost {
		t.Error("no StateChange says the socket was lost to a refused token")
	}
	seq, err := c.Publish(t.Context(), "D", "D", ev)
	if err != nil || seq != 7 {
		t.Errorf("Publish after the refresh = %d, %v; want 7, nil", seq, err)
	}
	if err := r.Stop(t); err != nil {
		t.Errorf("Run = %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"jwt t1", "jwt t2"}, seen); diff != "" {
		t.Errorf("Authorization headers (-want +got):\n%s", diff)
	}
}

func TestAgentWrongPasswordGivesUp(t *testing.T) {
	e := newEnv(t)
	a, err := messaging.NewAgent(messaging.AgentConfig{Endpoints: e.ep, Username: "alice", Password: "nope",
		SessionOptions: messaging.SessionOptions{Backoff: fastBackoff}})
	if err != nil {
		t.Fatal(err)
	}
	col := testenv.Collect(a.Updates())
	err = testenv.Start(t, a.Run).Wait(t)
	var se *messaging.StatusError
	if !errors.As(err, &se) || se.StatusCode != 401 {
		t.Errorf("Run = %v, want the login's 401", err)
	}
	<-col.Done()
}

// TestRequestsWhileOffline fail fast; subscriptions made while offline are
// applied on connect.
func TestRequestsWhileOffline(t *testing.T) {
	e := newEnv(t)
	c, err := messaging.NewConsumer(messaging.ConsumerConfig{Endpoints: e.ep, Token: messaging.SignupToken(e.srv.Client(), e.ep)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{}); !errors.Is(err, messaging.ErrNotConnected) {
		t.Errorf("offline request: %v, want ErrNotConnected", err)
	}
	if err := c.SubscribeConversations(t.Context(), protocol.SubscribeExConversations{}); err != nil {
		t.Errorf("offline subscribe: %v", err)
	}
	col := testenv.Collect(c.Updates())
	testenv.Start(t, c.Run)
	col.WaitFor(t, "open", testenv.IsOpen)
	if _, err := c.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{}); err != nil {
		t.Fatal(err)
	}
	col.WaitFor(t, "the new conversation through the subscription made offline", func(ups []messaging.Update) bool {
		for _, u := range ups {
			if _, ok := u.(messaging.ConversationUpdate); ok {
				return true
			}
		}
		return false
	})
	// A refused Follow is returned and not kept.
	if err := c.Follow(t.Context(), "no-such-dialog", "", 0); asProtocolError(err) == nil {
		t.Errorf("Follow of an unknown dialog: %v", err)
	}
}

// switchHandler lets a test replace the service behind a running server,
// as a restart of the service would.
type switchHandler struct{ h atomic.Pointer[http.Handler] }

func (s *switchHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

func (s *switchHandler) set(h http.Handler) { s.h.Store(&h) }

// TestAgentReloginAfterServiceRestart: the service restarts (its sessions
// are gone), the agent's handshake is refused, it logs in again, restores
// its state, and drops the catch-up of a conversation the new service does
// not know.
func TestAgentReloginAfterServiceRestart(t *testing.T) {
	newSvc := func() *simulator.Service {
		svc, err := simulator.New(simulator.Config{Account: account, SigningKey: testenv.Key(), Logger: testLogger(),
			Agents: []simulator.Agent{{Name: "alice", Password: "pw-a"}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(svc.Close)
		return svc
	}
	first := newSvc()
	var sw switchHandler
	sw.set(first)
	srv := httptest.NewServer(&sw)
	t.Cleanup(srv.Close)
	ep, err := messaging.Discover(t.Context(), srv.Client(), srv.URL, account, messaging.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, svc: first, srv: srv, ep: ep}

	consumer, _, _ := newConsumer(t, e, ep, false, nil)
	convID, err := consumer.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{})
	if err != nil {
		t.Fatal(err)
	}
	agent, acol, _ := newAgent(t, e, ep)
	acceptRing(t, agent, acol, convID)
	if err := agent.Follow(t.Context(), convID, 0); err != nil {
		t.Fatal(err)
	}
	bearer := agent.Login().Bearer

	second := newSvc()
	sw.set(second)
	first.Close() // ends every socket of the old service
	acol.WaitFor(t, "reopened on the new service", func(ups []messaging.Update) bool { return testenv.Opens(ups) == 2 && testenv.IsOpen(ups) })
	if agent.Login().Bearer == bearer {
		t.Error("the agent did not log in again")
	}
	// Its state was restored: a conversation on the new service rings it.
	e.svc = second
	c2, _, _ := newConsumer(t, e, ep, false, nil)
	conv2, err := c2.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{})
	if err != nil {
		t.Fatal(err)
	}
	acceptRing(t, agent, acol, conv2)
}
