package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// The QA view (/qa): the customer's window framed beside the agent
// console, and the protocol inspector of the session's upstream socket.

// qaWindow is the framed window's document, from the QA page.
const qaWindow = `document.getElementById("qa-window").contentDocument`

// inFrameSend types text into the framed window's composer and presses
// Enter, as a keyboard does: the focus is in the frame, so the key events
// go there.
func (p *tab) inFrameSend(text string) {
	p.t.Helper()
	if !eval[bool](p, `(() => {
		document.getElementById("qa-window").contentWindow.focus();
		const c = `+qaWindow+`.querySelector(`+jsString(composer)+`);
		c.focus();
		return `+qaWindow+`.activeElement === c;
	})()`) {
		p.t.Fatal("the framed window's composer did not take the focus")
	}
	keys := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if _, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text}); err != nil {
			return fmt.Errorf("insert text: %w", err)
		}
		for _, ev := range []input.DispatchKeyEventParams{
			{Type: input.DispatchKeyEventTypeKeyDown, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13, Text: "\r", UnmodifiedText: "\r"},
			{Type: input.DispatchKeyEventTypeKeyUp, Key: "Enter", Code: "Enter", WindowsVirtualKeyCode: 13, NativeVirtualKeyCode: 13},
		} {
			if _, err := cdp.Call(ctx, t, input.DispatchKeyEvent, ev); err != nil {
				return fmt.Errorf("press Enter: %w", err)
			}
		}
		return nil
	})
	p.do("type into the framed window and press Enter", keys)
}

