package desks_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"slices"
	"testing"

	"github.com/chatwindow/chatwindow/internal/desks"
	"github.com/chatwindow/chatwindow/internal/filetype"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/testing/testfiles"
)

// openConversation signs alice in, has a customer write and the desk take
// the conversation; it returns the desk, its tab, the customer and the
// conversation.
func openConversation(t *testing.T, w *world) (string, *tab, *customer, string) {
	t.Helper()
	deskID, err := w.mgr.SignIn(t.Context(), "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	tb := attach(t, w.mgr, deskID)
	cu := w.customer(t)
	convID, _ := cu.start(t, "Hello?")
	var ringID string
	tb.waitFor(t, "the ring", func(v desks.View, _ []desks.Message) bool {
		for _, r := range v.Rings {
			if r.ConversationID == convID {
				ringID = r.ID
				return true
			}
		}
		return false
	})
	tb.Accept(ringID)
	tb.waitFor(t, "the conversation shown", func(v desks.View, _ []desks.Message) bool { return v.Selected != nil && v.Selected.ID == convID })
	return deskID, tb, cu, convID
}

// TestDeskFiles: the customer's file shows in the console as a file
// message (its caption, type and preview) whose bytes the desk downloads
// with the agent's identity; the agent's file is uploaded, shows as the
// agent's message, reaches the customer as one hosted/file event with the
// very bytes, and gets its V marks from the customer's receipts. A path
// no conversation of the desk shares, or a closed conversation, is
// refused without a word to the service.
func TestDeskFiles(t *testing.T) {
	w := newWorld(t)
	deskID, tb, cu, convID := openConversation(t, w)

	// The customer's image.
	img := testfiles.PNG(10, 6)
	preview := "data:image/png;base64," + base64.StdEncoding.EncodeToString(img)
	up, err := cu.GenerateUploadURL(t.Context(), int64(len(img)), "PNG")
	if err != nil {
		t.Fatal(err)
	}
	if err := messaging.Upload(t.Context(), w.srv.Client(), up, "image/png", img); err != nil {
		t.Fatal(err)
	}
	cu.publish(t, convID, protocol.Event{Type: protocol.EventContent, ContentType: protocol.ContentTypeHostedFile,
		File: &protocol.HostedFile{Caption: "dent.png", RelativePath: up.RelativePath, FileType: "PNG", Preview: preview}})
	var theirs desks.Message
	tb.waitFor(t, "the customer's file", func(_ desks.View, msgs []desks.Message) bool {
		theirs, _ = find(msgs, "dent.png")
		return theirs.File != nil
	})
	if f := *theirs.File; theirs.From != desks.FromConsumer || f.FileType != "PNG" || f.Preview != preview || f.RelativePath != up.RelativePath {
		t.Errorf("the customer's file: %s %+v", theirs.From, f)
	}
	got, err := w.mgr.Download(t.Context(), deskID, up.RelativePath)
	if err != nil || !bytes.Equal(got.Data, img) {
		t.Fatalf("the desk's download: %d bytes, %v", len(got.Data), err)
	}
	if _, err := w.mgr.Download(t.Context(), deskID, "/v1/AUTH_async-images/"+account+"/other.PNG"); !errors.Is(err, desks.ErrNoFile) {
		t.Errorf("a path of no conversation: %v, want ErrNoFile", err)
	}

	// The agent's document.
	doc := testfiles.PDF("your invoice")
	pdf, _ := filetype.ByName("PDF")
	key, err := w.mgr.SendFile(t.Context(), deskID, convID, desks.Upload{Name: "invoice.pdf", Type: pdf, Data: doc})
	if err != nil {
		t.Fatal(err)
	}
	var mine desks.Message
	tb.waitFor(t, "the agent's file sent", func(_ desks.View, msgs []desks.Message) bool {
		mine, _ = find(msgs, "invoice.pdf")
		return mine.Key == key && mine.Own && mine.Delivery == desks.VSent && mine.File != nil
	})
	var shared []protocol.MessagingEvent
	cu.waitFor(t, "the agent's file", func(ups []messaging.Update) bool {
		shared = nil
		for _, u := range ups {
			if e, ok := u.(messaging.EventUpdate); ok && e.Event.Event.File != nil && e.Event.Event.File.Caption == "invoice.pdf" {
				shared = append(shared, e.Event)
			}
		}
		return len(shared) > 0
	})
	if len(shared) != 1 || shared[0].Event.File.FileType != "PDF" || shared[0].Event.File.RelativePath != mine.File.RelativePath {
		t.Fatalf("the customer got %+v", shared)
	}
	down, err := cu.GenerateDownloadURL(t.Context(), mine.File.RelativePath)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := messaging.Download(t.Context(), w.srv.Client(), down, desks.MaxFileBytes); err != nil || !bytes.Equal(f.Data, doc) {
		t.Errorf("the customer's download: %d bytes, %v", len(f.Data), err)
	}
	cu.publish(t, convID, protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusRead, SequenceList: protocol.Seqs{mine.Seq}})
	tb.waitFor(t, "the agent's file read", func(_ desks.View, msgs []desks.Message) bool {
		m, _ := find(msgs, "invoice.pdf")
		return m.Delivery == desks.VRead
	})

	tb.Close("")
	tb.waitFor(t, "closed", func(v desks.View, _ []desks.Message) bool { return v.Selected != nil && v.Selected.Closed })
	if _, err := w.mgr.SendFile(t.Context(), deskID, convID, desks.Upload{Name: "late.pdf", Type: pdf, Data: doc}); !errors.Is(err, desks.ErrNoConversation) {
		t.Errorf("a file to a closed conversation: %v, want ErrNoConversation", err)
	}
	tb.mu.Lock()
	late := slices.ContainsFunc(tb.msgs, func(m desks.Message) bool { return m.Text == "late.pdf" })
	tb.mu.Unlock()
	if late {
		t.Error("the refused file shows")
	}
}
