package web

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/a-h/templ"
	templruntime "github.com/a-h/templ/runtime"
	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/richcontent"
	"github.com/chatwindow/chatwindow/static"
	"github.com/chatwindow/chatwindow/views"
)

// render writes a component as the answer (see render).
func (s *Server) render(c echo.Context, code int, comp templ.Component) error {
	return render(c, code, comp)
}

// render writes a component as the answer, for every server of the
// package. Pages and fragments share URLs only through htmx, so the answer
// varies by HX-Request.
func render(c echo.Context, code int, comp templ.Component) error {
	var buf bytes.Buffer
	if err := comp.Render(c.Request().Context(), &buf); err != nil {
		return fmt.Errorf("render %s: %w", c.Request().URL.Path, err)
	}
	c.Response().Header().Add("Vary", "HX-Request")
	return c.HTMLBlob(code, buf.Bytes())
}

// fragments renders the relay's views and changes as the htmx fragments a
// tab's socket receives (every top-level element is swapped out of band).
type fragments struct {
	images cardImages
}

var _ relay.Renderer = fragments{}

func (f fragments) Window(v relay.View) ([]byte, error) {
	w := windowProps(v, f.images)
	return renderAll(
		views.ConnectionBanner(w.Connection, true),
		views.AgentName(w.Agent, true),
		views.Messages(w.Messages, true),
		views.Typing(w.Typing, true),
		views.Footer(w, true),
	)
}

func (f fragments) Change(v relay.View, ch relay.Change) ([]byte, error) {
	w := windowProps(v, f.images)
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
		// new → open keeps the composer (and what is being typed in it);
		// closing swaps the whole footer for the rating.
		if v.Phase == relay.PhaseNew || v.Phase == relay.PhaseOpen {
			comps = append(comps, views.CloseControl(w.Phase, w.ForgetURL, true))
		} else {
			comps = append(comps, views.Footer(w, true))
		}
	}
	if ch.Announce != "" {
		comps = append(comps, views.Announce(ch.Announce))
	}
	return renderAll(comps...)
}

// renderAll renders the components one after the other into one frame.
// They share one templ buffer, which is flushed into the frame once (each
// would otherwise take its own and flush it, growing the frame piece by
// piece), and one templ context (each would otherwise make its own): what
// templ records in it, such as the CSS and scripts already written, is
// then shared by the fragments of one frame, which land in one document.
func renderAll(comps ...templ.Component) ([]byte, error) {
	var buf bytes.Buffer
	w, _ := templruntime.GetBuffer(&buf)
	ctx := templ.InitializeContext(context.Background())
	for _, c := range comps {
		if err := c.Render(ctx, w); err != nil {
			_ = templruntime.ReleaseBuffer(w)
			return nil, fmt.Errorf("render fragment: %w", err)
		}
	}
	if err := templruntime.ReleaseBuffer(w); err != nil {
		return nil, fmt.Errorf("render fragment: %w", err)
	}
	return buf.Bytes(), nil
}

func windowProps(v relay.View, img cardImages) views.Window {
	msgs := messageProps(v.Messages, img)
	if v.Notice != "" {
		// The session's notice leads the conversation as a system message.
		msgs = append([]views.Message{{ID: "notice", From: relay.FromSystem, Text: v.Notice}}, msgs...)
	}
	return views.Window{
		Connection: views.Connection{State: v.Connection.String()},
		Agent:      views.Agent{Name: v.AgentName},
		Messages:   msgs,
		Typing:     v.Typing,
		Phase:      string(v.Phase),
		Rating:     v.Rating,
		ForgetURL:  forgetPath,
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
	p.Time, p.TimeISO = clock(m.At)
	if m.Rich.Card != nil {
		c := cardProp(*m.Rich.Card, &m, img)
		p.Card = &c
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
		p.ReceiptTime, p.ReceiptTimeISO = clock(m.AcceptedAt)
	case relay.ReceiptRead:
		p.ReceiptLabel = "Read"
		p.ReceiptTime, p.ReceiptTimeISO = clock(m.ReadAt)
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
		Bold: n.Bold, Italic: n.Italic, Size: n.Size,
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

func clock(t time.Time) (text, iso string) {
	if t.IsZero() || t.UnixMilli() == 0 {
		return "", ""
	}
	t = t.UTC()
	iso = t.Format(time.RFC3339)
	// The clock is in the ISO text ("2006-01-02T15:04:05Z") for a year of
	// four digits: one format instead of two.
	if len(iso) == len("2006-01-02T15:04:05Z") && iso[10] == 'T' {
		return iso[11:16], iso
	}
	return t.Format("15:04"), iso
}

// Renderer is the relay renderer of the web layer's views. Card images are
// rendered as URLs of the window's own (docs/richcontent.md): its own
// assets by path, every other image through its image proxy, signed with
// a key derived from sessionKeys (the same as the Server's Config).
func Renderer(sessionKeys [][]byte, assets *static.Assets) relay.Renderer {
	return fragments{images: newCardImages(sessionKeys, assets)}
}
