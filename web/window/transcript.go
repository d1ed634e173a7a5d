package window

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/views"
	"github.com/chatwindow/chatwindow/web"
)

// transcriptPath is where the customer downloads their conversation, as
// text (the default) or as a page of its own (?format=html).
const transcriptPath = "/transcript"

// handleTranscript answers the conversation of the session's cookie as a
// file. It is what the window shows (relay.View), so it needs the
// session live on this node: the page that links here has its tab there.
func (s *Server) handleTranscript(c echo.Context) error {
	id, ok := s.Identity(c.Request())
	if !ok {
		return echo.NewHTTPError(http.StatusNotFound, "There is no conversation to download.")
	}
	v, ok := s.relay.View(id.SessionID)
	if !ok {
		return echo.NewHTTPError(http.StatusConflict, "Open the chat window, then download the conversation.")
	}
	lines := transcriptLines(v)
	if len(lines) == 0 {
		return echo.NewHTTPError(http.StatusNotFound, "There is no conversation to download.")
	}
	now := time.Now().UTC()
	name := "conversation-" + now.Format("2006-01-02")
	downloaded := now.Format("2 January 2006, 15:04 UTC")
	h := c.Response().Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	switch c.QueryParam("format") {
	case "", "txt", "text":
		h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`.txt"`)
		return c.Blob(http.StatusOK, "text/plain; charset=utf-8", transcriptText(lines, downloaded))
	case "html":
		// Saved, it is opened from the disk: it carries nothing that runs.
		h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`.html"`)
		h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
		return web.Render(c, http.StatusOK, views.Transcript("Your conversation", downloaded, lines))
	}
	return echo.NewHTTPError(http.StatusBadRequest, "Ask for the conversation as txt or html.")
}

// transcriptLines are the conversation's messages as the customer saw
// them, with who wrote each (the agents by role: a transfer changes who).
func transcriptLines(v relay.View) []views.TranscriptLine {
	out := make([]views.TranscriptLine, 0, len(v.Messages))
	for _, m := range v.Messages {
		l := views.TranscriptLine{Text: m.Text}
		switch m.From {
		case relay.FromConsumer:
			l.Who, l.Mine = "You", true
		case relay.FromAgent:
			l.Who = "Agent"
		default:
			l.Who = "Note"
		}
		if m.Own && !m.HasSeq {
			l.Text += " (not sent)"
		}
		if !m.At.IsZero() {
			l.TimeISO = m.At.UTC().Format(time.RFC3339)
			l.Time = m.At.UTC().Format("2006-01-02 15:04 UTC")
		}
		out = append(out, l)
	}
	return out
}

// transcriptText is the conversation as plain text: a line a message,
// a message's own lines indented under it.
func transcriptText(lines []views.TranscriptLine, downloaded string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Your conversation (downloaded %s)\n\n", downloaded)
	for _, l := range lines {
		text := strings.ReplaceAll(strings.ReplaceAll(l.Text, "\r\n", "\n"), "\n", "\n    ")
		fmt.Fprintf(&b, "%s  %s: %s\n", l.Time, l.Who, text)
	}
	return b.Bytes()
}
