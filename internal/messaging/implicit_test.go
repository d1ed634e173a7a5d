package messaging_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

// syncs counts the SyncUpdates received.
func syncs(ups []messaging.Update) int {
	n := 0
	for _, u := range ups {
		if _, ok := u.(messaging.SyncUpdate); ok {
			n++
		}
	}
	return n
}

// barrier waits until everything the service sent the consumer before now
// has been delivered (docs/protocol.md, Messaging events: the Sync barrier).
func barrier(t *testing.T, c *messaging.Consumer, col *testenv.Collector) []messaging.Update {
	t.Helper()
	want := syncs(col.Snapshot()) + 1
	if err := c.Sync(t.Context()); err != nil {
		t.Fatal(err)
	}
	return col.WaitFor(t, "the sync mark", func(ups []messaging.Update) bool { return syncs(ups) >= want })
}

func agentText(t *testing.T, a *messaging.Agent, conv, text string) {
	t.Helper()
	if _, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text}); err != nil {
		t.Fatal(err)
	}
}

// TestConsumerImplicitEventsOnce: the socket that created the conversation
// gets its events without subscribing (docs/protocol.md, Messaging events).
// The agent writes before the consumer follows the dialog, then the
// consumer follows it from the start, then the agent writes again: each
// event is delivered once, in sequence order.
func TestConsumerImplicitEventsOnce(t *testing.T) {
	e := newEnv(t)
	consumer, ccol, _ := newConsumer(t, e, e.ep, false, nil)
	convID, err := consumer.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{})
	if err != nil {
		t.Fatal(err)
	}
	agent, acol, _ := newAgent(t, e, e.ep)
	acceptRing(t, agent, acol, convID)

	agentText(t, agent, convID, "before following")
	if got := testenv.Events(barrier(t, consumer, ccol), convID); len(got) != 0 {
		t.Errorf("events of a dialog not followed: %v", summary(got))
	}
	if err := consumer.Follow(t.Context(), convID, convID, 0); err != nil {
		t.Fatal(err)
	}
	agentText(t, agent, convID, "after following")
	if _, err := consumer.Publish(t.Context(), convID, convID, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "mine"}); err != nil {
		t.Fatal(err)
	}
	got := testenv.Events(barrier(t, consumer, ccol), convID)
	want := []seqAndText{{0, protocol.EventContent, "before following"}, {1, protocol.EventContent, "after following"}, {2, protocol.EventContent, "mine"}}
	if diff := cmp.Diff(want, summary(got)); diff != "" {
		t.Errorf("consumer's events (-want +got):\n%s", diff)
	}
}

// TestConsumerFollowsWhileAgentWrites: the agent writes without pause
// while the consumer, on the socket that created the conversation, starts
// following it; in the end every stored event arrived once, in order,
// whatever the interleaving of the implicit stream and the replay.
func TestConsumerFollowsWhileAgentWrites(t *testing.T) {
	for round := range 5 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			e := newEnv(t)
			consumer, ccol, _ := newConsumer(t, e, e.ep, false, nil)
			convID, err := consumer.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{})
			if err != nil {
				t.Fatal(err)
			}
			agent, acol, _ := newAgent(t, e, e.ep)
			acceptRing(t, agent, acol, convID)
			const n = 40
			written := writer(t, n, func(ctx context.Context, text string) error {
				_, err := agent.Publish(ctx, convID, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text})
				return err
			})
			// Follow once some events were stored, while more come.
			deadline := time.Now().Add(waitLimit)
			for len(e.svc.DialogEvents(convID)) < round*5 {
				if time.Now().After(deadline) {
					t.Fatalf("the agent did not write %d messages", round*5)
				}
				time.Sleep(time.Millisecond)
			}
			if err := consumer.Follow(t.Context(), convID, convID, 0); err != nil {
				t.Fatal(err)
			}
			<-written
			ups := barrier(t, consumer, ccol)
			stored := e.svc.DialogEvents(convID)
			if diff := cmp.Diff(summary(stored), summary(testenv.Events(ups, convID))); diff != "" {
				t.Errorf("consumer's events vs the store (-want +got):\n%s", diff)
			}
		})
	}
}
