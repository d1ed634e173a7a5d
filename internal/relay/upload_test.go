package relay_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/filetype"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/testing/testfiles"
)

// hostedFiles are the hosted/file events of a dialog, in order.
func hostedFiles(evs []protocol.MessagingEvent) []protocol.MessagingEvent {
	var out []protocol.MessagingEvent
	for _, e := range evs {
		if e.Event.File != nil {
			out = append(out, e)
		}
	}
	return out
}

func pngUpload(name string) relay.Upload {
	data := testfiles.PNG(12, 8)
	t, _ := filetype.ByName("PNG")
	return relay.Upload{Name: name, Type: t, Data: data, Preview: "data:image/png;base64," + base64.StdEncoding.EncodeToString(data)}
}

// ownFile is the tab's last own file message named caption.
func (tb *tab) ownFile(caption string) (relay.Message, bool) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	m, ok := tb.files[caption]
	return m, ok
}

// TestSendFile: the customer's file is uploaded, shows in the tab as their
// message (its name, its type, the page's thumbnail) and is published once
// as a hosted/file event; the agent downloads its very bytes, and its
// ACCEPT and READ tick the file like a text.
func TestSendFile(t *testing.T) {
	w := newWorld(t)
	id := w.identity(t)
	_, tb, a, convID := w.converse(t, id, "hello")

	up := pngUpload("a\u202Eparcel\x00.png")
	key, err := w.mgr.SendFile(t.Context(), id, up)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(key, "l-") {
		t.Errorf("key %q is not a local message's", key)
	}
	const name = "aparcel.png" // without the override and the NUL
	waitUntil(t, "the file sent", 10*time.Second, func() bool { return tb.receipt(name) == relay.ReceiptSent })
	m, _ := tb.ownFile(name)
	if m.Key != key || m.File.FileType != "PNG" || m.File.Preview != up.Preview || m.File.Caption != name {
		t.Errorf("the file message: key %q, %+v", m.Key, m.File)
	}

	files := hostedFiles(w.svc.DialogEvents(convID))
	if len(files) != 1 {
		t.Fatalf("%d hosted files in the dialog, want 1", len(files))
	}
	hf := files[0]
	if got := *hf.Event.File; got.Caption != name || got.FileType != "PNG" || got.Preview != up.Preview || got.RelativePath != m.File.RelativePath {
		t.Errorf("the published file: %+v", got)
	}
	u, err := a.GenerateDownloadURL(t.Context(), hf.Event.File.RelativePath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := messaging.Download(t.Context(), w.srv.Client(), u, relay.MaxFileBytes)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data, up.Data) || got.ContentType != "image/png" {
		t.Errorf("the agent downloaded %s, %d bytes", got.ContentType, len(got.Data))
	}

	seq, _ := hf.Seq()
	for _, st := range []string{protocol.StatusAccept, protocol.StatusRead} {
		if _, err := a.Publish(t.Context(), convID, protocol.Event{Type: protocol.EventAcceptStatus, Status: st, SequenceList: protocol.Seqs{seq}}); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the file read", 10*time.Second, func() bool { return tb.receipt(name) == relay.ReceiptRead })
}

// TestSendFileOpensConversation: a file may be the first message: the
// conversation is requested first (File Sharing's Step 2 before its Step
// 3), and the file is published in it.
func TestSendFileOpensConversation(t *testing.T) {
	w := newWorld(t)
	id := w.identity(t)
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	if _, err := w.mgr.SendFile(t.Context(), id, pngUpload("first.png")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the file sent", 10*time.Second, func() bool { return tb.receipt("first.png") == relay.ReceiptSent })
	m, _ := tb.ownFile("first.png")
	if n := len(hostedFiles(w.svc.DialogEvents(m.DialogID))); m.DialogID == "" || n != 1 {
		t.Errorf("dialog %q has %d hosted files, want 1", m.DialogID, n)
	}
}

// TestSendFileRefused: a file the service refuses (over its 3 MB), or sent
// after the conversation ended, shows nothing and publishes nothing; the
// error says which.
func TestSendFileRefused(t *testing.T) {
	w := newWorld(t)
	id := w.identity(t)
	_, tb, a, convID := w.converse(t, id, "hello")

	big := pngUpload("big.png")
	big.Data = append(bytes.Clone(big.Data), make([]byte, 3<<20)...)
	if _, err := w.mgr.SendFile(t.Context(), id, big); !errors.Is(err, relay.ErrUploadRefused) {
		t.Errorf("a file over 3 MB: %v, want ErrUploadRefused", err)
	}
	if err := a.CloseConversation(t.Context(), convID); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the conversation closed", 10*time.Second, func() bool {
		v, _ := w.mgr.View(id.SessionID)
		return v.Phase == relay.PhaseClosed
	})
	if _, err := w.mgr.SendFile(t.Context(), id, pngUpload("late.png")); !errors.Is(err, relay.ErrNoFiles) {
		t.Errorf("a file after the end: %v, want ErrNoFiles", err)
	}
	if n := len(hostedFiles(w.svc.DialogEvents(convID))); n != 0 {
		t.Errorf("%d hosted files published, want none", n)
	}
	if _, ok := tb.ownFile("big.png"); ok {
		t.Error("the refused file showed in the tab")
	}
	if _, ok := tb.ownFile("late.png"); ok {
		t.Error("the late file showed in the tab")
	}
}
