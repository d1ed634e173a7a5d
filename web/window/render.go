package window

import (
	"context"
	"time"

	"github.com/a-h/templ"

	"github.com/chatwindow/chatwindow/internal/hours"
	"github.com/chatwindow/chatwindow/internal/i18n"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/richcontent"
	"github.com/chatwindow/chatwindow/static"
	"github.com/chatwindow/chatwindow/views"
	"github.com/chatwindow/chatwindow/web"
)

// fragments renders the relay's views and changes as the htmx fragments a
// tab's socket receives (every top-level element is swapped out of band).
type fragments struct {
	images cardImages
	// attach is the composer's file control (upload.go).
	attach views.Attach
	// office is the contact center's hours (nil: always open).
	office *hours.Schedule
}

var _ relay.Renderer = fragments{}

func (f fragments) Window(v relay.View) ([]byte, error) {
	w := windowProps(v, f.images, f.attach, f.office)
	return web.RenderAllIn(uiContext(v),
		views.ConnectionBanner(w.Connection, true),
		views.AgentName(w.Agent, true),
		views.Messages(w.Messages, true),
		views.Typing(w.Typing, true),
		views.Footer(w, true),
	)
}

func (f fragments) Change(v relay.View, ch relay.Change) ([]byte, error) {
	w := windowProps(v, f.images, f.attach, f.office)
	// Room for the usual change without growing (a change updating many
	// messages grows it).
	comps := make([]templ.Component, 0, 8)
	if ch.Connection {
		comps = append(comps, views.ConnectionBanner(w.Connection, true))
	}
	if ch.Agent {
		comps = append(comps, views.AgentName(w.Agent, true))
	}
	if ch.Reset {
		comps = append(comps, views.Messages(w.Messages, true))
	} else {
		if len(ch.Added) > 0 {
			comps = append(comps, views.AppendMessages(messageProps(ch.Added, f.images)))
		}
		for _, m := range ch.Updated {
			comps = append(comps, views.MessageItem(messageProp(m, f.images), true))
		}
	}
	if ch.Typing || ch.Reset || len(ch.Added) > 0 {
		comps = append(comps, views.Typing(w.Typing, true))
	}
	if ch.Phase {
		// new → open → survey keeps the composer (and what is being
		// typed in it); the end swaps the whole footer.
		if v.Phase == relay.PhaseNew || v.Phase == relay.PhaseOpen || v.Phase == relay.PhaseSurvey {
			comps = append(comps, views.CloseControl(w.Phase, w.ForgetURL, true))
		} else {
			comps = append(comps, views.Footer(w, true))
		}
	}
	if ch.Announce != "" {
		comps = append(comps, views.Announce(ch.Announce))
	}
	return web.RenderAllIn(uiContext(v), comps...)
}

// uiContext is the context a session's fragments render in: its language.
func uiContext(v relay.View) context.Context {
	return views.WithTranslator(context.Background(), i18n.Negotiate(v.UI, ""))
}

func windowProps(v relay.View, img cardImages, attach views.Attach, office *hours.Schedule) views.Window {
	msgs := messageProps(v.Messages, img)
	if v.Notice != "" {
		// The session's notice leads the conversation as a system message.
		msgs = append([]views.Message{{ID: "notice", From: relay.FromSystem, Text: i18n.Negotiate(v.UI, "").Sentences(v.Notice)}}, msgs...)
	}
	conn := views.Connection{State: v.Connection.String()}
	if v.SignIn {
		conn.State = "signin"
	}
	return views.Window{
		Connection: conn,
		Agent:      agentProps(v, office, time.Now()),
		Messages:   msgs,
		Typing:     v.Typing,
		Phase:      string(v.Phase),
		Rating:     v.Rating,
		ForgetURL:  forgetPath,
		Attach:     attach,
	}
}

func messageProps(ms []relay.Message, img cardImages) []views.Message {
	out := make([]views.Message, len(ms))
	for i, m := range ms {
		out[i] = messageProp(m, img)
	}
	return out
}

