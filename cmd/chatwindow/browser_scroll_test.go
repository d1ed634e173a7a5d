package main

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/static"
)

// The scroll rules, in the page (static/chat.js): the customer's own
// message is brought into view when sent; while the customer is at the
// bottom the list follows the newest message, also when a bubble grows
// after it was inserted (a card's image loading); scrolled up, the list
// stays where it is, a re-render of the list included, and only then do
// new agent messages show the "new messages" marker.

// Page expressions: the list at its bottom, and a bubble in the list's view.
const atListBottom = `(() => { const l = document.getElementById("messages"); return l.scrollHeight - l.scrollTop - l.clientHeight < 2; })()`

func inListView(selector string) string {
	return `(() => {
		const el = document.querySelector(` + jsString(selector) + `), l = document.getElementById("messages");
		if (!el) return false;
		const r = el.getBoundingClientRect(), lr = l.getBoundingClientRect();
		return r.top >= lr.top - 1 && r.bottom <= lr.bottom + 1;
	})()`
}

// scrollListTop scrolls the list to its top, as the customer would.
func (p *tab) scrollListTop() {
	p.t.Helper()
	p.do("scroll to the top", chromedp.Evaluate[chromedp.Void](`document.getElementById("messages").scrollTop = 0`))
	p.waitJS("the list at its top", `document.getElementById("messages").scrollTop === 0`)
}

// settle waits two animation frames: the page's scroll events have run.
func (p *tab) settle() {
	p.t.Helper()
	p.do("two frames", chromedp.Evaluate[chromedp.Void](`window.__settled = false; requestAnimationFrame(() => requestAnimationFrame(() => { window.__settled = true; }))`))
	p.waitJS("two frames", `window.__settled === true`)
}

// history has the agent send n long messages and waits for the last.
func history(t *testing.T, c *chat, n int) int64 {
	t.Helper()
	var last int64
	for i := 1; i <= n; i++ {
		last = env.agent.say(t, c.convID, fmt.Sprintf("Line %d of the tracking history: parcel scanned at the depot, on its way to the next one.", i))
	}
	c.waitJS("the history", `!!document.querySelector(`+jsString(agentBubble(last))+`)`)
	return last
}

