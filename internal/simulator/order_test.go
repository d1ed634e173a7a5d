package simulator

import (
	"fmt"
	"testing"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// TestReplayBeforeLaterAnswers: a socket's requests are answered in the
// order they came, a subscription's replay included: a GetClock sent right
// behind ms.SubscribeMessagingEvents, without waiting for its answer, is
// answered after the whole replay has been sent. The client's Sync barrier
// relies on it (docs/protocol.md, Subscriptions); LivePerson does not
// document it, so this is the service's promise, kept here.
func TestReplayBeforeLaterAnswers(t *testing.T) {
	e := newEnv(t)
	tok := e.signup()
	c := e.consumer(tok)
	conv := c.openConversation()
	const events = 40
	for i := range events {
		c.ok(protocol.TypePublishEvent, text(conv, fmt.Sprintf("line %d", i)))
	}
	for round := range 20 {
		late := e.consumer(tok)
		sub := late.send(protocol.TypeSubscribeMessagingEvents, protocol.SubscribeMessagingEvents{DialogID: conv, ConversationID: conv})
		clock := late.send(protocol.TypeGetClock, nil)
		seen := map[int64]bool{}
		answered := false
		for !answered {
			f := late.next()
			switch {
			case f.Kind == protocol.KindResp && string(f.ReqID) == sub:
			case f.Kind == protocol.KindResp && string(f.ReqID) == clock:
				answered = true
			case f.Kind == protocol.KindNotification && f.Type == protocol.TypeMessagingEventNotification:
				for _, ev := range decode[protocol.MessagingEventNotification](t, f).Changes {
					if seq, ok := ev.Seq(); ok {
						seen[seq] = true
					}
				}
			}
		}
		if len(seen) != events {
			t.Fatalf("round %d: GetClock answered after %d of the %d replayed events", round, len(seen), events)
		}
		late.conn.CloseNow()
	}
}
