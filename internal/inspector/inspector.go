// Package inspector is the QA view's protocol inspector: a session keeps
// the latest frames of its upstream socket, as sent and received, so that
// QA can watch them next to the window (docs/qa.md). Recording must never
// slow the session: the socket's tap only copies the frame into a bounded
// ring (the oldest frame goes), and parsing, redaction and rendering happen
// when a watcher asks, on the watcher's goroutine.
package inspector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

const (
	// Frames is how many frames a session keeps for its inspector.
	Frames = 500
	// Bytes bounds the raw bytes kept per session (a replay of a long
	// history is one large notification).
	Bytes = 2 << 20
	// maxPretty bounds one frame's indented JSON as shown.
	maxPretty = 16 << 10
)

// Frame is one frame of a session's upstream socket, as the inspector
// shows it.
type Frame struct {
	// N numbers the session's frames from 1, in the order they were sent
	// and received.
	N int64
	// Out is true for a frame the session sent (req), false for one it
	// received (resp, notification).
	Out bool
	At  time.Time
	// Kind is req, resp or notification; empty for a frame that is not
	// JSON.
	Kind string
	// Type is the frame's type as sent, e.g. ms.PublishEvent.
	Type string
	// ID is a request's id or the id a response answers.
	ID string
	// Code is a response's status.
	Code int
	// Summary says in a few words which events a publish or a messaging
	// notification carries, e.g. "AcceptStatusEvent READ [3,4]".
	Summary string
	// JSON is the frame indented, credentials redacted (see Redact).
	JSON string
}

// rawFrame is a frame as tapped: the inspector's record.
type rawFrame struct {
	n    int64
	out  bool
	at   time.Time
	data []byte
}

// Inspector records a session's frames and wakes its watchers.
type Inspector struct {
	now      func() time.Time
	max      int
	maxBytes int

	mu      sync.Mutex
	ring    []rawFrame // circular, len max once full
	head    int        // index of the oldest frame
	count   int
	bytes   int
	next    int64 // N of the next frame
	watches map[*Watch]struct{}
}

// New returns an inspector that keeps up to max frames and maxBytes bytes
// of them, timed by now (time.Now when nil), its owner's clock.
func New(now func() time.Time, max, maxBytes int) *Inspector {
	if now == nil {
		now = time.Now
	}
	return &Inspector{now: now, max: max, maxBytes: maxBytes, next: 1, watches: map[*Watch]struct{}{}}
}

// Tap records one frame; it is the upstream socket's messaging Tap. It
// copies data (the socket reuses it) and never blocks on a watcher.
func (in *Inspector) Tap(out bool, data []byte) {
	f := rawFrame{out: out, at: in.now(), data: append([]byte(nil), data...)}
	in.mu.Lock()
	defer in.mu.Unlock()
	f.n = in.next
	in.next++
	if len(f.data) > in.maxBytes {
		f.data = f.data[:in.maxBytes]
	}
	for in.count > 0 && (in.count == in.max || in.bytes+len(f.data) > in.maxBytes) {
		in.dropOldest()
	}
	if len(in.ring) < in.max {
		in.ring = append(in.ring, rawFrame{})
	}
	in.ring[(in.head+in.count)%in.max] = f
	in.count++
	in.bytes += len(f.data)
	for w := range in.watches {
		select {
		case w.ready <- struct{}{}:
		default: // already signalled
		}
	}
}

func (in *Inspector) dropOldest() {
	in.bytes -= len(in.ring[in.head].data)
	in.ring[in.head] = rawFrame{}
	in.head = (in.head + 1) % in.max
	in.count--
}

// since returns the recorded frames after N last, oldest first, and how
// many frames after last are no longer kept.
func (in *Inspector) since(last int64) (frames []rawFrame, missed int64) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i := range in.count {
		f := in.ring[(in.head+i)%in.max]
		if f.n > last {
			frames = append(frames, f)
		}
	}
	first := in.next // N of the oldest frame kept
	if in.count > 0 {
		first = in.ring[in.head].n
	}
	if first > last+1 {
		missed = first - last - 1
	}
	return frames, missed
}

// Watch follows a session's frames for one inspector page.
type Watch struct {
	in    *Inspector
	ready chan struct{}
	ended <-chan struct{}
	last  int64
	once  sync.Once
	// release tells the session the watch is gone.
	release func()
}

// Watch starts a watch that ends with ended (the session's end); release,
// if any, is called once when the watch is closed.
func (in *Inspector) Watch(ended <-chan struct{}, release func()) *Watch {
	w := &Watch{in: in, ready: make(chan struct{}, 1), ended: ended, release: release}
	in.mu.Lock()
	in.watches[w] = struct{}{}
	in.mu.Unlock()
	return w
}

