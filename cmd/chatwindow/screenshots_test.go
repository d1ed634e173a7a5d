package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatwindow/chatwindow/internal/testing/faultproxy"
	"github.com/chatwindow/chatwindow/internal/testing/testfiles"
)

// `make screenshots`: a scripted conversation in Chromium that leaves a
// picture of every receipt state on both sides, and an index page, in
// CHATWINDOW_SCREENSHOTS. Each state is checked in the page (its data
// attribute, its marks, the marks' computed colour) before its picture is
// taken, so that a wrong state fails the run instead of producing a wrong
// picture.
//
// The run starts its own processes: `chatwindow simulate` (the service and
// the agent console) and a window on it as on an account (LP_ACCOUNT,
// LP_CSDS), whose consumer sockets go through a fault proxy
// (LP_ASYNCMESSAGINGENT): stalling the proxy holds a publish in flight
// (the clock), cutting it then fails the publish (the error and Retry),
// and stalling it while the agent sends keeps the answer from the
// customer's window (one V). The console talks to the service directly.

// screenshotStates are the pictures, in the index's order; files are
// NN-key.png.
var screenshotStates = []struct{ key, side, title, caption string }{
	{"customer-sending", "customer", "Sending",
		"The customer's message is on its way: the service has not answered the publish yet (the run stalls the window's upstream socket). A clock."},
	{"customer-sent", "customer", "Sent",
		"The service accepted the message and gave it a sequence; no agent has it yet. One tick."},
	{"customer-delivered", "customer", "Delivered",
		"The agent accepted the conversation; the console has the message on screen but not in a focused tab: ACCEPT only. Two grey ticks."},
	{"customer-read", "customer", "Read",
		"The agent looked at the message in the focused console: READ. Two orange ticks."},
	{"customer-failed", "customer", "Failed",
		"The service refused the message for good: the agent closed the conversation while it was on its way (409). It says not sent. (A publish that merely got no answer, because the socket died, is not failed: after the reconnect's catch-up shows it did not land, it goes out again, once — the run checks that too.)"},
	{"customer-agent-typing", "customer", "Agent typing",
		"The agent types in the console (COMPOSING): the window says so under the messages."},
	{"customer-closed", "customer", "Closed",
		"The agent closed the conversation from the console: the composer gives way to the satisfaction survey."},
	{"customer-rated", "customer", "Rated",
		"The customer rated the conversation 5 of 5: thanked, and offered a new conversation."},
	{"agent-sent", "agent", "V (sent)",
		"The agent's answer has its sequence; the customer's window has not received it yet (the run stalls the window's upstream). One grey V."},
	{"agent-delivered", "agent", "VV (delivered)",
		"The customer's window received the answer (ACCEPT) but is not focused, so it is not read. Two grey V."},
	{"agent-read", "agent", "Orange VV (read)",
		"The customer's window got the focus with the answer in view: READ. Both V orange."},
	{"customer-images", "customer", "Images both ways",
		"Another customer attaches a photo (the page makes its thumbnail and posts it to the window, which uploads it to the service's storage); the agent answers with a picture from the console. Each is an image bubble whose thumbnail opens the whole picture through the window."},
	{"agent-images", "agent", "Images both ways (console)",
		"The customer's photo in the console, fetched with the agent's identity, and the agent's picture sent from the composer's Attach, with its V marks."},
	{"demo-site", "site", "The demo site, the panel open",
		"A brand's page on another site than the window (make run's demo site), with the launcher in the corner: the window in its panel, wearing the brand's colour and greeting, mid-conversation with the demo bot."},
	{"customer-hebrew", "customer", "Hebrew, right to left",
		"The window asked for Hebrew (?lang=he, as embed.js passes the brand page's language): its strings in Hebrew, right to left, the customer's bubble on the left; the demo bot answers in English."},
}

const (
	// screenshotLifetime bounds the run's tabs (the whole run takes ~20 s).
	screenshotLifetime = 2 * time.Minute
)

