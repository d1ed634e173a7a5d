package relay

import (
	"context"
	"errors"
	"sync"

	"github.com/chatwindow/chatwindow/internal/messaging"
)

// op is one request of a session to its upstream. It runs on the sender
// goroutine and returns what to do with its outcome on the session's loop.
type op func(ctx context.Context) func()

// opQueue runs a session's requests one at a time, in the order they were
// pushed, so that the customer's messages and receipts go out in order
// while the session's loop never waits on the network. It runs only while
// the upstream is open: what the customer does while it is down waits.
type opQueue struct {
	mu    sync.Mutex
	queue []op
	open  bool
	gen   uint64 // counts setOpen calls
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

// setOpen says whether the upstream can take requests.
func (q *opQueue) setOpen(open bool) {
	q.mu.Lock()
	q.open = open
	q.gen++
	q.mu.Unlock()
	signal(q.wake)
}

// notSent reports a request that never left (no socket): its op returns a
// nil outcome, stays at the head of the queue and runs again once the
// upstream is open.
func notSent(err error) bool { return errors.Is(err, messaging.ErrNotConnected) }

// run executes ops until ctx ends, handing each outcome to results.
func (q *opQueue) run(ctx context.Context, results chan<- func()) {
	for {
		q.mu.Lock()
		var o op
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
			// Not sent: the upstream went down under it. It runs again when
			// the upstream is open; setOpen(false) has arrived or will.
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
