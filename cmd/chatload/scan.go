package main

import (
	"bytes"
	"html"
	"strconv"
)

// The window's socket sends htmx fragments (views/chat.templ): a tab that
// only needs the bubbles, the banner and whether the list was replaced
// finds them with one pass over the bytes, without building a DOM — at
// 20,000 messages a second a parser per frame would cost more than the
// server it measures. The markup is templ's: attribute values are always
// quoted and escaped, so '>' and '<' never appear inside them; this
// scanner still reads quotes properly, so a '>' inside a quoted value
// (the page's htmx-config) does not end a tag.

// bubble is one message element (data-testid="message") of a frame.
type bubble struct {
	From   []byte // agent, consumer, system
	Dialog []byte // data-dialog-id
	Seq    int64
	HasSeq bool
	Text   []byte // the .message-text's content, still escaped; nil for none
}

// TextString returns the bubble's text unescaped.
func (b bubble) TextString() string { return html.UnescapeString(string(b.Text)) }

// frameScan is what a frame holds for a tab.
type frameScan struct {
	Bubbles []bubble
	// Reset: the frame replaces the whole list of messages (the window,
	// sent when the socket opens, or a reset): bubbles already shown come
	// again and are no duplicates.
	Reset bool
	// Connection is the banner's data-state (the session's upstream
	// socket: connecting, open, reconnecting, offline); nil when the frame
	// has no banner.
	Connection []byte
}

// tagAttrs are the attributes of a start tag that matter here; slices of
// the frame.
type tagAttrs struct {
	id, testid, from, dialog, seq, state, class []byte
	hasSeq                                      bool
}

// scanFrame reads a frame into out (reusing its slices). The bubbles'
// fields point into b.
func scanFrame(b []byte, out *frameScan) {
	out.Bubbles = out.Bubbles[:0]
	out.Reset = false
	out.Connection = nil
	wantText := false // the last bubble still looks for its text
	for i := 0; i < len(b); {
		lt := bytes.IndexByte(b[i:], '<')
		if lt < 0 {
			return
		}
		i += lt + 1
		if i >= len(b) {
			return
		}
		switch b[i] {
		case '/', '?':
			gt := bytes.IndexByte(b[i:], '>')
			if gt < 0 {
				return
			}
			i += gt + 1
			continue
		case '!':
			if bytes.HasPrefix(b[i:], []byte("!--")) {
				end := bytes.Index(b[i:], []byte("-->"))
				if end < 0 {
					return
				}
				i += end + 3
			} else {
				gt := bytes.IndexByte(b[i:], '>')
				if gt < 0 {
					return
				}
				i += gt + 1
			}
			continue
		}
		var a tagAttrs
		end := readTag(b, i, &a)
		if end < 0 {
			return
		}
		i = end
		switch {
		case bytes.Equal(a.testid, []byte("message")):
			bb := bubble{From: a.from, Dialog: a.dialog}
			if a.hasSeq {
				if n, err := strconv.ParseInt(string(a.seq), 10, 64); err == nil {
					bb.Seq, bb.HasSeq = n, true
				}
			}
			out.Bubbles = append(out.Bubbles, bb)
			wantText = true
		case wantText && hasClass(a.class, "message-text"):
			lt := bytes.IndexByte(b[i:], '<')
			if lt < 0 {
				lt = len(b) - i
			}
			out.Bubbles[len(out.Bubbles)-1].Text = b[i : i+lt]
			wantText = false
		case bytes.Equal(a.id, []byte("messages")):
			out.Reset = true
		case bytes.Equal(a.id, []byte("connection")):
			out.Connection = a.state
		}
	}
}

// readTag reads a start tag's name and attributes from b[i:] (just after
// '<') and returns the index after its '>', or -1 when the frame ends
// first.
func readTag(b []byte, i int, a *tagAttrs) int {
	// The tag's name.
	for i < len(b) && !isSpace(b[i]) && b[i] != '>' && b[i] != '/' {
		i++
	}
	for i < len(b) {
		for i < len(b) && (isSpace(b[i]) || b[i] == '/') {
			i++
		}
		if i >= len(b) {
			return -1
		}
		if b[i] == '>' {
			return i + 1
		}
		start := i
		for i < len(b) && !isSpace(b[i]) && b[i] != '=' && b[i] != '>' && b[i] != '/' {
			i++
		}
		name := b[start:i]
		var value []byte
		hasValue := false
		if i < len(b) && b[i] == '=' {
			i++
			if i >= len(b) {
				return -1
			}
			hasValue = true
			switch q := b[i]; q {
			case '"', '\'':
				end := bytes.IndexByte(b[i+1:], q)
				if end < 0 {
					return -1
				}
				value = b[i+1 : i+1+end]
				i += end + 2
			default:
				start := i
				for i < len(b) && !isSpace(b[i]) && b[i] != '>' {
					i++
				}
				value = b[start:i]
			}
		}
		switch string(name) { // no allocation: the compiler compares in place
		case "id":
			a.id = value
		case "data-testid":
			a.testid = value
		case "data-from":
			a.from = value
		case "data-dialog-id":
			a.dialog = value
		case "data-seq":
			a.seq, a.hasSeq = value, hasValue
		case "data-state":
			a.state = value
		case "class":
			a.class = value
		}
	}
	return -1
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' }

// hasClass reports whether a class attribute lists name.
func hasClass(class []byte, name string) bool {
	for len(class) > 0 {
		i := 0
		for i < len(class) && isSpace(class[i]) {
			i++
		}
		class = class[i:]
		j := 0
		for j < len(class) && !isSpace(class[j]) {
			j++
		}
		if string(class[:j]) == name {
			return true
		}
		class = class[j:]
	}
	return false
}

// loadText is an agent message's text: its number in the run and when it
// was published, in ns since the run's start (one process, one monotonic
// clock: the tab computes the relay latency from it).
func loadText(id uint64, publishedNs int64) string {
	return "load " + strconv.FormatUint(id, 10) + " " + strconv.FormatInt(publishedNs, 10)
}

// parseLoadText reads a text made by loadText.
func parseLoadText(t []byte) (id uint64, publishedNs int64, ok bool) {
	rest, found := bytes.CutPrefix(bytes.TrimSpace(t), []byte("load "))
	if !found {
		return 0, 0, false
	}
	sp := bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return 0, 0, false
	}
	id, err := strconv.ParseUint(string(rest[:sp]), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	publishedNs, err = strconv.ParseInt(string(rest[sp+1:]), 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return id, publishedNs, true
}
