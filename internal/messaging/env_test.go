package messaging_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

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

// testLogger logs to stderr with MESSAGING_TEST_LOG=1, else nowhere.
func testLogger() *slog.Logger {
	if os.Getenv("MESSAGING_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// clock is a settable service clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is the embedded service behind a real loopback HTTP server.
type env struct {
	t     *testing.T
	svc   *simulator.Service
	srv   *httptest.Server
	clock *clock
	ep    messaging.Endpoints
}

func newEnv(t *testing.T, mods ...func(*simulator.Config)) *env {
	t.Helper()
	clk := &clock{t: time.Now()}
	cfg := simulator.Config{
		Account:    account,
		Agents:     []simulator.Agent{{Name: "alice", Password: "pw-a"}},
		Logger:     testLogger(),
		Now:        clk.Now,
		SigningKey: testKey(),
	}
	for _, m := range mods {
		m(&cfg)
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
	ep, err := messaging.Discover(t.Context(), srv.Client(), srv.URL, account, messaging.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, svc: svc, srv: srv, clock: clk, ep: ep}
}

func (e *env) signup() string {
	e.t.Helper()
	tok, err := messaging.Signup(e.t.Context(), e.srv.Client(), e.ep)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// fastBackoff keeps reconnect tests short.
var fastBackoff = messaging.Backoff{Base: 5 * time.Millisecond, Cap: 50 * time.Millisecond}

// collector drains an Updates channel and keeps everything, so that tests
// can wait for a condition on what arrived.
type collector struct {
	mu      sync.Mutex
	updates []messaging.Update
	changed chan struct{} // closed and replaced on every append
	done    chan struct{} // closed when the channel was closed
}

// collect reads ch until it is closed (when the session's Run returns).
func collect(ch <-chan messaging.Update) *collector {
	c := &collector{changed: make(chan struct{}), done: make(chan struct{})}
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
			fmt.Fprintf(&b, " [event %s #%d %s]", u.Event.Event.Type, s, u.Event.Event.Message)
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

// opens counts how many times the session became open.
func opens(ups []messaging.Update) int {
	n := 0
	for _, u := range ups {
		if s, ok := u.(messaging.StateChange); ok && s.State == messaging.StateOpen {
			n++
		}
	}
	return n
}

// isOpen reports whether the last state change is Open.
func isOpen(ups []messaging.Update) bool {
	for i := len(ups) - 1; i >= 0; i-- {
		if s, ok := ups[i].(messaging.StateChange); ok {
			return s.State == messaging.StateOpen
		}
	}
	return false
}

// events returns the stored events of a dialog, in arrival order.
func events(ups []messaging.Update, dialogID string) []protocol.MessagingEvent {
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

// runner runs a session's Run in the background until the test ends (or
// stop is called) and keeps its result.
type runner struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func start(t *testing.T, run func(context.Context) error) *runner {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &runner{cancel: cancel, done: make(chan struct{})}
	// Ends when stop cancels ctx (at the latest at cleanup) or Run gives up.
	go func() {
		defer close(r.done)
		r.err = run(ctx)
	}()
	t.Cleanup(func() { _ = r.stop(t) })
	return r
}

// stop cancels Run and returns its result.
func (r *runner) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	return r.wait(t)
}

// wait waits for Run to return.
func (r *runner) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(waitLimit):
		t.Fatal("Run did not return")
		return nil
	}
}

// scriptServer serves websockets with handler on loopback, for cases the
// embedded service cannot produce. handler must return when ctx ends.
func scriptServer(t *testing.T, handler func(ctx context.Context, r *http.Request, c *websocket.Conn)) *httptest.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		defer c.CloseNow()
		handler(ctx, r, c)
	}))
	t.Cleanup(func() {
		cancel()
		srv.Close()
		wg.Wait()
	})
	return srv
}

func wsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") }

// readReq reads one request frame.
func readReq(ctx context.Context, c *websocket.Conn) (protocol.Frame, error) {
	_, b, err := c.Read(ctx)
	if err != nil {
		return protocol.Frame{}, err
	}
	return protocol.ParseFrame(b)
}

func writeFrame(ctx context.Context, c *websocket.Conn, f protocol.Frame) error {
	b, err := protocol.Marshal(f)
	if err != nil {
		return err
	}
	return c.Write(ctx, websocket.MessageText, b)
}

func asProtocolError(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}
