package connlimit_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/connlimit"
)

// deadline is the tests' short body and response deadline.
const deadline = 200 * time.Millisecond

// TestDeadlinesCutTricklingBody: a body trickling a byte every 20 ms (each
// byte on time, the whole never ending) is cut at the deadline: the
// handler's read fails with a timeout, it ends, and the connection is
// closed. Without Deadlines the handler reads for ever.
func TestDeadlinesCutTricklingBody(t *testing.T) {
	tests := []struct {
		name, head string
		chunk      string // one trickled byte, framed
	}{
		{"a length", "POST /sign-in HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n", "x"},
		{"chunked", "POST /sign-in HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", "1\r\nx\r\n"},
		{"claiming an upgrade", "POST /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 1000000\r\n\r\n", "x"},
		{"a GET with a body claiming an upgrade", "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 1000000\r\n\r\n", "x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			read := make(chan error, 1)
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, err := io.Copy(io.Discard, r.Body)
				read <- err
				http.Error(w, "too slow", http.StatusRequestTimeout)
			})
			srv := httptest.NewServer(connlimit.Deadlines(h, deadline, 0))
			t.Cleanup(srv.Close)

			c, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			if _, err := io.WriteString(c, tt.head); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			trickled := make(chan struct{})
			// The trickle ends when a write fails (the server closed the
			// connection) or the test ends.
			go func() {
				defer close(trickled)
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for {
					if _, err := io.WriteString(c, tt.chunk); err != nil {
						return
					}
					select {
					case <-tick.C:
					case <-stop:
						return
					}
				}
			}()
			t.Cleanup(func() { close(stop); <-trickled })

			select {
			case err := <-read:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("the handler's read: %v, want a timeout", err)
				}
			case <-time.After(waitLimit):
				t.Fatalf("after %s the handler still reads the trickle", waitLimit)
			}
			// The connection is closed: the client reads to its end (the
			// 408, or a reset), not into its own deadline.
			c.SetReadDeadline(time.Now().Add(waitLimit))
			if _, err := io.Copy(io.Discard, c); isTimeout(err) {
				t.Fatalf("the connection stays open: %v", err)
			}
		})
	}
}

// TestDeadlinesCutSlowReader: a client that does not read its response
// holds the handler's write until the response deadline; then the write
// fails with a timeout, the handler ends, and the connection is closed.
func TestDeadlinesCutSlowReader(t *testing.T) {
	wrote := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Far more than the sockets' buffers hold.
		chunk := make([]byte, 64<<10)
		var err error
		for i := 0; i < 1<<10 && err == nil; i++ {
			_, err = w.Write(chunk)
		}
		wrote <- err
	})
	srv := httptest.NewServer(connlimit.Deadlines(h, deadline, deadline))
	t.Cleanup(srv.Close)
	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case err := <-wrote:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the handler's write: %v, want a timeout", err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("after %s the handler still writes to a client that does not read", waitLimit)
	}
	c.SetReadDeadline(time.Now().Add(waitLimit))
	if _, err := io.Copy(io.Discard, c); isTimeout(err) {
		t.Fatalf("the connection stays open: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// TestDeadlinesSpareHandlers: a handler running past the deadlines, after
// reading its body or with none to read, keeps its request's context (net/http
// reads the connection in the background to notice the client leaving; a
// read deadline there would cancel it) and its answer is written (a form's
// answer comes within the response deadline; this one has none).
func TestDeadlinesSpareHandlers(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		<-time.After(3 * deadline) // the scenario: a slow upstream call
		if err := r.Context().Err(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, "ok")
	})
	srv := httptest.NewServer(connlimit.Deadlines(h, deadline, 0))
	t.Cleanup(srv.Close)
	for _, method := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(method, srv.URL, strings.NewReader("a=b"))
		if method == "GET" {
			req.Body, req.ContentLength = nil, 0
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: %s %s", method, res.Status, b)
		}
	}
}

// TestDeadlinesLeaveUpgradesAlone: a socket upgraded on a connection that
// has just answered a form (its deadlines set) stays open past the
// deadlines, idle and then talking.
func TestDeadlinesLeaveUpgradesAlone(t *testing.T) {
	echoed := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/form" {
			io.Copy(io.Discard, r.Body)
			io.WriteString(w, "ok")
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
		brw.Flush()
		// Echo lines until the client leaves; what ended it
		// goes to the test.
		for {
			line, err := brw.ReadString('\n')
			if err == nil {
				_, err = brw.WriteString(line)
			}
			if err == nil {
				err = brw.Flush()
			}
			if err != nil {
				echoed <- err
				return
			}
		}
	})
	srv := httptest.NewServer(connlimit.Deadlines(h, deadline, deadline))
	t.Cleanup(srv.Close)

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(waitLimit))
	br := bufio.NewReader(c)
	io.WriteString(c, "POST /form HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\na=b")
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if res, err = http.ReadResponse(br, nil); err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade on the same connection: %v %v", res.Status, err)
	}
	upgraded := time.Now()

	echo := func(what string) {
		t.Helper()
		if _, err := io.WriteString(c, what+"\n"); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		line, err := br.ReadString('\n')
		if err != nil || line != what+"\n" {
			select {
			case serr := <-echoed:
				t.Fatalf("%s: the socket ended on the server: %v", what, serr)
			default:
				t.Fatalf("%s: read %q, %v", what, line, err)
			}
		}
	}
	echo("at once")
	// The scenario: the socket idles past every deadline there
	// could be on its connection (its request's, the form's),
	// its server reading all along.
	<-time.After(time.Until(upgraded.Add(3 * deadline)))
	echo("after the deadlines")
	echo("and again")
}
