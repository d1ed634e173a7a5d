package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/static"
)

// The accessibility scan: axe-core (pinned in tests/axe, installed by
// `make test`) runs in the page in every state a person meets, the
// customer's window and the agent console, and no serious or critical
// violation of WCAG 2.1 A/AA or axe's best practices may be left.
//
// axe is injected with Runtime.evaluate, which the page's CSP
// (script-src 'self') does not govern: the page keeps its real policy,
// and the tab's own check for CSP violations still runs.

// axePath is axe-core's browser build, relative to this package.
const axePath = "../../tests/axe/node_modules/axe-core/axe.min.js"

// axeRun runs axe on the whole document with the rules of WCAG 2.1 A and AA
// and axe's best practices, and returns its violations, trimmed to what a
// failure message needs. Frames are left out: a cross-site frame is a
// target of its own, scanned there (TestBrowserEmbeddedAccessibility). No
// preload: it fetches every stylesheet again, which a page's connect-src
// refuses for another origin's (the launcher's), and only axe's
// experimental rules use it.
const axeRun = `axe.run(document, {
	runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]},
	iframes: false,
	preload: false,
	resultTypes: ["violations"],
}).then(r => ({
	violations: r.violations.map(v => ({id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
		nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary || ""}))})),
	incomplete: r.incomplete.map(v => ({id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
		nodes: v.nodes.map(n => ({target: n.target, html: n.html, summary: n.failureSummary || ""}))})),
}))`

// axeScanTimeout bounds one scan (a few hundred ms here; the DOM is small).
const axeScanTimeout = 30 * time.Second

type axeResult struct {
	Violations []axeRule `json:"violations"`
	// Incomplete are the checks axe could not decide (e.g. the contrast of
	// a glyph, or of text under an overlapping element): logged, for a
	// person to look at, with one example node each (resultTypes).
	Incomplete []axeRule `json:"incomplete"`
}

type axeRule struct {
	ID      string    `json:"id"`
	Impact  string    `json:"impact"`
	Help    string    `json:"help"`
	HelpURL string    `json:"helpUrl"`
	Nodes   []axeNode `json:"nodes"`
}

type axeNode struct {
	// Target is the node's CSS selector path (nested for shadow roots).
	Target  json.RawMessage `json:"target"`
	HTML    string          `json:"html"`
	Summary string          `json:"summary"`
}

func (r axeRule) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %s (%s)", r.Impact, r.ID, r.Help, r.HelpURL)
	for _, n := range r.Nodes {
		fmt.Fprintf(&b, "\n\t%s %s", n.Target, n.HTML)
		if n.Summary != "" {
			fmt.Fprintf(&b, "\n\t\t%s", strings.ReplaceAll(n.Summary, "\n", "\n\t\t"))
		}
	}
	return b.String()
}

// loadAxe reads axe-core's browser build: without it the scan is skipped,
// unless E2E_REQUIRED=1 says it must run.
func loadAxe(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile(axePath)
	if err == nil {
		return string(src)
	}
	missing := fmt.Sprintf("%v (run `npm ci` in tests/axe, or `make test`)", err)
	if !errors.Is(err, fs.ErrNotExist) || os.Getenv("E2E_REQUIRED") == "1" {
		t.Fatalf("axe-core: %s", missing)
	}
	t.Skipf("skipping the accessibility scan: axe-core is missing: %s; set E2E_REQUIRED=1 to fail instead", missing)
	return ""
}

// axeScan injects axe into the page (unless a scan already did since the
// last load), runs it, and fails the test with every serious or critical
// violation; moderate and minor ones are logged.
func (p *tab) axeScan(src string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, axeScanTimeout)
	defer cancel()
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object" && typeof window.axe.run === "function"`))
	if err != nil {
		p.t.Fatalf("axe: %v", err)
	}
	if !loaded {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](src)); err != nil {
			p.t.Fatalf("inject axe-core: %v", err)
		}
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[axeResult](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("axe.run: %v", err)
	}
	for _, r := range res.Violations {
		switch r.Impact {
		case "serious", "critical":
			p.t.Errorf("accessibility violation: %s", r)
		default:
			p.t.Logf("accessibility (%s, not failing): %s", r.Impact, r)
		}
	}
	for _, r := range res.Incomplete {
		p.t.Logf("accessibility (axe could not decide, %s): %s", r.Impact, r)
	}
	// The injection and the scan ran under the page's CSP without
	// tripping it.
	if probs := p.problems(); len(probs) > 0 {
		p.t.Errorf("console errors or CSP violations after the scan: %q", probs)
	}
}

