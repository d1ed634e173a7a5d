package desks_test

import (
	"slices"
	"testing"

	"github.com/chatwindow/chatwindow/internal/desks"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// TestDeskBidiControls: the customer's text reaches the desk without
// explicit direction controls (internal/bidi), in the conversation and
// in the list; the agent's own goes out without them, as its bubble shows
// it.
func TestDeskBidiControls(t *testing.T) {
	const (
		hostile = "pay\u202Egnp.exe \u2066a\u2069\u2067b\u2069\u2068c\u2069 \u202A\u202B\u202C\u202Dd \u200Ee\u200F"
		clean   = "paygnp.exe abc d \u200Ee\u200F"
	)
	w := newWorld(t)
	deskID, err := w.mgr.SignIn(t.Context(), "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	tb := attach(t, w.mgr, deskID)
	cu := w.customer(t)
	convID, _ := cu.start(t, hostile)
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
	tb.waitFor(t, "the customer's message, clean, in the pane and the list", func(v desks.View, msgs []desks.Message) bool {
		_, ok := find(msgs, clean)
		return ok && len(v.Conversations) == 1 && v.Conversations[0].Last.Text == clean
	})

	tb.Send("", hostile)
	tb.waitFor(t, "the agent's message sent, clean", func(_ desks.View, msgs []desks.Message) bool {
		return slices.ContainsFunc(msgs, func(m desks.Message) bool {
			return m.Own && m.Text == clean && m.Delivery == desks.VSent
		})
	})
	cu.waitFor(t, "the agent's message at the customer, clean", func(ups []messaging.Update) bool {
		return slices.ContainsFunc(ups, func(u messaging.Update) bool {
			e, ok := u.(messaging.EventUpdate)
			return ok && e.Event.Event.Type == protocol.EventContent && e.Event.OriginatorMetadata != nil &&
				e.Event.OriginatorMetadata.Role != protocol.RoleConsumer && e.Event.Event.Message == clean
		})
	})
}
