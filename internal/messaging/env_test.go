package messaging_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/testclock"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	account   = "123"
	waitLimit = testenv.WaitLimit
)

func testLogger() *slog.Logger { return testenv.Logger("MESSAGING_TEST_LOG") }

// env is the embedded service behind a real loopback HTTP server.
type env struct {
	t     *testing.T
	svc   *simulator.Service
	srv   *httptest.Server
	clock *testclock.Clock
	ep    messaging.Endpoints
}

func newEnv(t *testing.T, mods ...func(*simulator.Config)) *env {
	t.Helper()
	clk := testclock.New(time.Now())
	cfg := simulator.Config{
		Account: account,
		Agents:  []simulator.Agent{{Name: "alice", Password: "pw-a"}},
		Logger:  testLogger(),
		Now:     clk.Now,
	}
	for _, m := range mods {
		m(&cfg)
	}
	s := testenv.NewService(t, cfg)
	return &env{t: t, svc: s.Svc, srv: s.Srv, clock: clk, ep: s.EP}
}

func (e *env) signup() string {
	e.t.Helper()
	tok, err := messaging.Signup(e.t.Context(), e.srv.Client(), e.ep)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

var fastBackoff = testenv.FastBackoff

// scriptServer serves websockets with handler on loopback, for cases the
// embedded service cannot produce. handler must return when ctx ends.
func scriptServer(t *testing.T, handler func(ctx context.Context, r *http.Request, c *websocket.Conn)) *httptest.Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		defer c.CloseNow()
		handler(ctx, r, c)
	}))
	t.Cleanup(func() {
		cancel()
		srv.Close()
		wg.Wait()
	})
	return srv
}

func wsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") }

// readReq reads one request frame.
func readReq(ctx context.Context, c *websocket.Conn) (protocol.Frame, error) {
	_, b, err := c.Read(ctx)
	if err != nil {
		return protocol.Frame{}, err
	}
	return protocol.ParseFrame(b)
}

func writeFrame(ctx context.Context, c *websocket.Conn, f protocol.Frame) error {
	b, err := protocol.Marshal(f)
	if err != nil {
		return err
	}
	return c.Write(ctx, websocket.MessageText, b)
}

func asProtocolError(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return pe
	}
	return nil
}
