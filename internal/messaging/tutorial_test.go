package messaging_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

// newAgent starts an agent that is ONLINE and subscribed to rings before
// it even connects (both are restored on every connection).
func newAgent(t *testing.T, e *env, ep messaging.Endpoints) (*messaging.Agent, *testenv.Collector, *testenv.Runner) {
	t.Helper()
	a, err := messaging.NewAgent(messaging.AgentConfig{
		Endpoints: ep, Username: "alice", Password: "pw-a",
		HTTPClient:     e.srv.Client(),
		SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetAgentState(t.Context(), protocol.AgentOnline); err != nil {
		t.Fatal(err)
	}
	if err := a.SubscribeRoutingTasks(t.Context()); err != nil {
		t.Fatal(err)
	}
	col := testenv.Collect(a.Updates())
	r := testenv.Start(t, a.Run)
	return a, col, r
}

// acceptRing waits for a ring of the conversation and accepts it.
func acceptRing(t *testing.T, a *messaging.Agent, col *testenv.Collector, convID string) {
	t.Helper()
	var ringID string
	col.WaitFor(t, "a ring", func(ups []messaging.Update) bool {
		for _, u := range ups {
			if r, ok := u.(messaging.RoutingUpdate); ok && r.Change.Result.ConversationID == convID {
				for _, ring := range r.Change.Result.RingsDetails {
					if ring.RingState == protocol.RingWaiting {
						ringID = ring.RingID
						return true
					}
				}
			}
		}
		return false
	})
	if err := a.AcceptRing(t.Context(), ringID); err != nil {
		t.Fatal(err)
	}
}

func newConsumer(t *testing.T, e *env, ep messaging.Endpoints, initConn bool, tokens messaging.TokenSource) (*messaging.Consumer, *testenv.Collector, *testenv.Runner) {
	t.Helper()
	if tokens == nil {
		tokens = messaging.SignupToken(e.srv.Client(), e.ep)
	}
	c, err := messaging.NewConsumer(messaging.ConsumerConfig{
		Endpoints: ep, Token: tokens, InitConnection: initConn,
		HTTPClient:     e.srv.Client(),
		SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
	})
	if err != nil {
		t.Fatal(err)
	}
	col := testenv.Collect(c.Updates())
	r := testenv.Start(t, c.Run)
	col.WaitFor(t, "consumer open", testenv.IsOpen)
	return c, col, r
}

// TestTutorial plays LivePerson's tutorial through the client and the
// embedded service: signup, connect, request a conversation; an agent
// goes ONLINE, accepts the ring and writes; the consumer receives the
// message with its dialog and sequence and publishes ACCEPT then READ,
// which the agent sees live with the consumer's id.
func TestTutorial(t *testing.T) {
	for _, initConn := range []bool{false, true} {
		name := "header"
		if initConn {
			name = "InitConnection"
		}
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			consumer, ccol, _ := newConsumer(t, e, e.ep, initConn, nil)
			consumerID, err := messaging.Subject(consumer.Token())
			if err != nil {
				t.Fatal(err)
			}
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
			ccol.WaitFor(t, "the agent in the conversation", func(ups []messaging.Update) bool {
				for _, u := range ups {
					if c, ok := u.(messaging.ConversationUpdate); ok {
						for _, p := range c.Change.Result.ConversationDetails.Members() {
							if p.Role == protocol.RoleAssignedAgent && p.ID == agent.PID() {
								return true
							}
						}
					}
				}
				return false
			})
			seq, err := agent.Publish(t.Context(), convID, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "hello from the agent"})
			if err != nil {
				t.Fatal(err)
			}

			ups := ccol.WaitFor(t, "the agent's message", func(ups []messaging.Update) bool { return len(testenv.Events(ups, convID)) == 1 })
			msg := testenv.Events(ups, convID)[0]
			if s, _ := msg.Seq(); s != seq || msg.DialogID != convID || msg.Originator() != agent.PID() || msg.Event.Message != "hello from the agent" {
				t.Fatalf("consumer got %+v", msg)
			}
			for _, status := range []string{protocol.StatusAccept, protocol.StatusRead} {
				if _, err := consumer.Publish(t.Context(), msg.DialogID, convID, protocol.Event{Type: protocol.EventAcceptStatus, Status: status, SequenceList: protocol.Seqs{seq}}); err != nil {
					t.Fatal(err)
				}
			}

			ups = acol.WaitFor(t, "both receipts at the agent", func(ups []messaging.Update) bool { return len(testenv.Events(ups, convID)) == 3 })
			var got []string
			for _, ev := range testenv.Events(ups, convID) {
				if ev.Event.Type == protocol.EventAcceptStatus {
					if ev.OriginatorID != consumerID || !cmp.Equal(ev.Event.SequenceList, protocol.Seqs{seq}) {
						t.Errorf("receipt %+v, want from %s for %d", ev, consumerID, seq)
					}
					got = append(got, ev.Event.Status)
				}
			}
			if diff := cmp.Diff([]string{"ACCEPT", "READ"}, got); diff != "" {
				t.Errorf("agent's receipts (-want +got):\n%s", diff)
			}

			// The consumer got its own receipts back too, once each.
			ccol.WaitFor(t, "the consumer's own receipts", func(ups []messaging.Update) bool { return len(testenv.Events(ups, convID)) == 3 })

			// Closing shows up as a conversation change.
			if err := consumer.CloseConversation(t.Context(), convID); err != nil {
				t.Fatal(err)
			}
			ccol.WaitFor(t, "the close", func(ups []messaging.Update) bool {
				for _, u := range ups {
					if c, ok := u.(messaging.ConversationUpdate); ok && c.Change.Result.ConversationDetails.Stage == protocol.StateClose {
						return true
					}
				}
				return false
			})
			if err := consumer.RateCSAT(t.Context(), convID, 5, true, ""); err != nil {
				t.Errorf("CSAT: %v", err)
			}
			if _, err := consumer.GetClock(context.Background()); err != nil {
				t.Errorf("GetClock: %v", err)
			}
		})
	}
}
