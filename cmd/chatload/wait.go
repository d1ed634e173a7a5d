package main

import (
	"context"
	"time"
)

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain waits (at most max) until every message accepted by the service
// was shown by its tab, or none arrived for a second.
func drain(ctx context.Context, r *loadRun, max time.Duration) {
	deadline := time.Now().Add(max)
	last, still := r.received.Load(), 0
	for time.Now().Before(deadline) && r.received.Load() < r.published.Load() {
		if sleep(ctx, 100*time.Millisecond) != nil {
			return
		}
		if n := r.received.Load(); n == last {
			if still++; still >= 10 {
				return
			}
		} else {
			last, still = n, 0
		}
	}
	sleep(ctx, 300*time.Millisecond) // the last reports and receipts
}

// settle waits (at most max) until every report the tabs sent has its
// receipt back at the agents, the dwell's late "seen" reports included
// (two checks in a row, a dwell apart).
func settle(ctx context.Context, sessions []*session, max time.Duration) bool {
	deadline := time.Now().Add(max)
	calm := 0
	for time.Now().Before(deadline) {
		missing := 0
		for _, s := range sessions {
			a, rd := s.missing()
			missing += a + rd
		}
		if missing == 0 {
			if calm++; calm >= 2 {
				return true
			}
		} else {
			calm = 0
		}
		if sleep(ctx, 700*time.Millisecond) != nil {
			return false
		}
	}
	return false
}
