package desks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/chatwindow/chatwindow/internal/filetype"
	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/transcript"
)

// Files in the console (docs/console.md, Files; docs/protocol.md, Files).
// The customer's files show as file or picture items whose bytes the
// console fetches with the agent's own identity (Download). The agent
// sends one as the customer does theirs: the page posts it to the
// console, the desk asks the agent socket for an upload URL, the caller
// PUTs the bytes, and only then is it the agent's message, published and
// ticked like a text.

// MaxFileBytes is the largest file the console fetches or sends.
const MaxFileBytes = filetype.MaxBytes

// File is a message's shared file.
type File = filetype.Shared

// Upload is a file the agent sends.
type Upload = filetype.Upload

// Errors of SendFile and Download.
var (
	// ErrNoConversation: not an open conversation of the agent's.
	ErrNoConversation = errors.New("not an open conversation of this agent")
	// ErrNoFile: not a file of the agent's conversations, or one the
	// service does not give the agent.
	ErrNoFile = errors.New("not a file of this agent's conversations")
)

// SendFile sends up as the agent's next message in conversation conv of
// desk deskID and returns its bubble's key, once the file is in storage
// and its message shows; its publish goes on like a text's.
func (m *Manager) SendFile(ctx context.Context, deskID, conv string, up Upload) (string, error) {
	d, ok := m.desks.Get(deskID)
	if !ok {
		return "", ErrNoDesk
	}
	if len(up.Data) == 0 || up.Type.Name == "" {
		return "", fmt.Errorf("send file: empty or of no type")
	}
	u, err := live.Await(ctx, d.loop, func(reply func(messaging.StorageURL, error)) {
		if t, ok := d.inbox.Thread(conv); !ok || t.Closed {
			reply(messaging.StorageURL{}, ErrNoConversation)
			return
		}
		live.Call(d.loop, func(ctx context.Context) (messaging.StorageURL, error) {
			return d.up.GenerateUploadURL(ctx, int64(len(up.Data)), up.Type.Name)
		}, reply)
	})
	if err != nil {
		return "", fmt.Errorf("send file: upload URL: %w", err)
	}
	if err := messaging.Upload(ctx, m.cfg.HTTPClient, u, up.Type.MediaType, up.Data); err != nil {
		return "", fmt.Errorf("send file: %w", err)
	}
	f := &File{Caption: filetype.Caption(up.Name), FileType: up.Type.Name, RelativePath: u.RelativePath, Preview: filetype.SafePreview(up.Preview)}
	return live.Await(ctx, d.loop, func(reply func(string, error)) { reply(d.shareFile(conv, f)) })
}

// shareFile makes an uploaded file the agent's next message in conv and
// publishes it.
func (d *Desk) shareFile(conv string, f *File) (string, error) {
	t, ok := d.inbox.Thread(conv)
	if !ok || t.Closed {
		return "", ErrNoConversation
	}
	d.nextLocal++
	localID := fmt.Sprint(d.nextLocal)
	d.inbox.Touch(t.ID)
	ch := t.SendingFile(localID, f, d.cfg.Now())
	d.broadcast(t.ID, Change{List: true, Thread: ch})
	d.publish(t.ID, localID, "file", protocol.Event{Type: protocol.EventContent, ContentType: protocol.ContentTypeHostedFile,
		File: &protocol.HostedFile{Caption: f.Caption, RelativePath: f.RelativePath, FileType: f.FileType, Preview: f.Preview}})
	return ch.Added[0].Key, nil
}

// SendingFile adds the agent's file while its publish is in flight.
func (t *Thread) SendingFile(localID string, f *File, at time.Time) ThreadChange {
	m, _ := t.log.Sending(Message{
		Message: transcript.Message{LocalID: localID, DialogID: t.ID, Text: f.Text(), At: at, Attachment: true, Ref: f.RelativePath},
		From:    FromAgent, File: f,
	})
	return ThreadChange{Added: []Message{*m}, Summary: true}
}

// HasFile reports whether a message of the thread shares relativePath.
func (t *Thread) HasFile(relativePath string) bool {
	for m := range t.log.All() {
		if m.File != nil && m.File.RelativePath == relativePath {
			return true
		}
	}
	return false
}

// Download fetches a file shared in one of desk deskID's conversations:
// the agent socket asks for its download URL, and the bytes come from
// the storage, at most MaxFileBytes. A path no conversation of the desk
// shares is ErrNoFile without asking the service.
func (m *Manager) Download(ctx context.Context, deskID, relativePath string) (messaging.File, error) {
	d, ok := m.desks.Get(deskID)
	if !ok {
		return messaging.File{}, ErrNoDesk
	}
	u, err := live.Await(ctx, d.loop, func(reply func(messaging.StorageURL, error)) {
		known := false
		for _, t := range d.inbox.Threads() {
			known = known || t.HasFile(relativePath)
		}
		if !known {
			reply(messaging.StorageURL{}, ErrNoFile)
			return
		}
		live.Call(d.loop, func(ctx context.Context) (messaging.StorageURL, error) {
			return d.up.GenerateDownloadURL(ctx, relativePath)
		}, reply)
	})
	if err != nil {
		if !errors.Is(err, ErrNoFile) && messaging.Classify(err) == messaging.GiveUp {
			err = fmt.Errorf("%w: %w", ErrNoFile, err)
		}
		return messaging.File{}, fmt.Errorf("download %s: %w", relativePath, err)
	}
	return messaging.Download(ctx, m.cfg.HTTPClient, u, MaxFileBytes)
}
