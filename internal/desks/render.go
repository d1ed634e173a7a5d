package desks

import (
	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/outbox"
)

// view is the desk as a tab whose conversation is selected shows it.
func (d *Desk) view(selected string, withMessages bool) View {
	v := View{AgentName: d.name, Connection: d.conn, Rings: d.inbox.Rings(), Skills: d.cfg.Skills}
	for _, t := range d.inbox.Threads() {
		s := Summary{ID: t.ID, ConsumerName: t.ConsumerName, Unread: t.Unread(), Closed: t.Closed, Selected: t.ID == selected}
		s.Last, s.HasLast = t.Last()
		v.Conversations = append(v.Conversations, s)
	}
	if t, ok := d.inbox.Thread(selected); ok {
		p := &Pane{ID: t.ID, ConsumerName: t.ConsumerName, Closed: t.Closed, ConsumerTyping: t.ConsumerTyping, Profile: t.Profile, Customer: t.Customer}
		if withMessages {
			p.Messages = t.Messages()
		}
		v.Selected = p
	}
	return v
}

// broadcast renders a change once per selected conversation and sends it
// to every tab; the thread part goes only to tabs showing conv.
func (d *Desk) broadcast(conv string, ch Change) {
	if ch.empty() || d.loop.TabCount() == 0 {
		return
	}
	rendered := map[string][]byte{}
	for t := range d.loop.Tabs() {
		b, done := rendered[t.Page.selected]
		if !done {
			c := ch
			if t.Page.selected == "" || t.Page.selected != conv {
				c.Thread = ThreadChange{}
			}
			if !c.empty() {
				var err error
				b, err = d.cfg.Renderer.Change(d.view(t.Page.selected, c.Thread.Reset), c)
				if err != nil {
					d.log.Error("render change", "error", err)
					return
				}
			}
			rendered[t.Page.selected] = b
		}
		if b != nil {
			d.deliver(t, b)
		}
	}
}

// sendDesk sends a tab the whole desk with its conversation.
func (d *Desk) sendDesk(t *live.Tab[page]) {
	b, err := d.cfg.Renderer.Desk(d.view(t.Page.selected, true))
	if err != nil {
		d.log.Error("render desk", "error", err)
		return
	}
	d.deliver(t, b)
}

// signedOut tells every tab that the desk is gone.
func (d *Desk) signedOut() {
	b, err := d.cfg.Renderer.SignedOut()
	if err != nil {
		d.log.Error("render signed out", "error", err)
		return
	}
	for t := range d.loop.Tabs() {
		d.deliver(t, b)
	}
}

// deliver queues b for a tab (a slow one is let go: see live.Loop.Deliver).
func (d *Desk) deliver(t *live.Tab[page], b []byte) {
	d.loop.Deliver(t, outbox.Frame{Data: b})
}
