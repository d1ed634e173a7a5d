package console

import (
	"context"
	"fmt"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/desks"
	"github.com/chatwindow/chatwindow/web/pagesocket"
)

// consoleFrame is what the console page sends: htmx's ws-send forms
// (their fields, plus HEADERS, which is ignored) and chat.js's reports and
// typing.
type consoleFrame struct {
	Type           string `json:"type"`
	RingID         string `json:"ringId"`
	ConversationID string `json:"conversationId"`
	Text           string `json:"text"`
	State          string `json:"state"`
	Skill          string `json:"skill"`
	LocalID        string `json:"localId"`
	pagesocket.Report
}

// parseConsoleFrame decodes and checks one frame from the console page.
func parseConsoleFrame(b []byte) (consoleFrame, error) {
	var f consoleFrame
	if err := pagesocket.Decode(b, &f); err != nil {
		return f, err
	}
	switch f.Type {
	case "accept", "decline":
		if f.RingID == "" {
			return f, fmt.Errorf("%w: %s without ringId", pagesocket.ErrFrame, f.Type)
		}
	case "retry":
		if f.LocalID == "" || len(f.LocalID) > 20 {
			return f, fmt.Errorf("%w: retry localId %q", pagesocket.ErrFrame, f.LocalID)
		}
	case "open":
		if f.ConversationID == "" {
			return f, fmt.Errorf("%w: open without conversationId", pagesocket.ErrFrame)
		}
	case "send":
		if f.Text == "" {
			return f, fmt.Errorf("%w: send without text", pagesocket.ErrFrame)
		}
	case "typing":
		if f.State == "" {
			return f, fmt.Errorf("%w: typing without state", pagesocket.ErrFrame)
		}
	case "report":
		if err := f.Report.Check(); err != nil {
			return f, err
		}
	case "transfer":
		if f.Skill == "" || len(f.Skill) > 20 {
			return f, fmt.Errorf("%w: transfer skill %q", pagesocket.ErrFrame, f.Skill)
		}
	case "close", "back-to-queue", "sign-out":
	default:
		return f, fmt.Errorf("%w: unknown type %q", pagesocket.ErrFrame, f.Type)
	}
	return f, nil
}

// handleSocket is a console tab's socket: it attaches the tab to its desk,
// sends it the desk and every change, and passes the page's actions on. A
// browser with no desk (signed out, expired) is told so and the socket
// closes for good, so that the page does not keep reconnecting.
func (c *Server) handleSocket(ec echo.Context) error {
	cs, _ := c.session(ec.Request())
	sock, err := c.sockets.Accept(ec, c.cfg.MaxFrame, nil)
	if sock == nil {
		return err
	}
	tab, err := c.desks.Attach(cs.desk)
	if err != nil {
		if b, rerr := (consoleFragments{}).SignedOut(); rerr == nil {
			wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = sock.Conn.Write(wctx, websocket.MessageText, b)
			wcancel()
		}
		sock.Refuse(websocket.StatusNormalClosure, "signed out")
		return nil
	}
	// Served until the page left or the desk let the tab go.
	sock.Serve(tab, func() { c.readTab(sock.Conn, tab) }, tab.Detach)
	return nil
}

func (c *Server) readTab(conn *websocket.Conn, tab *desks.Tab) {
	pagesocket.Read(conn, c.log, func(b []byte) error {
		f, err := parseConsoleFrame(b)
		if err != nil {
			return err
		}
		switch f.Type {
		case "accept":
			tab.Accept(f.RingID)
		case "decline":
			tab.Decline(f.RingID)
		case "retry":
			tab.Retry(f.ConversationID, f.LocalID)
		case "open":
			tab.Open(f.ConversationID)
		case "send":
			tab.Send(f.ConversationID, f.Text)
		case "typing":
			tab.Typing(f.State)
		case "report":
			tab.Report(f.Status, f.Report.Receipts())
		case "close":
			tab.Close(f.ConversationID)
		case "transfer":
			tab.Transfer(f.ConversationID, f.Skill)
		case "back-to-queue":
			tab.Transfer(f.ConversationID, "")
		case "sign-out":
			tab.SignOut()
		}
		return nil
	})
}
