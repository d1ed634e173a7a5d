package console

import (
	"time"
	"unicode/utf8"

	"github.com/a-h/templ"

	"github.com/chatwindow/chatwindow/internal/desks"
	"github.com/chatwindow/chatwindow/views"
	"github.com/chatwindow/chatwindow/web"
)

// consoleFragments renders desks' views and changes as the htmx fragments
// a console tab's socket receives (every top-level element is swapped out
// of band).
type consoleFragments struct{}

var _ desks.Renderer = consoleFragments{}

// NewRenderer is the desks' renderer: the console's views as htmx fragments.
func NewRenderer() desks.Renderer { return consoleFragments{} }

func (consoleFragments) Desk(v desks.View) ([]byte, error) {
	d := deskProps(v)
	return web.RenderAll(
		views.DeskConnection(d.Connection, true),
		views.DeskRings(d.Rings, true),
		views.DeskConversations(d.Conversations, true),
		views.DeskPaneHeader(d.Pane, true),
		views.DeskMessages(d.Pane.Messages, true),
		views.DeskTyping(d.Pane.Typing, true),
		views.DeskComposer(d.Pane, true),
		views.DeskCustomer(d.Pane, true),
	)
}

func (consoleFragments) Change(v desks.View, ch desks.Change) ([]byte, error) {
	d := deskProps(v)
	var comps []templ.Component
	if ch.Connection {
		comps = append(comps, views.DeskConnection(d.Connection, true))
	}
	if ch.Rings {
		comps = append(comps, views.DeskRings(d.Rings, true))
	}
	if ch.List {
		comps = append(comps, views.DeskConversations(d.Conversations, true))
	}
	th := ch.Thread
	switch {
	case th.Reset:
		comps = append(comps, views.DeskMessages(d.Pane.Messages, true))
	default:
		if len(th.Added) > 0 {
			comps = append(comps, views.AppendDeskMessages(consoleMessages(th.Added, !d.Pane.Closed)))
		}
		for _, m := range th.Updated {
			comps = append(comps, views.DeskMessage(consoleMessage(m, !d.Pane.Closed), true))
		}
	}
	if th.Typing || len(th.Added) > 0 {
		comps = append(comps, views.DeskTyping(d.Pane.Typing, true))
	}
	if th.Closed || th.Customer {
		comps = append(comps, views.DeskPaneHeader(d.Pane, true))
	}
	if th.Closed {
		comps = append(comps, views.DeskComposer(d.Pane, true))
		if !th.Reset {
			// Failed messages offer no retry any more.
			comps = append(comps, views.DeskMessages(d.Pane.Messages, true))
		}
	}
	if th.Customer {
		comps = append(comps, views.DeskCustomer(d.Pane, true))
	}
	announce := ch.Announce
	if announce == "" {
		announce = th.Announce
	}
	if announce != "" {
		comps = append(comps, views.DeskAnnounce(announce))
	}
	return web.RenderAll(comps...)
}

func (consoleFragments) SignedOut() ([]byte, error) {
	return web.RenderAll(views.DeskSignedOut(Prefix + "/"))
}

func deskProps(v desks.View) views.Desk {
	d := views.Desk{AgentName: v.AgentName, Connection: v.Connection.String()}
	for _, r := range v.Rings {
		item := views.RingItem{ID: r.ID, ConversationID: r.ConversationID, Consumer: consumerLabel(r.ConsumerID)}
		item.Expires, item.ExpiresISO = clockSeconds(r.ExpiresAt)
		d.Rings = append(d.Rings, item)
	}
	for _, s := range v.Conversations {
		item := views.ConversationItem{ID: s.ID, Consumer: s.ConsumerName, Unread: s.Unread, Closed: s.Closed, Selected: s.Selected}
		if item.Consumer == "" {
			item.Consumer = "Customer"
		}
		if s.HasLast {
			item.Last, item.LastFrom = preview(s.Last.Text), s.Last.From
			item.LastTime, item.LastTimeISO = views.Clock(s.Last.At)
		}
		d.Conversations = append(d.Conversations, item)
	}
	if p := v.Selected; p != nil {
		d.Pane = views.ConsolePane{ID: p.ID, Consumer: p.ConsumerName, Closed: p.Closed, Typing: p.ConsumerTyping, Messages: consoleMessages(p.Messages, !p.Closed), Skills: v.Skills,
			Customer: customerPanel(p.Profile, p.Customer), Attach: attach()}
	}
	return d
}

// consumerLabel names a consumer the agent knows nothing of yet.
func consumerLabel(id string) string {
	if len(id) >= 4 {
		return "Customer " + id[:4]
	}
	return "A customer"
}

// preview shortens a message for the list.
func preview(text string) string {
	const limit = 80
	if utf8.RuneCountInString(text) <= limit {
		return text
	}
	r := []rune(text)
	return string(r[:limit-1]) + "…"
}

func consoleMessages(ms []desks.Message, open bool) []views.ConsoleMessage {
	out := make([]views.ConsoleMessage, len(ms))
	for i, m := range ms {
		out[i] = consoleMessage(m, open)
	}
	return out
}

// consoleMessage maps a message of a conversation (open: a failed message
// of the agent's offers a retry); times go out in UTC, like the window's.
func consoleMessage(m desks.Message, open bool) views.ConsoleMessage {
	p := views.ConsoleMessage{ID: m.Key, DialogID: m.DialogID, Seq: m.Seq, HasSeq: m.HasSeq, From: m.From, Mine: m.Own, Text: m.Text}
	p.Time, p.TimeISO = views.Clock(m.At)
	if m.File != nil {
		f := fileProp(*m.File)
		p.File = &f
	}
	if !m.Own {
		return p
	}
	p.V = m.Delivery
	switch m.Delivery {
	case desks.VPending:
		p.VLabel = "Sending"
	case desks.VSent:
		p.VLabel = "Sent"
	case desks.VAccepted:
		p.VLabel = "Delivered"
	case desks.VRead:
		p.VLabel = "Read"
	case desks.VFailed:
		p.VLabel = "Not sent"
		if open {
			p.LocalID = m.LocalID
		}
	}
	for _, s := range []struct {
		label string
		at    time.Time
	}{{"Sent", m.SentAt}, {"Delivered", m.AcceptedAt}, {"Read", m.ReadAt}} {
		if t, iso := clockSeconds(s.at); t != "" {
			p.VTimes = append(p.VTimes, views.VTime{Label: s.label, Time: t, ISO: iso})
		}
	}
	return p
}

// clockSeconds is clock with seconds: V states often change within a
// minute.
func clockSeconds(t time.Time) (text, iso string) {
	if t.IsZero() || t.UnixMilli() == 0 {
		return "", ""
	}
	t = t.UTC()
	return t.Format("15:04:05"), t.Format(time.RFC3339)
}
