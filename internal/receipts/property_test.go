package receipts

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// world is a model of the service's dialog and of one session's view of it,
// driven by a stream of choices. It checks the receipt policy's promises
// (docs/protocol.md, Receipts) on what the service received, whatever the
// interleaving of reports, history, publish outcomes, lost connections and
// restarts (a new tracker that learns everything from the replayed history,
// as a reload on another node does).
type world struct {
	log    []protocol.MessagingEvent // the dialog as the service stores it
	queue  []protocol.MessagingEvent // echoes not yet seen by the session
	tr     *Tracker
	choose func(n int) int
}

func (w *world) append(from string, ev protocol.Event) {
	e := protocol.MessagingEvent{
		Sequence: protocol.Seq(int64(len(w.log))), DialogID: dlg, OriginatorID: from,
		OriginatorMetadata: &protocol.OriginatorMetadata{ID: from}, Event: ev,
	}
	w.log = append(w.log, e)
	w.queue = append(w.queue, e)
}

func (w *world) catchUp() {
	for _, e := range w.queue {
		w.tr.Observe(e)
	}
	w.queue = nil
}

func (w *world) step() {
	switch w.choose(9) {
	case 0:
		w.append(agent, protocol.Event{Type: protocol.EventContent, Message: "agent"})
	case 1:
		w.append(me, protocol.Event{Type: protocol.EventContent, Message: "me"})
	case 2:
		w.append(agent, protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusRead, SequenceList: protocol.Seqs{0}})
	case 3:
		if len(w.queue) > 0 { // one live event arrives
			w.tr.Observe(w.queue[0])
			w.queue = w.queue[1:]
		}
	case 4:
		_ = w.tr.Delivered(dlg, int64(w.choose(len(w.log)+2)))
	case 5:
		_ = w.tr.Seen(dlg, int64(w.choose(len(w.log)+2)))
	case 6, 7:
		w.flush()
	case 8: // restart: a fresh tracker learns from the whole history
		w.tr = New(me)
		w.tr.Track(dlg)
		w.queue = nil
		for _, e := range w.log {
			w.tr.Observe(e)
		}
	}
}

func (w *world) flush() {
	batches := w.tr.Flush()
	for i, b := range batches {
		switch w.choose(4) {
		case 0, 1: // published
			w.append(me, b.Event())
			w.tr.Published(b)
		case 2: // 429 or 5xx: this and the rest stay due
			for _, rest := range batches[i:] {
				w.tr.Failed(rest, true)
			}
			return
		case 3: // the connection died; the publish may or may not have landed
			if w.choose(2) == 0 {
				w.append(me, b.Event())
			}
			// Unanswered: this and the rest are due again, and wait for
			// the catch-up (live holds receipts until the Sync).
			for _, rest := range batches[i:] {
				w.tr.Failed(rest, true)
			}
			w.catchUp()
			return
		}
	}
}

func (w *world) check() error {
	type key struct {
		seq    int64
		status string
	}
	seen := map[key]bool{}
	for _, e := range w.log {
		if e.OriginatorID != me || e.Event.Type != protocol.EventAcceptStatus {
			continue
		}
		for _, n := range e.Event.SequenceList {
			k := key{n, e.Event.Status}
			if seen[k] {
				return fmt.Errorf("%s for %d published twice", k.status, n)
			}
			seen[k] = true
			if k.status == protocol.StatusAccept && seen[key{n, protocol.StatusRead}] {
				return fmt.Errorf("ACCEPT for %d after READ", n)
			}
			if n < 0 || n >= int64(len(w.log)) {
				return fmt.Errorf("receipt for unknown sequence %d", n)
			}
			target := w.log[n]
			if target.OriginatorID == me || !target.Event.IsContent() {
				return fmt.Errorf("receipt for %d, which is not another participant's content", n)
			}
		}
		if len(e.Event.SequenceList) == 0 {
			return fmt.Errorf("empty sequenceList published")
		}
	}
	return nil
}

func runWorld(choose func(int) int, steps int) error {
	w := &world{tr: New(me), choose: choose}
	w.tr.Track(dlg)
	for range steps {
		w.step()
		if err := w.check(); err != nil {
			return err
		}
	}
	// Everything asked for and not refused is eventually published once the
	// connection is calm: a final catch-up and successful flushes.
	w.catchUp()
	for range 3 {
		for _, b := range w.tr.Flush() {
			w.append(me, b.Event())
			w.tr.Published(b)
		}
		w.catchUp()
	}
	if w.tr.Pending() {
		return fmt.Errorf("receipts still pending after calm flushes")
	}
	return w.check()
}

func TestPropertyRandomInterleavings(t *testing.T) {
	for seed := range uint64(2000) {
		r := rand.New(rand.NewPCG(seed, 7))
		if err := runWorld(r.IntN, 200); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

func FuzzTracker(f *testing.F) {
	f.Add([]byte{0, 4, 6, 0, 5, 6, 3, 3})
	f.Add([]byte{0, 0, 1, 5, 5, 6, 3, 8, 4, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		i := 0
		choose := func(n int) int {
			if n <= 0 || i >= len(data) {
				return 0
			}
			v := int(data[i]) % n
			i++
			return v
		}
		if err := runWorld(choose, len(data)); err != nil {
			t.Fatal(err)
		}
	})
}
