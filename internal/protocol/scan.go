package protocol

import (
	"slices"
	"strings"
	"sync/atomic"
	"unicode/utf8"
)

// The hot frames (a message's notification, its publication, their
// answers) are decoded by hand-written readers over the frame's bytes
// instead of encoding/json, which validates and rescans every nested value
// once per custom unmarshaler. The readers handle only the shapes those
// frames have on the wire; at the first byte they do not expect (an escape
// they do not decode, a duplicate or differently cased key, a value of
// another JSON type, a syntax error) they give up and the caller decodes
// the same bytes with encoding/json, so results and errors are always
// encoding/json's. fast_test.go holds them to that.

// generalOnly turns every fast path off. Only the tests set it, to obtain
// encoding/json's own results and compare the fast paths with them.
var generalOnly atomic.Bool

// maxFastDepth bounds nesting in skipped values; deeper input goes to
// encoding/json, which has its own limit and error.
const maxFastDepth = 64

// reader is a cursor over one JSON text. Every method reports false
// rather than an error: false means "not for the fast path".
type reader struct {
	b []byte
	i int
	// spaced records that whitespace was skipped, so that validCompact
	// can tell compact JSON from JSON that encoding/json would compact.
	spaced bool
}

// ws skips insignificant whitespace.
func (r *reader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
			r.spaced = true
		default:
			return
		}
	}
}

// peek returns the next significant byte, 0 at the end.
func (r *reader) peek() byte {
	r.ws()
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

// eat consumes c if it is the next significant byte.
func (r *reader) eat(c byte) bool {
	if r.peek() == c {
		r.i++
		return true
	}
	return false
}

// end reports whether only whitespace is left.
func (r *reader) end() bool { return r.peek() == 0 && r.i == len(r.b) }

// open reads an object's or array's opening delimiter; more reports that
// a first member follows.
func (r *reader) open(c byte) (more, ok bool) {
	if !r.eat(c) {
		return false, false
	}
	if r.eat(c + 2) { // '{'+2 is '}', '['+2 is ']'
		return false, true
	}
	return true, true
}

// next reads the comma before another member (more) or the closing
// delimiter.
func (r *reader) next(closer byte) (more, ok bool) {
	if r.eat(',') {
		return true, true
	}
	return false, r.eat(closer)
}

// key reads a member's name and its colon. Names with escapes or
// non-ASCII bytes are refused: encoding/json matches them after folding,
// which the callers do not imitate.
func (r *reader) key() ([]byte, bool) {
	raw, esc, nonASCII, ok := r.stringSpan()
	if !ok || esc || nonASCII || !r.eat(':') {
		return nil, false
	}
	return raw, true
}

// foreignKey reports whether an unknown key must be refused because
// encoding/json would match it to one of known case-insensitively.
// object reads an object whose known keys are keys (at most 64): field
// reads the value of each known key met, and says whether it could. A key
// met twice gives up, as does one encoding/json would take for a known key
// (foreignKey); any other key's value is skipped.
func (r *reader) object(keys []string, field func(key string) bool) bool {
	var seen uint64
	more, ok := r.open('{')
	for ok && more {
		key, found := r.key()
		if !found {
			return false
		}
		i := slices.IndexFunc(keys, func(k string) bool { return k == string(key) })
		switch {
		case i < 0:
			if foreignKey(key, keys) || !r.skip(0) {
				return false
			}
		case seen&(1<<i) != 0 || !field(keys[i]):
			return false
		default:
			seen |= 1 << i
		}
		more, ok = r.next('}')
	}
	return ok
}

func foreignKey(key []byte, known []string) bool {
	for _, k := range known {
		if len(k) == len(key) && strings.EqualFold(k, string(key)) {
			return true
		}
	}
	return false
}

// stringSpan reads a string and returns the bytes between its quotes,
// whether they hold escapes and bytes past ASCII. It accepts exactly what
// encoding/json's scanner accepts (invalid UTF-8 included).
func (r *reader) stringSpan() (raw []byte, esc, nonASCII, ok bool) {
	if r.peek() != '"' {
		return nil, false, false, false
	}
	b := r.b
	start := r.i + 1
	for i := start; i < len(b); i++ {
		for i < len(b) && plain[b[i]] {
			i++
		}
		if i == len(b) {
			break
		}
		switch c := b[i]; {
		case c == '"':
			r.i = i + 1
			return b[start:i], esc, nonASCII, true
		case c == '\\':
			esc = true
			i++
			if i >= len(b) {
				return nil, false, false, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) || hexVal(b[i+1]) < 0 || hexVal(b[i+2]) < 0 || hexVal(b[i+3]) < 0 || hexVal(b[i+4]) < 0 {
					return nil, false, false, false
				}
				i += 4
			default:
				return nil, false, false, false
			}
		case c < 0x20:
			return nil, false, false, false
		case c >= utf8.RuneSelf:
			nonASCII = true
		}
	}
	return nil, false, false, false
}

