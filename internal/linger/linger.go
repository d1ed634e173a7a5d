// Package linger is the wait of an on-demand worker: a goroutine started
// when work arrives (a socket's deliveries, a page's frames, a session's
// requests) that, once idle, waits a while for more before it ends. A busy
// owner keeps one worker, whose stack has grown to what the work needs,
// instead of starting one per burst; an idle owner has none
// (docs/performance.md counts goroutines per session).
package linger

import "time"

// For is how long a worker waits for more work before it ends.
const For = time.Second

// Idle is what a worker waits on. Its owner wakes it when work arrives;
// one worker at a time waits (the owner starts another only once the last
// has ended).
type Idle struct {
	wake chan struct{}
}

// New returns an Idle with nothing to wake for.
func New() *Idle { return &Idle{wake: make(chan struct{}, 1)} }

// Wake tells the waiting worker (if any) that there is work; it never
// blocks, and a wake with no worker waiting is kept for the next Wait.
func (i *Idle) Wake() {
	select {
	case i.wake <- struct{}{}:
	default:
	}
}

// Wait blocks until a Wake (true), or For has passed or stop is closed
// (false: the worker should end, once it has checked that no work came).
func (i *Idle) Wait(stop <-chan struct{}) bool {
	t := time.NewTimer(For)
	defer t.Stop()
	select {
	case <-i.wake:
		return true
	case <-t.C:
	case <-stop:
	}
	return false
}
