package main

import (
	"testing"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// fakeAlerts stands in for the browser's Notification and AudioContext in
// every document of a tab, and records what the page does with them:
// permission requests, notifications shown, beeps played, and the counts
// of chatwindow:unread. The permission granted is kept in localStorage,
// as a browser keeps it across reloads.
const fakeAlerts = `(() => {
	const a = window.__alerts = {asked: 0, shown: [], beeps: 0, unread: []};
	window.Notification = class {
		static get permission() { return localStorage.getItem("fake-permission") || "default"; }
		static requestPermission() {
			a.asked++;
			localStorage.setItem("fake-permission", "granted");
			return Promise.resolve("granted");
		}
		constructor(title, o) { a.shown.push(title + ": " + o.body); }
		close() {}
	};
	window.AudioContext = class {
		constructor() { this.currentTime = 0; this.destination = {}; }
		createGain() { return {gain: {}, connect: d => d}; }
		createOscillator() { return {connect: g => g, start: () => { a.beeps++; }, stop() {}}; }
	};
	document.addEventListener("chatwindow:unread", e => a.unread.push(e.detail.count));
})()`

// alerts is what the page did with the fake notifications and sound.
type alerts struct {
	Asked  int
	Shown  []string
	Beeps  int
	Unread []int
}

func (p *tab) alerts() alerts {
	p.t.Helper()
	return eval[alerts](p, `window.__alerts`)
}

// TestBrowserAlerts: while the window is hidden the title counts the
// agent's unread messages, and chatwindow:unread tells the count as it
// changes; the customer may turn on a sound and browser notifications
// for them (the browser's permission is asked for on that click, never
// on load), and the choice is kept across reloads.
func TestBrowserAlerts(t *testing.T) {
	p := newCustomer(t)
	if _, err := chromedp.Call(p.bounded(), cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: fakeAlerts}); err != nil {
		t.Fatal(err)
	}
	c := chatIn(t, p)
	c.focusEmulation()
	pressed := func(testid string) string {
		return eval[string](c.tab, `document.querySelector('[data-testid="`+testid+`"]').getAttribute("aria-pressed")`)
	}
	if got := pressed("sound-toggle") + " " + pressed("notify-toggle"); got != "false false" {
		t.Errorf("the alerts are %s on load, want both off", got)
	}

	// Off: the title counts, nothing else.
	c.setHidden(true)
	s1 := env.agent.say(t, c.convID, "One moment, please.")
	env.agent.waitReceipt(t, c.convID, accept, s1)
	c.waitJS("the title counting", `document.title === "(1) new · Chat"`)
	s2 := env.agent.say(t, c.convID, "I found it.")
	env.agent.waitReceipt(t, c.convID, accept, s2)
	c.waitJS("the title counting two", `document.title === "(2) new · Chat"`)
	c.setHidden(false)
	c.waitJS("the title back", `document.title === "Chat"`)
	env.agent.waitReceipt(t, c.convID, read, s2)
	c.waitJS("no unread left", `window.__alerts.unread.at(-1) === 0`)
	if a := c.alerts(); a.Asked != 0 || len(a.Shown) != 0 || a.Beeps != 0 {
		t.Errorf("with the alerts off: %+v; want no permission asked, no notification, no beep", a)
	}
	if u := c.alerts().Unread; len(u) < 3 || u[0] != 1 || u[1] != 2 || u[len(u)-1] != 0 {
		t.Errorf("chatwindow:unread counted %v, want 1, 2, then down to 0", u)
	}

	// On: one click each; the permission is asked for by the second.
	c.do("turn the sound on", chromedp.Click(chromedp.CSS(`[data-testid="sound-toggle"]`)))
	c.waitJS("the sound on", `document.querySelector('[data-testid="sound-toggle"]').getAttribute("aria-pressed") === "true"`)
	c.do("turn notifications on", chromedp.Click(chromedp.CSS(`[data-testid="notify-toggle"]`)))
	c.waitJS("notifications on", `document.querySelector('[data-testid="notify-toggle"]').getAttribute("aria-pressed") === "true"`)
	if a := c.alerts(); a.Asked != 1 || a.Beeps != 1 {
		t.Errorf("after turning them on: %+v; want the permission asked once and one beep (the sample)", a)
	}

	c.setHidden(true)
	s3 := env.agent.say(t, c.convID, "Your parcel arrives tomorrow.")
	env.agent.waitReceipt(t, c.convID, accept, s3)
	c.waitJS("the title counting", `document.title === "(1) new · Chat"`)
	if a := c.alerts(); !cmp.Equal(a.Shown, []string{"Chat: Your parcel arrives tomorrow."}) || a.Beeps != 2 {
		t.Errorf("a message while hidden: %+v; want its notification and a beep", a)
	}
	// A re-render of the list (the relay's Reset, a reconnect's window)
	// brings no message anew: nothing more is counted or announced.
	c.do("render the list anew", chromedp.Evaluate[chromedp.Void](`htmx.swap("#messages", document.getElementById("messages").innerHTML, {swapStyle: "innerHTML"})`))
	c.settle()
	if title := eval[string](c.tab, `document.title`); title != "(1) new · Chat" {
		t.Errorf("the title is %q after a re-render, want (1) new · Chat", title)
	}
	if a := c.alerts(); len(a.Shown) != 1 || a.Beeps != 2 {
		t.Errorf("after a re-render: %+v; want nothing more", a)
	}
	c.setHidden(false)
	env.agent.waitReceipt(t, c.convID, read, s3)
	s4 := env.agent.say(t, c.convID, "Anything else?")
	env.agent.waitReceipt(t, c.convID, read, s4)
	if a := c.alerts(); len(a.Shown) != 1 || a.Beeps != 2 {
		t.Errorf("a message while visible: %+v; want no notification and no beep", a)
	}

	// A reload keeps the choice and asks for nothing.
	c.do("reload", chromedp.Reload())
	c.waitConnected()
	if got := pressed("sound-toggle") + " " + pressed("notify-toggle"); got != "true true" {
		t.Errorf("the alerts are %s after a reload, want both on", got)
	}
	if a := c.alerts(); a.Asked != 0 {
		t.Errorf("the permission was asked for %d times on load", a.Asked)
	}
	c.axeScan(loadAxe(t))

	// Off again: kept off.
	c.do("turn notifications off", chromedp.Click(chromedp.CSS(`[data-testid="notify-toggle"]`)))
	c.waitJS("notifications off", `document.querySelector('[data-testid="notify-toggle"]').getAttribute("aria-pressed") === "false"`)
	if v := eval[string](c.tab, `localStorage.getItem("chatwindow-notify")`); v != "0" {
		t.Errorf("the choice is kept as %q, want 0", v)
	}
}
