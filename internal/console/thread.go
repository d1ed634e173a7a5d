package console

import (
	"slices"
	"strconv"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Who wrote a message, as the console shows it (data-from).
const (
	FromConsumer = "consumer"
	FromAgent    = "agent"
	FromSystem   = "system"
)

// V states of the agent's own messages (protocol.md §5): pending while the
// publish is in flight, sent (one grey V) once it has a sequence, accepted
// (a second V) after the consumer's ACCEPT, read (both orange) after READ.
const (
	VPending  = "pending"
	VSent     = "sent"
	VAccepted = "accepted"
	VRead     = "read"
	VFailed   = "failed"
)

// Self is the signed-in agent's two ids (protocol.md §6): events it
// published carry the PId as originatorMetadata.id / originatorPId and the
// old id as originatorId.
type Self struct {
	PID   string
	OldID string
}

func (s Self) owns(ev protocol.MessagingEvent) bool {
	return (s.PID != "" && (ev.Originator() == s.PID || ev.OriginatorPID == s.PID)) ||
		(s.OldID != "" && ev.OriginatorID == s.OldID)
}

// Message is one bubble of a conversation in the console.
type Message struct {
	// Key is stable for the message's whole life (its DOM id).
	Key      string
	DialogID string
	Seq      int64
	HasSeq   bool
	From     string
	// Mine: published by the signed-in agent (it carries V states).
	Mine bool
	Text string
	At   time.Time
	// V and the time of each state, on the agent's own messages.
	V                          string
	SentAt, AcceptedAt, ReadAt time.Time
	// LocalID is the desk's id of a message it is sending.
	LocalID string
	// Read is set on the consumer's messages the agent has read (its READ
	// was published, or is due): what the unread count leaves out.
	Read bool
}

type seqKey struct {
	dialog string
	seq    int64
}

type receiptMark struct {
	read bool
	at   time.Time
}

// Thread is one conversation assigned to the agent, as pure data: its
// messages with their V states, the consumer typing, closed or not. It is
// not safe for concurrent use (the desk's loop owns it).
type Thread struct {
	ID           string
	ConsumerID   string
	ConsumerName string
	Closed       bool
	// ConsumerTyping: the consumer is composing (the desk ends it after a
	// while without news).
	ConsumerTyping bool
	// Dialogs are the conversation's dialog ids, MAIN (= ID) first.
	Dialogs []string

	self     Self
	messages []*Message // sequenced messages by sequence, then local ones
	bySeq    map[seqKey]*Message
	byLocal  map[string]*Message
	// early holds the consumer's receipts of sequences not yet known here
	// (history merged in after live events).
	early map[seqKey]receiptMark
}

// NewThread returns the empty state of conversation id for agent self.
func NewThread(id string, self Self) *Thread {
	return &Thread{
		ID: id, Dialogs: []string{id}, self: self,
		bySeq: map[seqKey]*Message{}, byLocal: map[string]*Message{}, early: map[seqKey]receiptMark{},
	}
}

// ThreadChange is what one step did to a thread, for the page.
type ThreadChange struct {
	Added   []Message
	Updated []Message
	// Reset: the messages must be shown anew (one was inserted before
	// others: history merged in after live events).
	Reset bool
	// Typing and Closed say that those parts changed; Summary that the
	// conversation's entry in the list (last message, unread) did.
	Typing, Closed, Summary bool
	Announce                string
}

// Empty reports whether nothing changed.
func (c ThreadChange) Empty() bool {
	return len(c.Added) == 0 && len(c.Updated) == 0 && !c.Reset && !c.Typing && !c.Closed && !c.Summary && c.Announce == ""
}

// Messages returns copies of the messages in the order the page shows them.
func (t *Thread) Messages() []Message {
	out := make([]Message, len(t.messages))
	for i, m := range t.messages {
		out[i] = *m
	}
	return out
}

// Last returns the last content message, for the list.
func (t *Thread) Last() (Message, bool) {
	if len(t.messages) == 0 {
		return Message{}, false
	}
	return *t.messages[len(t.messages)-1], true
}

// Unread counts the consumer's messages the agent has not read.
func (t *Thread) Unread() int {
	n := 0
	for _, m := range t.messages {
		if m.From == FromConsumer && !m.Read {
			n++
		}
	}
	return n
}

// Kind reports whether (dialogID, seq) is a message of the thread, and
// whose.
func (t *Thread) Kind(dialogID string, seq int64) (from string, ok bool) {
	m, ok := t.bySeq[seqKey{dialogID, seq}]
	if !ok {
		return "", false
	}
	return m.From, true
}

// HasDialog reports whether the dialog belongs to the thread.
func (t *Thread) HasDialog(id string) bool { return slices.Contains(t.Dialogs, id) }

// from says who published ev: the agent itself, the consumer, or another
// agent (a bot, a manager).
func (t *Thread) from(ev protocol.MessagingEvent) (from string, mine bool) {
	if t.self.owns(ev) {
		return FromAgent, true
	}
	if md := ev.OriginatorMetadata; md != nil && md.Role != "" {
		if md.Role == protocol.RoleConsumer {
			return FromConsumer, false
		}
		return FromAgent, false
	}
	if t.ConsumerID != "" && (ev.OriginatorID == t.ConsumerID || ev.Originator() == t.ConsumerID) {
		return FromConsumer, false
	}
	if ev.OriginatorID == "" && ev.OriginatorPID == "" {
		return FromSystem, false
	}
	return FromAgent, false
}

// Apply takes one event of the thread's dialogs (history, catch-up or
// live); events already applied are ignored.
func (t *Thread) Apply(ev protocol.MessagingEvent) ThreadChange {
	var out ThreadChange
	from, mine := t.from(ev)
	at := time.UnixMilli(ev.ServerTimestamp)
	switch e := ev.Event; e.Type {
	case protocol.EventChatState:
		if from != FromConsumer {
			return out
		}
		typing := e.ChatState == protocol.ChatComposing
		if typing != t.ConsumerTyping {
			t.ConsumerTyping, out.Typing = typing, true
		}
	case protocol.EventContent, protocol.EventRichContent:
		seq, ok := ev.Seq()
		if !ok {
			return out
		}
		k := seqKey{ev.DialogID, seq}
		if _, dup := t.bySeq[k]; dup {
			return out
		}
		if from == FromConsumer && t.ConsumerTyping {
			t.ConsumerTyping, out.Typing = false, true // a message ends typing
		}
		text := e.Message
		if e.Type == protocol.EventRichContent {
			text = "[structured content]"
		}
		if mine {
			if m := t.matchLocal(text); m != nil {
				t.attach(m, ev.DialogID, seq, at)
				out.Updated = append(out.Updated, *m)
				out.Summary = true
				return out
			}
		}
		m := &Message{Key: messageKey(ev.DialogID, seq), DialogID: ev.DialogID, Seq: seq, HasSeq: true, From: from, Mine: mine, Text: text, At: at}
		if mine {
			m.V, m.SentAt = VSent, at
		}
		if t.insert(m) {
			out.Added = append(out.Added, *m)
		} else {
			out.Reset = true
		}
		t.applyEarly(m)
		out.Summary = true
		if from == FromConsumer {
			out.Announce = "New message from the customer"
		}
	case protocol.EventAcceptStatus:
		read := e.Status == protocol.StatusRead
		if !read && e.Status != protocol.StatusAccept {
			return out
		}
		switch {
		case mine:
			// The agent's own receipts: what it has read (from history too).
			if !read {
				return out
			}
			for _, n := range e.SequenceList {
				if m, ok := t.bySeq[seqKey{ev.DialogID, n}]; ok && m.From == FromConsumer && !m.Read {
					m.Read, out.Summary = true, true
				}
			}
		case from == FromConsumer:
			for _, n := range e.SequenceList {
				k := seqKey{ev.DialogID, n}
				m, ok := t.bySeq[k]
				if !ok {
					if prev, had := t.early[k]; !had || (read && !prev.read) {
						t.early[k] = receiptMark{read: read, at: at}
					}
					continue
				}
				if m.Mine && advance(m, read, at) {
					out.Updated = append(out.Updated, *m)
				}
			}
			if len(out.Updated) > 0 {
				if read {
					out.Announce = "Read by the customer"
				} else {
					out.Announce = "Delivered to the customer"
				}
			}
		}
	}
	return out
}

// advance moves an own message's V state forward (never back) and
// reports a change. READ implies delivered.
func advance(m *Message, read bool, at time.Time) bool {
	switch {
	case read && m.V != VRead:
		m.V, m.ReadAt = VRead, at
		if m.AcceptedAt.IsZero() {
			m.AcceptedAt = at
		}
		return true
	case !read && (m.V == VSent || m.V == VPending):
		m.V, m.AcceptedAt = VAccepted, at
		return true
	}
	return false
}

func (t *Thread) applyEarly(m *Message) {
	k := seqKey{m.DialogID, m.Seq}
	if e, ok := t.early[k]; ok {
		delete(t.early, k)
		if m.Mine {
			advance(m, e.read, e.at)
		}
	}
}

// insert places a sequenced message in sequence order (before the local
// ones) and reports whether it went last, so that appending it to the
// page is enough.
func (t *Thread) insert(m *Message) (last bool) {
	t.bySeq[seqKey{m.DialogID, m.Seq}] = m
	i := len(t.messages)
	for i > 0 && (!t.messages[i-1].HasSeq || t.messages[i-1].Seq > m.Seq) {
		i--
	}
	t.messages = slices.Insert(t.messages, i, m)
	return i == len(t.messages)-1
}

// matchLocal finds the oldest local message with this text still waiting
// for its sequence. The desk publishes one message at a time, in order, so
// the oldest is the one this echo belongs to.
func (t *Thread) matchLocal(text string) *Message {
	for _, m := range t.messages {
		if m.LocalID != "" && !m.HasSeq && m.Text == text {
			return m
		}
	}
	return nil
}

func (t *Thread) attach(m *Message, dialogID string, seq int64, at time.Time) {
	m.DialogID, m.Seq, m.HasSeq = dialogID, seq, true
	if m.V == VPending || m.V == VFailed {
		m.V = VSent
	}
	if !at.IsZero() && at.UnixMilli() != 0 {
		m.At, m.SentAt = at, at
	}
	t.bySeq[seqKey{dialogID, seq}] = m
	// Keep sequenced messages in order: move it before the other locals.
	i := slices.Index(t.messages, m)
	t.messages = slices.Delete(t.messages, i, i+1)
	j := len(t.messages)
	for j > 0 && !t.messages[j-1].HasSeq {
		j--
	}
	t.messages = slices.Insert(t.messages, j, m)
	t.applyEarly(m)
}

// Sending adds the agent's message while its publish is in flight.
func (t *Thread) Sending(localID, text string, at time.Time) ThreadChange {
	m := &Message{Key: "l-" + localID, LocalID: localID, DialogID: t.ID, From: FromAgent, Mine: true, Text: text, At: at, V: VPending}
	t.messages = append(t.messages, m)
	t.byLocal[localID] = m
	return ThreadChange{Added: []Message{*m}, Summary: true}
}

// Sent records the publish response's sequence for a local message.
func (t *Thread) Sent(localID, dialogID string, seq int64, at time.Time) ThreadChange {
	m, ok := t.byLocal[localID]
	if !ok || m.HasSeq {
		return ThreadChange{} // the echo was faster
	}
	if _, taken := t.bySeq[seqKey{dialogID, seq}]; taken {
		return ThreadChange{}
	}
	t.attach(m, dialogID, seq, time.Time{})
	if m.SentAt.IsZero() {
		m.SentAt = at
	}
	return ThreadChange{Updated: []Message{*m}}
}

// Failed marks a local message as not sent.
func (t *Thread) Failed(localID string) ThreadChange {
	m, ok := t.byLocal[localID]
	if !ok || m.HasSeq {
		return ThreadChange{}
	}
	m.V = VFailed
	return ThreadChange{Updated: []Message{*m}, Announce: "Your message was not sent."}
}

// MarkRead records that the agent read a consumer message (its READ is
// due): it leaves the unread count.
func (t *Thread) MarkRead(dialogID string, seq int64) ThreadChange {
	m, ok := t.bySeq[seqKey{dialogID, seq}]
	if !ok || m.From != FromConsumer || m.Read {
		return ThreadChange{}
	}
	m.Read = true
	return ThreadChange{Summary: true}
}

// StopTyping ends the consumer typing indicator (the desk's timeout).
func (t *Thread) StopTyping() ThreadChange {
	if !t.ConsumerTyping {
		return ThreadChange{}
	}
	t.ConsumerTyping = false
	return ThreadChange{Typing: true}
}

// Close marks the conversation closed.
func (t *Thread) Close() ThreadChange {
	if t.Closed {
		return ThreadChange{}
	}
	t.Closed = true
	out := ThreadChange{Closed: true, Summary: true, Announce: "The conversation is closed."}
	if t.ConsumerTyping {
		t.ConsumerTyping, out.Typing = false, true
	}
	return out
}

func messageKey(dialogID string, seq int64) string {
	return "m-" + dialogID + "-" + strconv.FormatInt(seq, 10)
}
