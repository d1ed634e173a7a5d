// Package faultproxy is a TCP proxy for tests that breaks connections on
// demand: it stands between a client and a real server on loopback so that a
// test can cut every live connection abruptly (as a network failure would),
// or hold new ones back, and see how the client recovers.
package faultproxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
)

// Proxy forwards every TCP connection accepted on Addr to the target.
type Proxy struct {
	ln     net.Listener
	target string

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	live     map[*pair]struct{}
	accepted int
	paused   bool
	resumed  chan struct{} // closed when the proxy is not paused
}

// pair is one proxied connection: the client's side and the target's.
type pair struct {
	client, server net.Conn
}

func (p *pair) close() {
	// Abrupt close: RST rather than FIN where the OS allows it, like a cut
	// cable or a dead NAT entry, so the peer sees an error, not a clean EOF.
	for _, c := range []net.Conn{p.client, p.server} {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
}

// New listens on a loopback port and forwards to target (host:port). The
// proxy runs until ctx ends or Close is called.
func New(ctx context.Context, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy listen: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &Proxy{
		ln:      ln,
		target:  target,
		ctx:     ctx,
		cancel:  cancel,
		live:    map[*pair]struct{}{},
		resumed: make(chan struct{}),
	}
	close(p.resumed)
	p.wg.Add(2)
	// Ends when the listener is closed (by Close or when ctx ends).
	go func() {
		defer p.wg.Done()
		p.acceptLoop()
	}()
	// Ends when ctx ends or Close is called; closes the listener and every
	// live connection so that acceptLoop and the copiers end too.
	go func() {
		defer p.wg.Done()
		<-ctx.Done()
		_ = ln.Close()
		p.CutAll()
	}()
	return p, nil
}

// Addr is the proxy's address (host:port) for the client to dial.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Accepted is the number of client connections accepted so far.
func (p *Proxy) Accepted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}

// Live is the number of connections currently proxied.
func (p *Proxy) Live() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.live)
}

// CutAll drops every live connection abruptly, on both sides, and returns
// how many it cut. New connections are still accepted (unless paused).
func (p *Proxy) CutAll() int {
	p.mu.Lock()
	pairs := make([]*pair, 0, len(p.live))
	for pr := range p.live {
		pairs = append(pairs, pr)
	}
	p.mu.Unlock()
	for _, pr := range pairs {
		pr.close()
	}
	return len(pairs)
}

// Pause makes new connections wait (accepted by the kernel, not forwarded)
// until Resume; live connections are not touched.
func (p *Proxy) Pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.paused {
		p.paused = true
		p.resumed = make(chan struct{})
	}
}

// Resume lets waiting and new connections through again.
func (p *Proxy) Resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		close(p.resumed)
	}
}

// Close stops the proxy, cuts every connection and waits for its goroutines.
func (p *Proxy) Close() error {
	p.cancel()
	p.wg.Wait()
	return nil
}

func (p *Proxy) acceptLoop() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		p.accepted++
		p.mu.Unlock()
		p.wg.Add(1)
		// Ends when both directions of the pair have stopped copying.
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

func (p *Proxy) serve(client net.Conn) {
	p.mu.Lock()
	resumed := p.resumed
	p.mu.Unlock()
	select {
	case <-resumed:
	case <-p.ctx.Done():
		_ = client.Close()
		return
	}
	var d net.Dialer
	server, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		_ = client.Close()
		return
	}
	pr := &pair{client: client, server: server}
	p.mu.Lock()
	if p.ctx.Err() != nil {
		p.mu.Unlock()
		pr.close()
		return
	}
	p.live[pr] = struct{}{}
	p.mu.Unlock()

	var wg sync.WaitGroup
	wg.Add(2)
	// Each copier ends when its source fails or is closed; the first to end
	// closes the pair so the other one ends too.
	copyHalf := func(dst, src net.Conn) {
		defer wg.Done()
		// A clean EOF closes the whole pair too: the protocols proxied
		// here (HTTP, WebSocket) never half-close.
		_, _ = io.Copy(dst, src)
		pr.close()
	}
	go copyHalf(server, client)
	go copyHalf(client, server)
	wg.Wait()

	p.mu.Lock()
	delete(p.live, pr)
	p.mu.Unlock()
}