func TestBrowserScroll(t *testing.T) {
	c := startChat(t)
	history(t, c, 20)
	c.waitJS("the list at its bottom", atListBottom)

	t.Run("own message in view when sent, scrolled up", func(t *testing.T) {
		c.use(t)
		c.scrollListTop()
		const text = "Where is it now?"
		c.typeAndSend(text)
		mine := `[data-testid="message"][data-from="consumer"]:last-child`
		c.waitJS("my message", `(() => { const m = document.querySelector(`+jsString(mine)+`); return !!m && m.textContent.includes(`+jsString(text)+`); })()`)
		c.waitJS("my message in view", inListView(mine))
		c.waitJS("the list at its bottom", atListBottom)
	})

	t.Run("own answer in view when chosen, scrolled up", func(t *testing.T) {
		c.use(t)
		// A card's answers stay open after newer messages (quick replies
		// do not).
		seq := env.agent.publish(t, c.convID, protocol.Event{Type: protocol.EventRichContent, Content: json.RawMessage(linkCard)})
		button := agentBubble(seq) + ` [data-testid="card-button"]`
		c.waitJS("the card's answer", visible(button))
		history(t, c, 8)
		c.do("scroll the card into view", chromedp.ScrollIntoView(chromedp.CSS(button)))
		c.waitJS("scrolled up", `!`+atListBottom)
		c.settle()
		c.do("choose", chromedp.Click(chromedp.CSS(button)))
		mine := `[data-testid="message"][data-from="consumer"]:last-child`
		c.waitJS("my answer", `(() => { const m = document.querySelector(`+jsString(mine)+`); return !!m && m.textContent.includes("change address"); })()`)
		c.waitJS("my answer in view", inListView(mine))
	})

	t.Run("pinned while a card's image loads", func(t *testing.T) {
		c.use(t)
		c.waitJS("the list at its bottom", atListBottom)
		// The card's image is held back until the card is in the list:
		// the bubble grows after it was inserted.
		ctx, cancel := context.WithCancel(c.ctx)
		defer cancel()
		paused := make(chan fetch.RequestID, 1)
		evs := chromedp.Events(ctx, fetch.RequestPaused)
		done := make(chan struct{})
		// Ends with ctx (this subtest).
		go func() {
			defer close(done)
			for ev, err := range evs {
				if err != nil {
					return
				}
				select {
				case paused <- ev.RequestID:
				default:
				}
			}
		}()
		defer func() { cancel(); <-done }()
		if _, err := chromedp.Call(c.bounded(), fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*demo-card*"}}}); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Call(c.bounded(), fetch.Disable, struct{}{})

		assets, err := static.Load()
		if err != nil {
			t.Fatal(err)
		}
		image := env.chatURL + "/static/" + assets.Hashed("demo-card.svg")
		card := `{"type":"vertical","elements":[{"type":"text","text":"Your parcel"},{"type":"image","url":` + jsString(image) + `,"tooltip":"The parcel"},{"type":"text","text":"Arrives tomorrow."}]}`
		seq := env.agent.publish(t, c.convID, protocol.Event{Type: protocol.EventRichContent, Content: json.RawMessage(card)})
		img := agentBubble(seq) + ` img`
		c.waitJS("the card", `!!document.querySelector(`+jsString(img)+`)`)
		var id fetch.RequestID
		select {
		case id = <-paused:
		case <-c.bounded().Done():
			t.Fatal("the card's image was not requested")
		}
		c.waitJS("the list at its bottom before the image", atListBottom)
		if _, err := chromedp.Call(c.bounded(), fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: id}); err != nil {
			t.Fatal(err)
		}
		c.waitJS("the image loaded", `(() => { const i = document.querySelector(`+jsString(img)+`); return i.complete && i.naturalHeight > 0 && i.getBoundingClientRect().height > 20; })()`)
		c.waitJS("the list at its bottom with the image", atListBottom)
		if eval[bool](c.tab, visible(`[data-testid="new-marker"]`)) {
			t.Error("the new messages marker shows at the bottom")
		}
	})

	t.Run("marker only when scrolled up", func(t *testing.T) {
		c.use(t)
		c.waitJS("the list at its bottom", atListBottom)
		c.do("watch the marker", chromedp.Evaluate[chromedp.Void](`(() => {
			const m = document.getElementById("new-marker");
			window.__markerShown = !m.hidden;
			new MutationObserver(() => { if (!m.hidden) window.__markerShown = true; }).observe(m, {attributes: true});
		})()`))
		seq := env.agent.say(t, c.convID, "At the bottom: no marker for this one.")
		c.waitJS("the message", `!!document.querySelector(`+jsString(agentBubble(seq))+`)`)
		c.waitJS("the list at its bottom", atListBottom)
		if eval[bool](c.tab, `window.__markerShown`) {
			t.Error("the marker showed while the customer was at the bottom")
		}

		c.scrollListTop()
		seq = env.agent.say(t, c.convID, "Scrolled up: the marker for this one.")
		c.waitJS("the marker", visible(`[data-testid="new-marker"]`))
		if eval[bool](c.tab, inListView(agentBubble(seq))) || eval[int](c.tab, `document.getElementById("messages").scrollTop`) != 0 {
			t.Error("the list moved while the customer was scrolled up")
		}
		c.do("follow the marker", chromedp.Click(chromedp.CSS(`[data-testid="new-marker"]`)))
		c.waitJS("the list at its bottom", atListBottom)
		c.waitJS("the marker gone", `!`+visible(`[data-testid="new-marker"]`))
	})

	t.Run("a re-render keeps the place", func(t *testing.T) {
		c.use(t)
		// The list scrolled to the middle; then every bubble is rendered
		// anew, as the relay's Reset (and a reconnect's window) does.
		c.do("scroll to the middle", chromedp.Evaluate[chromedp.Void](`(() => { const l = document.getElementById("messages"); l.scrollTop = (l.scrollHeight - l.clientHeight) / 2; })()`))
		c.waitJS("scrolled", `document.getElementById("messages").scrollTop > 0`)
		// where: the first bubble in view and its offset from the list's top.
		const where = `(() => {
			const l = document.getElementById("messages"), top = l.getBoundingClientRect().top;
			const el = [...l.children].find(e => e.getBoundingClientRect().bottom > top);
			return [el.id, el.getBoundingClientRect().top - top];
		})()`
		c.settle()
		before := eval[[]any](c.tab, where)
		c.do("render the list anew", chromedp.Evaluate[chromedp.Void](`htmx.swap("#messages", document.getElementById("messages").innerHTML, {swapStyle: "innerHTML"})`))
		c.waitJS("the place after the re-render", `(() => {
			const [id, off] = `+where+`;
			return id === `+jsString(before[0].(string))+` && Math.abs(off - `+fmt.Sprint(before[1])+`) <= 2;
		})()`)
		if eval[bool](c.tab, visible(`[data-testid="new-marker"]`)) {
			t.Error("a re-render showed the new messages marker")
		}

		// Back at the bottom, a frame re-renders the list before the
		// scroll's event has run: the list is pinned all the same.
		c.do("to the bottom, and a frame at once", chromedp.Evaluate[chromedp.Void](`(() => {
			const l = document.getElementById("messages");
			l.scrollTop = l.scrollHeight;
			// What the ws extension does with a frame: the event, then the swap.
			document.querySelector("main").dispatchEvent(new CustomEvent("htmx:wsBeforeMessage", {bubbles: true}));
			htmx.swap("#messages", l.innerHTML, {swapStyle: "innerHTML"});
		})()`))
		seq := env.agent.say(t, c.convID, "After the re-render, at the bottom.")
		c.waitJS("the message in view", inListView(agentBubble(seq)))
		c.waitJS("the list at its bottom", atListBottom)
	})
}
