package main

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserConsoleDecline: the console's Decline takes a ring off the
// list and the conversation does not become the agent's; the customer's
// window still waits for an agent.
func TestBrowserConsoleDecline(t *testing.T) {
	agent := openConsole(t)
	cust := newCustomer(t)
	cust.open()
	cust.typeAndSend("Is this the right queue?")
	cust.waitJS("the first message sent", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq][data-dialog-id]')`)
	convID := eval[string](cust, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)

	ring := `[data-testid="ring"][data-conversation-id="` + convID + `"]`
	agent.waitJS("the ring", visible(ring))
	agent.do("decline", chromedp.Click(chromedp.CSS(ring+` [data-testid="decline"]`)))
	agent.waitJS("the ring gone", `!document.querySelector(`+jsString(ring)+`)`)
	if eval[bool](agent, `!!document.querySelector('[data-testid="conversation"][data-conversation-id=`+jsString(convID)+`]')`) {
		t.Error("a declined conversation is in the agent's list")
	}
	if eval[bool](cust, `!!document.querySelector('#agent-name strong')`) {
		t.Error("the customer's window names an agent after the only one declined")
	}
	// Nobody may take it now: the customer ends it.
	cust.do("end the conversation",
		chromedp.Click(chromedp.CSS(`[data-testid="close-conversation"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="confirm-close"]`)))
	cust.waitJS("the conversation ended", visible(`.closed-note`))
}
