package main

import (
	"fmt"
	"testing"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// TestBrowserBurst: an agent (or a bot) sends 150 messages in a row; the
// visible, focused page shows them all, stays connected (its reports are
// batched, far under the server's flood limit) and every one gets exactly
// one ACCEPT and one READ.
func TestBrowserBurst(t *testing.T) {
	c := startChat(t)
	c.focusEmulation()
	var seqs []int64
	for i := range 150 {
		seqs = append(seqs, env.agent.say(t, c.convID, fmt.Sprintf("burst %d", i)))
	}
	c.waitJS("all 150 shown", `document.querySelectorAll('[data-testid="message"][data-from="agent"]').length === 150`)
	// The last ones are in view at the bottom; scroll through the rest.
	c.waitJS("scrolled to the top", `(() => { document.getElementById("messages").scrollTop = 0; return true; })()`)
	for _, s := range seqs {
		env.agent.waitReceipt(t, c.convID, protocol.StatusAccept, s)
	}
	c.waitJS("scrolled back down", `(() => { const l = document.getElementById("messages"); l.scrollTop = l.scrollHeight; return true; })()`)
	if state := eval[string](c.tab, `document.querySelector('[data-testid="connection"]').dataset.state`); state != "open" {
		t.Fatalf("after the burst the page's connection is %q, want open", state)
	}
	hist := env.agent.history(t, c.convID)
	accept := env.agent.receipts(hist, c.convID, protocol.StatusAccept)
	for _, s := range seqs {
		if accept[s] != 1 {
			t.Errorf("sequence %d: %d ACCEPT, want 1", s, accept[s])
		}
	}
}
