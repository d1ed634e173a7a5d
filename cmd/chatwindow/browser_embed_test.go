package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// The window on a brand's site (docs/embedding.md), in Chromium: the demo
// site's page, served on another site than the window (another host name:
// ports do not make sites), with the launcher that embed.js adds; the
// window in its panel, a cross-site frame, which Chromium runs as a target
// of its own. The tests' browser blocks third-party cookies, as privacy
// minded browsers do: there, only a partitioned cookie reaches the frame.

// Selectors of the brand's page.
const (
	launcher    = `[data-testid="launcher"]`
	launcherBad = `[data-testid="launcher-unread"]`
	panel       = `#chatwindow-panel`
	demoStatus  = `document.querySelector('[data-testid="demo-status"]').textContent`
)

// embedBrowser starts a Chromium of the test's own that blocks
// third-party cookies; it stops when the test ends.
func embedBrowser(t *testing.T) context.Context {
	t.Helper()
	needBrowser(t)
	allocCtx, stopAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("test-third-party-cookie-phaseout", true),
		chromedp.WindowSize(1000, 760),
	)...)
	browser, stop := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		stop()
		stopAlloc()
	})
	ctx, cancel := context.WithTimeout(browser, 30*time.Second)
	defer cancel()
	// The first action starts Chromium and binds it to browser.
	if err := chromedp.Do(browser); err != nil || ctx.Err() != nil {
		t.Fatalf("start %s: %v", chromiumPath, errors.Join(err, ctx.Err()))
	}
	return browser
}

// brandPage opens the demo site at demoURL as a new visitor (a new
// browser context of browser), focused.
func brandPage(t *testing.T, browser context.Context, demoURL string) *tab {
	t.Helper()
	ctx, cancel := context.WithTimeout(browser, 2*tabLifetime)
	ctx, closeTab := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	p := openTab(t, ctx, func() {
		closeTab()
		cancel()
	})
	p.focusEmulation()
	p.loadBrand(demoURL)
	return p
}

// loadBrand loads the brand's page and waits for the launcher.
func (p *tab) loadBrand(u string) {
	p.t.Helper()
	p.do("load the brand's page", chromedp.Navigate(u))
	p.waitJS("the launcher", visible(launcher)+` && !!window.chatwindow`)
}

// frame attaches to the chat window framed by the brand's page p (the
// frame's page at chatURL/?embed=1), once that page is ready. CSP
// violations are recorded from here on (the page's own load is checked by
// TestCSPHolds).
func (p *tab) frame(chatURL string) *tab {
	p.t.Helper()
	page := chromedp.FromContext(p.ctx).Target.TargetID
	ctx := p.bounded()
	var id target.ID
	for id == "" {
		infos, err := chromedp.Targets(ctx)
		for _, in := range infos {
			if in.Type == "iframe" && in.ParentID == page && strings.HasPrefix(in.URL, chatURL+"/?embed=1") {
				id = in.TargetID
			}
		}
		if id != "" {
			break
		}
		select {
		case <-ctx.Done():
			p.t.Fatalf("no frame of %s in the brand's page: %v", chatURL, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
	fctx, detach := chromedp.NewContext(p.ctx, chromedp.WithTargetID(id), chromedp.WithDetachOnCancel())
	p.t.Cleanup(detach)
	if err := chromedp.Do(fctx); err != nil {
		p.t.Fatalf("attach to the frame: %v", err)
	}
	f := &tab{t: p.t, ctx: fctx}
	f.waitJS("the framed window ready", `document.readyState === "complete" && typeof htmx !== "undefined" && !!window.chatwindowFrame`)
	eval[bool](f, `(() => { `+recordViolations+` return true; })()`)
	return f
}

// sessionCookie is the window's session cookie as the frame's browser
// keeps it.
func (f *tab) sessionCookie(chatURL string) *network.Cookie {
	f.t.Helper()
	var found *network.Cookie
	f.do("read the cookies", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		res, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{chatURL + "/"}})
		if err != nil {
			return err
		}
		for _, c := range res.Cookies {
			if strings.HasSuffix(c.Name, "chatwindow") {
				found = c
			}
		}
		return nil
	}))
	if found == nil {
		f.t.Fatal("the frame has no session cookie")
	}
	return found
}

