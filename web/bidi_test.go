package web_test

// Security, row by row (docs/reliability.md "Security"): direction
// controls in messages, and a card answered once. Each runs the chat
// window and the agent console on the embedded service, through real
// loopback servers and sockets.

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/web/node"
	"github.com/chatwindow/chatwindow/web/window"
)

// deskSite is the chat window and the agent console on one embedded
// service, as run wires them.
type deskSite struct {
	window *httptest.Server // the customer's site
	desk   *httptest.Server // the agent console, the service behind it
	svc    *simulator.Service
	ep     messaging.Endpoints // the service's
}

func newDeskSite(t *testing.T) deskSite {
	t.Helper()
	desk, svc := serveConsole(t, siteOptions{agents: []simulator.Agent{
		{Name: "alice", Password: "horse-battery-staple"}, {Name: "bob", Password: "pw"},
	}})
	ep, err := messaging.Discover(t.Context(), desk.Client(), desk.URL, "1", messaging.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	window := httptest.NewServer(newNode(t, node.Config{Endpoints: ep, HTTPClient: desk.Client(), Grace: 100 * time.Millisecond,
		Web: window.Config{SessionKeys: sessionKeys}}))
	t.Cleanup(window.Close)
	return deskSite{window: window, desk: desk, svc: svc, ep: ep}
}

// readFrame reads c's frames until one satisfies ok (false: the socket
// ended or 10 s passed). Every frame read is checked for direction
// controls: none may reach a page.
func readBidiFrame(t *testing.T, c *websocket.Conn, what string, ok func(doc *goquery.Document) bool) *goquery.Document {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if i := bytes.IndexFunc(b, isDirectionControl); i >= 0 {
			t.Errorf("a frame holds the direction control %U: %.300q", []rune(string(b[i:]))[0], b)
		}
		doc, err := goquery.NewDocumentFromReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if ok(doc) {
			return doc
		}
	}
}

// isDirectionControl is what no page may be sent, spelled out here
// rather than taken from internal/bidi, which is under test.
func isDirectionControl(r rune) bool {
	return strings.ContainsRune("\u202A\u202B\u202C\u202D\u202E\u2066\u2067\u2068\u2069", r)
}

