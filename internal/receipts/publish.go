package receipts

import (
	"context"
	"errors"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Retryable reports whether a failed publish is worth retrying: anything
// but a definite 4xx (429 is worth a retry, and so is a socket that died).
func Retryable(err error) bool {
	var perr *protocol.Error
	if errors.As(err, &perr) {
		return perr.Code == 429 || perr.Code >= 500
	}
	return true
}

// PublishAll publishes a Flush's batches in order with publish and returns
// each one's outcome. Once a batch failed for a reason worth a retry, the
// rest of the flush is failed with the same error unsent, so that a READ
// never overtakes its ACCEPT (rule 3).
func PublishAll(ctx context.Context, batches []Batch, publish func(ctx context.Context, b Batch) error) []error {
	results := make([]error, len(batches))
	for i, b := range batches {
		if i > 0 && results[i-1] != nil && Retryable(results[i-1]) {
			results[i] = results[i-1]
			continue
		}
		results[i] = publish(ctx, b)
	}
	return results
}

// Settle records PublishAll's outcomes (Published, or Failed with a retry
// unless the refusal was definite) and returns the batches dropped for
// good, for the caller to log.
func (t *Tracker) Settle(batches []Batch, results []error) (dropped []Batch) {
	for i, b := range batches {
		switch err := results[i]; {
		case err == nil:
			t.Published(b)
		case Retryable(err):
			t.Failed(b, true)
		default:
			t.Failed(b, false)
			dropped = append(dropped, b)
		}
	}
	return dropped
}
