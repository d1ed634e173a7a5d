package desks_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatwindow/chatwindow/internal/desks"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/outbox"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/receipts"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/livetab"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const account = "777"

// testKey is the shared fixed signing key (no RSA generation per binary).
var testKey = testenv.Key

func testLogger() *slog.Logger { return testenv.Logger("CONSOLE_TEST_LOG") }

var fastBackoff = testenv.FastBackoff

// jsonRenderer renders views and changes as JSON, so a test tab can read
// what the page would be sent.
type jsonRenderer struct{}

type frame struct {
	View      desks.View
	Desk      bool
	Change    *desks.Change
	SignedOut bool
}

func (jsonRenderer) Desk(v desks.View) ([]byte, error) {
	return json.Marshal(frame{View: v, Desk: true})
}
func (jsonRenderer) Change(v desks.View, ch desks.Change) ([]byte, error) {
	return json.Marshal(frame{View: v, Change: &ch})
}
func (jsonRenderer) SignedOut() ([]byte, error) { return json.Marshal(frame{SignedOut: true}) }

// world is the embedded service on loopback and a desk manager whose
// agents reach it through the messaging client.
type world struct {
	srv  *httptest.Server
	ep   messaging.Endpoints
	mgr  *desks.Manager
	stop context.CancelFunc
}

// newWorld's mods change the service's and the desks' configurations.
func newWorld(t *testing.T, mods ...func(*simulator.Config, *desks.Config)) *world {
	t.Helper()
	return newWorldWrapped(t, nil, mods...)
}

