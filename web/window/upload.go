package window

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/clientaddr"
	"github.com/chatwindow/chatwindow/internal/filetype"
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
	// uploadBodyTimeout is how long a file's bytes may take to arrive
	// (the server's body timeout is for forms): 3 MiB at 210 kbit/s.
	uploadBodyTimeout = 2 * time.Minute
	// uploadTimeout bounds what follows: the messaging service's upload
	// URL (the session may have to connect, and the conversation to be
	// made), the storage's PUT and the file's message.
	uploadTimeout = 30 * time.Second
	// maxFormOverhead is what a multipart form may hold besides the file:
	// its headers, boundaries and the preview.
	maxFormOverhead = 64 << 10
	// maxPreviewField bounds the preview field (a data: URL the session
	// keeps only under 30 KB; relay.safePreview).
	maxPreviewField = 40 << 10
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
// (none for 0): the types of internal/filetype, by extension and media
// type, for the file picker.
func attachProps(max int64) views.Attach {
	if max <= 0 {
		return views.Attach{}
	}
	var accept []string
	for _, t := range filetype.All() {
		accept = append(accept, t.Ext, t.MediaType)
		if t.Name == "JPG" {
			accept = append(accept, ".jpeg")
		}
	}
	return views.Attach{URL: uploadPath, Accept: strings.Join(accept, ","), Types: filetype.Names(), Max: max, MaxText: humanSize(max)}
}

// uploadError is a refusal the page shows as it is.
func uploadError(code int, text string) *echo.HTTPError { return echo.NewHTTPError(code, text) }

// handleUpload takes a customer's file: a same-origin multipart POST with
// the session cookie, of one part "file" (and optionally "preview", the
// page's thumbnail of an image), the file of a type file sharing carries
// (by its bytes) and at most MaxUpload. It answers 201 with the id of the
// file's bubble, or a refusal whose text says what is wrong; a refused
// file is never uploaded nor shown.
func (s *Server) handleUpload(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "no-store")
	r := c.Request()
	if err := web.SameOrigin(r, s.cfg.Secure); err != nil {
		return web.RefuseCrossOrigin(err)
	}
	if s.cfg.MaxUpload == 0 {
		return uploadError(http.StatusNotFound, "Files cannot be sent here.")
	}
	id, ok := s.Identity(r)
	if !ok {
		return uploadError(http.StatusForbidden, "There is no conversation to send this file to. Reload the page.")
	}
	if s.uploadsPerClient != nil {
		if ok, _ := s.uploadsPerClient.Allow(clientaddr.Key(c.RealIP())); !ok {
			c.Response().Header().Set("Retry-After", "60")
			return uploadError(http.StatusTooManyRequests, "Too many files at once. Please wait a minute.")
		}
	}
	limit := s.cfg.MaxUpload
	if r.ContentLength > limit+maxFormOverhead {
		return tooLargeError(limit)
	}
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	default:
		c.Response().Header().Set("Retry-After", "5")
		return uploadError(http.StatusServiceUnavailable, "Too many files are being sent right now. Please try again in a moment.")
	}
	// The bytes may take longer than a form's; the answer comes after them.
	start := time.Now()
	rc := http.NewResponseController(c.Response())
	_ = rc.SetReadDeadline(start.Add(uploadBodyTimeout))
	_ = rc.SetWriteDeadline(start.Add(uploadBodyTimeout + uploadTimeout + 10*time.Second))

	r.Body = http.MaxBytesReader(c.Response(), r.Body, limit+maxFormOverhead)
	up, err := readUpload(r, limit)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), uploadTimeout)
	defer cancel()
	key, err := s.relay.SendFile(ctx, id, up)
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
		return uploadError(code, text).SetInternal(err)
	}
	s.log.Info("customer file sent", "session_id", shortID(id.SessionID), "type", up.Type.Name, "bytes", len(up.Data))
	return c.JSON(http.StatusCreated, map[string]string{"id": key})
}

// readUpload reads the form part by part, never holding more than limit
// bytes of file (and a bounded preview), and checks the file by its bytes.
func readUpload(r *http.Request, limit int64) (relay.Upload, error) {
	malformed := func(why string) error {
		return uploadError(http.StatusBadRequest, "The upload was not a file.").SetInternal(errors.New(why))
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return relay.Upload{}, malformed(err.Error())
	}
	var up relay.Upload
	var got bool
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return relay.Upload{}, bodyError(err, limit, malformed)
		}
		switch name := p.FormName(); {
		case name == "file" && !got:
			got = true
			up.Name = p.FileName()
			up.Data, err = io.ReadAll(io.LimitReader(p, limit+1))
			if err != nil {
				return relay.Upload{}, bodyError(err, limit, malformed)
			}
			if int64(len(up.Data)) > limit {
				return relay.Upload{}, tooLargeError(limit)
			}
		case name == "preview" && up.Preview == "":
			b, err := io.ReadAll(io.LimitReader(p, maxPreviewField+1))
			if err != nil {
				return relay.Upload{}, bodyError(err, limit, malformed)
			}
			if len(b) <= maxPreviewField {
				up.Preview = string(b) // else dropped: no thumbnail
			}
		default:
			return relay.Upload{}, malformed(fmt.Sprintf("part %q", name))
		}
		p.Close()
	}
	if !got || len(up.Data) == 0 {
		return relay.Upload{}, malformed("no file, or an empty one")
	}
	t, ok := filetype.Sniff(up.Data)
	if !ok {
		return relay.Upload{}, uploadError(http.StatusUnsupportedMediaType, "Only "+filetype.Names()+" files can be sent.")
	}
	up.Type = t
	if !t.Image {
		up.Preview = ""
	}
	return up, nil
}

// bodyError is a read error of the form: the body over its bound is too
// large, a body that stopped coming or came broken is malformed.
func bodyError(err error, limit int64, malformed func(string) error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLargeError(limit)
	}
	return malformed(err.Error())
}

// tooLargeError is the refusal of a file over limit.
func tooLargeError(limit int64) error {
	return uploadError(http.StatusRequestEntityTooLarge, "This file is larger than "+humanSize(limit)+".")
}

// humanSize writes a byte count as people read file sizes: "3 MB",
// "1.5 MB", "200 KB" (binary units, as the limits are).
func humanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(math.Round(float64(n)*10/(1<<20))/10, 'f', -1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatInt(n>>10, 10) + " KB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
