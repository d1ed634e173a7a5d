package desks

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

var me = Self{PID: "pid-me", OldID: "123.me"}

const consumer = "consumer-1"

func ev(seq int64, who string, e protocol.Event, ts int64) protocol.MessagingEvent {
	m := protocol.MessagingEvent{DialogID: "C1", ServerTimestamp: ts, Event: e}
	if seq >= 0 {
		m.Sequence = protocol.Seq(seq)
	}
	switch who {
	case "me":
		m.OriginatorID, m.OriginatorPID = me.OldID, me.PID
		m.OriginatorMetadata = &protocol.OriginatorMetadata{ID: me.PID, Role: protocol.RoleAssignedAgent}
	case "consumer":
		m.OriginatorID, m.OriginatorPID = consumer, consumer
		m.OriginatorMetadata = &protocol.OriginatorMetadata{ID: consumer, Role: protocol.RoleConsumer}
	case "bot":
		m.OriginatorID, m.OriginatorPID = "123.bot", "pid-bot"
		m.OriginatorMetadata = &protocol.OriginatorMetadata{ID: "pid-bot", Role: protocol.RoleAssignedAgent}
	}
	return m
}

func text(s string) protocol.Event {
	return protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: s}
}

func receipt(status string, seqs ...int64) protocol.Event {
	return protocol.Event{Type: protocol.EventAcceptStatus, Status: status, SequenceList: seqs}
}

func chat(state string) protocol.Event {
	return protocol.Event{Type: protocol.EventChatState, ChatState: state}
}

// row is what a test compares of a message.
type row struct {
	Seq  int64
	From string
	Mine bool
	Text string
	V    string
	Read bool
	// Times in ms (0: none).
	Sent, Accepted, ReadAt int64
}

func rows(t *Thread) []row {
	var out []row
	ms := func(x time.Time) int64 {
		if x.IsZero() {
			return 0
		}
		return x.UnixMilli()
	}
	for _, m := range t.Messages() {
		out = append(out, row{m.Seq, m.From, m.Own, m.Text, m.Delivery, m.Read, ms(m.SentAt), ms(m.AcceptedAt), ms(m.ReadAt)})
	}
	return out
}