var jwtInText = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+`)

// TestQAView: on /qa the framed window chats (a message sent from inside
// the frame), the inspector lists the customer's ms.PublishEvent and its
// response with direction and type, shows no token anywhere, and its type
// filter hides the other frames.
func TestQAView(t *testing.T) {
	p := newCustomer(t)
	p.do("load the QA view", chromedp.Navigate(env.chatURL+"/qa"))
	p.waitJS("the framed window connected", `(() => {
		const d = `+qaWindow+`;
		const c = d && d.querySelector('[data-testid="connection"]');
		return !!c && c.dataset.state === "open" && typeof document.getElementById("qa-window").contentWindow.htmx !== "undefined";
	})()`)
	p.waitJS("the inspector's socket open", `document.getElementById("qa-status").dataset.state === "live"`)

	const text = "Hello from the QA view"
	p.inFrameSend(text)
	p.waitJS("the message sent from the frame", `!!`+qaWindow+`.querySelector('[data-testid="message"][data-from="consumer"][data-seq][data-dialog-id]')`)
	convID := eval[string](p, qaWindow+`.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	if convID == "" {
		t.Fatal("the framed window's message has no dialog id")
	}
	t.Cleanup(func() { env.agent.closeConversation(t, convID) })
	env.agent.acceptRing(t, convID)

	// The publish and its response, matched by request id.
	const publish = `[...document.querySelectorAll('#frames li[data-type="ms.PublishEvent"][data-dir="out"][data-kind="req"]')]
		.find(li => li.querySelector("pre").textContent.includes(` + "`" + text + "`" + `))`
	p.waitJS("the publish in the inspector", `!!`+publish)
	id := eval[string](p, publish+`.dataset.id`)
	response := `document.querySelector('#frames li[data-dir="in"][data-kind="resp"][data-id="` + id + `"]')`
	p.waitJS("its response in the inspector", `!!`+response)
	type shown struct {
		Arrow, Type, Time, Code string
	}
	row := func(li string) shown {
		return eval[shown](p, `(() => { const li = `+li+`; return {
			Arrow: li.querySelector(".qa-arrow").textContent,
			Type: li.querySelector('[data-testid="frame-type"]').textContent,
			Time: li.querySelector("time").getAttribute("datetime") ? "yes" : "",
			Code: (li.querySelector(".qa-code") || {textContent: ""}).textContent,
		}; })()`)
	}
	if got := eval[string](p, publish+`.querySelector('[data-testid="frame-summary"]').textContent`); got != "ContentEvent" {
		t.Errorf("the publish's summary is %q, want ContentEvent", got)
	}
	if got := row(publish); got.Arrow != "→" || got.Type != "ms.PublishEvent" || got.Time == "" {
		t.Errorf("the publish is shown as %+v, want → ms.PublishEvent with a time", got)
	}
	if got := row(response); got.Arrow != "←" || got.Type != "ms.PublishEventResponse" || got.Time == "" || got.Code != "200" {
		t.Errorf("its response is shown as %+v, want ← ms.PublishEventResponse 200 with a time", got)
	}

	// No token anywhere in the inspector, JSON included.
	if m := jwtInText.FindString(eval[string](p, `document.querySelector('[data-testid="inspector"]').textContent`)); m != "" {
		t.Errorf("the inspector shows a token: %s", m)
	}

	// The filter hides every other type, and brings them back.
	counts := func() (shown, hidden, wrong int) {
		r := eval[[]int](p, `(() => {
			let shown = 0, hidden = 0, wrong = 0;
			for (const li of document.querySelectorAll('#frames li[data-testid="frame"]')) {
				const vis = li.checkVisibility({opacityProperty: true, visibilityProperty: true}) && li.getBoundingClientRect().height > 0;
				const want = li.dataset.type.toLowerCase().includes("publishevent");
				if (vis) shown++; else hidden++;
				if (vis !== want) wrong++;
			}
			return [shown, hidden, wrong];
		})()`)
		return r[0], r[1], r[2]
	}
	p.do("filter by type", chromedp.SendKeys(chromedp.CSS(`[data-testid="qa-filter"]`), "PublishEvent"))
	shownN, hiddenN, wrong := counts()
	if shownN < 2 || hiddenN == 0 || wrong != 0 {
		t.Errorf("filtered on PublishEvent: %d shown, %d hidden, %d wrongly; want the publishes and their responses only", shownN, hiddenN, wrong)
	}
	// A frame that arrives while filtered is filtered too: the agent's
	// message comes as a notification.
	before := eval[int](p, `document.querySelectorAll('#frames li[data-testid="frame"]').length`)
	seq := env.agent.say(t, convID, "Hi, QA!")
	p.waitJS("new frames while filtered", fmt.Sprintf(`document.querySelectorAll('#frames li[data-testid="frame"]').length > %d`, before))
	// The window's ACCEPT of it is a publish the inspector names.
	p.waitJS("the ACCEPT's publish, summarised", fmt.Sprintf(`[...document.querySelectorAll('#frames li[data-dir="out"] [data-testid="frame-summary"]')]
		.some(s => s.textContent === "AcceptStatusEvent ACCEPT [%d]")`, seq))
	if _, _, wrong := counts(); wrong != 0 {
		t.Errorf("%d frames that arrived while filtered are shown wrongly", wrong)
	}
	// Clearing the search box (its ✕ does this) shows every frame again.
	eval[bool](p, `(() => { const f = document.getElementById("qa-filter"); f.value = ""; return f.dispatchEvent(new Event("input")); })()`)
	if n := eval[int](p, `[...document.querySelectorAll('#frames li[data-testid="frame"]')].filter(li => li.hidden).length`); n != 0 {
		t.Errorf("%d frames still hidden with no filter", n)
	}

	if path := os.Getenv("CHATWINDOW_SCREENSHOT_QA"); path != "" {
		qaScreenshot(t, p, path)
	}
}

// qaScreenshot writes the QA view on a wide screen, for docs/qa.md:
// CHATWINDOW_SCREENSHOT_QA=/abs/path.png go test -run TestQAView.
func qaScreenshot(t *testing.T, p *tab, path string) {
	wide := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{Width: 1600, Height: 900, DeviceScaleFactor: 1})
		return err
	})
	p.do("a wide screen", wide)
	eval[bool](p, `(() => { const f = document.getElementById("qa-filter"); f.value = "PublishEvent"; f.dispatchEvent(new Event("input"));
		const l = [...document.querySelectorAll('#frames li[data-testid="frame"]:not([hidden]) details')]; if (l.length) l[l.length - 1].open = true; return true; })()`)
	png, err := chromedp.Run(p.bounded(), chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot written to %s", path)
}
