package relay_test

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
)

// shareFile uploads a PNG as the agent and shares it in the conversation;
// it returns the bytes, the path and the event's sequence.
func shareFile(t *testing.T, w *world, a *messaging.Agent, convID, caption string) ([]byte, string, int64) {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 5, 5))); err != nil {
		t.Fatal(err)
	}
	up, err := a.GenerateUploadURL(t.Context(), int64(b.Len()), "PNG")
	if err != nil {
		t.Fatal(err)
	}
	if err := messaging.Upload(t.Context(), w.srv.Client(), up, "image/png", b.Bytes()); err != nil {
		t.Fatal(err)
	}
	seq, err := a.Publish(t.Context(), convID, protocol.Event{Type: protocol.EventContent, ContentType: protocol.ContentTypeHostedFile,
		File: &protocol.HostedFile{Caption: caption, RelativePath: up.RelativePath, FileType: "PNG"}})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), up.RelativePath, seq
}

// TestFileMessageAndDownload: an agent's shared file reaches the tab as a
// file message, gets ACCEPT and READ like any agent message, and the
// session downloads its bytes through its own upstream; a path the
// service does not give this customer is ErrNoFile.
func TestFileMessageAndDownload(t *testing.T) {
	w := newWorld(t)
	id := w.identity(t)
	_, tb, a, convID := w.converse(t, id, "hello")
	data, path, seq := shareFile(t, w, a, convID, "Your invoice")

	waitUntil(t, "the file in the tab", 10*time.Second, func() bool {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		return tb.agentSm[seq] == 1
	})
	waitUntil(t, "ACCEPT and READ of the file", 10*time.Second, func() bool {
		accept, read := consumerReceipts(w.svc.DialogEvents(convID), a.PID())
		return accept[seq] == 1 && read[seq] == 1
	})
	v, ok := w.mgr.View(id.SessionID)
	if !ok {
		t.Fatal("no view")
	}
	var file *relay.File
	for _, m := range v.Messages {
		if m.Seq == seq {
			file = m.File
		}
	}
	if file == nil || file.Caption != "Your invoice" || file.FileType != "PNG" || file.RelativePath != path {
		t.Fatalf("the file message: %+v", file)
	}

	f, err := w.mgr.Download(t.Context(), id, path)
	if err != nil {
		t.Fatal(err)
	}
	if f.ContentType != "image/png" || !bytes.Equal(f.Data, data) {
		t.Errorf("downloaded %s, %d bytes", f.ContentType, len(f.Data))
	}
	if _, err := w.mgr.Download(t.Context(), id, "/v1/AUTH_async-images/777/nope.PNG"); !errors.Is(err, relay.ErrNoFile) {
		t.Errorf("an unknown path: %v, want ErrNoFile", err)
	}
}

// TestDownloadStartsSession: the download link may reach a node where the
// customer's session does not run: it starts there and the download waits
// for its connection.
func TestDownloadStartsSession(t *testing.T) {
	w := newWorld(t)
	id := w.identity(t)
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	runTab(t, rt, true)
	a, ups := w.agent(t)
	rt.Send("hello")
	convID := acceptFirstRing(t, a, ups)
	data, path, _ := shareFile(t, w, a, convID, "")

	// Another node: its own manager, no session yet. Its sessions end with
	// the test's context, before the service closes.
	other := relay.NewManager(t.Context(), relay.Config{
		Logger: testLogger(), Renderer: jsonRenderer{}, Grace: time.Second, HTTPClient: w.srv.Client(),
		Consumer: func(token string, tap func(bool, []byte)) (relay.Upstream, error) {
			return messaging.NewConsumer(messaging.ConsumerConfig{
				Endpoints: w.ep, Token: messaging.StaticToken(token), HTTPClient: w.srv.Client(), Tap: tap,
				SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
			})
		},
	})
	t.Cleanup(other.Wait)
	f, err := other.Download(t.Context(), id, path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.Data, data) {
		t.Errorf("downloaded %d bytes", len(f.Data))
	}
}
