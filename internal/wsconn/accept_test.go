package wsconn_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/wsconn"
)

// countingListener counts the writes made on the connections it accepts:
// one per write syscall.
type countingListener struct {
	net.Listener
	writes atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	return &countedConn{Conn: c, n: &l.writes}, err
}

type countedConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countedConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// TestBatchedSocket: frames written while the socket's batch is held reach
// the peer whole and in order, in one write; without holding, one write
// each (or more, for a frame larger than the buffer). With net/http's
// buffers and with smaller ones.
func TestBatchedSocket(t *testing.T) {
	for _, bufs := range []struct {
		read, write int
		unheld      int64 // writes the frames take unheld: the 3000 bytes take two past a 2 KiB buffer
	}{{0, 0, 3}, {1 << 10, 2 << 10, 4}} {
		t.Run(fmt.Sprintf("buffers %d,%d", bufs.read, bufs.write), func(t *testing.T) {
			frames := []string{"first", strings.Repeat("x", 3000), "third"}
			held := make(chan int64, 1)
			var lis *countingListener
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				batch := wsconn.NewBatch(nil)
				conn, err := websocket.Accept(wsconn.Response{ResponseWriter: w, ReadBuffer: bufs.read, WriteBuffer: bufs.write, Batch: batch}, r, nil)
				if err != nil {
					t.Error(err)
					return
				}
				defer conn.CloseNow()
				ctx := context.Background()
				before := lis.writes.Load()
				batch.Hold()
				for _, f := range frames {
					if err := conn.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
						t.Error(err)
					}
				}
				if n := lis.writes.Load() - before; n != 0 {
					t.Errorf("%d writes while held", n)
				}
				if err := batch.Release(); err != nil {
					t.Error(err)
				}
				held <- lis.writes.Load() - before
				before = lis.writes.Load()
				for _, f := range frames {
					if err := conn.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
						t.Error(err)
					}
				}
				held <- lis.writes.Load() - before
				// The peer's close ends the socket.
				conn.Read(ctx)
			}))
			lis = &countingListener{Listener: srv.Listener}
			srv.Listener = lis
			srv.Start()
			defer srv.Close()

			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(websocket.StatusNormalClosure, "")
			for round, want := range []int64{1, bufs.unheld} {
				for i, f := range frames {
					_, got, err := conn.Read(ctx)
					if err != nil {
						t.Fatalf("round %d, frame %d: %v", round, i, err)
					}
					if string(got) != f {
						t.Errorf("round %d, frame %d: %d bytes %.10q…, want %d bytes %.10q…", round, i, len(got), got, len(f), f)
					}
				}
				if n := <-held; n != want {
					t.Errorf("round %d: %d frames took %d writes, want %d", round, len(frames), n, want)
				}
			}
		})
	}
}
