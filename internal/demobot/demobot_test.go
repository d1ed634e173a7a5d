package demobot_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/demobot"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

// structured is the part of LivePerson's structured content the tests
// check: quick replies and a vertical card.
type structured struct {
	Type        string `json:"type"`
	ItemsPerRow int    `json:"itemsPerRow"`
	Replies     []struct {
		Type  string `json:"type"`
		Title string `json:"title"`
		Click clickJSON
	} `json:"replies"`
	Elements []struct {
		Type  string `json:"type"`
		Text  string `json:"text"`
		URL   string `json:"url"`
		Title string `json:"title"`
		Click *clickJSON
	} `json:"elements"`
}

type clickJSON struct {
	Actions []struct {
		Type string `json:"type"`
		Text string `json:"text"`
		URI  string `json:"uri"`
	} `json:"actions"`
}

func decodeStructured(t *testing.T, raw json.RawMessage) structured {
	t.Helper()
	var s structured
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("structured content %s: %v", raw, err)
	}
	return s
}

// TestConversation plays a whole conversation with the bot: it accepts the
// ring nobody took, shows typing and greets with quick replies, receipts
// every customer message (ACCEPT then READ, once each), answers keywords
// with texts and a card, and closes on "bye".
func TestConversation(t *testing.T) {
	e := newEnv(t)
	logs := newLogRecorder()
	bot := e.pid(t, "bot")
	cu := newCustomer(t, e)
	startBot(t, e.botConfig(logs))

	// The greeting, with COMPOSING before it.
	greet := cu.waitReply(t, bot, -1)
	if greet.Event.Message != demobot.GreetingText {
		t.Fatalf("first message %q, want the greeting", greet.Event.Message)
	}
	qr := decodeStructured(t, greet.Event.QuickReplies)
	if qr.Type != "quickReplies" || len(qr.Replies) == 0 {
		t.Fatalf("greeting's quick replies: %s", greet.Event.QuickReplies)
	}
	var clicks []string
	for _, r := range qr.Replies {
		if r.Type != "button" || r.Title == "" || len(r.Click.Actions) != 1 || r.Click.Actions[0].Type != "publishText" {
			t.Errorf("quick reply %+v", r)
			continue
		}
		clicks = append(clicks, r.Click.Actions[0].Text)
	}
	if diff := cmp.Diff([]string{"help", "card", "hours", "price", "bye"}, clicks); diff != "" {
		t.Errorf("quick replies' texts (-want +got):\n%s", diff)
	}
	composing := false
	for _, ev := range cu.events(cu.col.Snapshot()) {
		if ev.Event.Type == protocol.EventChatState && ev.Event.ChatState == protocol.ChatComposing && ev.Originator() == bot {
			composing = true
		}
		if s, ok := ev.Seq(); ok && greet.Sequence != nil && s == *greet.Sequence {
			break
		}
	}
	if !composing {
		t.Error("no COMPOSING from the bot before its greeting")
	}

	// A card.
	cardSeq := cu.say(t, "Show me a CARD please")
	card := cu.waitReply(t, bot, cardSeq)
	if card.Event.Type != protocol.EventRichContent {
		t.Fatalf("answer to card: %+v", card.Event)
	}
	sc := decodeStructured(t, card.Event.Content)
	var kinds []string
	var link, publish bool
	for _, el := range sc.Elements {
		kinds = append(kinds, el.Type)
		if el.Type == "image" && !strings.HasPrefix(el.URL, "https://") {
			t.Errorf("image URL %q is not https", el.URL)
		}
		if el.Click != nil && len(el.Click.Actions) == 1 {
			a := el.Click.Actions[0]
			link = link || a.Type == "link" && strings.HasPrefix(a.URI, "https://")
			publish = publish || a.Type == "publishText" && a.Text != ""
		}
	}
	if sc.Type != "vertical" || !link || !publish {
		t.Errorf("card %s: want a vertical layout with a link button and a publishText button", card.Event.Content)
	}
	if diff := cmp.Diff([]string{"text", "image", "text", "button", "button"}, kinds); diff != "" {
		t.Errorf("card's elements (-want +got):\n%s", diff)
	}

	// Canned answers, case-insensitive, and an echo for anything else.
	asked := []int64{cardSeq}
	for _, tc := range []struct {
		say, want string
	}{
		{"HELP?", demobot.HelpText},
		{"what are your hours", demobot.HoursText},
		{"Price!", demobot.PriceText},
		{"banana", `You said "banana".`},
	} {
		seq := cu.say(t, tc.say)
		asked = append(asked, seq)
		got := cu.waitReply(t, bot, seq)
		if !strings.Contains(got.Event.Message, tc.want) {
			t.Errorf("answer to %q: %q, want it to contain %q", tc.say, got.Event.Message, tc.want)
		}
	}

	// Bye closes the conversation.
	byeSeq := cu.say(t, "ok bye")
	asked = append(asked, byeSeq)
	if got := cu.waitReply(t, bot, byeSeq); got.Event.Message != demobot.GoodbyeText {
		t.Errorf("answer to bye: %q", got.Event.Message)
	}
	cu.col.WaitFor(t, "the close", func(ups []messaging.Update) bool {
		for _, u := range ups {
			if c, ok := u.(messaging.ConversationUpdate); ok && c.Change.Result.ConvID == cu.convID && c.Change.Result.ConversationDetails.Stage == protocol.StateClose {
				return true
			}
		}
		return false
	})
	logs.waitFor(t, "conversation no longer mine", 1)

	// At the service: every customer message got one ACCEPT, then one
	// READ, from the bot, each naming only it; one answer each, and one
	// greeting.
	stored := e.svc.DialogEvents(cu.convID)
	for _, seq := range asked {
		if diff := cmp.Diff([]string{protocol.StatusAccept, protocol.StatusRead}, receipts(stored, bot, seq)); diff != "" {
			t.Errorf("bot's receipts of #%d (-want +got):\n%s", seq, diff)
		}
	}
	for _, ev := range stored {
		if ev.Event.Type == protocol.EventAcceptStatus && ev.Originator() == bot && len(ev.Event.SequenceList) != 1 {
			t.Errorf("receipt %v names more than one message", ev.Event.SequenceList)
		}
	}
	if got, want := len(contentFrom(stored, bot, -1)), 1+len(asked); got != want {
		t.Errorf("bot published %d messages, want %d (a greeting and one answer each)", got, want)
	}
}

