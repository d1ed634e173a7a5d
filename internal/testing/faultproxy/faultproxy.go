// Package faultproxy is a TCP proxy for tests that breaks connections on
// demand: it stands between a client and a real server on loopback so that a
// test can cut every live connection abruptly (as a network failure would),
// or hold new ones back, or let every connection go silent while it stays
// open (a request in flight that gets no answer), and see how the client
// recovers.
package faultproxy

import (
	"context"
	"fmt"
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
	stalled  bool
	flowing  chan struct{} // closed when the proxy is not stalled
	held     int           // bytes read and not forwarded (yet) while stalled
}

// pair is one proxied connection: the client's side and the target's.
type pair struct {
	client, server net.Conn
	once           sync.Once
	closed         chan struct{} // closed by close: bytes held for it are dropped
}

func (p *pair) close() {
	p.once.Do(func() { close(p.closed) })
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
		flowing: make(chan struct{}),
	}
	close(p.resumed)
	close(p.flowing)
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

// Stall stops forwarding bytes, in both directions, on every connection,
// live or new, until Unstall: the connections stay open and what is read
// is held, so a request already written by the client is in flight and
// gets no answer (a silent network, not a broken one). CutAll while
// stalled drops what is held: it never arrives.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stalled {
		p.stalled = true
		p.flowing = make(chan struct{})
	}
}

// Unstall forwards what was held, in order, and everything after it.
func (p *Proxy) Unstall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled {
		p.stalled = false
		close(p.flowing)
	}
}

// Held is the number of bytes read while stalled and not forwarded yet
// (nor dropped by a cut): more than zero once something is in flight.
func (p *Proxy) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
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
	pr := &pair{client: client, server: server, closed: make(chan struct{})}
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
		p.copy(pr, dst, src)
		pr.close()
	}
	go copyHalf(server, client)
	go copyHalf(client, server)
	wg.Wait()

	p.mu.Lock()
	delete(p.live, pr)
	p.mu.Unlock()
}

// copy forwards src to dst like io.Copy, except that while the proxy is
// stalled each chunk read waits (counted in held) until it flows again, the
// pair is closed or the proxy stops. It returns when src or dst fails.
func (p *Proxy) copy(pr *pair, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.wait(pr, n) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // io.EOF included: the pair closes
		}
	}
}

// wait returns at once while the proxy is not stalled; else it holds n
// bytes until Unstall (true) or until the pair is cut or the proxy stops
// (false: the bytes are dropped).
func (p *Proxy) wait(pr *pair, n int) bool {
	p.mu.Lock()
	if !p.stalled {
		p.mu.Unlock()
		return true
	}
	flowing := p.flowing
	p.held += n
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.held -= n
		p.mu.Unlock()
	}()
	select {
	case <-flowing:
		return true
	case <-pr.closed:
		return false
	case <-p.ctx.Done():
		return false
	}
}
