package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// The browser tests: the customer's window in headless Chromium, the agent
// played with the messaging client; every receipt is counted where it lands,
// at the agent and in the dialog's history (the rules: README, "When
// chatwindow sends ACCEPT and READ").

const (
	accept = protocol.StatusAccept
	read   = protocol.StatusRead
)

// TestAgentMessageShownOnceAndAccepted: an agent's message is in the page
// exactly once, with its sequence, and the customer's device says so with
// one ACCEPT naming that sequence.
func TestAgentMessageShownOnceAndAccepted(t *testing.T) {
	c := startChat(t)
	const text = "Hi! I'm looking at your order now."
	seq := env.agent.say(t, c.convID, text)

	c.waitJS("the agent's message", `!!document.querySelector(`+jsString(agentBubble(seq))+`)`)
	env.agent.waitReceipt(t, c.convID, accept, seq)
	time.Sleep(quiet / 2) // room for a repeated receipt to show up

	var shown []bubble
	for _, b := range c.bubbles() {
		if b.Text == text {
			shown = append(shown, b)
		}
	}
	want := []bubble{{From: "agent", Seq: strconv.FormatInt(seq, 10), DialogID: c.convID, Text: text}}
	if diff := cmp.Diff(want, shown); diff != "" {
		t.Errorf("the agent's message in the page (-want +got):\n%s", diff)
	}
	if n := env.agent.liveReceipts(c.convID, accept)[seq]; n != 1 {
		t.Errorf("the agent received %d ACCEPTs of %d, want 1", n, seq)
	}
	if n := env.agent.receipts(env.agent.history(t, c.convID), c.convID, accept)[seq]; n != 1 {
		t.Errorf("the dialog's history has %d ACCEPTs of %d, want 1", n, seq)
	}
}