func TestScreenshots(t *testing.T) {
	dir := os.Getenv("CHATWINDOW_SCREENSHOTS")
	if dir == "" {
		t.Skip("set CHATWINDOW_SCREENSHOTS=<dir> to take the screenshots (make screenshots)")
	}
	needBrowser(t)
	a := newAlbum(t, dir)

	// The service with the console, and the window on it through the proxy.
	password := rand.Text()[:16]
	sim, _ := startRun(t, "simulate", "-addr", "127.0.0.1:0", "-agent", "agent:"+password)
	base := sim.wait(t, listening, 15*time.Second)
	consoleURL := sim.wait(t, regexp.MustCompile(`agent console on (\S+)`), 5*time.Second)
	proxy, err := faultproxy.New(context.Background(), strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	win, _ := startRunEnv(t, map[string]string{
		"LP_ACCOUNT": "12345678", "LP_CSDS": base, "LP_ASYNCMESSAGINGENT": proxy.Addr(),
		"CHATWINDOW_ADDR": "127.0.0.1:0",
	})
	chatURL := win.wait(t, regexp.MustCompile(`chat window on (\S+)`), 15*time.Second)

	// The agent signs in to the console.
	agent := screenshotTab(t, 1000, 640)
	agent.do("load the agent console", chromedp.Navigate(consoleURL))
	agent.do("sign in",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="agent-name"]`), "agent"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="agent-password"]`), password),
		chromedp.Click(chromedp.CSS(`[data-testid="agent-sign-in"]`)))
	agent.waitJS("the desk connected", `(() => {
		const c = document.querySelector('[data-testid="connection"]');
		return !!document.querySelector('[data-testid="console"]') && !!c && c.dataset.state === "open" && typeof htmx !== "undefined";
	})()`)

	// Sent: the customer's first message, nobody has it yet.
	cust := screenshotTab(t, 480, 720)
	cust.load(chatURL + "/")
	const first = "Hi! I ordered a desk lamp last week (order 4711)."
	cust.typeAndSend(first)
	firstEl := consumerMessage(first)
	m := expectMark(cust, "one tick", firstEl, "receipt", "sent", "✓", false)
	convID := eval[string](cust, firstEl+`.dataset.dialogId`)
	a.take(cust, "customer-sent", m)

	// Delivered: the agent accepts in a console tab without the focus.
	ring := `[data-testid="ring"][data-conversation-id="` + convID + `"]`
	agent.waitJS("the ring", visible(ring))
	agent.setFocused(false)
	agent.do("accept", chromedp.Click(chromedp.CSS(ring+` [data-testid="accept"]`)))
	agent.waitJS("the conversation open in the console", `(() => {
		const h = document.querySelector('[data-testid="pane-header"]');
		return !!h && h.dataset.conversationId === `+jsString(convID)+` && !!`+consoleMessage("consumer", first)+`;
	})()`)
	cust.waitJS("the agent joined", `!!document.querySelector('#agent-name strong')`)
	m = expectMark(cust, "two grey ticks", firstEl, "receipt", "accepted", "✓✓", false)
	a.take(cust, "customer-delivered", m)

	// Read: the console gets the focus.
	agent.setFocused(true)
	m = expectMark(cust, "two orange ticks", firstEl, "receipt", "read", "✓✓", true)
	a.take(cust, "customer-read", m)

	// Agent typing: the customer's window loses the focus (so that the
	// answer is delivered, not read), the agent types.
	cust.setFocused(false)
	const answer = "Hello! Let me look at order 4711 for you."
	agent.do("type the answer", chromedp.SendKeys(chromedp.CSS(`[data-testid="agent-composer"]`), answer))
	cust.waitJS("the agent typing", visible(`[data-testid="agent-typing"]`))
	a.take(cust, "customer-agent-typing", mark{State: "agent-typing visible"})

	// V: the answer is sent while the customer's upstream is stalled.
	proxy.Stall()
	agent.do("send the answer", chromedp.Click(chromedp.CSS(`[data-testid="agent-send"]`)))
	answerEl := consoleMessage("agent", answer)
	m = expectMark(agent, "one grey V", answerEl, "v", "sent", "✓", false)
	a.take(agent, "agent-sent", m)

	// VV: the window receives it, unfocused.
	proxy.Unstall()
	cust.waitJS("the answer in the window", `!!`+agentMessage(answer))
	m = expectMark(agent, "two grey V", answerEl, "v", "accepted", "✓✓", false)
	a.take(agent, "agent-delivered", m)

	// Orange VV: the window gets the focus.
	cust.setFocused(true)
	m = expectMark(agent, "two orange V", answerEl, "v", "read", "✓✓", true)
	a.take(agent, "agent-read", m)

	// Sending: the customer's publish is in flight on a stalled socket.
	// The text is submitted without typing (no COMPOSING), so that the
	// publish is the only request of the session in flight; the READ just
	// published has been answered by then.
	time.Sleep(time.Second)
	proxy.Stall()
	const second = "Could you send it to my office instead?"
	eval[bool](cust, `(() => {
		const c = document.querySelector(`+jsString(composer)+`);
		c.value = `+jsString(second)+`;
		c.form.requestSubmit();
		return true;
	})()`)
	secondEl := consumerMessage(second)
	expectMark(cust, "a clock", secondEl, "receipt", "pending", "◷", false)
	waitHeld(t, proxy)
	time.Sleep(300 * time.Millisecond) // the publish, written, has no answer
	m = expectMark(cust, "still a clock", secondEl, "receipt", "pending", "◷", false)
	a.take(cust, "customer-sending", m)

	// Not failed: the socket dies with the publish in flight. The message
	// keeps its clock; after the reconnect's catch-up shows it did not
	// land, it goes out again, once, and is read by the focused console.
	proxy.CutAll()
	proxy.Unstall()
	cust.waitConnected()
	expectMark(cust, "the message sent again and read", secondEl, "receipt", "read", "✓✓", true)
	agent.waitJS("the message in the console", `!!`+consoleMessage("consumer", second))
	if n := eval[int](cust, `[...document.querySelectorAll('[data-testid="message"][data-from="consumer"]')].filter(e => e.querySelector(".message-text").textContent === `+jsString(second)+`).length`); n != 1 {
		t.Fatalf("the message is in the window %d times, want once", n)
	}
	const done = "Done: it will go to your office. Anything else?"
	agent.do("answer again",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="agent-composer"]`), done),
		chromedp.Click(chromedp.CSS(`[data-testid="agent-send"]`)))
	expectMark(agent, "the second answer read", consoleMessage("agent", done), "v", "read", "✓✓", true)

	// Failed: the service refuses the message for good. The agent closes
	// the conversation while the customer's last words are on their way
	// (the window's upstream stalled): the publish arrives after the close
	// (409) and the message says it was not sent.
	time.Sleep(time.Second)
	proxy.Stall()
	agent.do("close", chromedp.Click(chromedp.CSS(`[data-testid="agent-close"]`)))
	agent.waitJS("closed in the console", visible(`[data-testid="conversation-closed"]`))
	const third = "One more thing: can it come after 5 pm?"
	eval[bool](cust, `(() => {
		const c = document.querySelector(`+jsString(composer)+`);
		c.value = `+jsString(third)+`;
		c.form.requestSubmit();
		return true;
	})()`)
	thirdEl := consumerMessage(third)
	expectMark(cust, "a clock", thirdEl, "receipt", "pending", "◷", false)
	waitHeld(t, proxy)
	proxy.Unstall()
	m = expectMark(cust, "not sent", thirdEl, "receipt", "failed", "!", false)
	a.take(cust, "customer-failed", m)

	// Closed: the survey; the message not sent offers no Retry any more.
	cust.waitJS("the survey", visible(`[data-testid="csat"]`)+` && !document.querySelector(`+jsString(composer)+`)`)
	cust.waitJS("no Retry once ended", `!!document.querySelector('[data-testid="retry"]') && !(`+visible(`[data-testid="retry"]`)+`)`)
	a.take(cust, "customer-closed", mark{State: "csat visible, no composer"})

	// Rated.
	cust.do("rate 5",
		chromedp.Click(chromedp.CSS(`[data-testid="csat-5"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="csat-submit"]`)))
	cust.waitJS("the thanks", `document.getElementById("footer").textContent.includes("Thank you for your rating (5 of 5)")`)
	cust.waitJS("a new conversation offered", visible(`[data-testid="new-conversation"]`))
	a.take(cust, "customer-rated", mark{State: "thanks for 5 of 5, new-conversation visible"})

	// Images both ways, in another customer's conversation.
	photos := screenshotTab(t, 480, 720)
	photos.load(chatURL + "/")
	photos.typeAndSend("My lamp arrived with a cracked shade, here is a photo.")
	photos.waitJS("the first message sent", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq]')`)
	conv2 := eval[string](photos, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	ring2 := `[data-testid="ring"][data-conversation-id="` + conv2 + `"]`
	agent.waitJS("the second ring", visible(ring2))
	agent.do("accept the second", chromedp.Click(chromedp.CSS(ring2+` [data-testid="accept"]`)))
	photos.waitJS("the agent joined", `!!document.querySelector('#agent-name strong')`)
	loaded := func(from string) string {
		return `(() => { const i = document.querySelector('[data-testid="message"][data-from="` + from + `"][data-kind="image"] img[data-testid="file-preview"]'); return !!i && i.complete && i.naturalWidth > 0; })()`
	}
	photos.choose(writeFile(t, "cracked-shade.png", testfiles.PNG(320, 200)))
	photos.waitJS("the photo sent", loaded("consumer"))
	agent.waitJS("the photo in the console", loaded("consumer"))
	agent.choose(writeFile(t, "return-label.png", testfiles.PNG(240, 160)))
	agent.waitJS("the agent's picture sent", loaded("agent"))
	photos.waitJS("the agent's picture in the window", loaded("agent"))
	a.take(photos, "customer-images", mark{State: "both image bubbles (data-kind=image) with their thumbnails loaded"})
	a.take(agent, "agent-images", mark{State: "both picture items with their thumbnails loaded"})

	shootDemoSite(t, a)
	shootHebrew(t, a)
	a.writeIndex()
}

