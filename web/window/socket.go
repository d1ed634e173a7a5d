package window

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/web/pagesocket"
)

// browserFrame is what the page sends: htmx's ws-send forms (their fields,
// plus HEADERS, which is ignored) and chat.js's reports.
type browserFrame struct {
	Type    string `json:"type"`
	Text    string `json:"text"`
	LocalID string `json:"localId"`
	pagesocket.Report
	State string `json:"state"`
	// A rating (the legacy CSAT): rate 1..5 and resolved "yes"/"no"
	// (optional), or the report's status field SKIPPED alone.
	Rate     json.RawMessage `json:"rate"`
	Resolved string          `json:"resolved"`
	// An action (a click on a quick reply or a card button) or a link (a
	// click on a card's link, from chat.js): the agent message's dialog
	// and sequence and the choice's or link's index, as numbers or (from a
	// ws-send form, or chat.js's data attributes) strings.
	DialogID string          `json:"dialogId"`
	Seq      json.RawMessage `json:"seq"`
	Index    json.RawMessage `json:"index"`
}

// parseBrowserFrame decodes and checks one frame from the page: chat.js's
// reports by parseReport's fast path, anything else by decodeBrowserFrame.
func parseBrowserFrame(b []byte) (browserFrame, error) {
	if f, ok := parseReport(b); ok {
		return f, nil
	}
	return decodeBrowserFrame(b)
}

// decodeBrowserFrame decodes any frame from the page with encoding/json,
// and checks it.
func decodeBrowserFrame(b []byte) (browserFrame, error) {
	var f browserFrame
	if err := pagesocket.Decode(b, &f); err != nil {
		return f, err
	}
	switch f.Type {
	case "send":
		if f.Text == "" {
			return f, fmt.Errorf("%w: send without text", pagesocket.ErrFrame)
		}
	case "retry":
		if f.LocalID == "" {
			return f, fmt.Errorf("%w: retry without localId", pagesocket.ErrFrame)
		}
	case "report":
		if err := f.Report.Check(); err != nil {
			return f, err
		}
	case "typing":
		if f.State == "" {
			return f, fmt.Errorf("%w: typing without state", pagesocket.ErrFrame)
		}
	case "csat":
		if _, err := f.rating(); err != nil {
			return f, err
		}
	case "action", "link":
		if _, _, err := f.action(); err != nil {
			return f, err
		}
	case "close", "new":
	default:
		return f, fmt.Errorf("%w: unknown type %q", pagesocket.ErrFrame, f.Type)
	}
	return f, nil
}

// rating reads a rating: status SKIPPED (the customer declined), or rate
// as 1..5 (sent as a string by forms, or a number) with resolved "yes",
// "no" or nothing (not answered).
func (f browserFrame) rating() (relay.Rating, error) {
	switch f.Status {
	case "SKIPPED":
		return relay.Rating{Skipped: true}, nil
	case "":
	default:
		return relay.Rating{}, fmt.Errorf("%w: rating status %q", pagesocket.ErrFrame, f.Status)
	}
	var s string
	if err := json.Unmarshal(f.Rate, &s); err != nil {
		s = string(f.Rate)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 5 {
		return relay.Rating{}, fmt.Errorf("%w: rating %q", pagesocket.ErrFrame, s)
	}
	r := relay.Rating{Rate: n}
	switch f.Resolved {
	case "yes", "no":
		yes := f.Resolved == "yes"
		r.Resolved = &yes
	case "":
	default:
		return relay.Rating{}, fmt.Errorf("%w: resolved %q", pagesocket.ErrFrame, f.Resolved)
	}
	return r, nil
}

// maxChoiceIndex bounds an action's index (richcontent keeps fewer).
const maxChoiceIndex = 1000

// action reads an action frame's sequence and index.
func (f browserFrame) action() (seq int64, index int, err error) {
	if f.DialogID == "" || len(f.DialogID) > 128 {
		return 0, 0, fmt.Errorf("%w: action dialogId %q", pagesocket.ErrFrame, f.DialogID)
	}
	seq, err = number(f.Seq)
	if err != nil || seq < 0 {
		return 0, 0, fmt.Errorf("%w: action seq %s", pagesocket.ErrFrame, f.Seq)
	}
	n, err := number(f.Index)
	if err != nil || n < 0 || n > maxChoiceIndex {
		return 0, 0, fmt.Errorf("%w: action index %s", pagesocket.ErrFrame, f.Index)
	}
	if len(f.Text) > relay.MaxText {
		return 0, 0, fmt.Errorf("%w: action text of %d bytes", pagesocket.ErrFrame, len(f.Text))
	}
	return seq, int(n), nil
}

// number reads an integer sent as a JSON number or a string of digits.
func number(raw json.RawMessage) (int64, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		s = string(raw)
	}
	return strconv.ParseInt(s, 10, 64)
}

// handleSocket is a tab's socket: it attaches the tab to its session, sends
// it the window and every change, and passes the page's actions on. It
// needs the session cookie (401).
func (s *Server) handleSocket(c echo.Context) error {
	var id relay.Identity
	sock, err := s.sockets.Accept(c, s.cfg.MaxFrame, func() error {
		var ok bool
		if id, ok = s.Identity(c.Request()); !ok {
			return echo.NewHTTPError(http.StatusUnauthorized, "no session: reload the page")
		}
		return nil
	})
	if sock == nil {
		return err
	}
	tab, err := s.relay.AttachVisit(id, visitOf(c.Request()))
	if err != nil {
		sock.Refuse(websocket.StatusTryAgainLater, "try again")
		return nil
	}
	// Served until the page left or the relay let the tab go.
	sock.Serve(tab, func() { s.readTab(sock.Conn, tab) }, tab.Detach)
	return nil
}

func (s *Server) readTab(conn *websocket.Conn, tab *relay.Tab) {
	pagesocket.Read(conn, s.log, func(b []byte) error {
		f, err := parseBrowserFrame(b)
		if err != nil {
			return err
		}
		switch f.Type {
		case "send":
			tab.Send(f.Text)
		case "retry":
			tab.Retry(f.LocalID)
		case "report":
			tab.Report(f.Status, f.Report.Receipts())
		case "typing":
			tab.Typing(f.State)
		case "close":
			tab.CloseConversation()
		case "csat":
			r, _ := f.rating()
			tab.Rate(r)
		case "new":
			tab.NewConversation()
		case "action":
			seq, index, _ := f.action()
			tab.Action(f.DialogID, seq, index, f.Text)
		case "link":
			seq, index, _ := f.action()
			tab.Link(f.DialogID, seq, index)
		}
		return nil
	})
}
