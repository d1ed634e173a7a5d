package web

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/filetype"
)

// Files a page posts to its own origin (docs/protocol.md, Files): the
// customer's in the window, the agent's in the console. The page checks a
// file before it posts it, as a courtesy; Uploads checks it for real, and
// reads it part by part, never holding more than its bound.

// Upload is a file a page posted: the small fields the form had before
// it, its name, its type (by its bytes), its bytes, and the page's preview
// of a picture.
type Upload struct {
	Fields  map[string]string
	Name    string
	Type    filetype.Type
	Data    []byte
	Preview string
}

// Bounds of an upload [ours].
const (
	// UploadBodyTimeout is how long a file's bytes may take to arrive
	// (the server's body timeout is for forms): 3 MiB at 210 kbit/s.
	UploadBodyTimeout = 2 * time.Minute
	// maxFormOverhead is what a form may hold besides the file: its
	// headers, boundaries, fields and the preview.
	maxFormOverhead = 64 << 10
	// maxPreviewField bounds the preview field (a data: URL kept only
	// under 30 KB; filetype.SafePreview).
	maxPreviewField = 40 << 10
	// maxField bounds another field (an id).
	maxField = 1 << 10
)

// Uploads receives the files of one surface: at most Max bytes each, at
// most a given number at once (each is held in memory until it is sent).
type Uploads struct {
	Max   int64
	slots chan struct{}
}

// NewUploads bounds files to max bytes and atOnce at a time.
func NewUploads(max int64, atOnce int) *Uploads {
	return &Uploads{Max: max, slots: make(chan struct{}, atOnce)}
}

// UploadError is a refusal the page shows as it is.
func UploadError(code int, text string) *echo.HTTPError { return echo.NewHTTPError(code, text) }

// CheckPageOrigin refuses a post that is not from a page of this site:
// another origin, and (unlike SameOrigin's sockets) none at all, which
// browsers always send with a script's POST.
func CheckPageOrigin(r *http.Request, secure bool) error {
	if r.Header.Get("Origin") == "" {
		return RefuseCrossOrigin(fmt.Errorf("%w: no Origin", ErrCrossOrigin))
	}
	if err := SameOrigin(r, secure); err != nil {
		return RefuseCrossOrigin(err)
	}
	return nil
}

// Receive reads the file c's request posts: a multipart form of the
// fields named (each at most once, before the file), an optional
// "preview", and one part "file" of at most Max bytes whose bytes are a
// type file sharing carries. It holds a place among the uploads at once
// (release gives it back; nil on error) and lets the body take
// UploadBodyTimeout and the answer after more. Every refusal is an
// UploadError whose text says what is wrong.
func (u *Uploads) Receive(c echo.Context, answerWithin time.Duration, fields ...string) (up Upload, release func(), err error) {
	r := c.Request()
	if r.ContentLength > u.Max+maxFormOverhead {
		return Upload{}, nil, u.tooLarge()
	}
	select {
	case u.slots <- struct{}{}:
	default:
		c.Response().Header().Set("Retry-After", "5")
		return Upload{}, nil, UploadError(http.StatusServiceUnavailable, "Too many files are being sent right now. Please try again in a moment.")
	}
	release = func() { <-u.slots }
	start := time.Now()
	rc := http.NewResponseController(c.Response())
	_ = rc.SetReadDeadline(start.Add(UploadBodyTimeout))
	_ = rc.SetWriteDeadline(start.Add(UploadBodyTimeout + answerWithin))
	r.Body = http.MaxBytesReader(c.Response(), r.Body, u.Max+maxFormOverhead)
	up, err = u.read(r, fields)
	if err != nil {
		release()
		return Upload{}, nil, err
	}
	return up, release, nil
}

func (u *Uploads) tooLarge() error {
	return UploadError(http.StatusRequestEntityTooLarge, "This file is larger than "+HumanSize(u.Max)+".")
}

// read reads the form part by part.
func (u *Uploads) read(r *http.Request, fields []string) (Upload, error) {
	malformed := func(why string) error {
		return UploadError(http.StatusBadRequest, "The upload was not a file.").SetInternal(errors.New(why))
	}
	bodyError := func(err error) error {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return u.tooLarge()
		}
		return malformed(err.Error())
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return Upload{}, malformed(err.Error())
	}
	up := Upload{Fields: map[string]string{}}
	var got bool
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Upload{}, bodyError(err)
		}
		name := p.FormName()
		_, seen := up.Fields[name]
		switch {
		case name == "file" && !got:
			got = true
			up.Name = p.FileName()
			up.Data, err = io.ReadAll(io.LimitReader(p, u.Max+1))
			if err != nil {
				return Upload{}, bodyError(err)
			}
			if int64(len(up.Data)) > u.Max {
				return Upload{}, u.tooLarge()
			}
		case name == "preview" && up.Preview == "":
			b, err := io.ReadAll(io.LimitReader(p, maxPreviewField+1))
			if err != nil {
				return Upload{}, bodyError(err)
			}
			if len(b) <= maxPreviewField {
				up.Preview = string(b) // else dropped: no thumbnail
			}
		case slices.Contains(fields, name) && !seen && !got:
			b, err := io.ReadAll(io.LimitReader(p, maxField+1))
			if err != nil {
				return Upload{}, bodyError(err)
			}
			if len(b) > maxField {
				return Upload{}, malformed(fmt.Sprintf("field %q over %d bytes", name, maxField))
			}
			up.Fields[name] = string(b)
		default:
			return Upload{}, malformed(fmt.Sprintf("part %q", name))
		}
		p.Close()
	}
	if !got || len(up.Data) == 0 {
		return Upload{}, malformed("no file, or an empty one")
	}
	t, ok := filetype.Sniff(up.Data)
	if !ok {
		return Upload{}, UploadError(http.StatusUnsupportedMediaType, "Only "+filetype.Names()+" files can be sent.")
	}
	up.Type = t
	if !t.Image {
		up.Preview = ""
	}
	return up, nil
}

// HumanSize writes a byte count as people read file sizes: "3 MB",
// "1.5 MB", "200 KB" (binary units, as the limits are).
func HumanSize(n int64) string {
	switch {
	case n >= 1<<20:
		return strconv.FormatFloat(math.Round(float64(n)*10/(1<<20))/10, 'f', -1, 64) + " MB"
	case n >= 1<<10:
		return strconv.FormatInt(n>>10, 10) + " KB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
