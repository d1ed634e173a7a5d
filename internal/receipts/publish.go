package receipts

import (
	"context"

	"github.com/chatwindow/chatwindow/internal/messaging"
)

// PublishAll publishes a Flush's batches in order with publish and returns
// each one's outcome. Once a batch failed for a reason other than a
// refusal to give up on (see messaging.Classify), the rest of the flush is
// failed with the same error unsent, so that a READ never overtakes its
// ACCEPT (docs/protocol.md, Receipts: never lost, never early).
func PublishAll(ctx context.Context, batches []Batch, publish func(ctx context.Context, b Batch) error) []error {
	results := make([]error, len(batches))
	for i, b := range batches {
		if i > 0 && results[i-1] != nil && messaging.Classify(results[i-1]) != messaging.GiveUp {
			results[i] = results[i-1]
			continue
		}
		results[i] = publish(ctx, b)
	}
	return results
}

// Settle records PublishAll's outcomes and returns the batches dropped for
// good, for the caller to log. As messaging.Classify says: a batch the
// service refused on its merits (a 4xx such as a closed dialog) is
// dropped; one that failed otherwise stays due and goes out again once
// the session is open: the socket died or the service was busy (Retry),
// the service refused the token, not the receipt (RefreshToken: it goes
// out on the fresh token's connection), or the session is ending
// (Cancelled: nothing refused it).
func (t *Tracker) Settle(batches []Batch, results []error) (dropped []Batch) {
	for i, b := range batches {
		switch messaging.Classify(results[i]) {
		case messaging.OK:
			t.Published(b)
		case messaging.GiveUp:
			t.Failed(b, false)
			dropped = append(dropped, b)
		default:
			t.Failed(b, true)
		}
	}
	return dropped
}
