package relay

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/chatwindow/chatwindow/internal/filetype"
	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/transcript"
)

// The customer's own files (docs/protocol.md, Files). The page posts a file
// to the window, which hands it to SendFile: the session asks its upstream
// for an upload URL (in the conversation, which the file may open, as File
// Sharing's Step 2 comes before its Step 3), this server PUTs the bytes to
// the storage, and only then does the file become the customer's message:
// shown in every tab, published as a hosted/file event, and from there on
// sent, confirmed, retried and ticked like their text. A failure before
// that shows and publishes nothing; the page that posted the file says so
// and may post it again (the bytes are the browser's to keep).

// Upload is a file the customer sends.
type Upload = filetype.Upload

// Errors of SendFile.
var (
	// ErrNoFiles: the conversation takes no file now (it ended, its
	// survey runs, the customer asked to be forgotten, or the upstream
	// gave up).
	ErrNoFiles = errors.New("the conversation takes no files now")
	// ErrUploadRefused: the messaging service or its storage refused the
	// file for good (its type, its size, a full store).
	ErrUploadRefused = errors.New("the messaging service refused the file")
)

// SendFile sends up as the customer of id's next message and returns the
// key of its bubble (transcript.Message.Key). It returns once the file is
// in storage and its message shows: its publish goes on like a text's. The
// session is started when it does not run on this node; every wait is
// bounded by ctx, and the caller's goroutine makes the upload.
func (m *Manager) SendFile(ctx context.Context, id Identity, up Upload) (string, error) {
	if len(up.Data) == 0 || up.Type.Name == "" {
		return "", fmt.Errorf("send file: %w: empty or of no type", ErrUploadRefused)
	}
	s, err := m.session(id)
	if err != nil {
		return "", fmt.Errorf("send file: %w", err)
	}
	u, err := live.Await(ctx, s.loop, func(reply func(messaging.StorageURL, error)) {
		s.uploadURL(int64(len(up.Data)), up.Type.Name, reply)
	})
	if err != nil {
		return "", fmt.Errorf("send file: upload URL: %w", refusedForGood(err))
	}
	if err := messaging.Upload(ctx, m.cfg.HTTPClient, u, up.Type.MediaType, up.Data); err != nil {
		return "", fmt.Errorf("send file: %w", refusedForGood(err))
	}
	f := &File{Caption: filetype.Caption(up.Name), FileType: up.Type.Name, RelativePath: u.RelativePath, Preview: filetype.SafePreview(up.Preview)}
	key, err := live.Await(ctx, s.loop, func(reply func(string, error)) { reply(s.shareFile(f)) })
	if err != nil {
		return "", fmt.Errorf("send file %s: %w", u.RelativePath, err)
	}
	return key, nil
}

// refusedForGood marks an error that trying again will not mend.
func refusedForGood(err error) error {
	if errors.Is(err, ErrNoFiles) || messaging.Classify(err) != messaging.GiveUp {
		return err
	}
	return fmt.Errorf("%w: %w", ErrUploadRefused, err)
}

// filesRefused says why the conversation takes no file now (nil: it
// does). A new conversation may start with a file.
func (s *Session) filesRefused() error {
	switch {
	case s.forgetting:
		return fmt.Errorf("%w: the customer is being forgotten", ErrNoFiles)
	case s.conn == messaging.StateOffline:
		return fmt.Errorf("%w: the messaging service is not reachable", ErrNoFiles)
	case s.conv.Phase != PhaseNew && s.conv.Phase != PhaseOpen:
		return fmt.Errorf("%w: the conversation is %s", ErrNoFiles, s.conv.Phase)
	}
	return nil
}

// uploadURL asks for an upload URL in the conversation, creating it first
// when there is none, and answers on reply.
func (s *Session) uploadURL(size int64, fileType string, reply func(messaging.StorageURL, error)) {
	if err := s.filesRefused(); err != nil {
		reply(messaging.StorageURL{}, err)
		return
	}
	s.whenConversation(func(err error) {
		if err != nil {
			reply(messaging.StorageURL{}, err)
			return
		}
		live.Call(s.loop, func(ctx context.Context) (messaging.StorageURL, error) {
			return s.up.GenerateUploadURL(ctx, size, fileType)
		}, reply)
	})
}

// whenConversation calls then, on the loop, once the session has a
// conversation (now if it has one; else after the request for one), or
// with why not.
func (s *Session) whenConversation(then func(error)) {
	if s.conv.ID != "" {
		then(nil)
		return
	}
	s.convWaiters = append(s.convWaiters, then)
	s.createConversation()
}

// conversationSettled answers the waiters of whenConversation.
func (s *Session) conversationSettled(err error) {
	ws := s.convWaiters
	s.convWaiters = nil
	for _, then := range ws {
		then(err)
	}
}

// shareFile makes an uploaded file the customer's next message and
// publishes it; it returns the message's key.
func (s *Session) shareFile(f *File) (string, error) {
	if err := s.filesRefused(); err != nil {
		return "", err
	}
	s.nextLocal++
	localID := strconv.Itoa(s.nextLocal)
	ch := s.conv.SendingFile(localID, f, s.cfg.Now())
	s.broadcast(ch)
	s.publishLocal(localID)
	return ch.Added[0].Key, nil
}

// publishLocal publishes a local message: its text, or its file.
func (s *Session) publishLocal(localID string) {
	m, ok := s.conv.Local(localID)
	switch {
	case !ok:
	case m.File != nil:
		f := m.File
		s.publish(localID, "file", protocol.Event{Type: protocol.EventContent, ContentType: protocol.ContentTypeHostedFile,
			File: &protocol.HostedFile{Caption: f.Caption, RelativePath: f.RelativePath, FileType: f.FileType, Preview: f.Preview}})
	default:
		s.publishText(localID, m.Text)
	}
}

// SendingFile adds the customer's file while its publish is in flight.
func (c *Conversation) SendingFile(localID string, f *File, at time.Time) Change {
	var out Change
	m, added := c.log.Sending(Message{
		Message: transcript.Message{LocalID: localID, Text: f.Text(), At: at, Attachment: true, Ref: f.RelativePath},
		From:    FromConsumer, Chosen: -1, File: f,
	})
	if !added {
		return Change{Updated: []Message{*m}}
	}
	c.closeReplies(&out, m)
	out.Added = append(out.Added, *m)
	return out
}
