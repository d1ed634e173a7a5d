// Package receipts is the receipt policy (docs/protocol.md, Receipts) as pure
// code: which sequences of a conversation a consumer may and must acknowledge
// with ACCEPT (delivered) and READ (seen), never twice and never backwards,
// learned from the dialogs' own history, and batched into sequenceLists.
//
// A Tracker knows nothing of sockets or time. The relay feeds it every event
// of the conversation's dialogs (history, catch-up and live alike), the tabs'
// reports, and the outcome of each publish; it asks Flush for what to send.
package receipts

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Reasons a tab's report is refused (docs/protocol.md, Receipts: only the
// truth). Refused reports are never published.
var (
	ErrUnknownDialog   = errors.New("unknown dialog")
	ErrUnknownSequence = errors.New("unknown sequence")
	ErrOwnMessage      = errors.New("the customer's own message")
	ErrNotContent      = errors.New("not content")
)

// level is how far a sequence has got: none → ACCEPT → READ.
type level uint8

const (
	none level = iota
	accepted
	read
)

func (l level) status() string {
	if l == read {
		return protocol.StatusRead
	}
	return protocol.StatusAccept
}

func levelOf(status string) level {
	switch status {
	case protocol.StatusAccept:
		return accepted
	case protocol.StatusRead:
		return read
	}
	return none
}

// seqState is what the tracker knows of one sequence of a dialog.
type seqState struct {
	// content: an event of another participant that receipts apply to.
	// Other stored events are remembered as !content so that reports of
	// them are refused with the right reason.
	content bool
	own     bool
	// done is the highest status known to be published (from the history's
	// echo of the customer's own AcceptStatusEvents, or a publish answered
	// with success); want is the highest status asked for.
	done, want level
	// inAccept, inRead: a publish of that status is in flight.
	inAccept, inRead bool
}

// have is how far the sequence has got or is getting.
func (s *seqState) have() level {
	switch {
	case s.done == read || s.inRead:
		return read
	case s.done == accepted || s.inAccept:
		return accepted
	}
	return none
}

func (s *seqState) setFlight(l level, on bool) {
	if l == read {
		s.inRead = on
	} else {
		s.inAccept = on
	}
}

type dialog struct {
	seqs map[int64]*seqState
	// due holds the sequences that may be due (asked for beyond what is
	// published or in flight), so that a flush costs what is due, not the
	// length of the conversation. Entries no longer due are dropped when
	// met.
	due map[int64]struct{}
}

// markDue notes that n may be due.
func (d *dialog) markDue(n int64, s *seqState) {
	if s.want > s.have() {
		d.due[n] = struct{}{}
	}
}

// Tracker is the receipt state of one consumer's conversation: all its
// dialogs. It is not safe for concurrent use; its owner (the relay) holds
// it under its own lock.
type Tracker struct {
	self    string
	dialogs map[string]*dialog
}

// New returns a tracker for the consumer whose id is self (its token's sub):
// events originated by self are the customer's own.
func New(self string) *Tracker {
	return &Tracker{self: self, dialogs: map[string]*dialog{}}
}

func (t *Tracker) dialog(id string) *dialog {
	d, ok := t.dialogs[id]
	if !ok {
		d = &dialog{seqs: map[int64]*seqState{}, due: map[int64]struct{}{}}
		t.dialogs[id] = d
	}
	return d
}

func (d *dialog) seq(n int64) *seqState {
	s, ok := d.seqs[n]
	if !ok {
		s = &seqState{}
		d.seqs[n] = s
	}
	return s
}

// Observe takes one event of a dialog, whether from history, catch-up or
// live. Content of other participants becomes acknowledgeable; the
// customer's own receipts mark their sequences as published, so that a
// reload, another tab, another server node or a reconnect never repeats them.
func (t *Tracker) Observe(ev protocol.MessagingEvent) {
	seq, ok := ev.Seq()
	if !ok || ev.DialogID == "" {
		return // chat states are not stored and not acknowledged
	}
	d := t.dialog(ev.DialogID)
	s := d.seq(seq)
	own := ev.Originator() == t.self || ev.OriginatorID == t.self
	s.own = own
	s.content = !own && ev.Event.IsContent()
	if !own || ev.Event.Type != protocol.EventAcceptStatus {
		return
	}
	l := levelOf(ev.Event.Status)
	if l == none {
		return
	}
	for _, n := range ev.Event.SequenceList {
		target := d.seq(n)
		target.done = max(target.done, l)
	}
}

// Track makes a dialog known before any of its events arrived, so that its
// reports are judged by sequence rather than refused as an unknown dialog.
func (t *Tracker) Track(dialogID string) { t.dialog(dialogID) }

// Delivered records that a tab inserted the message (dialogID, seq) into its
// page: ACCEPT is due unless already published or asked for.
func (t *Tracker) Delivered(dialogID string, seq int64) error {
	return t.ask(dialogID, seq, accepted)
}