// newWorldWrapped is newWorld whose agents' connections go through wrap
// (to count or fail calls) when it is not nil.
func newWorldWrapped(t *testing.T, wrap func(desks.Upstream) desks.Upstream, mods ...func(*simulator.Config, *desks.Config)) *world {
	t.Helper()
	scfg := simulator.Config{
		Account: account, Agents: []simulator.Agent{{Name: "alice", Password: "pw"}},
		Logger: testLogger(), SigningKey: testKey(),
	}
	var dcfg desks.Config
	for _, m := range mods {
		m(&scfg, &dcfg)
	}
	svc, err := simulator.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	ep, err := messaging.Discover(t.Context(), srv.Client(), srv.URL, account, messaging.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &world{srv: srv, ep: ep, stop: cancel}
	w.mgr = desks.NewManager(ctx, desks.Config{
		Skills:        dcfg.Skills,
		Logger:        testLogger(),
		Renderer:      jsonRenderer{},
		Grace:         time.Second,
		SignInTimeout: 5 * time.Second,
		FlushWindow:   20 * time.Millisecond,
		TypingTimeout: 300 * time.Millisecond,
		Agent: func(_ context.Context, username, password string) (desks.Upstream, error) {
			a, err := messaging.NewAgent(messaging.AgentConfig{
				Endpoints: ep, Username: username, Password: password, HTTPClient: srv.Client(),
				SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
			})
			if err != nil || wrap == nil {
				return a, err
			}
			return wrap(a), nil
		},
	})
	t.Cleanup(func() {
		cancel()
		w.mgr.Wait()
		svc.Close()
		srv.Close()
	})
	return w
}

// customer is a consumer on its own connection, recording what it gets.
type customer struct {
	*messaging.Consumer
	mu   sync.Mutex
	ups  []messaging.Update
	wake chan struct{}
}

func (w *world) customer(t *testing.T) *customer {
	t.Helper()
	tok, err := messaging.Signup(t.Context(), w.srv.Client(), w.ep)
	if err != nil {
		t.Fatal(err)
	}
	return w.customerWith(t, tok)
}

// customerWith is a customer connected with the consumer token tok.
func (w *world) customerWith(t *testing.T, tok string) *customer {
	t.Helper()
	c, err := messaging.NewConsumer(messaging.ConsumerConfig{
		Endpoints: w.ep, Token: messaging.StaticToken(tok), HTTPClient: w.srv.Client(),
		SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
	})
	if err != nil {
		t.Fatal(err)
	}
	cu := &customer{Consumer: c, wake: make(chan struct{})}
	if err := c.SubscribeConversations(t.Context(), protocol.SubscribeExConversations{ConvState: protocol.Strings{protocol.StateOpen, protocol.StateClose}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	// Run and the recorder end when the test ends.
	go func() {
		defer wg.Done()
		_ = c.Run(ctx)
	}()
	go func() {
		defer wg.Done()
		for u := range c.Updates() {
			cu.mu.Lock()
			cu.ups = append(cu.ups, u)
			close(cu.wake)
			cu.wake = make(chan struct{})
			cu.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	cu.waitFor(t, "connected", func(ups []messaging.Update) bool {
		return slices.ContainsFunc(ups, func(u messaging.Update) bool {
			s, ok := u.(messaging.StateChange)
			return ok && s.State == messaging.StateOpen
		})
	})
	return cu
}

func (c *customer) waitFor(t *testing.T, what string, pred func([]messaging.Update) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		c.mu.Lock()
		ups, wake := slices.Clone(c.ups), c.wake
		c.mu.Unlock()
		if pred(ups) {
			return
		}
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("customer: waiting for %s", what)
		}
	}
}

// receipts counts the agent's receipts of status per sequence.
func (c *customer) receipts(status string) map[int64]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := map[int64]int{}
	for _, u := range c.ups {
		e, ok := u.(messaging.EventUpdate)
		if !ok || e.Event.Event.Type != protocol.EventAcceptStatus || e.Event.Event.Status != status ||
			e.Event.OriginatorMetadata == nil || e.Event.OriginatorMetadata.Role == protocol.RoleConsumer {
			continue
		}
		for _, s := range e.Event.Event.SequenceList {
			n[s]++
		}
	}
	return n
}

// start opens a conversation with a first message; it returns its id and
// the message's sequence.
func (c *customer) start(t *testing.T, text string) (string, int64) {
	t.Helper()
	id, err := c.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{ChannelType: "MESSAGING"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Follow(t.Context(), id, id, 0); err != nil {
		t.Fatal(err)
	}
	return id, c.say(t, id, text)
}

func (c *customer) say(t *testing.T, convID, text string) int64 {
	t.Helper()
	seq, err := c.Publish(t.Context(), convID, convID, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text})
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func (c *customer) publish(t *testing.T, convID string, ev protocol.Event) {
	t.Helper()
	if _, err := c.Publish(t.Context(), convID, convID, ev); err != nil {
		t.Fatal(err)
	}
}

// tab plays a console tab: it keeps the last view and the selected
// conversation's messages as the page would show them.
type tab struct {
	*desks.Tab
	mu        sync.Mutex
	view      desks.View
	msgs      []desks.Message
	signedOut bool
	wake      chan struct{}
}

func attach(t *testing.T, mgr *desks.Manager, deskID string) *tab {
	t.Helper()
	ct, err := mgr.Attach(deskID)
	if err != nil {
		t.Fatal(err)
	}
	tb := &tab{Tab: ct, wake: make(chan struct{})}
	livetab.Follow(t, ct.Tab, tb.apply)
	return tb
}

func (tb *tab) apply(f frame) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	defer func() {
		close(tb.wake)
		tb.wake = make(chan struct{})
	}()
	if f.SignedOut {
		tb.signedOut = true
		return
	}
	tb.view = f.View
	switch {
	case f.Desk || (f.Change != nil && f.Change.Thread.Reset):
		tb.msgs = nil
		if f.View.Selected != nil {
			tb.msgs = f.View.Selected.Messages
		}
	case f.Change != nil:
		tb.msgs = append(tb.msgs, f.Change.Thread.Added...)
		for _, m := range f.Change.Thread.Updated {
			if i := slices.IndexFunc(tb.msgs, func(x desks.Message) bool { return x.Key == m.Key }); i >= 0 {
				tb.msgs[i] = m
			}
		}
	}
}

func (tb *tab) waitFor(t *testing.T, what string, pred func(v desks.View, msgs []desks.Message) bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		tb.mu.Lock()
		v, msgs, wake := tb.view, slices.Clone(tb.msgs), tb.wake
		tb.mu.Unlock()
		if pred(v, msgs) {
			return
		}
		select {
		case <-wake:
		case <-deadline:
			t.Fatalf("tab: waiting for %s; view %+v, messages %+v", what, v, msgs)
		}
	}
}

func find(msgs []desks.Message, text string) (desks.Message, bool) {
	i := slices.IndexFunc(msgs, func(m desks.Message) bool { return m.Text == text })
	if i < 0 {
		return desks.Message{}, false
	}
	return msgs[i], true
}

func TestSignInRefused(t *testing.T) {
	w := newWorld(t)
	_, err := w.mgr.SignIn(t.Context(), "alice", "wrong")
	if !errors.Is(err, desks.ErrBadCredentials) {
		t.Fatalf("SignIn with a wrong password = %v, want ErrBadCredentials", err)
	}
	if _, err := w.mgr.Attach("nope"); !errors.Is(err, desks.ErrNoDesk) {
		t.Errorf("Attach to no desk = %v, want ErrNoDesk", err)
	}
	if n := w.mgr.Desks(); n != 0 {
		t.Errorf("%d desks after a refused sign-in", n)
	}
}

// TestDesk: ring, accept, history, READ of what the agent saw, the V
// states of the agent's answer from the customer's receipts, typing, and
// close, all through the real service.
func TestDesk(t *testing.T) {
	w := newWorld(t)
	deskID, err := w.mgr.SignIn(t.Context(), "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	tb := attach(t, w.mgr, deskID)
	tb.waitFor(t, "the desk open", func(v desks.View, _ []desks.Message) bool {
		return v.Connection == messaging.StateOpen && v.AgentName == "alice"
	})

	cu := w.customer(t)
	convID, first := cu.start(t, "Hello?")
	var ringID string
	tb.waitFor(t, "the ring", func(v desks.View, _ []desks.Message) bool {
		for _, r := range v.Rings {
			if r.ConversationID == convID {
				ringID = r.ID
				return true
			}
		}
		return false
	})
	tb.Accept(ringID)
	tb.waitFor(t, "the conversation shown with its history", func(v desks.View, msgs []desks.Message) bool {
		m, ok := find(msgs, "Hello?")
		return v.Selected != nil && v.Selected.ID == convID && len(v.Rings) == 0 && ok && m.From == desks.FromConsumer && m.Seq == first
	})
	tb.waitFor(t, "one unread", func(v desks.View, _ []desks.Message) bool {
		return len(v.Conversations) == 1 && v.Conversations[0].Unread == 1 && v.Conversations[0].Last.Text == "Hello?"
	})

	// Seen in the tab: ACCEPT then READ, once each.
	tb.Report("delivered", []receipts.Item{{DialogID: convID, Seq: first}})
	tb.Report("seen", []receipts.Item{{DialogID: convID, Seq: first}})
	tb.Report("seen", []receipts.Item{{DialogID: convID, Seq: first}})
	cu.waitFor(t, "the agent's READ", func([]messaging.Update) bool { return cu.receipts(protocol.StatusRead)[first] > 0 })
	tb.waitFor(t, "nothing unread", func(v desks.View, _ []desks.Message) bool { return v.Conversations[0].Unread == 0 })

	// The agent answers: sent, then the customer's ACCEPT and READ.
	tb.Send("", "How can I help?")
	var answer int64
	tb.waitFor(t, "the answer sent", func(_ desks.View, msgs []desks.Message) bool {
		m, ok := find(msgs, "How can I help?")
		answer = m.Seq
		return ok && m.Own && m.Delivery == desks.VSent && m.HasSeq && !m.SentAt.IsZero()
	})
	// Reports of the agent's own message are refused: never receipted.
	tb.Report("seen", []receipts.Item{{DialogID: convID, Seq: answer}})
	cu.publish(t, convID, protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusAccept, SequenceList: protocol.Seqs{answer}})
	tb.waitFor(t, "two V", func(_ desks.View, msgs []desks.Message) bool {
		m, _ := find(msgs, "How can I help?")
		return m.Delivery == desks.VAccepted && !m.AcceptedAt.IsZero()
	})
	cu.publish(t, convID, protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusRead, SequenceList: protocol.Seqs{answer}})
	tb.waitFor(t, "read", func(_ desks.View, msgs []desks.Message) bool {
		m, _ := find(msgs, "How can I help?")
		return m.Delivery == desks.VRead && !m.ReadAt.IsZero()
	})

	// The customer types; the indicator ends on its own after the timeout.
	cu.publish(t, convID, protocol.Event{Type: protocol.EventChatState, ChatState: protocol.ChatComposing})
	tb.waitFor(t, "the customer typing", func(v desks.View, _ []desks.Message) bool { return v.Selected != nil && v.Selected.ConsumerTyping })
	tb.waitFor(t, "typing timed out", func(v desks.View, _ []desks.Message) bool { return v.Selected != nil && !v.Selected.ConsumerTyping })

	// The agent's typing reaches the customer.
	tb.Typing(protocol.ChatComposing)
	cu.waitFor(t, "the agent typing", func(ups []messaging.Update) bool {
		return slices.ContainsFunc(ups, func(u messaging.Update) bool {
			e, ok := u.(messaging.EventUpdate)
			return ok && e.Event.Event.Type == protocol.EventChatState && e.Event.Event.ChatState == protocol.ChatComposing &&
				e.Event.OriginatorMetadata != nil && e.Event.OriginatorMetadata.Role != protocol.RoleConsumer
		})
	})

	tb.Close("")
	tb.waitFor(t, "closed", func(v desks.View, _ []desks.Message) bool { return v.Selected != nil && v.Selected.Closed })
	cu.waitFor(t, "the conversation closed", func(ups []messaging.Update) bool {
		return slices.ContainsFunc(ups, func(u messaging.Update) bool {
			c, ok := u.(messaging.ConversationUpdate)
			return ok && c.Change.Result.ConvID == convID && c.Change.Result.ConversationDetails.Stage == protocol.StateClose
		})
	})

	for status, want := range map[string]map[int64]int{
		protocol.StatusAccept: {first: 1},
		protocol.StatusRead:   {first: 1},
	} {
		if got := cu.receipts(status); !mapsEqual(got, want) {
			t.Errorf("the agent's %s receipts per sequence = %v, want %v", status, got, want)
		}
	}
}

