package relay

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/chatwindow/chatwindow/internal/bidi"
	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Shared files (docs/protocol.md, Files): a hosted/file event is a file
// bubble (its caption, its type, a thumbnail when its preview is a small
// image data URL) with a link to the window, which downloads the file
// through the session's own upstream (Manager.Download).

// MaxFileBytes is the largest file downloaded for a customer: LivePerson's
// limit (File Sharing: "Each file can be up to 3MB").
const MaxFileBytes = 3 << 20

// maxPreviewBytes bounds the preview shown as a thumbnail (File Sharing:
// "the preview must be under 30KB").
const maxPreviewBytes = 30 << 10

// previewTypes are the image types a thumbnail may be.
var previewTypes = map[string]bool{"image/png": true, "image/jpeg": true, "image/gif": true, "image/webp": true}

// File is a message's shared file, as the window shows it. Caption and
// FileType hold no direction controls (internal/bidi).
type File struct {
	Caption  string
	FileType string
	// RelativePath names the file at the messaging service: what the
	// window's download link asks for.
	RelativePath string
	// Preview is the thumbnail, a data URL the page may show as it is
	// (checked by safePreview); empty when there is none or it was
	// refused.
	Preview string
}

// newFile is the window's File of a hosted/file message.
func newFile(hf protocol.HostedFile) *File {
	return &File{
		Caption:      bidi.Strip(hf.Caption),
		FileType:     bidi.Strip(hf.FileType),
		RelativePath: hf.RelativePath,
		Preview:      safePreview(hf.Preview),
	}
}

// Text is the file message's plain text (announcements, logs): its
// caption, or what it is.
func (f *File) Text() string {
	if f.Caption != "" {
		return f.Caption
	}
	if f.FileType != "" {
		return "A file (" + f.FileType + ")"
	}
	return "A file"
}

// safePreview returns p when it is a base64 data URL of a PNG, JPEG, GIF
// or WebP image of at most 30 KB whose bytes are that image type, and ""
// for anything else: the page shows it as an img src (the window's CSP
// allows data: images), so nothing but a small image of a known type may
// get there.
func safePreview(p string) string {
	if len(p) > maxPreviewBytes {
		return ""
	}
	rest, ok := strings.CutPrefix(p, "data:")
	if !ok {
		return ""
	}
	mediaType, data, ok := strings.Cut(rest, ";base64,")
	if !ok || !previewTypes[mediaType] {
		return ""
	}
	b, err := base64.StdEncoding.Strict().DecodeString(data)
	if err != nil || len(b) == 0 || http.DetectContentType(b) != mediaType {
		return ""
	}
	return p
}

// ErrNoFile is wrapped by Download when the messaging service refuses the
// file to this customer (not theirs, not shared with them, unknown).
var ErrNoFile = errors.New("not a file this customer may download")

// Download fetches a shared file for the session of id. The session's
// upstream asks the service for a download URL of relativePath with the
// customer's own identity, so that the service decides what they may have;
// this server then fetches the bytes from the storage, at most
// MaxFileBytes. The browser sees neither the signed URL nor the token.
// The session is started when it does not run on this node (the link may
// reach another node than the page's socket), and the request waits for
// its connection, within ctx.
func (m *Manager) Download(ctx context.Context, id Identity, relativePath string) (messaging.File, error) {
	s, err := m.session(id)
	if err != nil {
		return messaging.File{}, fmt.Errorf("download: %w", err)
	}
	type result struct {
		url messaging.StorageURL
		err error
	}
	reply := make(chan result, 1)
	// On the loop, the request joins the session's queue, which runs it
	// once the connection is open (live.Call); the reply is buffered, so
	// a caller that gave up meanwhile blocks nobody.
	s.loop.Post(func() {
		live.Call(s.loop, func(ctx context.Context) (messaging.StorageURL, error) {
			return s.up.GenerateDownloadURL(ctx, relativePath)
		}, func(u messaging.StorageURL, err error) { reply <- result{u, err} })
	})
	var r result
	select {
	case r = <-reply:
	case <-s.loop.Ended():
		return messaging.File{}, fmt.Errorf("download: %w", live.ErrEnded)
	case <-ctx.Done():
		return messaging.File{}, fmt.Errorf("download: waiting for the messaging service: %w", ctx.Err())
	}
	if r.err != nil {
		if messaging.Classify(r.err) == messaging.GiveUp {
			return messaging.File{}, fmt.Errorf("download %s: %w: %w", relativePath, ErrNoFile, r.err)
		}
		return messaging.File{}, fmt.Errorf("download %s: %w", relativePath, r.err)
	}
	f, err := messaging.Download(ctx, m.cfg.HTTPClient, r.url, MaxFileBytes)
	if err != nil {
		return messaging.File{}, err
	}
	return f, nil
}