// TestReadNeedsVisibleFocusedAndInView: READ follows from being seen: a
// background tab, an unfocused window and a bubble out of view get ACCEPT
// only; READ comes once the bubble is seen.
func TestReadNeedsVisibleFocusedAndInView(t *testing.T) {
	c := startChat(t)
	c.focusEmulation()

	t.Run("background tab", func(t *testing.T) {
		c.use(t)
		c.setHidden(true)
		seq := env.agent.say(t, c.convID, "Are you still there?")
		env.agent.waitReceipt(t, c.convID, accept, seq)
		if title := eval[string](c.tab, `document.title`); title != "(1) new · Chat" {
			t.Errorf("a background tab's title is %q, want it to count the new message", title)
		}
		env.agent.waitNoReceipt(t, c.convID, read, seq)
		c.setHidden(false)
		env.agent.waitReceipt(t, c.convID, read, seq)
		if title := eval[string](c.tab, `document.title`); title != "Chat" {
			t.Errorf("the title is %q once the tab is visible again, want Chat", title)
		}
	})

	t.Run("unfocused window", func(t *testing.T) {
		c.use(t)
		c.setFocused(false)
		seq := env.agent.say(t, c.convID, "I found your order.")
		env.agent.waitReceipt(t, c.convID, accept, seq)
		env.agent.waitNoReceipt(t, c.convID, read, seq)
		c.setFocused(true)
		env.agent.waitReceipt(t, c.convID, read, seq)
	})

	t.Run("out of view", func(t *testing.T) {
		c.use(t)
		// Unfocused while they arrive, so none is read at the bottom.
		c.setFocused(false)
		var seqs []int64
		for i := 1; i <= 20; i++ {
			seqs = append(seqs, env.agent.say(t, c.convID, fmt.Sprintf("Line %d of the tracking history: parcel scanned at the depot, on its way to the next one.", i)))
		}
		first, last := seqs[0], seqs[len(seqs)-1]
		env.agent.waitReceipt(t, c.convID, accept, last)
		if !eval[bool](c.tab, `(() => {
			const l = document.getElementById("messages");
			l.scrollTop = 0;
			const last = document.querySelector(`+jsString(agentBubble(last))+`);
			return l.scrollTop === 0 && last.getBoundingClientRect().top >= l.getBoundingClientRect().bottom;
		})()`) {
			t.Fatal("the last message is still in view with the list scrolled to the top")
		}
		c.setFocused(true)
		env.agent.waitReceipt(t, c.convID, read, first)
		env.agent.waitNoReceipt(t, c.convID, read, last)
		c.do("scroll the last message into view", chromedp.ScrollIntoView(chromedp.CSS(agentBubble(last))))
		env.agent.waitReceipt(t, c.convID, read, last)
	})

	t.Run("new messages marker", func(t *testing.T) {
		c.use(t)
		// Scrolled up to read history, a new message shows the marker
		// instead of pulling the list down, and is read once the marker
		// brought it into view.
		eval[bool](c.tab, `(() => { document.getElementById("messages").scrollTop = 0; return true; })()`)
		seq := env.agent.say(t, c.convID, "One more thing: the courier will call you first.")
		env.agent.waitReceipt(t, c.convID, accept, seq)
		c.waitJS("the new messages marker", visible(`[data-testid="new-marker"]`))
		env.agent.waitNoReceipt(t, c.convID, read, seq)
		c.do("follow the marker", chromedp.Click(chromedp.CSS(`[data-testid="new-marker"]`)))
		env.agent.waitReceipt(t, c.convID, read, seq)
		c.waitJS("the marker gone", `!`+visible(`[data-testid="new-marker"]`))
	})

	t.Run("reload shows the latest", func(t *testing.T) {
		c.use(t)
		eval[bool](c.tab, `(() => { document.getElementById("messages").scrollTop = 0; return true; })()`)
		c.do("reload", chromedp.Reload())
		c.waitConnected()
		c.waitJS("the latest message in view", `(() => {
			const l = document.getElementById("messages"), all = l.querySelectorAll('[data-testid="message"]');
			if (all.length === 0) return false;
			const r = all[all.length - 1].getBoundingClientRect(), lr = l.getBoundingClientRect();
			return r.bottom <= lr.bottom + 1 && r.top >= lr.top;
		})()`)
	})
}

// TestReloadAndSecondTab: a reload and a second tab of the same session
// show the same history, and no receipt is ever published twice.
func TestReloadAndSecondTab(t *testing.T) {
	c := startChat(t)
	c.focusEmulation()
	s1 := env.agent.say(t, c.convID, "First answer.")
	s2 := env.agent.say(t, c.convID, "Second answer.")
	env.agent.waitReceipt(t, c.convID, read, s1)
	env.agent.waitReceipt(t, c.convID, read, s2)
	before := c.bubbles()

	c.do("reload", chromedp.Reload())
	c.waitConnected()
	c.waitJS("the history after the reload", fmt.Sprintf(`document.querySelectorAll('[data-testid="message"]').length >= %d`, len(before)))
	if diff := cmp.Diff(before, c.bubbles()); diff != "" {
		t.Errorf("the page after a reload (-before +after):\n%s", diff)
	}

	second := c.secondTab()
	second.focusEmulation()
	second.open()
	second.waitJS("the history in a second tab", fmt.Sprintf(`document.querySelectorAll('[data-testid="message"]').length >= %d`, len(before)))
	if diff := cmp.Diff(before, second.bubbles()); diff != "" {
		t.Errorf("the second tab (-first tab +second tab):\n%s", diff)
	}

	// A new message reaches both tabs, once each, and is received once.
	s3 := env.agent.say(t, c.convID, "Third answer, for both tabs.")
	for _, p := range []*tab{c.tab, second} {
		p.waitJS("the third answer", `document.querySelectorAll(`+jsString(agentBubble(s3))+`).length === 1`)
	}
	env.agent.waitReceipt(t, c.convID, read, s3)
	time.Sleep(quiet) // room for a repeated receipt to show up
	for _, p := range []*tab{c.tab, second} {
		if n := eval[int](p, `document.querySelectorAll(`+jsString(agentBubble(s3))+`).length`); n != 1 {
			t.Errorf("a tab shows the third answer %d times", n)
		}
	}

	// Both tabs leave; once the session's grace period (-grace 2s) is over
	// its upstream is gone, and a new one learns what was sent from the
	// dialog's history alone.
	after := c.bubbles()
	second.do("leave", chromedp.Navigate("about:blank"))
	c.do("leave", chromedp.Navigate("about:blank"))
	time.Sleep(3 * time.Second)
	c.open()
	c.waitJS("the history in a new session", fmt.Sprintf(`document.querySelectorAll('[data-testid="message"]').length >= %d`, len(after)))
	if diff := cmp.Diff(after, c.bubbles()); diff != "" {
		t.Errorf("the page in a new session (-before +after):\n%s", diff)
	}
	time.Sleep(quiet) // room for a repeated receipt to show up

	want := map[int64]int{s1: 1, s2: 1, s3: 1}
	history := env.agent.history(t, c.convID)
	for _, status := range []string{accept, read} {
		if diff := cmp.Diff(want, env.agent.liveReceipts(c.convID, status)); diff != "" {
			t.Errorf("%s receipts received by the agent, per sequence (-want +got):\n%s", status, diff)
		}
		if diff := cmp.Diff(want, env.agent.receipts(history, c.convID, status)); diff != "" {
			t.Errorf("%s receipts in the dialog's history, per sequence (-want +got):\n%s", status, diff)
		}
	}
}

