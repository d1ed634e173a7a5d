// Package transcript keeps a conversation's messages as one participant
// sees them, and the delivery state of that participant's own messages:
// the part the customer's window (relay) and the agent console share.
//
// A message of one's own starts local, while its publish is in flight
// (Pending); it gets its sequence from the publish response or from its
// echo, whichever comes first (Sent), and the other side's ACCEPT and READ
// move it forward, never back. Receipts may overtake their message; events
// are replayed (history, catch-up) and applied once. It is pure data: no
// clock reads (callers pass times), no goroutines, not safe for concurrent
// use. Who wrote a message is the caller's to say (Message.Own).
package transcript

import (
	"iter"
	"slices"
	"strconv"
	"time"
)

// Delivery states of one's own messages (the ticks; the V of docs/protocol.md,
// Receipts).
const (
	Pending  = "pending"  // the publish is in flight
	Sent     = "sent"     // it has a sequence
	Accepted = "accepted" // the other side's ACCEPT (delivered)
	Read     = "read"     // the other side's READ
	Failed   = "failed"   // the publish failed: the page offers a retry
)

// Message is the shared part of a message; callers embed it in their own
// message type next to the fields only they need.
type Message struct {
	// Key is stable for the message's whole life (its DOM id): "l-"+LocalID
	// while it is being sent, kept when it gets its sequence; else
	// "m-"+DialogID+"-"+Seq.
	Key      string
	DialogID string
	Seq      int64
	HasSeq   bool
	// Own: published by this participant; it has a Delivery state.
	Own  bool
	Text string
	// Attachment: not text (a shared file): never the echo of a local
	// message by its Text. Ref names what it attaches (a shared file's
	// relativePath): an own attachment's echo is the local attachment's
	// with the same Ref.
	Attachment bool
	Ref        string
	// At is the server's time once the message is stored (the time it was
	// sent from here before that).
	At time.Time
	// LocalID is the id this side gave a message it sends (for a retry).
	LocalID string
	// Delivery and the time of each state, on own messages.
	Delivery                   string
	SentAt, AcceptedAt, ReadAt time.Time
}

func (m *Message) core() *Message { return m }

// Entry is a pointer to a caller's message type that embeds Message.
type Entry[E any] interface {
	*E
	core() *Message
}

// Transcript is the messages of a conversation: stored ones in sequence
// order per dialog (by server time across dialogs), then the local ones
// still waiting for their sequence. Its zero value is empty and ready.
type Transcript[E any, M Entry[E]] struct {
	messages []M
	bySeq    map[seqKey]M
	byLocal  map[string]M
	// early holds the other side's receipts of sequences not yet known here
	// (the receipt overtook the publish response, or history is merged in
	// after live events).
	early map[seqKey]mark
}

type seqKey struct {
	dialog string
	seq    int64
}

type mark struct {
	read bool
	at   time.Time
}

func (t *Transcript[E, M]) ready() {
	if t.bySeq == nil {
		t.bySeq, t.byLocal, t.early = map[seqKey]M{}, map[string]M{}, map[seqKey]mark{}
	}
}

// Placed says what Add did with a message.
type Placed int

const (
	// Duplicate: the sequence is known already; nothing changed.
	Duplicate Placed = iota
	// Matched: the echo of a local message; that one got the sequence.
	Matched
	// Appended: added last.
	Appended
	// BeforeLocal: added after every stored message, before local ones.
	BeforeLocal
	// Inserted: added before stored messages (history merged in late).
	Inserted
)

// All yields the stored messages in order. Callers may change their own
// fields, never those of Message.
func (t *Transcript[E, M]) All() iter.Seq[M] { return slices.Values(t.messages) }

// Messages returns copies of the messages in order.
func (t *Transcript[E, M]) Messages() []E {
	out := make([]E, len(t.messages))
	for i, m := range t.messages {
		out[i] = *m
	}
	return out
}

// Last returns a copy of the last message.
func (t *Transcript[E, M]) Last() (E, bool) {
	if len(t.messages) == 0 {
		var zero E
		return zero, false
	}
	return *t.messages[len(t.messages)-1], true
}

// Get returns the stored message (dialogID, seq).
func (t *Transcript[E, M]) Get(dialogID string, seq int64) (M, bool) {
	m, ok := t.bySeq[seqKey{dialogID, seq}]
	return m, ok
}

