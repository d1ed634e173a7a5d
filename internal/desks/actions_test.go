package desks_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/chatwindow/chatwindow/internal/desks"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// signedIn signs alice in and attaches a tab, once her desk is open.
func signedIn(t *testing.T, w *world) *tab {
	t.Helper()
	deskID, err := w.mgr.SignIn(t.Context(), "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	tb := attach(t, w.mgr, deskID)
	tb.waitFor(t, "the desk open", func(v desks.View, _ []desks.Message) bool { return v.Connection == messaging.StateOpen })
	return tb
}

// listed reports whether the conversation is in the desk's list.
func listed(v desks.View, convID string) bool {
	return slices.ContainsFunc(v.Conversations, func(s desks.Summary) bool { return s.ID == convID })
}

// TestDeskDecline: the agent declines a ring; it leaves the list, and the
// conversation is not hers.
func TestDeskDecline(t *testing.T) {
	w := newWorld(t)
	tb := signedIn(t, w)
	cu := w.customer(t)
	convID, _ := cu.start(t, "Anyone?")
	var ringID string
	tb.waitFor(t, "the ring", func(v desks.View, _ []desks.Message) bool {
		i := slices.IndexFunc(v.Rings, func(r desks.Ring) bool { return r.ConversationID == convID })
		if i >= 0 {
			ringID = v.Rings[i].ID
		}
		return i >= 0
	})
	tb.Decline("no-such-ring") // ignored
	tb.Decline(ringID)
	tb.waitFor(t, "the ring gone", func(v desks.View, _ []desks.Message) bool {
		return !slices.ContainsFunc(v.Rings, func(r desks.Ring) bool { return r.ID == ringID }) && !listed(v, convID)
	})
}

// failingPublish fails the agent's first text publish.
type failingPublish struct {
	desks.Upstream
	failed atomic.Bool
}

func (f *failingPublish) Publish(ctx context.Context, dialogID string, ev protocol.Event) (int64, error) {
	if ev.Type == protocol.EventContent && f.failed.CompareAndSwap(false, true) {
		return 0, &messaging.StatusError{Op: "publish", StatusCode: 400, Text: "refused for the test"}
	}
	return f.Upstream.Publish(ctx, dialogID, ev)
}

// TestDeskRetry: an agent's message whose publish failed shows as not
// sent; Retry publishes it again under the same bubble, and the customer
// gets it once. A retry of a message that was sent does nothing.
func TestDeskRetry(t *testing.T) {
	w := newWorldWrapped(t, func(up desks.Upstream) desks.Upstream { return &failingPublish{Upstream: up} })
	tb := signedIn(t, w)
	cu := w.customer(t)
	convID, _ := cu.start(t, "Hello")
	acceptRing(t, tb, convID)
	tb.waitFor(t, "the conversation shown", func(v desks.View, _ []desks.Message) bool { return v.Selected != nil && v.Selected.ID == convID })
	tb.Send("", "Try this")
	var failed desks.Message
	tb.waitFor(t, "the message not sent", func(_ desks.View, msgs []desks.Message) bool {
		failed, _ = find(msgs, "Try this")
		return failed.Delivery == desks.VFailed
	})
	tb.Retry(convID, failed.LocalID)
	tb.waitFor(t, "the message sent on the retry, in the same bubble", func(_ desks.View, msgs []desks.Message) bool {
		m, _ := find(msgs, "Try this")
		return m.Key == failed.Key && m.Delivery == desks.VSent && m.HasSeq
	})
	tb.Retry(convID, failed.LocalID) // sent already: nothing
	tb.Send("", "And this")
	var got map[string]int
	cu.waitFor(t, "both texts", func(ups []messaging.Update) bool {
		got = agentTexts(ups)
		return got["And this"] == 1
	})
	if got["Try this"] != 1 {
		t.Errorf("the customer got %v, want the retried text once", got)
	}
}

// agentTexts counts the agent's texts among a customer's updates.
func agentTexts(ups []messaging.Update) map[string]int {
	n := map[string]int{}
	for _, u := range ups {
		if e, ok := u.(messaging.EventUpdate); ok && e.Event.Event.Type == protocol.EventContent && e.Event.OriginatorMetadata != nil && e.Event.OriginatorMetadata.Role != protocol.RoleConsumer {
			n[e.Event.Event.Message]++
		}
	}
	return n
}

// TestDeskClosedLeaveList: a closed conversation stays in the list while
// a tab shows it and leaves when the agent opens another; one closed while
// no tab shows it leaves at once.
func TestDeskClosedLeaveList(t *testing.T) {
	w := newWorld(t)
	tb := signedIn(t, w)
	var convs []string
	var customers []*customer
	for _, text := range []string{"first", "second", "third"} {
		cu := w.customer(t)
		id, _ := cu.start(t, text)
		acceptRing(t, tb, id)
		tb.waitFor(t, "the conversation shown", func(v desks.View, _ []desks.Message) bool { return v.Selected != nil && v.Selected.ID == id })
		convs, customers = append(convs, id), append(customers, cu)
	}
	// The tab shows the third. The agent closes it: it stays, shown closed.
	tb.Close("")
	tb.waitFor(t, "the third closed and still listed", func(v desks.View, _ []desks.Message) bool {
		return v.Selected != nil && v.Selected.Closed && listed(v, convs[2])
	})
	// The first customer closes theirs, which no tab shows: it leaves.
	if err := customers[0].CloseConversation(t.Context(), convs[0]); err != nil {
		t.Fatal(err)
	}
	tb.waitFor(t, "the first gone", func(v desks.View, _ []desks.Message) bool { return !listed(v, convs[0]) && listed(v, convs[2]) })
	// The agent opens the second: the third leaves.
	tb.Open(convs[1])
	tb.waitFor(t, "the third gone, the second shown", func(v desks.View, _ []desks.Message) bool {
		return !listed(v, convs[2]) && listed(v, convs[1]) && v.Selected != nil && v.Selected.ID == convs[1]
	})
}
