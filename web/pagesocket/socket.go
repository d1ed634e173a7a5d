// Package pagesocket serves the sockets of chatwindow's pages, one way for
// every surface (the customer's window, its QA inspector, the agent
// console): the same origin only, a cap per client address, a read limit,
// pings, one reading goroutine that decodes frames strictly and refuses a
// flood, a writer that runs while frames wait (the page's outbox), the
// close code that tells the page whether to come back, and a count of the
// live sockets so that shutting down can wait for them.
package pagesocket

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/connlimit"
	"github.com/chatwindow/chatwindow/internal/keepalive"
	"github.com/chatwindow/chatwindow/internal/metrics"
	"github.com/chatwindow/chatwindow/internal/outbox"
	"github.com/chatwindow/chatwindow/internal/wsconn"
	"github.com/chatwindow/chatwindow/web"
)

// writeTimeout bounds every write (and ping) to a page's socket.
const writeTimeout = 10 * time.Second

// A page socket's buffers, instead of net/http's 4 KiB reader and 4 KiB
// writer, which coder/websocket keeps for the connection's life: 8 KiB of
// every idle page (docs/performance.md, Memory). A page's frames are small
// (its reports and sends fit in readBuffer, a message's fragment in
// writeBuffer); a larger one costs one more syscall.
const (
	readBuffer  = 1 << 10
	writeBuffer = 2 << 10
)

// Config configures the sockets of one surface.
type Config struct {
	Logger *slog.Logger
	// Secure: the pages are served over HTTPS (their origin is https).
	Secure bool
	// PerClient caps the sockets one client address holds open: an IPv4
	// address or an IPv6 /64, as RealIP names it (0: no cap).
	PerClient int
	// PingInterval and PingTimeout keep sockets honest: a page that
	// answers no ping within PingTimeout is cut (0: 20 s and 10 s), so a
	// page that stopped answering is found within their sum.
	PingInterval, PingTimeout time.Duration
	// Metrics, if any, gets the relay latency of every frame written.
	Metrics *metrics.Metrics
}

// Server accepts and serves the sockets of one surface, and counts them.
type Server struct {
	cfg     Config
	clients *connlimit.Counter
	live    sync.WaitGroup
}

// New returns a server of sockets.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 20 * time.Second
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = writeTimeout
	}
	return &Server{cfg: cfg, clients: connlimit.NewCounter(cfg.PerClient)}
}

// Wait blocks until every socket accepted has been served to its end: call
// it once their sessions have let every page go.
func (s *Server) Wait() { s.live.Wait() }

// Socket is an accepted page socket, not yet served.
type Socket struct {
	Conn    *websocket.Conn
	srv     *Server
	release func()
}

// Accept upgrades a page's socket: the same origin only (scheme and host:
// another site cannot drive or read anyone's session, 403), then admit's
// check of the request (the surface's own: a session cookie, say), a place
// among its client address's sockets (429), and the upgrade, with
// readLimit on every frame. The socket is counted from here
// (http.Server.Shutdown waits for the handler until it hijacks the
// connection, so Wait cannot miss one). A nil Socket means the request was
// answered: err, if any, is the handler's to return. The caller serves the
// socket or refuses it.
func (s *Server) Accept(c echo.Context, readLimit int64, admit func() error) (*Socket, error) {
	if err := web.SameOrigin(c.Request(), s.cfg.Secure); err != nil {
		return nil, web.RefuseCrossOrigin(err)
	}
	if admit != nil {
		if err := admit(); err != nil {
			return nil, err
		}
	}
	// Refused before the upgrade, while the answer can still be an HTTP
	// status; RealIP is the client behind a trusted proxy.
	release, ok := s.clients.Acquire(c.RealIP())
	if !ok {
		return nil, echo.NewHTTPError(http.StatusTooManyRequests, "Too many windows open from your network. Close some and try again.")
	}
	s.live.Add(1)
	conn, err := websocket.Accept(wsconn.Response{ResponseWriter: c.Response(), ReadBuffer: readBuffer, WriteBuffer: writeBuffer}, c.Request(), nil)
	if err != nil {
		release()
		s.live.Done()
		s.cfg.Logger.Debug("page socket refused", "path", c.Request().URL.Path, "error", err)
		return nil, nil // Accept has answered
	}
	conn.SetReadLimit(readLimit)
	return &Socket{Conn: conn, srv: s, release: release}, nil
}

