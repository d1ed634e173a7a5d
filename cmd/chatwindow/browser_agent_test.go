package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// agentSide is the brand's agent, played with the project's own client
// against the embedded service: ONLINE, subscribed to rings and to every
// conversation (open and closed), recording everything it receives.
type agentSide struct {
	*messaging.Agent

	mu   sync.Mutex
	ups  []messaging.Update
	wake chan struct{} // closed (and replaced) whenever ups grows
}

// startAgent logs the agent in and keeps it connected until ctx ends;
// done is closed once its goroutines have ended.
func startAgent(ctx context.Context, done chan<- struct{}, simURL, account, password string) (*agentSide, error) {
	hc := &http.Client{Timeout: actionTimeout}
	var wg sync.WaitGroup
	go func() {
		// done closes after the agent's goroutines below, however this
		// function returns.
		<-ctx.Done()
		wg.Wait()
		close(done)
	}()
	dctx, cancel := context.WithTimeout(ctx, actionTimeout)
	defer cancel()
	ep, err := messaging.Discover(dctx, hc, simURL, account, messaging.Overrides{})
	if err != nil {
		return nil, fmt.Errorf("discover: %w", err)
	}
	a, err := messaging.NewAgent(messaging.AgentConfig{Endpoints: ep, Username: "agent", Password: password, HTTPClient: hc})
	if err != nil {
		return nil, err
	}
	h := &agentSide{Agent: a, wake: make(chan struct{})}
	// Remembered and applied on every connection, the first included.
	if err := a.SetAgentState(dctx, protocol.AgentOnline); err != nil {
		return nil, fmt.Errorf("agent state: %w", err)
	}
	if err := a.SubscribeRoutingTasks(dctx); err != nil {
		return nil, fmt.Errorf("subscribe routing tasks: %w", err)
	}
	if err := a.SubscribeConversations(dctx, protocol.SubscribeExConversations{ConvState: protocol.Strings{protocol.StateOpen, protocol.StateClose}}); err != nil {
		return nil, fmt.Errorf("subscribe conversations: %w", err)
	}
	wg.Add(2)
	// Run keeps the agent connected until ctx ends.
	go func() {
		defer wg.Done()
		if err := a.Run(ctx); err != nil && ctx.Err() == nil {
			env.logs.Write([]byte("test agent ended: " + err.Error() + "\n"))
		}
	}()
	// The recorder ends when Run closes Updates.
	go func() {
		defer wg.Done()
		for u := range a.Updates() {
			h.mu.Lock()
			h.ups = append(h.ups, u)
			close(h.wake)
			h.wake = make(chan struct{})
			h.mu.Unlock()
		}
	}()
	open := func(ups []messaging.Update) bool {
		for _, u := range ups {
			if s, ok := u.(messaging.StateChange); ok && s.State == messaging.StateOpen {
				return true
			}
		}
		return false
	}
	if _, err := h.wait(dctx, open); err != nil {
		return nil, fmt.Errorf("agent never connected: %w", err)
	}
	return h, nil
}

// snapshot returns what the agent received so far.
func (h *agentSide) snapshot() ([]messaging.Update, chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ups[:len(h.ups):len(h.ups)], h.wake
}

func (h *agentSide) wait(ctx context.Context, pred func([]messaging.Update) bool) ([]messaging.Update, error) {
	for {
		ups, wake := h.snapshot()
		if pred(ups) {
			return ups, nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ups, ctx.Err()
		}
	}
}

// waitFor waits (at most actionTimeout) until pred holds for what the agent
// received.
func (h *agentSide) waitFor(t *testing.T, what string, pred func([]messaging.Update) bool) []messaging.Update {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), actionTimeout)
	defer cancel()
	ups, err := h.wait(ctx, pred)
	if err != nil {
		t.Fatalf("agent: waiting for %s: %v", what, err)
	}
	return ups
}

// mark is a position in what the agent received, to look only at what
// came after it.
func (h *agentSide) mark() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ups)
}

