package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The agent console in the browser, against the customer's window in
// another browser context: the console signs in as the embedded service's
// agent "agent" (the same account the test agent of TestMain plays, which
// is fine: the service rings every socket of an ONLINE agent, and the test
// agent only ever accepts the rings of the conversations its own tests
// started).

// openConsole opens the agent console in a fresh browser context (its own
// cookies), focused, and signs in as agent "agent".
func openConsole(t *testing.T) *tab {
	t.Helper()
	p := newCustomer(t)
	p.focusEmulation()
	p.do("load the agent console", chromedp.Navigate(env.consoleURL))
	p.do("sign in",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="agent-name"]`), "agent"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="agent-password"]`), env.agentPassword),
		chromedp.Click(chromedp.CSS(`[data-testid="agent-sign-in"]`)))
	p.waitJS("the desk connected", `(() => {
		const c = document.querySelector('[data-testid="connection"]');
		return !!document.querySelector('[data-testid="console"]') && !!c && c.dataset.state === "open" && typeof htmx !== "undefined";
	})()`)
	return p
}

// consoleMessage is the JavaScript expression of the console's bubble
// with this text from whom.
func consoleMessage(from, text string) string {
	return `[...document.querySelectorAll('[data-testid="message"][data-from="` + from + `"]')].find(e => e.querySelector(".message-text").textContent === ` + jsString(text) + `)`
}

func TestBrowserAgentConsoleSignInRefused(t *testing.T) {
	p := newCustomer(t)
	p.do("load the agent console", chromedp.Navigate(env.consoleURL))
	p.do("sign in with a wrong password",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="agent-name"]`), "agent"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="agent-password"]`), "not-"+env.agentPassword),
		chromedp.Click(chromedp.CSS(`[data-testid="agent-sign-in"]`)))
	p.waitJS("the refusal", visible(`[data-testid="sign-in-error"]`))
	if n := eval[int](p, `document.querySelectorAll('[data-testid="console"]').length`); n != 0 {
		t.Error("a wrong password opened the desk")
	}
}

