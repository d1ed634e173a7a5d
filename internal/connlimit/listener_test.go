package connlimit_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/connlimit"
)

// serveLimited serves "ok" on a loopback listener wrapped by NewListener.
func serveLimited(t *testing.T, cfg connlimit.ListenerConfig) (*connlimit.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := connlimit.NewListener(ln, cfg)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})}
	done := make(chan struct{})
	// Serves until the test ends (Close).
	go func() {
		defer close(done)
		srv.Serve(l)
	}()
	t.Cleanup(func() { srv.Close(); <-done })
	return l, ln.Addr().String()
}

// client is one keep-alive connection.
type client struct {
	net.Conn
	br *bufio.Reader
}

// dial connects to addr from the loopback address from (Linux routes all
// of 127/8 to loopback); it skips the test if from cannot be bound.
func dial(t *testing.T, from, addr string) *client {
	t.Helper()
	c, err := tryDial(t, from, addr)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func tryDial(t *testing.T, from, addr string) (*client, error) {
	t.Helper()
	ip := net.ParseIP(from)
	if from != "127.0.0.1" {
		// Can from be bound here at all?
		probe, err := net.Listen("tcp", net.JoinHostPort(from, "0"))
		if err != nil {
			t.Skipf("no loopback address %s: %v", from, err)
		}
		probe.Close()
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(waitLimit))
	return &client{Conn: c, br: bufio.NewReader(c)}, nil
}

// get asks for / on the connection and reads the answer.
func (c *client) get() error {
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		return err
	}
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err == nil && string(b) != "ok" {
		err = errors.New("answer " + string(b))
	}
	return err
}

// served fails the test unless the connection is answered.
func served(t *testing.T, c *client, what string) {
	t.Helper()
	if err := c.get(); err != nil {
		t.Fatalf("%s: not served: %v", what, err)
	}
}

// refused fails the test unless a connection from from is closed
// unanswered: reset as it connects (the listener closed it before the
// client's connect returned) or after, not left hanging until the
// client's deadline.
func refused(t *testing.T, from, addr, what string) {
	t.Helper()
	c, err := tryDial(t, from, addr)
	if err == nil {
		err = c.get()
	}
	if err == nil || isTimeout(err) {
		t.Fatalf("%s: want the connection closed, got %v", what, err)
	}
}

func TestListenerCapsPerClient(t *testing.T) {
	l, addr := serveLimited(t, connlimit.ListenerConfig{MaxPerClient: 3})
	var open []*client
	for range 3 {
		c := dial(t, "127.0.0.1", addr)
		served(t, c, "one of the first 3")
		open = append(open, c)
	}
	if n := l.Open("127.0.0.1"); n != 3 {
		t.Fatalf("Open = %d, want 3", n)
	}
	refused(t, "127.0.0.1", addr, "the 4th")
	if n := l.Refused(); n != 1 {
		t.Fatalf("Refused = %d, want 1", n)
	}
	// Those open go on; one client at its cap holds up nobody else.
	served(t, open[0], "an open one, after the refusal")

	// One closes: the client may connect again, once.
	open[2].Close()
	waitFor(t, "down to 2 open", func() bool { return l.Open("127.0.0.1") == 2 })
	again := dial(t, "127.0.0.1", addr)
	served(t, again, "after one closed")
	refused(t, "127.0.0.1", addr, "over the cap again")

	// Everything closed: nothing is left in memory.
	for _, c := range append(open[:2], again) {
		c.Close()
	}
	waitFor(t, "all gone", func() bool { return l.Total() == 0 && l.Clients() == 0 })
}

func TestListenerOtherClientsServed(t *testing.T) {
	l, addr := serveLimited(t, connlimit.ListenerConfig{MaxPerClient: 1})
	served(t, dial(t, "127.0.0.1", addr), "the first of 127.0.0.1")
	refused(t, "127.0.0.1", addr, "the second of 127.0.0.1")
	served(t, dial(t, "127.0.0.2", addr), "127.0.0.2, while 127.0.0.1 is at its cap")
	if n := l.Clients(); n != 2 {
		t.Fatalf("Clients = %d, want 2", n)
	}
}

func TestListenerExempt(t *testing.T) {
	_, proxy, _ := net.ParseCIDR("127.0.0.2/32")
	l, addr := serveLimited(t, connlimit.ListenerConfig{MaxPerClient: 1, Exempt: []*net.IPNet{proxy}})
	for range 5 {
		served(t, dial(t, "127.0.0.2", addr), "the exempt proxy")
	}
	if l.Total() != 0 || l.Refused() != 0 {
		t.Fatalf("the exempt proxy: Total %d, Refused %d; want 0, 0 (not counted)", l.Total(), l.Refused())
	}
	served(t, dial(t, "127.0.0.1", addr), "the first of 127.0.0.1")
	refused(t, "127.0.0.1", addr, "the second of 127.0.0.1, not exempt")
}

// TestListenerCloseTwice: closing a connection twice gives its place back
// once.
func TestListenerCloseTwice(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := connlimit.NewListener(ln, connlimit.ListenerConfig{MaxPerClient: 2})
	defer l.Close()
	var accepted []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sc, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		accepted = append(accepted, sc)
	}
	accepted[0].Close()
	accepted[0].Close()
	if n := l.Open("127.0.0.1"); n != 1 {
		t.Fatalf("after closing one twice: Open = %d, want 1", n)
	}
	accepted[1].Close()
	if l.Total() != 0 || l.Clients() != 0 {
		t.Fatalf("all closed: Total %d, Clients %d; want 0, 0", l.Total(), l.Clients())
	}
}
