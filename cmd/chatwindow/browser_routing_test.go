package main

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// textIs is the JavaScript test of the element's text being text (spaces
// collapsed).
func textIs(selector, text string) string {
	return `(() => {
		const el = document.querySelector(` + jsString(selector) + `);
		return !!el && el.textContent.replace(/\s+/g, " ").trim() === ` + jsString(text) + `;
	})()`
}

// TestBrowserTransfer: the waiting customer reads how soon an agent
// usually answers (the metadata's ttr); when the agent transfers the
// conversation to another skill, the agent's name goes, a line says the
// agent left, and "transferring you" shows, with the waiting text again.
func TestBrowserTransfer(t *testing.T) {
	cust := newCustomer(t)
	cust.open()
	cust.typeAndSend("I have a question about my bill")
	cust.waitJS("the message in its conversation", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq][data-dialog-id]')`)
	convID := eval[string](cust, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	t.Cleanup(func() {
		// Taken back (nobody has the skill it went to) and closed, so that
		// the next test's customer rings anew.
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		defer cancel()
		if err := env.agent.Join(ctx, convID, protocol.RoleAssignedAgent); err != nil {
			t.Logf("agent: join %s again: %v", convID, err)
		}
		env.agent.closeConversation(t, convID)
	})
	cust.waitJS("the waiting text", textIs(`[data-testid="queue-wait"]`, "An agent usually answers within 1 hour."))

	env.agent.acceptRing(t, convID)
	cust.waitJS("the agent's name", `!!document.querySelector('#agent-name strong') && !document.querySelector('[data-testid="queue-wait"]')`)

	ctx, cancel := context.WithTimeout(t.Context(), actionTimeout)
	defer cancel()
	if err := env.agent.TransferToSkill(ctx, convID, "3000"); err != nil {
		t.Fatalf("transfer: %v", err)
	}
	cust.waitJS("the agent left, and the transfer", `!document.querySelector('#agent-name strong') && `+
		textIs(`[data-testid="agent-left"]`, "agent left the conversation.")+` && `+visible(`[data-testid="transferring"]`))
	cust.waitJS("the waiting text again", textIs(`[data-testid="queue-wait"]`, "An agent usually answers within 1 hour."))
	if got := eval[string](cust, `document.querySelector('[data-testid="transferring"]').textContent`); got != "Transferring you to another agent…" {
		t.Errorf("transfer line %q", got)
	}
}

// TestBrowserConsoleTransfer: from the agent console, the agent puts a
// conversation back to the queue (it leaves the agent's list, the customer
// reads that the agent left, and it rings again) and transfers it to a
// skill picked in the console.
func TestBrowserConsoleTransfer(t *testing.T) {
	agent := openConsole(t)
	cust := newCustomer(t)
	cust.open()
	cust.typeAndSend("Can someone help?")
	cust.waitJS("the message in its conversation", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq][data-dialog-id]')`)
	convID := eval[string](cust, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		defer cancel()
		if err := env.agent.Join(ctx, convID, protocol.RoleAssignedAgent); err != nil {
			t.Logf("agent: join %s again: %v", convID, err)
		}
		env.agent.closeConversation(t, convID)
	})
	ring := `[data-testid="ring"][data-conversation-id="` + convID + `"]`
	accept := func() {
		agent.waitJS("the ring", visible(ring))
		agent.do("accept", chromedp.Click(chromedp.CSS(ring+` [data-testid="accept"]`)))
		agent.waitJS("the conversation open in the console", `(() => {
			const h = document.querySelector('[data-testid="pane-header"]');
			return !!h && h.dataset.conversationId === `+jsString(convID)+`;
		})()`)
		cust.waitJS("the agent joined", `!!document.querySelector('#agent-name strong')`)
	}
	accept()

	agent.do("back to queue", chromedp.Click(chromedp.CSS(`[data-testid="back-to-queue"]`)))
	cust.waitJS("the agent left; the customer waits again", textIs(`[data-testid="agent-left"]`, "agent left the conversation.")+
		` && !document.querySelector('[data-testid="transferring"]') && `+visible(`[data-testid="queue-wait"]`))
	agent.waitJS("gone from the agent's list, ringing again", `!document.querySelector('[data-testid="conversation"][data-conversation-id=`+jsString(convID)+`]')`)
	accept()

	agent.do("transfer to the demo skill",
		chromedp.SetValue(chromedp.CSS(`[data-testid="transfer-skill"]`), demoSkill),
		chromedp.Click(chromedp.CSS(`[data-testid="transfer-submit"]`)))
	agent.waitJS("gone from the agent's list", `!document.querySelector('[data-testid="conversation"][data-conversation-id=`+jsString(convID)+`]')`)
	cust.waitJS("the agent left again", `!document.querySelector('#agent-name strong') && `+visible(`[data-testid="agent-left"]`))
	agent.waitJS("ringing again for the skill's agents", visible(ring))
}
