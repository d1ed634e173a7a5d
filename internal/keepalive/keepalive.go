// Package keepalive pings a socket every so often without a goroutine of
// its own between pings: a timer fires the ping, and an idle connection
// costs no stack (docs/performance.md counts goroutines per session). Both
// ends of the window use it: the page sockets (web) and the upstream
// consumer sockets (messaging).
package keepalive

import (
	"sync"
	"time"
)

// Pinger calls ping every interval until Stop, or until a ping fails (then
// fail is called once and the pinger stops).
type Pinger struct {
	every time.Duration
	ping  func() error
	fail  func(error)

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
	running sync.WaitGroup // a ping in progress, for Stop to wait on
}

// Start pings every interval, the first one interval from now. ping must
// bound itself (a deadline); fail typically closes the socket.
func Start(every time.Duration, ping func() error, fail func(error)) *Pinger {
	p := &Pinger{every: every, ping: ping, fail: fail}
	p.mu.Lock()
	p.timer = time.AfterFunc(every, p.fire)
	p.mu.Unlock()
	return p
}

// fire runs on the timer's goroutine, which ends when the ping is done.
func (p *Pinger) fire() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	// Add happens under mu before Stop can set stopped, so it never races
	// with Stop's Wait.
	p.running.Add(1)
	p.mu.Unlock()
	defer p.running.Done()
	if err := p.ping(); err != nil {
		p.mu.Lock()
		failed := !p.stopped
		p.stopped = true
		p.mu.Unlock()
		if failed {
			p.fail(err)
		}
		return
	}
	p.mu.Lock()
	if !p.stopped {
		p.timer.Reset(p.every)
	}
	p.mu.Unlock()
}

// Stop ends the pings and waits for one in progress.
func (p *Pinger) Stop() {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.stopped = true
	p.timer.Stop()
	p.mu.Unlock()
	p.running.Wait()
}
