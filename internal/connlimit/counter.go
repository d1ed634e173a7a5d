// Package connlimit bounds what one client can hold on a server: how long
// a request's body and response may take (Deadlines), how many TCP
// connections one client address may have open (Listener), and how many
// long-lived sockets (Counter, for the web layer to check before an
// upgrade). A client is an address group: an IPv4 address, or an IPv6 /64
// (the smallest network a subscriber is given: one machine cannot dodge a
// cap by rotating through its privacy addresses; a subscriber with a /56
// has 256 such groups, which the caps do not see as one).
package connlimit

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/chatwindow/chatwindow/internal/clientaddr"
)

// Defaults proposed for the flags. Browsers open at most 6 HTTP/1.1
// connections per host plus one socket per tab of the window, so one person
// holds about 6–30; an office or a carrier NAT puts many people behind one
// address. Each connection costs a descriptor, a goroutine and some KiB of
// buffers (more for a socket: its session's tab and pings), so the caps
// bound one address's share without troubling a crowd behind a NAT.
const (
	// DefaultConnsPerClient is Listener's cap: some 40 people behind one
	// address, each with a few connections and tabs open at once.
	DefaultConnsPerClient = 256
	// DefaultSocketsPerClient is Counter's cap for sockets: half the
	// connection cap, so that an address at its socket cap is told so
	// (429 before the upgrade) while it still has connections left for
	// pages and forms, rather than having new connections closed unread.
	DefaultSocketsPerClient = 128
)

// A Counter counts what client address groups hold (sockets, connections)
// and refuses more than a cap per group. Groups are forgotten when they hold
// nothing, so its memory is bounded by what is held. It is safe for
// concurrent use.
type Counter struct {
	max     int
	mu      sync.Mutex
	held    map[netip.Prefix]int // only groups holding at least one
	total   int
	refused atomic.Uint64
}

// NewCounter returns a Counter allowing max per client address group; max
// ≤ 0 means no cap (it still counts).
func NewCounter(max int) *Counter {
	return &Counter{max: max, held: make(map[netip.Prefix]int)}
}

// Acquire takes one for the client at addr (an IP address, with or without
// a port, as http.Request.RemoteAddr or Echo's RealIP give it). ok is false
// when the client's group already holds the cap; then release does nothing.
// Otherwise release gives it back; calling it more than once is harmless.
// Addresses that do not parse all count as one group (RealIP always
// parses; this is not expected).
func (c *Counter) Acquire(addr string) (release func(), ok bool) {
	return c.acquire(clientaddr.Of(addr))
}

func (c *Counter) acquire(g netip.Prefix) (release func(), ok bool) {
	c.mu.Lock()
	n := c.held[g]
	if c.max > 0 && n >= c.max {
		c.mu.Unlock()
		c.refused.Add(1)
		return func() {}, false
	}
	c.held[g] = n + 1
	c.total++
	c.mu.Unlock()
	var done atomic.Bool
	return func() {
		if done.Swap(true) {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		c.total--
		if n := c.held[g] - 1; n > 0 {
			c.held[g] = n
		} else {
			delete(c.held, g) // bounded memory: a group holding nothing is forgotten
		}
	}, true
}

// Count is how many the group of addr holds.
func (c *Counter) Count(addr string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.held[clientaddr.Of(addr)]
}

// Total is how many are held by all groups together.
func (c *Counter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// Clients is how many groups hold at least one: the entries in memory.
func (c *Counter) Clients() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.held)
}

// Refused is how many Acquire calls were refused since the start.
func (c *Counter) Refused() uint64 {
	return c.refused.Load()
}
