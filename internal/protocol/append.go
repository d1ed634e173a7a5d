package protocol

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// Hand-written encoders of the hot frames. encoding/json reaches a frame's
// fields by reflection, encodes the body to a buffer of its own and then
// compacts it again into the frame; these write the same bytes straight
// into the caller's buffer. They cover the frames of a message (a
// PublishEvent, a MessagingEventNotification, their responses); anything
// else, or anything they would have to refuse (a json.RawMessage that is
// not valid JSON, InitConnection's headers), goes to Marshal's general
// path, so output and errors are always Marshal's. fast_test.go holds them
// to that.

// AppendFrame appends f as Marshal(f) encodes it.
func AppendFrame(dst []byte, f Frame) ([]byte, error) {
	if out, ok := appendFast(dst, f); ok {
		return out, nil
	}
	return appendGeneral(dst, f)
}

// AppendRequest appends the request NewRequest(id, typ, body) builds, as
// Marshal encodes it. On error dst is returned unchanged.
func AppendRequest(dst []byte, id, typ string, body any) ([]byte, error) {
	n := len(dst)
	if !generalOnly.Load() {
		out := append(dst, `{"kind":"req","id":`...)
		out = appendString(out, id)
		out = append(out, `,"type":`...)
		out = appendString(out, typ)
		if out, ok := appendBodyField(out, body); ok {
			return append(out, '}'), nil
		}
	}
	f, err := NewRequest(id, typ, body)
	if err != nil {
		return dst[:n], err
	}
	return appendGeneral(dst[:n], f)
}

// AppendResponse appends the response NewResponse(reqID, code, typ, body)
// builds, as Marshal encodes it. On error dst is returned unchanged.
func AppendResponse(dst []byte, reqID ID, code int, typ string, body any) ([]byte, error) {
	n := len(dst)
	if !generalOnly.Load() {
		out := append(dst, `{"kind":"resp","reqId":`...)
		out = appendString(out, string(reqID))
		out = append(out, `,"code":`...)
		out = strconv.AppendInt(out, int64(code), 10)
		if typ != "" {
			out = append(out, `,"type":`...)
			out = appendString(out, typ)
		}
		if out, ok := appendBodyField(out, body); ok {
			return append(out, '}'), nil
		}
	}
	f, err := NewResponse(reqID, code, typ, body)
	if err != nil {
		return dst[:n], err
	}
	return appendGeneral(dst[:n], f)
}

// AppendNotification appends the notification NewNotification(typ, body)
// builds, as Marshal encodes it. On error dst is returned unchanged.
func AppendNotification(dst []byte, typ string, body any) ([]byte, error) {
	n := len(dst)
	if !generalOnly.Load() {
		out := appendNotificationHead(dst, typ)
		if out, ok := appendBodyField(out, body); ok {
			return append(out, '}'), nil
		}
	}
	f, err := NewNotification(typ, body)
	if err != nil {
		return dst[:n], err
	}
	return appendGeneral(dst[:n], f)
}

// AppendPublishEvent is AppendRequest(dst, id, typ, p) without p's trip
// through an interface (an allocation per frame).
func AppendPublishEvent(dst []byte, id, typ string, p PublishEvent) ([]byte, error) {
	if !generalOnly.Load() {
		out := append(dst, `{"kind":"req","id":`...)
		out = appendString(out, id)
		out = append(out, `,"type":`...)
		out = appendString(out, typ)
		out = append(out, `,"body":`...)
		if out, ok := appendPublishEvent(out, &p); ok {
			return append(out, '}'), nil
		}
	}
	return AppendRequest(dst, id, typ, p)
}

// AppendMessagingEventNotification is AppendNotification(dst,
// TypeMessagingEventNotification, n) without n's trip through an
// interface.
func AppendMessagingEventNotification(dst []byte, n MessagingEventNotification) ([]byte, error) {
	if !generalOnly.Load() {
		out := appendNotificationHead(dst, TypeMessagingEventNotification)
		out = append(out, `,"body":`...)
		if out, ok := appendNotificationBody(out, n); ok {
			return append(out, '}'), nil
		}
	}
	return AppendNotification(dst, TypeMessagingEventNotification, n)
}

func appendNotificationHead(dst []byte, typ string) []byte {
	dst = append(dst, `{"kind":"notification","type":`...)
	return appendString(dst, typ)
}