// Seen records that a tab showed the message to the customer (visible,
// focused, in view for the dwell): READ is due, and ACCEPT before it if it
// was never published.
func (t *Tracker) Seen(dialogID string, seq int64) error {
	return t.ask(dialogID, seq, read)
}

func (t *Tracker) ask(dialogID string, seq int64, l level) error {
	d, ok := t.dialogs[dialogID]
	if !ok {
		return fmt.Errorf("report %s %d: %w", dialogID, seq, ErrUnknownDialog)
	}
	s, ok := d.seqs[seq]
	switch {
	case !ok:
		return fmt.Errorf("report %s %d: %w", dialogID, seq, ErrUnknownSequence)
	case s.own:
		return fmt.Errorf("report %s %d: %w", dialogID, seq, ErrOwnMessage)
	case !s.content:
		return fmt.Errorf("report %s %d: %w", dialogID, seq, ErrNotContent)
	}
	s.want = max(s.want, l)
	d.markDue(seq, s)
	return nil
}

// Item is one message a page reports on: its dialog and sequence.
type Item struct {
	DialogID string
	Seq      int64
}

// Batch is one AcceptStatusEvent to publish: one dialog, one status, its
// sequences ascending.
type Batch struct {
	DialogID  string
	Status    string
	Sequences []int64
}

// Event returns the batch as the event to publish.
func (b Batch) Event() protocol.Event {
	return protocol.Event{Type: protocol.EventAcceptStatus, Status: b.Status, SequenceList: slices.Clone(b.Sequences)}
}

// MaxBatch bounds a sequenceList (the service refuses more than 1000).
const MaxBatch = 500

// Flush returns what is due and not yet in flight, and marks it in flight:
// per dialog (in id order) the ACCEPT batch first, then READ, each ascending.
// A READ whose ACCEPT was never published takes its ACCEPT along in the same
// flush (docs/protocol.md, Receipts: READ); an ACCEPT is never sent for a
// sequence already read. The caller publishes the batches in order and
// reports each outcome with Published or Failed; when one fails for a reason
// worth a retry, the rest of the same flush should be failed too (with
// retry), so that a READ never overtakes its ACCEPT.
func (t *Tracker) Flush() []Batch {
	var out []Batch
	for _, id := range slices.Sorted(maps.Keys(t.dialogs)) {
		d := t.dialogs[id]
		if len(d.due) == 0 {
			continue
		}
		var acc, rd []int64
		for _, n := range slices.Sorted(maps.Keys(d.due)) {
			delete(d.due, n) // in flight now, or not due after all
			s := d.seqs[n]
			have := s.have()
			if s.want <= have {
				continue
			}
			if have < accepted {
				acc = append(acc, n)
				s.inAccept = true
			}
			if s.want == read {
				rd = append(rd, n)
				s.inRead = true
			}
		}
		out = appendBatches(out, id, protocol.StatusAccept, acc)
		out = appendBatches(out, id, protocol.StatusRead, rd)
	}
	return out
}

func appendBatches(out []Batch, dialogID, status string, seqs []int64) []Batch {
	for chunk := range slices.Chunk(seqs, MaxBatch) {
		out = append(out, Batch{DialogID: dialogID, Status: status, Sequences: chunk})
	}
	return out
}

// Published records that a batch was accepted by the service.
func (t *Tracker) Published(b Batch) {
	d := t.dialog(b.DialogID)
	l := levelOf(b.Status)
	for _, n := range b.Sequences {
		s := d.seq(n)
		s.done = max(s.done, l)
		s.setFlight(l, false)
		d.markDue(n, s) // a READ asked for while its ACCEPT was in flight
	}
}

// Failed records that a batch could not be published. With retry (socket
// down, 5xx, 429, a refused token: see Settle) its sequences stay due and the
// next Flush offers them again; without (a 4xx refusal such as a closed
// dialog) they are dropped: the tracker will not ask for them again
// (docs/protocol.md, Receipts: never lost, never early).
func (t *Tracker) Failed(b Batch, retry bool) {
	d := t.dialog(b.DialogID)
	l := levelOf(b.Status)
	for _, n := range b.Sequences {
		s := d.seq(n)
		s.setFlight(l, false)
		if !retry {
			// Dropped for good: pretend it went out so it is not asked again.
			s.done = max(s.done, l)
		}
		d.markDue(n, s)
	}
}

// Status returns the highest receipt status published for (dialogID, seq):
// "", ACCEPT or READ.
func (t *Tracker) Status(dialogID string, seq int64) string {
	d, ok := t.dialogs[dialogID]
	if !ok {
		return ""
	}
	s, ok := d.seqs[seq]
	if !ok || s.done == none {
		return ""
	}
	return s.done.status()
}

// Pending reports whether anything is due and not in flight.
func (t *Tracker) Pending() bool {
	for _, d := range t.dialogs {
		for n := range d.due {
			if s := d.seqs[n]; s.want > s.have() {
				return true
			}
			delete(d.due, n) // published meanwhile (an echo, another node)
		}
	}
	return false
}
