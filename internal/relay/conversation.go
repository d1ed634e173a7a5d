package relay

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Who wrote a message, as the page shows it.
const (
	FromAgent    = "agent"
	FromConsumer = "consumer"
	FromSystem   = "system"
)

// Receipt states of the customer's own messages (the ticks).
const (
	ReceiptPending  = "pending"
	ReceiptSent     = "sent"
	ReceiptAccepted = "accepted"
	ReceiptRead     = "read"
	ReceiptFailed   = "failed"
)

// Phases of the conversation, as the window shows them.
const (
	PhaseNew    = "new"    // no conversation: the first message creates one
	PhaseOpen   = "open"   // chatting
	PhaseClosed = "closed" // ended; a rating is offered
	PhaseRated  = "rated"  // ended and rated
)

// Message is one bubble of the conversation.
type Message struct {
	// Key is stable for the message's whole life (its DOM id): a local id
	// while it is being sent, then kept when it gets its sequence.
	Key      string
	DialogID string
	Seq      int64
	HasSeq   bool
	From     string
	Text     string
	At       time.Time
	// Receipt, AcceptedAt and ReadAt are set on the customer's own messages.
	Receipt    string
	AcceptedAt time.Time
	ReadAt     time.Time
	// LocalID is the id the tab gave a message it sent (for retry).
	LocalID string
}

func (m *Message) clone() Message { return *m }

// Conversation is the state of a session's conversation, as pure data: it
// applies the service's events and the outcome of the customer's sends, and
// says which messages changed. It is not safe for concurrent use.
type Conversation struct {
	self string

	ID        string
	Phase     string
	AgentID   string
	AgentName string
	Rating    int
	// Typing: the agent is composing (the session ends it after a while).
	Typing bool

	messages []*Message
	bySeq    map[seqKey]*Message
	byLocal  map[string]*Message
	// early holds the agent's receipts for sequences not yet matched to a
	// message of ours (the receipt overtook the publish response).
	early      map[seqKey]receiptMark
	lastUpdate int64
}

type seqKey struct {
	dialog string
	seq    int64
}

type receiptMark struct {
	read bool
	at   time.Time
}

// NewConversation returns the empty state of the consumer whose id is self.
func NewConversation(self string) *Conversation {
	return &Conversation{
		self:    self,
		Phase:   PhaseNew,
		bySeq:   map[seqKey]*Message{},
		byLocal: map[string]*Message{},
		early:   map[seqKey]receiptMark{},
	}
}

// Messages returns copies of the messages in the order the page shows them.
func (c *Conversation) Messages() []Message {
	out := make([]Message, len(c.messages))
	for i, m := range c.messages {
		out[i] = *m
	}
	return out
}

// Message returns a copy of the message with the given key.
func (c *Conversation) Message(key string) (Message, bool) {
	for _, m := range c.messages {
		if m.Key == key {
			return *m, true
		}
	}
	return Message{}, false
}

// Change is what an Apply did to the conversation, for the page.
type Change struct {
	Added   []Message
	Updated []Message
	// Typing, Agent, Phase and Connection say that those parts changed.
	Typing, Agent, Phase, Connection bool
	// Announce is a short text for screen readers, e.g. "Message read".
	Announce string
}

// Empty reports whether nothing changed.
func (ch Change) Empty() bool {
	return len(ch.Added) == 0 && len(ch.Updated) == 0 && !ch.Typing && !ch.Agent && !ch.Phase && !ch.Connection && ch.Announce == ""
}

// Reset forgets everything about the current conversation (a new one starts).
func (c *Conversation) Reset() {
	*c = *NewConversation(c.self)
}

// ApplyConversation takes a conversation metadata change (cqm). It returns
// false when the change is older than what is known (metaDataLastUpdateTs).
func (c *Conversation) ApplyConversation(ch protocol.ConversationChange) (Change, bool) {
	var out Change
	r := ch.Result
	if c.ID != "" && r.ConvID != c.ID {
		return out, false
	}
	ts := r.ConversationDetails.MetaDataLastUpdateTs
	if ts != 0 && ts < c.lastUpdate {
		return out, false
	}
	c.lastUpdate = max(c.lastUpdate, ts)
	c.ID = r.ConvID
	phase := c.Phase
	if ch.Type == protocol.ChangeDelete || r.ConversationDetails.Stage == protocol.StateClose || r.ConversationDetails.State == protocol.StateClose {
		if c.Phase != PhaseRated {
			phase = PhaseClosed
		}
		if r.ConversationDetails.CSAT != nil && r.ConversationDetails.CSAT.CSATRate > 0 {
			phase, c.Rating = PhaseRated, r.ConversationDetails.CSAT.CSATRate
		}
	} else {
		phase = PhaseOpen
	}
	if phase != c.Phase {
		c.Phase, out.Phase = phase, true
		if phase == PhaseClosed {
			out.Announce = "The conversation has ended."
		}
		if c.Typing {
			c.Typing, out.Typing = false, true
		}
	}
	agent := ""
	for _, p := range r.ConversationDetails.Members() {
		if p.Role == protocol.RoleAssignedAgent {
			agent = p.ID
		}
	}
	if agent != c.AgentID {
		c.AgentID, out.Agent = agent, true
		if agent == "" {
			c.AgentName = ""
		}
	}
	return out, true
}