// TestPersonFirst: a person accepts the ring before the delay ends; the bot
// leaves the conversation alone.
func TestPersonFirst(t *testing.T) {
	e := newEnv(t)
	logs := newLogRecorder()
	cfg := e.botConfig(logs)
	cfg.Delay = time.Minute // the person is surely quicker
	startBot(t, cfg)
	bot, alicePID := e.pid(t, "bot"), e.pid(t, "alice")

	alice, err := messaging.NewAgent(messaging.AgentConfig{
		Endpoints: e.ep, Username: "alice", Password: "pw-a", HTTPClient: e.srv.Client(),
		SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := alice.SetAgentState(t.Context(), protocol.AgentOnline); err != nil {
		t.Fatal(err)
	}
	if err := alice.SubscribeRoutingTasks(t.Context()); err != nil {
		t.Fatal(err)
	}
	acol := testenv.Collect(alice.Updates())
	testenv.Start(t, alice.Run)

	cu := newCustomer(t, e)
	logs.waitFor(t, "ring, waiting for a person", 1)
	var ringID string
	acol.WaitFor(t, "alice's ring", func(ups []messaging.Update) bool {
		for _, u := range ups {
			if r, ok := u.(messaging.RoutingUpdate); ok && r.Change.Result.ConversationID == cu.convID {
				for _, ring := range r.Change.Result.RingsDetails {
					if ring.RingState == protocol.RingWaiting {
						ringID = ring.RingID
						return true
					}
				}
			}
		}
		return false
	})
	if err := alice.AcceptRing(t.Context(), ringID); err != nil {
		t.Fatal(err)
	}
	logs.waitFor(t, "ring ended before the delay", 1)

	if _, err := alice.Publish(t.Context(), cu.convID, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "alice here"}); err != nil {
		t.Fatal(err)
	}
	cu.waitReply(t, alicePID, -1)
	seq := cu.say(t, "help")
	// alice reads it; the bot must not.
	if _, err := alice.Publish(t.Context(), cu.convID, protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusRead, SequenceList: protocol.Seqs{seq}}); err != nil {
		t.Fatal(err)
	}
	cu.col.WaitFor(t, "alice's READ", func(ups []messaging.Update) bool {
		for _, ev := range cu.events(ups) {
			if ev.Event.Type == protocol.EventAcceptStatus && ev.Originator() == alicePID {
				return true
			}
		}
		return false
	})
	for _, ev := range e.svc.DialogEvents(cu.convID) {
		if ev.Originator() == bot {
			t.Errorf("the bot published %+v in a conversation a person took", ev.Event)
		}
	}
}

