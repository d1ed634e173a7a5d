package main

import (
	"context"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// TestBrowserSurvey is the post-conversation survey in Chromium: the agent
// answers, then closes the conversation; the survey's questions appear in
// the same thread under a note that the conversation ended; the customer
// answers the first with a quick reply and the others by typing (the
// composer stays until the survey ends); the survey ends and the window
// says the conversation ended, with no legacy rating. The agent, a reader
// of the survey dialog, receives there the customer's READ of every
// question, the ACTION of the click and every answer. It runs its own
// program with the survey (the package's shared one has none).
func TestBrowserSurvey(t *testing.T) {
	needBrowser(t)
	own := ownProgram(t, "-bot-delay", "0", "-survey=true")
	agent := ownAgent(t, own)

	p := newCustomer(t)
	p.focusEmulation()
	p.load(own.chatURL + "/")
	p.typeAndSend("Hello, I need help")
	p.waitJS("the first message sent", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq][data-dialog-id]')`)
	conv := eval[string](p, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	agent.acceptRing(t, conv)
	answer := agent.say(t, conv, "Your parcel arrives tomorrow. Anything else?")
	p.waitJS("the agent's answer", `!!document.querySelector(`+jsString(agentBubble(answer))+`)`)
	agent.waitReceipt(t, conv, read, answer)

	cctx, ccancel := context.WithTimeout(t.Context(), actionTimeout)
	defer ccancel()
	if err := agent.CloseConversation(cctx, conv); err != nil {
		t.Fatalf("agent: close: %v", err)
	}
	p.waitJS("the survey note, and the composer still there", visible(`[data-testid="survey-note"]`)+` && `+visible(composer))
	p.waitJS("no Attach in the survey", `!(`+visible(`[data-testid="composer-form"] .attach`)+`)`)
	p.waitJS("the header says a survey asks, not that the agent chats", visible(`[data-testid="survey-header"]`)+` && !document.querySelector('[data-testid="agent"]').textContent.includes("chatting with")`)

	// question waits for the survey question that says text, for its READ
	// to reach the agent, and returns its sequence and dialog.
	question := func(text string) (int64, string) {
		t.Helper()
		sel := `[...document.querySelectorAll('[data-testid="message"][data-from="agent"][data-seq]')].find(m => m.dataset.dialogId !== ` + jsString(conv) + ` && m.textContent.includes(` + jsString(text) + `))`
		p.waitJS("the question "+text, `!!`+sel)
		seq, err := strconv.ParseInt(eval[string](p, sel+`.dataset.seq`), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		dialog := eval[string](p, sel+`.dataset.dialogId`)
		agent.waitReceipt(t, dialog, read, seq)
		return seq, dialog
	}
	fcr, survey := question("Were you able to resolve your inquiry")
	t.Run("accessible", func(t *testing.T) {
		src := loadAxe(t)
		p.use(t)
		p.axeScan(src)
	})
	if !eval[bool](p, `(() => {
		const b = [...document.querySelectorAll('[data-testid="quick-reply"]')].find(b => b.textContent.trim() === "Yes");
		if (!b) return false;
		b.click();
		return true;
	})()`) {
		t.Fatal("no \"Yes\" quick reply to click")
	}
	mine := func(text string) string {
		return `[...document.querySelectorAll('[data-testid="message"][data-from="consumer"]')].find(m => m.dataset.dialogId === ` + jsString(survey) + ` && m.querySelector(".message-text").textContent === ` + jsString(text) + `)`
	}
	p.waitJS("Yes read by the survey bot", `(() => { const m = `+mine("Yes")+`; return !!m && m.dataset.receipt === "read"; })()`)

	question("How would you rate")
	p.typeAndSend("4")
	p.waitJS("4 read by the survey bot", `(() => { const m = `+mine("4")+`; return !!m && m.dataset.receipt === "read"; })()`)

	question("Is there anything else")
	p.typeAndSend("Quick and friendly, thank you.")
	p.waitJS("the conversation ended, no composer, no legacy rating",
		visible(`[data-testid="ended"]`)+` && !document.querySelector(`+jsString(composer)+`) && !document.querySelector('[data-testid="csat"]')`)
	p.do("start anew", chromedp.Click(chromedp.CSS(`[data-testid="new-conversation"]`)))
	p.waitJS("an empty window with the composer", visible(composer)+` && document.querySelectorAll('[data-testid="message"]').length === 0`)

	type said struct{ Type, Text string }
	ups := agent.waitFor(t, "the answers in the survey dialog", func(ups []messaging.Update) bool {
		for _, e := range events(ups) {
			if e.DialogID == survey && agent.fromConsumer(e) && e.Event.Message == "Quick and friendly, thank you." {
				return true
			}
		}
		return false
	})
	var got []said
	for _, e := range events(ups) {
		if e.DialogID != survey || !agent.fromConsumer(e) {
			continue
		}
		switch {
		case e.Event.Type == protocol.EventContent:
			got = append(got, said{e.Event.Type, e.Event.Message})
		case e.Event.Status == protocol.StatusAction:
			got = append(got, said{e.Event.Status, strconv.FormatInt(e.Event.SequenceList[0], 10)})
		}
	}
	want := []said{{"ACTION", strconv.FormatInt(fcr, 10)}, {"ContentEvent", "Yes"}, {"ContentEvent", "4"}, {"ContentEvent", "Quick and friendly, thank you."}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the customer's answers the agent received in the survey dialog (-want +got):\n%s", diff)
	}
	for _, e := range events(ups) {
		if e.DialogID == conv && agent.fromConsumer(e) && e.Event.Type == protocol.EventContent && e.Event.Message != "Hello, I need help" {
			t.Errorf("a survey answer went to the MAIN dialog: %+v", e)
		}
	}
}
