// Package linger is the on-demand worker: a goroutine started when work
// arrives (a socket's deliveries, a page's frames, a session's requests)
// that, once idle, waits a while for more before it ends (Worker; Idle is
// its wait). A busy
// owner keeps one worker, whose stack has grown to what the work needs,
// instead of starting one per burst; an idle owner has none
// (docs/performance.md counts goroutines per session).
package linger

import (
	"sync"
	"time"
)

// For is how long a worker waits for more work before it ends.
const For = time.Second

// Idle is what a worker waits on. Its owner wakes it when work arrives;
// one worker at a time waits (the owner starts another only once the last
// has ended).
type Idle struct {
	wake chan struct{}
	// timer bounds a Wait. It is made by a worker's first Wait and reset
	// by the next: a busy worker waits between every two pieces of work,
	// and a timer made per wait cost three allocations each time. A
	// worker that ends lets it go (an idle owner keeps none).
	timer *time.Timer
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
	if i.timer == nil {
		i.timer = time.NewTimer(For)
	} else {
		// Stopped by the last Wait; since Go 1.23 a stopped timer's
		// channel holds no stale tick to drain.
		i.timer.Reset(For)
	}
	defer i.timer.Stop()
	select {
	case <-i.wake:
		return true
	case <-i.timer.C:
	case <-stop:
	}
	return false
}

// Worker is an on-demand worker's bookkeeping, guarded by its owner's lock
// (the one that guards the owner's queue of work): whether a worker
// goroutine runs, and what it waits on between pieces of work. The owner
// calls Kick whenever work may have arrived; the worker's goroutine runs
// Loop.
type Worker struct {
	running bool
	idle    *Idle
}

// NewWorker returns a worker with no goroutine.
func NewWorker() *Worker { return &Worker{idle: New()} }

// Kick, with the owner's lock held, wakes the worker that runs, or, when
// there is work (ready), marks one running and calls start to launch its
// goroutine (which runs Loop). It reports whether start was called.
func (w *Worker) Kick(ready bool, start func()) bool {
	if w.running {
		w.idle.Wake()
		return false
	}
	if !ready {
		return false
	}
	w.running = true
	start()
	return true
}

// Running reports whether a worker goroutine runs (owner's lock held).
func (w *Worker) Running() bool { return w.running }

// Wake wakes a lingering worker so that it looks again (at an end, say).
func (w *Worker) Wake() { w.idle.Wake() }

// Loop is the worker goroutine's body. next, called with mu held, returns
// the next piece of work (done with mu released), or none: then the worker
// waits for a Kick, up to For or until stop closes, if linger says so, and
// looks once more; with still nothing, it is marked stopped, stopped (if
// any) is called with mu still held, and Loop returns.
func (w *Worker) Loop(mu sync.Locker, stop <-chan struct{}, next func() (work func(), linger bool), stopped func()) {
	mu.Lock()
	for {
		work, linger := next()
		if work == nil && linger {
			mu.Unlock()
			woke := w.idle.Wait(stop)
			mu.Lock()
			if woke {
				continue
			}
			work, _ = next()
		}
		if work == nil {
			w.running = false
			w.idle.timer = nil
			if stopped != nil {
				stopped()
			}
			mu.Unlock()
			return
		}
		mu.Unlock()
		work()
		mu.Lock()
	}
}
