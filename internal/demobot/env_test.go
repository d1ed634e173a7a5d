package demobot_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatwindow/chatwindow/internal/demobot"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/faultproxy"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	account   = "123"
	waitLimit = testenv.WaitLimit
)

func testLogger() *slog.Logger { return testenv.Logger("DEMOBOT_TEST_LOG") }

var fastBackoff = testenv.FastBackoff

// env is the embedded service behind a real loopback HTTP server, with the
// bot's account and a person's.
type env struct {
	svc *simulator.Service
	srv *httptest.Server
	ep  messaging.Endpoints
}

func newEnv(t *testing.T) *env {
	t.Helper()
	s := testenv.NewService(t, simulator.Config{
		Account: account,
		Agents:  []simulator.Agent{{Name: "bot", Password: "pw-bot"}, {Name: "alice", Password: "pw-a"}},
		Logger:  testLogger(),
	})
	return &env{svc: s.Svc, srv: s.Srv, ep: s.EP}
}

// pid is an agent's participant id.
func (e *env) pid(t *testing.T, name string) string {
	t.Helper()
	for _, a := range e.svc.Agents() {
		if a.Name == name {
			return a.PID
		}
	}
	t.Fatalf("no agent %q", name)
	return ""
}

// viaProxy returns endpoints whose messaging host is a fault proxy.
func (e *env) viaProxy(t *testing.T) (messaging.Endpoints, *faultproxy.Proxy) {
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

// botConfig is a quick bot: short pauses, so that tests stay short.
func (e *env) botConfig(logs *logRecorder) demobot.Config {
	return demobot.Config{
		Endpoints: e.ep, Username: "bot", Password: "pw-bot",
		HTTPClient: e.srv.Client(),
		Delay:      100 * time.Millisecond,
		Logger:     slog.New(logs),
		TypingFor:  20 * time.Millisecond,
		ReadAfter:  10 * time.Millisecond,
		Backoff:    fastBackoff,
	}
}

// startBot runs the bot until the test ends.
func startBot(t *testing.T, cfg demobot.Config) *testenv.Runner {
	t.Helper()
	r := testenv.Start(t, func(ctx context.Context) error { return demobot.Run(ctx, cfg) })
	t.Cleanup(func() {
		if err := r.Stop(t); err != nil {
			t.Errorf("bot: %v", err)
		}
	})
	return r
}

// logRecorder is a slog.Handler that keeps every message (and, with
// DEMOBOT_TEST_LOG, prints it), so that a test can wait for the bot to say
// it did something.
type logRecorder struct {
	mu      sync.Mutex
	msgs    []string
	changed chan struct{}
	next    slog.Handler
}

func newLogRecorder() *logRecorder {
	return &logRecorder{changed: make(chan struct{}), next: testLogger().Handler()}
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *logRecorder) Handle(ctx context.Context, rec slog.Record) error {
	r.mu.Lock()
	r.msgs = append(r.msgs, rec.Message)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
	if r.next.Enabled(ctx, rec.Level) {
		return r.next.Handle(ctx, rec)
	}
	return nil
}

func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

// waitFor waits until a message containing s was logged n times.
func (r *logRecorder) waitFor(t *testing.T, s string, n int) {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		got := 0
		for _, m := range r.msgs {
			if strings.Contains(m, s) {
				got++
			}
		}
		changed := r.changed
		r.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for log %q ×%d", s, n)
		}
	}
}

// customer is a consumer with an open conversation it follows.
type customer struct {
	c      *messaging.Consumer
	col    *testenv.Collector
	convID string
}

func newCustomer(t *testing.T, e *env) *customer {
	t.Helper()
	c, err := messaging.NewConsumer(messaging.ConsumerConfig{
		Endpoints: e.ep, Token: messaging.SignupToken(e.srv.Client(), e.ep),
		HTTPClient:     e.srv.Client(),
		SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
	})
	if err != nil {
		t.Fatal(err)
	}
	col := testenv.Collect(c.Updates())
	testenv.Start(t, c.Run)
	col.WaitFor(t, "consumer open", testenv.IsOpen)
	if err := c.SubscribeConversations(t.Context(), protocol.SubscribeExConversations{}); err != nil {
		t.Fatal(err)
	}
	convID, err := c.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Follow(t.Context(), convID, convID, 0); err != nil {
		t.Fatal(err)
	}
	return &customer{c: c, col: col, convID: convID}
}

// say publishes a text and returns its sequence.
func (cu *customer) say(t *testing.T, text string) int64 {
	t.Helper()
	seq, err := cu.c.Publish(t.Context(), cu.convID, cu.convID, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text})
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// events returns the events (with or without sequence) of the customer's
// dialog in arrival order.
func (cu *customer) events(ups []messaging.Update) []protocol.MessagingEvent {
	var out []protocol.MessagingEvent
	for _, u := range ups {
		if e, ok := u.(messaging.EventUpdate); ok && e.Event.DialogID == cu.convID {
			out = append(out, e.Event)
		}
	}
	return out
}

// contentFrom returns the stored content events by originator, after seq.
func contentFrom(evs []protocol.MessagingEvent, who string, after int64) []protocol.MessagingEvent {
	var out []protocol.MessagingEvent
	for _, ev := range evs {
		s, ok := ev.Seq()
		if ok && s > after && ev.Event.IsContent() && ev.Originator() == who {
			out = append(out, ev)
		}
	}
	return out
}

// waitReply waits for the n-th content event from who after seq.
func (cu *customer) waitReply(t *testing.T, who string, after int64) protocol.MessagingEvent {
	t.Helper()
	ups := cu.col.WaitFor(t, fmt.Sprintf("a reply after #%d", after), func(ups []messaging.Update) bool {
		return len(contentFrom(cu.events(ups), who, after)) > 0
	})
	return contentFrom(cu.events(ups), who, after)[0]
}

// receipts counts, per status, the bot's receipts naming seq in a dialog's
// stored events, in store order.
func receipts(evs []protocol.MessagingEvent, who string, seq int64) []string {
	var out []string
	for _, ev := range evs {
		if ev.Event.Type != protocol.EventAcceptStatus || ev.Originator() != who {
			continue
		}
		for _, s := range ev.Event.SequenceList {
			if s == seq {
				out = append(out, ev.Event.Status)
			}
		}
	}
	return out
}