// appendGeneral appends Marshal's general encoding of v.
func appendGeneral(dst []byte, v any) ([]byte, error) {
	b, err := marshalGeneral(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// appendBodyField appends a frame's ,"body": member as the constructors
// and Marshal write it: none for a nil body or an empty raw one.
func appendBodyField(dst []byte, body any) ([]byte, bool) {
	switch b := body.(type) {
	case nil:
		return dst, true
	case json.RawMessage:
		if len(b) == 0 {
			return dst, true
		}
		return appendRaw(append(dst, `,"body":`...), b)
	}
	return appendFast(append(dst, `,"body":`...), body)
}

// appendFast appends the values the fast encoders know; false (with dst
// as it came) for the rest.
func appendFast(dst []byte, v any) ([]byte, bool) {
	if generalOnly.Load() {
		return dst, false
	}
	n := len(dst)
	var ok bool
	out := dst
	switch v := v.(type) {
	case Frame:
		out, ok = appendFrame(dst, &v)
	case PublishEvent:
		out, ok = appendPublishEvent(dst, &v)
	case MessagingEventNotification:
		out, ok = appendNotificationBody(dst, v)
	case MessagingEvent:
		out, ok = appendMessagingEvent(dst, &v)
	case Event:
		out, ok = appendEvent(dst, &v)
	case PublishEventResponse:
		out, ok = append(strconv.AppendInt(append(dst, `{"sequence":`...), v.Sequence, 10), '}'), true
	case string:
		out, ok = appendString(dst, v), true
	}
	if !ok {
		return dst[:n], false
	}
	return out, true
}

// sizeHint guesses Marshal's output size, to allocate once.
func sizeHint(v any) int {
	switch v := v.(type) {
	case Frame:
		return 64 + len(v.ID) + len(v.ReqID) + len(v.Type) + len(v.Body) + len(v.Metadata)
	case string:
		return len(v) + 8
	case PublishEvent:
		return 48 + len(v.DialogID) + len(v.ConversationID) + eventSize(&v.Event)
	case MessagingEvent:
		return messagingEventSize(&v)
	case MessagingEventNotification:
		n := 16
		for i := range v.Changes {
			n += messagingEventSize(&v.Changes[i])
		}
		return n
	case Event:
		return eventSize(&v)
	}
	return 64
}

func messagingEventSize(m *MessagingEvent) int {
	n := 192 + len(m.OriginatorClientProperties) + len(m.OriginatorID) + len(m.OriginatorPID) +
		len(m.DialogID) + len(m.ConversationID) + len(m.Metadata) + eventSize(&m.Event)
	if o := m.OriginatorMetadata; o != nil {
		n += len(o.ID) + len(o.Role)
	}
	return n
}

// eventSize guesses an event's encoded size (escapes aside).
func eventSize(e *Event) int {
	n := 96 + len(e.Type) + len(e.ContentType) + len(e.Message) + len(e.QuickReplies) + len(e.Content) +
		len(e.Status) + 12*len(e.SequenceList) + len(e.ChatState)
	if f := e.File; f != nil {
		n += 64 + len(f.Caption) + len(f.RelativePath) + len(f.FileType) + len(f.Preview)
	}
	return n
}

func appendFrame(dst []byte, f *Frame) ([]byte, bool) {
	ok := true
	switch f.Kind {
	case KindReq:
		if len(f.Headers) > 0 {
			return dst, false
		}
		dst = append(dst, `{"kind":"req","id":`...)
		dst = appendString(dst, string(f.ID))
		dst = append(dst, `,"type":`...)
		dst = appendString(dst, f.Type)
		if len(f.Body) > 0 {
			dst, ok = appendRaw(append(dst, `,"body":`...), f.Body)
		}
		if ok && len(f.Metadata) > 0 {
			dst, ok = appendRaw(append(dst, `,"metadata":`...), f.Metadata)
		}
	case KindResp:
		dst = append(dst, `{"kind":"resp","reqId":`...)
		dst = appendString(dst, string(f.ReqID))
		dst = append(dst, `,"code":`...)
		dst = strconv.AppendInt(dst, int64(f.Code), 10)
		if f.Type != "" {
			dst = append(dst, `,"type":`...)
			dst = appendString(dst, f.Type)
		}
		if len(f.Body) > 0 {
			dst, ok = appendRaw(append(dst, `,"body":`...), f.Body)
		}
	case KindNotification:
		dst = appendNotificationHead(dst, f.Type)
		if len(f.Body) > 0 {
			dst, ok = appendRaw(append(dst, `,"body":`...), f.Body)
		}
	default:
		return dst, false
	}
	return append(dst, '}'), ok
}

// appendRaw appends a json.RawMessage compacted, as Marshal does; false
// when it is not valid JSON (Marshal's error is the general path's).
func appendRaw(dst []byte, raw []byte) ([]byte, bool) {
	if validCompact(raw) {
		return append(dst, raw...), true
	}
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, raw); err != nil {
		return dst, false
	}
	return buf.Bytes(), true
}

func appendPublishEvent(dst []byte, p *PublishEvent) ([]byte, bool) {
	dst = append(dst, `{"dialogId":`...)
	dst = appendString(dst, p.DialogID)
	if p.ConversationID != "" {
		dst = append(dst, `,"conversationId":`...)
		dst = appendString(dst, p.ConversationID)
	}
	dst, ok := appendEvent(append(dst, `,"event":`...), &p.Event)
	return append(dst, '}'), ok
}

func appendNotificationBody(dst []byte, n MessagingEventNotification) ([]byte, bool) {
	dst = append(dst, `{"changes":[`...)
	ok := true
	for i := range n.Changes {
		if i > 0 {
			dst = append(dst, ',')
		}
		if dst, ok = appendMessagingEvent(dst, &n.Changes[i]); !ok {
			return dst, false
		}
	}
	return append(dst, "]}"...), true
}

// appendMessagingEvent writes MessagingEvent's fields in their declared
// order with their omitempty rules.
func appendMessagingEvent(dst []byte, m *MessagingEvent) ([]byte, bool) {
	ok := true
	dst = append(dst, '{')
	if m.Sequence != nil {
		dst = strconv.AppendInt(append(dst, `"sequence":`...), *m.Sequence, 10)
		dst = append(dst, ',')
	}
	if len(m.OriginatorClientProperties) > 0 {
		if dst, ok = appendRaw(append(dst, `"originatorClientProperties":`...), m.OriginatorClientProperties); !ok {
			return dst, false
		}
		dst = append(dst, ',')
	}
	if m.OriginatorID != "" {
		dst = append(appendString(append(dst, `"originatorId":`...), m.OriginatorID), ',')
	}
	if m.OriginatorPID != "" {
		dst = append(appendString(append(dst, `"originatorPId":`...), m.OriginatorPID), ',')
	}
	if o := m.OriginatorMetadata; o != nil {
		dst = appendString(append(dst, `"originatorMetadata":{"id":`...), o.ID)
		if o.Role != "" {
			dst = appendString(append(dst, `,"role":`...), o.Role)
		}
		dst = append(dst, "},"...)
	}
	if m.ServerTimestamp != 0 {
		dst = append(strconv.AppendInt(append(dst, `"serverTimestamp":`...), m.ServerTimestamp, 10), ',')
	}
	dst = appendString(append(dst, `"dialogId":`...), m.DialogID)
	if m.ConversationID != "" {
		dst = appendString(append(dst, `,"conversationId":`...), m.ConversationID)
	}
	if dst, ok = appendEvent(append(dst, `,"event":`...), &m.Event); !ok {
		return dst, false
	}
	if len(m.Metadata) > 0 {
		if dst, ok = appendRaw(append(dst, `,"metadata":`...), m.Metadata); !ok {
			return dst, false
		}
	}
	return append(dst, '}'), true
}

// appendEvent writes what Event.MarshalJSON writes (eventOut's fields in
// their order).
func appendEvent(dst []byte, e *Event) ([]byte, bool) {
	dst = appendString(append(dst, `{"type":`...), e.Type)
	ok := true
	switch e.Type {
	case EventContent:
		ct := e.ContentType
		if e.File != nil && !IsHostedFile(ct) {
			ct = ContentTypeHostedFile
		}
		if ct != "" {
			dst = appendString(append(dst, `,"contentType":`...), ct)
		}
		dst = append(dst, `,"message":`...)
		if f := e.File; f != nil {
			dst = appendString(append(dst, `{"caption":`...), f.Caption)
			dst = appendString(append(dst, `,"relativePath":`...), f.RelativePath)
			dst = appendString(append(dst, `,"fileType":`...), f.FileType)
			if f.Preview != "" {
				dst = appendString(append(dst, `,"preview":`...), f.Preview)
			}
			dst = append(dst, '}')
		} else {
			dst = appendString(dst, e.Message)
		}
		if len(e.QuickReplies) > 0 {
			dst, ok = appendRaw(append(dst, `,"quickReplies":`...), e.QuickReplies)
		}
	case EventRichContent:
		if len(e.Content) > 0 {
			dst, ok = appendRaw(append(dst, `,"content":`...), e.Content)
		}
	case EventAcceptStatus:
		if e.Status != "" {
			dst = appendString(append(dst, `,"status":`...), e.Status)
		}
		dst = appendSeqs(append(dst, `,"sequenceList":`...), e.SequenceList)
	case EventChatState:
		if e.ChatState != "" {
			dst = appendString(append(dst, `,"chatState":`...), e.ChatState)
		}
	default:
		if e.ContentType != "" {
			dst = appendString(append(dst, `,"contentType":`...), e.ContentType)
		}
		if e.Message != "" {
			dst = appendString(append(dst, `,"message":`...), e.Message)
		}
		if len(e.QuickReplies) > 0 {
			dst, ok = appendRaw(append(dst, `,"quickReplies":`...), e.QuickReplies)
		}
		if ok && len(e.Content) > 0 {
			dst, ok = appendRaw(append(dst, `,"content":`...), e.Content)
		}
		if e.Status != "" {
			dst = appendString(append(dst, `,"status":`...), e.Status)
		}
		if e.SequenceList != nil {
			dst = appendSeqs(append(dst, `,"sequenceList":`...), e.SequenceList)
		}
		if e.ChatState != "" {
			dst = appendString(append(dst, `,"chatState":`...), e.ChatState)
		}
	}
	return append(dst, '}'), ok
}

func appendSeqs(dst []byte, s Seqs) []byte {
	dst = append(dst, '[')
	for i, n := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, n, 10)
	}
	return append(dst, ']')
}

// appendString writes s as encoding/json does with HTML escaping off:
// quotes, backslashes and control characters escaped (\b \f \n \r \t by
// name), invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped for
// JavaScript, the rest as it is.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(append(dst, s[start:i]...), `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(append(dst, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	return append(append(dst, s[start:]...), '"')
}
