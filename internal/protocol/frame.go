// Package protocol holds the wire types of LivePerson's Messaging Window API
// (consumer v3 and the agent v2.1 dialect) and their codecs: liberal when
// decoding exactly where docs/protocol.md (Frames) says, strict when
// encoding.
package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Frame kinds.
const (
	KindReq          = "req"
	KindResp         = "resp"
	KindNotification = "notification"
)

// Frame is one JSON text message on a messaging socket. Body stays raw so
// that a relay can pass it on and a reader decodes it once it knows the type.
type Frame struct {
	Kind string
	// ID is a request's id (kind req).
	ID ID
	// ReqID is the id of the request a response answers (kind resp). It is
	// always encoded, even when empty: a frame whose id could not be read is
	// answered with "reqId":"" (docs/protocol.md, Errors).
	ReqID ID
	// Code is a response's HTTP-like status (kind resp).
	Code int
	// Type is the type name as it was sent; use Canonical to compare it.
	Type string
	// Headers are InitConnection's authentication and client properties.
	Headers List[Header]
	// Body is the frame's body, raw; absent bodies are nil.
	Body json.RawMessage
	// Metadata is a request's optional metadata array, raw.
	Metadata json.RawMessage
}

// Header is one element of InitConnection's headers.
type Header struct {
	Type         string  `json:"type"`
	DeviceFamily string  `json:"deviceFamily,omitempty"`
	OS           string  `json:"os,omitempty"`
	Integration  string  `json:"integration,omitempty"`
	Features     Strings `json:"features,omitempty"`
	JWT          string  `json:"jwt,omitempty"`
	// More client properties (schema/infra/clientPropertiesHeader.json).
	OSVersion      string `json:"osVersion,omitempty"`
	Browser        string `json:"browser,omitempty"`
	BrowserVersion string `json:"browserVersion,omitempty"`
}

// ErrMalformed is returned (wrapped) for frames that are not JSON objects,
// have fields of the wrong JSON type, lack their kind or type, or have a kind
// other than req, resp and notification.
var ErrMalformed = errors.New("malformed frame")

// wireFrame is the decoding shape: every field of every kind.
type wireFrame struct {
	Kind     string          `json:"kind"`
	ID       ID              `json:"id"`
	ReqID    ID              `json:"reqId"`
	Code     int             `json:"code"`
	Type     string          `json:"type"`
	Headers  List[Header]    `json:"headers"`
	Body     json.RawMessage `json:"body"`
	Metadata json.RawMessage `json:"metadata"`
}

// ParseFrame decodes one frame. Unknown fields are ignored. A frame that is
// not a JSON object, has a field of the wrong JSON type, has no kind or type
// or a kind of its own, is ErrMalformed; when its id could be read (also
// from a frame that breaks after it) it is still returned so that the error
// can answer it.
func ParseFrame(b []byte) (Frame, error) {
	var w wireFrame
	if r := (reader{b: b}); generalOnly.Load() || !r.frame(&w) {
		w = wireFrame{}
		if err := json.Unmarshal(b, &w); err != nil {
			// Salvage the request id so the error response can carry it.
			return Frame{ID: salvageID(b)}, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
	}
	f := Frame{
		Kind:     w.Kind,
		ID:       w.ID,
		ReqID:    w.ReqID,
		Code:     w.Code,
		Type:     w.Type,
		Headers:  w.Headers,
		Body:     nullToNil(w.Body),
		Metadata: nullToNil(w.Metadata),
	}
	switch {
	case f.Kind == "":
		return f, fmt.Errorf("%w: no kind", ErrMalformed)
	case f.Kind != KindReq && f.Kind != KindResp && f.Kind != KindNotification:
		// A frame of no known kind can be neither answered nor encoded.
		return f, fmt.Errorf("%w: unknown kind %q", ErrMalformed, f.Kind)
	case f.Type == "" && f.Kind != KindResp:
		// Acks may omit the type; requests and notifications may not.
		return f, fmt.Errorf("%w: no type", ErrMalformed)
	}
	return f, nil
}

// salvageID reads a frame's top-level "id" (a string or a number) for as far
// as the frame is well formed, so that a frame broken after its id, or with
// a field of the wrong type, is still answered with its id (docs/protocol.md,
// Errors).
// Like encoding/json, the key matches case-insensitively and the last one
// read wins.
func salvageID(b []byte) ID {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ""
	}
	var id ID
	for {
		tok, err := dec.Token()
		if err != nil {
			return id
		}
		key, ok := tok.(string)
		if !ok { // the closing brace
			return id
		}
		tok, err = dec.Token()
		if err != nil {
			return id
		}
		if d, ok := tok.(json.Delim); ok {
			if !skipNested(dec, d) {
				return id
			}
			continue
		}
		if !strings.EqualFold(key, "id") {
			continue
		}
		switch v := tok.(type) {
		case string:
			id = ID(v)
		case json.Number:
			id = ID(v.String())
		case nil:
			id = ""
		}
	}
}

// skipNested consumes the rest of an object or array whose opening
// delimiter was just read; false when the input ends or breaks first.
func skipNested(dec *json.Decoder, open json.Delim) bool {
	if open != '{' && open != '[' {
		return false
	}
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return true
}

