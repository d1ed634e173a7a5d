package relay

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chatwindow/chatwindow/internal/bidi"
	"github.com/chatwindow/chatwindow/internal/filetype"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/richcontent"
	"github.com/chatwindow/chatwindow/internal/transcript"
)

// Who wrote a message, as the page shows it.
const (
	FromAgent    = "agent"
	FromConsumer = "consumer"
	FromSystem   = "system"
)

// Receipt states of the customer's own messages (the ticks).
const (
	ReceiptPending  = transcript.Pending
	ReceiptSent     = transcript.Sent
	ReceiptAccepted = transcript.Accepted
	ReceiptRead     = transcript.Read
	ReceiptFailed   = transcript.Failed
)

// Phase is where the conversation is, as the window shows it.
type Phase string

// Phases of the conversation.
const (
	PhaseNew    Phase = "new"    // no conversation: the first message creates one
	PhaseOpen   Phase = "open"   // chatting
	PhaseClosed Phase = "closed" // ended; the legacy rating is offered
	PhaseRated  Phase = "rated"  // ended and rated (or the rating declined)
	// PhaseSurvey: the MAIN dialog is closed and a post-conversation
	// survey runs in its POST_SURVEY dialog: the customer answers there.
	PhaseSurvey Phase = "survey"
	// PhaseEnded: ended after its survey; no legacy rating (PCS: the
	// two never work together).
	PhaseEnded Phase = "ended"
)

// Message is one bubble of the conversation: the transcript's message
// (key, sequence, text, time; on the customer's own, the receipt state
// with its times and the local id of a send) and what only the window has.
// Its Text never holds explicit direction controls (internal/bidi).
type Message struct {
	transcript.Message
	From string
	// Rich is an agent message's structured content: its card and the
	// choices (card buttons, quick replies) a click answers with. Text
	// stays the message's plain fallback (logs, announcements).
	Rich richcontent.Content
	// RepliesOpen: the quick replies are offered. They close once one is
	// chosen or a newer message arrives, as chat windows do.
	RepliesOpen bool
	// Answered: the customer chose one of the message's choices (in this
	// tab, another, before a reload, on another node: the first ACTION of
	// theirs on it). A message is answered once, like LivePerson's quick
	// replies: its card buttons are closed after. Chosen is the choice's
	// index in Rich.Choices, or -1 when the ACTION did not say which
	// (docs/richcontent.md); it means nothing unless Answered.
	Answered bool
	Chosen   int
	// File is a shared file (files.go); nil for other messages. Text is
	// then the file's plain text.
	File *File

	// answerMeta is the metadata of the click a customer's message answers
	// (sent again on a retry).
	answerMeta json.RawMessage
	// target is the dialog a customer's message is published to, fixed
	// at its first publish: a retry goes where the message was written.
	target string
}

// Conversation is the state of a session's conversation, as pure data: it
// applies the service's events and the outcome of the customer's sends, and
// says which messages changed. It is not safe for concurrent use.
type Conversation struct {
	self string

	ID        string
	Phase     Phase
	AgentID   string
	AgentName string
	Rating    int
	// Typing: the agent is composing (the session ends it after a while).
	Typing bool

	log        transcript.Transcript[Message, *Message]
	lastUpdate int64
	// survey is the open POST_SURVEY dialog while Phase is PhaseSurvey.
	survey string
	queue  queueState // queue.go
	// earlyActions are the customer's ACTIONs on messages not known yet
	// (history merged in after live events), with their metadata, until
	// the message arrives.
	earlyActions map[actionKey]json.RawMessage
	// followed are the links whose click published its ACTION (links.go).
	followed map[linkKey]bool
}

type actionKey struct {
	dialog string
	seq    int64
}

// NewConversation returns the empty state of the consumer whose id is self.
func NewConversation(self string) *Conversation {
	return &Conversation{self: self, Phase: PhaseNew}
}

// Messages returns copies of the messages in the order the page shows them.
func (c *Conversation) Messages() []Message { return c.log.Messages() }

// Change is what an Apply did to the conversation, for the page.
type Change struct {
	Added   []Message
	Updated []Message
	// Reset: the messages must be shown anew (one was inserted before
	// others: history merged in after live events).
	Reset bool
	// Typing, Agent, Phase and Connection say that those parts changed.
	Typing, Agent, Phase, Connection bool
	// Announce is a short text for screen readers, e.g. "Message read".
	Announce string
}

