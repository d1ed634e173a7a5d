package relay_test

import (
	"encoding/json"
	"slices"
	"strings"
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

// twoPlans is a card of two answers told apart by their metadata.
const twoPlans = `{"type":"vertical","elements":[{"type":"text","text":"Which plan?"},
	{"type":"button","title":"Gold","click":{"actions":[{"type":"publishText","text":"gold please"}],"metadata":[{"type":"ExternalId","id":"plan-gold"}]}},
	{"type":"button","title":"Silver","click":{"actions":[{"type":"publishText","text":"silver please"}],"metadata":[{"type":"ExternalId","id":"plan-silver"}]}}]}`

// TestCardAnsweredOnce: a card is answered once. Three clicks on one
// button and then a click on the other publish one ACTION and one answer;
// a reload (a new tab of the session) and another node (a new session of
// the same customer, rebuilt from the history) show the button chosen and
// publish nothing for a click on the card.
func TestCardAnsweredOnce(t *testing.T) {
	w := newWorld(t)
	id := w.identity(t)
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	a, ups := w.agent(t)
	rt.Send("hi")
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "sent", 10*time.Second, func() bool { return tb.receipt("hi") == relay.ReceiptSent })
	cardSeq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventRichContent, Content: json.RawMessage(twoPlans)})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the card in the tab", 10*time.Second, func() bool {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		return tb.agentSm[cardSeq] > 0
	})

	// published counts, at the service, the customer's ACTIONs on the card
	// and their answers.
	published := func() (actions int, answers []string) {
		for _, e := range w.svc.DialogEvents(conv) {
			if e.Originator() == a.PID() {
				continue
			}
			switch {
			case e.Event.Status == protocol.StatusAction && len(e.Event.SequenceList) == 1 && e.Event.SequenceList[0] == cardSeq:
				actions++
			case e.Event.Type == protocol.EventContent && strings.HasSuffix(e.Event.Message, " please"):
				answers = append(answers, e.Event.Message)
			}
		}
		return actions, answers
	}
	// settled waits until everything the session was asked before is
	// published: its requests go out one at a time, in order, so once a
	// text sent after them is stored, they are too.
	settled := func(rt *relay.Tab, tb *tab, sentinel string) {
		t.Helper()
		rt.Send(sentinel)
		waitUntil(t, sentinel+" sent", 10*time.Second, func() bool { return tb.receipt(sentinel) == relay.ReceiptSent })
	}

	for range 3 {
		rt.Action(conv, cardSeq, 1, "")
	}
	rt.Action(conv, cardSeq, 0, "") // the other button: the card is answered
	settled(rt, tb, "after the clicks")
	if n, answers := published(); n != 1 || !slices.Equal(answers, []string{"silver please"}) {
		t.Fatalf("after three clicks on Silver and one on Gold: %d ACTIONs, answers %q; want 1 and [silver please]", n, answers)
	}

	chosen := func(pt *pageTab) bool {
		m, ok := pt.message(conv, cardSeq)
		return ok && m.Answered && m.Chosen == 1
	}
	// A reload: a new tab of the same session.
	reload := showTab(t, w.mgr, id)
	waitUntil(t, "the reloaded tab shows Silver chosen", 10*time.Second, func() bool { return chosen(reload) })

	// Another node: a new session of the same customer learns the answer
	// from the ACTION in the history, and refuses a click on the card.
	other := w.node(t)
	ort, err := other.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	otb := runTab(t, ort, false)
	opage := showTab(t, other, id)
	waitUntil(t, "the other node shows Silver chosen", 10*time.Second, func() bool { return chosen(opage) })
	ort.Action(conv, cardSeq, 0, "")
	ort.Action(conv, cardSeq, 1, "")
	settled(ort, otb, "from the other node")
	if n, answers := published(); n != 1 || len(answers) != 1 {
		t.Errorf("after clicks on the other node: %d ACTIONs, answers %q; want 1 and 1", n, answers)
	}
}