// screenshotTab opens a tab in a fresh browser context (its own cookies),
// with a w×h viewport at twice the pixel density, and focus emulation on.
func screenshotTab(t *testing.T, w, h int64) *tab {
	t.Helper()
	ctx, cancel := context.WithTimeout(env.browser, screenshotLifetime)
	ctx, closeTab := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	p := openTab(t, ctx, func() {
		closeTab()
		cancel()
	})
	p.do("viewport", chromedp.EmulateViewport(w, h, chromedp.EmulateScale(2)))
	p.focusEmulation()
	return p
}

// consumerMessage is the JavaScript expression of the customer's bubble
// with this text in the window.
func consumerMessage(text string) string {
	return `[...document.querySelectorAll('[data-testid="message"][data-from="consumer"]')].find(e => e.querySelector(".message-text").textContent === ` + jsString(text) + `)`
}

// agentMessage is the agent's bubble with this text in the window.
func agentMessage(text string) string {
	return `[...document.querySelectorAll('[data-testid="message"][data-from="agent"]')].find(e => e.querySelector(".message-text").textContent === ` + jsString(text) + `)`
}

// mark is what a message's receipt marks show: its state attribute, the
// marks and their computed colour.
type mark struct{ State, Marks, Color string }

// expectMark waits until the message el (a JavaScript expression) has
// data-<attr> = state, then requires its marks to be marks, orange or not
// orange; it returns what it saw.
func expectMark(p *tab, what, el, attr, state, marks string, isOrange bool) mark {
	p.t.Helper()
	p.waitJS(what, `(() => { const el = `+el+`; return !!el && el.dataset.`+attr+` === `+jsString(state)+`; })()`)
	m := eval[mark](p, `(() => {
		const el = `+el+`, t = el.querySelector('[data-testid="ticks"]');
		return {State: el.dataset.`+attr+` || "", Marks: t ? t.querySelector('[aria-hidden]').textContent.trim() : "", Color: t ? getComputedStyle(t).color : ""};
	})()`)
	orange := readInWindow
	if attr == "v" { // the console's V marks
		orange = readInConsole
	}
	if m.State != state || m.Marks != marks || (m.Color == orange) != isOrange {
		colour := "not " + orange
		if isOrange {
			colour = orange
		}
		p.t.Fatalf("%s: the message shows %+v, want state %q, marks %q in %s", what, m, state, marks, colour)
	}
	return m
}