// Empty reports whether nothing changed.
func (ch Change) Empty() bool {
	return len(ch.Added) == 0 && len(ch.Updated) == 0 && !ch.Reset && !ch.Typing && !ch.Agent && !ch.Phase && !ch.Connection && ch.Announce == ""
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
	phase := c.conversationPhase(ch)
	if phase != c.Phase {
		// The header shows the queue only while open, and the survey.
		c.Phase, out.Phase, out.Agent = phase, true, true
		switch phase {
		case PhaseClosed, PhaseEnded:
			out.Announce = "The conversation has ended."
		case PhaseSurvey:
			out.Announce = "The conversation has ended. Please answer a few questions about it."
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
	before, name := c.AgentID, c.AgentName
	if agent != c.AgentID {
		c.AgentID, out.Agent = agent, true
		if agent == "" {
			c.AgentName = ""
		}
	}
	if changed, say := c.applyQueue(r.ConversationDetails, before, name); changed || say != "" {
		out.Agent = true
		out = merge(out, Change{Announce: say})
	}
	return out, true
}

// SetAgentName records the assigned agent's display name (without
// direction controls: it comes from the agent's profile).
func (c *Conversation) SetAgentName(id, name string) Change {
	name = bidi.Strip(name)
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
		if _, dup := c.log.Get(ev.DialogID, seq); dup {
			return out
		}
		if !own && c.Typing {
			c.Typing, out.Typing = false, true // a message ends typing
		}
		// Direction controls go from every text, the customer's own echo
		// included: it must match the text Sending kept, and history from
		// another window of theirs was not cleaned here.
		text := bidi.Strip(e.Message)
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
		var file *File
		var ref string
		if e.File != nil {
			file = filetype.FromHosted(*e.File)
			text, ref = file.Text(), file.RelativePath
		}
		m, placed := c.log.Add(Message{
			Message: transcript.Message{DialogID: ev.DialogID, Seq: seq, Own: own, Text: text, At: at, Attachment: file != nil, Ref: ref},
			From:    from, Rich: rich, Chosen: -1, File: file,
		})
		if placed != transcript.Matched {
			if meta, ok := c.earlyActions[actionKey{ev.DialogID, seq}]; ok {
				delete(c.earlyActions, actionKey{ev.DialogID, seq})
				c.answer(m, meta)
			}
		}
		switch placed {
		case transcript.Matched:
			out.Updated = append(out.Updated, *m)
			return out
		case transcript.Inserted:
			// An older message: it neither offers replies nor closes the
			// newer ones.
			out.Reset = true
		default:
			c.closeReplies(&out, m)
			m.RepliesOpen = !m.Answered && len(rich.QuickReplies()) > 0
			if placed == transcript.BeforeLocal {
				// The page shows the customer's messages in flight last:
				// this one goes before them, which appending cannot do.
				out.Reset = true
			} else {
				out.Added = append(out.Added, *m)
			}
		}
		if !own {
			out.Announce = "New message"
		}
	case protocol.EventAcceptStatus:
		if own {
			if e.Status == protocol.StatusAction {
				// An answer given (maybe from another node or before a
				// reload): the message is answered.
				for _, n := range e.SequenceList {
					if m, changed := c.action(ev.DialogID, n, ev.Metadata); changed {
						out.Updated = append(out.Updated, *m)
					}
				}
			}
			return out
		}
		read := e.Status == protocol.StatusRead
		if !read && e.Status != protocol.StatusAccept {
			return out
		}
		out.Updated = c.log.Receipt(ev.DialogID, e.SequenceList, read, at)
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

// Sending adds the customer's message while its publish is in flight (a
// known localID is a retry: pending again).
//
// The text is kept without explicit direction controls (bidi.Strip), and
// it is the text to publish (a retry and a message waiting for its
// conversation publish the kept text): the customer's text is theirs, but
// what the agent acts on must read as it is. The agent's side is not
// always ours (LivePerson's Agent Workspace, bots, transcripts, CRM
// exports), and a file name, an order or account number turned around by
// an override misleads whoever reads it there; our console strips them
// too, but only on its own screen. Kept and published alike, the
// customer's bubble, its echo, a reload and a retry show and send the same
// text, and the echo matches its bubble by text. Little is lost: nobody
// types the overrides in ordinary writing, and the marks right-to-left
// writers use (LRM, RLM) stay.
func (c *Conversation) Sending(localID, text string, at time.Time) Change {
	var out Change
	text = bidi.Strip(text)
	m, added := c.log.Sending(Message{Message: transcript.Message{LocalID: localID, Text: text, At: at}, From: FromConsumer, Chosen: -1})
	if !added {
		return Change{Updated: []Message{*m}}
	}
	c.closeReplies(&out, m)
	out.Added = append(out.Added, *m)
	return out
}

// Answering adds the customer's answer to structured content (the text of
// the choice they clicked) while its publish is in flight; metadata is the
// click's, kept for a retry.
func (c *Conversation) Answering(localID, text string, metadata json.RawMessage, at time.Time) Change {
	ch := c.Sending(localID, text, at)
	if m, ok := c.log.Local(localID); ok {
		m.answerMeta = metadata
	}
	return ch
}

// answerMetadata is the click metadata of a local message (nil for typed
// text).
func (c *Conversation) answerMetadata(localID string) json.RawMessage {
	if m, ok := c.log.Local(localID); ok {
		return m.answerMeta
	}
	return nil
}

// closeReplies closes the quick replies still offered, but those of
// newest: a newer message arrived. Only the newest message has them open.
func (c *Conversation) closeReplies(out *Change, newest *Message) {
	for m := range c.log.All() {
		if m != newest && m.RepliesOpen {
			m.RepliesOpen = false
			out.Updated = append(out.Updated, *m)
		}
	}
}

// ErrChoice is a click the conversation does not offer (wrapped with why).
var ErrChoice = errors.New("not a choice on offer")

// Choose checks a customer's click on structured content: the message must
// be an agent's with that choice, not answered yet (a quick reply only
// while its replies are open) and, when the page sent the text, the
// choice's own text. It marks the message answered with that choice
// (closing its quick replies and card buttons: a second click, a double
// click, another button of the card are refused) and returns the choice
// as the agent sent it, so what is published never comes from the page.
func (c *Conversation) Choose(dialogID string, seq int64, index int, text string) (richcontent.Choice, Change, error) {
	var out Change
	if !c.Writable() {
		return richcontent.Choice{}, out, fmt.Errorf("%w: the conversation is %s", ErrChoice, c.Phase)
	}
	if dialogID != c.Dialog() {
		// Answers go to the dialog the customer writes in: a closed
		// dialog's offers are over (the survey's, once MAIN closed).
		return richcontent.Choice{}, out, fmt.Errorf("%w: dialog %s is not the one open", ErrChoice, dialogID)
	}
	m, ok := c.log.Get(dialogID, seq)
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
	if m.Answered {
		return richcontent.Choice{}, out, fmt.Errorf("%w: message %d is answered already", ErrChoice, seq)
	}
	if ch.QuickReply && !m.RepliesOpen {
		return richcontent.Choice{}, out, fmt.Errorf("%w: the quick replies of message %d are closed", ErrChoice, seq)
	}
	if text != "" && text != ch.Text {
		return richcontent.Choice{}, out, fmt.Errorf("%w: choice %d of message %d is not %q", ErrChoice, index, seq, text)
	}
	m.Answered, m.Chosen, m.RepliesOpen = true, index, false
	out.Updated = append(out.Updated, *m)
	return ch, out, nil
}

// action applies the customer's ACTION on message (dialogID, seq) and
// returns the message when that changed it. A message not known yet keeps
// the first ACTION until it arrives.
func (c *Conversation) action(dialogID string, seq int64, metadata json.RawMessage) (*Message, bool) {
	m, ok := c.log.Get(dialogID, seq)
	if ok {
		return m, c.answer(m, metadata)
	}
	k := actionKey{dialogID, seq}
	if _, had := c.earlyActions[k]; !had {
		if c.earlyActions == nil {
			c.earlyActions = map[actionKey]json.RawMessage{}
		}
		c.earlyActions[k] = metadata
	}
	return nil, false
}

// answer records the customer's ACTION on an agent's message and reports
// whether that changed it. The first one answers the message; later ones
// change nothing. An ACTION names the message, not the choice: the choice
// is the one whose click metadata the ACTION carries, when exactly one
// choice has it (richcontent.Content.ChoiceWith). An ACTION that may be a
// link's click (richcontent.Content.LinkClick: a link's metadata, or none
// when a link has none) answers nothing. Any other answers the message
// with no choice known (Chosen -1), its card closed all the same.
func (c *Conversation) answer(m *Message, metadata json.RawMessage) bool {
	if m.From != FromAgent || m.Answered || len(m.Rich.Choices) == 0 {
		return false
	}
	i, ok := m.Rich.ChoiceWith(metadata)
	if !ok && m.Rich.LinkClick(metadata) {
		return false
	}
	m.Answered, m.Chosen, m.RepliesOpen = true, -1, false
	if ok {
		m.Chosen = i
	}
	return true
}

// Sent records the publish response's sequence for a local message (at:
// now).
func (c *Conversation) Sent(localID, dialogID string, seq int64, at time.Time) Change {
	return Change{Updated: c.log.Sent(localID, dialogID, seq, at)}
}

// Failed marks a local message as not sent (the page offers a retry).
func (c *Conversation) Failed(localID string) Change {
	m, ok := c.log.Failed(localID)
	if !ok {
		return Change{}
	}
	return Change{Updated: []Message{m}, Announce: "Your message was not sent."}
}

// Retryable returns the failed local message localID when it may be sent
// again: before the conversation exists (the first message), while it is
// open, and in its survey; never once it ended (where it would go, nobody
// reads).
func (c *Conversation) Retryable(localID string) (Message, bool) {
	m, ok := c.Local(localID)
	if !ok || m.Delivery != ReceiptFailed || !(c.Phase == PhaseNew || c.Writable()) {
		return Message{}, false
	}
	return m, true
}

// Local returns the local message with this id, for a retry.
func (c *Conversation) Local(localID string) (Message, bool) {
	m, ok := c.log.Local(localID)
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

// SetRating records the customer's satisfaction answer (0: declined).
func (c *Conversation) SetRating(n int) Change {
	c.Rating, c.Phase = n, PhaseRated
	if n == 0 {
		return Change{Phase: true, Announce: "Thank you."}
	}
	return Change{Phase: true, Announce: "Thank you for your rating."}
}

// Kind reports whether (dialogID, seq) is a known message, and whose.
func (c *Conversation) Kind(dialogID string, seq int64) (from string, ok bool) {
	m, ok := c.log.Get(dialogID, seq)
	if !ok {
		return "", false
	}
	return m.From, true
}