// Refuse closes an accepted socket at once with code (the page learns
// whether to come back).
func (so *Socket) Refuse(code websocket.StatusCode, reason string) {
	so.Conn.Close(code, reason)
	so.done()
}

func (so *Socket) done() {
	so.release()
	so.srv.live.Done()
}

// Page is what a socket serves: a page of a session (its outbox writer).
type Page interface {
	Serve(outbox.Sink)
	Stop()
}

// Serve serves the socket for page on a goroutine of its own and returns:
// the connection's goroutine, whose stack grew through the middleware and
// the upgrade, ends and the request is let go (docs/performance.md). read
// reads the socket (its one reader) until it fails or closes; the page's
// writer writes to it while frames wait; pings go out from a timer. Once
// the reader ended the socket is closed for good, then left (if set) runs.
func (so *Socket) Serve(page Page, read func(), left func()) {
	go func() {
		defer so.done()
		so.serve(page, read)
		if left != nil {
			left()
		}
	}()
}

func (so *Socket) serve(page Page, read func()) {
	conn, cfg := so.Conn, so.srv.cfg
	// The request's context ends with the hijack: the socket gets its own,
	// which ends when the reader stops.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Pings find a page that stopped answering (a laptop closed, a network
	// gone): it is cut within PingInterval + PingTimeout, and its session's
	// grace period starts.
	pinger := keepalive.Start(cfg.PingInterval, func() error {
		pctx, cancel := context.WithTimeout(ctx, cfg.PingTimeout)
		defer cancel()
		return conn.Ping(pctx)
	}, func(error) { conn.CloseNow() })
	limit := wsconn.NewWriteLimit(writeTimeout, func() { conn.CloseNow() })
	page.Serve(sink{limit: limit, conn: conn, metrics: cfg.Metrics})
	read()
	pinger.Stop()
	cancel()
	page.Stop()
	// The reader ended (the page left, its socket failed, or it sent what
	// the server refuses): close it for good, so that a half-closed
	// connection does not hold its descriptor until the collector finds
	// it. Close, not CloseNow: a close already sent (1009, 1008) is then
	// answered before the connection goes, instead of the page's unread
	// bytes turning it into a reset that loses the close code.
	conn.Close(websocket.StatusNormalClosure, "")
}

// sink is a page's socket as its outbox writes to it.
type sink struct {
	limit   *wsconn.WriteLimit
	conn    *websocket.Conn
	metrics *metrics.Metrics
}

// Write sends one frame within writeTimeout; a failed write cuts the
// socket (its reader then ends).
func (p sink) Write(f outbox.Frame) bool {
	err := p.limit.Do(func() error {
		return p.conn.Write(context.Background(), websocket.MessageText, f.Data)
	})
	if err != nil {
		p.conn.CloseNow()
		return false
	}
	if !f.Since.IsZero() {
		p.metrics.RelayLatency(time.Since(f.Since))
	}
	return true
}

// End closes the socket with a code that tells the page whether to come
// back (htmx reconnects after 1012 and 1013 only).
func (p sink) End(r outbox.Reason) {
	switch r {
	case outbox.SignedOut:
		// The last frames said so; the page must not reconnect.
		p.conn.Close(websocket.StatusNormalClosure, "signed out")
	case outbox.TooMany:
		p.conn.Close(websocket.StatusPolicyViolation, "too many tabs")
	case outbox.Slow:
		// The page reconnects and gets the window anew.
		p.conn.Close(websocket.StatusTryAgainLater, "too slow")
	default:
		// The session ended (the server is stopping): reconnect.
		p.conn.Close(websocket.StatusServiceRestart, "restarting")
	}
}
