package receipts

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

func TestPublishAllAndSettle(t *testing.T) {
	down := errors.New("socket down")
	closed := &protocol.Error{Code: 409, Text: "dialog closed"}
	busy := &protocol.Error{Code: 429, Text: "slow down"}
	unanswered := &protocol.Error{Code: 408, Text: "timeout"}
	expired := &protocol.Error{Code: 401, Text: "token expired"}
	ending := fmt.Errorf("publish: %w", context.Canceled)
	tests := []struct {
		name string
		// fail is what publish answers for each batch it is asked, in order.
		fail        []error
		wantAsked   int
		wantDropped int
		wantStatus  string // of sequence 1 afterwards
		wantPending bool
	}{
		{"all published", []error{nil, nil}, 2, 0, protocol.StatusRead, false},
		{"ACCEPT lost: READ not tried, both retried", []error{down}, 1, 0, "", true},
		{"ACCEPT rate limited: kept for a retry", []error{busy}, 1, 0, "", true},
		{"ACCEPT unanswered (408): kept for a retry", []error{unanswered}, 1, 0, "", true},
		{"token refused (401): kept for the fresh token, READ not tried", []error{expired}, 1, 0, "", true},
		{"READ refused the token after ACCEPT: READ kept", []error{nil, expired}, 2, 0, protocol.StatusAccept, true},
		{"session ending: kept, not dropped", []error{ending}, 1, 0, "", true},
		{"refused for good: dropped, not asked again", []error{closed, closed}, 2, 2, protocol.StatusRead, false},
		{"READ lost after ACCEPT: READ retried", []error{nil, down}, 2, 0, protocol.StatusAccept, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := New("me")
			tr.Observe(protocol.MessagingEvent{Sequence: protocol.Seq(1), DialogID: "D", OriginatorID: "them", Event: protocol.Event{Type: protocol.EventContent}})
			if err := tr.Seen("D", 1); err != nil {
				t.Fatal(err)
			}
			batches := tr.Flush()
			if len(batches) != 2 {
				t.Fatalf("flush = %+v, want ACCEPT and READ", batches)
			}
			asked := 0
			results := PublishAll(context.Background(), batches, func(_ context.Context, b Batch) error {
				err := tt.fail[asked]
				asked++
				return err
			})
			if asked != tt.wantAsked {
				t.Errorf("publish asked %d times, want %d", asked, tt.wantAsked)
			}
			dropped := tr.Settle(batches, results)
			if len(dropped) != tt.wantDropped {
				t.Errorf("dropped %d batches, want %d", len(dropped), tt.wantDropped)
			}
			if diff := cmp.Diff(tt.wantStatus, tr.Status("D", 1)); diff != "" {
				t.Errorf("status (-want +got):\n%s", diff)
			}
			if got := tr.Pending(); got != tt.wantPending {
				t.Errorf("pending = %v, want %v", got, tt.wantPending)
			}
		})
	}
}
