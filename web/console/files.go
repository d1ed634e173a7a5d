package console

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/desks"
	"github.com/chatwindow/chatwindow/views"
	"github.com/chatwindow/chatwindow/web"
)

// Files in the console (docs/console.md, Files): the agent's page posts a
// file to uploadPath (static/upload.js, the composer's attach control)
// and fetches the conversation's files at filePath; the desk does both
// with the agent's own messaging connection, so the browser never sees the
// storage's signed URLs.
const (
	uploadPath = Prefix + "/upload"
	filePath   = Prefix + "/file"
	// maxFilesAtOnce bounds the uploads, and the downloads, the console
	// serves at once (each holds up to 3 MB in memory) [ours].
	maxFilesAtOnce = 8
	// fileTimeout bounds the messaging service's answer and the storage's
	// bytes of an upload or a download.
	fileTimeout = 30 * time.Second
	// maxFileBytes is the largest file an agent sends: LivePerson's.
	maxFileBytes = desks.MaxFileBytes
)

// attach is the console composer's file control: its conversation goes
// with the file.
func attach() views.Attach {
	a := web.AttachControl(uploadPath, maxFileBytes)
	a.Fields = "conversationId"
	return a
}

// fileProp is the bubble of a file shared in a conversation.
func fileProp(f desks.File) views.File {
	return web.FileBubble(filePath, f.Caption, f.FileType, f.RelativePath, f.Preview)
}

// handleUpload takes the agent's file for one of its open conversations:
// a multipart POST of a page of this site (web.CheckPageOrigin: the
// console's cookie is only sent along, never trusted alone) with fields
// conversationId and file. It answers 201 with the id of the file's
// bubble, or a refusal whose text says what is wrong.
func (c *Server) handleUpload(ec echo.Context) error {
	ec.Response().Header().Set("Cache-Control", "no-store")
	r := ec.Request()
	if err := web.CheckPageOrigin(r, c.cfg.Secure); err != nil {
		return err
	}
	cs, _ := c.session(r)
	if cs.desk == "" {
		return web.UploadError(http.StatusForbidden, "You are signed out. Sign in again to send files.")
	}
	up, release, err := c.uploads.Receive(ec, fileTimeout+10*time.Second, "conversationId")
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel := context.WithTimeout(r.Context(), fileTimeout)
	defer cancel()
	key, err := c.desks.SendFile(ctx, cs.desk, up.Fields["conversationId"], desks.Upload{Name: up.Name, Type: up.Type, Data: up.Data, Preview: up.Preview})
	if err != nil {
		code, text := http.StatusBadGateway, "The file could not be sent. Please try again."
		switch {
		case errors.Is(err, desks.ErrNoDesk):
			code, text = http.StatusForbidden, "You are signed out. Sign in again to send files."
		case errors.Is(err, desks.ErrNoConversation):
			code, text = http.StatusConflict, "This conversation is not open."
		case errors.Is(err, context.DeadlineExceeded):
			code, text = http.StatusGatewayTimeout, "Sending the file took too long. Please try again."
		}
		c.log.Info("agent file refused", "type", up.Type.Name, "bytes", len(up.Data), "status", code, "error", err)
		return web.UploadError(code, text).SetInternal(err)
	}
	return ec.JSON(http.StatusCreated, map[string]string{"id": key})
}

// handleFile downloads a file shared in one of the desk's conversations
// (web.ServeFile: an attachment, or a picture shown with view=1).
func (c *Server) handleFile(ec echo.Context) error {
	web.FileHeaders(ec)
	cs, _ := c.session(ec.Request())
	q := ec.QueryParams()
	p := q.Get("p")
	if cs.desk == "" || len(q["p"]) != 1 || !web.ValidStoragePath(p) {
		return echo.NewHTTPError(http.StatusNotFound, "This file is not available.")
	}
	select {
	case c.downloads <- struct{}{}:
		defer func() { <-c.downloads }()
	default:
		ec.Response().Header().Set("Retry-After", "1")
		return echo.NewHTTPError(http.StatusServiceUnavailable, "Too many downloads at once. Please try again.")
	}
	ctx, cancel := context.WithTimeout(ec.Request().Context(), fileTimeout)
	defer cancel()
	f, err := c.desks.Download(ctx, cs.desk, p)
	if err != nil {
		code, text := http.StatusBadGateway, "The file could not be fetched. Please try again."
		switch {
		case errors.Is(err, desks.ErrNoFile), errors.Is(err, desks.ErrNoDesk):
			code, text = http.StatusNotFound, "This file is not available."
		case errors.Is(err, context.DeadlineExceeded):
			code = http.StatusGatewayTimeout
		}
		c.log.Info("agent file download refused", "path", p, "status", code, "error", err)
		return echo.NewHTTPError(code, text).SetInternal(err)
	}
	return web.ServeFile(ec, web.StorageFileName(p), f.ContentType, f.Data, q.Get(web.ViewParam) == "1")
}