// waitHeld waits until the stalled proxy holds bytes: the publish was
// written to the socket and is in flight.
func waitHeld(t *testing.T, p *faultproxy.Proxy) {
	t.Helper()
	deadline := time.Now().Add(actionTimeout)
	for p.Held() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stalled proxy holds nothing: the publish was not written")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// album writes the pictures and the index page into dir.
type album struct {
	t     *testing.T
	dir   string
	taken map[string]mark
}

// newAlbum makes dir and removes the pictures and index of an earlier run
// there, so that a failed run does not leave old pictures looking current.
func newAlbum(t *testing.T, dir string) *album {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	old, err := filepath.Glob(filepath.Join(dir, "[0-9][0-9]-*.png"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(old, filepath.Join(dir, "index.html")) {
		if err := os.Remove(f); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
	}
	return &album{t: t, dir: dir, taken: map[string]mark{}}
}

func (a *album) file(key string) string {
	for i, s := range screenshotStates {
		if s.key == key {
			return fmt.Sprintf("%02d-%s.png", i+1, key)
		}
	}
	a.t.Fatalf("no screenshot state %q", key)
	return ""
}

// take writes p's viewport as the picture of key; checked is what the run
// verified in the page just before.
func (a *album) take(p *tab, key string, checked mark) {
	a.t.Helper()
	name := a.file(key)
	png, err := chromedp.Run(p.bounded(), chromedp.CaptureScreenshot())
	if err != nil {
		a.t.Fatalf("screenshot %s: %v", key, err)
	}
	if err := os.WriteFile(filepath.Join(a.dir, name), png, 0o644); err != nil {
		a.t.Fatal(err)
	}
	a.taken[key] = checked
}

var indexPage = template.Must(template.New("index").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>chatwindow: receipt states</title>
<style>
body { font-family: system-ui, sans-serif; margin: 24px; color: #1d2330; background: #f4f5f7; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 32px; }
.shots { display: flex; flex-wrap: wrap; gap: 24px; }
figure { margin: 0; background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: 12px; }
figure img { display: block; border: 1px solid #dde1e8; }
.customer img { width: 480px; } .agent img, .site img { width: 1000px; max-width: calc(100vw - 90px); }
figcaption { max-width: 480px; margin-top: 8px; font-size: .9rem; line-height: 1.4; }
.agent figcaption, .site figcaption { max-width: 1000px; }
figcaption strong { display: block; font-size: 1rem; }
code { font-size: .8rem; color: #5d6573; }
</style>
</head>
<body>
<h1>chatwindow: receipt states</h1>
<p>Taken by <code>make screenshots</code> on {{.When}}: a scripted conversation in headless Chromium between the chat window and the agent console. Each state was checked in the page before its picture was taken (the line under each caption).</p>
{{range .Sides}}
<h2>{{.Title}}</h2>
<div class="shots">
{{range .Shots}}<figure class="{{.Side}}">
<a href="{{.File}}"><img src="{{.File}}" alt="{{.Title}}: {{.Caption}}"></a>
<figcaption><strong>{{.Title}}</strong>{{.Caption}}<br><code>checked: {{.Checked}}</code></figcaption>
</figure>
{{end}}</div>
{{end}}
</body>
</html>
`))

// writeIndex writes index.html: every picture with its caption and what
// was checked, customer's side first.
func (a *album) writeIndex() {
	a.t.Helper()
	type shot struct{ Side, File, Title, Caption, Checked string }
	type side struct {
		Title string
		Shots []shot
	}
	sides := []side{{Title: "The customer's window"}, {Title: "The agent console"}, {Title: "On a brand's site"}}
	for _, s := range screenshotStates {
		m, ok := a.taken[s.key]
		if !ok {
			a.t.Fatalf("no picture of %s was taken", s.key)
		}
		checked := m.State
		if m.Marks != "" {
			checked = fmt.Sprintf("data-%s=%q, marks %q, colour %s", map[string]string{"customer": "receipt", "agent": "v"}[s.side], m.State, m.Marks, m.Color)
		}
		i := map[string]int{"customer": 0, "agent": 1, "site": 2}[s.side]
		sides[i].Shots = append(sides[i].Shots, shot{Side: s.side, File: a.file(s.key), Title: s.title, Caption: s.caption, Checked: checked})
	}
	var b bytes.Buffer
	if err := indexPage.Execute(&b, map[string]any{"When": time.Now().UTC().Format("2006-01-02 15:04 UTC"), "Sides": sides}); err != nil {
		a.t.Fatal(err)
	}
	path := filepath.Join(a.dir, "index.html")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		a.t.Fatal(err)
	}
	a.t.Logf("%d screenshots and %s written", len(a.taken), path)
}
