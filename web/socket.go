package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/keepalive"
	"github.com/chatwindow/chatwindow/internal/metrics"
	"github.com/chatwindow/chatwindow/internal/outbox"
	"github.com/chatwindow/chatwindow/internal/relay"
)

// writeTimeout bounds every write (and ping) to a page's socket.
const writeTimeout = 10 * time.Second

// keepAlive is how a page's socket is pinged: every `every`, answered within
// `timeout`, so a page that stopped answering is found within their sum
// (30 s by default).
type keepAlive struct{ every, timeout time.Duration }

// keepAlive is how this server pings its page sockets.
func (s *Server) keepAlive() keepAlive {
	return keepAlive{every: s.cfg.PingInterval, timeout: s.cfg.PingTimeout}
}

func (k keepAlive) orDefaults() keepAlive {
	if k.every <= 0 {
		k.every = 20 * time.Second
	}
	if k.timeout <= 0 {
		k.timeout = writeTimeout
	}
	return k
}

// browserFrame is what the page sends: htmx's ws-send forms (their fields,
// plus HEADERS, which is ignored) and chat.js's reports.
type browserFrame struct {
	Type    string          `json:"type"`
	Text    string          `json:"text"`
	LocalID string          `json:"localId"`
	Status  string          `json:"status"`
	Items   []relay.Item    `json:"items"`
	State   string          `json:"state"`
	Rate    json.RawMessage `json:"rate"`
	// An action (a click on a quick reply or a card button): the agent
	// message's dialog and sequence and the choice's index, as numbers or
	// (from a ws-send form) strings.
	DialogID string          `json:"dialogId"`
	Seq      json.RawMessage `json:"seq"`
	Index    json.RawMessage `json:"index"`
}

// errFrame is a browser frame that cannot be acted on.
var errFrame = errors.New("bad browser frame")

// parseBrowserFrame decodes and checks one frame from the page.
func parseBrowserFrame(b []byte) (browserFrame, error) {
	var f browserFrame
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&f); err != nil {
		return f, fmt.Errorf("%w: %v", errFrame, err)
	}
	// One frame is one JSON value: anything after it is not ours.
	if _, err := dec.Token(); err != io.EOF {
		return f, fmt.Errorf("%w: data after the frame", errFrame)
	}
	switch f.Type {
	case "send":
		if f.Text == "" {
			return f, fmt.Errorf("%w: send without text", errFrame)
		}
	case "retry":
		if f.LocalID == "" {
			return f, fmt.Errorf("%w: retry without localId", errFrame)
		}
	case "report":
		if f.Status != "delivered" && f.Status != "seen" {
			return f, fmt.Errorf("%w: report status %q", errFrame, f.Status)
		}
		if len(f.Items) == 0 || len(f.Items) > MaxReportItems {
			return f, fmt.Errorf("%w: report of %d items", errFrame, len(f.Items))
		}
	case "typing":
		if f.State == "" {
			return f, fmt.Errorf("%w: typing without state", errFrame)
		}
	case "csat":
		if _, err := f.rating(); err != nil {
			return f, err
		}
	case "action":
		if _, _, err := f.action(); err != nil {
			return f, err
		}
	case "close", "new":
	default:
		return f, fmt.Errorf("%w: unknown type %q", errFrame, f.Type)
	}
	return f, nil
}

// rating reads rate as 1..5, sent as a string by forms or a number.
func (f browserFrame) rating() (int, error) {
	var s string
	if err := json.Unmarshal(f.Rate, &s); err != nil {
		s = string(f.Rate)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 5 {
		return 0, fmt.Errorf("%w: rating %q", errFrame, s)
	}
	return n, nil
}

// maxChoiceIndex bounds an action's index (richcontent keeps fewer).
const maxChoiceIndex = 1000

// action reads an action frame's sequence and index.
func (f browserFrame) action() (seq int64, index int, err error) {
	if f.DialogID == "" || len(f.DialogID) > 128 {
		return 0, 0, fmt.Errorf("%w: action dialogId %q", errFrame, f.DialogID)
	}
	seq, err = number(f.Seq)
	if err != nil || seq < 0 {
		return 0, 0, fmt.Errorf("%w: action seq %s", errFrame, f.Seq)
	}
	n, err := number(f.Index)
	if err != nil || n < 0 || n > maxChoiceIndex {
		return 0, 0, fmt.Errorf("%w: action index %s", errFrame, f.Index)
	}
	if len(f.Text) > relay.MaxText {
		return 0, 0, fmt.Errorf("%w: action text of %d bytes", errFrame, len(f.Text))
	}
	return seq, int(n), nil
}

// number reads an integer sent as a JSON number or a string of digits.
func number(raw json.RawMessage) (int64, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw)
	}
	return strconv.ParseInt(s, 10, 64)
}

