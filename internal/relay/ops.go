package relay

import (
	"context"

	"github.com/chatwindow/chatwindow/internal/sender"
)

// op is one request of a session to its upstream (see sender.Op).
type op = sender.Op

// opQueue runs a session's requests one at a time, in order, while the
// upstream is open: the sender package's queue, shared with the agent
// console.
type opQueue struct{ q *sender.Queue }

func newOpQueue() *opQueue { return &opQueue{q: sender.New()} }

// push never blocks.
func (o *opQueue) push(op op) { o.q.Push(op) }

// setOpen says whether the upstream can take requests.
func (o *opQueue) setOpen(open bool) { o.q.SetOpen(open) }

// run executes ops until ctx ends, handing each outcome to results.
func (o *opQueue) run(ctx context.Context, results chan<- func()) { o.q.Run(ctx, results) }

// notSent reports a request that never left (no socket): its op returns a
// nil outcome and runs again once the upstream is open.
func notSent(err error) bool { return sender.NotSent(err) }
