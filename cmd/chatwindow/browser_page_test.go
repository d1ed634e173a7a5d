package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// tab is one browser tab of the chat window, with what it logged.
type tab struct {
	t   *testing.T
	ctx context.Context // the tab's chromedp context; it has run once

	mu       sync.Mutex
	console  []chromedp.ConsoleMessage
	dialogs  []string
	watchers sync.WaitGroup
}

// The page records Content-Security-Policy violations itself: the event
// names every refused inline script, style or connection.
const recordViolations = `window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});`

// newCustomer opens a tab in a new browser context: a fresh cookie jar, so
// a new customer session.
func newCustomer(t *testing.T) *tab {
	t.Helper()
	needBrowser(t)
	ctx, cancel := context.WithTimeout(env.browser, tabLifetime)
	ctx, closeTab := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	return openTab(t, ctx, func() {
		closeTab()
		cancel()
	})
}

// secondTab opens another tab in the same browser context as p (the same
// cookies: the same customer session).
func (p *tab) secondTab() *tab {
	p.t.Helper()
	ctx, closeTab := chromedp.NewContext(p.ctx)
	return openTab(p.t, ctx, closeTab)
}

// openTab starts the tab of ctx; closeTab closes it when the test ends.
func openTab(t *testing.T, ctx context.Context, closeTab func()) *tab {
	t.Helper()
	closeTab = sync.OnceFunc(closeTab)
	t.Cleanup(closeTab)
	// The first action on a tab's context creates the tab and binds it to
	// ctx, so it runs on ctx itself (bounded by tabLifetime).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	p := &tab{t: t, ctx: ctx}
	console := chromedp.Console(ctx)
	dialogs := chromedp.Events(ctx, cdppage.JavascriptDialogOpening)
	p.watchers.Add(2)
	// The watchers end with the tab's context.
	go func() {
		defer p.watchers.Done()
		for m, err := range console {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	go func() {
		defer p.watchers.Done()
		for ev, err := range dialogs {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.dialogs = append(p.dialogs, string(ev.Type)+": "+ev.Message)
			p.mu.Unlock()
			// Dismiss it, or the page stays blocked.
			hctx, cancel := context.WithTimeout(ctx, actionTimeout)
			chromedp.Call(hctx, cdppage.HandleJavaScriptDialog, cdppage.HandleJavaScriptDialogParams{Accept: false})
			cancel()
		}
	}()
	// Cleanups run last-in first-out: this one runs before the tab closes,
	// and the watchers end after it.
	t.Cleanup(func() {
		if d := p.openedDialogs(); len(d) > 0 {
			t.Errorf("the page opened dialogs: %q", d)
		}
		if !t.Failed() {
			if probs, err := p.findProblems(); err != nil {
				t.Errorf("reading the page's console: %v", err)
			} else if len(probs) > 0 {
				t.Errorf("console errors or CSP violations: %q", probs)
			}
		}
		closeTab()
		p.watchers.Wait()
	})
	_, err := chromedp.Call(p.bounded(), cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: recordViolations})
	if err != nil {
		t.Fatalf("add script: %v", err)
	}
	return p
}

// use makes a subtest the tab's test until the subtest ends, so that its
// failures stop the subtest, on the subtest's goroutine.
func (p *tab) use(t *testing.T) {
	parent := p.t
	p.t = t
	t.Cleanup(func() { p.t = parent })
}

// bounded is the tab's context with actionTimeout, cancelled at the
// latest when the test ends.
func (p *tab) bounded() context.Context {
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	p.t.Cleanup(cancel)
	return ctx
}

// do runs browser actions, bounded by actionTimeout.
func (p *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.bounded(), actions...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](p *tab, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.bounded(), chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS waits until the expression is true in the page.
func (p *tab) waitJS(what, expr string) {
	p.t.Helper()
	ctx := p.bounded()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		select {
		case <-ctx.Done():
			p.t.Fatalf("waiting for %s (%s): last error %v", what, expr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// open loads the chat window and waits until it is ready: its socket up,
// or, for a visitor with no identity yet, the page ready for the first
// message (which asks for the identity and opens the socket).
func (p *tab) open() {
	p.t.Helper()
	p.load(env.chatURL + "/")
}

// load loads the window at u and waits until it is ready (see open).
func (p *tab) load(u string) {
	p.t.Helper()
	p.do("load the chat window", chromedp.Navigate(u))
	if eval[bool](p, `!!document.querySelector('main[data-start]:not([ws-connect])')`) {
		p.waitJS("the anonymous window ready", `typeof htmx !== "undefined" && document.readyState === "complete"`)
		return
	}
	p.waitConnected()
}

func (p *tab) waitConnected() {
	p.t.Helper()
	p.waitJS("the window connected", `(() => {
		const c = document.querySelector('[data-testid="connection"]');
		return !!c && c.dataset.state === "open" && typeof htmx !== "undefined";
	})()`)
}

// focusEmulation makes document.hasFocus() true in the headless page.
func (p *tab) focusEmulation() {
	p.t.Helper()
	if _, err := chromedp.Call(p.bounded(), emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		p.t.Fatalf("focus emulation: %v", err)
	}
	if !eval[bool](p, `document.hasFocus()`) {
		p.t.Fatal("document.hasFocus() is false with focus emulation on")
	}
}

// setHidden plays a background tab (headless Chromium never hides one):
// document.visibilityState/hidden are overridden and visibilitychange is
// dispatched; false removes the overrides.
func (p *tab) setHidden(hidden bool) {
	p.t.Helper()
	js := `(() => {
		delete document.visibilityState; delete document.hidden;
		document.dispatchEvent(new Event("visibilitychange"));
		return document.visibilityState;
	})()`
	want := "visible"
	if hidden {
		js = `(() => {
			Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
			Object.defineProperty(document, "hidden", {configurable: true, get: () => true});
			document.dispatchEvent(new Event("visibilitychange"));
			return document.visibilityState;
		})()`
		want = "hidden"
	}
	if got := eval[string](p, js); got != want {
		p.t.Fatalf("visibilityState is %q, want %q", got, want)
	}
}

// setFocused plays the window losing or regaining focus: document.hasFocus
// is overridden and blur or focus is dispatched on the window.
func (p *tab) setFocused(focused bool) {
	p.t.Helper()
	js := `(() => {
		delete document.hasFocus;
		window.dispatchEvent(new FocusEvent("focus"));
		return document.hasFocus();
	})()`
	if !focused {
		js = `(() => {
			Object.defineProperty(document, "hasFocus", {configurable: true, value: () => false});
			window.dispatchEvent(new FocusEvent("blur"));
			return document.hasFocus();
		})()`
	}
	if got := eval[bool](p, js); got != focused {
		p.t.Fatalf("document.hasFocus() is %v, want %v", got, focused)
	}
}

// bubble is one message as the page shows it.
type bubble struct {
	From, Seq, DialogID, Text, Receipt string
}

// bubbles lists the messages in the page, in order.
func (p *tab) bubbles() []bubble {
	p.t.Helper()
	raw := eval[[]byte](p, `JSON.stringify([...document.querySelectorAll('[data-testid="message"]')].map(e => ({
		From: e.dataset.from || "", Seq: e.dataset.seq || "", DialogID: e.dataset.dialogId || "",
		Text: (e.querySelector(".message-text") || e).textContent, Receipt: e.dataset.receipt || ""})))`)
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		p.t.Fatalf("bubbles: %v", err)
	}
	var out []bubble
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		p.t.Fatalf("bubbles: %v", err)
	}
	return out
}

// agentBubble is the CSS selector of the agent's message with a sequence.
func agentBubble(seq int64) string {
	return fmt.Sprintf(`[data-testid="message"][data-from="agent"][data-seq="%d"]`, seq)
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// visible is the JavaScript test of an element being visible: rendered,
// not hidden by visibility or opacity, with a box.
func visible(selector string) string {
	return `(() => {
		const el = document.querySelector(` + jsString(selector) + `);
		if (!el || !el.checkVisibility({opacityProperty: true, visibilityProperty: true})) return false;
		const r = el.getBoundingClientRect();
		return r.width > 0 && r.height > 0;
	})()`
}

func (p *tab) openedDialogs() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.dialogs...)
}

// problems returns the console's errors and the page's CSP violations.
func (p *tab) problems() []string {
	p.t.Helper()
	probs, err := p.findProblems()
	if err != nil {
		p.t.Fatal(err)
	}
	return probs
}

func (p *tab) findProblems() ([]string, error) {
	var out []string
	p.mu.Lock()
	for _, m := range p.console {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException ||
			strings.Contains(m.Text, "Content Security Policy") {
			out = append(out, m.String())
		}
	}
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	violations, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`window.__violations || ["the violation recorder did not run"]`))
	if err != nil {
		return nil, fmt.Errorf("read CSP violations: %w", err)
	}
	for _, v := range violations {
		out = append(out, "CSP violation: "+v)
	}
	return out, nil
}