// TestTicks: the customer's message shows sending/sent, then delivered
// after the agent's ACCEPT, then read, in orange, after the agent's READ.
func TestTicks(t *testing.T) {
	c := startChat(t)
	const text = "Is my order on its way?"
	// Record every receipt state the bubble goes through.
	eval[bool](c.tab, `(() => {
		window.__ticks = [];
		const note = () => {
			const el = [...document.querySelectorAll('[data-testid="message"][data-from="consumer"]')]
				.find(e => e.querySelector(".message-text").textContent === `+jsString(text)+`);
			const r = el ? el.dataset.receipt : undefined;
			if (r && window.__ticks[window.__ticks.length - 1] !== r) window.__ticks.push(r);
		};
		new MutationObserver(note).observe(document.getElementById("messages"), {subtree: true, childList: true, attributes: true});
		return true;
	})()`)
	c.typeAndSend(text)
	mine := `[...document.querySelectorAll('[data-testid="message"][data-from="consumer"]')].find(e => e.querySelector(".message-text").textContent === ` + jsString(text) + `)`
	c.waitJS("the message sent", `(() => { const el = `+mine+`; return !!el && el.dataset.receipt === "sent" && !!el.dataset.seq; })()`)
	if v := eval[string](c.tab, `document.querySelector(`+jsString(composer)+`).value`); v != "" {
		t.Errorf("the composer still holds %q after sending", v)
	}
	seq, err := strconv.ParseInt(eval[string](c.tab, mine+`.dataset.seq`), 10, 64)
	if err != nil {
		t.Fatal(err)
	}

	env.agent.publish(t, c.convID, protocol.Event{Type: protocol.EventAcceptStatus, Status: accept, SequenceList: protocol.Seqs{seq}})
	c.waitJS("delivered ticks", mine+`.dataset.receipt === "accepted"`)
	if s := eval[string](c.tab, mine+`.querySelector('[data-testid="ticks"]').textContent`); !strings.Contains(s, "Delivered") {
		t.Errorf("the delivered ticks say %q, want a text alternative with Delivered", s)
	}

	env.agent.publish(t, c.convID, protocol.Event{Type: protocol.EventAcceptStatus, Status: read, SequenceList: protocol.Seqs{seq}})
	c.waitJS("read ticks", mine+`.dataset.receipt === "read"`)
	if s := eval[string](c.tab, mine+`.querySelector('[data-testid="ticks"]').textContent`); !strings.Contains(s, "Read") {
		t.Errorf("the read ticks say %q, want a text alternative with Read", s)
	}
	if color := eval[string](c.tab, `getComputedStyle(`+mine+`.querySelector('[data-testid="ticks"]')).color`); color != readInWindow {
		t.Errorf("read ticks are %s, want orange %s", color, readInWindow)
	}

	states := eval[[]string](c.tab, `window.__ticks`)
	order := []string{"pending", "sent", "accepted", "read"}
	ok := len(states) >= 3 && (states[0] == "pending" || states[0] == "sent") && slices.Contains(states, "sent") &&
		slices.IsSortedFunc(states, func(a, b string) int { return slices.Index(order, a) - slices.Index(order, b) }) &&
		!slices.Contains(states, "") && len(slices.Compact(slices.Clone(states))) == len(states) &&
		states[len(states)-2] == "accepted" && states[len(states)-1] == "read"
	for _, s := range states {
		ok = ok && slices.Contains(order, s)
	}
	if !ok {
		t.Errorf("the message's ticks went %q, want pending/sent, accepted, read in that order", states)
	}

	if path := os.Getenv("CHATWINDOW_SCREENSHOT"); path != "" {
		screenshot(t, c, path)
	}
}

