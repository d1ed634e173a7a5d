// Package testclock is the clock of tests that move time: the code under
// test takes its Now as its Config's Now (or its New's now), and the test
// moves it with Advance instead of sleeping. Only _test.go files import it.
package testclock

import (
	"sync"
	"time"
)

// Clock is a settable clock, safe for concurrent use: the code under test
// reads it from its own goroutines while the test moves it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock that stands at start until moved.
func New(start time.Time) *Clock { return &Clock{t: start} }

// Now is the clock's time; pass it where a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d (back, when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
