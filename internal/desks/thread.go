package desks

import (
	"slices"
	"time"

	"github.com/chatwindow/chatwindow/internal/bidi"
	"github.com/chatwindow/chatwindow/internal/filetype"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/transcript"
)

// Who wrote a message, as the console shows it (data-from).
const (
	FromConsumer = "consumer"
	FromAgent    = "agent"
	FromSystem   = "system"
)

// V states of the agent's own messages (docs/protocol.md, Receipts): pending
// while the publish is in flight, sent (one grey V) once it has a sequence,
// accepted (a second V) after the consumer's ACCEPT, read (both orange) after
// READ.
const (
	VPending  = transcript.Pending
	VSent     = transcript.Sent
	VAccepted = transcript.Accepted
	VRead     = transcript.Read
	VFailed   = transcript.Failed
)

// Self is the signed-in agent's two ids (docs/protocol.md, Agent login):
// events it published carry the PId as originatorMetadata.id / originatorPId
// and the old id as originatorId.
type Self struct {
	PID   string
	OldID string
}

func (s Self) owns(ev protocol.MessagingEvent) bool {
	return (s.PID != "" && (ev.Originator() == s.PID || ev.OriginatorPID == s.PID)) ||
		(s.OldID != "" && ev.OriginatorID == s.OldID)
}

// Message is one bubble of a conversation in the console: the
// transcript's message (Own: published by the signed-in agent, with its V
// state in Delivery and the time of each) and what only the console has.
// Its Text never holds explicit direction controls (internal/bidi).
type Message struct {
	transcript.Message
	From string
	// File is a shared file (files.go); nil for other messages. Text is
	// then the file's plain text.
	File *File
	// Read is set on the consumer's messages the agent has read (its READ
	// was published, or is due): what the unread count leaves out.
	Read bool
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
	// Profile says whether the customer's profile has arrived; Customer
	// is what it says (CustomerFrom).
	Profile  ProfileState
	Customer Customer

	self Self
	log  transcript.Transcript[Message, *Message]
}

// ProfileState is where the customer's profile of a thread is.
type ProfileState int

// Profile states: asked for (the zero value), arrived, or the ask failed
// (asked again when the agent opens the conversation).
const (
	ProfileLoading ProfileState = iota
	ProfileLoaded
	ProfileFailed
)

// NewThread returns the empty state of conversation id for agent self.
func NewThread(id string, self Self) *Thread {
	return &Thread{ID: id, Dialogs: []string{id}, self: self}
}

// ThreadChange is what one step did to a thread, for the page.
type ThreadChange struct {
	Added   []Message
	Updated []Message
	// Reset: the messages must be shown anew (one was inserted before
	// others: history merged in after live events).
	Reset bool
	// Typing and Closed say that those parts changed; Summary that the
	// conversation's entry in the list (last message, unread) did;
	// Customer that the customer's profile did (its name, its panel).
	Typing, Closed, Summary, Customer bool
	Announce                          string
}

// Empty reports whether nothing changed.
func (c ThreadChange) Empty() bool {
	return len(c.Added) == 0 && len(c.Updated) == 0 && !c.Reset && !c.Typing && !c.Closed && !c.Summary && !c.Customer && c.Announce == ""
}

// Messages returns copies of the messages in the order the page shows them.
func (t *Thread) Messages() []Message { return t.log.Messages() }

// Last returns the last content message, for the list.
func (t *Thread) Last() (Message, bool) { return t.log.Last() }

// Unread counts the consumer's messages the agent has not read.
func (t *Thread) Unread() int {
	n := 0
	for m := range t.log.All() {
		if m.From == FromConsumer && !m.Read {
			n++
		}
	}
	return n
}

// Kind reports whether (dialogID, seq) is a message of the thread, and
// whose.
func (t *Thread) Kind(dialogID string, seq int64) (from string, ok bool) {
	m, ok := t.log.Get(dialogID, seq)
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
		if _, dup := t.log.Get(ev.DialogID, seq); dup {
			return out
		}
		if from == FromConsumer && t.ConsumerTyping {
			t.ConsumerTyping, out.Typing = false, true // a message ends typing
		}
		// Direction controls go from every text: the customer's would
		// make theirs read other than it is; the agent's own echo must
		// match the text Sending kept.
		text := bidi.Strip(e.Message)
		if e.Type == protocol.EventRichContent {
			text = "[structured content]"
		}
		var file *File
		var ref string
		if e.File != nil {
			// A shared file (docs/protocol.md, Files).
			file = filetype.FromHosted(*e.File)
			text, ref = file.Text(), file.RelativePath
		}
		m, placed := t.log.Add(Message{
			Message: transcript.Message{DialogID: ev.DialogID, Seq: seq, Own: mine, Text: text, At: at, Attachment: file != nil, Ref: ref},
			From:    from, File: file,
		})
		out.Summary = true
		switch placed {
		case transcript.Matched:
			out.Updated = append(out.Updated, *m)
			return out
		case transcript.Appended:
			out.Added = append(out.Added, *m)
		default:
			out.Reset = true
		}
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
				if m, ok := t.log.Get(ev.DialogID, n); ok && m.From == FromConsumer && !m.Read {
					m.Read, out.Summary = true, true
				}
			}
		case from == FromConsumer:
			out.Updated = t.log.Receipt(ev.DialogID, e.SequenceList, read, at)
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

// Sending adds the agent's message while its publish is in flight (its
// text without direction controls, as the desk publishes it).
func (t *Thread) Sending(localID, text string, at time.Time) ThreadChange {
	m, _ := t.log.Sending(Message{Message: transcript.Message{LocalID: localID, DialogID: t.ID, Text: bidi.Strip(text), At: at}, From: FromAgent})
	return ThreadChange{Added: []Message{*m}, Summary: true}
}

// Sent records the publish response's sequence for a local message (at:
// now, its sent time unless its echo came first).
func (t *Thread) Sent(localID, dialogID string, seq int64, at time.Time) ThreadChange {
	return ThreadChange{Updated: t.log.Sent(localID, dialogID, seq, at)}
}

// Local returns the agent's message sent here as localID.
func (t *Thread) Local(localID string) (Message, bool) {
	m, ok := t.log.Local(localID)
	if !ok {
		return Message{}, false
	}
	return *m, true
}

// Failed marks a local message as not sent.
func (t *Thread) Failed(localID string) ThreadChange {
	m, ok := t.log.Failed(localID)
	if !ok {
		return ThreadChange{}
	}
	return ThreadChange{Updated: []Message{m}, Announce: "Your message was not sent."}
}

// MarkRead records that the agent read a consumer message (its READ is
// due): it leaves the unread count.
func (t *Thread) MarkRead(dialogID string, seq int64) ThreadChange {
	m, ok := t.log.Get(dialogID, seq)
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
