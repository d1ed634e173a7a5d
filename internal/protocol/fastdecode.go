package protocol

// The fast readers of the hot frames and bodies (see scan.go for why they
// exist and how they fall back). Each decodes into a copy of the target and
// assigns a field only when its key is present, as encoding/json does, so
// that decoding into a value that already holds something merges the same
// way; the copy is committed only when the whole input was read.

var frameKeys = []string{"kind", "id", "reqId", "code", "type", "headers", "body", "metadata"}

// frame reads a whole frame. Headers (InitConnection only) are left to
// encoding/json.
func (r *reader) frame(w *wireFrame) bool {
	return r.object(frameKeys, func(key string) bool {
		switch key {
		case "kind":
			return r.optText(&w.Kind)
		case "id":
			return r.id(&w.ID)
		case "reqId":
			return r.id(&w.ReqID)
		case "code":
			if r.null() {
				return true
			}
			n, ok := r.integer()
			w.Code = int(n)
			return ok
		case "type":
			return r.optText(&w.Type)
		case "body":
			var ok bool
			w.Body, ok = r.raw()
			return ok
		case "metadata":
			var ok bool
			w.Metadata, ok = r.raw()
			return ok
		}
		return false // headers
	}) && r.end()
}

// optText reads a string into *dst; null leaves *dst as it is.
func (r *reader) optText(dst *string) bool {
	if r.null() {
		return true
	}
	s, ok := r.text()
	*dst = s
	return ok
}

// id reads an ID as ID.UnmarshalJSON does: a string, a number's text, or
// null for none.
func (r *reader) id(dst *ID) bool {
	switch r.peek() {
	case '"':
		s, ok := r.text()
		*dst = ID(s)
		return ok
	case 'n':
		*dst = ""
		return r.literal("null")
	}
	n, _, ok := r.number()
	*dst = ID(n)
	return ok
}

// fastDecodeBody decodes the hot bodies; false leaves v untouched and the
// body to encoding/json.
func fastDecodeBody(b []byte, v any) bool {
	if generalOnly.Load() {
		return false
	}
	r := reader{b: b}
	switch v := v.(type) {
	case *MessagingEventNotification:
		n := *v
		if r.notification(&n) && r.end() {
			*v = n
			return true
		}
	case *PublishEvent:
		p := *v
		if r.publishEvent(&p) && r.end() {
			*v = p
			return true
		}
	case *MessagingEvent:
		// encoding/json decodes into what non-nil pointers point to; a
		// fresh value is all the fast reader does.
		if v.Sequence != nil || v.OriginatorMetadata != nil {
			return false
		}
		m := *v
		if r.messagingEvent(&m) && r.end() {
			*v = m
			return true
		}
	case *PublishEventResponse:
		p := *v
		if r.publishEventResponse(&p) && r.end() {
			*v = p
			return true
		}
	case *string:
		s := *v
		if r.optText(&s) && r.end() {
			*v = s
			return true
		}
	}
	return false
}

var notificationKeys = []string{"changes"}

func (r *reader) notification(n *MessagingEventNotification) bool {
	return r.object(notificationKeys, func(string) bool {
		var ok bool
		n.Changes, ok = r.messagingEvents()
		return ok
	})
}

// messagingEvents reads a List[MessagingEvent]: an array, a bare event or
// null.
func (r *reader) messagingEvents() (List[MessagingEvent], bool) {
	switch r.peek() {
	case 'n':
		return nil, r.literal("null")
	case '{':
		var m MessagingEvent
		if !r.messagingEvent(&m) {
			return nil, false
		}
		return List[MessagingEvent]{m}, true
	}
	more, ok := r.open('[')
	out := List[MessagingEvent]{} // [] decodes to an empty list, not nil
	for ok && more {
		if r.peek() != '{' {
			return nil, false
		}
		out = append(out, MessagingEvent{})
		if !r.messagingEvent(&out[len(out)-1]) {
			return nil, false
		}
		more, ok = r.next(']')
	}
	return out, ok
}

