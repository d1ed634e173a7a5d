package live

import (
	"context"
	"slices"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/receipts"
)

// ReceiptSink is where a session's receipts go, as its owner has it now
// (Owner.Receipts, asked on the loop).
type ReceiptSink struct {
	// Tracker holds what is due; nil: nothing can be due yet (a desk
	// before its agent's ids are known).
	Tracker *receipts.Tracker
	// Open: the upstream takes requests now.
	Open bool
	// Publish publishes one batch; it runs on the sender.
	Publish func(ctx context.Context, b receipts.Batch) error
	// Settled, if set, is told each flush's outcome, on the loop.
	Settled func(batches []receipts.Batch, results []error)
	// Sync asks the upstream for a Sync barrier (messaging's Sync): after a
	// flush that went out unanswered, receipts are held until the owner's
	// SyncUpdate releases them (ReleaseReceipts).
	Sync func(ctx context.Context) error
}

// minFlushSpacing is the least time between two flushes of a session's
// receipts: a busy conversation (reports arriving all the time) gets at
// most one AcceptStatusEvent per dialog and status every 100 ms
// (docs/protocol.md, Receipts; docs/performance.md).
const minFlushSpacing = 100 * time.Millisecond

// pacing is the loop's side of its receipts: whether a flush is armed,
// whether they are held for a catch-up, and when the last one went.
type pacing struct {
	armed, held bool
	last        time.Time
}

// ArmFlush schedules a flush when receipts are due and none is armed:
// FlushWindow from now, and no sooner than minFlushSpacing after the
// last. Nothing is armed while receipts are held.
func (l *Loop[P]) ArmFlush() {
	sink := l.owner().Receipts()
	if l.receipts.armed || l.receipts.held || sink.Tracker == nil || !sink.Tracker.Pending() {
		return
	}
	l.receipts.armed = true
	d := l.cfg.FlushWindow
	if wait := minFlushSpacing - time.Since(l.receipts.last); wait > d {
		d = wait
	}
	l.flushTimer.Reset(d)
}

// FlushNow publishes what is due at once (a session that ends).
func (l *Loop[P]) FlushNow() { l.flush(l.owner().Receipts()) }

// HoldReceipts keeps receipts from going out until ReleaseReceipts: after
// a reconnect, those in flight may or may not have landed, and the
// catch-up shows which. It reports whether they were held already.
func (l *Loop[P]) HoldReceipts() (already bool) {
	already, l.receipts.held = l.receipts.held, true
	return already
}

// ReleaseReceipts lets receipts go again and arms a flush; it reports
// whether they were held.
func (l *Loop[P]) ReleaseReceipts() (were bool) {
	were, l.receipts.held = l.receipts.held, false
	if were {
		l.ArmFlush()
	}
	return were
}

// awaitCatchUp holds receipts and asks for a Sync barrier, unless they are
// held already (a barrier is coming).
func (l *Loop[P]) awaitCatchUp(sync func(ctx context.Context) error) {
	if sync == nil || l.HoldReceipts() {
		return
	}
	l.Ops.Push(func(ctx context.Context) func() {
		err := sync(ctx)
		return func() {
			if err != nil {
				// The socket went down: the reconnect syncs again.
				l.log.Debug("sync for receipts", "error", err)
			}
		}
	})
}

// ReceiptsHeld reports whether receipts are held (HoldReceipts).
func (l *Loop[P]) ReceiptsHeld() bool { return l.receipts.held }

// flush publishes the due receipts as one request on the sender (a batch
// per dialog and status, in order), then settles the outcome on the loop:
// what failed for a reason worth a retry stays due, what was refused for
// good is logged and dropped.
func (l *Loop[P]) flush(sink ReceiptSink) {
	if l.receipts.held || !sink.Open || sink.Tracker == nil {
		return // the reconnect's release arms the flush again
	}
	tr := sink.Tracker
	batches := tr.Flush()
	if len(batches) == 0 {
		return
	}
	l.receipts.last = time.Now()
	l.Ops.Push(func(ctx context.Context) func() {
		results := receipts.PublishAll(ctx, batches, sink.Publish)
		return func() {
			for i, b := range batches {
				if dropped := tr.Settle(batches[i:i+1], results[i:i+1]); len(dropped) > 0 {
					l.log.Warn("receipt dropped", "dialog_id", b.DialogID, "status", b.Status, "sequences", b.Sequences, "error", results[i])
				}
			}
			if sink.Settled != nil {
				sink.Settled(batches, results)
			}
			if slices.ContainsFunc(results, messaging.MayHaveLanded) {
				// Due again, but only the catch-up can say whether it
				// landed: a flush meanwhile could run on the next socket
				// before that socket's catch-up and publish it twice.
				l.awaitCatchUp(sink.Sync)
			}
			l.ArmFlush()
		}
	})
}