// acceptRing accepts the conversation's ring, waiting for one; a ring
// that expired meanwhile is skipped for the next.
func (h *agentSide) acceptRing(t *testing.T, convID string) {
	t.Helper()
	tried := map[string]error{}
	ctx, cancel := context.WithTimeout(t.Context(), actionTimeout)
	defer cancel()
	for {
		var ringID string
		_, err := h.wait(ctx, func(ups []messaging.Update) bool {
			for _, u := range slices.Backward(ups) {
				r, ok := u.(messaging.RoutingUpdate)
				if !ok || r.Change.Result.ConversationID != convID {
					continue
				}
				for _, ring := range r.Change.Result.RingsDetails {
					if _, done := tried[ring.RingID]; !done && ring.RingState == protocol.RingWaiting {
						ringID = ring.RingID
						return true
					}
				}
			}
			return false
		})
		if err != nil {
			t.Fatalf("agent: no ring for conversation %s: %v (rings tried: %v)", convID, err, tried)
		}
		err = h.AcceptRing(ctx, ringID)
		if err == nil {
			return
		}
		tried[ringID] = err
	}
}

// publish sends an event to the dialog as the agent and returns its sequence.
func (h *agentSide) publish(t *testing.T, dialogID string, ev protocol.Event) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), actionTimeout)
	defer cancel()
	seq, err := h.Publish(ctx, dialogID, ev)
	if err != nil {
		t.Fatalf("agent: publish %s to %s: %v", ev.Type, dialogID, err)
	}
	return seq
}

func (h *agentSide) say(t *testing.T, dialogID, text string) int64 {
	t.Helper()
	return h.publish(t, dialogID, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text})
}

func (h *agentSide) chatState(t *testing.T, dialogID, state string) {
	t.Helper()
	h.publish(t, dialogID, protocol.Event{Type: protocol.EventChatState, ChatState: state})
}

// fromConsumer reports whether an event was published by the customer
// (the agent's own events come back to it too).
func (h *agentSide) fromConsumer(ev protocol.MessagingEvent) bool {
	if ev.OriginatorMetadata != nil && ev.OriginatorMetadata.Role != "" {
		return ev.OriginatorMetadata.Role == protocol.RoleConsumer
	}
	return ev.OriginatorPID != h.PID() && ev.OriginatorID != h.OldID()
}

// receipts counts, per sequence, the customer's receipts of a status in
// the dialog among events.
func (h *agentSide) receipts(evs []protocol.MessagingEvent, dialogID, status string) map[int64]int {
	n := map[int64]int{}
	for _, ev := range evs {
		if ev.DialogID != dialogID || ev.Event.Type != protocol.EventAcceptStatus || ev.Event.Status != status || !h.fromConsumer(ev) {
			continue
		}
		for _, s := range ev.Event.SequenceList {
			n[s]++
		}
	}
	return n
}

// events returns the messaging events among updates.
func events(ups []messaging.Update) []protocol.MessagingEvent {
	var out []protocol.MessagingEvent
	for _, u := range ups {
		if e, ok := u.(messaging.EventUpdate); ok {
			out = append(out, e.Event)
		}
	}
	return out
}

// waitReceipt waits until the customer's receipt of status for seq reached
// the agent live.
func (h *agentSide) waitReceipt(t *testing.T, dialogID, status string, seq int64) {
	t.Helper()
	h.waitFor(t, fmt.Sprintf("%s of %d", status, seq), func(ups []messaging.Update) bool {
		return h.receipts(events(ups), dialogID, status)[seq] > 0
	})
}

// liveReceipts counts the customer's receipts the agent received live.
func (h *agentSide) liveReceipts(dialogID, status string) map[int64]int {
	ups, _ := h.snapshot()
	return h.receipts(events(ups), dialogID, status)
}

// history is the dialog's stored events, as the service keeps them.
func (h *agentSide) history(t *testing.T, dialogID string) []protocol.MessagingEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), actionTimeout)
	defer cancel()
	evs, err := h.QueryMessages(ctx, dialogID, 0)
	if err != nil {
		t.Fatalf("agent: history of %s: %v", dialogID, err)
	}
	return evs
}

// closeConversation ends a test's conversation so that the next customer
// rings anew; one already closed is fine.
func (h *agentSide) closeConversation(t *testing.T, convID string) {
	ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
	defer cancel()
	err := h.CloseConversation(ctx, convID)
	var perr *protocol.Error
	if err != nil && !(errors.As(err, &perr) && perr.Code == http.StatusConflict) {
		t.Errorf("agent: close conversation %s: %v", convID, err)
	}
}

// waitNoReceipt checks, for quiet, that no receipt of status for seq
// reaches the agent.
func (h *agentSide) waitNoReceipt(t *testing.T, dialogID, status string, seq int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), quiet)
	defer cancel()
	_, err := h.wait(ctx, func(ups []messaging.Update) bool {
		return h.receipts(events(ups), dialogID, status)[seq] > 0
	})
	if err == nil {
		t.Fatalf("agent received %s of %d, which the customer cannot have seen", status, seq)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}
