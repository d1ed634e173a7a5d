package web

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

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
// then each new one, as htmx fragments. The page sends nothing on it.
func (s *Server) handleQASocket(c echo.Context) error {
	// The page sends nothing here: a small read limit.
	id, conn, err := s.acceptSessionSocket(c, 4<<10)
	if conn == nil {
		return err
	}
	w, err := s.relay.Inspect(id)
	if err != nil {
		conn.Close(websocket.StatusTryAgainLater, "try again")
		return nil
	}
	defer w.Close()
	// The socket's own context (the request's ended with the hijack) ends
	// when the reader stops.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	writerDone := make(chan struct{})
	// The writer ends when the session ends, a write fails or the reader
	// stops.
	go func() {
		defer close(writerDone)
		s.writeInspector(ctx, conn, w)
	}()
	for {
		// Reading notices the page leaving; what it sends is ignored.
		if _, _, err := conn.Read(ctx); err != nil {
			if websocket.CloseStatus(err) == -1 && !errors.Is(err, context.Canceled) {
				s.log.Debug("inspector socket ended", "error", err)
			}
			break
		}
	}
	cancel()
	<-writerDone
	return nil
}

// writeInspector renders and sends frames as the watch has them: the
// rendering happens here, on the inspector's goroutine, not the session's.
func (s *Server) writeInspector(ctx context.Context, conn *websocket.Conn, w *relay.Watch) {
	for reset := true; ; reset = false {
		frames, missed := w.Next()
		if reset || len(frames) > 0 || missed > 0 {
			b, err := renderAll(views.QAFrames(qaFrames(frames), missed, reset))
			if err != nil {
				s.log.Error("render inspector frames", "error", err)
				conn.Close(websocket.StatusInternalError, "render failed")
				return
			}
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			err = conn.Write(wctx, websocket.MessageText, b)
			cancel()
			if err != nil {
				conn.CloseNow()
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.Ended():
			// The session ended: the page reconnects to the next one.
			conn.Close(websocket.StatusServiceRestart, "session ended")
			return
		case <-w.Ready():
		}
	}
}

func qaFrames(fs []relay.Frame) []views.QAFrame {
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