// Local returns the message sent here with this local id.
func (t *Transcript[E, M]) Local(localID string) (M, bool) {
	m, ok := t.byLocal[localID]
	return m, ok
}

// Add records a stored message of an event: e's Message has DialogID, Seq,
// Own, Text and At (the server's). An own message whose text (an
// Attachment: whose Ref) is that of a local message still waiting for its
// sequence is that message's echo: the oldest such one gets the sequence
// instead (Matched). Add returns the message as kept.
func (t *Transcript[E, M]) Add(e E) (M, Placed) {
	t.ready()
	m := M(&e)
	c := m.core()
	if old, dup := t.bySeq[seqKey{c.DialogID, c.Seq}]; dup {
		return old, Duplicate
	}
	if c.Own {
		l := t.matchLocal(c, nil)
		if l != nil {
			t.attach(l, c.DialogID, c.Seq, c.At)
			return l, Matched
		}
		c.Delivery, c.SentAt = Sent, c.At
	}
	c.Key, c.HasSeq, c.LocalID = key(c.DialogID, c.Seq), true, ""
	t.bySeq[seqKey{c.DialogID, c.Seq}] = m
	i := t.insert(m)
	t.applyEarly(m)
	switch {
	case i == len(t.messages)-1:
		return m, Appended
	case !t.messages[i+1].core().HasSeq:
		return m, BeforeLocal
	}
	return m, Inserted
}

// Sending adds an own message while its publish is in flight: e's Message
// has LocalID, Text and At. A known LocalID is a retry: that message is
// pending again and added is false.
func (t *Transcript[E, M]) Sending(e E) (m M, added bool) {
	t.ready()
	m = M(&e)
	c := m.core()
	if l, ok := t.byLocal[c.LocalID]; ok {
		l.core().Delivery = Pending
		return l, false
	}
	c.Key, c.Own, c.Delivery, c.HasSeq = "l-"+c.LocalID, true, Pending, false
	t.byLocal[c.LocalID] = m
	t.messages = append(t.messages, m)
	return m, true
}

// Sent records the sequence the publish response gave a local message
// (at: when, if its echo did not say). It returns copies of the messages
// that changed: more than one when two identical texts were in flight and
// an echo was matched to the wrong one (each gets what its own response
// named, with the receipts that came with it).
func (t *Transcript[E, M]) Sent(localID, dialogID string, seq int64, at time.Time) []E {
	m, ok := t.byLocal[localID]
	if !ok {
		return nil
	}
	c := m.core()
	if c.HasSeq && c.DialogID == dialogID && c.Seq == seq {
		return nil // the echo was faster
	}
	changed := []M{m}
	if other, taken := t.bySeq[seqKey{dialogID, seq}]; taken && other != m {
		// The echo of this publish was matched to other: swap what each
		// has of the stored message.
		t.swap(m, other)
		changed = append(changed, other)
	} else if c.HasSeq {
		// This one was matched to another publish's echo: that sequence
		// belongs to the next local message with the same text.
		if o := t.matchLocal(c, m); o != nil {
			t.swap(m, o)
			changed = append(changed, o)
		} else {
			delete(t.bySeq, seqKey{c.DialogID, c.Seq})
			c.HasSeq, c.Delivery, c.SentAt, c.AcceptedAt, c.ReadAt = false, Pending, time.Time{}, time.Time{}, time.Time{}
		}
		t.attach(m, dialogID, seq, time.Time{})
	} else {
		t.attach(m, dialogID, seq, time.Time{})
	}
	if c.SentAt.IsZero() {
		c.SentAt = at
	}
	out := make([]E, len(changed))
	for i, x := range changed {
		out[i] = *x
	}
	return out
}

// Failed marks a local message as not sent (unless it got its sequence
// after all) and returns a copy of it.
func (t *Transcript[E, M]) Failed(localID string) (E, bool) {
	m, ok := t.byLocal[localID]
	if !ok || m.core().HasSeq {
		var zero E
		return zero, false
	}
	m.core().Delivery = Failed
	return *m, true
}

// Receipt applies the other side's ACCEPT (read false) or READ of these
// sequences of a dialog to own messages; a sequence not known yet keeps
// its receipt until its message arrives. It returns copies of the messages
// whose state moved. Whose receipts count is the caller's to say.
func (t *Transcript[E, M]) Receipt(dialogID string, seqs []int64, read bool, at time.Time) []E {
	t.ready()
	var out []E
	for _, n := range seqs {
		k := seqKey{dialogID, n}
		m, ok := t.bySeq[k]
		if !ok {
			if prev, had := t.early[k]; !had || (read && !prev.read) {
				t.early[k] = mark{read: read, at: at}
			}
			continue
		}
		if m.core().Own && advance(m.core(), read, at) {
			out = append(out, *m)
		}
	}
	return out
}

