package messaging

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// TestSyncWaitsForRestore: a socket that takes requests but has not
// restored its items yet (its subscriptions' replays not asked for) gets
// no Sync barrier: it is refused, and nothing is sent. Once the session is
// open the barrier goes out.
func TestSyncWaitsForRestore(t *testing.T) {
	var clocks atomic.Int32
	// The service's side: answers every request with 200, counting
	// GetClocks. Ends when the socket closes.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		for {
			_, b, err := ws.Read(r.Context())
			if err != nil {
				return
			}
			f, err := protocol.ParseFrame(b)
			if err != nil {
				return
			}
			if f.Type == protocol.TypeGetClock {
				clocks.Add(1)
			}
			resp, err := protocol.AppendResponse(nil, f.ID, 200, f.Type+"$Response", protocol.GetClockResponse{CurrentTime: 1})
			if err != nil || ws.Write(r.Context(), websocket.MessageText, resp) != nil {
				return
			}
		}
	}))
	defer srv.Close()

	c, err := Dial(t.Context(), "ws"+strings.TrimPrefix(srv.URL, "http"), DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close() // Dial's reader ends with it

	s := newSession(SessionOptions{})
	s.mu.Lock()
	s.live, s.state = c, StateReconnecting // restoring
	s.mu.Unlock()
	if err := s.Sync(t.Context()); !errors.Is(err, ErrNotConnected) {
		t.Errorf("Sync while the socket restores = %v, want ErrNotConnected", err)
	}
	if n := clocks.Load(); n != 0 {
		t.Errorf("%d GetClock sent while the socket restores, want none", n)
	}

	s.mu.Lock()
	s.state = StateOpen
	s.runCtx = context.Background()
	s.mu.Unlock()
	if err := s.Sync(t.Context()); err != nil {
		t.Errorf("Sync once open = %v", err)
	}
	if n := clocks.Load(); n != 1 {
		t.Errorf("%d GetClock sent once open, want 1", n)
	}
}
