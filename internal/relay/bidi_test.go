package relay_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
)

// TestBidiControls: the agent's text and the customer's own reach the
// window without explicit direction controls (internal/bidi), the marks
// LRM and RLM kept; the customer's bubble is matched by its echo (one
// bubble, sent), and a reload shows the same.
func TestBidiControls(t *testing.T) {
	const (
		hostile = "pay\u202Egnp.exe \u2066a\u2069\u2067b\u2069\u2068c\u2069 \u202A\u202B\u202C\u202Dd \u200Ee\u200F"
		clean   = "paygnp.exe abc d \u200Ee\u200F"
	)
	w := newWorld(t)
	id := w.identity(t)
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	pt := showTab(t, w.mgr, id)
	a, ups := w.agent(t)
	rt.Send(hostile)
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "the customer's message sent", 10*time.Second, func() bool { return tb.receipt(clean) == relay.ReceiptSent })
	seq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: hostile})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the agent's message in the tab", 10*time.Second, func() bool { _, ok := pt.message(conv, seq); return ok })

	reload := showTab(t, w.mgr, id)
	waitUntil(t, "the reload's window", 10*time.Second, func() bool { _, ok := reload.message(conv, seq); return ok })
	for name, page := range map[string]*pageTab{"tab": pt, "reload": reload} {
		var got []string
		for _, m := range page.messages() {
			got = append(got, m.From+": "+m.Text)
			if strings.ContainsAny(m.Text, "\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069") {
				t.Errorf("%s: %s message %q holds direction controls", name, m.From, m.Text)
			}
		}
		if want := []string{"consumer: " + clean, "agent: " + clean}; !slices.Equal(got, want) {
			t.Errorf("%s shows %q, want %q", name, got, want)
		}
	}
}
