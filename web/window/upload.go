package window

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/clientaddr"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/views"
	"github.com/chatwindow/chatwindow/web"
)

// The customer's files (docs/protocol.md, Files). The page posts the file
// to the window's own origin, never to the messaging service's storage:
// that storage is this server's upstream (on LivePerson another host, out
// of the page's CSP connect-src), and its signed URLs stay here. The
// window checks the file again (the page's checks are a courtesy), hands
// it to the customer's session (relay.Manager.SendFile), which uploads and
// publishes it, and answers the id of its bubble.

// uploadPath is where the page posts a file.
const uploadPath = "/upload"

// DefaultMaxUpload is the largest file a customer may send, and the most
// MaxUpload may be: LivePerson's (File Sharing, Step 3: "Each file can be
// up to 3MB"), as the window's downloads (relay.MaxFileBytes).
const DefaultMaxUpload = relay.MaxFileBytes

// Bounds of an upload [ours].
const (
	// maxUploads bounds the uploads this server takes at once (each holds
	// up to MaxUpload in memory); more are answered 503.
	maxUploads = 16
	// uploadTimeout bounds what follows the bytes: the messaging
	// service's upload URL (the session may have to connect, and the
	// conversation to be made), the storage's PUT and the file's message.
	uploadTimeout = 30 * time.Second
)

// maxUpload is MaxUpload with its default: DefaultMaxUpload for 0, and
// 0 (no files) for a negative one.
func (c Config) maxUpload() int64 {
	switch {
	case c.MaxUpload == 0:
		return DefaultMaxUpload
	case c.MaxUpload < 0:
		return 0
	}
	return c.MaxUpload
}

// attachProps is the composer's file control for files up to max bytes
// (none for 0).
func attachProps(max int64) views.Attach {
	if max <= 0 {
		return views.Attach{}
	}
	return web.AttachControl(uploadPath, max)
}

// handleUpload takes a customer's file: a multipart POST of a page of
// this site (web.CheckPageOrigin) with the session cookie, read and
// checked by web.Uploads (one part "file" of a type file sharing carries,
// by its bytes, of at most MaxUpload; optionally "preview", the page's
// thumbnail of a picture). It answers 201 with the id of the file's bubble,
// or a refusal whose text says what is wrong; a refused file is never
// uploaded nor shown.
func (s *Server) handleUpload(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	r := c.Request()
	if err := web.CheckPageOrigin(r, s.cfg.Secure); err != nil {
		return err
	}
	if s.uploads == nil {
		return web.UploadError(http.StatusNotFound, "Files cannot be sent here.")
	}
	id, ok := s.Identity(r)
	if !ok {
		return web.UploadError(http.StatusForbidden, "There is no conversation to send this file to. Reload the page.")
	}
	if s.uploadsPerClient != nil {
		if ok, _ := s.uploadsPerClient.Allow(clientaddr.Key(c.RealIP())); !ok {
			c.Response().Header().Set("Retry-After", "60")
			return web.UploadError(http.StatusTooManyRequests, "Too many files at once. Please wait a minute.")
		}
	}
	up, release, err := s.uploads.Receive(c, uploadTimeout+10*time.Second)
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), uploadTimeout)
	defer cancel()
	key, err := s.relay.SendFile(ctx, id, relay.Upload{Name: up.Name, Type: up.Type, Data: up.Data, Preview: up.Preview})
	if err != nil {
		code, text := http.StatusBadGateway, "The file could not be sent. Please try again."
		switch {
		case errors.Is(err, relay.ErrNoFiles):
			code, text = http.StatusConflict, "This conversation takes no files now."
		case errors.Is(err, relay.ErrUploadRefused):
			code, text = http.StatusUnprocessableEntity, "The messaging service refused this file."
		case errors.Is(err, context.DeadlineExceeded):
			code, text = http.StatusGatewayTimeout, "Sending the file took too long. Please try again."
		}
		s.log.Info("upload refused", "session_id", shortID(id.SessionID), "type", up.Type.Name, "bytes", len(up.Data), "status", code, "error", err)
		return web.UploadError(code, text).SetInternal(err)
	}
	s.log.Info("customer file sent", "session_id", shortID(id.SessionID), "type", up.Type.Name, "bytes", len(up.Data))
	return c.JSON(http.StatusCreated, map[string]string{"id": key})
}