// screenshot leaves a picture of the window mid-conversation at path (for
// the README): CHATWINDOW_SCREENSHOT=/abs/path.png go test -run TestTicks.
func screenshot(t *testing.T, c *chat, path string) {
	seq := env.agent.say(t, c.convID, "Yes! It left our warehouse this morning and should arrive tomorrow before noon.")
	c.waitJS("the answer", `!!document.querySelector(`+jsString(agentBubble(seq))+`)`)
	c.typeAndSend("Great, thank you!")
	c.waitJS("the thanks sent", `[...document.querySelectorAll('[data-testid="message"][data-from="consumer"]')].some(e => e.textContent.includes("Great, thank you!") && e.dataset.seq)`)
	// Every state of the ticks at once: the first message read, the last
	// one delivered.
	mine := eval[[]string](c.tab, `[...document.querySelectorAll('[data-testid="message"][data-from="consumer"]')].map(e => e.dataset.seq)`)
	var seqs []int64
	for _, s := range mine {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, n)
	}
	env.agent.publish(t, c.convID, protocol.Event{Type: protocol.EventAcceptStatus, Status: read, SequenceList: protocol.Seqs{seqs[0]}})
	env.agent.publish(t, c.convID, protocol.Event{Type: protocol.EventAcceptStatus, Status: accept, SequenceList: protocol.Seqs{seqs[len(seqs)-1]}})
	c.waitJS("the ticks", `(() => {
		const r = [...document.querySelectorAll('[data-testid="message"][data-from="consumer"]')].map(e => e.dataset.receipt);
		return r[0] === "read" && r[r.length - 1] === "accepted";
	})()`)
	env.agent.chatState(t, c.convID, protocol.ChatComposing)
	c.waitJS("the typing indicator", visible(`[data-testid="agent-typing"]`))
	png, err := chromedp.Run(c.bounded(), chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot written to %s", path)
}

