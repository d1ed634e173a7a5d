// Package outbox is what a live session (the window's relay session, the
// agent console's desk) keeps for each page that shows it: a bounded queue
// of rendered frames, and why the session let the page go. A session never
// waits on a page: a page whose queue is full is let go as slow, and its
// page reconnects and gets the whole view anew.
//
// The frames are written to the page's socket by a goroutine that runs only
// while there is something to write: an idle page costs its socket's reader
// and nothing more (docs/performance.md counts goroutines per session).
package outbox

import (
	"sync"
	"time"

	"github.com/chatwindow/chatwindow/internal/linger"
)

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

// Frame is one rendered change for the page.
type Frame struct {
	Data []byte
	// Since is when the upstream frame that caused this change was read
	// (zero when none did: a window rendered for a new tab). The writer
	// measures relay latency from it.
	Since time.Time
}

// Sink is the page's socket, as the outbox writes to it.
type Sink interface {
	// Write sends one frame (with a deadline); false when the socket
	// failed: nothing more is written.
	Write(f Frame) bool
	// End closes the socket for r, after the last frame was written.
	End(r Reason)
}

// Outbox is one page's queue. Its owner (the session's loop) offers frames
// and ends it; Serve connects it to the page's socket.
type Outbox struct {
	size int
	done chan struct{}

	mu     sync.Mutex
	queue  []Frame
	reason Reason // set before done closes
	ended  bool
	sink   Sink
	worker *linger.Worker // the writer, while frames wait
	idle   chan struct{}  // closed when a writer stops, for Stop to wait on
	closed bool           // the sink was ended or failed
}

// New returns an outbox that holds up to size frames.
func New(size int) *Outbox {
	return &Outbox{size: size, done: make(chan struct{}), worker: linger.NewWorker()}
}

// Done is closed when the session let the page go.
func (o *Outbox) Done() <-chan struct{} { return o.done }

// Reason says why the page was let go; false while it was not.
func (o *Outbox) Reason() (Reason, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.reason, o.ended
}

// Offer queues f without waiting; false when the queue is full (the
// caller ends the outbox as Slow).
func (o *Outbox) Offer(f Frame) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ended || len(o.queue) >= o.size {
		return o.ended // frames for a page let go are dropped quietly
	}
	o.queue = append(o.queue, f)
	o.kickLocked()
	return true
}

// End lets the page go for r; only the first End counts. The socket gets
// its close once what must still go out has gone (SignedOut: the queued
// frames say so; other reasons close at once).
func (o *Outbox) End(r Reason) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ended {
		return
	}
	o.ended, o.reason = true, r
	close(o.done)
	if r != SignedOut {
		o.queue = nil
	}
	o.kickLocked()
}

// Serve connects the outbox to the page's socket: what is queued, and what
// comes, is written to s.
func (o *Outbox) Serve(s Sink) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sink = s
	o.kickLocked()
}

// Stop disconnects the socket (its reader ended) and waits for a writer
// that is running to return; nothing is written to it afterwards.
func (o *Outbox) Stop() {
	o.mu.Lock()
	o.closed = true
	o.queue = nil
	o.worker.Wake()
	idle := o.idle
	writing := o.worker.Running()
	o.mu.Unlock()
	if writing {
		<-idle
	}
}

// kickLocked starts a writer when there is work and none runs, or wakes
// the one that lingers.
func (o *Outbox) kickLocked() {
	ready := o.sink != nil && !o.closed && (len(o.queue) > 0 || o.ended)
	o.worker.Kick(ready, func() {
		o.idle = make(chan struct{})
		// The writer runs until the queue has stayed empty for linger.For
		// (a busy page keeps one), the socket failed, or the page was let
		// go and its close sent; Stop waits for it.
		go o.write()
	})
}

func (o *Outbox) write() {
	o.worker.Loop(&o.mu, nil, o.next, func() { close(o.idle) })
}

// next is the writer's next piece of work, with mu held: the next frame,
// or, once the page was let go and every frame that had to go out has,
// the socket's close.
func (o *Outbox) next() (work func(), linger bool) {
	switch {
	case o.closed:
		return nil, false
	case len(o.queue) == 0 && !o.ended:
		return nil, true
	case len(o.queue) == 0:
		// Let go, and what had to go out has: close it.
		o.closed = true
		r, sink := o.reason, o.sink
		return func() { sink.End(r) }, false
	}
	f := o.queue[0]
	o.queue[0] = Frame{}
	o.queue = o.queue[1:]
	if len(o.queue) == 0 {
		o.queue = nil // let a burst's backing array go
	}
	sink := o.sink
	return func() {
		if !sink.Write(f) {
			o.mu.Lock()
			o.closed = true
			o.queue = nil
			o.mu.Unlock()
		}
	}, false
}

// Pipe is a Sink that hands frames to a channel instead of a socket: for
// tests, benchmarks and tools that read a page's frames in process.
type Pipe struct {
	// C receives the frames in order; a write waits while it is full, as
	// a socket write waits for a slow page.
	C chan Frame
	// Ended is closed once the outbox ended the pipe (after the frames
	// that had to go out); Reason then says why.
	Ended  chan struct{}
	reason Reason
	closed chan struct{}
	once   sync.Once
}

// NewPipe returns a pipe that holds up to size frames unread.
func NewPipe(size int) *Pipe {
	return &Pipe{C: make(chan Frame, size), Ended: make(chan struct{}), closed: make(chan struct{})}
}

// Write implements Sink.
func (p *Pipe) Write(f Frame) bool {
	select {
	case p.C <- f:
		return true
	case <-p.closed:
		return false
	}
}

// Close fails a write that waits, and every later one: the reader is gone.
func (p *Pipe) Close() { p.once.Do(func() { close(p.closed) }) }

// End implements Sink.
func (p *Pipe) End(r Reason) {
	p.reason = r
	close(p.Ended)
}

// Reason is why the pipe was ended (valid once Ended is closed).
func (p *Pipe) Reason() Reason { return p.reason }