func mapsEqual(a, b map[int64]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestDeskReloadAndSignOut: a second tab (a reload) gets the desk anew
// with what was read, and no receipt is repeated; signing out tells every
// tab and ends the desk.
func TestDeskReloadAndSignOut(t *testing.T) {
	w := newWorld(t)
	deskID, err := w.mgr.SignIn(t.Context(), "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	tb := attach(t, w.mgr, deskID)
	cu := w.customer(t)
	convID, first := cu.start(t, "Hi")
	var ringID string
	tb.waitFor(t, "the ring", func(v desks.View, _ []desks.Message) bool {
		if len(v.Rings) > 0 {
			ringID = v.Rings[0].ID
		}
		return ringID != ""
	})
	tb.Accept(ringID)
	tb.waitFor(t, "the message", func(_ desks.View, msgs []desks.Message) bool { _, ok := find(msgs, "Hi"); return ok })
	tb.Report("seen", []receipts.Item{{DialogID: convID, Seq: first}})
	cu.waitFor(t, "READ", func([]messaging.Update) bool { return cu.receipts(protocol.StatusRead)[first] > 0 })

	second := attach(t, w.mgr, deskID)
	second.Open(convID)
	second.waitFor(t, "the conversation in a second tab", func(v desks.View, msgs []desks.Message) bool {
		m, ok := find(msgs, "Hi")
		return v.Selected != nil && ok && m.Read && v.Conversations[0].Unread == 0
	})
	second.Report("delivered", []receipts.Item{{DialogID: convID, Seq: first}})
	second.Report("seen", []receipts.Item{{DialogID: convID, Seq: first}})
	time.Sleep(200 * time.Millisecond) // room for a repeated receipt
	if n := cu.receipts(protocol.StatusRead)[first]; n != 1 {
		t.Errorf("%d READs of %d, want 1", n, first)
	}
	if n := cu.receipts(protocol.StatusAccept)[first]; n != 1 {
		t.Errorf("%d ACCEPTs of %d, want 1", n, first)
	}

	w.mgr.SignOut(deskID)
	for _, x := range []*tab{tb, second} {
		x.waitFor(t, "signed out", func(desks.View, []desks.Message) bool {
			x.mu.Lock()
			defer x.mu.Unlock()
			return x.signedOut
		})
		select {
		case <-x.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("the tab was not let go after sign-out")
		}
		if r, _ := x.Reason(); r != outbox.SignedOut {
			t.Error("the tab does not say it was signed out")
		}
	}
	if _, err := w.mgr.Attach(deskID); !errors.Is(err, desks.ErrNoDesk) {
		t.Errorf("Attach after sign-out = %v, want ErrNoDesk", err)
	}
}

// TestDeskTabCap: a desk takes MaxTabs tabs (16); one more is let go as
// too many, and a place freed by a tab that left is taken again.
func TestDeskTabCap(t *testing.T) {
	w := newWorld(t)
	deskID, err := w.mgr.SignIn(t.Context(), "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	var tabs []*tab
	for range 16 {
		tabs = append(tabs, attach(t, w.mgr, deskID))
	}
	extra := attach(t, w.mgr, deskID)
	select {
	case <-extra.Done():
		if r, _ := extra.Reason(); r != outbox.TooMany {
			t.Errorf("the 17th tab was let go as %v, want TooMany", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the 17th tab was taken")
	}
	tabs[0].Detach()
	again := attach(t, w.mgr, deskID)
	again.waitFor(t, "the desk in a tab after one left", func(v desks.View, _ []desks.Message) bool { return v.AgentName == "alice" })
	select {
	case <-again.Done():
		t.Error("a tab after one left was refused")
	default:
	}
}
