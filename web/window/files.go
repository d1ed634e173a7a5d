package window

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/views"
	"github.com/chatwindow/chatwindow/web"
)

// Shared files (docs/protocol.md, Files). The page links a file to the
// window's own filePath; the window asks the messaging service for a
// download URL on the customer's own session (their consumer socket, so
// the service decides what they may have) and proxies the bytes. The
// browser never reaches the storage: it sees neither the signed URL nor
// the token, the storage host never learns the customer's address or
// browser, the download needs no CSP exception, and a storage host the
// browser cannot reach (the embedded service on the server's loopback) or
// could only reach over plain HTTP from an HTTPS page works the same.

// filePath is the download route (routes.go).
const filePath = "/file"

// fileTimeout bounds a download: the messaging service's answer (the
// session may have to connect first) and the storage's bytes.
const fileTimeout = 30 * time.Second

// maxDownloads bounds the downloads this server proxies at once (each
// holds up to relay.MaxFileBytes in memory) [ours].
const maxDownloads = 16

// fileProp is the bubble of a shared file.
func fileProp(f relay.File) views.File {
	return web.FileBubble(filePath, f.Caption, f.FileType, f.RelativePath, f.Preview)
}

// handleFile downloads a shared file for the customer of the session
// cookie (web.ServeFile: an attachment, or a picture shown with view=1);
// a failure is a short text of this server's.
func (s *Server) handleFile(c echo.Context) error {
	web.FileHeaders(c)
	id, ok := s.Identity(c.Request())
	q := c.QueryParams()
	p := q.Get("p")
	if !ok || len(q["p"]) != 1 || !web.ValidStoragePath(p) {
		return echo.NewHTTPError(http.StatusNotFound, "This file is not available.")
	}
	select {
	case s.downloads <- struct{}{}:
		defer func() { <-s.downloads }()
	default:
		c.Response().Header().Set("Retry-After", "1")
		return echo.NewHTTPError(http.StatusServiceUnavailable, "Too many downloads at once. Please try again.")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), s.fileTimeout)
	defer cancel()
	f, err := s.relay.Download(ctx, id, p)
	if err != nil {
		code, text := http.StatusBadGateway, "The file could not be fetched. Please try again."
		switch {
		case errors.Is(err, relay.ErrNoFile):
			code, text = http.StatusNotFound, "This file is not available."
		case errors.Is(err, context.DeadlineExceeded):
			code = http.StatusGatewayTimeout
		}
		s.log.Info("file download refused", "session_id", shortID(id.SessionID), "path", p, "status", code, "error", err)
		return echo.NewHTTPError(code, text).SetInternal(err)
	}
	return web.ServeFile(c, web.StorageFileName(p), f.ContentType, f.Data, q.Get(web.ViewParam) == "1")
}