// plain marks the bytes a string holds as they are: printable ASCII but
// the quote and the backslash.
var plain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func hexVal(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// text reads a string value as encoding/json decodes it. Strings with
// invalid UTF-8 or UTF-16 surrogate escapes are refused (encoding/json
// replaces those with U+FFFD; the callers leave that to it).
func (r *reader) text() (string, bool) {
	raw, esc, nonASCII, ok := r.stringSpan()
	if !ok || nonASCII && !utf8.Valid(raw) {
		return "", false
	}
	if !esc {
		return intern(raw), true
	}
	return unescape(raw)
}

// unescape decodes a string's escapes; raw is known to be well formed.
func unescape(raw []byte) (string, bool) {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := rune(hexVal(raw[i+1])<<12 | hexVal(raw[i+2])<<8 | hexVal(raw[i+3])<<4 | hexVal(raw[i+4]))
			if 0xD800 <= r && r < 0xE000 { // a surrogate: pairing is encoding/json's job
				return "", false
			}
			out = utf8.AppendRune(out, r)
			i += 4
		default: // '"', '\\', '/'
			out = append(out, raw[i])
		}
	}
	return string(out), true
}

// intern returns the protocol's frequent names without allocating.
func intern(b []byte) string {
	switch string(b) {
	case "":
		return ""
	case KindReq:
		return KindReq
	case KindResp:
		return KindResp
	case KindNotification:
		return KindNotification
	case TypeMessagingEventNotification:
		return TypeMessagingEventNotification
	case TypePublishEvent:
		return TypePublishEvent
	case ".ams." + TypePublishEvent:
		return ".ams." + TypePublishEvent
	case TypePublishEventResponse:
		return TypePublishEventResponse
	case ".ams." + TypeOnlineEventDistribution:
		return ".ams." + TypeOnlineEventDistribution
	case EventContent:
		return EventContent
	case EventAcceptStatus:
		return EventAcceptStatus
	case EventChatState:
		return EventChatState
	case "text/plain":
		return "text/plain"
	case StatusAccept:
		return StatusAccept
	case StatusRead:
		return StatusRead
	case RoleConsumer:
		return RoleConsumer
	case RoleAssignedAgent:
		return RoleAssignedAgent
	case ChatComposing:
		return ChatComposing
	case ChatActive:
		return ChatActive
	case ChatPause:
		return ChatPause
	}
	return string(b)
}

// number reads a number and reports whether it is an integer (no
// fraction, no exponent).
func (r *reader) number() (raw []byte, isInt, ok bool) {
	r.ws()
	b, start, i := r.b, r.i, r.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return nil, false, false
	}
	isInt = true
	if i < len(b) && b[i] == '.' {
		isInt = false
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false, false
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		isInt = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return nil, false, false
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	r.i = i
	return b[start:i], isInt, true
}

// integer reads an integer that fits an int64 with room to spare; longer
// ones are left to encoding/json and its overflow error.
func (r *reader) integer() (int64, bool) {
	raw, isInt, ok := r.number()
	if !ok || !isInt {
		return 0, false
	}
	neg := raw[0] == '-'
	if neg {
		raw = raw[1:]
	}
	if len(raw) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range raw {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// literal reads true, false or null.
func (r *reader) literal(word string) bool {
	r.ws()
	if len(r.b)-r.i >= len(word) && string(r.b[r.i:r.i+len(word)]) == word {
		r.i += len(word)
		return true
	}
	return false
}

// null reads null if it comes next.
func (r *reader) null() bool { return r.peek() == 'n' && r.literal("null") }

// skip reads one value of any kind, validating it.
func (r *reader) skip(depth int) bool {
	switch r.peek() {
	case '"':
		_, _, _, ok := r.stringSpan()
		return ok
	case '{', '[':
		if depth >= maxFastDepth {
			return false
		}
		closer := r.b[r.i] + 2
		more, ok := r.open(r.b[r.i])
		for ok && more {
			if closer == '}' {
				if _, _, _, ok = r.stringSpan(); !ok || !r.eat(':') {
					return false
				}
			}
			if !r.skip(depth + 1) {
				return false
			}
			more, ok = r.next(closer)
		}
		return ok
	case 't':
		return r.literal("true")
	case 'f':
		return r.literal("false")
	case 'n':
		return r.literal("null")
	}
	_, _, ok := r.number()
	return ok
}

// value reads one value and returns its bytes.
func (r *reader) value() ([]byte, bool) {
	r.ws()
	start := r.i
	if !r.skip(0) {
		return nil, false
	}
	return r.b[start:r.i], true
}

// raw reads a value for a json.RawMessage field: a copy, as encoding/json
// makes one.
func (r *reader) raw() ([]byte, bool) {
	v, ok := r.value()
	if !ok {
		return nil, false
	}
	return append([]byte(nil), v...), true
}

// validCompact reports whether b is one valid JSON value with no
// whitespace outside strings: what encoding/json would copy unchanged
// when it compacts a json.RawMessage.
func validCompact(b []byte) bool {
	r := reader{b: b}
	return r.skip(0) && r.i == len(b) && !r.spaced
}