func TestThreadApply(t *testing.T) {
	tests := []struct {
		name       string
		events     []protocol.MessagingEvent
		want       []row
		wantUnread int
		wantTyping bool
	}{
		{
			name:       "consumer message is unread",
			events:     []protocol.MessagingEvent{ev(0, "consumer", text("hi"), 1000)},
			want:       []row{{Seq: 0, From: FromConsumer, Text: "hi"}},
			wantUnread: 1,
		},
		{
			name: "a shared file shows as its caption",
			events: []protocol.MessagingEvent{ev(0, "consumer", protocol.Event{Type: protocol.EventContent, ContentType: protocol.ContentTypeHostedFile,
				File: &protocol.HostedFile{Caption: "my receipt", RelativePath: "/v1/AUTH_async-images/1/x.PNG", FileType: "PNG"}}, 1000)},
			want:       []row{{Seq: 0, From: FromConsumer, Text: "my receipt"}},
			wantUnread: 1,
		},
		{
			name: "own READ from history marks it read",
			events: []protocol.MessagingEvent{
				ev(0, "consumer", text("hi"), 1000),
				ev(1, "me", receipt(protocol.StatusRead, 0), 1100),
			},
			want: []row{{Seq: 0, From: FromConsumer, Text: "hi", Read: true}},
		},
		{
			name: "the consumer's receipts move V",
			events: []protocol.MessagingEvent{
				ev(0, "me", text("hello"), 1000),
				ev(1, "consumer", receipt(protocol.StatusAccept, 0), 2000),
				ev(2, "consumer", receipt(protocol.StatusRead, 0), 3000),
			},
			want: []row{{Seq: 0, From: FromAgent, Mine: true, Text: "hello", V: VRead, Sent: 1000, Accepted: 2000, ReadAt: 3000}},
		},
		{
			name: "another agent's message and receipts do not move V",
			events: []protocol.MessagingEvent{
				ev(0, "bot", text("I'm the bot"), 1000),
				ev(1, "me", text("hello"), 1500),
				ev(2, "bot", receipt(protocol.StatusRead, 1), 2000),
			},
			want: []row{
				{Seq: 0, From: FromAgent, Text: "I'm the bot"},
				{Seq: 1, From: FromAgent, Mine: true, Text: "hello", V: VSent, Sent: 1500},
			},
		},
		{
			name: "history merged after live: in order, early receipts applied",
			events: []protocol.MessagingEvent{
				ev(3, "consumer", receipt(protocol.StatusAccept, 1), 4000),
				ev(1, "me", text("hello"), 2000),
				ev(0, "consumer", text("hi"), 1000),
			},
			want: []row{
				{Seq: 0, From: FromConsumer, Text: "hi"},
				{Seq: 1, From: FromAgent, Mine: true, Text: "hello", V: VAccepted, Sent: 2000, Accepted: 4000},
			},
			wantUnread: 1,
		},
		{
			name: "direction controls stripped, LRM and RLM kept",
			events: []protocol.MessagingEvent{
				ev(0, "consumer", text("pay\u202Egnp.exe \u2066a\u2069\u2067b\u2069\u2068c\u2069 \u202A\u202B\u202C\u202Dd \u200Ee\u200F"), 1000),
			},
			want:       []row{{Seq: 0, From: FromConsumer, Text: "paygnp.exe abc d \u200Ee\u200F"}},
			wantUnread: 1,
		},
		{
			name:       "consumer typing",
			events:     []protocol.MessagingEvent{ev(-1, "consumer", chat(protocol.ChatComposing), 0)},
			wantTyping: true,
		},
		{
			name: "a message ends typing",
			events: []protocol.MessagingEvent{
				ev(-1, "consumer", chat(protocol.ChatComposing), 0),
				ev(0, "consumer", text("hi"), 1000),
			},
			want:       []row{{Seq: 0, From: FromConsumer, Text: "hi"}},
			wantUnread: 1,
		},
		{
			name: "the agent's own chat state is not the consumer typing",
			events: []protocol.MessagingEvent{
				ev(-1, "me", chat(protocol.ChatComposing), 0),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := NewThread("C1", me)
			th.ConsumerID = consumer
			for _, e := range tt.events {
				th.Apply(e)
			}
			if diff := cmp.Diff(tt.want, rows(th), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			if got := th.Unread(); got != tt.wantUnread {
				t.Errorf("unread = %d, want %d", got, tt.wantUnread)
			}
			if th.ConsumerTyping != tt.wantTyping {
				t.Errorf("consumer typing = %v, want %v", th.ConsumerTyping, tt.wantTyping)
			}
		})
	}
}

// TestThreadSending: the desk's sends reach the transcript, and the
// agent's echo is recognised as its own (the lifecycle itself is tested in
// internal/transcript).
func TestThreadSending(t *testing.T) {
	at := time.UnixMilli(500)
	tests := []struct {
		name  string
		steps func(th *Thread)
		want  []row
	}{
		{
			name: "echo then response",
			steps: func(th *Thread) {
				th.Sending("1", "hello", at)
				th.Apply(ev(4, "me", text("hello"), 1000))
				th.Sent("1", "C1", 4, time.UnixMilli(1100))
			},
			want: []row{{Seq: 4, From: FromAgent, Mine: true, Text: "hello", V: VSent, Sent: 1000}},
		},
		{
			name: "direction controls stripped from the agent's own, its echo matched",
			steps: func(th *Thread) {
				th.Sending("1", "ok\u202E.exe", at)
				th.Apply(ev(4, "me", text("ok\u202E.exe"), 1000))
			},
			want: []row{{Seq: 4, From: FromAgent, Mine: true, Text: "ok.exe", V: VSent, Sent: 1000}},
		},
		{
			name: "failed",
			steps: func(th *Thread) {
				th.Sending("1", "hello", at)
				th.Failed("1")
			},
			want: []row{{From: FromAgent, Mine: true, Text: "hello", V: VFailed}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			th := NewThread("C1", me)
			th.ConsumerID = consumer
			tt.steps(th)
			if diff := cmp.Diff(tt.want, rows(th)); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
}

// TestThreadReset: a message inserted before others (history merged after
// live events) asks the page to show the messages anew.
func TestThreadReset(t *testing.T) {
	th := NewThread("C1", me)
	th.ConsumerID = consumer
	if ch := th.Apply(ev(1, "consumer", text("b"), 2000)); len(ch.Added) != 1 || ch.Reset {
		t.Errorf("live message: %+v, want it added", ch)
	}
	if ch := th.Apply(ev(0, "consumer", text("a"), 1000)); len(ch.Added) != 0 || !ch.Reset || !ch.Summary {
		t.Errorf("history message: %+v, want a reset", ch)
	}
	if ch := th.Apply(ev(0, "consumer", text("a"), 1000)); !ch.Empty() {
		t.Errorf("replayed event changed %+v", ch)
	}
}

func TestThreadMarkReadAndClose(t *testing.T) {
	th := NewThread("C1", me)
	th.ConsumerID = consumer
	th.Apply(ev(0, "consumer", text("a"), 1000))
	th.Apply(ev(1, "consumer", text("b"), 1000))
	th.Apply(ev(-1, "consumer", chat(protocol.ChatComposing), 0))
	if ch := th.MarkRead("C1", 0); !ch.Summary {
		t.Error("MarkRead of an unread message changed no summary")
	}
	if ch := th.MarkRead("C1", 0); !ch.Empty() {
		t.Error("MarkRead twice changed something")
	}
	if n := th.Unread(); n != 1 {
		t.Errorf("unread = %d, want 1", n)
	}
	ch := th.Close()
	if !ch.Closed || !ch.Typing || th.ConsumerTyping {
		t.Errorf("Close = %+v, typing %v; want closed and typing ended", ch, th.ConsumerTyping)
	}
	if !th.Close().Empty() {
		t.Error("closing twice changed something")
	}
}