// a11yCard is a structured-content card with each kind of element the
// window renders: a text in each style, an image of the window's own (CSP:
// img-src), a link button, a button that answers, and a carousel.
func a11yCard(t *testing.T) string {
	t.Helper()
	assets, err := static.Load()
	if err != nil {
		t.Fatal(err)
	}
	image := env.chatURL + "/static/" + assets.Hashed("demo-card.svg")
	return `{"type":"vertical","elements":[
	{"type":"text","text":"Your order","style":{"bold":true,"size":"large"}},
	{"type":"image","url":` + jsString(image) + `,"tooltip":"The parcel"},
	{"type":"text","text":"Arrives tomorrow before noon.","style":{"italic":true,"size":"small"}},
	{"type":"button","title":"Track it","click":{"actions":[{"type":"link","name":"Track it","uri":"https://track.example/"}]}},
	{"type":"button","title":"Change the address","click":{"actions":[{"type":"publishText","text":"change address"}]}},
	{"type":"carousel","elements":[
		{"type":"vertical","elements":[{"type":"text","text":"Standard"},{"type":"button","title":"Pick standard","click":{"actions":[{"type":"publishText","text":"standard"}]}}]},
		{"type":"vertical","elements":[{"type":"text","text":"Express"},{"type":"button","title":"Pick express","click":{"actions":[{"type":"publishText","text":"express"}]}}]}]}]}`
}

