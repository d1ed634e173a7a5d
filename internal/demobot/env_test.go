package demobot_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatwindow/chatwindow/internal/demobot"
	"github.com/chatwindow/chatwindow/internal/faultproxy"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	account   = "123"
	waitLimit = 10 * time.Second
)

// testKey is generated once per test binary: key generation is the slowest
// part of simulator.New.
var testKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// verbose logs to stderr with DEMOBOT_TEST_LOG=1.
func verbose() bool { return os.Getenv("DEMOBOT_TEST_LOG") != "" }

func testLogger() *slog.Logger {
	if verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

var fastBackoff = messaging.Backoff{Base: 5 * time.Millisecond, Cap: 50 * time.Millisecond}

// env is the embedded service behind a real loopback HTTP server, with the
// bot's account and a person's.
type env struct {
	svc *simulator.Service
	srv *httptest.Server
	ep  messaging.Endpoints
}

func newEnv(t *testing.T) *env {
	t.Helper()
	svc, err := simulator.New(simulator.Config{
		Account:    account,
		Agents:     []simulator.Agent{{Name: "bot", Password: "pw-bot"}, {Name: "alice", Password: "pw-a"}},
		Logger:     testLogger(),
		SigningKey: testKey(),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(func() {
		svc.Close()
		srv.Close()
	})
	ep, err := messaging.Discover(t.Context(), srv.Client(), srv.URL, account, messaging.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, srv: srv, ep: ep}
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

// runner runs a function in the background until stop (at the latest at
// cleanup) and keeps its result.
type runner struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func start(t *testing.T, run func(context.Context) error) *runner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{cancel: cancel, done: make(chan struct{})}
	// Ends when stop cancels ctx, or run returns by itself.
	go func() {
		defer close(r.done)
		r.err = run(ctx)
	}()
	t.Cleanup(func() {
		if err := r.stop(t); err != nil {
			t.Errorf("run: %v", err)
		}
	})
	return r
}

func (r *runner) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(waitLimit):
		t.Fatal("run did not return")
		return nil
	}
}

// startBot runs the bot until the test ends.
func startBot(t *testing.T, cfg demobot.Config) *runner {
	t.Helper()
	return start(t, func(ctx context.Context) error { return demobot.Run(ctx, cfg) })
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

// collector drains an Updates channel and keeps everything.
type collector struct {
	mu      sync.Mutex
	updates []messaging.Update
	changed chan struct{}
}

// collect reads ch until it is closed (when the session's Run returns).
func collect(ch <-chan messaging.Update) *collector {
	c := &collector{changed: make(chan struct{})}
	go func() {
		for u := range ch {
			c.mu.Lock()
			c.updates = append(c.updates, u)
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
	}()
	return c
}

func (c *collector) snapshot() []messaging.Update {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]messaging.Update(nil), c.updates...)
}

// waitFor waits until cond holds over everything received so far.
func (c *collector) waitFor(t *testing.T, what string, cond func([]messaging.Update) bool) []messaging.Update {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ups := append([]messaging.Update(nil), c.updates...)
		changed := c.changed
		c.mu.Unlock()
		if cond(ups) {
			return ups
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("timed out waiting for %s; got %d updates: %s", what, len(ups), describe(ups))
		}
	}
}

func describe(ups []messaging.Update) string {
	var b strings.Builder
	for _, u := range ups {
		switch u := u.(type) {
		case messaging.StateChange:
			fmt.Fprintf(&b, " [state %s %v]", u.State, u.Err)
		case messaging.EventUpdate:
			s, _ := u.Event.Seq()
			fmt.Fprintf(&b, " [event %s #%d %s %s %v]", u.Event.Event.Type, s, u.Event.Event.Message, u.Event.Event.ChatState, u.Event.Event.SequenceList)
		case messaging.ConversationUpdate:
			fmt.Fprintf(&b, " [conv %s %s]", u.Change.Type, u.Change.Result.ConversationDetails.Stage)
		default:
			fmt.Fprintf(&b, " [%T]", u)
		}
	}
	return b.String()
}

func isOpen(ups []messaging.Update) bool {
	for i := len(ups) - 1; i >= 0; i-- {
		if s, ok := ups[i].(messaging.StateChange); ok {
			return s.State == messaging.StateOpen
		}
	}
	return false
}

// customer is a consumer with an open conversation it follows.
type customer struct {
	c      *messaging.Consumer
	col    *collector
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
	col := collect(c.Updates())
	start(t, c.Run)
	col.waitFor(t, "consumer open", isOpen)
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
	ups := cu.col.waitFor(t, fmt.Sprintf("a reply after #%d", after), func(ups []messaging.Update) bool {
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
