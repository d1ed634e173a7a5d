package relay

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

const (
	me      = "consumer-1"
	agentID = "agent-pid"
	conv    = "C1"
)

func text(seq int64, from, msg string) protocol.MessagingEvent {
	return protocol.MessagingEvent{
		Sequence: protocol.Seq(seq), DialogID: conv, OriginatorID: from, ServerTimestamp: 1000 * (seq + 1),
		OriginatorMetadata: &protocol.OriginatorMetadata{ID: from},
		Event:              protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: msg},
	}
}

func agentReceipt(seq int64, status string, seqs ...int64) protocol.MessagingEvent {
	return protocol.MessagingEvent{
		Sequence: protocol.Seq(seq), DialogID: conv, OriginatorID: agentID, ServerTimestamp: 1000 * (seq + 1),
		Event: protocol.Event{Type: protocol.EventAcceptStatus, Status: status, SequenceList: seqs},
	}
}

func typing(state string) protocol.MessagingEvent {
	return protocol.MessagingEvent{DialogID: conv, OriginatorID: agentID,
		Event: protocol.Event{Type: protocol.EventChatState, ChatState: state}}
}

// receipts returns key → receipt of the customer's messages.
func receiptsOf(c *Conversation) map[string]string {
	out := map[string]string{}
	for _, m := range c.Messages() {
		if m.From == FromConsumer {
			out[m.Text] = m.Receipt
		}
	}
	return out
}

func TestConversationTicks(t *testing.T) {
	tests := []struct {
		name string
		run  func(c *Conversation)
		want map[string]string
	}{
		{
			name: "clock while sending, one tick on the response",
			run: func(c *Conversation) {
				c.Sending("l1", "hi", time.Unix(1, 0))
				c.Sending("l2", "there", time.Unix(2, 0))
				c.Sent("l1", conv, 0)
			},
			want: map[string]string{"hi": ReceiptSent, "there": ReceiptPending},
		},
		{
			name: "agent ACCEPT then READ",
			run: func(c *Conversation) {
				c.Sending("l1", "hi", time.Unix(1, 0))
				c.Sent("l1", conv, 0)
				c.Apply(agentReceipt(1, "ACCEPT", 0))
				c.Sending("l2", "more", time.Unix(1, 0))
				c.Sent("l2", conv, 2)
				c.Apply(agentReceipt(3, "READ", 2))
			},
			want: map[string]string{"hi": ReceiptAccepted, "more": ReceiptRead},
		},
		{
			name: "READ is never undone by a late ACCEPT",
			run: func(c *Conversation) {
				c.Apply(text(0, me, "hi"))
				c.Apply(agentReceipt(1, "READ", 0))
				c.Apply(agentReceipt(2, "ACCEPT", 0))
			},
			want: map[string]string{"hi": ReceiptRead},
		},
		{
			name: "echo before the response attaches to the local message",
			run: func(c *Conversation) {
				c.Sending("l1", "hi", time.Unix(1, 0))
				c.Apply(text(0, me, "hi"))
				c.Sent("l1", conv, 0)
			},
			want: map[string]string{"hi": ReceiptSent},
		},
		{
			name: "receipt before the response is kept for later",
			run: func(c *Conversation) {
				c.Sending("l1", "hi", time.Unix(1, 0))
				c.Apply(agentReceipt(1, "ACCEPT", 0))
				c.Sent("l1", conv, 0)
			},
			want: map[string]string{"hi": ReceiptAccepted},
		},
		{
			name: "failed send, then its echo in catch-up: it did land",
			run: func(c *Conversation) {
				c.Sending("l1", "hi", time.Unix(1, 0))
				c.Failed("l1")
				c.Apply(text(0, me, "hi"))
			},
			want: map[string]string{"hi": ReceiptSent},
		},
		{
			name: "failed send stays failed",
			run: func(c *Conversation) {
				c.Sending("l1", "hi", time.Unix(1, 0))
				c.Failed("l1")
			},
			want: map[string]string{"hi": ReceiptFailed},
		},
		{
			name: "the agent's receipts of its own messages change nothing",
			run: func(c *Conversation) {
				c.Apply(text(0, agentID, "hello"))
				c.Apply(agentReceipt(1, "READ", 0))
			},
			want: map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConversation(me)
			tt.run(c)
			if diff := cmp.Diff(tt.want, receiptsOf(c)); diff != "" {
				t.Errorf("receipts (-want +got):\n%s", diff)
			}
			if n := len(c.Messages()); n != len(tt.want) && tt.name != "the agent's receipts of its own messages change nothing" {
				t.Errorf("%d messages, want %d", n, len(tt.want))
			}
		})
	}
}

