package pageclient

import (
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-cmp/cmp"
)

// TestSwap: frames are applied as htmx's ws extension applies them, and
// the agent bubbles they insert are the ones reported.
func TestSwap(t *testing.T) {
	const page = `<main><p id="agent-name">x</p><ol id="messages">` +
		`<li id="m-d-1" data-testid="message" data-from="agent" data-dialog-id="d" data-seq="1"><p class="message-text">one</p></li>` +
		`<li id="l-1" data-testid="message" data-from="consumer" data-receipt="pending"><p class="message-text">mine</p></li>` +
		`</ol></main>`
	agent := func(seq, text string) string {
		return `<li id="m-d-` + seq + `" data-testid="message" data-from="agent" data-dialog-id="d" data-seq="` + seq + `"><p class="message-text">` + text + `</p></li>`
	}
	tests := []struct {
		name      string
		frame     string
		want      []string // id:text of the bubbles, in order
		delivered []Item
		noTarget  int
	}{
		{"append", `<div hx-swap-oob="beforeend:#messages">` + agent("2", "two") + `</div>`,
			[]string{"m-d-1:one", "l-1:mine", "m-d-2:two"}, []Item{{"d", 2}}, 0},
		{"append twice is shown twice", `<div hx-swap-oob="beforeend:#messages">` + agent("1", "one") + `</div>`,
			[]string{"m-d-1:one", "l-1:mine", "m-d-1:one"}, []Item{{"d", 1}}, 0},
		{"replace by id", `<li id="l-1" hx-swap-oob="true" data-testid="message" data-from="consumer" data-receipt="sent" data-seq="2"><p class="message-text">mine</p></li>`,
			[]string{"m-d-1:one", "l-1:mine"}, nil, 0},
		{"replace an agent bubble reports it again", strings.Replace(agent("1", "uno"), "<li ", `<li hx-swap-oob="true" `, 1),
			[]string{"m-d-1:uno", "l-1:mine"}, []Item{{"d", 1}}, 0},
		{"no target: dropped", `<li id="l-9" hx-swap-oob="true" data-testid="message"><p class="message-text">lost</p></li>`,
			[]string{"m-d-1:one", "l-1:mine"}, nil, 1},
		{"no hx-swap-oob means true", `<p id="agent-name">Ann</p>`,
			[]string{"m-d-1:one", "l-1:mine"}, nil, 0},
		{"innerHTML", `<ol id="messages" hx-swap-oob="innerHTML">` + agent("1", "one") + agent("2", "two") + `</ol>`,
			[]string{"m-d-1:one", "m-d-2:two"}, []Item{{"d", 1}, {"d", 2}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := goquery.NewDocumentFromReader(strings.NewReader(page))
			if err != nil {
				t.Fatal(err)
			}
			tab := testTab(NewBrowser(nil, BrowserOptions{}), doc)
			tab.visible = false
			delivered, seen := applyFrame(t, tab, tt.frame)
			var got []string
			for _, m := range tab.Messages() {
				got = append(got, m.ID+":"+m.Text)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("bubbles (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.delivered, delivered); diff != "" {
				t.Errorf("delivered (-want +got):\n%s", diff)
			}
			if len(seen) != 0 {
				t.Errorf("seen %v from a tab that is not visible", seen)
			}
			if n := tab.Stats().NoTarget; n != tt.noTarget {
				t.Errorf("%d swaps without a target, want %d", n, tt.noTarget)
			}
		})
	}
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(page))
	tab := testTab(NewBrowser(nil, BrowserOptions{}), doc)
	applyFrame(t, tab, `<div id="agent-name" hx-swap-oob="true">You are chatting with <strong>Ann</strong></div>`)
	if a := tab.View().Agent; a != "You are chatting with Ann" {
		t.Errorf("agent line %q", a)
	}
}
