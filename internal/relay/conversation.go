package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/richcontent"
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
	// Rich is an agent message's structured content: its card and the
	// choices (card buttons, quick replies) a click answers with. Text
	// stays the message's plain fallback (logs, announcements).
	Rich richcontent.Content
	// RepliesOpen: the quick replies are offered. They close once one is
	// chosen or a newer message arrives, as chat windows do.
	RepliesOpen bool

	// answerMeta is the metadata of the click a customer's message answers
	// (sent again on a retry).
	answerMeta json.RawMessage
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
		var rich richcontent.Content
		if !own {
			// Only the other side's structured content is offered: a
			// customer's own never has buttons to answer.
			var card json.RawMessage
			if e.Type == protocol.EventRichContent {
				card = e.Content
			}
			rich = richcontent.Parse(card, e.QuickReplies)
		}
		if e.Type == protocol.EventRichContent {
			if own {
				text = richcontent.Parse(e.Content, nil).Text()
			} else {
				text = rich.Text()
			}
		}
		if own {
			if m := c.matchLocal(text); m != nil {
				c.attach(m, ev.DialogID, seq, at)
				out.Updated = append(out.Updated, m.clone())
				return out
			}
		}
		m := &Message{Key: messageKey(ev.DialogID, seq), DialogID: ev.DialogID, Seq: seq, HasSeq: true, From: from, Text: text, At: at, Rich: rich}
		m.RepliesOpen = len(rich.QuickReplies()) > 0
		if own {
			m.Receipt = ReceiptSent
		}
		c.closeReplies(&out)
		c.messages = append(c.messages, m)
		c.bySeq[k] = m
		c.applyEarly(m)
		out.Added = append(out.Added, m.clone())
		if !own {
			out.Announce = "New message"
		}
	case protocol.EventAcceptStatus:
		if own {
			if e.Status == protocol.StatusAction {
				// An answer given (maybe from another node or before a
				// reload): its quick replies are closed.
				for _, n := range e.SequenceList {
					if m, ok := c.bySeq[seqKey{ev.DialogID, n}]; ok && m.RepliesOpen {
						m.RepliesOpen = false
						out.Updated = append(out.Updated, m.clone())
					}
				}
			}
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
	var out Change
	c.closeReplies(&out)
	m := &Message{Key: "l-" + localID, LocalID: localID, From: FromConsumer, Text: text, At: at, Receipt: ReceiptPending}
	c.messages = append(c.messages, m)
	c.byLocal[localID] = m
	out.Added = append(out.Added, m.clone())
	return out
}

// Answering adds the customer's answer to structured content (the text of
// the choice they clicked) while its publish is in flight; metadata is the
// click's, kept for a retry.
func (c *Conversation) Answering(localID, text string, metadata json.RawMessage, at time.Time) Change {
	ch := c.Sending(localID, text, at)
	if m, ok := c.byLocal[localID]; ok {
		m.answerMeta = metadata
	}
	return ch
}

// answerMetadata is the click metadata of a local message (nil for typed
// text).
func (c *Conversation) answerMetadata(localID string) json.RawMessage {
	if m, ok := c.byLocal[localID]; ok {
		return m.answerMeta
	}
	return nil
}

// closeReplies closes the quick replies still offered: a newer message
// arrived. Only the newest message can have them open.
func (c *Conversation) closeReplies(out *Change) {
	for i := len(c.messages) - 1; i >= 0; i-- {
		if m := c.messages[i]; m.RepliesOpen {
			m.RepliesOpen = false
			out.Updated = append(out.Updated, m.clone())
		}
	}
}

// ErrChoice is a click the conversation does not offer (wrapped with why).
var ErrChoice = errors.New("not a choice on offer")

// Choose checks a customer's click on structured content: the message must
// be an agent's with that choice (a quick reply only while its replies are
// open) and, when the page sent the text, the choice's own text. It closes
// the quick replies and returns the choice as the agent sent it, so what
// is published never comes from the page.
func (c *Conversation) Choose(dialogID string, seq int64, index int, text string) (richcontent.Choice, Change, error) {
	var out Change
	if c.Phase != PhaseOpen {
		return richcontent.Choice{}, out, fmt.Errorf("%w: the conversation is %s", ErrChoice, c.Phase)
	}
	m, ok := c.bySeq[seqKey{dialogID, seq}]
	if !ok {
		return richcontent.Choice{}, out, fmt.Errorf("%w: no message %s/%d", ErrChoice, dialogID, seq)
	}
	if m.From != FromAgent {
		return richcontent.Choice{}, out, fmt.Errorf("%w: message %d is not the agent's", ErrChoice, seq)
	}
	if index < 0 || index >= len(m.Rich.Choices) {
		return richcontent.Choice{}, out, fmt.Errorf("%w: message %d has no choice %d", ErrChoice, seq, index)
	}
	ch := m.Rich.Choices[index]
	if ch.QuickReply && !m.RepliesOpen {
		return richcontent.Choice{}, out, fmt.Errorf("%w: the quick replies of message %d are closed", ErrChoice, seq)
	}
	if text != "" && text != ch.Text {
		return richcontent.Choice{}, out, fmt.Errorf("%w: choice %d of message %d is not %q", ErrChoice, index, seq, text)
	}
	if m.RepliesOpen {
		m.RepliesOpen = false
		out.Updated = append(out.Updated, m.clone())
	}
	return ch, out, nil
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
