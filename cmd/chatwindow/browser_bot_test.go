package main

import (
	"testing"

	"github.com/chatwindow/chatwindow/internal/demobot"
)

// TestBrowserDemoBot is `make run`'s demo, in Chromium: the bot takes the
// ring nobody took, greets with quick replies, reads the customer's message
// (orange ticks), a quick reply gets its answer, and "card" gets a card
// whose image is the window's own. It runs its own program (the
// package's shared one has no bot, so that other tests get every ring).
func TestBrowserDemoBot(t *testing.T) {
	needBrowser(t)
	own := ownProgram(t, "-bot-delay", "100ms")

	p := newCustomer(t)
	p.focusEmulation()
	p.load(own.chatURL + "/")
	p.typeAndSend("hello")
	p.waitJS("the bot's greeting", agentSays(demobot.GreetingText))
	p.waitJS("quick replies under it", `!!document.querySelector('[data-testid="quick-replies"] [data-testid="quick-reply"]')`)
	p.waitJS("the bot read the customer's message: orange ticks", `(() => {
		const m = document.querySelector('[data-testid="message"][data-from="consumer"]');
		if (!m || m.dataset.receipt !== "read") return false;
		return getComputedStyle(m.querySelector('[data-testid="ticks"]')).color === `+jsString(readInWindow)+`;
	})()`)

	if !eval[bool](p, `(() => {
		const b = [...document.querySelectorAll('[data-testid="quick-reply"]')].find(b => b.textContent.trim() === "Opening hours");
		if (!b) return false;
		b.click();
		return true;
	})()`) {
		t.Fatal("no \"Opening hours\" quick reply to click")
	}
	p.waitJS("the bot's answer to the quick reply", agentSays(demobot.HoursText))
	p.waitJS("the customer's answer shows as their message", `[...document.querySelectorAll('[data-testid="message"][data-from="consumer"]')].some(m => m.textContent.includes("hours"))`)

	p.typeAndSend("card")
	p.waitJS("a card whose image loaded from the window's own origin", `(() => {
		const img = document.querySelector('[data-testid="card"] [data-testid="card-image"]');
		return !!img && img.complete && img.naturalWidth > 0 && new URL(img.src).origin === location.origin;
	})()`)
}

// agentSays is a script that is true once an agent bubble holds text.
func agentSays(text string) string {
	return `[...document.querySelectorAll('[data-testid="message"][data-from="agent"]')].some(m => m.textContent.includes(` + jsString(text) + `))`
}
