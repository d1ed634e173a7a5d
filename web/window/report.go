package window

import (
	"bytes"
	"math"
	"unicode/utf8"

	"github.com/chatwindow/chatwindow/web/pagesocket"
)

// parseReport is a fast path for the frame a page sends most: chat.js's
// delivery report, exactly as its sendReport writes it with JSON.stringify
// (keys in that order, no white space):
//
//	{"type":"report","status":"delivered","items":[{"dialogId":"C1","seq":4}]}
//
// Decoding it with encoding/json into the whole browserFrame was most of
// the cost of reading the page's frames under load (reflection, and the
// frame moved to the heap through Decode's any). This reads that one form
// byte by byte and returns the frame by value; ok is false for anything
// else at all, or for a report Check would refuse, and the caller then
// takes the general path, so a frame's value and error are always what
// encoding/json and Check make of it (TestReportFastPath and
// FuzzReportFastPath hold the two together).
//
// Strings are accepted only without escapes, control characters or invalid
// UTF-8 (encoding/json would rewrite them), and seq only as a plain
// non-negative integer that fits an int64.
func parseReport(b []byte) (f browserFrame, ok bool) {
	rest, ok := bytes.CutPrefix(b, []byte(`{"type":"report","status":"`))
	if !ok {
		return f, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`delivered"`)); ok {
		f.Status = "delivered"
	} else if rest, ok = bytes.CutPrefix(rest, []byte(`seen"`)); ok {
		f.Status = "seen"
	} else {
		return f, false
	}
	if rest, ok = bytes.CutPrefix(rest, []byte(`,"items":[`)); !ok {
		return f, false
	}
	// Every item starts so, and a plain string (no quote in it) cannot
	// hold it: the count is the number of items in a frame of this form,
	// so the slice is made once, and Check's bounds are checked first.
	n := bytes.Count(rest, []byte(`{"dialogId":"`))
	if n == 0 || n > pagesocket.MaxReportItems {
		return f, false
	}
	f.Items = make([]pagesocket.ReportItem, 0, n)
	for {
		var id []byte
		var seq int64
		if rest, ok = bytes.CutPrefix(rest, []byte(`{"dialogId":"`)); !ok {
			return f, false
		}
		if id, rest, ok = plainString(rest); !ok {
			return f, false
		}
		if rest, ok = bytes.CutPrefix(rest, []byte(`,"seq":`)); !ok {
			return f, false
		}
		if seq, rest, ok = plainInt(rest); !ok {
			return f, false
		}
		if rest, ok = bytes.CutPrefix(rest, []byte(`}`)); !ok {
			return f, false
		}
		// A report's items are nearly always of one conversation: its
		// dialog's string is made once (the comparison allocates nothing).
		it := pagesocket.ReportItem{Seq: seq}
		if k := len(f.Items); k > 0 && f.Items[k-1].DialogID == string(id) {
			it.DialogID = f.Items[k-1].DialogID
		} else {
			it.DialogID = string(id)
		}
		f.Items = append(f.Items, it)
		if rest, ok = bytes.CutPrefix(rest, []byte(`,`)); !ok {
			break
		}
	}
	if string(rest) != `]}` {
		return f, false
	}
	f.Type = "report"
	return f, true
}

// plainString reads a JSON string's body up to its closing quote, if it is
// one encoding/json would decode to its very bytes: no escape, no control
// character, valid UTF-8.
func plainString(b []byte) (s, rest []byte, ok bool) {
	ascii := true
	for i, c := range b {
		switch {
		case c == '"':
			if !ascii && !utf8.Valid(b[:i]) {
				return nil, nil, false
			}
			return b[:i], b[i+1:], true
		case c == '\\' || c < 0x20:
			return nil, nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, nil, false
}

// plainInt reads a JSON integer of digits alone (no sign, no leading zero)
// that fits an int64; the caller checks what follows it (a fraction or an
// exponent is not the '}' it wants).
func plainInt(b []byte) (n int64, rest []byte, ok bool) {
	i := 0
	for ; i < len(b) && '0' <= b[i] && b[i] <= '9'; i++ {
		d := int64(b[i] - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, nil, false
		}
		n = n*10 + d
	}
	if i == 0 || (b[0] == '0' && i > 1) {
		return 0, nil, false
	}
	return n, b[i:], true
}
