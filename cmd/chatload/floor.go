package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// The floor (`chatload floor`, started by `chatload -floor`) is the least
// program that does the window's socket work per message with the
// window's libraries: per tab socket it opens one consumer socket
// (signup, InitConnection), asks for the conversation on the customer's
// first message, subscribes to it, writes a fixed fragment per event to
// the tab, and publishes the tab's delivered and seen reports as ACCEPT
// and READ. Nothing else: no cookie session, receipts tracker, templates,
// reconnection or history. Its CPU per relayed message is what the
// window's is measured against (docs/performance.md).

// The frames' request ids that the floor reads an answer of.
const floorConvReq = "conv"

// runFloor serves the floor until ctx ends; it prints "floor on URL".
func runFloor(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chatload floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	csds := fs.String("csds", "", "the service's URL (its CSDS)")
	account := fs.String("account", "12345678", "the service's account")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	hc := &http.Client{Timeout: 15 * time.Second}
	ep, err := messaging.Discover(ctx, hc, *csds, *account, messaging.Overrides{})
	if err != nil {
		return fmt.Errorf("floor: discover: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "floor") })
	mux.HandleFunc("POST /session", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		if err := floorSession(r.Context(), w, r, hc, ep); err != nil && r.Context().Err() == nil {
			log.Warn("floor session", "error", err)
		}
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	srv := &http.Server{Handler: mux, BaseContext: func(net.Listener) context.Context { return ctx }}
	fmt.Fprintf(stdout, "floor on http://%s\n", ln.Addr())
	// It ends when ctx does: the server's sessions end with their base context.
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("floor: %w", err)
	}
	return nil
}

// tabFrame is what the floor reads of a tab's frames (web/pagesocket):
// the composer's send and chat.js's reports.
type tabFrame struct {
	Type   string `json:"type"`
	Text   string `json:"text"`
	Status string `json:"status"`
	Items  []struct {
		DialogID string `json:"dialogId"`
		Seq      int64  `json:"seq"`
	} `json:"items"`
}

// floorSession is one tab: its socket and its consumer socket, until
// either ends.
func floorSession(ctx context.Context, w http.ResponseWriter, r *http.Request, hc *http.Client, ep messaging.Endpoints) error {
	tab, err := websocket.Accept(w, r, nil)
	if err != nil {
		return fmt.Errorf("accept: %w", err)
	}
	defer tab.CloseNow()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jwt, err := messaging.Signup(ctx, hc, ep)
	if err != nil {
		return err
	}
	up, _, err := websocket.Dial(ctx, ep.ConsumerURL(), nil)
	if err != nil {
		return fmt.Errorf("consumer socket: %w", err)
	}
	defer up.CloseNow()
	up.SetReadLimit(16 << 20)
	send := func(id, typ string, body any) error {
		b, err := protocol.Marshal(body)
		if err != nil {
			return err
		}
		f, err := protocol.Marshal(protocol.Frame{Kind: protocol.KindReq, ID: protocol.ID(id), Type: typ, Body: b})
		if err != nil {
			return err
		}
		return up.Write(ctx, websocket.MessageText, f)
	}
	init, _ := protocol.Marshal(protocol.Frame{Kind: protocol.KindReq, ID: "init", Type: protocol.TypeInitConnection,
		Headers: protocol.List[protocol.Header]{{Type: ".ams.headers.ConsumerAuthentication", JWT: jwt}}})
	if err := up.Write(ctx, websocket.MessageText, init); err != nil {
		return fmt.Errorf("init connection: %w", err)
	}
	if err := tab.Write(ctx, websocket.MessageText, []byte(`<div id="connection" data-state="open" hx-swap-oob="true"></div>`)); err != nil {
		return err
	}
	firstText := make(chan string, 1)
	upDone := make(chan error, 1)
	// The upstream reader ends when either socket fails (cancel closes both).
	go func() {
		upDone <- floorUpstream(ctx, up, tab, send, firstText)
		cancel()
	}()
	dialog := ""
	for {
		_, b, err := tab.Read(ctx)
		if err != nil {
			cancel()
			<-upDone
			return nil // the tab left
		}
		var f tabFrame
		if err := json.Unmarshal(b, &f); err != nil {
			continue
		}
		switch f.Type {
		case "send":
			if dialog != "" {
				err = send("p", protocol.TypePublishEvent, protocol.PublishEvent{DialogID: dialog, Event: protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: f.Text}})
				break
			}
			select {
			case firstText <- f.Text:
				err = send(floorConvReq, protocol.TypeConsumerRequestConversation, protocol.ConsumerRequestConversation{ChannelType: "MESSAGING"})
			default: // the conversation is being asked for already
			}
		case "report":
			status := map[string]string{"delivered": protocol.StatusAccept, "seen": protocol.StatusRead}[f.Status]
			if status == "" || len(f.Items) == 0 {
				continue
			}
			seqs := make(protocol.Seqs, len(f.Items))
			for i, it := range f.Items {
				seqs[i] = it.Seq
			}
			dialog = f.Items[0].DialogID
			err = send("r", protocol.TypePublishEvent, protocol.PublishEvent{DialogID: dialog, Event: protocol.Event{Type: protocol.EventAcceptStatus, Status: status, SequenceList: seqs}})
		}
		if err != nil {
			cancel()
			<-upDone
			return fmt.Errorf("publish: %w", err)
		}
	}
}

// floorUpstream reads the consumer socket until it fails: the answer to
// the conversation request (then it subscribes and publishes the
// customer's first text), and the events, each written to the tab as a
// bubble; answers and echoes of receipts are read and dropped.
func floorUpstream(ctx context.Context, up, tab *websocket.Conn, send func(id, typ string, body any) error, firstText <-chan string) error {
	var out []byte
	for {
		_, b, err := up.Read(ctx)
		if err != nil {
			return err
		}
		f, err := protocol.ParseFrame(b)
		if err != nil {
			continue
		}
		switch {
		case f.Kind == protocol.KindResp && string(f.ReqID) == floorConvReq:
			var resp protocol.RequestConversationResponse
			if err := f.DecodeBody(&resp); err != nil || resp.ConversationID == "" {
				return fmt.Errorf("conversation request: %v %s", err, f.Body)
			}
			conv := resp.ConversationID // its main dialog has its id
			if err := send("s", protocol.TypeSubscribeMessagingEvents, protocol.SubscribeMessagingEvents{DialogID: conv, ConversationID: conv}); err != nil {
				return err
			}
			if err := send("p", protocol.TypePublishEvent, protocol.PublishEvent{DialogID: conv, ConversationID: conv, Event: protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: <-firstText}}); err != nil {
				return err
			}
		case protocol.Canonical(f.Type) == protocol.TypeMessagingEventNotification:
			var n protocol.MessagingEventNotification
			if err := f.DecodeBody(&n); err != nil {
				continue
			}
			out = out[:0]
			for _, ev := range n.Changes {
				seq, ok := ev.Seq()
				if !ok || !ev.Event.IsContent() {
					continue // receipts' echoes and chat states
				}
				from := "agent"
				if ev.OriginatorMetadata != nil && ev.OriginatorMetadata.Role == protocol.RoleConsumer {
					from = "consumer"
				}
				out = floorBubble(out, from, ev.DialogID, seq, ev.Event.Message)
			}
			if len(out) > 0 {
				if err := tab.Write(ctx, websocket.MessageText, out); err != nil {
					return err
				}
			}
		}
	}
}

// floorBubble appends the fixed fragment of one message: what the tab
// reads of the window's (the scanner's attributes).
func floorBubble(b []byte, from, dialog string, seq int64, text string) []byte {
	b = append(b, `<li data-testid="message" data-from="`...)
	b = append(b, from...)
	b = append(b, `" data-dialog-id="`...)
	b = append(b, html.EscapeString(dialog)...)
	b = append(b, `" data-seq="`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `"><p class="message-text">`...)
	b = append(b, html.EscapeString(text)...)
	return append(b, `</p></li>`...)
}