// TestTypingBothWays: the agent's COMPOSING shows the indicator, PAUSE or
// a message hides it; the customer typing reaches the agent as COMPOSING.
func TestTypingBothWays(t *testing.T) {
	c := startChat(t)
	const typing = `[data-testid="agent-typing"]`

	env.agent.chatState(t, c.convID, protocol.ChatComposing)
	c.waitJS("the agent typing", visible(typing))
	env.agent.chatState(t, c.convID, protocol.ChatPause)
	c.waitJS("the agent stopped typing", `!`+visible(typing))

	env.agent.chatState(t, c.convID, protocol.ChatComposing)
	c.waitJS("the agent typing again", visible(typing))
	seq := env.agent.say(t, c.convID, "Here is the answer.")
	c.waitJS("the answer", `!!document.querySelector(`+jsString(agentBubble(seq))+`)`)
	c.waitJS("no typing indicator after the message", `!`+visible(typing))

	from := env.agent.mark()
	c.do("type without sending", chromedp.SendKeys(chromedp.CSS(composer), "I have one more question"))
	env.agent.waitFor(t, "the customer's COMPOSING", func(ups []messaging.Update) bool {
		for _, ev := range events(ups[min(from, len(ups)):]) {
			if ev.DialogID == c.convID && ev.Event.Type == protocol.EventChatState && ev.Event.ChatState == protocol.ChatComposing && env.agent.fromConsumer(ev) {
				return true
			}
		}
		return false
	})
}