// SetAgentName records the assigned agent's display name.
func (c *Conversation) SetAgentName(id, name string) Change {
	if id != c.AgentID || name == c.AgentName {
		return Change{}
	}
	c.AgentName = name
	return Change{Agent: true, Announce: name + " joined the conversation."}
}

// Apply takes one event of the conversation's dialogs (history, catch-up or
// live). Events already applied are ignored.
func (c *Conversation) Apply(ev protocol.MessagingEvent) Change {
	var out Change
	from := FromAgent
	own := ev.Originator() == c.self || ev.OriginatorID == c.self
	if own {
		from = FromConsumer
	}
	at := time.UnixMilli(ev.ServerTimestamp)
	switch e := ev.Event; e.Type {
	case protocol.EventChatState:
		if own {
			return out
		}
		typing := e.ChatState == protocol.ChatComposing
		if typing != c.Typing {
			out.Typing = true
		}
		c.Typing = typing
		return out
	case protocol.EventContent, protocol.EventRichContent:
		seq, ok := ev.Seq()
		if !ok {
			return out
		}
		k := seqKey{ev.DialogID, seq}
		if _, dup := c.bySeq[k]; dup {
			return out
		}
		if !own && c.Typing {
			c.Typing, out.Typing = false, true // a message ends typing
		}
		text := e.Message
		if e.Type == protocol.EventRichContent {
			text = richText(e.Content)
		}
		if own {
			if m := c.matchLocal(text); m != nil {
				c.attach(m, ev.DialogID, seq, at)
				out.Updated = append(out.Updated, m.clone())
				return out
			}
		}
		m := &Message{Key: messageKey(ev.DialogID, seq), DialogID: ev.DialogID, Seq: seq, HasSeq: true, From: from, Text: text, At: at}
		if own {
			m.Receipt = ReceiptSent
		}
		c.messages = append(c.messages, m)
		c.bySeq[k] = m
		c.applyEarly(m)
		out.Added = append(out.Added, m.clone())
		if !own {
			out.Announce = "New message"
		}
	case protocol.EventAcceptStatus:
		if own {
			return out
		}
		read := e.Status == protocol.StatusRead
		if !read && e.Status != protocol.StatusAccept {
			return out
		}
		for _, n := range e.SequenceList {
			k := seqKey{ev.DialogID, n}
			m, ok := c.bySeq[k]
			if !ok {
				if prev, had := c.early[k]; !had || (read && !prev.read) {
					c.early[k] = receiptMark{read: read, at: at}
				}
				continue
			}
			if m.From != FromConsumer {
				continue
			}
			if mark(m, read, at) {
				out.Updated = append(out.Updated, m.clone())
			}
		}
		if len(out.Updated) > 0 {
			if read {
				out.Announce = "Read by the agent"
			} else {
				out.Announce = "Delivered"
			}
		}
	}
	return out
}

// mark moves a message's ticks forward (never back) and reports a change.
func mark(m *Message, read bool, at time.Time) bool {
	switch {
	case read && m.Receipt != ReceiptRead:
		m.Receipt, m.ReadAt = ReceiptRead, at
		if m.AcceptedAt.IsZero() {
			m.AcceptedAt = at
		}
		return true
	case !read && (m.Receipt == ReceiptSent || m.Receipt == ReceiptPending):
		m.Receipt, m.AcceptedAt = ReceiptAccepted, at
		return true
	}
	return false
}

func (c *Conversation) applyEarly(m *Message) {
	k := seqKey{m.DialogID, m.Seq}
	if e, ok := c.early[k]; ok {
		delete(c.early, k)
		if m.From == FromConsumer {
			mark(m, e.read, e.at)
		}
	}
}

// matchLocal finds the oldest local message with this text still waiting
// for its sequence (being sent, or failed: it may have landed after all).
func (c *Conversation) matchLocal(text string) *Message {
	for _, m := range c.messages {
		if m.LocalID != "" && !m.HasSeq && m.Text == text {
			return m
		}
	}
	return nil
}

