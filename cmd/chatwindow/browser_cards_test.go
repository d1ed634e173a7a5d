package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// A hostile card: script-looking text, a data: image, a javascript: link,
// next to a harmless https link and a button that answers.
const hostileCard = `{"type":"vertical","elements":[
	{"type":"text","text":"<script>alert(1)</script><img src=x onerror=alert(2)>","style":{"bold":true,"color":"red"}},
	{"type":"image","url":"data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' onload='alert(3)'/>","tooltip":"A data image"},
	{"type":"button","title":"Evil link","click":{"actions":[{"type":"link","name":"x","uri":"javascript:alert(4)"}]}},
	{"type":"button","title":"Docs","click":{"actions":[{"type":"link","name":"Docs","uri":"https://docs.example/"}]}},
	{"type":"button","title":"Gold plan","click":{"actions":[{"type":"publishText","text":"gold"}],"metadata":[{"type":"ExternalId","id":"plan-gold"}]}}]}`

const yesNo = `{"type":"quickReplies","itemsPerRow":8,"replies":[
	{"type":"button","title":"Yes please","click":{"actions":[{"type":"publishText","text":"yes"}],"metadata":[{"type":"ExternalId","id":"qr-yes"}]}},
	{"type":"button","title":"No","click":{"actions":[{"type":"publishText","text":"no"}]}}]}`

// TestBrowserCardsAndQuickReplies: a hostile card renders safely (no
// script runs, no dialog, no image from a data: URL, links only http(s)
// with rel noopener); clicking a quick reply shows the customer's answer
// with its ticks, closes the quick replies, and the agent receives ACTION
// for the offer and then the text, both with the click's metadata.
func TestBrowserCardsAndQuickReplies(t *testing.T) {
	c := startChat(t)
	cardSeq := env.agent.publish(t, c.convID, protocol.Event{Type: protocol.EventRichContent, Content: json.RawMessage(hostileCard)})
	qrSeq := env.agent.publish(t, c.convID, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "Shall I go on?", QuickReplies: json.RawMessage(yesNo)})

	card := agentBubble(cardSeq) + ` [data-testid="card"]`
	replies := agentBubble(qrSeq) + ` [data-testid="quick-replies"]`
	c.waitJS("the card", `!!document.querySelector(`+jsString(card)+`)`)
	c.waitJS("the quick replies", visible(replies+` button`))

	time.Sleep(quiet / 2) // room for an error handler, a load event or a dialog
	if n := eval[int](c.tab, `document.querySelectorAll('#messages script, #messages img, #messages iframe, #messages [onerror], #messages [onload], #messages [style]').length`); n != 0 {
		t.Errorf("the messages hold %d elements that could run or load something", n)
	}
	if got := eval[string](c.tab, `document.querySelector(`+jsString(card+` .card-text`)+`).textContent`); got != `<script>alert(1)</script><img src=x onerror=alert(2)>` {
		t.Errorf("the card's text is %q", got)
	}
	type link struct{ Href, Rel, Target, Text string }
	raw := eval[[]byte](c.tab, `JSON.stringify([...document.querySelectorAll('#messages a')].map(a => ({Href: a.getAttribute("href"), Rel: a.rel, Target: a.target, Text: a.textContent})))`)
	var s string
	var links []link
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(s), &links); err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 || links[0] != (link{Href: "https://docs.example/", Rel: "noopener noreferrer", Target: "_blank", Text: "Docs"}) {
		t.Errorf("links in the messages: %+v; want only Docs, https, noopener noreferrer, _blank", links)
	}
	cardText := eval[string](c.tab, `document.querySelector(`+jsString(card)+`).textContent`)
	for _, want := range []string{"Evil link", "A data image", "Gold plan"} {
		if !strings.Contains(cardText, want) {
			t.Errorf("the card lacks %q: %q", want, cardText)
		}
	}
	if n := eval[int](c.tab, `document.querySelectorAll(`+jsString(card+` form[ws-send] button[type=submit]`)+`).length`); n != 1 {
		t.Errorf("%d answer buttons on the card, want 1", n)
	}

	mark := env.agent.mark()
	c.do("click a quick reply", chromedp.Click(chromedp.CSS(replies+` [data-testid="quick-reply"]`)))
	c.waitJS("the customer's answer with a tick", `[...document.querySelectorAll('[data-testid="message"][data-from="consumer"][data-seq]')].some(e =>
		e.querySelector(".message-text").textContent === "yes" && !!e.querySelector('[data-testid="ticks"]'))`)
	c.waitJS("the quick replies gone", `!document.querySelector(`+jsString(replies)+`)`)

	ups := env.agent.waitFor(t, "ACTION and the answer", func(ups []messaging.Update) bool {
		for _, e := range events(ups[mark:]) {
			if env.agent.fromConsumer(e) && e.Event.Type == protocol.EventContent && e.Event.Message == "yes" {
				return true
			}
		}
		return false
	})
	var got []protocol.MessagingEvent
	for _, e := range events(ups[mark:]) {
		if env.agent.fromConsumer(e) && (e.Event.Type == protocol.EventContent || e.Event.Status == protocol.StatusAction) {
			got = append(got, e)
		}
	}
	if len(got) != 2 || got[0].Event.Status != protocol.StatusAction || got[1].Event.Message != "yes" {
		t.Fatalf("the agent received %+v; want ACTION then the text", got)
	}
	if sl := got[0].Event.SequenceList; len(sl) != 1 || sl[0] != qrSeq {
		t.Errorf("ACTION of %v, want [%d]", sl, qrSeq)
	}
	for _, e := range got {
		if string(e.Metadata) != `[{"id":"qr-yes","type":"ExternalId"}]` {
			t.Errorf("%s %s carries metadata %s", e.Event.Type, e.Event.Status, e.Metadata)
		}
	}
	if d := c.openedDialogs(); len(d) > 0 {
		t.Errorf("dialogs opened: %q", d)
	}
	if p := c.problems(); len(p) > 0 {
		t.Errorf("console errors or CSP violations: %q", p)
	}
}
