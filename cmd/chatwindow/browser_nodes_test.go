package main

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserTwoNodes: two tabs of one Chromium (one browser context: one
// cookie jar, one Web Locks manager) on two window nodes behind a
// round-robin proxy (one origin, as behind any balancer), both nodes on
// the embedded service of the package's program. Each node opens its own
// upstream for its tab and learns what the other published only from the
// echo; chat.js's delivery lock makes one tab report, so every agent
// message gets one ACCEPT and one READ. When the reporting tab leaves, the
// other takes over.
func TestBrowserTwoNodes(t *testing.T) {
	needBrowser(t)
	hashKey, blockKey := make([]byte, 64), make([]byte, 32)
	rand.Read(hashKey)
	rand.Read(blockKey)
	keys := base64.StdEncoding.EncodeToString(hashKey) + "," + base64.StdEncoding.EncodeToString(blockKey)
	var nodes []*url.URL
	for range 2 {
		win, _ := startRunEnv(t, map[string]string{
			"LP_ACCOUNT": env.account, "LP_CSDS": env.simURL, "CHATWINDOW_ADDR": "127.0.0.1:0",
			"CHATWINDOW_SESSION_KEYS": keys,
		})
		u, err := url.Parse(win.wait(t, regexp.MustCompile(`chat window on (\S+)`), actionTimeout))
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, u)
	}
	lb := newRoundRobin(t, nodes)

	// The first tab starts the conversation; the second, the one the
	// customer looks at (focused), joins it from the other node.
	first := newCustomer(t)
	first.load(lb.URL + "/")
	first.typeAndSend("Hello from two nodes")
	first.waitJS("the first message sent", `!!document.querySelector('[data-testid="message"][data-from="consumer"][data-seq][data-dialog-id]')`)
	convID := eval[string](first, `document.querySelector('[data-testid="message"][data-from="consumer"]').dataset.dialogId`)
	t.Cleanup(func() { env.agent.closeConversation(t, convID) })
	env.agent.acceptRing(t, convID)

	second := first.secondTab()
	second.focusEmulation()
	second.load(lb.URL + "/")
	if a, b := lb.sockets(0), lb.sockets(1); a != 1 || b != 1 {
		t.Fatalf("the proxy sent %d and %d sockets to the nodes, want one each", a, b)
	}
	if !eval[bool](second, `typeof navigator.locks === "object"`) {
		t.Fatal("no navigator.locks on the window's origin")
	}

	// One at a time, so that each is a race between the two nodes' tabs,
	// which without the lock both report it (within milliseconds).
	var seqs []int64
	for i := range 6 {
		seqs = append(seqs, env.agent.say(t, convID, fmt.Sprintf("Answer %d, for both tabs.", i+1)))
		time.Sleep(300 * time.Millisecond)
	}
	for _, p := range []*tab{first, second} {
		p.waitJS("every answer in the tab", fmt.Sprintf(`document.querySelectorAll('[data-testid="message"][data-from="agent"][data-seq]').length === %d`, len(seqs)))
	}
	for _, s := range seqs {
		env.agent.waitReceipt(t, convID, read, s)
	}
	time.Sleep(quiet) // room for a repeated receipt to show up
	history := env.agent.history(t, convID)
	accepts, reads := env.agent.receipts(history, convID, accept), env.agent.receipts(history, convID, read)
	for _, s := range seqs {
		if accepts[s] != 1 || reads[s] != 1 {
			t.Errorf("agent message %d: %d ACCEPTs and %d READs in the dialog's history, want one each", s, accepts[s], reads[s])
		}
	}

	// The reporting tab leaves: the other one takes the lock over.
	second.do("leave", chromedp.Navigate("about:blank"))
	last := env.agent.say(t, convID, "One more, for the tab that stayed.")
	first.waitJS("the last answer", `!!document.querySelector(`+jsString(agentBubble(last))+`)`)
	env.agent.waitReceipt(t, convID, accept, last)
	time.Sleep(quiet)
	history = env.agent.history(t, convID)
	accepts, reads = env.agent.receipts(history, convID, accept), env.agent.receipts(history, convID, read)
	for _, s := range append(seqs, last) {
		if accepts[s] != 1 || reads[s] > 1 {
			t.Errorf("agent message %d: %d ACCEPTs and %d READs in the dialog's history, want one ACCEPT and at most one READ", s, accepts[s], reads[s])
		}
	}
}
