package views

import (
	"context"
	"io"
	"iter"
	"strconv"
	"sync"

	"github.com/a-h/templ"
)

// A message's bubble and the fragments sent over the socket with it (the
// typing slot, the announcement) are written by hand, not by templ: they
// are rendered for every message a session relays, and templ allocates a closure and a
// context value per component and a string per attribute. They write
// byte for byte what templ markup of the same elements would (web's
// TestRenderGolden holds them to the bytes templ wrote; FuzzAppendMessageItem
// reads arbitrary bubbles back with an HTML parser): every value is
// escaped as templ escapes it (appendEscaped), a link's URL sanitised by
// templ.URL first. A file, a card and quick replies stay templ
// components, rendered into the bubble.

// MessageItem is one bubble, with ticks on the customer's own messages
// (AppendMessageItem).
func MessageItem(m Message, oob bool) templ.Component {
	return appender(func(ctx context.Context, b []byte) ([]byte, error) { return AppendMessageItem(ctx, b, m, oob) })
}

// AppendMessageItem writes the bubble of m at the end of b, in the
// language of ctx; oob swaps it out of band (an update of a bubble the
// page has). Its text is isolated with its own direction (dir="auto"): a
// text from either side, right to left or not, never reorders what is
// around it.
func AppendMessageItem(ctx context.Context, b []byte, m Message, oob bool) ([]byte, error) {
	b = append(b, `<li id="`...)
	b = appendEscaped(b, m.ID)
	b = append(b, '"')
	if oob {
		b = append(b, ` hx-swap-oob="true"`...)
	}
	// templ joins the class list (two names that never repeat) with a
	// space and escapes the whole.
	b = append(b, ` class="message message-`...)
	b = appendEscaped(b, m.From)
	b = append(b, `" data-testid="message" data-kind="`...)
	b = append(b, m.Kind()...) // one of four constant words
	b = append(b, `" data-from="`...)
	b = appendEscaped(b, m.From)
	b = append(b, `" data-dialog-id="`...)
	b = appendEscaped(b, m.DialogID)
	b = append(b, '"')
	if m.HasSeq {
		b = append(b, ` data-seq="`...)
		b = strconv.AppendInt(b, m.Seq, 10)
		b = append(b, '"')
	}
	if m.Receipt != "" {
		b = append(b, ` data-receipt="`...)
		b = appendEscaped(b, m.Receipt)
		b = append(b, '"')
	}
	b = append(b, '>')
	var err error
	switch {
	case m.File != nil:
		b, err = AppendComponent(ctx, b, FileBubble(*m.File))
	case m.Card != nil:
		b, err = AppendComponent(ctx, b, Card(m, *m.Card))
	default:
		b = append(b, `<p class="message-text" dir="auto">`...)
		b = appendMessageText(b, m)
		b = append(b, `</p>`...)
	}
	if err != nil {
		return b, err
	}
	b = append(b, `<p class="message-meta">`...)
	if shown(m.At) {
		b = appendTime(b, m.At)
		b = append(b, ' ')
	}
	if m.Receipt != "" {
		b = appendTicks(b, m)
	}
	b = append(b, `</p>`...)
	if len(m.QuickReplies) > 0 && m.HasSeq {
		if b, err = AppendComponent(ctx, b, QuickReplies(m)); err != nil {
			return b, err
		}
	}
	if m.Receipt == "failed" {
		b = append(b, `<form class="retry" ws-send><input type="hidden" name="type" value="retry"> <input type="hidden" name="localId" value="`...)
		b = appendEscaped(b, m.LocalID)
		b = append(b, `"> <span class="retry-text">`...)
		b = appendEscaped(b, t(ctx, "Not sent."))
		b = append(b, `</span> <button type="submit" data-testid="retry">`...)
		b = appendEscaped(b, t(ctx, "Retry"))
		b = append(b, `</button></form>`...)
	}
	return append(b, `</li>`...), nil
}

// appendMessageText writes a message's text: its links (http and https
// only, found by internal/links) open in a new tab with no window.opener
// and no referrer; everything else is text, never markup.
func appendMessageText(b []byte, m Message) []byte {
	if len(m.Parts) == 0 {
		return appendEscaped(b, m.Text)
	}
	for _, p := range m.Parts {
		if p.URL == "" {
			b = appendEscaped(b, p.Text)
			continue
		}
		b = append(b, `<a class="message-link" href="`...)
		b = appendEscaped(b, string(templ.URL(p.URL)))
		b = append(b, `" target="_blank" rel="noopener noreferrer" data-testid="message-link">`...)
		b = appendEscaped(b, p.Text)
		b = append(b, `</a>`...)
	}
	return b
}

