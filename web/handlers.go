package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/static"
	"github.com/chatwindow/chatwindow/views"
)

func (s *Server) handleChat(c echo.Context) error {
	id, err := s.ensureIdentity(c)
	if err != nil {
		return err
	}
	if tok, ok := s.relay.Token(id.SessionID); ok && tok != id.Token {
		// The service gave the session a new identity: keep it.
		if err := s.saveIdentity(c, relay.Identity{SessionID: id.SessionID, Token: tok}); err != nil {
			return err
		}
	}
	win := views.Window{Connection: views.Connection{State: "connecting"}, Phase: "new"}
	if v, ok := s.relay.View(id.SessionID); ok {
		win = windowProps(v, s.images.cardImages)
	}
	page := views.Page{
		Assets: views.Assets{
			CSS:    "/static/" + s.assets.Hashed("chat.css"),
			HTMX:   "/static/" + s.assets.Hashed("vendor/htmx-2.0.11.min.js"),
			HTMXWS: "/static/" + s.assets.Hashed("vendor/htmx-ext-ws-2.0.4.min.js"),
			ChatJS: "/static/" + s.assets.Hashed("chat.js"),
		},
		SocketURL: "/ws",
		Window:    win,
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.render(c, http.StatusOK, views.ChatPage(page))
}

// handleStatic serves embedded assets by their content-hashed names, so
// they can be cached for good.
func (s *Server) handleStatic(c echo.Context) error {
	return serveAsset(c, s.assets, "/static/")
}

// serveAsset answers with the embedded asset named by the request's path
// after prefix.
func serveAsset(c echo.Context, assets *static.Assets, prefix string) error {
	name := strings.TrimPrefix(c.Request().URL.Path, prefix)
	a, ok := assets.Lookup(name)
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "not found")
	}
	h := c.Response().Header()
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	if a.Gzipped != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(c.Request().Header.Get("Accept-Encoding")) {
			h.Set("Content-Encoding", "gzip")
			return c.Blob(http.StatusOK, a.ContentType, a.Gzipped)
		}
	}
	return c.Blob(http.StatusOK, a.ContentType, a.Body)
}

// handleHealth says the process serves (liveness).
func (s *Server) handleHealth(c echo.Context) error {
	return c.String(http.StatusOK, "ok")
}

// handleReady says whether to send customers here (readiness): not while
// shutting down.
func (s *Server) handleReady(c echo.Context) error {
	if err := s.relay.Ready(); err != nil {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "shutting down").SetInternal(err)
	}
	return c.String(http.StatusOK, "ready")
}

// handleMetrics serves the node's Prometheus metrics (README,
// "Operations"); 404 when the node keeps none.
func (s *Server) handleMetrics(c echo.Context) error {
	s.cfg.Metrics.Handler().ServeHTTP(c.Response(), c.Request())
	return nil
}

// acceptsGzip reads an Accept-Encoding header: gzip listed without q=0.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}
