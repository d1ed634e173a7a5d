package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/static"
)

// pageLink is a link as the page has it.
type pageLink struct{ Href, Rel, Target, Text string }

// pageLinks lists the links under the elements selector matches.
func (p *tab) pageLinks(selector string) []pageLink {
	p.t.Helper()
	raw := eval[[]byte](p, `JSON.stringify([...document.querySelectorAll(`+jsString(selector)+`)].map(a => ({
		Href: a.getAttribute("href") || "", Rel: a.rel, Target: a.target, Text: a.textContent})))`)
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.t.Fatal(err)
	}
	var out []pageLink
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		p.t.Fatal(err)
	}
	return out
}

// waitTarget waits until the browser has a page whose URL starts with
// prefix (a link opened in a new tab).
func (p *tab) waitTarget(what, prefix string) {
	p.t.Helper()
	ctx := p.bounded()
	for {
		infos, err := chromedp.Targets(ctx)
		if err == nil && slices.ContainsFunc(infos, func(i *target.Info) bool { return i.Type == "page" && strings.HasPrefix(i.URL, prefix) }) {
			return
		}
		select {
		case <-ctx.Done():
			p.t.Fatalf("waiting for %s (a tab at %s): last error %v", what, prefix, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestBrowserTextLinks: the links in an agent's text and in the
// customer's are links (http and https only, a new tab, rel noopener
// noreferrer); javascript: in any spelling, markup and line breaks are
// text; a click opens the link; axe finds nothing serious.
func TestBrowserTextLinks(t *testing.T) {
	c := startChat(t)
	assets, err := static.Load()
	if err != nil {
		t.Fatal(err)
	}
	// A link of the window's own (loopback, plain http): a click opens it
	// without leaving the machine.
	own := env.chatURL + "/static/" + assets.Hashed("demo-card.svg")
	text := "Your parcel: " + own + ".\n" +
		"Not links: javascript:alert(1) JaVaScRiPt:alert(2) java\tscript:alert(3) &#106;avascript:alert(4) data:text/html,x\n" +
		`<a href="javascript:alert(5)">https://docs.example/"onclick="alert(6)</a>`
	seq := env.agent.say(t, c.convID, text)
	bubble := agentBubble(seq)
	c.waitJS("the agent's message", `!!document.querySelector(`+jsString(bubble)+`)`)

	link := func(href, text string) pageLink {
		return pageLink{Href: href, Rel: "noopener noreferrer", Target: "_blank", Text: text}
	}
	want := []pageLink{link(own, own), link("https://docs.example/", "https://docs.example/")}
	if diff := cmp.Diff(want, c.pageLinks(bubble+` a`)); diff != "" {
		t.Errorf("the agent's links (-want +got):\n%s", diff)
	}
	if got := eval[string](c.tab, `document.querySelector(`+jsString(bubble+` .message-text`)+`).textContent`); got != text {
		t.Errorf("the bubble's text is %q, want %q", got, text)
	}
	// Rendered line breaks: innerText follows the layout.
	if got := eval[string](c.tab, `document.querySelector(`+jsString(bubble+` .message-text`)+`).innerText`); strings.Count(got, "\n") != 2 {
		t.Errorf("the bubble shows %q: want its two line breaks", got)
	}
	if kind := eval[string](c.tab, `document.querySelector(`+jsString(bubble)+`).dataset.kind`); kind != "text" {
		t.Errorf("data-kind %q, want text", kind)
	}

	const mine = "Is it this one? http://shop.example/orders/1234"
	c.typeAndSend(mine)
	ownBubble := `[data-testid="message"][data-from="consumer"][data-seq]:last-child`
	c.waitJS("the customer's message sent", `(() => { const m = document.querySelector(`+jsString(ownBubble)+`); return !!m && m.textContent.includes("orders/1234"); })()`)
	if diff := cmp.Diff([]pageLink{link("http://shop.example/orders/1234", "http://shop.example/orders/1234")}, c.pageLinks(ownBubble+` a`)); diff != "" {
		t.Errorf("the customer's links (-want +got):\n%s", diff)
	}

	for _, l := range c.pageLinks(`#messages a`) {
		if h := strings.ToLower(l.Href); !strings.HasPrefix(h, "http://") && !strings.HasPrefix(h, "https://") {
			t.Errorf("a link to %q", l.Href)
		}
	}
	c.do("open the agent's link", chromedp.Click(chromedp.CSS(bubble+` a[href=`+jsString(own)+`]`)))
	c.waitTarget("the link opened", own)

	c.axeScan(loadAxe(t))
}

// linkCard is a card with a link (with its click's metadata) and a
// button that answers.
const linkCard = `{"type":"vertical","elements":[
	{"type":"text","text":"Your order"},
	{"type":"button","title":"Track it","click":{"actions":[{"type":"link","name":"Track it","uri":"https://track.example/1"}],"metadata":[{"type":"ExternalId","id":"track-1"}]}},
	{"type":"button","title":"Change the address","click":{"actions":[{"type":"publishText","text":"change address"}],"metadata":[{"type":"ExternalId","id":"address"}]}}]}`

// TestBrowserCardLinkAction: a click on a card's link opens it and the
// agent receives one ACTION of the card with the link's metadata, however
// often it is clicked; the card's button stays open.
func TestBrowserCardLinkAction(t *testing.T) {
	c := startChat(t)
	seq := env.agent.publish(t, c.convID, protocol.Event{Type: protocol.EventRichContent, Content: json.RawMessage(linkCard)})
	card := agentBubble(seq)
	c.waitJS("the card", `!!document.querySelector(`+jsString(card+` [data-testid="card-link"]`)+`)`)
	if kind := eval[string](c.tab, `document.querySelector(`+jsString(card)+`).dataset.kind`); kind != "card" {
		t.Errorf("data-kind %q, want card", kind)
	}

	linkActions := func(ups []messaging.Update) []protocol.MessagingEvent {
		var out []protocol.MessagingEvent
		for _, e := range events(ups) {
			if env.agent.fromConsumer(e) && e.Event.Status == protocol.StatusAction && slices.Equal(e.Event.SequenceList, []int64{seq}) {
				out = append(out, e)
			}
		}
		return out
	}
	from := env.agent.mark()
	c.do("click the card's link", chromedp.Click(chromedp.CSS(card+` [data-testid="card-link"]`)))
	ups := env.agent.waitFor(t, "the link's ACTION", func(ups []messaging.Update) bool { return len(linkActions(ups[from:])) > 0 })
	if got := linkActions(ups[from:]); string(got[0].Metadata) != `[{"id":"track-1","type":"ExternalId"}]` {
		t.Errorf("the link's ACTION carries metadata %s", got[0].Metadata)
	}
	c.waitTarget("the link opened", "https://track.example/1")

	c.do("click it again", chromedp.Click(chromedp.CSS(card+` [data-testid="card-link"]`)))
	time.Sleep(quiet) // room for a second ACTION to show up
	ups, _ = env.agent.snapshot()
	if n := len(linkActions(ups[from:])); n != 1 {
		t.Errorf("%d ACTIONs after two clicks on the link, want 1", n)
	}
	for _, e := range events(ups[from:]) {
		if env.agent.fromConsumer(e) && e.Event.Type == protocol.EventContent {
			t.Errorf("a link click published text %q", e.Event.Message)
		}
	}
	if eval[bool](c.tab, `document.querySelector(`+jsString(card+` [data-testid="card-button"]`)+`).disabled`) {
		t.Error("the card's answer is closed after a link click")
	}
}
