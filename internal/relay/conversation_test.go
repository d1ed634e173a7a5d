package relay

import (
	"encoding/json"
	"errors"
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
			out[m.Text] = m.Delivery
		}
	}
	return out
}

// TestConversationTicks: the agent's receipts and the customer's echoes
// reach the transcript (its lifecycle is tested in internal/transcript).
func TestConversationTicks(t *testing.T) {
	tests := []struct {
		name         string
		run          func(c *Conversation) Change
		want         map[string]string
		wantAnnounce string
	}{
		{
			name: "the agent's ACCEPT",
			run: func(c *Conversation) Change {
				c.Sending("l1", "hi", time.Unix(1, 0))
				c.Sent("l1", conv, 0, time.Unix(2, 0))
				return c.Apply(agentReceipt(1, "ACCEPT", 0))
			},
			want:         map[string]string{"hi": ReceiptAccepted},
			wantAnnounce: "Delivered",
		},
		{
			name: "the agent's READ of an echoed message",
			run: func(c *Conversation) Change {
				c.Sending("l1", "hi", time.Unix(1, 0))
				c.Apply(text(0, me, "hi"))
				return c.Apply(agentReceipt(1, "READ", 0))
			},
			want:         map[string]string{"hi": ReceiptRead},
			wantAnnounce: "Read by the agent",
		},
		{
			name: "the customer's own receipts move nothing",
			run: func(c *Conversation) Change {
				c.Apply(text(0, me, "hi"))
				own := agentReceipt(1, "READ", 0)
				own.OriginatorID = me
				return c.Apply(own)
			},
			want: map[string]string{"hi": ReceiptSent},
		},
		{
			name: "failed",
			run: func(c *Conversation) Change {
				c.Sending("l1", "hi", time.Unix(1, 0))
				return c.Failed("l1")
			},
			want:         map[string]string{"hi": ReceiptFailed},
			wantAnnounce: "Your message was not sent.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConversation(me)
			ch := tt.run(c)
			if diff := cmp.Diff(tt.want, receiptsOf(c)); diff != "" {
				t.Errorf("receipts (-want +got):\n%s", diff)
			}
			if n := len(c.Messages()); n != len(tt.want) {
				t.Errorf("%d messages, want %d", n, len(tt.want))
			}
			if ch.Announce != tt.wantAnnounce {
				t.Errorf("announce %q, want %q", ch.Announce, tt.wantAnnounce)
			}
		})
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

// demoCard and demoReplies are shaped like the demo bot's.
const (
	demoCard    = `{"type":"vertical","elements":[{"type":"text","text":"Pick one"},{"type":"image","url":"https://x.example/y.png","tooltip":"Pic"},{"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yes"}],"metadata":[{"type":"ExternalId","id":"Y"}]}}]}`
	demoReplies = `{"type":"quickReplies","replies":[{"type":"button","title":"Help","click":{"actions":[{"type":"publishText","text":"help"}]}},{"type":"button","title":"Bye","click":{"actions":[{"type":"publishText","text":"bye"}]}}]}`
)

func rich(seq int64, from, card string) protocol.MessagingEvent {
	ev := text(seq, from, "")
	ev.Event = protocol.Event{Type: protocol.EventRichContent, Content: []byte(card)}
	return ev
}

func withReplies(ev protocol.MessagingEvent, qr string) protocol.MessagingEvent {
	ev.Event.QuickReplies = []byte(qr)
	return ev
}

func open(c *Conversation) *Conversation {
	c.ID, c.Phase = conv, PhaseOpen
	return c
}

func TestRichContentApplied(t *testing.T) {
	c := open(NewConversation(me))
	c.Apply(rich(0, agentID, demoCard))
	c.Apply(withReplies(text(1, agentID, "Anything else?"), demoReplies))
	ms := c.Messages()
	if got, want := ms[0].Text, "Pick one\nPic\nYes"; got != want {
		t.Errorf("card's fallback text = %q, want %q", got, want)
	}
	if ms[0].Rich.Card == nil || len(ms[0].Rich.Choices) != 1 || ms[0].RepliesOpen {
		t.Errorf("card message: %+v", ms[0])
	}
	if !ms[1].RepliesOpen || len(ms[1].Rich.QuickReplies()) != 2 {
		t.Errorf("quick replies not open: %+v", ms[1])
	}
	// A newer message closes them, and says so.
	ch := c.Apply(text(2, agentID, "hello?"))
	if len(ch.Updated) != 1 || ch.Updated[0].Seq != 1 || ch.Updated[0].RepliesOpen {
		t.Errorf("newer message: updated %+v, want message 1 with replies closed", ch.Updated)
	}
	// A customer's own structured content offers nothing.
	c.Apply(withReplies(rich(3, me, demoCard), demoReplies))
	if m := c.Messages()[3]; !m.Rich.Empty() || m.Text != "Pick one\nPic\nYes" {
		t.Errorf("own rich content: %+v", m)
	}
}

func TestQuickRepliesCloseOnSendingAndAction(t *testing.T) {
	c := open(NewConversation(me))
	c.Apply(withReplies(text(0, agentID, "Choose"), demoReplies))
	ch := c.Sending("1", "typed instead", time.Now())
	if len(ch.Updated) != 1 || ch.Updated[0].RepliesOpen {
		t.Errorf("sending: updated %+v, want the replies closed", ch.Updated)
	}

	c = open(NewConversation(me))
	c.Apply(withReplies(text(0, agentID, "Choose"), demoReplies))
	action := agentReceipt(1, protocol.StatusAction, 0)
	action.OriginatorID, action.OriginatorMetadata = me, &protocol.OriginatorMetadata{ID: me}
	ch = c.Apply(action)
	if len(ch.Updated) != 1 || ch.Updated[0].RepliesOpen {
		t.Errorf("own ACTION: updated %+v, want the replies closed", ch.Updated)
	}
}

// TestChoose: only a choice the agent offered, on the agent's message,
// while it is on offer, is accepted (a forged click is refused).
func TestChoose(t *testing.T) {
	setup := func() *Conversation {
		c := open(NewConversation(me))
		c.Apply(rich(0, agentID, demoCard))                           // choice 0: yes
		c.Apply(text(1, me, "mine"))                                  // the customer's
		c.Apply(withReplies(text(2, agentID, "Choose"), demoReplies)) // choices 0: help, 1: bye
		c.Apply(agentReceipt(3, protocol.StatusAccept, 1))            // not content
		return c
	}
	tests := []struct {
		name    string
		prep    func(c *Conversation)
		dialog  string
		seq     int64
		index   int
		text    string
		want    string
		wantErr bool
	}{
		{name: "quick reply", seq: 2, index: 1, want: "bye"},
		{name: "quick reply with its text", seq: 2, index: 0, text: "help", want: "help"},
		{name: "card button", seq: 0, index: 0, want: "yes"},
		{name: "card button after a newer message", seq: 0, index: 0, prep: func(c *Conversation) { c.Apply(text(4, agentID, "later")) }, want: "yes"},
		{name: "another text", seq: 2, index: 0, text: "I agree to pay", wantErr: true},
		{name: "index out of range", seq: 2, index: 2, wantErr: true},
		{name: "negative index", seq: 2, index: -1, wantErr: true},
		{name: "the customer's own message", seq: 1, index: 0, wantErr: true},
		{name: "a receipt", seq: 3, index: 0, wantErr: true},
		{name: "unknown sequence", seq: 99, index: 0, wantErr: true},
		{name: "another dialog", dialog: "other", seq: 2, index: 0, wantErr: true},
		{name: "quick replies closed by a newer message", seq: 2, index: 0, prep: func(c *Conversation) { c.Apply(text(4, agentID, "later")) }, wantErr: true},
		{name: "conversation closed", seq: 2, index: 0, prep: func(c *Conversation) { c.Phase = PhaseClosed }, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := setup()
			if tt.prep != nil {
				tt.prep(c)
			}
			dialog := conv
			if tt.dialog != "" {
				dialog = tt.dialog
			}
			got, _, err := c.Choose(dialog, tt.seq, tt.index, tt.text)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Choose: err %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && got.Text != tt.want {
				t.Errorf("Choose = %q, want %q", got.Text, tt.want)
			}
		})
	}
	// A quick reply is answered once.
	c := setup()
	if _, _, err := c.Choose(conv, 2, 0, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Choose(conv, 2, 1, ""); !errors.Is(err, ErrChoice) {
		t.Errorf("a second quick reply of the same message: err %v, want ErrChoice", err)
	}
}

// twoButtons is a card of two answers told apart by their metadata.
const twoButtons = `{"type":"vertical","elements":[{"type":"text","text":"Which plan?"},
	{"type":"button","title":"Gold","click":{"actions":[{"type":"publishText","text":"gold"}],"metadata":[{"type":"ExternalId","id":"gold"}]}},
	{"type":"button","title":"Silver","click":{"actions":[{"type":"publishText","text":"silver"}],"metadata":[{"type":"ExternalId","id":"silver"}]}}]}`

func ownAction(seq int64, metadata string, seqs ...int64) protocol.MessagingEvent {
	ev := agentReceipt(seq, protocol.StatusAction, seqs...)
	ev.OriginatorID, ev.OriginatorMetadata = me, &protocol.OriginatorMetadata{ID: me}
	if metadata != "" {
		ev.Metadata = json.RawMessage(metadata)
	}
	return ev
}

// TestConversationCardAnswered: a card is answered once, by a click here
// or by the customer's ACTION in the history (another tab, a reload,
// another node), which names the button by its metadata when it can.
func TestConversationCardAnswered(t *testing.T) {
	type answer struct {
		Answered bool
		Chosen   int
	}
	tests := []struct {
		name string
		// events after the card (seq 0) and before the clicks.
		events []protocol.MessagingEvent
		// early: the ACTION comes before its card (history merged late).
		early  bool
		clicks []int
		want   answer
		// accepted is how many clicks were accepted.
		accepted int
	}{
		{name: "three clicks on one button", clicks: []int{1, 1, 1}, want: answer{true, 1}, accepted: 1},
		{name: "another button after the first", clicks: []int{0, 1}, want: answer{true, 0}, accepted: 1},
		{name: "an ACTION naming silver", events: []protocol.MessagingEvent{ownAction(1, `[{"type":"ExternalId","id":"silver"}]`, 0)}, clicks: []int{0, 1}, want: answer{true, 1}},
		{name: "an ACTION before its card", early: true, events: []protocol.MessagingEvent{ownAction(1, `[{"id":"gold","type":"ExternalId"}]`, 0)}, clicks: []int{0}, want: answer{true, 0}},
		{name: "an ACTION without metadata", events: []protocol.MessagingEvent{ownAction(1, "", 0)}, clicks: []int{0, 1}, want: answer{true, -1}},
		{name: "the first ACTION counts", events: []protocol.MessagingEvent{
			ownAction(1, `[{"type":"ExternalId","id":"silver"}]`, 0), ownAction(2, `[{"type":"ExternalId","id":"gold"}]`, 0),
		}, want: answer{true, 1}},
		{name: "the agent's ACTION is not the customer's", events: []protocol.MessagingEvent{agentReceipt(1, protocol.StatusAction, 0)}, clicks: []int{1}, want: answer{true, 1}, accepted: 1},
		{name: "unanswered", want: answer{false, -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := open(NewConversation(me))
			if !tt.early {
				c.Apply(rich(0, agentID, twoButtons))
			}
			for _, ev := range tt.events {
				c.Apply(ev)
			}
			if tt.early {
				c.Apply(rich(0, agentID, twoButtons))
			}
			accepted := 0
			for _, i := range tt.clicks {
				_, ch, err := c.Choose(conv, 0, i, "")
				switch {
				case err == nil:
					accepted++
					if len(ch.Updated) != 1 || !ch.Updated[0].Answered {
						t.Errorf("accepted click: updated %+v, want the card answered", ch.Updated)
					}
				case !errors.Is(err, ErrChoice):
					t.Errorf("click %d: err %v, want ErrChoice", i, err)
				}
			}
			if accepted != tt.accepted {
				t.Errorf("%d clicks accepted, want %d", accepted, tt.accepted)
			}
			m := c.Messages()[0]
			if diff := cmp.Diff(tt.want, answer{m.Answered, m.Chosen}); diff != "" {
				t.Errorf("card (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConversationBidiControls: no text the window keeps holds explicit
// direction controls (internal/bidi): the agent's, the customer's own as
// sent and as echoed, the agent's name; the marks LRM and RLM stay.
func TestConversationBidiControls(t *testing.T) {
	const (
		hostile = "pay\u202Egnp.exe \u2066a\u2069\u2067b\u2069\u2068c\u2069 \u202A\u202B\u202C\u202Dd \u200E\u200F"
		clean   = "paygnp.exe abc d \u200E\u200F"
	)
	c := open(NewConversation(me))
	c.ApplyConversation(protocol.ConversationChange{Result: protocol.ConversationResult{ConvID: conv, ConversationDetails: protocol.ConversationDetails{
		Participants: protocol.Participants{List: []protocol.Participant{{ID: agentID, Role: protocol.RoleAssignedAgent}}},
	}}})
	c.SetAgentName(agentID, "Ann\u202E")
	c.Apply(text(0, agentID, hostile))
	c.Sending("1", hostile, time.UnixMilli(1500))
	c.Apply(text(1, me, hostile)) // its echo
	c.Apply(text(2, me, hostile)) // from another window of theirs
	var got []string
	for _, m := range c.Messages() {
		got = append(got, m.From+": "+m.Text)
	}
	want := []string{"agent: " + clean, "consumer: " + clean, "consumer: " + clean}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
	if m := c.Messages()[1]; m.LocalID != "1" || m.Seq != 1 {
		t.Errorf("the echo did not match its bubble: %+v", m)
	}
	if c.AgentName != "Ann" {
		t.Errorf("agent name %q", c.AgentName)
	}
}

// TestConversationHistoryInserted: a message older than those shown (history
// merged in late) goes in its place, asks for the messages anew, and
// neither offers quick replies nor closes the newest's.
func TestConversationHistoryInserted(t *testing.T) {
	c := open(NewConversation(me))
	c.Apply(withReplies(text(2, agentID, "Choose"), demoReplies))
	ch := c.Apply(withReplies(text(0, agentID, "Earlier"), demoReplies))
	if !ch.Reset || len(ch.Added) != 0 || len(ch.Updated) != 0 {
		t.Errorf("older message: %+v, want a reset only", ch)
	}
	var got []string
	for _, m := range c.Messages() {
		got = append(got, m.Text)
		if want := m.Seq == 2; m.RepliesOpen != want {
			t.Errorf("message %d: replies open %v, want %v", m.Seq, m.RepliesOpen, want)
		}
	}
	if diff := cmp.Diff([]string{"Earlier", "Choose"}, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

// TestConversationStoredBeforeSending: a stored message that arrives while
// the customer's own is in flight (history of a conversation joined from
// another device, or an agent's answer) goes before it, so the page is
// rendered anew: appending would show it after the message in flight.
func TestConversationStoredBeforeSending(t *testing.T) {
	c := open(NewConversation(me))
	c.Sending("l1", "From my phone", time.Now())
	for seq, msg := range []string{"Earlier", "An answer"} {
		ch := c.Apply(text(int64(seq), agentID, msg))
		if !ch.Reset || len(ch.Added) != 0 {
			t.Errorf("%q: %+v, want a reset", msg, ch)
		}
	}
	c.Apply(text(2, me, "From my phone"))
	var got []string
	for _, m := range c.Messages() {
		got = append(got, m.Text)
	}
	if diff := cmp.Diff([]string{"Earlier", "An answer", "From my phone"}, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}