// TestOff: a zero (or negative) Delay turns the bot off: Run returns nil at
// once, without logging in.
func TestOff(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		logs := newLogRecorder()
		cfg := demobot.Config{Delay: d, Logger: slog.New(logs)}
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		err := demobot.Run(ctx, cfg)
		if ctx.Err() != nil {
			t.Errorf("Delay %v: Run waited for ctx", d)
		}
		cancel()
		if err != nil {
			t.Errorf("Delay %v: Run: %v", d, err)
		}
	}
}

// TestWrongPassword: Run gives up and says why.
func TestWrongPassword(t *testing.T) {
	e := newEnv(t)
	cfg := e.botConfig(newLogRecorder())
	cfg.Password = "nope"
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := demobot.Run(ctx, cfg); err == nil || ctx.Err() != nil {
		t.Errorf("Run with a wrong password: %v (ctx %v), want an error at once", err, ctx.Err())
	}
}

// TestSeveralConversations: the bot serves two customers at once, each in
// their own dialog.
func TestSeveralConversations(t *testing.T) {
	e := newEnv(t)
	bot := e.pid(t, "bot")
	startBot(t, e.botConfig(newLogRecorder()))
	a, b := newCustomer(t, e), newCustomer(t, e)
	a.waitReply(t, bot, -1)
	b.waitReply(t, bot, -1)
	sa, sb := a.say(t, "hours"), b.say(t, "price")
	if got := a.waitReply(t, bot, sa); got.Event.Message != demobot.HoursText {
		t.Errorf("a got %q", got.Event.Message)
	}
	if got := b.waitReply(t, bot, sb); got.Event.Message != demobot.PriceText {
		t.Errorf("b got %q", got.Event.Message)
	}
}

// TestReconnectAndRestart: messages written while the bot's socket is cut,
// or while the bot is not running at all, are answered once when it is
// back; nothing is answered twice and the bot does not greet again.
func TestReconnectAndRestart(t *testing.T) {
	e := newEnv(t)
	bot := e.pid(t, "bot")
	ep, proxy := e.viaProxy(t)
	cfg := e.botConfig(newLogRecorder())
	cfg.Endpoints = ep
	r := startBot(t, cfg)
	cu := newCustomer(t, e)
	cu.waitReply(t, bot, -1)
	asked := []int64{cu.say(t, "hours")}
	cu.waitReply(t, bot, asked[0])

	// Cut the bot's socket and write while it reconnects.
	proxy.CutAll()
	asked = append(asked, cu.say(t, "price"))
	if got := cu.waitReply(t, bot, asked[1]); got.Event.Message != demobot.PriceText {
		t.Errorf("after the cut: %q", got.Event.Message)
	}

	// Stop the bot, write, start a new one: it picks the conversation up
	// from the metadata and the history.
	if err := r.Stop(t); err != nil {
		t.Fatal(err)
	}
	asked = append(asked, cu.say(t, "help"))
	startBot(t, cfg)
	if got := cu.waitReply(t, bot, asked[2]); got.Event.Message != demobot.HelpText {
		t.Errorf("after the restart: %q", got.Event.Message)
	}
	asked = append(asked, cu.say(t, "banana"))
	cu.waitReply(t, bot, asked[3])

	stored := e.svc.DialogEvents(cu.convID)
	for _, seq := range asked {
		if diff := cmp.Diff([]string{protocol.StatusAccept, protocol.StatusRead}, receipts(stored, bot, seq)); diff != "" {
			t.Errorf("bot's receipts of #%d (-want +got):\n%s", seq, diff)
		}
	}
	if got, want := len(contentFrom(stored, bot, -1)), 1+len(asked); got != want {
		t.Errorf("bot published %d messages, want %d (a greeting and one answer each)", got, want)
	}
}
