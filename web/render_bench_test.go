package web_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
)

// The benchmarks of this file measure the window's renderer (web.Renderer,
// the relay.Renderer the server runs) on what a session hands it: the
// changes are made by relay.Conversation from protocol events, as a live
// session makes them. They measure and assert nothing about speed.

const (
	benchSelf  = "consumer-1"
	benchAgent = "2b3c8a9e-4c7d-4a8e-9a55-3f0e6f1d2c11"
	benchConv  = "940f401e-dc4c-49a9-bff2-2bbb5bd0df64"
)

// benchEvent is one event of the conversation's dialog at sequence seq.
func benchEvent(seq int64, from string, ev protocol.Event) protocol.MessagingEvent {
	return protocol.MessagingEvent{
		Sequence: protocol.Seq(seq), DialogID: benchConv, ConversationID: benchConv, OriginatorID: from,
		OriginatorMetadata: &protocol.OriginatorMetadata{ID: from},
		ServerTimestamp:    1_700_000_000_000 + 1000*seq,
		Event:              ev,
	}
}

func benchText(seq int64, from, text string) protocol.MessagingEvent {
	return benchEvent(seq, from, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text})
}

// benchOpen is an open conversation with an assigned agent, as a session
// has it once the service told it so.
func benchOpen() *relay.Conversation {
	c := relay.NewConversation(benchSelf)
	c.ID, c.Phase, c.AgentID, c.AgentName = benchConv, relay.PhaseOpen, benchAgent, "Alice"
	return c
}

// benchView is the view a session renders a change against (no messages:
// only a reset carries them).
func benchView(c *relay.Conversation) relay.View {
	return relay.View{Connection: messaging.StateOpen, Phase: c.Phase, AgentName: c.AgentName, Typing: c.Typing, Rating: c.Rating}
}

// agentTextChange is the change of one agent text message arriving: the
// bubble appended out of band, the typing slot, and the announcement.
func agentTextChange(b testing.TB) (relay.View, relay.Change) {
	c := benchOpen()
	ch := c.Apply(benchText(3, benchAgent, "Hello, how can I help you today?"))
	if len(ch.Added) != 1 {
		b.Fatalf("the agent's message made %+v", ch)
	}
	return benchView(c), ch
}

// customerTicksChange is the change of the agent's ACCEPT of the
// customer's message: that bubble re-rendered out of band with its ticks
// (Delivered, with the time) and the announcement.
func customerTicksChange(b testing.TB) (relay.View, relay.Change) {
	c := benchOpen()
	at := time.UnixMilli(1_700_000_000_000)
	c.Sending("1", "I'd like to change my <b>delivery</b> address", at)
	c.Sent("1", benchConv, 4, at)
	ch := c.Apply(benchEvent(5, benchAgent, protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusAccept, SequenceList: protocol.Seqs{4}}))
	if len(ch.Updated) != 1 || ch.Updated[0].Delivery != relay.ReceiptAccepted {
		b.Fatalf("the agent's ACCEPT made %+v", ch)
	}
	return benchView(c), ch
}

// BenchmarkRenderMessageFragment renders the frame a tab's socket receives
// for one message: an agent's text bubble (appended out of band, with the
// typing slot and the announcement), and a customer's bubble updated with
// its ticks.
func BenchmarkRenderMessageFragment(b *testing.B) {
	for _, bc := range []struct {
		name   string
		change func(testing.TB) (relay.View, relay.Change)
	}{
		{"agent-text", agentTextChange},
		{"customer-ticks", customerTicksChange},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := testRenderer(b)
			v, ch := bc.change(b)
			b.ReportAllocs()
			var n int
			for b.Loop() {
				out, err := r.Change(v, ch)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.ReportMetric(float64(n), "frame-bytes")
		})
	}
}

// benchWindow is a conversation of n messages, alternately the agent's
// and the customer's (read by the agent), as the window shows it.
func benchWindow(b testing.TB, n int) relay.View {
	c := benchOpen()
	var seq int64
	for i := range n {
		seq++
		if i%2 == 0 {
			c.Apply(benchText(seq, benchAgent, fmt.Sprintf("Agent message %d: how can I help you today?", i)))
			continue
		}
		c.Apply(benchText(seq, benchSelf, fmt.Sprintf("Customer message %d: I'd like to change my address", i)))
		c.Apply(benchEvent(seq+1, benchAgent, protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusRead, SequenceList: protocol.Seqs{seq}}))
		seq++
	}
	v := benchView(c)
	v.Messages = c.Messages()
	if len(v.Messages) != n {
		b.Fatalf("%d messages, want %d", len(v.Messages), n)
	}
	return v
}

// BenchmarkRenderWindow renders the whole live window a tab receives when
// it attaches (or after a reset): 100 messages, half of them the
// customer's with their ticks. ns/msg is the time per message.
func BenchmarkRenderWindow(b *testing.B) {
	const n = 100
	b.Run(fmt.Sprintf("msgs=%d", n), func(b *testing.B) {
		r := testRenderer(b)
		v := benchWindow(b, n)
		b.ReportAllocs()
		var size int
		for b.Loop() {
			out, err := r.Window(v)
			if err != nil {
				b.Fatal(err)
			}
			size = len(out)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/msg")
		b.ReportMetric(float64(size), "frame-bytes")
	})
}
