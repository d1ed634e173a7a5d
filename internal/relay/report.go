package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/ratelog"
	"github.com/chatwindow/chatwindow/internal/receipts"
)

// Receipts is where the customer's receipts go: the current conversation's
// tracker, published against its id (live.Owner).
func (s *Session) Receipts() live.ReceiptSink {
	conv := s.conv.ID
	return live.ReceiptSink{
		Tracker: s.tracker,
		Open:    s.conn == messaging.StateOpen,
		Publish: func(ctx context.Context, b receipts.Batch) error {
			_, err := s.up.Publish(ctx, b.DialogID, conv, b.Event())
			return err
		},
		Settled: s.settled,
		Sync:    s.up.Sync,
	}
}

func (s *Session) report(status string, items []receipts.Item) {
	now := time.Now()
	var refused int
	var first error
	defer func() {
		if refused > 0 {
			s.logRefused("report refused", "status", status, "refused", refused, "items", len(items), "error", first)
		}
	}()
	for _, it := range items {
		var err error
		var asks []string // the receipts the report makes due
		switch status {
		case "delivered":
			err = s.tracker.Delivered(it.DialogID, it.Seq)
			asks = []string{protocol.StatusAccept}
		case "seen":
			err = s.tracker.Seen(it.DialogID, it.Seq)
			asks = []string{protocol.StatusAccept, protocol.StatusRead}
		default:
			err = fmt.Errorf("%w %q", errUnknownReport, status)
		}
		if err != nil {
			if refused++; first == nil {
				first = err
			}
			s.cfg.Metrics.ReportRefused(refusal(err))
			continue
		}
		if s.cfg.Metrics == nil {
			continue
		}
		done := s.tracker.Status(it.DialogID, it.Seq)
		for _, st := range asks {
			k := receiptKey{it.DialogID, it.Seq, st}
			if _, ok := s.reportedAt[k]; ok || done == protocol.StatusRead || done == st {
				continue
			}
			if s.reportedAt == nil {
				s.reportedAt = map[receiptKey]time.Time{}
			}
			s.reportedAt[k] = now
		}
	}
	s.loop.ArmFlush()
}

var errUnknownReport = errors.New("unknown report")

// logRefused logs something a tab sent that was refused: one line per
// frame, and no more than refusalLogs allows (a page may send refused
// reports on purpose); the next line written says how many were not.
func (s *Session) logRefused(msg string, args ...any) {
	if s.refusals == nil {
		s.refusals = ratelog.New(refusalLogEvery, refusalLogBurst)
	}
	if ok, skipped := s.refusals.Allow(); ok {
		s.log.Info(msg, append(args, "not_logged_before", skipped)...)
	}
}

// A session logs a refusal at most every refusalLogEvery after a burst.
const (
	refusalLogEvery = 10 * time.Second
	refusalLogBurst = 5
)

// refusal names why the policy refused a report, for the metrics.
func refusal(err error) string {
	for _, r := range []struct {
		err  error
		name string
	}{
		{receipts.ErrUnknownDialog, "unknown_dialog"},
		{receipts.ErrUnknownSequence, "unknown_sequence"},
		{receipts.ErrOwnMessage, "own_message"},
		{receipts.ErrNotContent, "not_content"},
		{errUnknownReport, "unknown_status"},
	} {
		if errors.Is(err, r.err) {
			return r.name
		}
	}
	return "other"
}

// settled measures and counts a flush's outcome: receipt latency for each
// receipt the service took, since its first report.
func (s *Session) settled(batches []receipts.Batch, results []error) {
	if s.cfg.Metrics == nil {
		return
	}
	now := time.Now()
	for i, b := range batches {
		err := results[i]
		switch messaging.Classify(err) {
		case messaging.OK:
			s.cfg.Metrics.ReceiptsPublished(b.Status, len(b.Sequences))
		case messaging.GiveUp:
			s.cfg.Metrics.ReceiptsDropped(b.Status, len(b.Sequences))
		default:
			continue // still due (see Tracker.Settle): timed when it goes through
		}
		for _, n := range b.Sequences {
			k := receiptKey{b.DialogID, n, b.Status}
			if at, ok := s.reportedAt[k]; ok {
				if err == nil {
					s.cfg.Metrics.ReceiptLatency(now.Sub(at))
				}
				delete(s.reportedAt, k)
			}
		}
	}
	// Receipts another tab's node published (learned from the echo) are
	// never ours to time.
	for k := range s.reportedAt {
		if st := s.tracker.Status(k.dialogID, k.seq); st == protocol.StatusRead || st == k.status {
			delete(s.reportedAt, k)
		}
	}
}