func (c *Conversation) attach(m *Message, dialogID string, seq int64, at time.Time) {
	m.DialogID, m.Seq, m.HasSeq = dialogID, seq, true
	if m.Receipt == ReceiptPending || m.Receipt == ReceiptFailed {
		m.Receipt = ReceiptSent
	}
	if !at.IsZero() && at.UnixMilli() != 0 {
		m.At = at
	}
	c.bySeq[seqKey{dialogID, seq}] = m
	c.applyEarly(m)
}

// Sending adds the customer's message while its publish is in flight.
func (c *Conversation) Sending(localID, text string, at time.Time) Change {
	if m, ok := c.byLocal[localID]; ok {
		m.Receipt = ReceiptPending
		return Change{Updated: []Message{m.clone()}}
	}
	m := &Message{Key: "l-" + localID, LocalID: localID, From: FromConsumer, Text: text, At: at, Receipt: ReceiptPending}
	c.messages = append(c.messages, m)
	c.byLocal[localID] = m
	return Change{Added: []Message{m.clone()}}
}

// Sent records the publish response's sequence for a local message.
func (c *Conversation) Sent(localID, dialogID string, seq int64) Change {
	m, ok := c.byLocal[localID]
	if !ok {
		return Change{}
	}
	if m.HasSeq && m.DialogID == dialogID && m.Seq == seq {
		return Change{} // the echo was faster
	}
	k := seqKey{dialogID, seq}
	if other, taken := c.bySeq[k]; taken && other != m {
		// Two identical texts in flight: the echo matched the other one.
		// Give each the sequence its own response named.
		if m.HasSeq {
			other.DialogID, other.Seq = m.DialogID, m.Seq
			c.bySeq[seqKey{m.DialogID, m.Seq}] = other
		} else {
			other.HasSeq = false
			if other.Receipt == ReceiptSent {
				other.Receipt = ReceiptPending
			}
		}
		m.DialogID, m.Seq, m.HasSeq = dialogID, seq, true
		if m.Receipt == ReceiptPending || m.Receipt == ReceiptFailed {
			m.Receipt = ReceiptSent
		}
		c.bySeq[k] = m
		return Change{Updated: []Message{m.clone(), other.clone()}}
	}
	c.attach(m, dialogID, seq, time.Time{})
	return Change{Updated: []Message{m.clone()}}
}

// Failed marks a local message as not sent (the page offers a retry).
func (c *Conversation) Failed(localID string) Change {
	m, ok := c.byLocal[localID]
	if !ok || m.HasSeq {
		return Change{}
	}
	m.Receipt = ReceiptFailed
	return Change{Updated: []Message{m.clone()}, Announce: "Your message was not sent."}
}

// Local returns the local message with this id, for a retry.
func (c *Conversation) Local(localID string) (Message, bool) {
	m, ok := c.byLocal[localID]
	if !ok {
		return Message{}, false
	}
	return *m, true
}

// StopTyping ends the agent's typing indicator (its own timeout).
func (c *Conversation) StopTyping() Change {
	if !c.Typing {
		return Change{}
	}
	c.Typing = false
	return Change{Typing: true}
}

// SetRating records the customer's satisfaction answer.
func (c *Conversation) SetRating(n int) Change {
	c.Rating, c.Phase = n, PhaseRated
	return Change{Phase: true, Announce: "Thank you for your rating."}
}

// Kind reports whether (dialogID, seq) is a known message, and whose.
func (c *Conversation) Kind(dialogID string, seq int64) (from string, ok bool) {
	m, ok := c.bySeq[seqKey{dialogID, seq}]
	if !ok {
		return "", false
	}
	return m.From, true
}

func messageKey(dialogID string, seq int64) string {
	return "m-" + dialogID + "-" + strconv.FormatInt(seq, 10)
}

// richText is the readable text of a structured-content card: every "text"
// and "title" in document order. Until cards are rendered as cards, a card
// shows as its text, never as markup.
func richText(card json.RawMessage) string {
	var v any
	if err := json.Unmarshal(card, &v); err != nil {
		return ""
	}
	var parts []string
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for _, k := range []string{"title", "text"} {
				if s, ok := t[k].(string); ok && s != "" {
					parts = append(parts, s)
				}
			}
			for _, k := range slices.Sorted(maps.Keys(t)) {
				if k != "title" && k != "text" {
					walk(t[k])
				}
			}
		case []any:
			for _, e := range t {
				walk(e)
			}
		}
	}
	walk(v)
	return strings.Join(parts, "\n")
}
