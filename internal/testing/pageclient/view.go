package pageclient

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/PuerkitoBio/goquery"
)

// Message is one bubble as the page shows it.
type Message struct {
	ID       string // the DOM id: "m-{dialog}-{seq}", or "l-{local id}" while sending
	DialogID string
	Seq      int64
	HasSeq   bool
	From     string // agent, consumer, system
	Kind     string // data-kind: text, image, file, card
	Receipt  string // the ticks of the customer's own: pending, sent, accepted, read, failed
	Text     string
	LocalID  string // the retry form's local id (failed messages)
}

// View is a snapshot of the page.
type View struct {
	// Socket is the state of the page's own socket: connecting, open,
	// reconnecting, closed.
	Socket string
	// Connection is the window's banner: the state of the session's
	// upstream (connecting, open, reconnecting, offline).
	Connection string
	// Typing: the agent typing indicator is shown.
	Typing bool
	// Agent is the agent name line.
	Agent string
	// Messages in DOM order.
	Messages []Message
	// Frames is the number of frames applied so far.
	Frames int
	// Ended is why the page's last socket ended ("" while the first is
	// open): the close code and reason, or the error.
	Ended string
}

// AgentMessages returns the agent's bubbles, in DOM order.
func (v View) AgentMessages() []Message {
	var out []Message
	for _, m := range v.Messages {
		if m.From == "agent" {
			out = append(out, m)
		}
	}
	return out
}

// applyLocked swaps a frame's elements into the page.
func (t *Tab) applyLocked(frag *goquery.Document) {
	frag.Find("body").Children().Each(func(_ int, el *goquery.Selection) {
		t.oobSwap(el)
	})
	t.frames++
	t.stats.Frames++
	t.notifyLocked()
}

// oobSwap applies one top-level element of a frame as htmx's oobSwap does.
func (t *Tab) oobSwap(el *goquery.Selection) {
	how := el.AttrOr("hx-swap-oob", "true")
	el.RemoveAttr("hx-swap-oob")
	style, selector := "outerHTML", ""
	switch i := strings.Index(how, ":"); {
	case how == "true":
	case i > 0:
		style, selector = how[:i], how[i+1:]
	default:
		style = how
	}
	var targets *goquery.Selection
	if selector != "" {
		targets = t.doc.Find(selector)
	} else {
		id := el.AttrOr("id", "")
		targets = t.doc.Find("[id]").FilterFunction(func(_ int, s *goquery.Selection) bool {
			return s.AttrOr("id", "") == id && id != ""
		})
	}
	if targets.Length() == 0 {
		t.stats.NoTarget++
		return
	}
	targets.Each(func(_ int, target *goquery.Selection) {
		switch style {
		case "outerHTML":
			target.ReplaceWithSelection(el.Clone())
		case "innerHTML":
			c := el.Clone().Contents()
			target.Empty() // returns the removed children
			target.AppendSelection(c)
		case "beforeend":
			target.AppendSelection(el.Clone().Contents())
		}
	})
}

// View returns a snapshot of the page.
func (t *Tab) View() View {
	t.b.mu.Lock()
	defer t.b.mu.Unlock()
	return t.viewLocked()
}

// Messages returns the bubbles in DOM order.
func (t *Tab) Messages() []Message { return t.View().Messages }

func (t *Tab) viewLocked() View {
	d := t.doc
	v := View{
		Socket:     t.socket,
		Connection: d.Find("#connection").AttrOr("data-state", ""),
		Typing:     d.Find(`#agent-typing-slot [data-testid="agent-typing"]`).Length() > 0,
		Agent:      strings.Join(strings.Fields(d.Find("#agent-name").Text()), " "),
		Frames:     t.frames,
		Ended:      t.ended,
	}
	d.Find(`#messages [data-testid="message"]`).Each(func(_ int, s *goquery.Selection) {
		m := Message{
			ID:       s.AttrOr("id", ""),
			DialogID: s.AttrOr("data-dialog-id", ""),
			From:     s.AttrOr("data-from", ""),
			Kind:     s.AttrOr("data-kind", ""),
			Receipt:  s.AttrOr("data-receipt", ""),
			Text:     s.Find(".message-text").First().Text(),
			LocalID:  s.Find(`input[name="localId"]`).AttrOr("value", ""),
		}
		if seq, ok := s.Attr("data-seq"); ok {
			if n, err := strconv.ParseInt(seq, 10, 64); err == nil {
				m.Seq, m.HasSeq = n, true
			}
		}
		v.Messages = append(v.Messages, m)
	})
	return v
}

// WaitFor waits until cond holds for the page (checked now and after every
// change) or ctx ends.
func (t *Tab) WaitFor(ctx context.Context, cond func(View) bool) (View, error) {
	for {
		t.b.mu.Lock()
		v := t.viewLocked()
		changed := t.changed
		t.b.mu.Unlock()
		if cond(v) {
			return v, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return v, fmt.Errorf("pageclient: waiting: %w", ctx.Err())
		}
	}
}
