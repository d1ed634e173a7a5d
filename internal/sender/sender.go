// Package sender runs a session's requests to its messaging connection one
// at a time, in the order they were pushed, on one goroutine, so that
// messages and receipts go out in order while the session's own loop never
// waits on the network. The relay (a customer's session) and the agent
// console (an agent's desk) both use it.
package sender

import (
	"context"
	"sync"

	"github.com/chatwindow/chatwindow/internal/linger"
)

// Op is one request. It runs on the sender goroutine and returns what to do
// with its outcome on the owner's loop, or nil when the request never left
// (messaging.NotSent): then it stays at the head of the queue and runs
// again once the connection is open.
type Op func(ctx context.Context) func()

// Queue runs ops in order, only while the connection is open: what the
// user does while it is down waits. The goroutine that runs them exists
// only while an op is due (a server holds one Queue per browser session:
// docs/performance.md).
type Queue struct {
	mu      sync.Mutex
	queue   []Op
	open    bool
	gen     uint64 // counts SetOpen calls
	ctx     context.Context
	results chan<- func()
	worker  *linger.Worker // the runner, while an op is due
	wg      sync.WaitGroup
}

// New returns an empty, closed queue.
func New() *Queue { return &Queue{worker: linger.NewWorker()} }

// Start lets the queue run ops until ctx ends, handing each outcome to
// results (read by the owner's loop). Wait waits for a running op.
func (q *Queue) Start(ctx context.Context, results chan<- func()) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ctx, q.results = ctx, results
	q.kickLocked()
}

// Wait blocks until no op runs; call it after the Start's ctx ended.
func (q *Queue) Wait() { q.wg.Wait() }

// Push adds an op at the end; it never blocks.
func (q *Queue) Push(o Op) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.queue = append(q.queue, o)
	q.kickLocked()
}

// SetOpen says whether the connection can take requests.
func (q *Queue) SetOpen(open bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.open = open
	q.gen++
	q.kickLocked()
}

// kickLocked starts the runner when an op is due and none runs, or wakes
// the one that lingers.
func (q *Queue) kickLocked() {
	ready := q.ctx != nil && q.ctx.Err() == nil && q.open && len(q.queue) > 0
	q.worker.Kick(ready, func() {
		q.wg.Add(1)
		// Runs ops while one is due and the connection is open, or until
		// ctx ends, lingering for more (linger.For).
		go q.run()
	})
}

func (q *Queue) run() {
	defer q.wg.Done()
	q.worker.Loop(&q.mu, q.ctx.Done(), q.next, nil)
}

// next is the runner's next op, with mu held: the head of the queue while
// the connection is open and ctx lives (none to wait for otherwise).
func (q *Queue) next() (work func(), linger bool) {
	if q.ctx.Err() != nil || !q.open {
		return nil, false
	}
	if len(q.queue) == 0 {
		return nil, true
	}
	o, gen, ctx, results := q.queue[0], q.gen, q.ctx, q.results
	return func() {
		done := o(ctx)
		if done == nil {
			// Not sent: the connection went down under it. It runs again
			// when the connection is open; SetOpen(false) has arrived or will.
			q.mu.Lock()
			if q.gen == gen {
				q.open = false
			}
			q.mu.Unlock()
			return
		}
		q.mu.Lock()
		q.queue[0] = nil
		q.queue = q.queue[1:]
		if len(q.queue) == 0 {
			q.queue = nil
		}
		q.mu.Unlock()
		select {
		case results <- done:
		case <-ctx.Done(): // the next look ends the runner
		}
	}, false
}
