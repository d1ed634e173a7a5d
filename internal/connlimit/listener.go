package connlimit

import (
	"errors"
	"io"
	"net"
	"net/netip"

	"github.com/chatwindow/chatwindow/internal/clientaddr"
)

// ListenerConfig configures NewListener.
type ListenerConfig struct {
	// MaxPerClient caps the connections open at once from one client
	// address group; ≤ 0 means no cap (they are still counted).
	MaxPerClient int
	// Exempt are networks never capped or counted: the trusted reverse
	// proxies, behind which every client shares the proxy's address.
	Exempt []*net.IPNet
}

// A Listener caps the TCP connections each client address group holds open
// at once (hijacked ones, WebSockets, included: they hold a connection too).
// Over the cap, a new connection is closed as soon as it is accepted, and
// Accept goes on to the next one: one client at its cap never holds up
// another's.
//
// Put it under tls.NewListener, not over it: net/http recognises a TLS
// connection by its type (*tls.Conn), which a wrapped one no longer is.
type Listener struct {
	net.Listener
	exempt []*net.IPNet
	conns  *Counter
}

// NewListener wraps ln.
func NewListener(ln net.Listener, cfg ListenerConfig) *Listener {
	return &Listener{Listener: ln, exempt: cfg.Exempt, conns: NewCounter(cfg.MaxPerClient)}
}

// Accept returns the next connection within its client's cap; it closes
// those over it without a word (see refuse) and returns only the inner
// listener's errors. A connection whose peer has no IP address (a Unix
// socket) is not counted.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		a, ok := remoteIP(c)
		if !ok || l.isExempt(a) {
			return c, nil
		}
		if release, ok := l.conns.acquire(clientaddr.Group(a)); ok {
			return &conn{Conn: c, release: release}, nil
		}
		refuse(c)
	}
}

// Open is how many connections the group of addr holds open.
func (l *Listener) Open(addr string) int { return l.conns.Count(addr) }

// Total is how many counted connections are open.
func (l *Listener) Total() int { return l.conns.Total() }

// Clients is how many client groups hold a counted connection.
func (l *Listener) Clients() int { return l.conns.Clients() }

// Refused is how many connections were closed for being over the cap.
func (l *Listener) Refused() uint64 { return l.conns.Refused() }

func (l *Listener) isExempt(a netip.Addr) bool {
	ip := net.IP(a.AsSlice())
	for _, n := range l.exempt {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

func remoteIP(c net.Conn) (netip.Addr, bool) {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		a := ta.AddrPort().Addr().Unmap()
		return a, a.IsValid()
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// refuse closes a connection over the cap at once, writing nothing. An
// HTTP 503 or 429 would be read by nobody who matters: browsers stay far
// below the cap, so whoever reaches it is a script, which a closed
// connection stops as well. And writing one is not free or always right:
// this listener sits under TLS on some servers (plaintext would be
// garbage there), a reply before the request is one no client asked for,
// and a write is a syscall on the accepting goroutine for every refused
// connection of a flood. The linger of 0 resets the connection instead of
// leaving it in TIME_WAIT here, so that a flood of refusals does not fill
// the server's table of closed connections.
func refuse(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// conn gives its client's slot back when it closes, once however many
// times Close is called.
type conn struct {
	net.Conn
	release func()
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.release()
	return err
}

// ReadFrom lets net/http send files with sendfile(2) through the wrapper,
// as it does on a bare *net.TCPConn.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(c.Conn, r)
}

// CloseWrite lets net/http half-close a connection before closing it
// (so that the client reads the response before a reset), as it does on a
// bare *net.TCPConn.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
