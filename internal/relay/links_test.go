package relay_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
)

// linkCard is a card with a link without metadata, a link with metadata,
// and an answer.
const linkCard = `{"type":"vertical","elements":[
	{"type":"text","text":"Your order"},
	{"type":"button","title":"Docs","click":{"actions":[{"type":"link","uri":"https://docs.example/"}]}},
	{"type":"button","title":"Track","click":{"actions":[{"type":"link","uri":"https://track.example/1"}],"metadata":[{"type":"ExternalId","id":"track"}]}},
	{"type":"button","title":"Gold","click":{"actions":[{"type":"publishText","text":"gold please"}],"metadata":[{"type":"ExternalId","id":"plan-gold"}]}}]}`

// TestLinkClicks: a click on a card's link publishes one ACTION of the
// message with the link's metadata (and no text), however often the link
// is clicked; forged clicks publish nothing; the card's answer stays open,
// here and on another node that learns the conversation from its history.
func TestLinkClicks(t *testing.T) {
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
	cardSeq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventRichContent, Content: json.RawMessage(linkCard)})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the card in the tab", 10*time.Second, func() bool {
		tb.mu.Lock()
		defer tb.mu.Unlock()
		return tb.agentSm[cardSeq] > 0
	})
	// settled: the session publishes in order, so once a text sent after
	// the clicks is stored, their ACTIONs are too.
	settled := func(rt *relay.Tab, tb *tab, sentinel string) {
		t.Helper()
		rt.Send(sentinel)
		waitUntil(t, sentinel+" sent", 10*time.Second, func() bool { return tb.receipt(sentinel) == relay.ReceiptSent })
	}
	cardActions := func() []protocol.MessagingEvent {
		var out []protocol.MessagingEvent
		for _, e := range actions(w.svc.DialogEvents(conv), a.PID()) {
			if len(e.Event.SequenceList) == 1 && e.Event.SequenceList[0] == cardSeq {
				out = append(out, e)
			}
		}
		return out
	}

	// Forged: no such link, a link of the customer's own message, an
	// unknown message, another dialog.
	rt.Link(conv, cardSeq, 2)
	rt.Link(conv, 0, 0)
	rt.Link(conv, 999, 0)
	rt.Link("other-dialog", cardSeq, 0)
	settled(rt, tb, "after the forged clicks")
	if evs := cardActions(); len(evs) != 0 {
		t.Fatalf("forged link clicks published %+v", evs)
	}

	for range 3 {
		rt.Link(conv, cardSeq, 1)
	}
	rt.Link(conv, cardSeq, 0)
	settled(rt, tb, "after the link clicks")
	evs := cardActions()
	if len(evs) != 2 {
		t.Fatalf("%d ACTIONs after three clicks on Track and one on Docs, want 2: %+v", len(evs), evs)
	}
	if got := string(evs[0].Metadata); got != `[{"id":"track","type":"ExternalId"}]` {
		t.Errorf("Track's ACTION carries metadata %s", got)
	}
	if evs[1].Metadata != nil {
		t.Errorf("Docs's ACTION carries metadata %s, want none", evs[1].Metadata)
	}
	for _, e := range w.svc.DialogEvents(conv) {
		if e.Originator() != a.PID() && e.Event.Type == protocol.EventContent && e.Event.Message != "hi" && !strings.HasPrefix(e.Event.Message, "after ") {
			t.Errorf("a link click published text %q", e.Event.Message)
		}
	}

	// The answer is still open, here and on another node, which learns
	// the conversation (the two link ACTIONs included) from the history:
	// once it shows the text sent after them, it has applied them.
	answered := func(pt *pageTab) bool {
		m, ok := pt.message(conv, cardSeq)
		return ok && m.Answered
	}
	after := func(pt *pageTab) bool {
		for _, m := range pt.messages() {
			if m.Text == "after the link clicks" && m.HasSeq {
				return true
			}
		}
		return false
	}
	reload := showTab(t, w.mgr, id)
	waitUntil(t, "the reloaded tab up to date", 10*time.Second, func() bool { return after(reload) })
	if answered(reload) {
		t.Error("the card is answered after link clicks")
	}
	other := w.node(t)
	opage := showTab(t, other, id)
	waitUntil(t, "the other node up to date", 10*time.Second, func() bool { return after(opage) })
	if answered(opage) {
		t.Error("another node shows the card answered after link clicks")
	}
	rt.Action(conv, cardSeq, 0, "gold please")
	waitUntil(t, "the answer sent", 10*time.Second, func() bool { return tb.receipt("gold please") == relay.ReceiptSent })
	if n := len(cardActions()); n != 3 {
		t.Errorf("%d ACTIONs of the card after the answer, want 3", n)
	}
}
