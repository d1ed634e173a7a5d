package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/chatwindow/chatwindow/internal/desks"
)

// consoleFrame is what the console page sends: htmx's ws-send forms
// (their fields, plus HEADERS, which is ignored) and chat.js's reports and
// typing.
type consoleFrame struct {
	Type           string         `json:"type"`
	RingID         string         `json:"ringId"`
	ConversationID string         `json:"conversationId"`
	Text           string         `json:"text"`
	State          string         `json:"state"`
	Status         string         `json:"status"`
	Items          []desks.Item `json:"items"`
}

// parseConsoleFrame decodes and checks one frame from the console page.
func parseConsoleFrame(b []byte) (consoleFrame, error) {
	var f consoleFrame
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&f); err != nil {
		return f, fmt.Errorf("%w: %v", errFrame, err)
	}
	switch f.Type {
	case "accept":
		if f.RingID == "" {
			return f, fmt.Errorf("%w: accept without ringId", errFrame)
		}
	case "open":
		if f.ConversationID == "" {
			return f, fmt.Errorf("%w: open without conversationId", errFrame)
		}
	case "send":
		if f.Text == "" {
			return f, fmt.Errorf("%w: send without text", errFrame)
		}
	case "typing":
		if f.State == "" {
			return f, fmt.Errorf("%w: typing without state", errFrame)
		}
	case "report":
		if f.Status != "delivered" && f.Status != "seen" {
			return f, fmt.Errorf("%w: report status %q", errFrame, f.Status)
		}
		if len(f.Items) == 0 || len(f.Items) > MaxReportItems {
			return f, fmt.Errorf("%w: report of %d items", errFrame, len(f.Items))
		}
	case "close", "sign-out":
	default:
		return f, fmt.Errorf("%w: unknown type %q", errFrame, f.Type)
	}
	return f, nil
}

// handleSocket is a console tab's socket: it attaches the tab to its desk,
// sends it the desk and every change, and passes the page's actions on. A
// browser with no desk (signed out, expired) is told so and the socket
// closes for good, so that the page does not keep reconnecting.
func (c *Console) handleSocket(ec echo.Context) error {
	if err := sameOrigin(ec.Request(), c.cfg.Secure); err != nil {
		return refuseCrossOrigin(err)
	}
	cs, _ := c.session(ec.Request())
	// Refused before the upgrade, while the answer can still be an HTTP
	// status.
	release, ok := c.sockets.Acquire(ec.RealIP())
	if !ok {
		return echo.NewHTTPError(http.StatusTooManyRequests, "Too many consoles open from your network. Close some and try again.")
	}
	defer release()
	// Accept checks that the Origin is this host: a cross-origin page
	// cannot drive an agent's desk (403).
	conn, err := websocket.Accept(ec.Response(), ec.Request(), nil)
	if err != nil {
		c.log.Debug("console socket refused", "error", err)
		return nil // Accept has answered
	}
	conn.SetReadLimit(c.cfg.MaxFrame)
	tab, err := c.desks.Attach(cs.desk)
	if err != nil {
		if b, rerr := (consoleFragments{}).SignedOut(); rerr == nil {
			wctx, wcancel := context.WithTimeout(context.Background(), writeTimeout)
			_ = conn.Write(wctx, websocket.MessageText, b)
			wcancel()
		}
		conn.Close(websocket.StatusNormalClosure, "signed out")
		return nil
	}
	servePage(conn, tab, keepAlive{}, nil, func(ctx context.Context) {
		c.readTab(ctx, conn, tab)
	})
	tab.Detach()
	return nil
}

func (c *Console) readTab(ctx context.Context, conn *websocket.Conn, tab *desks.Tab) {
	readFrames(ctx, conn, c.log, func(b []byte) error {
		f, err := parseConsoleFrame(b)
		if err != nil {
			return err
		}
		switch f.Type {
		case "accept":
			tab.Accept(f.RingID)
		case "open":
			tab.Open(f.ConversationID)
		case "send":
			tab.Send(f.ConversationID, f.Text)
		case "typing":
			tab.Typing(f.State)
		case "report":
			tab.Report(f.Status, f.Items)
		case "close":
			tab.Close(f.ConversationID)
		case "sign-out":
			tab.SignOut()
		}
		return nil
	})
}