// advance moves an own message's state forward (never back) and reports
// a change. READ implies delivered.
func advance(c *Message, read bool, at time.Time) bool {
	switch {
	case read && c.Delivery != Read:
		c.Delivery, c.ReadAt = Read, at
		if c.AcceptedAt.IsZero() {
			c.AcceptedAt = at
		}
		return true
	case !read && (c.Delivery == Sent || c.Delivery == Pending):
		c.Delivery, c.AcceptedAt = Accepted, at
		return true
	}
	return false
}

func (t *Transcript[E, M]) applyEarly(m M) {
	c := m.core()
	k := seqKey{c.DialogID, c.Seq}
	if e, ok := t.early[k]; ok {
		delete(t.early, k)
		if c.Own {
			advance(c, e.read, e.at)
		}
	}
}

// matchLocal finds the oldest local message other than not that like has
// the text of (for an attachment: the Ref of, when it has one) and still
// waits for its sequence (being sent, or failed: it may have landed after
// all).
func (t *Transcript[E, M]) matchLocal(like *Message, not M) M {
	if like.Attachment && like.Ref == "" {
		return nil
	}
	for _, m := range t.messages {
		c := m.core()
		if m == not || c.LocalID == "" || c.HasSeq || c.Attachment != like.Attachment {
			continue
		}
		if like.Attachment && c.Ref == like.Ref || !like.Attachment && c.Text == like.Text {
			return m
		}
	}
	return nil
}

// attach gives a local message its sequence (at: the echo's time, if any).
func (t *Transcript[E, M]) attach(m M, dialogID string, seq int64, at time.Time) {
	c := m.core()
	c.DialogID, c.Seq, c.HasSeq = dialogID, seq, true
	if c.Delivery == Pending || c.Delivery == Failed {
		c.Delivery = Sent
	}
	if !at.IsZero() && at.UnixMilli() != 0 {
		c.At, c.SentAt = at, at
	}
	t.bySeq[seqKey{dialogID, seq}] = m
	t.move(m)
	t.applyEarly(m)
}

// swap exchanges what two local messages with the same text have of the
// stored message (sequence, time, state and receipts) and files both
// again.
func (t *Transcript[E, M]) swap(a, b M) {
	x, y := a.core(), b.core()
	x.DialogID, y.DialogID = y.DialogID, x.DialogID
	x.Seq, y.Seq = y.Seq, x.Seq
	x.HasSeq, y.HasSeq = y.HasSeq, x.HasSeq
	x.At, y.At = y.At, x.At
	x.Delivery, y.Delivery = y.Delivery, x.Delivery
	x.SentAt, y.SentAt = y.SentAt, x.SentAt
	x.AcceptedAt, y.AcceptedAt = y.AcceptedAt, x.AcceptedAt
	x.ReadAt, y.ReadAt = y.ReadAt, x.ReadAt
	for _, m := range []M{a, b} {
		if c := m.core(); c.HasSeq {
			t.bySeq[seqKey{c.DialogID, c.Seq}] = m
		}
		t.move(m)
	}
}

// move files m again in its place (its sequence changed).
func (t *Transcript[E, M]) move(m M) {
	i := slices.Index(t.messages, m)
	t.messages = slices.Delete(t.messages, i, i+1)
	t.insert(m)
}

// insert places m and returns its index: a local one last; a stored one
// after the stored messages before it (same dialog: smaller sequence;
// another dialog: not later), so before the local ones.
func (t *Transcript[E, M]) insert(m M) int {
	c := m.core()
	i := len(t.messages)
	for c.HasSeq && i > 0 {
		p := t.messages[i-1].core()
		after := !p.HasSeq ||
			(p.DialogID == c.DialogID && p.Seq > c.Seq) ||
			(p.DialogID != c.DialogID && p.At.After(c.At))
		if !after {
			break
		}
		i--
	}
	t.messages = slices.Insert(t.messages, i, m)
	return i
}

func key(dialogID string, seq int64) string {
	return "m-" + dialogID + "-" + strconv.FormatInt(seq, 10)
}