// appendTicks writes the receipt marks of a customer's message, with their
// text alternative (colour is never the only signal).
func appendTicks(b []byte, m Message) []byte {
	b = append(b, `<span class="ticks ticks-`...)
	b = appendEscaped(b, m.Receipt)
	b = append(b, `" data-testid="ticks" title="`...)
	b = appendEscaped(b, m.ReceiptLabel)
	b = append(b, `"><span aria-hidden="true">`...)
	switch m.Receipt {
	case "pending":
		b = append(b, "◷"...)
	case "sent":
		b = append(b, "✓"...)
	case "accepted", "read":
		b = append(b, "✓✓"...)
	case "failed":
		b = append(b, '!')
	}
	b = append(b, `</span> <span class="sr-only">`...)
	b = appendEscaped(b, m.ReceiptLabel)
	b = append(b, ' ')
	if shown(m.ReceiptAt) {
		b = appendTime(b, m.ReceiptAt)
	}
	return append(b, `</span></span>`...)
}

// AppendNewMessages writes bubbles added at the end of the conversation
// (over the socket, out of band).
func AppendNewMessages(ctx context.Context, b []byte, ms iter.Seq[Message]) ([]byte, error) {
	b = append(b, `<div hx-swap-oob="beforeend:#messages">`...)
	var err error
	for m := range ms {
		if b, err = AppendMessageItem(ctx, b, m, false); err != nil {
			return b, err
		}
	}
	return append(b, `</div>`...), nil
}

// Typing is the agent typing indicator: in the page only while the agent
// types, so that it is never merely hidden by style.
func Typing(on, oob bool) templ.Component {
	return appender(func(ctx context.Context, b []byte) ([]byte, error) { return AppendTyping(ctx, b, on, oob), nil })
}

// AppendTyping writes Typing at the end of b.
func AppendTyping(ctx context.Context, b []byte, on, oob bool) []byte {
	b = append(b, `<div id="agent-typing-slot" class="typing-slot" aria-live="polite"`...)
	if oob {
		b = append(b, ` hx-swap-oob="true"`...)
	}
	b = append(b, '>')
	if on {
		b = append(b, `<p class="typing" data-testid="agent-typing"><span class="typing-dots" aria-hidden="true">•••</span> `...)
		b = appendEscaped(b, t(ctx, "Agent is typing…"))
		b = append(b, `</p>`...)
	}
	return append(b, `</div>`...)
}

// Announce says something to screen readers, politely.
func Announce(text string) templ.Component {
	return appender(func(ctx context.Context, b []byte) ([]byte, error) { return AppendAnnounce(ctx, b, text), nil })
}

// AppendAnnounce writes Announce at the end of b.
func AppendAnnounce(ctx context.Context, b []byte, text string) []byte {
	b = append(b, `<div id="announcer" class="sr-only" aria-live="polite" aria-atomic="true" hx-swap-oob="true">`...)
	b = appendEscaped(b, sentences(ctx, text))
	return append(b, `</div>`...)
}

// appendEscaped writes s escaped as templ escapes text and attribute
// values (templ.EscapeString, that is html.EscapeString): the five bytes
// that can end a text or a quoted value become references, every other
// byte (invalid UTF-8 included) stays as it is.
func appendEscaped(b []byte, s string) []byte {
	last := 0
	for i := 0; i < len(s); i++ {
		ref := escapes[s[i]]
		if ref == "" {
			continue
		}
		b = append(b, s[last:i]...)
		b = append(b, ref...)
		last = i + 1
	}
	return append(b, s[last:]...)
}

// escapes are the references of the bytes appendEscaped escapes, by byte
// (a table: one look-up per byte of text).
var escapes = [256]string{'&': "&amp;", '\'': "&#39;", '<': "&lt;", '>': "&gt;", '"': "&#34;"}

// appender is the templ component of an append function, for the pages
// that render these fragments among templ ones (the whole window).
func appender(write func(ctx context.Context, b []byte) ([]byte, error)) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		buf := scratch.Get().(*[]byte)
		b, err := write(ctx, (*buf)[:0])
		if err == nil {
			_, err = w.Write(b)
		}
		if cap(b) <= maxScratch {
			*buf = b[:0]
			scratch.Put(buf)
		}
		return err
	})
}

// scratch holds the buffers appender writes a fragment in before it hands
// it to templ's writer; one that grew past maxScratch (a huge message) is
// not kept.
var scratch = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

const maxScratch = 64 << 10

// appendComponent renders a templ component at the end of b.
func AppendComponent(ctx context.Context, b []byte, c templ.Component) ([]byte, error) {
	w := sliceWriter{b}
	err := c.Render(ctx, &w)
	return w.b, err
}

// sliceWriter is an io.Writer appending to its slice.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