func TestConversationIdenticalTextsInFlight(t *testing.T) {
	c := NewConversation(me)
	c.Sending("l1", "ok", time.Unix(1, 0))
	c.Sending("l2", "ok", time.Unix(2, 0))
	c.Apply(text(0, me, "ok")) // echo of l2's publish, matched to l1 by text
	c.Apply(text(1, me, "ok"))
	c.Sent("l2", conv, 0)
	c.Sent("l1", conv, 1)
	got := map[string]int64{}
	for _, m := range c.Messages() {
		got[m.LocalID] = m.Seq
	}
	if diff := cmp.Diff(map[string]int64{"l1": 1, "l2": 0}, got); diff != "" {
		t.Errorf("sequences (-want +got):\n%s", diff)
	}
	if n := len(c.Messages()); n != 2 {
		t.Errorf("%d messages, want 2", n)
	}
}

func TestConversationDuplicatesIgnored(t *testing.T) {
	c := NewConversation(me)
	if ch := c.Apply(text(0, agentID, "hello")); len(ch.Added) != 1 {
		t.Fatalf("first apply added %d", len(ch.Added))
	}
	if ch := c.Apply(text(0, agentID, "hello")); !ch.Empty() {
		t.Errorf("replayed event changed %+v", ch)
	}
	if n := len(c.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestConversationTyping(t *testing.T) {
	c := NewConversation(me)
	if ch := c.Apply(typing("COMPOSING")); !ch.Typing || !c.Typing {
		t.Fatal("COMPOSING did not start typing")
	}
	if ch := c.Apply(typing("COMPOSING")); ch.Typing {
		t.Error("a second COMPOSING reported a change")
	}
	if ch := c.Apply(text(0, agentID, "hi")); !ch.Typing || c.Typing {
		t.Error("a message did not end typing")
	}
	c.Apply(typing("COMPOSING"))
	if ch := c.Apply(typing("PAUSE")); !ch.Typing || c.Typing {
		t.Error("PAUSE did not end typing")
	}
	c.Apply(typing("COMPOSING"))
	if ch := c.StopTyping(); !ch.Typing || c.Typing {
		t.Error("StopTyping did not end typing")
	}
	own := typing("COMPOSING")
	own.OriginatorID = me
	if ch := c.Apply(own); ch.Typing || c.Typing {
		t.Error("the customer's own typing showed as the agent's")
	}
}

func TestConversationMetadata(t *testing.T) {
	c := NewConversation(me)
	upsert := func(ts int64, stage string, agent string, csat int) protocol.ConversationChange {
		d := protocol.ConversationDetails{State: stage, Stage: stage, MetaDataLastUpdateTs: ts,
			Participants: protocol.Participants{List: []protocol.Participant{{ID: me, Role: protocol.RoleConsumer}}}}
		if agent != "" {
			d.Participants.List = append(d.Participants.List, protocol.Participant{ID: agent, Role: protocol.RoleAssignedAgent})
		}
		if csat > 0 {
			d.CSAT = &protocol.CSAT{CSATRate: csat}
		}
		return protocol.ConversationChange{Type: protocol.ChangeUpsert, Result: protocol.ConversationResult{ConvID: conv, ConversationDetails: d}}
	}
	ch, ok := c.ApplyConversation(upsert(10, "OPEN", "", 0))
	if !ok || !ch.Phase || c.Phase != PhaseOpen {
		t.Fatalf("open: %+v %v phase %s", ch, ok, c.Phase)
	}
	ch, _ = c.ApplyConversation(upsert(20, "OPEN", agentID, 0))
	if !ch.Agent || c.AgentID != agentID {
		t.Fatalf("agent join: %+v", ch)
	}
	if ch := c.SetAgentName(agentID, "Alice"); !ch.Agent || c.AgentName != "Alice" {
		t.Fatalf("name: %+v", ch)
	}
	if _, ok := c.ApplyConversation(upsert(15, "CLOSE", agentID, 0)); ok {
		t.Error("an older change was applied")
	}
	ch, _ = c.ApplyConversation(upsert(30, "CLOSE", agentID, 0))
	if !ch.Phase || c.Phase != PhaseClosed {
		t.Fatalf("close: %+v phase %s", ch, c.Phase)
	}
	ch, _ = c.ApplyConversation(upsert(40, "CLOSE", agentID, 4))
	if c.Phase != PhaseRated || c.Rating != 4 {
		t.Fatalf("csat: %+v phase %s rating %d", ch, c.Phase, c.Rating)
	}
	if _, ok := c.ApplyConversation(protocol.ConversationChange{Type: protocol.ChangeUpsert, Result: protocol.ConversationResult{ConvID: "other"}}); ok {
		t.Error("another conversation's change was applied")
	}
}

func TestRichText(t *testing.T) {
	card := `{"type":"vertical","elements":[{"type":"text","text":"Pick one"},{"type":"image","url":"https://x/y.png"},{"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yes"}]}}]}`
	if got, want := richText([]byte(card)), "Pick one\nYes\nyes"; got != want {
		t.Errorf("richText = %q, want %q", got, want)
	}
}