// forceFocus makes the frame's document.hasFocus() true, as if the frame
// had kept the focus (headless Chromium gives a frame the focus only when
// its page moves it there), and says so with a focus event.
func (f *tab) forceFocus() {
	f.t.Helper()
	eval[bool](f, `(() => {
		Object.defineProperty(document, "hasFocus", {configurable: true, value: () => true});
		dispatchEvent(new FocusEvent("focus"));
		return document.hasFocus();
	})()`)
}

// badge is the JavaScript test of the launcher's badge showing n.
func badge(n int) string {
	if n == 0 {
		return `!` + visible(launcherBad)
	}
	return visible(launcherBad) + fmt.Sprintf(` && document.querySelector(%s).textContent === "%d"`, jsString(launcherBad), n)
}

// TestBrowserEmbedded: the launcher on a page of another site opens the
// window in its panel, and a conversation runs there, its cookie
// partitioned (SameSite=None, Secure, HttpOnly) in a browser that blocks
// third-party cookies. A closed panel is out of sight: the agent's messages
// are delivered (ACCEPT) but not read, and the badge and the page's unread
// event count them; reopened, they are read. Open or closed, and the count,
// survive a reload of the brand's page.
func TestBrowserEmbedded(t *testing.T) {
	p := brandPage(t, embedBrowser(t), env.demoURL)
	// The window in the brand page's language (the demo page is English).
	if src := eval[string](p, `document.querySelector('[data-testid="chat-frame"]').src`); src != env.chatURL+"/?embed=1&lang=en" {
		t.Errorf("the frame shows %q, want the window's %s/?embed=1&lang=en", src, env.chatURL)
	}
	if eval[bool](p, visible(panel)) {
		t.Error("the panel is open before anyone opened it")
	}
	f := p.frame(env.chatURL)
	if got := eval[string](f, `document.documentElement.dataset.panel`); got != "closed" {
		t.Errorf("the framed window says its panel is %q, want closed", got)
	}

	p.do("open the panel", chromedp.Click(chromedp.CSS(launcher)))
	p.waitJS("the panel open", visible(panel)+` && document.querySelector(`+jsString(launcher)+`).getAttribute("aria-expanded") === "true"`)
	f.waitJS("the window in sight, with the focus", `document.documentElement.dataset.panel === "open" && document.hasFocus()`)

	f.typeAndSend("Hello from the brand's page")
	f.waitJS("the first message sent", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq][data-dialog-id]')`)
	conv := eval[string](f, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	t.Cleanup(func() { env.agent.closeConversation(t, conv) })
	env.agent.acceptRing(t, conv)
	first := env.agent.say(t, conv, "Welcome! How can I help?")
	env.agent.waitReceipt(t, conv, read, first)
	p.waitJS("the page told the conversation is open", demoStatus+`.includes("conversation: open")`)

	c := f.sessionCookie(env.chatURL)
	if c.SameSite != network.CookieSameSiteNone || !c.Secure || !c.HTTPOnly || c.PartitionKey == nil {
		t.Errorf("the framed window's cookie is SameSite=%s Secure=%v HttpOnly=%v partition %+v, want None, Secure, HttpOnly, partitioned", c.SameSite, c.Secure, c.HTTPOnly, c.PartitionKey)
	} else if !strings.HasPrefix(env.demoURL, c.PartitionKey.TopLevelSite) {
		t.Errorf("the cookie is partitioned under %q, want the brand's site (%s)", c.PartitionKey.TopLevelSite, env.demoURL)
	}
	if s := eval[string](f, `document.cookie`); s != "" {
		t.Errorf("the framed window's script reads cookies %q", s)
	}

	// An answer while the customer looks elsewhere: in view in the open
	// panel, but the window has no focus, so it is delivered, not read.
	f.setFocused(false)
	second := env.agent.say(t, conv, "I found your order.")
	env.agent.waitReceipt(t, conv, accept, second)

	// Closed: out of sight, so nothing is seen, even if the frame had the
	// focus again (a page may close the panel and leave the focus there),
	// with that answer still in view; what comes is delivered and counted.
	p.do("close the panel", chromedp.Click(chromedp.CSS(launcher)))
	p.waitJS("the panel closed", `!`+visible(panel))
	f.waitJS("the window out of sight", `document.documentElement.dataset.panel === "closed"`)
	f.forceFocus()
	third := env.agent.say(t, conv, "It ships tomorrow.")
	fourth := env.agent.say(t, conv, "Anything else?")
	env.agent.waitReceipt(t, conv, accept, third)
	env.agent.waitReceipt(t, conv, accept, fourth)
	p.waitJS("the badge counts two", badge(2))
	p.waitJS("the page's unread event", demoStatus+`.startsWith("Unread: 2")`)
	if label := eval[string](p, `document.querySelector(`+jsString(launcher)+`).getAttribute("aria-label")`); !strings.Contains(label, "2 unread") {
		t.Errorf("the launcher is named %q, want it to say 2 unread", label)
	}
	env.agent.waitNoReceipt(t, conv, read, fourth)
	for _, seq := range []int64{second, third} {
		if n := env.agent.liveReceipts(conv, read)[seq]; n != 0 {
			t.Errorf("message %d was read %d times with the panel closed", seq, n)
		}
	}

	// A reload of the brand's page: still closed, still two unread.
	p.loadBrand(env.demoURL)
	f = p.frame(env.chatURL)
	f.waitJS("the conversation in the frame", `!!document.querySelector(`+jsString(agentBubble(fourth))+`)`)
	p.waitJS("the badge still counts two", badge(2))
	if eval[bool](p, visible(panel)) {
		t.Error("the panel opened by itself on a reload")
	}
	env.agent.waitNoReceipt(t, conv, read, fourth)

	// Reopened: read, and the badge goes.
	p.do("open the panel again", chromedp.Click(chromedp.CSS(launcher)))
	for _, seq := range []int64{second, third, fourth} {
		env.agent.waitReceipt(t, conv, read, seq)
	}
	p.waitJS("no badge", badge(0))
	p.waitJS("the page told nothing is unread", demoStatus+`.startsWith("Unread: 0")`)

	// A reload keeps it open.
	p.loadBrand(env.demoURL)
	p.waitJS("the panel open after a reload", visible(panel))
	p.frame(env.chatURL).waitJS("the window in sight", `document.documentElement.dataset.panel === "open"`)
}

// TestBrowserEmbeddedForeignMessages: messages from a page of a third
// origin, framed in the brand's page, reach both sides and change
// nothing: embed.js hears only its frame at the window's origin, and the
// framed window only its parent at an origin that may frame it. (The
// brand's CSP would not let that page in: this tab bypasses it.)
func TestBrowserEmbeddedForeignMessages(t *testing.T) {
	forger := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!DOCTYPE html><title>forger</title><script>
var chat = parent.frames[0];
chat.postMessage({chatwindow: 1, type: "hello"}, "*");
chat.postMessage({chatwindow: 1, type: "panel", open: true}, "*");
parent.postMessage({chatwindow: 1, type: "unread", count: 99}, "*");
parent.postMessage({chatwindow: 1, type: "state", state: "forged"}, "*");
parent.postMessage("forger done", "*");
</script>`)
	}))
	t.Cleanup(forger.Close)

	browser := embedBrowser(t)
	ctx, cancel := context.WithTimeout(browser, tabLifetime)
	ctx, closeTab := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	p := openTab(t, ctx, func() {
		closeTab()
		cancel()
	})
	if _, err := chromedp.Call(p.bounded(), cdppage.SetBypassCSP, cdppage.SetBypassCSPParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	p.loadBrand(env.demoURL)
	f := p.frame(env.chatURL)
	// What reaches the window, and the page's own record of the events.
	eval[bool](f, `(window.__heard = [], addEventListener("message", e => window.__heard.push(e.origin + " " + e.data.type)), true)`)
	eval[bool](p, `(() => {
		window.__events = [];
		chatwindow.on("unread", n => __events.push("unread " + n));
		chatwindow.on("state", s => __events.push("state " + s));
		chatwindow.on("panel", o => __events.push("panel " + o));
		addEventListener("message", e => { if (e.data === "forger done") window.__forged = e.origin; });
		return true;
	})()`)
	p.waitJS("the window's first count", `__events.includes("unread 0")`)
	eval[bool](p, `(() => {
		const f = document.createElement("iframe");
		f.src = `+jsString(forger.URL+"/")+`;
		f.title = "forger";
		document.body.append(f);
		return true;
	})()`)
	p.waitJS("the forger ran", `window.__forged === `+jsString(forger.URL))
	f.waitJS("the forger's messages reached the window", `__heard.includes(`+jsString(forger.URL+" panel")+`)`)
	p.holds("the page ignores them", badge(0)+` && !__events.some(e => e === "unread 99" || e === "state forged")`)
	f.holds("the window ignores them", `document.documentElement.dataset.panel === "closed"`)
	if eval[bool](p, visible(panel)) {
		t.Error("the forger opened the panel")
	}
}

// holds checks, for quiet, that the expression stays true in the page.
func (p *tab) holds(what, expr string) {
	p.t.Helper()
	deadline := time.Now().Add(quiet)
	for time.Now().Before(deadline) {
		if !eval[bool](p, expr) {
			p.t.Fatalf("%s: %s became false", what, expr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBrowserEmbeddedSignIn: with authenticated customers, the framed
// window asks the brand's page to sign the customer in (its
// LPJsMethodName, over the panel's bridge): the demo site's page closes
// the panel and asks its visitor to sign in, answers with a brand JWT it
// signs with the key the embedded service trusts, opens the panel again,
// and the conversation starts as that customer.
func TestBrowserEmbeddedSignIn(t *testing.T) {
	own := ownProgram(t, "-bot-delay", "0", "-survey=false", "-identity", "authenticated")
	agent := ownAgent(t, own)
	p := brandPage(t, embedBrowser(t), own.demoURL)
	f := p.frame(own.chatURL)
	p.do("open the panel", chromedp.Click(chromedp.CSS(launcher)))
	f.waitJS("the window in sight", `document.documentElement.dataset.panel === "open" && document.hasFocus()`)
	f.typeAndSend("Signed in on the brand's site")
	p.waitJS("the page asks its visitor to sign in, the panel out of the way", `document.getElementById("demo-signin-note").textContent.includes("sign in") && !`+visible(panel))
	p.do("sign in on the brand's page", chromedp.Click(chromedp.CSS(`[data-testid="demo-signin"]`)))
	p.waitJS("the panel back", visible(panel))
	f.waitJS("the message sent", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq][data-dialog-id]')`)
	conv := eval[string](f, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	t.Cleanup(func() { agent.closeConversation(t, conv) })
	agent.acceptRing(t, conv)
	seq := agent.say(t, conv, "Hello Jane!")
	agent.waitReceipt(t, conv, read, seq)
	logs := own.logs.String()
	for _, want := range []string{"demo customer signed in", "consumer authenticated", "verified=true", "customer signed in"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no %q in the program's log", want)
		}
	}
	if c := f.sessionCookie(own.chatURL); c.PartitionKey == nil {
		t.Error("the signed-in customer's cookie is not partitioned")
	}
}

