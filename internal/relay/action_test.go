package relay_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
)

const (
	testCard = `{"type":"vertical","elements":[
		{"type":"text","text":"Pick a plan"},
		{"type":"image","url":"data:image/png;base64,AAAA","tooltip":"Plans"},
		{"type":"button","title":"Docs","click":{"actions":[{"type":"link","uri":"javascript:alert(1)"}]}},
		{"type":"button","title":"Gold","click":{"actions":[{"type":"publishText","text":"gold please"}],"metadata":[{"type":"ExternalId","id":"plan-gold"}]}}]}`
	testReplies = `{"type":"quickReplies","itemsPerRow":8,"replies":[
		{"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"yes"}],"metadata":[{"type":"ExternalId","id":"qr-yes"}]}},
		{"type":"button","title":"No","click":{"actions":[{"type":"publishText","text":"no"}]}}]}`
)

// TestActions: the agent sends quick replies and a card; the tab's clicks
// publish ACTION (with the click's metadata) and then the text at the
// service, in that order; forged clicks publish nothing.
func TestActions(t *testing.T) {
	w := newWorld(t)
	rt, err := w.mgr.Attach(w.identity(t))
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	a, ups := w.agent(t)
	rt.Send("hi")
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "sent", 10*time.Second, func() bool { return tb.receipt("hi") == relay.ReceiptSent })

	qrSeq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "Shall we?", QuickReplies: json.RawMessage(testReplies)})
	if err != nil {
		t.Fatal(err)
	}
	cardSeq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventRichContent, Content: json.RawMessage(testCard)})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "both agent messages in the tab", 10*time.Second, func() bool {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		return tb.agentSm[qrSeq] > 0 && tb.agentSm[cardSeq] > 0
	})

	// Forged: the card's text on a quick reply, an index out of range, the
	// customer's own message, an unknown sequence, a closed quick reply
	// (the card arrived after it).
	rt.Action(conv, qrSeq, 0, "yes")          // closed: the card is newer
	rt.Action(conv, cardSeq, 0, "I pay")      // not the choice's text
	rt.Action(conv, cardSeq, 5, "")           // no such choice
	rt.Action(conv, 0, 0, "")                 // the customer's own message
	rt.Action(conv, 999, 0, "")               // unknown
	rt.Action("other-dialog", cardSeq, 0, "") // another dialog
	time.Sleep(300 * time.Millisecond)
	if evs := actions(w.svc.DialogEvents(conv), a.PID()); len(evs) != 0 {
		t.Fatalf("forged actions published: %+v", evs)
	}

	// The card's button: ACTION for the card, then "gold please", both with
	// the click's metadata.
	rt.Action(conv, cardSeq, 0, "gold please")
	waitUntil(t, "the answer sent", 10*time.Second, func() bool { return tb.receipt("gold please") == relay.ReceiptSent })
	var got []protocol.MessagingEvent
	for _, e := range w.svc.DialogEvents(conv) {
		if e.Originator() != a.PID() && e.Sequence != nil && *e.Sequence > cardSeq &&
			(e.Event.Type == protocol.EventContent || e.Event.Status == protocol.StatusAction) {
			got = append(got, e)
		}
	}
	if len(got) != 2 {
		t.Fatalf("after the click the service has %d customer events, want ACTION then text: %+v", len(got), got)
	}
	if e := got[0]; e.Event.Status != protocol.StatusAction || len(e.Event.SequenceList) != 1 || e.Event.SequenceList[0] != cardSeq {
		t.Errorf("first event %+v, want ACTION of %d", e.Event, cardSeq)
	}
	if e := got[1]; e.Event.Type != protocol.EventContent || e.Event.Message != "gold please" {
		t.Errorf("second event %+v, want the text", e.Event)
	}
	for _, e := range got {
		if string(e.Metadata) != `[{"id":"plan-gold","type":"ExternalId"}]` {
			t.Errorf("%s has metadata %s", e.Event.Type, e.Metadata)
		}
	}

	// A new quick reply offer, answered once; a second click on it is
	// refused.
	qr2, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "More?", QuickReplies: json.RawMessage(testReplies)})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the offer in the tab", 10*time.Second, func() bool {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		return tb.agentSm[qr2] > 0
	})
	rt.Action(conv, qr2, 0, "")
	rt.Action(conv, qr2, 1, "")
	waitUntil(t, "the quick reply sent", 10*time.Second, func() bool { return tb.receipt("yes") == relay.ReceiptSent })
	time.Sleep(200 * time.Millisecond)
	n := 0
	for _, e := range actions(w.svc.DialogEvents(conv), a.PID()) {
		if e.Event.SequenceList[0] == qr2 {
			n++
			if string(e.Metadata) != `[{"id":"qr-yes","type":"ExternalId"}]` {
				t.Errorf("quick reply ACTION metadata %s", e.Metadata)
			}
		}
	}
	if n != 1 {
		t.Errorf("%d ACTIONs for the quick replies, want 1", n)
	}
	if got := tb.receipt("no"); got != "" {
		t.Errorf("the second quick reply was sent (%s)", got)
	}
}

func actions(evs []protocol.MessagingEvent, agentPID string) []protocol.MessagingEvent {
	var out []protocol.MessagingEvent
	for _, e := range evs {
		if e.Originator() != agentPID && e.Event.Type == protocol.EventAcceptStatus && e.Event.Status == protocol.StatusAction {
			out = append(out, e)
		}
	}
	return out
}
