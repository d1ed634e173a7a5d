package window

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/filetype"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/views"
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

// storagePath is what a relativePath may look like: the storage's paths
// (/v1/AUTH_async-images/{account}/{name}.{TYPE}, with LivePerson's
// "_uuid_…_17-04-2018_09-37-15-082" names) and nothing that could mean
// something else in a URL.
var storagePath = regexp.MustCompile(`^/[A-Za-z0-9/_.-]{1,511}$`)

// fileProp is the bubble of a shared file: a picture's (a type file
// sharing names as an image, or IMG) opens through the window too.
func fileProp(f relay.File) views.File {
	link := filePath + "?p=" + url.QueryEscape(f.RelativePath)
	p := views.File{
		Caption: f.Caption,
		Type:    f.FileType,
		Preview: f.Preview,
		URL:     link,
		Name:    fileName(f.RelativePath),
	}
	if t, ok := filetype.ByName(f.FileType); ok && t.Image || f.FileType == "IMG" {
		p.Image = true
		p.ViewURL = link + "&" + viewParam + "=1"
	}
	return p
}

// viewParam asks /file to show a picture rather than save it.
const viewParam = "view"

// validPath reports whether p may be asked for (storagePath, and no "..").
func validPath(p string) bool {
	return storagePath.MatchString(p) && !strings.Contains(p, "..") && !strings.Contains(p, "//")
}

// fileName is the name a download suggests: the path's last part.
func fileName(p string) string {
	if !validPath(p) {
		return "file"
	}
	return path.Base(p)
}

// handleFile downloads a shared file for the customer of the session
// cookie. The answer is the file alone, as an attachment (a picture asked
// with view=1: inline), inert if opened as a page, typed as what the
// storage says only when its bytes are that type (internal/filetype), else
// application/octet-stream; a failure is a short text of this server's.
func (s *Server) handleFile(c echo.Context) error {
	h := c.Response().Header()
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "private, no-store")
	id, ok := s.Identity(c.Request())
	q := c.QueryParams()
	p := q.Get("p")
	view := q.Get(viewParam) == "1"
	if !ok || len(q["p"]) != 1 || !validPath(p) {
		return echo.NewHTTPError(http.StatusNotFound, "This file is not available.")
	}
	select {
	case s.downloads <- struct{}{}:
		defer func() { <-s.downloads }()
	default:
		h.Set("Retry-After", "1")
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
	ct := "application/octet-stream"
	disposition := "attachment"
	if mt, _, err := mime.ParseMediaType(f.ContentType); err == nil {
		if t, ok := filetype.ByMediaType(mt); ok && t.Is(f.Data) {
			ct = mt
			// A picture may be shown: its bytes are that picture, and
			// nosniff with the sandbox keep them one.
			if view && t.Image {
				disposition = "inline"
			}
		}
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disposition, map[string]string{"filename": fileName(p)}))
	return c.Blob(http.StatusOK, ct, f.Data)
}