// TestBrowserAgentConsole: the whole agent side through the console: the
// customer's first message rings, the agent accepts, reads (the
// customer's ticks go read), answers with V marks that follow the
// customer's receipts (one grey V, two, two orange), sees the customer
// typing and unread messages, and closes the conversation.
func TestBrowserAgentConsole(t *testing.T) {
	agent := openConsole(t)

	cust := newCustomer(t)
	cust.open()
	cust.typeAndSend("Hello, is anyone there?")
	cust.waitJS("the first message sent", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq][data-dialog-id]')`)
	convID := eval[string](cust, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	t.Cleanup(func() { env.agent.closeConversation(t, convID) })
	mineInWindow := `document.querySelector('[data-testid="message"][data-from="consumer"]')`

	// The ring, accepted from the console (the demo bot waits 3 s first).
	ring := `[data-testid="ring"][data-conversation-id="` + convID + `"]`
	agent.waitJS("the ring", visible(ring))
	agent.do("accept", chromedp.Click(chromedp.CSS(ring+` [data-testid="accept"]`)))
	agent.waitJS("the conversation open in the console", `(() => {
		const h = document.querySelector('[data-testid="pane-header"]');
		return !!h && h.dataset.conversationId === `+jsString(convID)+` && !!`+consoleMessage("consumer", "Hello, is anyone there?")+`;
	})()`)
	agent.waitJS("the ring gone", `!document.querySelector(`+jsString(ring)+`)`)
	cust.waitJS("the agent joined", `!!document.querySelector('#agent-name strong')`)

	// The customer's message is in view of the focused console: READ.
	cust.waitJS("the customer's ticks read", mineInWindow+`.dataset.receipt === "read"`)

	// The agent answers; record every V state the bubble goes through,
	// with its marks and colour at that moment.
	const answer = "Yes! How can I help you today?"
	eval[bool](agent, `(() => {
		window.__v = [];
		const note = () => {
			const el = `+consoleMessage("agent", answer)+`;
			if (!el) return;
			const v = el.dataset.v, last = window.__v[window.__v.length - 1];
			if (!v || (last && last.v === v)) return;
			const ticks = el.querySelector('[data-testid="ticks"]');
			window.__v.push({v, marks: ticks.querySelector('[aria-hidden]').textContent.trim(), color: getComputedStyle(ticks).color});
		};
		new MutationObserver(note).observe(document.getElementById("messages"), {subtree: true, childList: true, attributes: true});
		return true;
	})()`)
	agent.do("type and send the answer",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="agent-composer"]`), answer),
		chromedp.Click(chromedp.CSS(`[data-testid="agent-send"]`)))
	answerInWindow := `[...document.querySelectorAll('[data-testid="message"][data-from="agent"]')].find(e => e.querySelector(".message-text").textContent === ` + jsString(answer) + `)`
	// The customer's window is not focused: delivered, not read.
	cust.waitJS("the answer in the window", `!!`+answerInWindow)
	agent.waitJS("two V: delivered", consoleMessage("agent", answer)+`.dataset.v === "accepted"`)
	if c := eval[string](agent, `getComputedStyle(`+consoleMessage("agent", answer)+`.querySelector('[data-testid="ticks"]')).color`); c == readInConsole {
		t.Error("the V marks are orange before the customer read the answer")
	}
	cust.focusEmulation()
	cust.setFocused(true)
	agent.waitJS("both V orange: read", consoleMessage("agent", answer)+`.dataset.v === "read"`)
	if c := eval[string](agent, `getComputedStyle(`+consoleMessage("agent", answer)+`.querySelector('[data-testid="ticks"]')).color`); c != readInConsole {
		t.Errorf("read V marks are %s, want orange %s", c, readInConsole)
	}
	times := eval[string](agent, consoleMessage("agent", answer)+`.querySelector('[data-testid="v-times"]').textContent`)
	for _, want := range []string{"Sent", "Delivered", "Read"} {
		if !strings.Contains(times, want) {
			t.Errorf("the V times say %q, want %s with its time", times, want)
		}
	}
	type vState struct{ V, Marks, Color string }
	states := eval[[]vState](agent, `window.__v`)
	var seen []string
	for _, s := range states {
		seen = append(seen, s.V)
		switch s.V {
		case "sent":
			if s.Marks != "✓" || s.Color == readInConsole {
				t.Errorf("sent shows %q in %s, want one grey V", s.Marks, s.Color)
			}
		case "accepted":
			if s.Marks != "✓✓" || s.Color == readInConsole {
				t.Errorf("delivered shows %q in %s, want two grey V", s.Marks, s.Color)
			}
		case "read":
			if s.Marks != "✓✓" || s.Color != readInConsole {
				t.Errorf("read shows %q in %s, want two orange V", s.Marks, s.Color)
			}
		}
	}
	if got := strings.Join(seen, " "); got != "pending sent accepted read" && got != "sent accepted read" {
		t.Errorf("the answer's V went %q, want (pending) sent accepted read", got)
	}

	// The customer typing shows in the console.
	cust.do("type without sending", chromedp.SendKeys(chromedp.CSS(composer), "One more"))
	agent.waitJS("the customer typing", visible(`[data-testid="consumer-typing"]`))

	// A message that arrives while the console is not focused is unread
	// (delivered only) until the agent looks.
	agent.setFocused(false)
	eval[bool](cust, `(() => { document.querySelector(`+jsString(composer)+`).value = ""; return true; })()`)
	cust.typeAndSend("Where is my parcel?")
	agent.waitJS("one unread", `document.querySelector('[data-testid="conversation"][data-conversation-id=`+jsString(convID)+`]').dataset.unread === "1"`)
	second := `[...document.querySelectorAll('[data-testid="message"][data-from="consumer"]')].find(e => e.querySelector(".message-text").textContent === "Where is my parcel?")`
	cust.waitJS("the second message delivered", second+`.dataset.receipt === "accepted"`)
	agent.setFocused(true)
	cust.waitJS("the second message read", second+`.dataset.receipt === "read"`)
	agent.waitJS("nothing unread", `document.querySelector('[data-testid="conversation"][data-conversation-id=`+jsString(convID)+`]').dataset.unread === "0"`)

	// CHATWINDOW_CONSOLE_SCREENSHOT=/abs/path.png leaves a picture of the
	// desk mid-conversation (for the docs).
	if path := os.Getenv("CHATWINDOW_CONSOLE_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(agent.bounded(), chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The agent closes the conversation.
	agent.do("close", chromedp.Click(chromedp.CSS(`[data-testid="agent-close"]`)))
	agent.waitJS("closed in the console", visible(`[data-testid="conversation-closed"]`)+` && !document.querySelector('[data-testid="agent-composer"]')`)
	cust.waitJS("closed in the window", visible(`[data-testid="csat"]`))
}

// TestBrowserAgentConsoleSignOut: signing out ends the desk; the page goes
// back to the sign-in form.
func TestBrowserAgentConsoleSignOut(t *testing.T) {
	agent := openConsole(t)
	agent.do("sign out", chromedp.Click(chromedp.CSS(`[data-testid="agent-sign-out"]`)))
	agent.waitJS("the sign-in form", visible(`[data-testid="agent-sign-in"]`))
	ctx, cancel := context.WithTimeout(agent.ctx, actionTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(env.consoleURL)); err != nil {
		t.Fatal(err)
	}
	agent.waitJS("still signed out after a reload", visible(`[data-testid="agent-sign-in"]`))
}

// TestSimulateServesAgentConsole: `chatwindow simulate` over TLS prints the
// console's address, and an agent signs in there: the console's own
// messaging client reaches the service through its certificate.
func TestSimulateServesAgentConsole(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	out, _ := startRun(t, "simulate", "-addr", "127.0.0.1:0", "-agent", "alice:secret", "-tls-cert", cert, "-tls-key", filepath.Join(dir, "key.pem"))
	consoleURL := out.wait(t, regexp.MustCompile(`agent console on (\S+)`), 15*time.Second)
	if !strings.HasPrefix(consoleURL, "https://127.0.0.1:") || !strings.HasSuffix(consoleURL, "/agent/") {
		t.Fatalf("console URL %q, want https on loopback under /agent/", consoleURL)
	}
	pemBytes, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Jar: jar, Timeout: actionTimeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	page := func(resp *http.Response, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %s", resp.Request.Method, resp.Request.URL, resp.Status)
		}
		return string(b)
	}
	form := page(hc.Get(consoleURL))
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(form)
	if m == nil {
		t.Fatalf("no CSRF token in the sign-in page:\n%s", form)
	}
	desk := page(hc.PostForm(consoleURL+"sign-in", url.Values{"csrf": {m[1]}, "name": {"alice"}, "password": {"secret"}}))
	if !strings.Contains(desk, `data-testid="console"`) || !strings.Contains(desk, "alice") {
		t.Errorf("signing in did not show alice's desk:\n%s", desk)
	}
}
