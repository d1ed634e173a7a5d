package messaging_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/testclock"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

// counted is the embedded service with its agent logins and refreshes
// counted as they arrive (before they are served).
type counted struct {
	clock             *testclock.Clock
	ep                messaging.Endpoints
	hc                *http.Client
	logins, refreshes atomic.Int64
}

func newCounted(t *testing.T, ttl time.Duration) *counted {
	t.Helper()
	c := &counted{clock: testclock.New(time.Now())}
	svc, err := simulator.New(simulator.Config{
		Account: account, Agents: []simulator.Agent{{Name: "alice", Password: "pw-a"}},
		Logger: testLogger(), SigningKey: testenv.Key(), Now: c.clock.Now, SessionTTL: ttl,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/login"):
			c.logins.Add(1)
		case strings.HasSuffix(r.URL.Path, "/refresh"):
			c.refreshes.Add(1)
		}
		svc.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		svc.Close()
		srv.Close()
	})
	c.hc = srv.Client()
	if c.ep, err = messaging.Discover(t.Context(), c.hc, srv.URL, account, messaging.Overrides{}); err != nil {
		t.Fatal(err)
	}
	return c
}

// runAgent runs an agent that refreshes every 5 ms until the test ends.
func (c *counted) runAgent(t *testing.T) (*messaging.Agent, *testenv.Collector) {
	t.Helper()
	a, err := messaging.NewAgent(messaging.AgentConfig{
		Endpoints: c.ep, Username: "alice", Password: "pw-a", HTTPClient: c.hc,
		RefreshInterval: 5 * time.Millisecond,
		SessionOptions:  messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
	})
	if err != nil {
		t.Fatal(err)
	}
	col := testenv.Collect(a.Updates())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// Runs until the test ends.
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		<-col.Done()
	})
	col.WaitFor(t, "open", testenv.IsOpen)
	return a, col
}

func waitCount(t *testing.T, what string, n *atomic.Int64, above int64) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for n.Load() <= above {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (%d, want more than %d)", what, n.Load(), above)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestAgentRefreshKeepsSession: an agent that runs refreshes its login
// session, as LivePerson's agent SDK does, so its bearer outlives the
// session's lifetime many times over without a new login.
func TestAgentRefreshKeepsSession(t *testing.T) {
	c := newCounted(t, time.Hour)
	a, _ := c.runAgent(t)
	for range 4 {
		// A refresh that arrives after this point reads the clock as
		// advanced so far: the session then lives an hour past it.
		n := c.refreshes.Load()
		waitCount(t, "a refresh", &c.refreshes, n)
		c.clock.Advance(45 * time.Minute)
	}
	// Three hours later on the service's clock, the first bearer still
	// serves.
	if _, err := a.GetClock(t.Context()); err != nil {
		t.Errorf("GetClock after 3 h: %v", err)
	}
	if got := c.logins.Load(); got != 1 {
		t.Errorf("%d logins, want 1", got)
	}
}

// TestAgentLogsInAgainWhenSessionGone: when the refresh says the session is
// gone (401), the agent logs in again and reconnects, as the agent SDK does.
func TestAgentLogsInAgainWhenSessionGone(t *testing.T) {
	c := newCounted(t, time.Hour)
	a, col := c.runAgent(t)
	c.clock.Advance(2 * time.Hour)
	waitCount(t, "a second login", &c.logins, 1)
	col.WaitFor(t, "open again", func(ups []messaging.Update) bool { return testenv.Opens(ups) >= 2 && testenv.IsOpen(ups) })
	if _, err := a.GetClock(t.Context()); err != nil {
		t.Errorf("GetClock after logging in again: %v", err)
	}
}
