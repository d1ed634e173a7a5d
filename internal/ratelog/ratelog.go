// Package ratelog keeps a flood of one kind of log line from filling the
// log: a page that sends refused frames or reports on purpose (or by a
// bug) gets a line now and then, each saying how many were left out,
// instead of one line per refusal.
package ratelog

import (
	"time"

	"golang.org/x/time/rate"
)

// Limiter decides which lines of one kind are written. It is not safe for
// concurrent use: its one owner (a session's loop, a socket's reader)
// calls it.
type Limiter struct {
	lim     *rate.Limiter
	skipped int
}

// New allows burst lines at once, then one every every.
func New(every time.Duration, burst int) *Limiter {
	return &Limiter{lim: rate.NewLimiter(rate.Every(every), burst)}
}

// Allow reports whether to write the line now and, if so, how many lines
// were left out since the last one written (for the line to say).
func (l *Limiter) Allow() (ok bool, skipped int) {
	if !l.lim.Allow() {
		l.skipped++
		return false, 0
	}
	skipped, l.skipped = l.skipped, 0
	return true, skipped
}
