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

// counted is the embedded service with its agent logins counted as they
// arrive, and for its refreshes the service's clock as it stood before the
// last one was served (the service reads it during the refresh, so the
// session it extended lives at least its lifetime past that).
type counted struct {
	clock     *testclock.Clock
	ep        messaging.Endpoints
	hc        *http.Client
	logins    atomic.Int64
	refreshed atomic.Int64 // UnixNano; 0: none yet
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
		if strings.HasSuffix(r.URL.Path, "/login") {
			c.logins.Add(1)
		}
		before := c.clock.Now()
		svc.ServeHTTP(w, r)
		if strings.HasSuffix(r.URL.Path, "/refresh") {
			c.refreshed.Store(before.UnixNano())
		}
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
		// Wait for a refresh served on the clock as advanced so far: the
		// session then lives an hour past it. (One that was served before
		// the last advance and only counted after it would not do.)
		now := c.clock.Now().UnixNano()
		deadline := time.Now().Add(waitLimit)
		for c.refreshed.Load() < now {
			if time.Now().After(deadline) {
				t.Fatal("timed out waiting for a refresh")
			}
			time.Sleep(time.Millisecond)
		}
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