// TestCloseAndRate: the customer ends the conversation, rates it, is
// thanked and offered a new one; the service has it closed and rated.
func TestCloseAndRate(t *testing.T) {
	c := startChat(t)
	c.do("end the conversation",
		chromedp.Click(chromedp.CSS(`[data-testid="close-conversation"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="confirm-close"]`)))
	c.waitJS("the rating form", visible(`[data-testid="csat"]`))
	env.agent.waitFor(t, "the conversation closed", func(ups []messaging.Update) bool {
		for _, u := range ups {
			if cu, ok := u.(messaging.ConversationUpdate); ok && cu.Change.Result.ConvID == c.convID {
				d := cu.Change.Result.ConversationDetails
				if cu.Change.Type == protocol.ChangeDelete || d.State == protocol.StateClose || d.Stage == protocol.StateClose {
					return true
				}
			}
		}
		return false
	})

	c.do("rate 4",
		chromedp.Click(chromedp.CSS(`[data-testid="csat-4"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="csat-submit"]`)))
	c.waitJS("the thanks", `document.getElementById("footer").textContent.includes("Thank you for your rating (4 of 5)")`)
	c.waitJS("a new conversation offered", visible(`[data-testid="new-conversation"]`))
	env.agent.waitFor(t, "the rating", func(ups []messaging.Update) bool {
		for _, u := range ups {
			if cu, ok := u.(messaging.ConversationUpdate); ok && cu.Change.Result.ConvID == c.convID {
				if cs := cu.Change.Result.ConversationDetails.CSAT; cs != nil && cs.CSATRate == 4 {
					return true
				}
			}
		}
		return false
	})

	c.do("start anew", chromedp.Click(chromedp.CSS(`[data-testid="new-conversation"]`)))
	c.waitJS("an empty window with the composer", visible(composer)+` && document.querySelectorAll('[data-testid="message"]').length === 0`)

	// The next message opens a new conversation, which rings the agent.
	c.typeAndSend("One more question, please")
	c.waitJS("the message sent in a new conversation", `(() => {
		const m = document.querySelector('[data-testid="message"][data-from="consumer"][data-seq]');
		return !!m && !!m.dataset.dialogId && m.dataset.dialogId !== `+jsString(c.convID)+`;
	})()`)
	next := eval[string](c.tab, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	t.Cleanup(func() { env.agent.closeConversation(t, next) })
	env.agent.acceptRing(t, next)
	seq := env.agent.say(t, next, "Welcome back!")
	c.waitJS("the agent in the new conversation", `!!document.querySelector(`+jsString(agentBubble(seq))+`)`)
	env.agent.waitReceipt(t, next, accept, seq)
}

// TestMarkupIsText: markup from the agent (or the customer) is shown as
// text: no element is created and no script runs.
func TestMarkupIsText(t *testing.T) {
	c := startChat(t)
	const markup = `<img src=x onerror=alert(1)>`
	seq := env.agent.say(t, c.convID, markup)
	sel := jsString(agentBubble(seq))
	c.waitJS("the agent's message", `!!document.querySelector(`+sel+`)`)
	if got := eval[string](c.tab, `document.querySelector(`+sel+`).querySelector(".message-text").textContent`); got != markup {
		t.Errorf("the message's text is %q, want %q", got, markup)
	}

	const mine = `<b onmouseover=alert(2)>bold</b><script>alert(3)</script>`
	c.typeAndSend(mine)
	c.waitJS("the customer's markup shown as text", `[...document.querySelectorAll('[data-testid="message"][data-from="consumer"] .message-text')].some(e => e.textContent === `+jsString(mine)+`)`)

	time.Sleep(quiet / 2) // room for an image error handler or a dialog
	if n := eval[int](c.tab, `document.querySelectorAll('#messages img, #messages b, #messages script').length`); n != 0 {
		t.Errorf("the messages hold %d elements made from markup", n)
	}
	if d := c.openedDialogs(); len(d) > 0 {
		t.Errorf("dialogs opened: %q", d)
	}
	if p := c.problems(); len(p) > 0 {
		t.Errorf("console errors or CSP violations: %q", p)
	}
}

// TestCSPHolds: the page loads, styles itself and chats under its CSP with
// no console error and no violation.
func TestCSPHolds(t *testing.T) {
	c := startChat(t)
	seq := env.agent.say(t, c.convID, "Welcome!")
	c.waitJS("the agent's message", `!!document.querySelector(`+jsString(agentBubble(seq))+`)`)
	env.agent.waitReceipt(t, c.convID, accept, seq)

	csp, err := chromedp.Run(c.bounded(), chromedp.Evaluate[string](`fetch("/").then(r => r.headers.get("content-security-policy") || "")`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "default-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("the page's CSP %q lacks %q", csp, want)
		}
	}
	if d := eval[string](c.tab, `getComputedStyle(document.querySelector('[data-testid="chat"]')).display`); d != "flex" {
		t.Errorf("the window's display is %q: the stylesheet did not apply", d)
	}
	if p := c.problems(); len(p) > 0 {
		t.Errorf("console errors or CSP violations: %q", p)
	}
}

// TestPhoneWidth: on a 375×667 phone, the composer, the send button and
// the way to end the conversation are visible, inside the viewport, and
// nothing scrolls sideways, not even a long unbroken word.
func TestPhoneWidth(t *testing.T) {
	c := startChat(t)
	c.do("phone viewport", chromedp.EmulateViewport(375, 667, chromedp.EmulateMobile))
	c.open()
	if w := eval[int](c.tab, `window.innerWidth`); w != 375 {
		t.Fatalf("innerWidth is %d, want 375", w)
	}
	seq := env.agent.say(t, c.convID, "Track it here: https://example.com/track/"+strings.Repeat("0123456789", 12))
	c.waitJS("the agent's message", `!!document.querySelector(`+jsString(agentBubble(seq))+`)`)
	for _, sel := range []string{composer, `[data-testid="send"]`, `[data-testid="close-conversation"]`, agentBubble(seq)} {
		if !eval[bool](c.tab, visible(sel)) {
			t.Errorf("%s is not visible", sel)
			continue
		}
		if !eval[bool](c.tab, `(() => {
			const r = document.querySelector(`+jsString(sel)+`).getBoundingClientRect();
			return r.left >= 0 && r.right <= window.innerWidth && r.top >= 0 && r.bottom <= window.innerHeight;
		})()`) {
			box := eval[[]float64](c.tab, `(() => { const r = document.querySelector(`+jsString(sel)+`).getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })()`)
			t.Errorf("%s is at %v, outside the 375×667 viewport", sel, box)
		}
	}
	if w := eval[int](c.tab, `document.documentElement.scrollWidth`); w > 375 {
		t.Errorf("the page is %d px wide: it scrolls sideways on a phone", w)
	}
	if path := os.Getenv("CHATWINDOW_SCREENSHOT_PHONE"); path != "" {
		png, err := chromedp.Run(c.bounded(), chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
