package relay

import (
	"context"
	"errors"
	"fmt"

	"github.com/chatwindow/chatwindow/internal/filetype"
	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/messaging"
)

// Shared files (docs/protocol.md, Files): a hosted/file event is a file
// bubble (its caption, its type, a thumbnail when its preview is a small
// image data URL) with a link to the window, which downloads the file
// through the session's own upstream (Manager.Download).

// MaxFileBytes is the largest file downloaded for a customer.
const MaxFileBytes = filetype.MaxBytes

// File is a message's shared file, as the window shows it.
type File = filetype.Shared

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
