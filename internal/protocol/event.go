package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Event is the event of a messaging event: text, structured content, a
// receipt or a chat state. Type is canonical (without a ".ams.ms." prefix).
type Event struct {
	Type string

	// ContentEvent. Message is the text; File the object a shared file's
	// message is (contentType hosted/file), nil for any other event.
	ContentType  string
	Message      string
	File         *HostedFile
	QuickReplies json.RawMessage

	// RichContentEvent: the card, received under "content" or "message".
	Content json.RawMessage

	// AcceptStatusEvent.
	Status       string
	SequenceList Seqs

	// ChatStateEvent.
	ChatState string
}

// IsContent reports whether the event is content that receipts apply to
// (text, files and structured content): docs/protocol.md, Receipts.
func (e Event) IsContent() bool {
	return e.Type == EventContent || e.Type == EventRichContent
}

// IsStored reports whether the service stores the event and gives it a
// sequence: everything but chat states.
func (e Event) IsStored() bool { return e.Type != EventChatState }

type eventIn struct {
	Type         string          `json:"type"`
	ContentType  string          `json:"contentType"`
	Message      json.RawMessage `json:"message"`
	Content      json.RawMessage `json:"content"`
	QuickReplies json.RawMessage `json:"quickReplies"`
	Status       string          `json:"status"`
	SequenceList Seqs            `json:"sequenceList"`
	ChatState    string          `json:"chatState"`

	// text is a string message already decoded by the fast reader
	// (hasText); Message is then nil.
	text    string
	hasText bool
}

// UnmarshalJSON decodes an event liberally: a prefixed type, rich content
// under "message", a bare sequence for a one-element sequenceList.
func (e *Event) UnmarshalJSON(b []byte) error {
	var in eventIn
	r := reader{b: b}
	if generalOnly.Load() || !r.eventIn(&in) || !r.end() {
		in = eventIn{}
		if err := json.Unmarshal(b, &in); err != nil {
			return fmt.Errorf("event: %w", err)
		}
	}
	return in.event(e)
}

// event builds the Event the wire's fields describe.
func (in *eventIn) event(e *Event) error {
	*e = Event{
		Type:         Canonical(in.Type),
		ContentType:  in.ContentType,
		QuickReplies: nullToNil(in.QuickReplies),
		Status:       in.Status,
		SequenceList: in.SequenceList,
		ChatState:    in.ChatState,
		Content:      nullToNil(in.Content),
	}
	if e.Type == "ms.ContentEvent" || e.Type == "ms.RichContentEvent" ||
		e.Type == "ms.AcceptStatusEvent" || e.Type == "ms.ChatStateEvent" {
		e.Type = e.Type[len("ms."):]
	}
	if in.hasText {
		e.Message = in.text
		return nil
	}
	msg := nullToNil(in.Message)
	switch {
	case len(msg) == 0:
	case msg[0] == '"':
		if err := json.Unmarshal(msg, &e.Message); err != nil {
			return fmt.Errorf("event message: %w", err)
		}
	case e.Type == EventRichContent && e.Content == nil:
		// Some docs put the card under "message" (docs/protocol.md,
		// Publishing).
		e.Content = msg
	case e.Type == EventContent && IsHostedFile(e.ContentType) && msg[0] == '{':
		// A shared file (docs/protocol.md, Files). An object that is not
		// one (a field of another JSON type) is kept as its text below.
		if f, ok := decodeHostedFile(msg); ok {
			e.File = f
			break
		}
		e.Message = strings.ToValidUTF8(string(bytes.TrimSpace(msg)), "\uFFFD")
	default:
		// Anything else is kept as its JSON text rather than refused, made
		// valid UTF-8 as encoding/json does for strings, so that it
		// encodes and decodes back to the same text.
		e.Message = strings.ToValidUTF8(string(bytes.TrimSpace(msg)), "\uFFFD")
	}
	return nil
}

type eventOut struct {
	Type        string `json:"type"`
	ContentType string `json:"contentType,omitempty"`
	// Message is a *string, or a *HostedFile for a shared file.
	Message      any             `json:"message,omitempty"`
	QuickReplies json.RawMessage `json:"quickReplies,omitempty"`
	Content      json.RawMessage `json:"content,omitempty"`
	Status       string          `json:"status,omitempty"`
	// omitzero, not omitempty: a receipt's empty list is written as [],
	// other events' nil list not at all.
	SequenceList Seqs   `json:"sequenceList,omitzero"`
	ChatState    string `json:"chatState,omitempty"`
}