func write(t *testing.T, c *websocket.Conn, frame any) {
	t.Helper()
	b, err := json.Marshal(frame)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

const (
	bidiHostile = "pay\u202Egnp.exe \u2066a\u2069\u2067b\u2069\u2068c\u2069 \u202A\u202B\u202C\u202Dd \u200Ee\u200F"
	bidiClean   = "paygnp.exe abc d \u200Ee\u200F"
)

// isolatedText checks that sel is one element showing want with its own
// direction (dir="auto").
func isolatedText(t *testing.T, where string, sel *goquery.Selection, want string) {
	t.Helper()
	if sel.Length() != 1 {
		t.Errorf("%s: %d elements, want 1", where, sel.Length())
		return
	}
	if got := sel.Text(); got != want {
		t.Errorf("%s shows %q, want %q", where, got, want)
	}
	if dir, _ := sel.Attr("dir"); dir != "auto" {
		t.Errorf("%s: dir=%q, want auto", where, dir)
	}
}

// TestBidiControlsMarkup: a customer and an agent write text with
// explicit direction overrides and isolates; neither the console nor the
// window is sent them (no frame holds one), each bubble shows the text
// without them, LRM and RLM kept, in an element of its own direction.
func TestBidiControlsMarkup(t *testing.T) {
	s := newDeskSite(t)
	agent := client(t)
	signIn(t, s.desk, agent)
	dc, _, err := dialConsole(t, s.desk, agent, "")
	if err != nil {
		t.Fatal(err)
	}
	defer dc.CloseNow()

	customer := client(t)
	startSession(t, s.window, customer)
	wc := openTab(t, s.window, customer)
	write(t, wc, map[string]string{"type": "send", "text": bidiHostile})
	readBidiFrame(t, wc, "the customer's bubble", func(doc *goquery.Document) bool {
		sel := doc.Find(`li[data-from="consumer"] .message-text`)
		if sel.Length() == 0 {
			return false
		}
		isolatedText(t, "the customer's bubble in the window", sel, bidiClean)
		return true
	})

	var ringID, conv string
	readBidiFrame(t, dc, "the ring", func(doc *goquery.Document) bool {
		ringID, _ = doc.Find(`[data-testid="ring"] input[name="ringId"]`).Attr("value")
		conv, _ = doc.Find(`[data-testid="ring"]`).Attr("data-conversation-id")
		return ringID != ""
	})
	write(t, dc, map[string]string{"type": "accept", "ringId": ringID})
	readBidiFrame(t, dc, "the customer's message in the console", func(doc *goquery.Document) bool {
		sel := doc.Find(`li[data-from="consumer"] .message-text`)
		if sel.Length() == 0 {
			return false
		}
		isolatedText(t, "the customer's message in the console", sel, bidiClean)
		return true
	})

	write(t, dc, map[string]string{"type": "send", "conversationId": conv, "text": bidiHostile})
	readBidiFrame(t, wc, "the agent's message in the window", func(doc *goquery.Document) bool {
		sel := doc.Find(`li[data-from="agent"] .message-text`)
		if sel.Length() == 0 {
			return false
		}
		isolatedText(t, "the agent's message in the window", sel, bidiClean)
		return true
	})

	// A reload shows the same, and names the agent in an element of its
	// own direction (once the window has its name: it asks the service for
	// the agent's profile when the agent joins).
	doc := openTabWindow(t, s.window, customer)
	for deadline := time.Now().Add(10 * time.Second); doc.Find(`#agent-name strong`).Length() == 0; doc = openTabWindow(t, s.window, customer) {
		if time.Now().After(deadline) {
			t.Fatal("the window never named the agent")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, from := range []string{"consumer", "agent"} {
		isolatedText(t, from+"'s bubble after a reload", doc.Find(`li[data-from="`+from+`"] .message-text`), bidiClean)
	}
	if dir, _ := doc.Find(`#agent-name strong`).Attr("dir"); dir != "auto" {
		t.Errorf("the agent's name: dir=%q, want auto", dir)
	}
}

// twoPlans is a card of two answers told apart by their metadata.
const twoPlans = `{"type":"vertical","elements":[{"type":"text","text":"Which plan?"},
	{"type":"button","title":"Gold","click":{"actions":[{"type":"publishText","text":"gold please"}],"metadata":[{"type":"ExternalId","id":"plan-gold"}]}},
	{"type":"button","title":"Silver","click":{"actions":[{"type":"publishText","text":"silver please"}],"metadata":[{"type":"ExternalId","id":"plan-silver"}]}}]}`

// TestCardAnsweredOnceMarkup: three clicks on a card's button and one on
// its other button publish one ACTION and one answer at the service; the
// window, and a reload of it, show the card's buttons disabled and the
// chosen one marked in words.
func TestCardAnsweredOnceMarkup(t *testing.T) {
	s := newDeskSite(t)
	a, err := messaging.NewAgent(messaging.AgentConfig{Endpoints: s.ep, Username: "bob", Password: "pw", HTTPClient: s.desk.Client(),
		SessionOptions: messaging.SessionOptions{Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	// Runs until the test ends.
	go func() {
		defer close(done)
		_ = a.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	if err := a.SetAgentState(t.Context(), protocol.AgentOnline); err != nil {
		t.Fatal(err)
	}
	if err := a.SubscribeRoutingTasks(t.Context()); err != nil {
		t.Fatal(err)
	}

	customer := client(t)
	startSession(t, s.window, customer)
	wc := openTab(t, s.window, customer)
	write(t, wc, map[string]string{"type": "send", "text": "hi"})
	conv := acceptRing(t, a)
	seq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventRichContent, Content: json.RawMessage(twoPlans)})
	if err != nil {
		t.Fatal(err)
	}
	readBidiFrame(t, wc, "the card", func(doc *goquery.Document) bool { return doc.Find(`[data-testid="card-button"]`).Length() == 2 })

	click := func(index string) map[string]string {
		return map[string]string{"type": "action", "dialogId": conv, "seq": strconv.FormatInt(seq, 10), "index": index}
	}
	for range 3 {
		write(t, wc, click("1"))
	}
	write(t, wc, click("0"))
	// The session publishes one request at a time, in order: once a text
	// sent after the clicks is stored, whatever they published is too.
	write(t, wc, map[string]string{"type": "send", "text": "after the clicks"})
	readBidiFrame(t, wc, "the text after the clicks sent", func(doc *goquery.Document) bool {
		return doc.Find(`li[data-receipt="sent"] .message-text`).FilterFunction(func(_ int, s *goquery.Selection) bool {
			return s.Text() == "after the clicks"
		}).Length() == 1
	})
	actions, answers := 0, []string{}
	for _, e := range s.svc.DialogEvents(conv) {
		if e.Originator() == a.PID() {
			continue
		}
		if e.Event.Status == protocol.StatusAction {
			actions++
		}
		if e.Event.Type == protocol.EventContent && strings.HasSuffix(e.Event.Message, " please") {
			answers = append(answers, e.Event.Message)
		}
	}
	if actions != 1 || len(answers) != 1 || answers[0] != "silver please" {
		t.Errorf("the service has %d ACTIONs and the answers %q, want 1 and [silver please]", actions, answers)
	}

	doc := openTabWindow(t, s.window, customer)
	buttons := doc.Find(`[data-seq="` + strconv.FormatInt(seq, 10) + `"] [data-testid="card-button"]`)
	if buttons.Length() != 2 {
		t.Fatalf("the reloaded card has %d buttons, want 2", buttons.Length())
	}
	buttons.Each(func(i int, b *goquery.Selection) {
		if _, disabled := b.Attr("disabled"); !disabled {
			t.Errorf("button %d is not disabled", i)
		}
		chosen, marked := b.Attr("data-chosen")
		switch {
		case i == 1 && (chosen != "true" || !strings.Contains(b.Find(".sr-only").Text(), "your answer")):
			t.Errorf("Silver is not shown chosen: %s", outer(b))
		case i == 0 && (marked || b.Find(".sr-only").Length() != 0):
			t.Errorf("Gold is shown chosen: %s", outer(b))
		}
	})
}

// acceptRing accepts the first ring the agent is offered; it returns the
// conversation's id.
func acceptRing(t *testing.T, a *messaging.Agent) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case u := <-a.Updates():
			r, ok := u.(messaging.RoutingUpdate)
			if !ok {
				continue
			}
			for _, ring := range r.Change.Result.RingsDetails {
				if ring.RingState == protocol.RingWaiting {
					if err := a.AcceptRing(t.Context(), ring.RingID); err != nil {
						t.Fatal(err)
					}
					return r.Change.Result.ConversationID
				}
			}
		case <-deadline:
			t.Fatal("no ring within 10 s")
		}
	}
}

func outer(s *goquery.Selection) string {
	h, _ := goquery.OuterHtml(s)
	return h
}
