//go:build linux

package wscat_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// workspace plays the tutorials' Agent Workspace: an agent ONLINE on the
// service's agent socket, with everything it receives kept for the test.
type workspace struct {
	*messaging.Agent

	mu      sync.Mutex
	ups     []messaging.Update
	changed chan struct{} // closed and replaced on every update
	ended   bool          // Updates was closed
}

// startAgent logs the agent in and brings it ONLINE, subscribed to rings,
// until the test ends.
func startAgent(ctx context.Context, t *testing.T, client *http.Client, host string) *workspace {
	t.Helper()
	ep, err := messaging.Discover(ctx, client, "https://"+host, account, messaging.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := messaging.NewAgent(messaging.AgentConfig{Endpoints: ep, Username: agentUser, Password: agentPassword, HTTPClient: client})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetAgentState(ctx, protocol.AgentOnline); err != nil {
		t.Fatal(err)
	}
	if err := a.SubscribeRoutingTasks(ctx); err != nil {
		t.Fatal(err)
	}
	w := &workspace{Agent: a, changed: make(chan struct{})}
	runCtx, stop := context.WithCancel(context.Background())
	runDone := make(chan error, 1)
	// Ends when runCtx does (cleanup).
	go func() { runDone <- a.Run(runCtx) }()
	drained := make(chan struct{})
	// Ends when Run has returned and closed Updates.
	go func() {
		defer close(drained)
		for u := range a.Updates() {
			w.add(u, false)
		}
		w.add(nil, true)
	}()
	t.Cleanup(func() {
		stop()
		if err := <-runDone; err != nil {
			t.Errorf("agent Run: %v", err)
		}
		<-drained
	})
	w.wait(ctx, t, "the agent online", func(u messaging.Update) bool {
		s, ok := u.(messaging.StateChange)
		return ok && s.State == messaging.StateOpen
	})
	return w
}

func (w *workspace) add(u messaging.Update, end bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if end {
		w.ended = true
	} else {
		w.ups = append(w.ups, u)
	}
	close(w.changed)
	w.changed = make(chan struct{})
}

// wait returns the first update that matches.
func (w *workspace) wait(ctx context.Context, t *testing.T, what string, match func(messaging.Update) bool) messaging.Update {
	t.Helper()
	for {
		w.mu.Lock()
		ups, changed, ended := w.ups, w.changed, w.ended
		w.mu.Unlock()
		for _, u := range ups {
			if match(u) {
				return u
			}
		}
		var err error
		switch {
		case ended:
			err = errors.New("the agent has stopped")
		case ctx.Err() != nil:
			err = ctx.Err()
		}
		if err != nil {
			t.Fatalf("waiting for %s: %v (the agent got %d updates)", what, err, len(ups))
		}
		select {
		case <-changed:
		case <-ctx.Done():
		}
	}
}

// accept waits for the conversation's ring and accepts it ("click Accept").
func (w *workspace) accept(ctx context.Context, t *testing.T, conv string) {
	t.Helper()
	var ringID string
	w.wait(ctx, t, "the ring of "+conv, func(u messaging.Update) bool {
		r, ok := u.(messaging.RoutingUpdate)
		if !ok || r.Change.Result.ConversationID != conv {
			return false
		}
		for _, ring := range r.Change.Result.RingsDetails {
			if ring.RingState == protocol.RingWaiting {
				ringID = ring.RingID
				return true
			}
		}
		return false
	})
	if err := w.AcceptRing(ctx, ringID); err != nil {
		t.Fatal(err)
	}
}

// waitEvent waits for the text message in the conversation's MAIN dialog.
func (w *workspace) waitEvent(ctx context.Context, t *testing.T, conv, text string) protocol.MessagingEvent {
	t.Helper()
	u := w.wait(ctx, t, fmt.Sprintf("the agent to see %q", text), func(u messaging.Update) bool {
		e, ok := u.(messaging.EventUpdate)
		return ok && e.Event.DialogID == conv && e.Event.Event.Type == protocol.EventContent && e.Event.Event.Message == text
	})
	return u.(messaging.EventUpdate).Event
}

// waitReceipt waits for a receipt of seq in the conversation's MAIN dialog.
func (w *workspace) waitReceipt(ctx context.Context, t *testing.T, conv, status string, seq int64) protocol.MessagingEvent {
	t.Helper()
	u := w.wait(ctx, t, fmt.Sprintf("the agent to see %s of %d", status, seq), func(u messaging.Update) bool {
		e, ok := u.(messaging.EventUpdate)
		if !ok || e.Event.DialogID != conv || e.Event.Event.Type != protocol.EventAcceptStatus || e.Event.Event.Status != status {
			return false
		}
		for _, s := range e.Event.Event.SequenceList {
			if s == seq {
				return true
			}
		}
		return false
	})
	return u.(messaging.EventUpdate).Event
}
