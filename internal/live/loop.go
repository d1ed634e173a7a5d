// Package live is the kit both live sessions of a node are built on: the
// chat window's browser sessions (internal/relay) and the agent console's
// desks (internal/desks). Each is an actor: one goroutine (its Loop)
// owns its state, its pages (tabs) pass it commands, its upstream
// connection's updates arrive on a channel, requests go out in order on a
// sender queue, every change is rendered once and fanned out to the tabs
// (a tab that falls a whole outbox behind is let go, never waited for),
// and the tabs' reports become receipts that are paced and settled here.
// The sessions keep only their own domain on top (docs/architecture.md).
package live

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/metrics"
	"github.com/chatwindow/chatwindow/internal/outbox"
	"github.com/chatwindow/chatwindow/internal/sender"
)

// Config is what the sessions of one kind share.
type Config struct {
	// Grace is how long a session lives with no page: after its last page
	// left (a reload reuses it), and before its first one attaches.
	Grace time.Duration
	// FlushWindow batches receipts: they go out this long after the first
	// report that made one due (docs/protocol.md, Receipts).
	FlushWindow time.Duration
	// TabBuffer bounds each tab's outbox; a tab that falls that far behind
	// is let go rather than slowing the session.
	TabBuffer int
	// MaxTabs bounds a session's pages; one more is refused (TooMany).
	MaxTabs int
	// Metrics, if any, counts tabs.
	Metrics *metrics.Metrics
}

// Defaults fills what c leaves zero.
func (c *Config) Defaults() {
	if c.Grace == 0 {
		c.Grace = 30 * time.Second
	}
	if c.FlushWindow == 0 {
		c.FlushWindow = 50 * time.Millisecond
	}
	if c.TabBuffer == 0 {
		c.TabBuffer = 128
	}
	if c.MaxTabs == 0 {
		c.MaxTabs = 16
	}
}

// ErrTooManyTabs refuses a page to a session that has MaxTabs already.
var ErrTooManyTabs = errors.New("the session has too many tabs")

// ErrEnded is a command that came after the session ended.
var ErrEnded = errors.New("the session ended")

// Owner is a session's domain: what its loop calls, always on the loop's
// goroutine, so the owner's state needs no lock.
type Owner[P any] interface {
	// Updates applies upstream updates that were waiting together, in
	// their order (see maxBatch).
	Updates(batch []messaging.Update)
	// UpstreamEnded: the upstream gave up; no update comes any more.
	UpstreamEnded()
	// Command handles a command the loop does not know (a tab's action,
	// the manager's question).
	Command(c any)
	// Attached: a tab joined; send it the whole view.
	Attached(t *Tab[P])
	// TypingDone: the typing timer (ArmTyping) fired.
	TypingDone()
	// Receipts is where the session's receipts go (see Receipts).
	Receipts() ReceiptSink
	// Ending: the loop is about to end (for why); the tabs are let go
	// right after.
	Ending(why End)
}

// End is why a loop ended.
type End int

// Why loops end.
const (
	// Stopped: the session's context ended (End, or its manager stopped).
	Stopped End = iota
	// Idle: no page came back within the grace period.
	Idle
)

// maxBatch bounds the upstream updates handed to Owner.Updates at once:
// the first and those already waiting behind it. A replay of a long
// history arrives as thousands of events at once: one frame each would
// overflow a tab's outbox (and drop the tab for being slow), and make a
// page swap thousands of fragments.
const maxBatch = 257

// Loop is one live session's goroutine of state and what it shares with
// its pages and its sender. Its fields and methods are the loop
// goroutine's, but for the ones documented otherwise.
type Loop[P any] struct {
	cfg    Config
	log    *slog.Logger
	cancel context.CancelFunc

	// Ops runs the session's requests in order (see sender).
	Ops *sender.Queue

	cmds    chan any
	results chan func()
	ended   chan struct{}

	tabs      map[*Tab[P]]struct{}
	extra     int           // pages that are not tabs (inspector watches)
	endReason outbox.Reason // what the tabs are told when the loop ends

	flushC, typingC, graceC             chan struct{}
	flushTimer, typingTimer, graceTimer *time.Timer
	receipts                            pacing
	batch                               []messaging.Update
	own                                 Owner[P] // set by Run
}

// New returns the loop of a session whose context's cancel is cancel (the
// loop calls it when it ends on its own). Run runs it.
func New[P any](cfg Config, log *slog.Logger, cancel context.CancelFunc) *Loop[P] {
	cfg.Defaults()
	l := &Loop[P]{
		cfg: cfg, log: log, cancel: cancel,
		Ops:     sender.New(),
		cmds:    make(chan any, 64),
		results: make(chan func(), 64),
		ended:   make(chan struct{}),
		tabs:    map[*Tab[P]]struct{}{},
		flushC:  make(chan struct{}, 1),
		typingC: make(chan struct{}, 1),
		graceC:  make(chan struct{}, 1),
	}
	l.flushTimer = stoppedTimer(l.flushC)
	l.typingTimer = stoppedTimer(l.typingC)
	// No page yet: the grace period runs from the start.
	l.graceTimer = time.AfterFunc(cfg.Grace, func() { signal(l.graceC) })
	return l
}

