package simulator

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// seqsOf lists the sequences (and -1 for a chat state) of every messaging
// event still in a client's inbox for dialog, taking them out.
func (c *client) seqsOf(dialog string) []int64 {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var seqs []int64
	kept := c.inbox[:0]
	for _, f := range c.inbox {
		if f.Kind != protocol.KindNotification || f.Type != protocol.TypeMessagingEventNotification {
			kept = append(kept, f)
			continue
		}
		n := decode[protocol.MessagingEventNotification](c.t, f)
		for _, ev := range n.Changes {
			if ev.DialogID != dialog {
				continue
			}
			s, ok := ev.Seq()
			if !ok {
				s = -1
			}
			seqs = append(seqs, s)
		}
	}
	c.inbox = kept
	return seqs
}

// notifications returns the notifications still in the inbox.
func (c *client) notifications() []protocol.Frame {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []protocol.Frame
	for _, f := range c.inbox {
		if f.Kind == protocol.KindNotification {
			out = append(out, f)
		}
	}
	return out
}

// barrier makes sure everything the service queued for c before now has
// arrived: the service answers a socket's requests in order, after the
// frames it queued for it earlier.
func (c *client) barrier() {
	c.t.Helper()
	c.ok("GetClock", nil)
}

// TestImplicitSubscription: the socket that created a conversation gets its
// MAIN dialog's live events without subscribing, as in Read and Accept
// Events step 2 (docs/simulator.md, Consumer socket); other sockets of the
// same consumer, and the conversation's metadata, need subscriptions; an
// explicit subscription on the creating socket replays what fromSeq asks
// for and never doubles a live event.
func TestImplicitSubscription(t *testing.T) {
	e := newEnv(t)
	token := e.signup()
	c := e.consumer(token)
	tab := e.consumer(token) // another socket of the same consumer

	// The tutorial's frame, verbatim.
	c.sendRaw(`{"kind":"req","id":1,"type":"cm.ConsumerRequestConversation"}`)
	conv := decode[protocol.RequestConversationResponse](t, c.resp("1")).ConversationID
	// A second request on another socket is refused and subscribes nothing.
	tab.wantCode(409, "cm.ConsumerRequestConversation", nil)

	agent, _ := e.assign("alice")
	agent.ok(".ams.ms.PublishEvent", text(conv, "some agent text"))

	n := c.notif(protocol.TypeMessagingEventNotification)
	ev := decode[protocol.MessagingEventNotification](t, n).Changes[0]
	if s, ok := ev.Seq(); !ok || s != 0 || ev.DialogID != conv || ev.Event.Message != "some agent text" {
		t.Fatalf("the agent's line on the creating socket: %s", n.Body)
	}
	c.barrier()
	tab.barrier()
	if got := tab.seqsOf(conv); len(got) != 0 {
		t.Errorf("a socket that did not create the conversation got events %v without subscribing", got)
	}
	for _, s := range []*client{c, tab} {
		for _, f := range s.notifications() {
			t.Errorf("unsubscribed notification %s %s", f.Type, f.Body)
		}
	}

	// The consumer's own line and a chat state come back once each.
	c.ok("ms.PublishEvent", text(conv, "hi there"))
	c.ok("ms.PublishEvent", protocol.PublishEvent{DialogID: conv, Event: protocol.Event{Type: protocol.EventChatState, ChatState: protocol.ChatComposing}})
	c.barrier()
	if diff := cmp.Diff([]int64{1, -1}, c.seqsOf(conv)); diff != "" {
		t.Errorf("implicit stream after the consumer's publishes (-want +got):\n%s", diff)
	}

	// Subscribing as well: the replay is what fromSeq asks for, then every
	// live event once.
	c.ok("ms.SubscribeMessagingEvents", protocol.SubscribeMessagingEvents{DialogID: conv, ConversationID: conv, FromSeq: 0})
	c.ok("ms.SubscribeMessagingEvents", protocol.SubscribeMessagingEvents{DialogID: conv, ConversationID: conv, FromSeq: 1})
	c.barrier()
	if diff := cmp.Diff([]int64{0, 1, 1}, c.seqsOf(conv)); diff != "" {
		t.Errorf("replays (-want +got):\n%s", diff)
	}
	agent.ok(".ams.ms.PublishEvent", text(conv, "again"))
	c.ok("ms.PublishEvent", receipt(conv, protocol.StatusAccept, 2))
	c.barrier()
	if diff := cmp.Diff([]int64{2, 3}, c.seqsOf(conv)); diff != "" {
		t.Errorf("live events after subscribing too (-want +got):\n%s", diff)
	}
}

// TestImplicitSubscriptionIsMainOnly: the implicit subscription is the MAIN
// dialog's; the post-survey dialog needs its own subscription (PCS step
// 10).
func TestImplicitSubscriptionIsMainOnly(t *testing.T) {
	e := newEnv(t, withSurvey)
	c, _, conv := surveyConversation(t, e)
	survey := startSurvey(t, c, conv)
	// The survey bot greets and asks in its dialog meanwhile.
	deadline := time.Now().Add(waitLimit)
	for len(e.svc.DialogEvents(survey)) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the survey bot asked nothing")
		}
		time.Sleep(time.Millisecond)
	}
	c.barrier()
	if got := c.seqsOf(survey); len(got) != 0 {
		t.Fatalf("survey events %v without a subscription", got)
	}
	c.ok("ms.SubscribeMessagingEvents", protocol.SubscribeMessagingEvents{DialogID: survey, ConversationID: conv})
	c.barrier()
	var want []int64
	for _, ev := range e.svc.DialogEvents(survey) {
		if seq, ok := ev.Seq(); ok {
			want = append(want, seq)
		}
	}
	if diff := cmp.Diff(want, c.seqsOf(survey)); diff != "" {
		t.Errorf("survey events once subscribed (-want +got):\n%s", diff)
	}
}
