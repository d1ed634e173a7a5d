package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// cookieNames lists the names of the cookies the tab's browser holds for
// the window.
func (p *tab) cookieNames() []string {
	p.t.Helper()
	return p.cookieNamesAt(env.chatURL)
}

// cookieNamesAt lists the names of the cookies the tab's browser holds for
// the window at chatURL.
func (p *tab) cookieNamesAt(chatURL string) []string {
	p.t.Helper()
	var names []string
	p.do("read the cookies", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		res, err := cdp.Call(ctx, t, network.GetCookies, network.GetCookiesParams{URLs: []string{chatURL + "/"}})
		if err != nil {
			return err
		}
		for _, c := range res.Cookies {
			names = append(names, c.Name)
		}
		return nil
	}))
	return names
}

// TestBrowserFirstMessageStarts: a visitor who only looks costs nothing at
// the messaging service: the page load sets no cookie and opens no socket.
// Their first message asks for the identity, opens the socket, and is
// sent once, with its tick. "End it and forget me" closes the
// conversation, and the window answers fresh, as for a new visitor.
func TestBrowserFirstMessageStarts(t *testing.T) {
	needBrowser(t)
	p := newCustomer(t)
	p.open()
	if names := p.cookieNames(); len(names) != 0 {
		t.Fatalf("the page load set cookies %v", names)
	}
	if eval[bool](p, `document.querySelector('main').hasAttribute("ws-connect")`) {
		t.Fatal("the anonymous page has a socket")
	}
	p.typeAndSend("My first words")
	p.waitJS("the first message sent, with its sequence", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq]')`)
	convID := eval[string](p, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	t.Cleanup(func() { env.agent.closeConversation(t, convID) })
	if names := p.cookieNames(); !strings.Contains(strings.Join(names, ","), "chatwindow") {
		t.Errorf("no session cookie after the first message: %v", names)
	}
	p.waitJS("the banner connected", `document.querySelector('[data-testid="connection"]').dataset.state === "open"`)
	n := 0
	for _, e := range env.agent.history(t, convID) {
		if e.Event.Type == protocol.EventContent && e.Event.Message == "My first words" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the service has the first message %d times, want 1", n)
	}
	env.agent.acceptRing(t, convID)
	p.waitJS("the agent's name", `!!document.querySelector('#agent-name strong')`)

	p.do("end it and forget me",
		chromedp.Click(chromedp.CSS(`[data-testid="close-conversation"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="close-control"] [data-testid="forget-submit"], #close-control [data-testid="forget-submit"]`)))
	p.waitJS("a fresh window", `!!document.querySelector('main[data-start]:not([ws-connect])') && !document.querySelector('[data-testid="message"]')`)
	if names := p.cookieNames(); len(names) != 0 {
		t.Errorf("cookies after forget: %v", names)
	}
	env.agent.waitFor(t, "the conversation closed", func(ups []messaging.Update) bool {
		for _, u := range ups {
			if c, ok := u.(messaging.ConversationUpdate); ok && c.Change.Result.ConvID == convID && c.Change.Result.ConversationDetails.State == protocol.StateClose {
				return true
			}
		}
		return false
	})
}
