// Package qa is the QA view (docs/qa.md): the customer's window and the
// agent console side by side, and the protocol inspector of the session's
// upstream socket, served beside the window on its own session cookie.
package qa

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/inspector"
	"github.com/chatwindow/chatwindow/internal/outbox"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/static"
	"github.com/chatwindow/chatwindow/views"
	"github.com/chatwindow/chatwindow/web"
	"github.com/chatwindow/chatwindow/web/pagesocket"
)

// Window is what the QA view needs of the window it is served beside: the
// customer's identity in its session cookie.
type Window interface {
	// Identity reads the session cookie.
	Identity(r *http.Request) (relay.Identity, bool)
	// EnsureIdentity returns it, or makes one and sets the cookie.
	EnsureIdentity(c echo.Context) (relay.Identity, error)
}

// Config configures the QA view.
type Config struct {
	// ConsoleURL is the agent console's URL, framed beside the customer's
	// window; empty: the page shows where it would be. The console must
	// allow the window's origin in its frame-ancestors.
	ConsoleURL string
}

// View is the QA view's page and the inspector's socket.
type View struct {
	log     *slog.Logger
	cfg     Config
	assets  *static.Assets
	relay   *relay.Manager
	window  Window
	sockets *pagesocket.Server
}

// New returns the QA view of the window's sessions; its inspector's
// sockets are served (and counted) by sockets, the window's.
func New(log *slog.Logger, cfg Config, assets *static.Assets, mgr *relay.Manager, w Window, sockets *pagesocket.Server) *View {
	return &View{log: log, cfg: cfg, assets: assets, relay: mgr, window: w, sockets: sockets}
}

// Routes adds the QA view's routes to the window's server.
func (v *View) Routes(e *echo.Echo) {
	web.GetOrHead(e, "/qa", v.handleQA)
	e.GET("/qa/ws", v.handleSocket)
}

// handleQA is the QA page. It makes sure there is a session, so that the
// framed window and the inspector's socket share it from the first load.
func (s *View) handleQA(c echo.Context) error {
	if _, err := s.window.EnsureIdentity(c); err != nil {
		return err
	}
	console := s.consoleURL(c.Request())
	page := views.QAPage{
		Assets: views.QAAssets{
			CSS:    web.AssetURL(s.assets, "", "qa.css"),
			HTMX:   web.AssetURL(s.assets, "", static.HTMX),
			HTMXWS: web.AssetURL(s.assets, "", static.HTMXWS),
			JS:     web.AssetURL(s.assets, "", "qa.js"),
		},
		WindowURL:  "/",
		ConsoleURL: console,
		SocketURL:  "/qa/ws",
	}
	h := c.Response().Header()
	// The page frames the window ('self') and the console (its origin).
	frames := "'self'"
	if u, err := url.Parse(console); err == nil && u.Host != "" {
		frames += " " + u.Scheme + "://" + u.Host
	}
	h.Set("Content-Security-Policy", h.Get("Content-Security-Policy")+"; frame-src "+frames)
	h.Set("Cache-Control", "no-store")
	return web.Render(c, http.StatusOK, views.QA(page))
}

// consoleURL is the configured console URL as the QA page frames it. When
// both the console and the page are on loopback under different names
// (console on 127.0.0.1, page on localhost), the console is framed under
// the page's host name: then the two are the same site, and the console's
// SameSite cookies work inside the frame.
func (s *View) consoleURL(r *http.Request) string {
	if s.cfg.ConsoleURL == "" {
		return ""
	}
	u, err := url.Parse(s.cfg.ConsoleURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		s.log.Warn("console URL ignored", "url", s.cfg.ConsoleURL, "error", err)
		return ""
	}
	page, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		page = r.Host
	}
	if page != u.Hostname() && loopbackName(page) && loopbackName(u.Hostname()) && u.Port() != "" {
		u.Host = net.JoinHostPort(page, u.Port())
	}
	return u.String()
}

func loopbackName(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// handleSocket is the inspector's socket: every frame the session kept,
// then each new one, as htmx fragments. It is served like a tab's socket
// (web/pagesocket), and counted against the session's tab cap. The page
// sends nothing on it.
func (s *View) handleSocket(c echo.Context) error {
	var id relay.Identity
	// The page sends nothing here: a small read limit.
	sock, err := s.sockets.Accept(c, 4<<10, func() error {
		var ok bool
		if id, ok = s.window.Identity(c.Request()); !ok {
			return echo.NewHTTPError(http.StatusUnauthorized, "no session: reload the page")
		}
		return nil
	})
	if sock == nil {
		return err
	}
	w, err := s.relay.Inspect(id)
	if err != nil {
		s.log.Info("inspector refused", "error", err)
		code, reason := websocket.StatusTryAgainLater, "try again"
		if errors.Is(err, relay.ErrTooManyTabs) {
			code, reason = websocket.StatusPolicyViolation, "too many tabs"
		}
		sock.Refuse(code, reason)
		return nil
	}
	// Like a tab's socket: served until the page leaves or the session
	// ends (the watch's Ended).
	sock.Serve(&inspectorPage{log: s.log, watch: w}, func() {
		pagesocket.Read(sock.Conn, s.log, func([]byte) error { return errInspectorFrame })
	}, w.Close)
	return nil
}

// errInspectorFrame refuses whatever the inspector's page sends.
var errInspectorFrame = fmt.Errorf("%w: the inspector takes no frames", pagesocket.ErrFrame)

// inspectorPage is the inspector's socket as servePage runs it: its writer
// renders the watch's frames on a goroutine of its own (not the
// session's), from Serve until Stop or the session's end.
type inspectorPage struct {
	log   *slog.Logger
	watch *inspector.Watch
	stop  chan struct{}
	done  chan struct{}
}

// Serve starts the writer; it ends when Stop is called, a write fails or
// the session ends.
func (p *inspectorPage) Serve(sink outbox.Sink) {
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		p.write(sink)
	}()
}

// Stop ends the writer and waits for it.
func (p *inspectorPage) Stop() {
	close(p.stop)
	<-p.done
}

func (p *inspectorPage) write(sink outbox.Sink) {
	for reset := true; ; reset = false {
		frames, missed := p.watch.Next()
		if reset || len(frames) > 0 || missed > 0 {
			b, err := web.RenderAll(views.QAFrames(qaFrames(frames), missed, reset))
			if err != nil {
				p.log.Error("render inspector frames", "error", err)
				return
			}
			if !sink.Write(outbox.Frame{Data: b}) {
				return
			}
		}
		select {
		case <-p.stop:
			return
		case <-p.watch.Ended():
			// The session ended: the page reconnects to the next one.
			sink.End(outbox.Detached)
			return
		case <-p.watch.Ready():
		}
	}
}

func qaFrames(fs []inspector.Frame) []views.QAFrame {
	out := make([]views.QAFrame, len(fs))
	for i, f := range fs {
		at := f.At.UTC()
		out[i] = views.QAFrame{
			N: f.N, Out: f.Out, Kind: f.Kind, Type: f.Type, ID: f.ID, Code: f.Code, Summary: f.Summary, JSON: f.JSON,
			Time: at.Format("15:04:05.000"), TimeISO: at.Format(time.RFC3339Nano),
		}
	}
	return out
}
