package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// customerProfile is the SetUserProfile the customer sends before asking
// for a conversation, as the Connector API's example does: Customer Info
// and Personal Info SDEs (Engagement Attributes), with markup and a
// direction override in two of its texts.
const customerProfile = `{"authenticatedData":{"lp_sdes":[
	{"type":"ctmrinfo","info":{"ctype":"vip","socialId":"1234567890","balance":-400.99,"currency":"USD",
		"userName":"<img src=x onerror=alert(1)>","role":"broker\u202Egnp.exe",
		"lastPaymentDate":{"day":15,"month":10,"year":2014}}},
	{"type":"personal","personal":{"firstname":"John","lastname":"Doe","gender":"MALE",
		"contacts":[{"email":"john@example.com","phone":"+1 212-788-8877"}]}}]}}`

// tutorialCustomer plays LivePerson's Authentication tutorial against the
// service at base: the brand's sample token is exchanged at authenticate
// (Step 2), the consumer's socket opens with the answer's token (Step 3),
// and the customer sends its details and asks for a conversation. It
// returns the conversation's id; the socket closes when the test ends.
func tutorialCustomer(t *testing.T, base string) string {
	t.Helper()
	ext, err := os.ReadFile(lpTutorial + "ext_jwt.txt")
	if err != nil {
		t.Fatal(err)
	}
	code, jwt := postToken(t, base+protocol.Path(protocol.PathAuthenticate, tutorialAccount), `{"authCode":"`+strings.TrimSpace(string(ext))+`"}`, "jwt")
	if code != http.StatusOK || jwt == "" {
		t.Fatalf("authenticate with the tutorial's sample token: %d", code)
	}
	ctx, cancel := context.WithTimeout(t.Context(), actionTimeout)
	defer cancel()
	hc := &http.Client{Timeout: actionTimeout}
	ep, err := messaging.Discover(ctx, hc, base, tutorialAccount, messaging.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := messaging.Dial(ctx, ep.ConsumerURL(), messaging.DialOptions{Token: jwt, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Request(ctx, protocol.TypeSetUserProfile, json.RawMessage(customerProfile), nil); err != nil {
		t.Fatalf("SetUserProfile: %v", err)
	}
	var resp protocol.RequestConversationResponse
	if err := c.Request(ctx, protocol.TypeConsumerRequestConversation, protocol.ConsumerRequestConversation{}, &resp); err != nil || resp.ConversationID == "" {
		t.Fatalf("ConsumerRequestConversation: %v (%+v)", err, resp)
	}
	if err := c.Request(ctx, protocol.TypePublishEvent, protocol.PublishEvent{DialogID: resp.ConversationID, ConversationID: resp.ConversationID,
		Event: protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "Hi, I signed in on your site."}}, nil); err != nil {
		t.Fatalf("PublishEvent: %v", err)
	}
	return resp.ConversationID
}

// TestBrowserConsoleCustomer: LivePerson's Authentication tutorial, with
// its published key and sample token, against `chatwindow simulate
// -auth-key`; the customer also sends its Customer Info and Personal Info
// SDEs. The agent accepts the conversation in the console (Chromium), and
// the Customer panel shows the customer authenticated, the brand's sub and
// issuer, and the SDEs as the customer gave them: dates as dates, markup
// as text, no direction override; axe finds nothing serious in it.
func TestBrowserConsoleCustomer(t *testing.T) {
	out, _ := startRun(t, "simulate", "-addr", "127.0.0.1:0", "-account", tutorialAccount,
		"-auth-key", lpTutorial+"brand_public_key.pem", "-agent", "alice:secret")
	base := out.wait(t, listening, 15*time.Second)
	consoleURL := out.wait(t, regexp.MustCompile(`agent console on (\S+)`), 5*time.Second)
	// A fresh browser context, for the console. Made after the service:
	// cleanups run last in, first out, so the page's console is read
	// before the service stops (its socket would then retry, refused).
	agent := newCustomer(t)

	agent.focusEmulation()
	agent.do("load the agent console", chromedp.Navigate(consoleURL))
	agent.do("sign in",
		chromedp.SendKeys(chromedp.CSS(`[data-testid="agent-name"]`), "alice"),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="agent-password"]`), "secret"),
		chromedp.Click(chromedp.CSS(`[data-testid="agent-sign-in"]`)))
	agent.waitJS("the desk connected", `(() => {
		const c = document.querySelector('[data-testid="connection"]');
		return !!c && c.dataset.state === "open" && typeof htmx !== "undefined";
	})()`)
	if eval[bool](agent, visible(`[data-testid="customer"]`)) {
		t.Error("the Customer panel shows with no conversation selected")
	}

	convID := tutorialCustomer(t, base)
	ring := `[data-testid="ring"][data-conversation-id="` + convID + `"]`
	agent.waitJS("the ring", visible(ring))
	agent.do("accept", chromedp.Click(chromedp.CSS(ring+` [data-testid="accept"]`)))
	panel := `[data-testid="customer"][data-conversation-id="` + convID + `"]`
	agent.waitJS("the customer's details", visible(panel+`[data-state="loaded"]`))

	field := func(section, name string) string {
		return panel + ` ` + section + ` dd[data-field="` + name + `"]`
	}
	ownInfo := `[data-testid="customer-section"][data-type="ctmrinfo"][data-source="customer"]`
	ownPersonal := `[data-testid="customer-section"][data-type="personal"][data-source="customer"]`
	for _, c := range []struct{ selector, want string }{
		{`#pane-header h2`, "John Doe"},
		{panel + ` [data-testid="customer-auth"][data-authenticated="true"]`, "Authenticated (loa1)"},
		{field("", "sub"), "+972-3-5555-555"},
		{field("", "iss"), "https://idp.liveperson.net"},
		{field(ownInfo, "ctype"), "vip"},
		{field(ownInfo, "socialId"), "1234567890"},
		{field(ownInfo, "balance"), "-400.99 USD"},
		{field(ownInfo, "userName"), "<img src=x onerror=alert(1)>"},
		{field(ownInfo, "role"), "brokergnp.exe"},
		{field(ownInfo, "lastPaymentDate") + ` time[datetime="2014-10-15"]`, "15 Oct 2014"},
		{field(ownPersonal, "firstname"), "John"},
		{field(ownPersonal, "lastname"), "Doe"},
		{field(ownPersonal, "gender"), "Male"},
		{field(ownPersonal, "contacts.email"), "john@example.com"},
		{field(ownPersonal, "contacts.phone"), "+1 212-788-8877"},
	} {
		if !eval[bool](agent, textIs(c.selector, c.want)) {
			got := eval[string](agent, `(document.querySelector(`+jsString(c.selector)+`) || {textContent: "(missing)"}).textContent`)
			t.Errorf("%s shows %q, want %q", c.selector, got, c.want)
		}
	}
	if n := eval[int](agent, `document.querySelectorAll(`+jsString(panel+` img, `+panel+` script`)+`).length`); n != 0 {
		t.Errorf("the customer's markup made %d elements in the panel", n)
	}
	if eval[bool](agent, `!!document.querySelector(`+jsString(panel+` [data-source="brand"]`)+`)`) {
		t.Error("a section says the brand vouched for details the customer sent itself")
	}

	// CHATWINDOW_CUSTOMER_SCREENSHOT=/abs/path.png leaves a picture of the
	// console with the panel (for the docs).
	if path := os.Getenv("CHATWINDOW_CUSTOMER_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(agent.bounded(), chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("axe", func(t *testing.T) {
		src := loadAxe(t)
		agent.use(t)
		agent.axeScan(src)
	})
}
