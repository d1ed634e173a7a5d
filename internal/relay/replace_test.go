package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/receipts"
	"github.com/chatwindow/chatwindow/internal/relay"
)

// TestReportsAfterNewConversation: once the customer has left a closed
// conversation for a new one, a tab's late report on the old one's
// messages is refused: nothing is published for the old dialog (it was
// once published with the old dialog's id and the new conversation's).
func TestReportsAfterNewConversation(t *testing.T) {
	w := newWorld(t)
	id := w.identity(t)
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	runTab(t, rt, false)
	watch, err := w.mgr.Inspect(id)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	a, ups := w.agent(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	phase := func(want relay.Phase) func() bool {
		return func() bool { v, ok := w.mgr.View(id.SessionID); return ok && v.Phase == want }
	}
	shown := func(dialogID string, seq int64) func() bool {
		return func() bool {
			v, _ := w.mgr.View(id.SessionID)
			for _, m := range v.Messages {
				if m.From == relay.FromAgent && m.DialogID == dialogID && m.Seq == seq {
					return true
				}
			}
			return false
		}
	}

	rt.Send("first conversation")
	conv1 := acceptFirstRing(t, a, ups)
	seq1, err := a.Publish(ctx, conv1, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "one"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the agent's message shown", 10*time.Second, shown(conv1, seq1))
	if err := a.CloseConversation(ctx, conv1); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the conversation closed", 10*time.Second, phase(relay.PhaseClosed))

	rt.NewConversation()
	waitUntil(t, "a new window", 10*time.Second, phase(relay.PhaseNew))
	rt.Send("second conversation")
	conv2 := acceptFirstRing(t, a, ups)
	seq2, err := a.Publish(ctx, conv2, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "two"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the second agent message shown", 10*time.Second, shown(conv2, seq2))

	// A late report on the first conversation, then one on the second:
	// once the second's READ has landed, the first's would have gone.
	rt.Report("seen", []receipts.Item{{DialogID: conv1, Seq: seq1}})
	rt.Report("seen", []receipts.Item{{DialogID: conv2, Seq: seq2}})
	waitUntil(t, "the second conversation's READ", 10*time.Second, func() bool {
		_, read := consumerReceipts(w.svc.DialogEvents(conv2), a.PID())
		return read[seq2] == 1
	})
	frames, _ := watch.Next()
	for _, f := range frames {
		if f.Out && f.Type == "ms.PublishEvent" && strings.Contains(f.JSON, conv1) && strings.Contains(f.JSON, protocol.StatusRead) {
			t.Errorf("a READ was published for the old conversation:\n%s", f.JSON)
		}
	}
}
