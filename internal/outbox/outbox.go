// Package outbox is what a live session (the window's relay session, the
// agent console's desk) keeps for each page that shows it: a bounded queue
// of rendered frames, and why the session let the page go. A session never
// waits on a page: a page whose queue is full is let go as slow, and its
// page reconnects and gets the whole view anew.
package outbox

import "sync"

// Reason is why a session let a page go.
type Reason int

// Reasons, each with the close the page's socket gets (see web).
const (
	// Detached: the page left, or the session ended (the page reconnects).
	Detached Reason = iota
	// Slow: the page fell a whole queue behind (it reconnects, 1013).
	Slow
	// TooMany: the session had enough pages (no reconnect, 1008).
	TooMany
	// SignedOut: the console's desk was signed out (no reconnect, 1000).
	SignedOut
)

// Outbox is one page's queue. Its owner (the session's loop) offers frames
// and ends it; the page's socket writer reads Out until Done.
type Outbox struct {
	out    chan []byte
	done   chan struct{}
	once   sync.Once
	reason Reason // set before done closes
}

// New returns an outbox that holds up to size frames.
func New(size int) *Outbox {
	return &Outbox{out: make(chan []byte, size), done: make(chan struct{})}
}

// Out is what to send to the page, in order.
func (o *Outbox) Out() <-chan []byte { return o.out }

// Done is closed when the session let the page go.
func (o *Outbox) Done() <-chan struct{} { return o.done }

// Reason says why the page was let go; false while it was not.
func (o *Outbox) Reason() (Reason, bool) {
	select {
	case <-o.done:
		return o.reason, true
	default:
		return 0, false
	}
}

// Offer queues b without waiting; false when the queue is full (the
// caller ends the outbox as Slow).
func (o *Outbox) Offer(b []byte) bool {
	select {
	case o.out <- b:
		return true
	default:
		return false
	}
}

// End lets the page go for r; only the first End counts.
func (o *Outbox) End(r Reason) {
	o.once.Do(func() {
		o.reason = r
		close(o.done)
	})
}