// TestBrowserEmbeddedAccessibility: axe-core finds no serious or critical
// violation on the demo site's page with the panel open, nor in the window
// framed there (a cross-site frame is scanned in its own target).
func TestBrowserEmbeddedAccessibility(t *testing.T) {
	needBrowser(t)
	src := loadAxe(t)
	p := brandPage(t, env.browser, env.demoURL)
	f := p.frame(env.chatURL)
	p.do("open the panel", chromedp.Click(chromedp.CSS(launcher)))
	f.waitJS("the window in sight", `document.documentElement.dataset.panel === "open"`)
	p.waitJS("the page told the state", demoStatus+`.includes("conversation: new")`)
	p.axeScan(src)
	f.axeScan(src)
}

// shootDemoSite takes make screenshots' picture of the demo site with the
// panel open, mid-conversation with the demo bot, on a program of its own
// (the demo site is the embedded service's) with a brand colour and
// greeting.
func shootDemoSite(t *testing.T, a *album) {
	t.Helper()
	run, _ := startRun(t, "-addr", "127.0.0.1:0", "-sim-addr", "127.0.0.1:0", "-bot-delay", "100ms", "-survey=false",
		"-brand-color", "#2f5d3a", "-brand-greeting", "Questions about your gear? We answer within minutes.")
	demoURL := run.wait(t, regexp.MustCompile(`demo site on (\S+)`), 15*time.Second)
	chatURL := run.wait(t, regexp.MustCompile(`chat window on (\S+)`), 15*time.Second)
	p := screenshotTab(t, 1000, 720)
	p.loadBrand(demoURL)
	f := p.frame(chatURL)
	p.do("open the panel", chromedp.Click(chromedp.CSS(launcher)))
	f.waitJS("the window in sight", `document.documentElement.dataset.panel === "open"`)
	f.typeAndSend("Hi! Do you have the Ridge 45 in green?")
	f.waitJS("the demo bot's answer", `document.querySelectorAll('[data-testid="message"][data-from="agent"]').length >= 2`)
	f.waitJS("the brand's header", `getComputedStyle(document.querySelector(".chat-header")).backgroundColor === "rgb(47, 93, 58)"`)
	a.take(p, "demo-site", mark{State: "panel open, the brand's header colour, the bot's answers"})
}