// MarshalJSON encodes only the fields of the event's type; a text message
// is written even when empty, a shared file's message as its object.
func (e Event) MarshalJSON() ([]byte, error) {
	if !generalOnly.Load() {
		if out, ok := appendEvent(make([]byte, 0, eventSize(&e)), &e); ok {
			return out, nil
		}
	}
	out := eventOut{Type: e.Type}
	switch e.Type {
	case EventContent:
		msg := e.Message
		out.ContentType, out.Message, out.QuickReplies = e.ContentType, &msg, e.QuickReplies
		if e.File != nil {
			out.Message = e.File
			if !IsHostedFile(e.ContentType) {
				out.ContentType = ContentTypeHostedFile
			}
		}
	case EventRichContent:
		out.Content = e.Content
	case EventAcceptStatus:
		out.Status, out.SequenceList = e.Status, e.SequenceList
		if out.SequenceList == nil {
			out.SequenceList = Seqs{}
		}
	case EventChatState:
		out.ChatState = e.ChatState
	default:
		// Unknown types keep whatever they had.
		out.ContentType, out.QuickReplies, out.Content = e.ContentType, e.QuickReplies, e.Content
		out.Status, out.SequenceList, out.ChatState = e.Status, e.SequenceList, e.ChatState
		if e.Message != "" {
			msg := e.Message
			out.Message = &msg
		}
	}
	return Marshal(out)
}

// MarshalJSON writes an empty list as [] (omitempty still drops nil).
func (s Seqs) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]int64(s))
}

// OriginatorMetadata names who published an event.
type OriginatorMetadata struct {
	ID   string `json:"id"`
	Role string `json:"role,omitempty"`
}

// MessagingEvent is one stored (or, for chat states, transient) event of a
// dialog as the service distributes it: in a MessagingEventNotification's
// changes, as the body of an OnlineEventDistribution, or in QueryMessages'
// answer.
type MessagingEvent struct {
	// Sequence is absent on chat states (never stored).
	Sequence                   *int64              `json:"sequence,omitempty"`
	OriginatorClientProperties json.RawMessage     `json:"originatorClientProperties,omitempty"`
	OriginatorID               string              `json:"originatorId,omitempty"`
	OriginatorPID              string              `json:"originatorPId,omitempty"`
	OriginatorMetadata         *OriginatorMetadata `json:"originatorMetadata,omitempty"`
	ServerTimestamp            int64               `json:"serverTimestamp,omitempty"`
	DialogID                   string              `json:"dialogId"`
	ConversationID             string              `json:"conversationId,omitempty"`
	Event                      Event               `json:"event"`
	Metadata                   json.RawMessage     `json:"metadata,omitempty"`
}

// Seq returns the event's sequence and whether it has one.
func (m MessagingEvent) Seq() (int64, bool) {
	if m.Sequence == nil {
		return 0, false
	}
	return *m.Sequence, true
}

// Originator returns the publisher's id as the consumer socket shows it:
// originatorMetadata.id (the PId) when present, else originatorId.
func (m MessagingEvent) Originator() string {
	if m.OriginatorMetadata != nil && m.OriginatorMetadata.ID != "" {
		return m.OriginatorMetadata.ID
	}
	return m.OriginatorID
}

// Seq is a helper to take the address of a sequence number.
func Seq(n int64) *int64 { return &n }

// MessagingEventNotification is the body of ms.MessagingEventNotification.
type MessagingEventNotification struct {
	Changes List[MessagingEvent] `json:"changes"`
}

// MarshalJSON writes changes as an array, even with one element.
func (n MessagingEventNotification) MarshalJSON() ([]byte, error) {
	changes := []MessagingEvent(n.Changes)
	if changes == nil {
		changes = []MessagingEvent{}
	}
	return Marshal(struct {
		Changes []MessagingEvent `json:"changes"`
	}{changes})
}

// PublishEvent is the body of ms.PublishEvent.
type PublishEvent struct {
	DialogID       string `json:"dialogId"`
	ConversationID string `json:"conversationId,omitempty"`
	Event          Event  `json:"event"`
}

// PublishEventResponse is the body of ms.PublishEventResponse.
type PublishEventResponse struct {
	Sequence int64 `json:"sequence"`
}

// SubscribeMessagingEvents is the body of ms.SubscribeMessagingEvents.
type SubscribeMessagingEvents struct {
	DialogID       string `json:"dialogId"`
	ConversationID string `json:"conversationId,omitempty"`
	FromSeq        int64  `json:"fromSeq"`
}

// QueryMessages is the body of the agent socket's .ams.ms.QueryMessages.
// NewerThanSequence is inclusive (docs/protocol.md, Agent socket).
type QueryMessages struct {
	DialogID          string `json:"dialogId"`
	NewerThanSequence int64  `json:"newerThanSequence"`
	MaxQuantity       int    `json:"maxQuantity,omitempty"`
}

// GetClockResponse is the body of GetClock's response.
type GetClockResponse struct {
	CurrentTime int64 `json:"currentTime"`
}