// Times go out in UTC; the page shows them in the customer's own zone.
func messageProp(m relay.Message, img cardImages) views.Message {
	p := views.Message{
		ID: m.Key, DialogID: m.DialogID, Seq: m.Seq, HasSeq: m.HasSeq, From: m.From, Text: m.Text,
		Receipt: m.Delivery, LocalID: m.LocalID,
	}
	p.Time, p.TimeISO = web.Clock(m.At)
	if m.Rich.Card == nil && m.File == nil {
		p.Parts = textParts(m.Text)
	}
	if m.Rich.Card != nil {
		c := cardProp(*m.Rich.Card, &m, img)
		p.Card = &c
	}
	if m.File != nil {
		f := fileProp(*m.File)
		p.File = &f
	}
	if m.RepliesOpen {
		for _, i := range m.Rich.QuickReplies() {
			p.QuickReplies = append(p.QuickReplies, choiceProp(i, m.Rich.Choices))
		}
	}
	switch m.Delivery {
	case relay.ReceiptPending:
		p.ReceiptLabel = "Sending"
	case relay.ReceiptSent:
		p.ReceiptLabel = "Sent"
	case relay.ReceiptAccepted:
		p.ReceiptLabel = "Delivered"
		p.ReceiptTime, p.ReceiptTimeISO = web.Clock(m.AcceptedAt)
	case relay.ReceiptRead:
		p.ReceiptLabel = "Read"
		p.ReceiptTime, p.ReceiptTimeISO = web.Clock(m.ReadAt)
	case relay.ReceiptFailed:
		p.ReceiptLabel = "Not sent"
	}
	return p
}

// cardProp converts m's card node n (already safe: richcontent checked
// every URL and kept texts plain) into the view's tree. An image's URL
// becomes the window's own (cardImages.src); one that cannot shows its
// text instead. Once m is answered its buttons are closed, the chosen one
// marked.
func cardProp(n richcontent.Node, m *relay.Message, img cardImages) views.CardNode {
	out := views.CardNode{
		Kind: n.Kind, Layout: n.Layout, Text: n.Text, URL: n.URL, Alt: n.Alt,
		Bold: n.Bold, Italic: n.Italic, Size: n.Size, Link: n.Link,
	}
	if n.Kind == richcontent.KindImage {
		if src, ok := img.src(n.URL); ok {
			out.URL = src
		} else {
			// Its text, or nothing (a node of no kind renders nothing).
			out = views.CardNode{}
			if n.Alt != "" {
				out = views.CardNode{Kind: richcontent.KindText, Text: n.Alt}
			}
		}
	}
	if n.Kind == richcontent.KindButton {
		out.Choice = choiceProp(n.Choice, m.Rich.Choices)
		out.Choice.Closed = m.Answered
		out.Choice.Chosen = m.Answered && m.Chosen == n.Choice
	}
	for _, c := range n.Children {
		out.Children = append(out.Children, cardProp(c, m, img))
	}
	return out
}

func choiceProp(i int, choices []richcontent.Choice) views.Choice {
	if i < 0 || i >= len(choices) {
		return views.Choice{Index: -1}
	}
	return views.Choice{Index: i, Title: choices[i].Title, Text: choices[i].Text}
}

// NewRenderer is the relay renderer of the web layer's views. Card images are
// rendered as URLs of the window's own (docs/richcontent.md): its own
// assets by path, every other image through its image proxy, signed with
// a key derived from sessionKeys (the same as the Server's Config). The
// composer offers files up to DefaultMaxUpload.
func NewRenderer(sessionKeys [][]byte, assets *static.Assets) relay.Renderer {
	return fragments{images: newCardImages(sessionKeys, assets), attach: attachProps(DefaultMaxUpload)}
}

// ConfigRenderer is NewRenderer for the Server of cfg: its SessionKeys, its
// MaxUpload and its Hours.
func ConfigRenderer(cfg Config, assets *static.Assets) relay.Renderer {
	return fragments{images: newCardImages(cfg.SessionKeys, assets), attach: attachProps(cfg.maxUpload()), office: cfg.Hours}
}