// Ready receives when frames may have been recorded since the last Next.
func (w *Watch) Ready() <-chan struct{} { return w.ready }

// Ended is closed when the session ended (its inspector records no more;
// a new page load starts a new session).
func (w *Watch) Ended() <-chan struct{} { return w.ended }

// Next returns the frames recorded since the last call (the first call:
// every frame kept), parsed and redacted, and how many frames in between
// are no longer kept (the watcher was slower than the ring). Call it from
// one goroutine.
func (w *Watch) Next() (frames []Frame, missed int64) {
	raw, missed := w.in.since(w.last)
	if len(raw) > 0 {
		w.last = raw[len(raw)-1].n
	}
	frames = make([]Frame, len(raw))
	for i, r := range raw {
		frames[i] = Describe(r.n, r.out, r.at, r.data)
	}
	return frames, missed
}

// Close stops the watch and lets its place among the session's pages go.
func (w *Watch) Close() {
	w.once.Do(func() {
		w.in.mu.Lock()
		delete(w.in.watches, w)
		w.in.mu.Unlock()
		if w.release != nil {
			w.release()
		}
	})
}

// Describe describes one frame: its kind, type and ids, and its redacted,
// indented JSON (cut at 16 KiB).
func Describe(n int64, out bool, at time.Time, data []byte) Frame {
	f := Frame{N: n, Out: out, At: at, JSON: Redact(data)}
	var head struct {
		Kind  string          `json:"kind"`
		Type  string          `json:"type"`
		ID    json.RawMessage `json:"id"`
		ReqID json.RawMessage `json:"reqId"`
		Code  int             `json:"code"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		f.Type = "(not a JSON frame)"
	} else {
		f.Kind, f.Type, f.Code = head.Kind, head.Type, head.Code
		f.ID = rawID(head.ID)
		if f.Kind == "resp" {
			f.ID = rawID(head.ReqID)
		}
		if f.Type == "" {
			f.Type = "(no type)"
		}
	}
	f.Summary = summary(data)
	if len(f.JSON) > maxPretty {
		cut := maxPretty
		for cut > 0 && !utf8.RuneStart(f.JSON[cut]) {
			cut--
		}
		f.JSON = f.JSON[:cut] + fmt.Sprintf("\n… (%d more bytes)", len(f.JSON)-cut)
	}
	return f
}

// rawID reads an id sent as a string or a number.
func rawID(b json.RawMessage) string {
	if len(b) == 0 || string(b) == "null" {
		return ""
	}
	if s, err := strconv.Unquote(string(b)); err == nil {
		return s
	}
	return string(b)
}

// eventSummary is what a summary shows of an event.
type eventSummary struct {
	Type         string          `json:"type"`
	Status       string          `json:"status"`
	ChatState    string          `json:"chatState"`
	SequenceList json.RawMessage `json:"sequenceList"`
}

func (e eventSummary) String() string {
	parts := []string{e.Type}
	for _, p := range []string{e.Status, e.ChatState} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	var b bytes.Buffer
	if len(e.SequenceList) > 0 && json.Compact(&b, e.SequenceList) == nil {
		parts = append(parts, b.String())
	}
	return strings.Join(parts, " ")
}

// summary describes the events of a publish (body.event) or of a messaging
// notification (body.changes[].event, or an agent socket's body.event),
// so that receipts can be told apart without opening the frame. Other
// frames have none.
func summary(data []byte) string {
	var f struct {
		Body struct {
			Sequence *int64       `json:"sequence"`
			Event    eventSummary `json:"event"`
			Changes  []struct {
				Sequence *int64       `json:"sequence"`
				Event    eventSummary `json:"event"`
			} `json:"changes"`
		} `json:"body"`
	}
	if json.Unmarshal(data, &f) != nil {
		return ""
	}
	withSeq := func(seq *int64, e eventSummary) string {
		if seq == nil {
			return e.String()
		}
		return "seq " + strconv.FormatInt(*seq, 10) + " " + e.String()
	}
	if f.Body.Event.Type != "" {
		return redactText(withSeq(f.Body.Sequence, f.Body.Event))
	}
	const most = 3
	var parts []string
	for i, ch := range f.Body.Changes {
		if ch.Event.Type == "" {
			continue
		}
		if i == most {
			parts = append(parts, fmt.Sprintf("+%d more", len(f.Body.Changes)-most))
			break
		}
		parts = append(parts, withSeq(ch.Sequence, ch.Event))
	}
	return redactText(strings.Join(parts, ", "))
}
