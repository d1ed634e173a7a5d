package messaging

import (
	"math/rand/v2"
	"time"
)

// Backoff is exponential back-off with full jitter: the n-th retry (from 0)
// waits a uniformly random time in [0, min(Cap, Base·2ⁿ)]. Full jitter
// spreads many clients reconnecting after one outage, which LivePerson asks
// for (it blocks clients that flood it).
type Backoff struct {
	Base time.Duration // 0 means 500 ms
	Cap  time.Duration // 0 means 30 s
	// Rand returns a uniform value in [0, n); nil means math/rand/v2's
	// Int64N. Tests inject their own.
	Rand func(n int64) int64
}

// Ceiling is the upper bound of the attempt-th delay: min(Cap, Base·2^attempt).
func (b Backoff) Ceiling(attempt int) time.Duration {
	base, cap := b.Base, b.Cap
	if base <= 0 {
		base = 500 * time.Millisecond
	}
	if cap <= 0 {
		cap = 30 * time.Second
	}
	if cap < base {
		cap = base
	}
	d := base
	for i := 0; i < attempt && d < cap; i++ {
		d *= 2
	}
	return min(d, cap)
}

// Delay is the attempt-th delay (attempt counts from 0).
func (b Backoff) Delay(attempt int) time.Duration {
	ceil := b.Ceiling(attempt)
	rnd := b.Rand
	if rnd == nil {
		rnd = rand.Int64N
	}
	return time.Duration(rnd(int64(ceil) + 1))
}
