package receipts

import (
	"context"
	"fmt"
	"testing"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// BenchmarkReceiptsFlush measures one flush window of a session's receipts
// as the relay runs it: a tab reports seqs agent messages delivered and then
// seen, the flush turns them into sequenceList batches (ACCEPT, then READ),
// PublishAll hands each batch's event to the publisher (here one that
// succeeds at once: the socket is not measured) and Settle records the
// outcome. The dialog has no other messages.
//
// One op is one flush; ns/report is per report (a sequence reported
// delivered and seen is two reports). Each op gets a tracker of its own,
// built outside the timer, so every flush sees the same state. It measures
// and asserts nothing about speed.
func BenchmarkReceiptsFlush(b *testing.B) {
	for _, seqs := range []int{1, 10, 100} {
		b.Run(fmt.Sprintf("seqs=%d", seqs), func(b *testing.B) { benchFlush(b, 0, seqs) })
	}
}

// BenchmarkReceiptsFlushLongDialog is BenchmarkReceiptsFlush in a dialog
// whose history holds 500 messages already read: Flush looks at every
// sequence of the dialog, so its cost grows with the conversation.
func BenchmarkReceiptsFlushLongDialog(b *testing.B) {
	const history = 500
	b.Run(fmt.Sprintf("history=%d/seqs=10", history), func(b *testing.B) { benchFlush(b, history, 10) })
}

// flushTracker is a tracker of a dialog with history read messages and
// seqs new ones observed and not yet reported.
func flushTracker(history, seqs int) *Tracker {
	t := New(me)
	t.Track(dlg)
	n := int64(0)
	for range history {
		t.Observe(content(n, agent))
		n++
	}
	if history > 0 {
		// The customer's own READ of them, as the history replays it.
		all := make([]int64, history)
		for i := range all {
			all[i] = int64(i)
		}
		t.Observe(receipt(n, me, protocol.StatusRead, all...))
		n++
	}
	for range seqs {
		t.Observe(content(n, agent))
		n++
	}
	return t
}

func benchFlush(b *testing.B, history, seqs int) {
	first := int64(history)
	if history > 0 {
		first++ // the READ event's own sequence
	}
	ctx := context.Background()
	// The publisher: what the relay's does short of the socket.
	publish := func(_ context.Context, bt Batch) error {
		_ = bt.Event()
		return nil
	}
	// Check once, outside the timer, that the op does what it says.
	{
		t := flushTracker(history, seqs)
		for i := range int64(seqs) {
			_ = t.Delivered(dlg, first+i)
			_ = t.Seen(dlg, first+i)
		}
		batches := t.Flush()
		if len(batches) != 2 || len(batches[0].Sequences) != seqs || len(batches[1].Sequences) != seqs {
			b.Fatalf("the flush made %+v", batches)
		}
	}
	// Trackers are built chunk at a time, about a million sequences' worth
	// (the timer is stopped while they are).
	chunk := min(4096, max(1, (1<<20)/(history+seqs)))
	var pool []*Tracker
	var batches int
	b.ReportAllocs()
	for b.Loop() {
		if len(pool) == 0 {
			b.StopTimer()
			pool = make([]*Tracker, chunk)
			for i := range pool {
				pool[i] = flushTracker(history, seqs)
			}
			b.StartTimer()
		}
		t := pool[len(pool)-1]
		pool[len(pool)-1] = nil
		pool = pool[:len(pool)-1]
		for i := range int64(seqs) {
			if err := t.Delivered(dlg, first+i); err != nil {
				b.Fatal(err)
			}
			if err := t.Seen(dlg, first+i); err != nil {
				b.Fatal(err)
			}
		}
		out := t.Flush()
		t.Settle(out, PublishAll(ctx, out, publish))
		batches = len(out)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(2*seqs), "ns/report")
	b.ReportMetric(float64(batches), "batches/op")
}
