package pagesocket

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"github.com/chatwindow/chatwindow/internal/ratelog"
	"github.com/chatwindow/chatwindow/internal/receipts"
)

// Report is the part of a page's frame that reports what the page did with
// messages: "delivered" (in the page) or "seen" (read), and which.
type Report struct {
	Status string       `json:"status"`
	Items  []ReportItem `json:"items"`
}

// Check refuses a report chat.js would not send: another status, none or
// too many items.
func (r Report) Check() error {
	if r.Status != "delivered" && r.Status != "seen" {
		return fmt.Errorf("%w: report status %q", ErrFrame, r.Status)
	}
	if len(r.Items) == 0 || len(r.Items) > MaxReportItems {
		return fmt.Errorf("%w: report of %d items", ErrFrame, len(r.Items))
	}
	return nil
}

// Receipts are the report's items as the receipt policy takes them.
func (r Report) Receipts() []receipts.Item {
	out := make([]receipts.Item, len(r.Items))
	for i, it := range r.Items {
		out[i] = receipts.Item{DialogID: it.DialogID, Seq: it.Seq}
	}
	return out
}

// ReportItem is one message a page's report names, as chat.js sends it.
type ReportItem struct {
	DialogID string `json:"dialogId"`
	Seq      int64  `json:"seq"`
}

// MaxReportItems bounds a report frame's items: what chat.js sends at most
// (REPORT_ITEMS); a page that sends more is not chat.js.
const MaxReportItems = 200

// The page sends a few frames a second at most (chat.js batches its
// reports); a socket that sends far more is flooding and is closed.
const (
	framesPerSecond = 20
	frameBurst      = 60
)

// Read is the one reading loop of a page's socket: text frames only, a
// flood limit, and each frame handed to handle, whose error refuses that
// frame (logged, no more than a few lines a while) and keeps the socket. It
// returns when the socket ends or was closed for misbehaving.
//
// Its reads take no context that can end: the socket's connection closing
// ends them (Serve's pings, a failed write, End, the reader itself), and a
// context that could be cancelled costs coder/websocket an AfterFunc
// registered and removed per frame.
func Read(conn *websocket.Conn, log *slog.Logger, handle func([]byte) error) {
	limit := rate.NewLimiter(framesPerSecond, frameBurst)
	var refusals *ratelog.Limiter // made on the first refusal
	for {
		typ, b, err := conn.Read(context.Background())
		if err != nil {
			if websocket.CloseStatus(err) == -1 {
				log.Debug("page socket ended", "error", err)
			}
			return
		}
		if typ != websocket.MessageText {
			conn.Close(websocket.StatusUnsupportedData, "text frames only")
			return
		}
		if !limit.Allow() {
			log.Warn("page socket flooding, closed")
			conn.Close(websocket.StatusPolicyViolation, "too many messages")
			return
		}
		if err := handle(b); err != nil {
			if refusals == nil {
				refusals = ratelog.New(10*time.Second, 5)
			}
			if ok, skipped := refusals.Allow(); ok {
				log.Info("page frame refused", "error", err, "not_logged_before", skipped)
			}
		}
	}
}

// ErrFrame is a frame from a page that cannot be acted on: every refusal
// of a frame wraps it.
var ErrFrame = errors.New("bad page frame")

// Decode decodes one frame from a page into v, strictly: one JSON value,
// nothing after it but white space (what follows is not the page's;
// json.Unmarshal refuses it, without a Decoder's copy of the frame).
func Decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%w: %v", ErrFrame, err)
	}
	return nil
}