// conversationInProgress is the customer's window mid-conversation: one
// message of the customer's read (orange ticks), one delivered, the
// agent's text, a card, a question with quick replies, and the agent
// typing. phone makes the viewport a 375×667 phone first.
func conversationInProgress(t *testing.T, phone bool) *tab {
	t.Helper()
	c := startChat(t)
	if phone {
		c.do("phone viewport", chromedp.EmulateViewport(375, 667, chromedp.EmulateMobile))
		c.open()
	}
	first := eval[string](c.tab, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.seq`)
	firstSeq, err := strconv.ParseInt(first, 10, 64)
	if err != nil {
		t.Fatalf("the first message's sequence %q: %v", first, err)
	}
	env.agent.publish(t, c.convID, protocol.Event{Type: protocol.EventAcceptStatus, Status: read, SequenceList: protocol.Seqs{firstSeq}})
	env.agent.say(t, c.convID, "Hi! I'm looking at your order now.")
	c.typeAndSend("Thank you. It is order 1234.")
	second := `[...document.querySelectorAll('[data-testid="message"][data-from="consumer"][data-seq]')].find(e => e.querySelector(".message-text").textContent === "Thank you. It is order 1234.")`
	c.waitJS("the second message sent", `!!`+second)
	secondSeq := eval[int64](c.tab, `Number(`+second+`.dataset.seq)`)
	env.agent.publish(t, c.convID, protocol.Event{Type: protocol.EventAcceptStatus, Status: accept, SequenceList: protocol.Seqs{secondSeq}})
	cardSeq := env.agent.publish(t, c.convID, protocol.Event{Type: protocol.EventRichContent, Content: json.RawMessage(a11yCard(t))})
	qrSeq := env.agent.publish(t, c.convID, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "Shall I change the address?", QuickReplies: json.RawMessage(yesNo)})
	env.agent.chatState(t, c.convID, protocol.ChatComposing)

	c.waitJS("read ticks", `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.receipt === "read"`)
	c.waitJS("delivered ticks", second+`.dataset.receipt === "accepted"`)
	c.waitJS("the card", `!!document.querySelector(`+jsString(agentBubble(cardSeq)+` [data-testid="card"] img`)+`)`)
	c.waitJS("the quick replies", visible(agentBubble(qrSeq)+` [data-testid="quick-replies"] button`))
	c.waitJS("the agent typing", visible(`[data-testid="agent-typing"]`))
	c.waitJS("the card's image loaded", `[...document.querySelectorAll('#messages img')].every(i => i.complete && i.naturalWidth > 0)`)
	return c.tab
}

// consoleWithRing is the agent console with a customer's first message
// ringing; it returns the console and the conversation's id. The ring is
// accepted (by the test agent, the same agent) and the conversation
// closed when the test ends.
func consoleWithRing(t *testing.T) (agent *tab, convID string) {
	t.Helper()
	agent = openConsole(t)
	cust := newCustomer(t)
	cust.focusEmulation()
	cust.open()
	cust.typeAndSend("Hello, is anyone there?")
	cust.waitJS("the first message sent", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq][data-dialog-id]')`)
	convID = eval[string](cust, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	ring := `[data-testid="ring"][data-conversation-id="` + convID + `"]`
	agent.waitJS("the ring", visible(ring))
	ringID := eval[string](agent, `document.querySelector(`+jsString(ring+` input[name="ringId"]`)+`).value`)
	t.Cleanup(func() {
		// t.Context() is done by now: a context of its own.
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		defer cancel()
		var perr *protocol.Error
		if err := env.agent.AcceptRing(ctx, ringID); err != nil && !(errors.As(err, &perr) && perr.Code == http.StatusNotFound) {
			// Not found: the console accepted it.
			t.Errorf("agent: accept ring %s: %v", ringID, err)
		}
		env.agent.closeConversation(t, convID)
	})
	return agent, convID
}

// TestBrowserAccessibility: axe-core finds no serious or critical
// violation in any state of the customer's window or the agent console.
func TestBrowserAccessibility(t *testing.T) {
	if env.skip != "" {
		t.Skip(env.skip)
	}
	src := loadAxe(t)

	states := []struct {
		name string
		// reach drives a new tab into the state and returns it.
		reach func(t *testing.T) *tab
	}{
		{"window empty", func(t *testing.T) *tab {
			p := newCustomer(t)
			p.open()
			return p
		}},
		{"window conversation", func(t *testing.T) *tab { return conversationInProgress(t, false) }},
		{"window conversation at 375x667", func(t *testing.T) *tab { return conversationInProgress(t, true) }},
		{"window close confirmation", func(t *testing.T) *tab {
			c := startChat(t)
			c.do("ask to end the conversation", chromedp.Click(chromedp.CSS(`[data-testid="close-conversation"]`)))
			c.waitJS("the confirmation", visible(`[data-testid="confirm-close"]`))
			return c.tab
		}},
		{"window rating", func(t *testing.T) *tab {
			c := startChat(t)
			c.do("end the conversation",
				chromedp.Click(chromedp.CSS(`[data-testid="close-conversation"]`)),
				chromedp.Click(chromedp.CSS(`[data-testid="confirm-close"]`)))
			c.waitJS("the rating form", visible(`[data-testid="csat"]`))
			c.do("pick 4", chromedp.Click(chromedp.CSS(`[data-testid="csat-4"]`)))
			return c.tab
		}},
		{"console sign-in", func(t *testing.T) *tab {
			p := newCustomer(t)
			p.do("load the agent console", chromedp.Navigate(env.consoleURL))
			p.waitJS("the sign-in form", visible(`[data-testid="agent-sign-in"]`))
			return p
		}},
		{"console sign-in refused", func(t *testing.T) *tab {
			p := newCustomer(t)
			p.do("load the agent console", chromedp.Navigate(env.consoleURL))
			p.do("sign in with a wrong password",
				chromedp.SendKeys(chromedp.CSS(`[data-testid="agent-name"]`), "agent"),
				chromedp.SendKeys(chromedp.CSS(`[data-testid="agent-password"]`), "not-"+env.agentPassword),
				chromedp.Click(chromedp.CSS(`[data-testid="agent-sign-in"]`)))
			p.waitJS("the refusal", visible(`[data-testid="sign-in-error"]`))
			return p
		}},
		{"console inbox with a ring", func(t *testing.T) *tab {
			agent, _ := consoleWithRing(t)
			return agent
		}},
		{"console conversation", func(t *testing.T) *tab {
			agent, convID := consoleWithRing(t)
			ring := `[data-testid="ring"][data-conversation-id="` + convID + `"]`
			agent.do("accept", chromedp.Click(chromedp.CSS(ring+` [data-testid="accept"]`)))
			agent.waitJS("the conversation open", `(() => {
				const h = document.querySelector('[data-testid="pane-header"]');
				return !!h && h.dataset.conversationId === `+jsString(convID)+` && !!`+consoleMessage("consumer", "Hello, is anyone there?")+`;
			})()`)
			const answer = "Yes! How can I help you today?"
			agent.do("answer",
				chromedp.SendKeys(chromedp.CSS(`[data-testid="agent-composer"]`), answer),
				chromedp.Click(chromedp.CSS(`[data-testid="agent-send"]`)))
			// The customer's window is focused: the answer is read (orange V).
			agent.waitJS("the answer read", `(() => { const m = `+consoleMessage("agent", answer)+`; return !!m && m.dataset.v === "read"; })()`)
			const pending = "Sending a second answer while the first is read."
			agent.do("answer again",
				chromedp.SendKeys(chromedp.CSS(`[data-testid="agent-composer"]`), pending),
				chromedp.Click(chromedp.CSS(`[data-testid="agent-send"]`)))
			agent.waitJS("the second answer", `!!`+consoleMessage("agent", pending))
			return agent
		}},
	}
	for _, s := range states {
		t.Run(s.name, func(t *testing.T) {
			p := s.reach(t)
			p.axeScan(src)
		})
	}
}
