package main

import (
	"context"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/testing/brand"
)

// The window's identity modes in Chromium (docs/protocol.md, Identity),
// each on a service whose consumer tokens live a few seconds, so that the
// socket of an open conversation is closed for an expired token (4401 or
// 4407) again and again while the customer and the agent talk.
const shortTokens = "4s"

// renewals counts the sessions' token renewals in the program's log.
func renewals(e *testEnv) int { return strings.Count(e.logs.String(), "token renewed") }

// waitRenewals waits until the program's sessions renewed n tokens.
func waitRenewals(t *testing.T, e *testEnv, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for renewals(e) < n {
		select {
		case <-ctx.Done():
			t.Fatalf("%d token renewals, want %d", renewals(e), n)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// conversation has the customer of p write first, the agent take the
// conversation and answer, the customer see it (and read it); it returns
// the conversation's id and the answer's sequence.
func conversation(t *testing.T, p *tab, agent *agentSide, first, answer string) (string, int64) {
	t.Helper()
	p.typeAndSend(first)
	p.waitJS("the first message sent", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq][data-dialog-id]')`)
	conv := eval[string](p, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	agent.acceptRing(t, conv)
	seq := agent.say(t, conv, answer)
	p.waitJS("the agent's answer", `!!document.querySelector(`+jsString(agentBubble(seq))+`)`)
	agent.waitReceipt(t, conv, read, seq)
	return conv, seq
}

// talkOn has the customer write text and the agent answer it in the same
// conversation: the customer's text reaches the agent in conv once, the
// answer reaches the page and is read.
func talkOn(t *testing.T, p *tab, agent *agentSide, conv, text, answer string) {
	t.Helper()
	p.typeAndSend(text)
	agent.waitFor(t, "the customer's "+jsString(text)+" in the same conversation", func([]messaging.Update) bool {
		return countText(agent.history(t, conv), text) == 1
	})
	seq := agent.say(t, conv, answer)
	p.waitJS("the agent's "+answer, `!!document.querySelector(`+jsString(agentBubble(seq))+`)`)
	agent.waitReceipt(t, conv, read, seq)
}

// countText counts the content events of text.
func countText(evs []protocol.MessagingEvent, text string) int {
	n := 0
	for _, e := range evs {
		if e.Event.Type == protocol.EventContent && e.Event.Message == text {
			n++
		}
	}
	return n
}

// wantThread checks that the page shows texts, each once, in this order,
// and no notice that the conversation was lost.
func wantThread(t *testing.T, p *tab, texts ...string) {
	t.Helper()
	var shown []string
	for _, b := range p.bubbles() {
		shown = append(shown, b.Text)
	}
	i := 0
	for _, s := range shown {
		if i < len(texts) && strings.Contains(s, texts[i]) {
			i++
		} else if i > 0 && strings.Contains(s, texts[i-1]) {
			t.Errorf("%q shown twice in %q", texts[i-1], shown)
		}
	}
	if i < len(texts) {
		t.Errorf("the page shows %q, want %q in order", shown, texts)
	}
	if eval[bool](p, `!!document.getElementById("notice")`) {
		t.Errorf("the page says the conversation was lost: %q", eval[string](p, `document.getElementById("notice").textContent`))
	}
}

// TestBrowserConnectorKeepsConversation: customers of the unauthenticated
// connector. The first message gets the connector's identity; when the
// service closes the open socket because the token expired (4407), the
// window extends the identity with its id_token, as the same consumer:
// after several expiries the conversation goes on, both ways, nothing
// shown twice or lost, and a reload (its cookie now holds the renewed
// identity) shows the same conversation.
func TestBrowserConnectorKeepsConversation(t *testing.T) {
	needBrowser(t)
	own := ownProgram(t, "-bot-delay", "0", "-survey=false", "-identity", "connector", "-token-ttl", shortTokens)
	agent := ownAgent(t, own)
	p := newCustomer(t)
	p.focusEmulation()
	p.load(own.chatURL + "/")
	conv, _ := conversation(t, p, agent, "Connector: before the expiry", "Answer before")
	waitRenewals(t, own, 2)
	talkOn(t, p, agent, conv, "Connector: after the expiry", "Answer after")
	wantThread(t, p, "Connector: before the expiry", "Answer before", "Connector: after the expiry", "Answer after")
	if !strings.Contains(own.logs.String(), "4407") {
		t.Errorf("no 4407 in the program's log")
	}
	p.load(own.chatURL + "/")
	wantThread(t, p, "Connector: before the expiry", "Answer before", "Connector: after the expiry", "Answer after")
	agent.closeConversation(t, conv)
}

// signInWith makes the page of p offer the brand's sign-in function,
// LivePerson's LPJsMethodName, before any script of the page runs: it
// answers code (a brand JWT), or, when code is empty, fails with reason.
// window.__signIns counts its calls.
func (p *tab) signInWith(code, reason string) {
	p.t.Helper()
	src := `window.__signIns = 0;
window.LPJsMethodName = function (callback) {
  window.__signIns++;
  setTimeout(function () { callback(` + jsString(code) + `, ` + jsString(reason) + `); }, 10);
};`
	if _, err := chromedp.Call(p.bounded(), cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: src}); err != nil {
		p.t.Fatalf("add the sign-in function: %v", err)
	}
}

// TestBrowserAuthenticatedKeepsConversation: customers the brand signs in.
// The service verifies brand JWTs with the key of LivePerson's
// Authentication tutorial. A page whose sign-in fails says why and starts
// nothing. A signed-in customer's first message calls the page's function
// once; when the service closes the open socket because the token expired
// (4401), the window asks the page again and the conversation goes on as
// the same consumer. The same customer on another device (another browser
// profile, signed in by the brand with the same sub) is in the same
// conversation, with its history.
func TestBrowserAuthenticatedKeepsConversation(t *testing.T) {
	needBrowser(t)
	own := ownProgram(t, "-bot-delay", "0", "-survey=false", "-identity", "authenticated",
		"-auth-key", brand.Tutorial("brand_public_key.pem"), "-token-ttl", shortTokens)
	agent := ownAgent(t, own)

	refused := newCustomer(t)
	refused.signInWith("", "you closed the sign-in")
	refused.load(own.chatURL + "/")
	refused.typeAndSend("Nobody signed me in")
	refused.waitJS("the sign-in's failure said", `document.querySelector('[data-testid="connection"]').textContent.includes("you closed the sign-in")`)
	if names := refused.cookieNamesAt(own.chatURL); len(names) != 0 {
		t.Errorf("a failed sign-in set cookies %v", names)
	}

	jwt, err := brand.Sign(brand.TutorialKey(), brand.Claims(own.account, "customer-4401", time.Now(), time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	p := newCustomer(t)
	p.focusEmulation()
	p.signInWith(jwt, "")
	p.load(own.chatURL + "/")
	conv, _ := conversation(t, p, agent, "Signed in: before the expiry", "Answer before")
	if n := eval[int](p, `window.__signIns`); n != 1 {
		t.Errorf("the page's sign-in was called %d times for the first message, want 1", n)
	}
	waitRenewals(t, own, 2)
	if n := eval[int](p, `window.__signIns`); n < 3 {
		t.Errorf("the page's sign-in was called %d times after two renewals, want 3 or more", n)
	}
	talkOn(t, p, agent, conv, "Signed in: after the expiry", "Answer after")
	wantThread(t, p, "Signed in: before the expiry", "Answer before", "Signed in: after the expiry", "Answer after")
	if !strings.Contains(own.logs.String(), "4401") {
		t.Errorf("no 4401 in the program's log")
	}
	if strings.Contains(own.logs.String(), jwt) {
		t.Error("the brand's JWT is in the program's log")
	}

	phone := newCustomer(t)
	phone.focusEmulation()
	phone.signInWith(jwt, "")
	phone.load(own.chatURL + "/")
	talkOn(t, phone, agent, conv, "Signed in: from my phone", "Answer to the phone")
	wantThread(t, phone, "Signed in: before the expiry", "Answer before", "Signed in: after the expiry", "Answer after", "Signed in: from my phone", "Answer to the phone")
	p.waitJS("the phone's message on the first device", `[...document.querySelectorAll('[data-testid="message"]')].some(m => m.textContent.includes("Answer to the phone"))`)
	agent.closeConversation(t, conv)
}

// TestBrowserSignupExpiredSaysSo: a demo signup cannot be extended, so
// when the service closes the socket of an open conversation because its
// token expired (4407), the session gets a new consumer, and the window
// says that the conversation could not be kept instead of showing it as
// if nothing happened; the customer can write again.
func TestBrowserSignupExpiredSaysSo(t *testing.T) {
	needBrowser(t)
	own := ownProgram(t, "-bot-delay", "0", "-survey=false", "-token-ttl", shortTokens)
	agent := ownAgent(t, own)
	p := newCustomer(t)
	p.focusEmulation()
	p.load(own.chatURL + "/")
	conv, _ := conversation(t, p, agent, "Signup: before the expiry", "Answer before")
	t.Cleanup(func() { agent.closeConversation(t, conv) })
	p.waitJS("the notice that the conversation could not be kept", `(() => {
		const n = document.getElementById("notice");
		return !!n && n.textContent.includes("could not be kept");
	})()`)
	if eval[bool](p, `[...document.querySelectorAll('[data-testid="message"]')].some(m => m.textContent.includes("Answer before"))`) {
		t.Error("the lost conversation is still shown as if it went on")
	}
	p.waitJS("the composer usable", visible(composer)+` && !document.querySelector(`+jsString(composer)+`).disabled`)
}
