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
	return web.WriteFrame(func(b []byte) ([]byte, error) { return f.appendChange(b, v, ch) })
}

// appendChange writes the fragments of ch at the end of b. The bubbles,
// the typing slot and the announcement, which go out with every message,
// are written by the views' append functions; the rest (a new phase, the
// agent, the connection, a reset) are templ components, and only then is
// the whole window's view made.
func (f fragments) appendChange(b []byte, v relay.View, ch relay.Change) ([]byte, error) {
	ctx := uiContext(v)
	var w views.Window
	if ch.Connection || ch.Agent || ch.Reset || ch.Phase {
		w = windowProps(v, f.images, f.attach, f.office)
		// The components of one frame share templ's context, as
		// web.RenderAllIn's do.
		ctx = templ.InitializeContext(ctx)
	}
	var err error
	if ch.Connection {
		if b, err = views.AppendComponent(ctx, b, views.ConnectionBanner(w.Connection, true)); err != nil {
			return nil, err
		}
	}
	if ch.Agent {
		if b, err = views.AppendComponent(ctx, b, views.AgentName(w.Agent, true)); err != nil {
			return nil, err
		}
	}
	if ch.Reset {
		if b, err = views.AppendComponent(ctx, b, views.Messages(w.Messages, true)); err != nil {
			return nil, err
		}
	} else {
		if len(ch.Added) > 0 {
			b, err = views.AppendNewMessages(ctx, b, func(yield func(views.Message) bool) {
				for _, m := range ch.Added {
					if !yield(messageProp(m, f.images)) {
						return
					}
				}
			})
			if err != nil {
				return nil, err
			}
		}
		for _, m := range ch.Updated {
			if b, err = views.AppendMessageItem(ctx, b, messageProp(m, f.images), true); err != nil {
				return nil, err
			}
		}
	}
	if ch.Typing || ch.Reset || len(ch.Added) > 0 {
		b = views.AppendTyping(ctx, b, v.Typing, true)
	}
	if ch.Phase {
		// new → open → survey keeps the composer (and what is being
		// typed in it); the end swaps the whole footer.
		c := views.Footer(w, true)
		if v.Phase == relay.PhaseNew || v.Phase == relay.PhaseOpen || v.Phase == relay.PhaseSurvey {
			c = views.CloseControl(w.Phase, w.ForgetURL, true)
		}
		if b, err = views.AppendComponent(ctx, b, c); err != nil {
			return nil, err
		}
	}
	if ch.Announce != "" {
		b = views.AppendAnnounce(ctx, b, ch.Announce)
	}
	return b, nil
}

// uiContext is the context a session's fragments render in: its language.
func uiContext(v relay.View) context.Context {
	if ctx, ok := uiContexts[v.UI]; ok {
		return ctx
	}
	return uiContexts[i18n.Negotiate(v.UI, "").Tag]
}

// uiContexts are the contexts of the languages the window speaks, by
// their tags and "" (English), made once rather than for every frame.
var uiContexts = func() map[string]context.Context {
	m := map[string]context.Context{"": views.WithTranslator(context.Background(), i18n.Negotiate("", ""))}
	for _, l := range i18n.All {
		m[l.Tag] = views.WithTranslator(context.Background(), l)
	}
	return m
}()

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
		At: m.At, Receipt: m.Delivery, LocalID: m.LocalID,
	}
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
		p.ReceiptAt = m.AcceptedAt
	case relay.ReceiptRead:
		p.ReceiptLabel = "Read"
		p.ReceiptAt = m.ReadAt
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
