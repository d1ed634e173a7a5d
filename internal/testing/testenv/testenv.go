// Package testenv is what tests of several packages share: the embedded
// service behind a real loopback server, a fixed signing key, a quiet
// logger, and a collector of a session's updates. Only _test.go files
// import it.
package testenv

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
)

// WaitLimit bounds every wait of a test for something to happen.
const WaitLimit = 10 * time.Second

// FastBackoff keeps reconnect tests short.
var FastBackoff = messaging.Backoff{
	Base: 5 * time.Millisecond, Cap: 50 * time.Millisecond,
	ServerPause: 5 * time.Millisecond, Slow: 50 * time.Millisecond, SlowCap: 50 * time.Millisecond,
}

//go:embed signing_key.pem
var signingKeyPEM []byte

// Key is a fixed RSA key for the service's tokens: generating one under
// -race takes seconds per test binary.
var Key = sync.OnceValue(func() *rsa.PrivateKey {
	block, _ := pem.Decode(signingKeyPEM)
	if block == nil {
		panic("testenv: signing_key.pem has no PEM block")
	}
	k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		panic(fmt.Sprintf("testenv: signing key: %v", err))
	}
	return k
})

// Logger logs at debug level to stderr when the environment variable env
// is set, and nowhere otherwise.
func Logger(env string) *slog.Logger {
	if os.Getenv(env) != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// Service is the embedded service behind a real loopback HTTP server.
type Service struct {
	Svc *simulator.Service
	Srv *httptest.Server
	EP  messaging.Endpoints
}

// NewService starts the service of cfg (Logger and SigningKey filled in
// when empty) until the test ends, and discovers its endpoints.
func NewService(t testing.TB, cfg simulator.Config) *Service {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SigningKey == nil {
		cfg.SigningKey = Key()
	}
	svc, err := simulator.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	t.Cleanup(func() {
		svc.Close()
		srv.Close()
	})
	ep, err := messaging.Discover(t.Context(), srv.Client(), srv.URL, cfg.Account, messaging.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	return &Service{Svc: svc, Srv: srv, EP: ep}
}

// Collector drains a session's Updates and keeps everything, so that a
// test can wait for a condition on what arrived.
type Collector struct {
	mu      sync.Mutex
	updates []messaging.Update
	changed chan struct{} // closed and replaced on every append
	done    chan struct{} // closed when the channel was closed
}

// Collect reads ch until it is closed (when the session's Run returns).
func Collect(ch <-chan messaging.Update) *Collector {
	c := &Collector{changed: make(chan struct{}), done: make(chan struct{})}
	// Ends when ch is closed.
	go func() {
		defer close(c.done)
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

// Snapshot is everything received so far.
func (c *Collector) Snapshot() []messaging.Update {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]messaging.Update(nil), c.updates...)
}

// Done is closed once the channel was closed and drained.
func (c *Collector) Done() <-chan struct{} { return c.done }

// WaitFor waits until cond holds over everything received so far.
func (c *Collector) WaitFor(t testing.TB, what string, cond func([]messaging.Update) bool) []messaging.Update {
	t.Helper()
	deadline := time.NewTimer(WaitLimit)
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
			t.Fatalf("timed out waiting for %s; got %d updates: %s", what, len(ups), Describe(ups))
		}
	}
}

// Describe is a short account of updates, for failure messages.
func Describe(ups []messaging.Update) string {
	var b strings.Builder
	for i, u := range ups {
		if i > 40 {
			fmt.Fprintf(&b, " …(%d more)", len(ups)-i)
			break
		}
		switch u := u.(type) {
		case messaging.StateChange:
			fmt.Fprintf(&b, " [state %s %v]", u.State, u.Err)
		case messaging.EventUpdate:
			s, _ := u.Event.Seq()
			e := u.Event.Event
			fmt.Fprintf(&b, " [event %s #%d %s%s%s%v]", e.Type, s, e.Message, e.ChatState, e.Status, []int64(e.SequenceList))
		case messaging.ConversationUpdate:
			fmt.Fprintf(&b, " [conv %s %s]", u.Change.Type, u.Change.Result.ConversationDetails.Stage)
		case messaging.RoutingUpdate:
			fmt.Fprintf(&b, " [ring %s]", u.Change.Result.ConversationID)
		default:
			fmt.Fprintf(&b, " [%T]", u)
		}
	}
	return b.String()
}

// IsOpen reports whether the last state change is Open.
func IsOpen(ups []messaging.Update) bool {
	for i := len(ups) - 1; i >= 0; i-- {
		if s, ok := ups[i].(messaging.StateChange); ok {
			return s.State == messaging.StateOpen
		}
	}
	return false
}

// Opens counts how many times the session became open.
func Opens(ups []messaging.Update) int {
	n := 0
	for _, u := range ups {
		if s, ok := u.(messaging.StateChange); ok && s.State == messaging.StateOpen {
			n++
		}
	}
	return n
}

// Events returns the stored events (with a sequence) of a dialog, in
// arrival order.
func Events(ups []messaging.Update, dialogID string) []protocol.MessagingEvent {
	var out []protocol.MessagingEvent
	for _, u := range ups {
		if e, ok := u.(messaging.EventUpdate); ok && e.Event.DialogID == dialogID {
			if _, ok := e.Event.Seq(); ok {
				out = append(out, e.Event)
			}
		}
	}
	return out
}

// Runner runs a session's Run (or any blocking function) in the background
// until Stop, at the latest when the test ends, and keeps its result.
type Runner struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// Start runs run until the test ends or Stop is called.
func Start(t testing.TB, run func(context.Context) error) *Runner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{cancel: cancel, done: make(chan struct{})}
	// Ends when Stop cancels ctx (at the latest at cleanup) or run gives up.
	go func() {
		defer close(r.done)
		r.err = run(ctx)
	}()
	t.Cleanup(func() { _ = r.Stop(t) })
	return r
}

// Stop cancels the run and returns its result.
func (r *Runner) Stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	return r.Wait(t)
}

// Wait waits for the run to return by itself.
func (r *Runner) Wait(t testing.TB) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(WaitLimit):
		t.Fatal("run did not return")
		return nil
	}
}