// chat is a customer's conversation with the test agent.
type chat struct {
	*tab
	convID string // the conversation's id, also its MAIN dialog's
}

// startChat opens the window as a new customer, sends a first message
// (which creates the conversation) and has the agent accept it. The
// conversation is closed when the test ends.
func startChat(t *testing.T) *chat {
	t.Helper()
	return chatIn(t, newCustomer(t))
}

// chatIn is startChat in the customer's tab p (which a test may have
// prepared, e.g. with a script for every document).
func chatIn(t *testing.T, p *tab) *chat {
	t.Helper()
	p.open()
	p.typeAndSend("Hello, I need help")
	p.waitJS("the first message sent", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq][data-dialog-id]')`)
	convID := eval[string](p, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	if convID == "" {
		t.Fatal("the customer's message has no dialog id")
	}
	t.Cleanup(func() { env.agent.closeConversation(t, convID) })
	env.agent.acceptRing(t, convID)
	p.waitJS("the agent's name", `!!document.querySelector('#agent-name strong')`)
	return &chat{tab: p, convID: convID}
}

// composer is the selector of the customer's text box.
const composer = `[data-testid="composer"]`

// typeAndSend types text into the composer and presses Enter the way a
// keyboard does: one keyDown that carries Enter's text. (chromedp's
// SendKeys sends that text as a separate char event, which inserts a line
// break even when the page cancelled the keydown; no keyboard does that.)
func (p *tab) typeAndSend(text string) {
	p.t.Helper()
	enter := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for _, ev := range []input.DispatchKeyEventParams{
			{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Text: "\r", UnmodifiedText: "\r"},
			{Type: input.DispatchKeyEventTypeKeyUp, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13},
		} {
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, ev); err != nil {
				return fmt.Errorf("press Enter: %w", err)
			}
		}
		return nil
	})
	p.do("type and press Enter", chromedp.SendKeys(chromedp.CSS(composer), text), enter)
}