func nullToNil(b json.RawMessage) json.RawMessage {
	if len(b) == 0 || bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	return b
}

// The encoding shapes, one per kind, so that field order is fixed and
// reqId is always present on responses.
type (
	reqOut struct {
		Kind     string          `json:"kind"`
		ID       string          `json:"id"`
		Type     string          `json:"type"`
		Headers  []Header        `json:"headers,omitempty"`
		Body     json.RawMessage `json:"body,omitempty"`
		Metadata json.RawMessage `json:"metadata,omitempty"`
	}
	respOut struct {
		Kind  string          `json:"kind"`
		ReqID string          `json:"reqId"`
		Code  int             `json:"code"`
		Type  string          `json:"type,omitempty"`
		Body  json.RawMessage `json:"body,omitempty"`
	}
	notificationOut struct {
		Kind string          `json:"kind"`
		Type string          `json:"type"`
		Body json.RawMessage `json:"body,omitempty"`
	}
)

// MarshalJSON encodes the frame strictly for its kind: ids as strings,
// fields in the documented order, nothing of another kind.
func (f Frame) MarshalJSON() ([]byte, error) {
	// The hand-written writer first, as Marshal(f) does: the general path
	// below wraps the frame in another type and encodes it by reflection.
	if b, ok := appendFast(make([]byte, 0, sizeHint(f)), f); ok {
		return b, nil
	}
	switch f.Kind {
	case KindReq:
		return Marshal(reqOut{Kind: f.Kind, ID: string(f.ID), Type: f.Type, Headers: f.Headers, Body: f.Body, Metadata: f.Metadata})
	case KindResp:
		return Marshal(respOut{Kind: f.Kind, ReqID: string(f.ReqID), Code: f.Code, Type: f.Type, Body: f.Body})
	case KindNotification:
		return Marshal(notificationOut{Kind: f.Kind, Type: f.Type, Body: f.Body})
	default:
		return nil, fmt.Errorf("encode frame: unknown kind %q", f.Kind)
	}
}

// Marshal encodes v as compact JSON without HTML escaping, so that message
// text such as "<b>" travels as written.
func Marshal(v any) ([]byte, error) {
	switch v.(type) {
	case Frame, PublishEvent, MessagingEventNotification, MessagingEvent, Event, PublishEventResponse, string:
		if b, ok := appendFast(make([]byte, 0, sizeHint(v)), v); ok {
			return b, nil
		}
	}
	return marshalGeneral(v)
}

// marshalGeneral is Marshal by encoding/json.
func marshalGeneral(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// NewRequest builds a request frame with body encoded from v (nil for none).
func NewRequest(id, typ string, body any) (Frame, error) {
	raw, err := rawBody(body)
	if err != nil {
		return Frame{}, fmt.Errorf("encode %s body: %w", typ, err)
	}
	return Frame{Kind: KindReq, ID: ID(id), Type: typ, Body: raw}, nil
}

// NewResponse builds a response frame answering reqID.
func NewResponse(reqID ID, code int, typ string, body any) (Frame, error) {
	raw, err := rawBody(body)
	if err != nil {
		return Frame{}, fmt.Errorf("encode %s body: %w", typ, err)
	}
	return Frame{Kind: KindResp, ReqID: reqID, Code: code, Type: typ, Body: raw}, nil
}

// NewNotification builds a notification frame.
func NewNotification(typ string, body any) (Frame, error) {
	raw, err := rawBody(body)
	if err != nil {
		return Frame{}, fmt.Errorf("encode %s body: %w", typ, err)
	}
	return Frame{Kind: KindNotification, Type: typ, Body: raw}, nil
}

func rawBody(v any) (json.RawMessage, error) {
	switch b := v.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return b, nil
	}
	return Marshal(v)
}

// DecodeBody decodes the frame's body into v. An absent body leaves v as it is.
func (f Frame) DecodeBody(v any) error {
	if len(f.Body) == 0 || fastDecodeBody(f.Body, v) {
		return nil
	}
	if err := json.Unmarshal(f.Body, v); err != nil {
		return fmt.Errorf("decode %s body: %w", f.Type, err)
	}
	return nil
}

// BodyString returns a string body (error texts, "OK"), or the raw body
// when it is not a JSON string.
func (f Frame) BodyString() string {
	var s string
	if fastDecodeBody(f.Body, &s) {
		return s
	}
	if err := json.Unmarshal(f.Body, &s); err == nil {
		return s
	}
	return string(f.Body)
}

// Error is a response with code >= 400, as a Go error that carries the code
// and the service's text.
type Error struct {
	Code int
	Type string
	Text string
}

func (e *Error) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("%s: %d %s", e.Type, e.Code, e.Text)
	}
	return fmt.Sprintf("%d %s", e.Code, e.Text)
}

// ResponseError returns an *Error for a response with code >= 400 and nil
// otherwise.
func (f Frame) ResponseError() error {
	if f.Kind != KindResp || f.Code < 400 {
		return nil
	}
	return &Error{Code: f.Code, Type: f.Type, Text: f.BodyString()}
}
