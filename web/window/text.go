package window

import (
	"github.com/chatwindow/chatwindow/internal/links"
	"github.com/chatwindow/chatwindow/views"
)

// textParts cuts a message's text into plain runs and links for the
// bubble (views.TextPart); nil when it has no link.
func textParts(text string) []views.TextPart {
	segs := links.Split(text)
	if segs == nil {
		return nil
	}
	out := make([]views.TextPart, len(segs))
	for i, s := range segs {
		out[i] = views.TextPart{Text: s.Text, URL: s.URL}
	}
	return out
}