var messagingEventKeys = []string{"sequence", "originatorClientProperties", "originatorId", "originatorPId",
	"originatorMetadata", "serverTimestamp", "dialogId", "conversationId", "event", "metadata"}

// messagingEvent reads into m, whose pointers must be nil.
func (r *reader) messagingEvent(m *MessagingEvent) bool {
	return r.object(messagingEventKeys, func(key string) bool {
		ok := true
		switch key {
		case "sequence":
			if !r.null() {
				var n int64
				n, ok = r.integer()
				m.Sequence = &n
			}
		case "originatorClientProperties":
			m.OriginatorClientProperties, ok = r.raw()
		case "originatorId":
			ok = r.optText(&m.OriginatorID)
		case "originatorPId":
			ok = r.optText(&m.OriginatorPID)
		case "originatorMetadata":
			if !r.null() {
				m.OriginatorMetadata = new(OriginatorMetadata)
				ok = r.originatorMetadata(m.OriginatorMetadata)
			}
		case "serverTimestamp":
			if !r.null() {
				m.ServerTimestamp, ok = r.integer()
			}
		case "dialogId":
			ok = r.optText(&m.DialogID)
		case "conversationId":
			ok = r.optText(&m.ConversationID)
		case "event":
			ok = r.event(&m.Event)
		case "metadata":
			m.Metadata, ok = r.raw()
		}
		return ok
	})
}

var originatorKeys = []string{"id", "role"}

func (r *reader) originatorMetadata(o *OriginatorMetadata) bool {
	return r.object(originatorKeys, func(key string) bool {
		if key == "id" {
			return r.optText(&o.ID)
		}
		return r.optText(&o.Role)
	})
}

var publishEventKeys = []string{"dialogId", "conversationId", "event"}

func (r *reader) publishEvent(p *PublishEvent) bool {
	return r.object(publishEventKeys, func(key string) bool {
		switch key {
		case "dialogId":
			return r.optText(&p.DialogID)
		case "conversationId":
			return r.optText(&p.ConversationID)
		}
		return r.event(&p.Event)
	})
}

var publishEventResponseKeys = []string{"sequence"}

func (r *reader) publishEventResponse(p *PublishEventResponse) bool {
	return r.object(publishEventResponseKeys, func(string) bool {
		if r.null() {
			return true
		}
		var ok bool
		p.Sequence, ok = r.integer()
		return ok
	})
}

// event reads an event object as Event.UnmarshalJSON does (null and other
// JSON types are left to it).
func (r *reader) event(e *Event) bool {
	var in eventIn
	return r.eventIn(&in) && in.event(e) == nil
}

var eventKeys = []string{"type", "contentType", "message", "content", "quickReplies", "status", "sequenceList", "chatState"}

// eventIn reads the wire's fields of an event object.
func (r *reader) eventIn(in *eventIn) bool {
	return r.object(eventKeys, func(key string) bool {
		ok := true
		switch key {
		case "type":
			ok = r.optText(&in.Type)
		case "contentType":
			ok = r.optText(&in.ContentType)
		case "message":
			if r.peek() == '"' {
				in.text, ok = r.text()
				in.hasText = true
			} else {
				in.Message, ok = r.raw()
			}
		case "content":
			in.Content, ok = r.raw()
		case "quickReplies":
			in.QuickReplies, ok = r.raw()
		case "status":
			ok = r.optText(&in.Status)
		case "sequenceList":
			in.SequenceList, ok = r.seqs()
		case "chatState":
			ok = r.optText(&in.ChatState)
		}
		return ok
	})
}

// seqs reads a sequence list of integers as Seqs.UnmarshalJSON does; null
// is an empty list there, not nil. Sequences written as strings are left
// to it.
func (r *reader) seqs() (Seqs, bool) {
	switch r.peek() {
	case 'n':
		return Seqs{}, r.literal("null")
	case '[':
	default:
		n, ok := r.integer()
		return Seqs{n}, ok
	}
	more, ok := r.open('[')
	out := Seqs{}
	for ok && more {
		var n int64
		if n, ok = r.integer(); !ok {
			return nil, false
		}
		out = append(out, n)
		more, ok = r.next(']')
	}
	return out, ok
}
