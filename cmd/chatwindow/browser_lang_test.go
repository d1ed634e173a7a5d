package main

import (
	"regexp"
	"testing"
	"time"
)

// TestBrowserHebrew: the window asked for Hebrew (?lang=he, as the
// embedding page passes it) is right to left: <html lang="he" dir="rtl">,
// its strings in Hebrew, the customer's bubble on the left and the
// agent's on the right; the agent's answer arrives in it, and axe finds no
// serious or critical violation.
func TestBrowserHebrew(t *testing.T) {
	needBrowser(t)
	axe := loadAxe(t)
	p := newCustomer(t)
	p.focusEmulation()
	p.load(env.chatURL + "/?lang=he")
	if got := eval[string](p, `document.documentElement.lang + " " + document.documentElement.dir`); got != "he rtl" {
		t.Fatalf("<html lang dir> = %q, want he rtl", got)
	}
	if got := eval[string](p, `document.querySelector('[data-testid="composer"]').placeholder`); got != "כתבו הודעה" {
		t.Errorf("the composer's placeholder = %q", got)
	}
	p.typeAndSend("שלום, אני צריך עזרה")
	p.waitJS("the first message sent", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq][data-dialog-id]')`)
	conv := eval[string](p, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	t.Cleanup(func() { env.agent.closeConversation(t, conv) })
	env.agent.acceptRing(t, conv)
	seq := env.agent.say(t, conv, "Hello! How can I help?")
	p.waitJS("the agent's answer", `!!document.querySelector(`+jsString(agentBubble(seq))+`)`)
	p.waitJS("the header in Hebrew", `document.querySelector('[data-testid="agent"]').textContent.includes("משוחח")`)
	if !eval[bool](p, `(() => {
		const list = document.getElementById("messages").getBoundingClientRect();
		const mine = document.querySelector('[data-testid="message"][data-from="consumer"]').getBoundingClientRect();
		const theirs = document.querySelector(`+jsString(agentBubble(seq))+`).getBoundingClientRect();
		const mid = list.left + list.width / 2;
		return mine.left < mid && theirs.right > mid && mine.left < theirs.left;
	})()`) {
		t.Error("the bubbles are not mirrored: the customer's should be on the left, the agent's on the right")
	}
	p.axeScan(axe)
}

// shootHebrew takes the Hebrew window's picture for make screenshots: a
// run of its own with the demo bot.
func shootHebrew(t *testing.T, a *album) {
	t.Helper()
	run, _ := startRun(t, "-addr", "127.0.0.1:0", "-sim-addr", "127.0.0.1:0", "-bot-delay", "100ms", "-survey=false", "-demo-addr", "off")
	chatURL := run.wait(t, regexp.MustCompile(`chat window on (\S+)`), 15*time.Second)
	p := screenshotTab(t, 480, 720)
	p.load(chatURL + "/?lang=he")
	p.typeAndSend("שלום! אפשר לשנות את כתובת המשלוח?")
	p.waitJS("the demo bot's answer", `document.querySelectorAll('[data-testid="message"][data-from="agent"]').length >= 1`)
	p.waitJS("right to left", `document.documentElement.dir === "rtl"`)
	a.take(p, "customer-hebrew", mark{State: "<html dir=rtl>, Hebrew strings, the customer's bubble on the left"})
}