func stoppedTimer(c chan struct{}) *time.Timer {
	t := time.AfterFunc(time.Hour, func() { signal(c) })
	t.Stop()
	return t
}

// signal wakes the loop for c without blocking (a wake already pending
// is enough).
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Start starts the sender, handing its outcomes to the loop, until ctx
// ends. Call it once, before Run.
func (l *Loop[P]) Start(ctx context.Context) { l.Ops.Start(ctx, l.results) }

// Run is the loop: it owns the session until ctx ends or no page came back
// within the grace period, then lets every tab go. It returns once nothing
// is left to it; the sender may still finish a request (Ops.Wait).
func (l *Loop[P]) Run(ctx context.Context, updates <-chan messaging.Update, o Owner[P]) {
	l.own = o
	defer close(l.ended)
	defer func() {
		for t := range l.tabs {
			t.End(l.endReason)
			l.cfg.Metrics.TabGone()
		}
		// A tab that came while the loop was ending is let go too, not
		// left waiting for a loop that is gone.
		for {
			select {
			case c := <-l.cmds:
				if a, ok := c.(attachCmd[P]); ok {
					a.t.End(l.endReason)
				}
				continue
			default:
			}
			return
		}
	}()
	defer l.flushTimer.Stop()
	defer l.typingTimer.Stop()
	defer l.graceTimer.Stop()
	for {
		select {
		case <-ctx.Done():
			o.Ending(Stopped)
			return
		case u, ok := <-updates:
			if !ok {
				updates = nil
				o.UpstreamEnded()
				continue
			}
			l.batch = append(l.batch[:0], u)
			ended := l.gather(updates)
			o.Updates(l.batch)
			clear(l.batch)
			if ended {
				updates = nil
				o.UpstreamEnded()
			}
		case c := <-l.cmds:
			switch c := c.(type) {
			case attachCmd[P]:
				l.attach(c.t, o)
			case detachCmd[P]:
				l.detach(c.t)
			default:
				o.Command(c)
			}
		case done := <-l.results:
			done()
		case <-l.flushC:
			l.receipts.armed = false
			l.flush(o.Receipts())
		case <-l.typingC:
			o.TypingDone()
		case <-l.graceC:
			if l.pages() == 0 {
				o.Ending(Idle)
				l.cancel()
				return
			}
		}
	}
}

// gather adds the updates already waiting behind the first to the batch;
// true when the channel closed meanwhile.
func (l *Loop[P]) gather(updates <-chan messaging.Update) (ended bool) {
	for len(l.batch) < maxBatch {
		select {
		case u, ok := <-updates:
			if !ok {
				return true
			}
			l.batch = append(l.batch, u)
		default:
			return false
		}
	}
	return false
}

func (l *Loop[P]) owner() Owner[P] { return l.own }

// Call pushes a request on the loop's sender: call makes it, on the
// sender's goroutine; done gets its outcome, on the loop. A request that
// never left (no socket: messaging.NotSent) is made again once the
// connection is open.
func Call[P, T any](l *Loop[P], call func(ctx context.Context) (T, error), done func(T, error)) {
	l.Ops.Push(func(ctx context.Context) func() {
		v, err := call(ctx)
		if messaging.NotSent(err) {
			return nil
		}
		return func() { done(v, err) }
	})
}

// Request is Call for a request that answers nothing but its error.
func (l *Loop[P]) Request(call func(ctx context.Context) error, done func(error)) {
	Call(l, func(ctx context.Context) (struct{}, error) { return struct{}{}, call(ctx) }, func(_ struct{}, err error) { done(err) })
}

// Do passes a command to the loop from another goroutine; false when the
// session ended.
func (l *Loop[P]) Do(c any) bool {
	select {
	case <-l.ended:
		return false
	default:
	}
	select {
	case l.cmds <- c:
		return true
	case <-l.ended:
		return false
	}
}

// Ask passes the command made by cmd around a reply channel to the loop,
// from another goroutine, and waits for the loop's reply; false once the
// session ended.
func Ask[P, T any](l *Loop[P], cmd func(reply chan<- T) any) (T, bool) {
	reply := make(chan T, 1)
	var zero T
	if !l.Do(cmd(reply)) {
		return zero, false
	}
	select {
	case v := <-reply:
		return v, true
	case <-l.ended:
		return zero, false
	}
}

