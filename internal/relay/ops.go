package relay

import (
	"context"
	"sync"
)

// op is one request of a session to its upstream. It runs on the sender
// goroutine and returns what to do with its outcome on the session's loop.
type op func(ctx context.Context) func()

// opQueue runs a session's requests one at a time, in the order they were
// pushed, so that the customer's messages and receipts go out in order
// while the session's loop never waits on the network.
type opQueue struct {
	mu    sync.Mutex
	queue []op
	wake  chan struct{}
}

func newOpQueue() *opQueue { return &opQueue{wake: make(chan struct{}, 1)} }

// push never blocks.
func (q *opQueue) push(o op) {
	q.mu.Lock()
	q.queue = append(q.queue, o)
	q.mu.Unlock()
	signal(q.wake)
}

// run executes ops until ctx ends, handing each outcome to results.
func (q *opQueue) run(ctx context.Context, results chan<- func()) {
	for {
		q.mu.Lock()
		var o op
		if len(q.queue) > 0 {
			o = q.queue[0]
			q.queue[0] = nil
			q.queue = q.queue[1:]
		}
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
		select {
		case results <- done:
		case <-ctx.Done():
			return
		}
	}
}
