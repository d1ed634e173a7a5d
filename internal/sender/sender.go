// Package sender runs a session's requests to its messaging connection one
// at a time, in the order they were pushed, on one goroutine, so that
// messages and receipts go out in order while the session's own loop never
// waits on the network. The relay (a customer's session) and the agent
// console (an agent's desk) both use it.
package sender

import (
	"context"
	"errors"
	"sync"

	"github.com/chatwindow/chatwindow/internal/messaging"
)

// Op is one request. It runs on the sender goroutine and returns what to do
// with its outcome on the owner's loop, or nil when the request never left
// (NotSent): then it stays at the head of the queue and runs again once the
// connection is open.
type Op func(ctx context.Context) func()

// Queue runs ops in order, only while the connection is open: what the
// user does while it is down waits.
type Queue struct {
	mu    sync.Mutex
	queue []Op
	open  bool
	gen   uint64 // counts SetOpen calls
	wake  chan struct{}
}

// New returns an empty, closed queue.
func New() *Queue { return &Queue{wake: make(chan struct{}, 1)} }

// Push adds an op at the end; it never blocks.
func (q *Queue) Push(o Op) {
	q.mu.Lock()
	q.queue = append(q.queue, o)
	q.mu.Unlock()
	signal(q.wake)
}

// SetOpen says whether the connection can take requests.
func (q *Queue) SetOpen(open bool) {
	q.mu.Lock()
	q.open = open
	q.gen++
	q.mu.Unlock()
	signal(q.wake)
}

// NotSent reports a request that never left (no socket): its op should
// return a nil outcome.
func NotSent(err error) bool { return errors.Is(err, messaging.ErrNotConnected) }

// Run executes ops until ctx ends, handing each outcome to results (read
// by the owner's loop).
func (q *Queue) Run(ctx context.Context, results chan<- func()) {
	for {
		q.mu.Lock()
		var o Op
		if q.open && len(q.queue) > 0 {
			o = q.queue[0]
		}
		gen := q.gen
		q.mu.Unlock()
		if o == nil {
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
				continue
			}
		}
		done := o(ctx)
		if done == nil {
			// Not sent: the connection went down under it. It runs again
			// when the connection is open; SetOpen(false) has arrived or will.
			q.mu.Lock()
			if q.gen == gen {
				q.open = false
			}
			q.mu.Unlock()
			continue
		}
		q.mu.Lock()
		q.queue[0] = nil
		q.queue = q.queue[1:]
		q.mu.Unlock()
		select {
		case results <- done:
		case <-ctx.Done():
			return
		}
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