// acceptSessionSocket upgrades a page's socket of the customer's session:
// same origin (scheme and host: another site cannot drive or read a
// customer's session, 403), a session cookie (401), a place among its
// client address's sockets (429), then the upgrade with a read limit. A
// nil conn means the request was answered (err, if any, is the handler's
// to return); otherwise release gives the place back when the socket ends.
func (s *Server) acceptSessionSocket(c echo.Context, readLimit int64) (relay.Identity, *websocket.Conn, func(), error) {
	if err := sameOrigin(c.Request(), s.cfg.Secure); err != nil {
		return relay.Identity{}, nil, nil, refuseCrossOrigin(err)
	}
	id, ok := s.identity(c.Request())
	if !ok {
		return id, nil, nil, echo.NewHTTPError(http.StatusUnauthorized, "no session: reload the page")
	}
	// Refused before the upgrade, while the answer can still be an HTTP
	// status; RealIP is the client behind a trusted proxy.
	release, ok := s.sockets.Acquire(c.RealIP())
	if !ok {
		return id, nil, nil, echo.NewHTTPError(http.StatusTooManyRequests, "Too many windows open from your network. Close some and try again.")
	}
	conn, err := websocket.Accept(c.Response(), c.Request(), nil)
	if err != nil {
		release()
		s.log.Debug("page socket refused", "path", c.Request().URL.Path, "error", err)
		return id, nil, nil, nil // Accept has answered
	}
	conn.SetReadLimit(readLimit)
	return id, conn, release, nil
}

// handleSocket is a tab's socket: it attaches the tab to its session, sends
// it the window and every change, and passes the page's actions on.
func (s *Server) handleSocket(c echo.Context) error {
	// Counted before the upgrade: http.Server.Shutdown waits for this
	// handler until it hijacks the connection, so Wait cannot miss it.
	s.pages.Add(1)
	id, conn, release, err := s.acceptSessionSocket(c, s.cfg.MaxFrame)
	if conn == nil {
		s.pages.Done()
		return err
	}
	tab, err := s.relay.Attach(id)
	if err != nil {
		conn.Close(websocket.StatusTryAgainLater, "try again")
		release()
		s.pages.Done()
		return nil
	}
	// The socket is served on a goroutine of its own and the handler
	// returns: the connection's goroutine, whose stack grew through the
	// middleware, the cookie's decoding and the upgrade, ends and the
	// request is let go (about 17 KiB less per session,
	// docs/performance.md). It ends when the socket does: the page left,
	// or the relay let the tab go (Wait).
	go func() {
		defer s.pages.Done()
		defer release()
		servePage(conn, tab, s.keepAlive(), s.cfg.Metrics, func(ctx context.Context) {
			s.readTab(ctx, conn, tab)
		})
		tab.Detach()
	}()
	return nil
}

// page is what a socket needs of a tab (the window's and the console's):
// its outbox.
type page interface {
	Serve(outbox.Sink)
	Stop()
}

// servePage runs a page's socket: read reads it until it fails or closes
// (on this goroutine, the socket's one reader); the tab's outbox writes to
// it, from a goroutine of its own only while frames wait; pings go out
// from a timer. m, if any, gets the relay latency of every frame written.
// It returns once nothing touches conn any more.
func servePage(conn *websocket.Conn, tab page, ka keepAlive, m *metrics.Metrics, read func(ctx context.Context)) {
	// The request's context ends with the hijack: the socket gets its own,
	// which ends when the reader stops.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Pings find a page that stopped answering (a laptop closed, a network
	// gone): it is cut within ka.every + ka.timeout, and its session's
	// grace period starts.
	ka = ka.orDefaults()
	pinger := keepalive.Start(ka.every, func() error {
		pctx, cancel := context.WithTimeout(ctx, ka.timeout)
		defer cancel()
		return conn.Ping(pctx)
	}, func(error) { conn.CloseNow() })
	tab.Serve(pageSink{ctx: ctx, conn: conn, metrics: m})
	read(ctx)
	pinger.Stop()
	cancel()
	tab.Stop()
	// The reader ended (the page left, its socket failed, or it sent what
	// the server refuses): close it for good, so that a half-closed
	// connection does not hold its descriptor until the collector finds
	// it. Close, not CloseNow: a close already sent (1009, 1008) is then
	// answered before the connection goes, instead of the page's unread
	// bytes turning it into a reset that loses the close code.
	conn.Close(websocket.StatusNormalClosure, "")
}

// pageSink is a page's socket as its outbox writes to it.
type pageSink struct {
	ctx     context.Context
	conn    *websocket.Conn
	metrics *metrics.Metrics
}

// Write sends one frame within writeTimeout; a failed write cuts the
// socket (its reader then ends).
func (p pageSink) Write(f outbox.Frame) bool {
	wctx, cancel := context.WithTimeout(p.ctx, writeTimeout)
	err := p.conn.Write(wctx, websocket.MessageText, f.Data)
	cancel()
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
func (p pageSink) End(r outbox.Reason) {
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

func (s *Server) readTab(ctx context.Context, conn *websocket.Conn, tab *relay.Tab) {
	readFrames(ctx, conn, s.log, func(b []byte) error {
		f, err := parseBrowserFrame(b)
		if err != nil {
			return err
		}
		switch f.Type {
		case "send":
			tab.Send(f.Text)
		case "retry":
			tab.Retry(f.LocalID)
		case "report":
			tab.Report(f.Status, f.Items)
		case "typing":
			tab.Typing(f.State)
		case "close":
			tab.CloseConversation()
		case "csat":
			n, _ := f.rating()
			tab.Rate(n)
		case "new":
			tab.NewConversation()
		case "action":
			seq, index, _ := f.action()
			tab.Action(f.DialogID, seq, index, f.Text)
		}
		return nil
	})
}