// Await runs ask on the loop, from another goroutine, and waits for the
// answer it gives reply (on the loop, or through Call's done), the loop's
// end (ErrEnded) or ctx's. reply may be called once, from any goroutine;
// it never blocks, so an answer after the caller gave up is dropped.
func Await[P, T any](ctx context.Context, l *Loop[P], ask func(reply func(T, error))) (T, error) {
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	l.Post(func() {
		ask(func(v T, err error) {
			select {
			case ch <- result{v, err}:
			default: // answered already
			}
		})
	})
	var zero T
	select {
	case r := <-ch:
		return r.v, r.err
	case <-l.ended:
		return zero, ErrEnded
	case <-ctx.Done():
		return zero, fmt.Errorf("waiting for the session: %w", ctx.Err())
	}
}

// Attach makes a tab for page state p and passes it to the loop, from
// another goroutine; the loop takes it (Owner.Attached) or lets it go as
// TooMany.
func (l *Loop[P]) Attach(p P) (*Tab[P], error) {
	t := &Tab[P]{Outbox: outbox.New(l.cfg.TabBuffer), loop: l, Page: p}
	if !l.Do(attachCmd[P]{t}) {
		return nil, ErrEnded
	}
	return t, nil
}

// Ended is closed once the loop has ended (any goroutine).
func (l *Loop[P]) Ended() <-chan struct{} { return l.ended }

// Post hands fn to the loop from another goroutine (a timer's); it is
// dropped once the loop ended.
func (l *Loop[P]) Post(fn func()) {
	select {
	case l.results <- fn:
	case <-l.ended:
	}
}

// End ends the session: its tabs are told why (SignedOut: they do not
// come back) once the loop has returned.
func (l *Loop[P]) End(why outbox.Reason) {
	l.endReason = why
	l.cancel()
}

// Log is the session's logger.
func (l *Loop[P]) Log() *slog.Logger { return l.log }

// Tabs are the session's tabs, in no order.
func (l *Loop[P]) Tabs() iter.Seq[*Tab[P]] {
	return func(yield func(*Tab[P]) bool) {
		for t := range l.tabs {
			if !yield(t) {
				return
			}
		}
	}
}

// Has reports whether t is one of the session's tabs.
func (l *Loop[P]) Has(t *Tab[P]) bool {
	_, ok := l.tabs[t]
	return ok
}

// TabCount is the number of tabs.
func (l *Loop[P]) TabCount() int { return len(l.tabs) }

// pages counts what shows the session: its tabs and its other pages
// (MaxTabs bounds their sum).
func (l *Loop[P]) pages() int { return len(l.tabs) + l.extra }

// AddPage counts a page that is not a tab (an inspector): ErrTooManyTabs
// when the session has MaxTabs pages already. It keeps the session alive
// like a tab, until DropPage.
func (l *Loop[P]) AddPage() error {
	if l.pages() >= l.cfg.MaxTabs {
		l.log.Warn("page refused: the session has enough", "tabs", len(l.tabs), "other_pages", l.extra)
		return ErrTooManyTabs
	}
	l.extra++
	l.graceTimer.Stop()
	return nil
}

// DropPage uncounts a page AddPage counted.
func (l *Loop[P]) DropPage() {
	l.extra--
	l.graceIfIdle()
}

func (l *Loop[P]) attach(t *Tab[P], o Owner[P]) {
	if l.pages() >= l.cfg.MaxTabs {
		l.log.Warn("tab refused: the session has enough", "tabs", len(l.tabs), "other_pages", l.extra)
		t.End(outbox.TooMany)
		l.cfg.Metrics.TabDropped("too_many")
		return
	}
	l.tabs[t] = struct{}{}
	l.cfg.Metrics.TabAttached()
	l.graceTimer.Stop()
	o.Attached(t)
}

func (l *Loop[P]) detach(t *Tab[P]) {
	if _, ok := l.tabs[t]; ok {
		delete(l.tabs, t)
		t.End(outbox.Detached)
		l.cfg.Metrics.TabGone()
	}
	l.graceIfIdle()
}

// graceIfIdle starts the grace period once no page shows the session.
func (l *Loop[P]) graceIfIdle() {
	if l.pages() == 0 {
		l.graceTimer.Reset(l.cfg.Grace)
	}
}

// Deliver queues f for a tab, or lets the tab go when its outbox is full:
// a slow tab must not hold up the session (its page comes back and gets
// the whole view anew).
func (l *Loop[P]) Deliver(t *Tab[P], f outbox.Frame) {
	if t.Offer(f) {
		return
	}
	l.log.Warn("tab too slow, dropped")
	delete(l.tabs, t)
	t.End(outbox.Slow)
	l.cfg.Metrics.TabGone()
	l.cfg.Metrics.TabDropped("slow")
	l.graceIfIdle()
}

// Broadcast delivers f to every tab.
func (l *Loop[P]) Broadcast(f outbox.Frame) {
	for t := range l.tabs {
		l.Deliver(t, f)
	}
}

// ArmTyping fires Owner.TypingDone after d (again, if armed).
func (l *Loop[P]) ArmTyping(d time.Duration) { l.typingTimer.Reset(max(d, 0)) }

// StopTyping disarms the typing timer.
func (l *Loop[P]) StopTyping() { l.typingTimer.Stop() }
