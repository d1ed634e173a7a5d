package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// ID is an identifier that LivePerson sends sometimes as a JSON number and
// sometimes as a string (request ids, brand ids, campaign ids). It decodes
// from either and always encodes as a string, which is what the protocol
// asks of senders.
type ID string

// UnmarshalJSON accepts a string, a number or null.
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return fmt.Errorf("id: empty")
	case b[0] == '"':
		// A plain string without encoding/json's second scan.
		r := reader{b: b}
		if s, ok := r.text(); ok && r.end() && !generalOnly.Load() {
			*id = ID(s)
			return nil
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("id: %w", err)
		}
		*id = ID(s)
	case bytes.Equal(b, []byte("null")):
		*id = ""
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("id: not a string or number: %s", truncate(b))
		}
		*id = ID(n.String())
	}
	return nil
}

// Strings is a list of strings that also accepts a bare string for a
// one-element list (docs/protocol.md, Frames).
type Strings []string

// UnmarshalJSON accepts an array of strings or numbers, a bare string or
// number, or null.
func (s *Strings) UnmarshalJSON(b []byte) error {
	var ids []ID
	if err := unmarshalList(b, &ids); err != nil {
		return err
	}
	*s = nil
	for _, id := range ids {
		*s = append(*s, string(id))
	}
	return nil
}

// Seqs is a list of sequence numbers (an AcceptStatusEvent's sequenceList)
// that also accepts a bare number, and numbers written as strings.
type Seqs []int64

// UnmarshalJSON accepts an array of integers, a bare integer, or null.
func (s *Seqs) UnmarshalJSON(b []byte) error {
	var ids []ID
	if err := unmarshalList(b, &ids); err != nil {
		return err
	}
	out := make(Seqs, 0, len(ids))
	for _, id := range ids {
		n, err := strconv.ParseInt(string(id), 10, 64)
		if err != nil {
			return fmt.Errorf("sequence %q: not an integer", string(id))
		}
		out = append(out, n)
	}
	*s = out
	return nil
}

// unmarshalList decodes b into *dst, a pointer to a slice, accepting a bare
// element for a one-element list.
func unmarshalList[T any](b []byte, dst *[]T) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		*dst = nil
		return nil
	}
	if b[0] == '[' {
		return json.Unmarshal(b, dst)
	}
	var one T
	if err := json.Unmarshal(b, &one); err != nil {
		return err
	}
	*dst = []T{one}
	return nil
}

// List is a slice that decodes from an array or from a bare element
// (docs/protocol.md, Frames: every list may also come as a bare element).
type List[T any] []T

// UnmarshalJSON accepts an array, a bare element, or null.
func (l *List[T]) UnmarshalJSON(b []byte) error {
	var s []T
	if err := unmarshalList(b, &s); err != nil {
		return err
	}
	*l = s
	return nil
}

func truncate(b []byte) string {
	const max = 40
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}
