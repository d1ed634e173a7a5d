package relay

import (
	"context"
	"errors"
	"fmt"
)

// Rating is the customer's answer to the legacy satisfaction survey of a
// closed conversation (Legacy - Post Conversation Survey (CSAT);
// schema/types/csat.json): what they chose, nothing assumed.
type Rating struct {
	// Rate is 1..5 (0 when Skipped).
	Rate int
	// Resolved answers "was your question resolved?"; nil: not answered.
	Resolved *bool
	// Skipped: the customer declined to rate.
	Skipped bool
}

// ErrRating is a rating the window cannot send (wrapped with why).
var ErrRating = errors.New("not a rating")

// csat is the rating as the CSATRate field carries it: csat.json requires
// every field, so an unanswered resolution goes as false with the status
// PARTIALLY_FILLED saying it was not answered; a declined survey is
// SKIPPED with rate 0 (docs/protocol.md, Conversations).
func (r Rating) csat() (rate int, resolved bool, status string, err error) {
	switch {
	case r.Skipped:
		return 0, false, "SKIPPED", nil
	case r.Rate < 1 || r.Rate > 5:
		return 0, false, "", fmt.Errorf("%w: rate %d", ErrRating, r.Rate)
	case r.Resolved == nil:
		return r.Rate, false, "PARTIALLY_FILLED", nil
	}
	return r.Rate, *r.Resolved, "FILLED", nil
}

// rate sends the customer's rating of the closed conversation (offered
// only when it had no post-conversation survey).
func (s *Session) rate(r Rating) {
	id := s.conv.ID
	if id == "" || s.conv.Phase != PhaseClosed {
		return
	}
	rate, resolved, status, err := r.csat()
	if err != nil {
		s.logRefused("rating refused", "error", err)
		return
	}
	s.loop.Request(func(ctx context.Context) error {
		return s.up.RateCSAT(ctx, id, rate, resolved, status)
	}, func(err error) {
		if err != nil {
			s.log.Warn("rate conversation", "conversation_id", id, "status", status, "error", err)
			s.broadcast(Change{Announce: "Your rating could not be sent. Please try again."})
			return
		}
		if s.conv.ID == id {
			s.broadcast(s.conv.SetRating(rate))
		}
	})
}
