package web

import (
	"context"
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
	"github.com/chatwindow/chatwindow/views"
)

// The QA view (docs/qa.md): the customer's window and the agent console
// side by side, and the protocol inspector of the session's upstream
// socket, on the window's own server and session cookie.

// handleQA is the QA page. It makes sure there is a session, so that the
// framed window and the inspector's socket share it from the first load.
func (s *Server) handleQA(c echo.Context) error {
	if _, err := s.ensureIdentity(c); err != nil {
		return err
	}
	console := s.consoleURL(c.Request())
	page := views.QAPage{
		Assets: views.QAAssets{
			CSS:    "/static/" + s.assets.Hashed("qa.css"),
			HTMX:   "/static/" + s.assets.Hashed("vendor/htmx-2.0.11.min.js"),
			HTMXWS: "/static/" + s.assets.Hashed("vendor/htmx-ext-ws-2.0.4.min.js"),
			JS:     "/static/" + s.assets.Hashed("qa.js"),
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
	return s.render(c, http.StatusOK, views.QA(page))
}

// consoleURL is the configured console URL as the QA page frames it. When
// both the console and the page are on loopback under different names
// (console on 127.0.0.1, page on localhost), the console is framed under
// the page's host name: then the two are the same site, and the console's
// SameSite cookies work inside the frame.
func (s *Server) consoleURL(r *http.Request) string {
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

// handleQASocket is the inspector's socket: every frame the session kept,
// then each new one, as htmx fragments. It is served like a tab's socket
// (servePage): pinged, closed once its reader ends, counted by Wait, and
// counted against the session's tab cap. The page sends nothing on it.
func (s *Server) handleQASocket(c echo.Context) error {
	s.pages.Add(1)
	// The page sends nothing here: a small read limit.
	id, conn, release, err := s.acceptSessionSocket(c, 4<<10)
	if conn == nil {
		s.pages.Done()
		return err
	}
	w, err := s.relay.Inspect(id)
	if err != nil {
		release()
		s.log.Info("inspector refused", "error", err)
		code, reason := websocket.StatusTryAgainLater, "try again"
		if errors.Is(err, relay.ErrTooManyTabs) {
			code, reason = websocket.StatusPolicyViolation, "too many tabs"
		}
		conn.Close(code, reason)
		s.pages.Done()
		return nil
	}
	// Like a tab's socket: its own goroutine, ended by the page leaving or
	// the session ending (the watch's Ended).
	go func() {
		defer s.pages.Done()
		defer release()
		defer w.Close()
		servePage(conn, &inspectorPage{log: s.log, watch: w}, s.keepAlive(), nil, func(ctx context.Context) {
			readFrames(ctx, conn, s.log, func([]byte) error { return errInspectorFrame })
		})
	}()
	return nil
}

// errInspectorFrame refuses whatever the inspector's page sends.
var errInspectorFrame = fmt.Errorf("%w: the inspector takes no frames", errFrame)

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
			b, err := renderAll(views.QAFrames(qaFrames(frames), missed, reset))
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
