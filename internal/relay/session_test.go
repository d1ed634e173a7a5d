package relay_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/receipts"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/faultproxy"
	"github.com/chatwindow/chatwindow/internal/testing/livetab"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const account = "777"

// testKey is the shared fixed signing key (no RSA generation per binary).
var testKey = testenv.Key

func testLogger() *slog.Logger { return testenv.Logger("RELAY_TEST_LOG") }

var fastBackoff = testenv.FastBackoff

// jsonRenderer renders views and changes as JSON, so a test tab can read
// what the page would be sent.
type jsonRenderer struct{}

type frame struct {
	Window *relay.View
	Change *relay.Change
	// Connection is the banner's state when the frame was rendered.
	Connection string
}

func (jsonRenderer) Window(v relay.View) ([]byte, error) {
	return json.Marshal(frame{Window: &v, Connection: v.Connection.String()})
}
func (jsonRenderer) Change(v relay.View, ch relay.Change) ([]byte, error) {
	f := frame{Change: &ch, Connection: v.Connection.String()}
	if ch.Reset {
		// As the page does: the whole list is shown anew.
		f.Window = &v
	}
	return json.Marshal(f)
}

// world is the embedded service, a fault proxy in front of it for the
// session's upstream, and an agent connected directly.
type world struct {
	svc   *simulator.Service
	srv   *httptest.Server
	proxy *faultproxy.Proxy
	ep    messaging.Endpoints // through the proxy
	mgr   *relay.Manager
	stop  context.CancelFunc
}

// option changes the service's or the sessions' configuration of a world.
type option func(*simulator.Config, *relay.Config)

func newWorld(t *testing.T, opts ...option) *world {
	t.Helper()
	simCfg := simulator.Config{
		Account: account, Agents: []simulator.Agent{{Name: "alice", Password: "pw"}},
		Logger: testLogger(), SigningKey: testKey(),
	}
	var relayMods []func(*relay.Config)
	for _, o := range opts {
		o(&simCfg, nil)
		relayMods = append(relayMods, func(c *relay.Config) { o(nil, c) })
	}
	svc, err := simulator.New(simCfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	ctx, cancel := context.WithCancel(context.Background())
	proxy, err := faultproxy.New(ctx, srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ep, err := messaging.Discover(ctx, srv.Client(), srv.URL, account, messaging.Overrides{AsyncMessagingEnt: proxy.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{svc: svc, srv: srv, proxy: proxy, ep: ep, stop: cancel}
	cfg := relay.Config{
		Logger:      testLogger(),
		Renderer:    jsonRenderer{},
		Grace:       time.Second,
		FlushWindow: 20 * time.Millisecond,
		Consumer: func(token string, tap func(bool, []byte)) (relay.Upstream, error) {
			return messaging.NewConsumer(messaging.ConsumerConfig{
				Endpoints: ep, Token: messaging.StaticToken(token), HTTPClient: srv.Client(), Tap: tap,
				SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
			})
		},
	}
	for _, m := range relayMods {
		m(&cfg)
	}
	w.mgr = relay.NewManager(ctx, cfg)
	t.Cleanup(func() {
		cancel()
		w.mgr.Wait()
		proxy.Close()
		svc.Close()
		srv.Close()
	})
	return w
}

func (w *world) identity(t *testing.T) relay.Identity {
	t.Helper()
	directEP, err := messaging.Discover(t.Context(), w.srv.Client(), w.srv.URL, account, messaging.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := messaging.Signup(t.Context(), w.srv.Client(), directEP)
	if err != nil {
		t.Fatal(err)
	}
	return relay.Identity{SessionID: "s-" + tok[len(tok)-8:], Token: tok}
}

// agent logs in directly (not through the proxy), goes ONLINE and accepts
// the first ring; it returns the conversation id.
func (w *world) agent(t *testing.T) (*messaging.Agent, <-chan messaging.Update) {
	t.Helper()
	ep, err := messaging.Discover(t.Context(), w.srv.Client(), w.srv.URL, account, messaging.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := messaging.NewAgent(messaging.AgentConfig{
		Endpoints: ep, Username: "alice", Password: "pw", HTTPClient: w.srv.Client(),
		SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.SetAgentState(t.Context(), protocol.AgentOnline); err != nil {
		t.Fatal(err)
	}
	if err := a.SubscribeRoutingTasks(t.Context()); err != nil {
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
	return a, a.Updates()
}

// converse attaches a tab of identity id, has the customer write text and
// an agent take the conversation, and waits until text is sent.
func (w *world) converse(t *testing.T, id relay.Identity, text string) (*relay.Tab, *tab, *messaging.Agent, string) {
	t.Helper()
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	a, ups := w.agent(t)
	rt.Send(text)
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "the first message sent", 10*time.Second, func() bool { return tb.receipt(text) == relay.ReceiptSent })
	return rt, tb, a, conv
}

func acceptFirstRing(t *testing.T, a *messaging.Agent, ups <-chan messaging.Update) string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case u := <-ups:
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

// tab plays a browser tab: it reads what the session sends and reports
// every agent message as delivered and then seen, as a visible page does.
type tab struct {
	mu      sync.Mutex
	agentSm map[int64]int // agent message sequence → times added
	own     map[string]string
	files   map[string]relay.Message // own files by caption, as last shown
	conn    []string
	window  relay.View // the last whole window
}

func runTab(t *testing.T, rt *relay.Tab, seen bool) *tab {
	tb := &tab{agentSm: map[int64]int{}, own: map[string]string{}, files: map[string]relay.Message{}}
	livetab.Follow(t, rt.Tab, func(f frame) { tb.apply(rt, f, seen) })
	return tb
}

func (tb *tab) apply(rt *relay.Tab, f frame, seen bool) {
	var added, updated []relay.Message
	tb.mu.Lock()
	if n := len(tb.conn); n == 0 || tb.conn[n-1] != f.Connection {
		tb.conn = append(tb.conn, f.Connection)
	}
	tb.mu.Unlock()
	if f.Window != nil {
		added = f.Window.Messages
		tb.mu.Lock()
		tb.window = *f.Window
		tb.mu.Unlock()
	}
	if f.Change != nil && f.Window == nil {
		added, updated = f.Change.Added, f.Change.Updated
	}
	var items []receipts.Item
	tb.mu.Lock()
	for _, m := range append(added, updated...) {
		switch m.From {
		case relay.FromAgent:
			if f.Window == nil || tb.agentSm[m.Seq] == 0 {
				tb.agentSm[m.Seq]++
			}
			items = append(items, receipts.Item{DialogID: m.DialogID, Seq: m.Seq})
		case relay.FromConsumer:
			tb.own[m.Text] = m.Delivery
			if m.File != nil {
				tb.files[m.File.Caption] = m
			}
		}
	}
	tb.mu.Unlock()
	if len(items) > 0 {
		rt.Report("delivered", items)
		if seen {
			rt.Report("seen", items)
		}
	}
}

func (tb *tab) connection() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.conn) == 0 {
		return ""
	}
	return tb.conn[len(tb.conn)-1]
}

func (tb *tab) receipt(text string) string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.own[text]
}

// consumerReceipts counts, per sequence, the ACCEPTs and READs the
// service stored from anyone but the agent.
func consumerReceipts(evs []protocol.MessagingEvent, agentPID string) (accept, read map[int64]int) {
	accept, read = map[int64]int{}, map[int64]int{}
	for _, e := range evs {
		if e.Event.Type != protocol.EventAcceptStatus || e.Originator() == agentPID {
			continue
		}
		for _, n := range e.Event.SequenceList {
			switch e.Event.Status {
			case protocol.StatusAccept:
				if read[n] > 0 {
					accept[n] += 1000 // an ACCEPT after READ: flagged below
				}
				accept[n]++
			case protocol.StatusRead:
				read[n]++
			}
		}
	}
	return accept, read
}

func waitUntil(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestReceiptsExactlyOnceAcrossCuts: an agent writes while the session's
// upstream is cut again and again; the tab shows every agent message once,
// and the service receives exactly one ACCEPT and one READ per message,
// ACCEPT never after READ (docs/protocol.md, Receipts: once, never
// backwards; never lost, never early).
func TestReceiptsExactlyOnceAcrossCuts(t *testing.T) {
	w := newWorld(t)
	id := w.identity(t)
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	a, ups := w.agent(t)
	rt.Send("hello")
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "the customer's message sent", 10*time.Second, func() bool { return tb.receipt("hello") != relay.ReceiptPending && tb.receipt("hello") != "" })

	const n = 40
	cutsDone := make(chan int)
	// Cuts the upstream every 40 ms while the agent writes; ends after the
	// writing is done (stop closed).
	stop := make(chan struct{})
	go func() {
		cuts := 0
		tick := time.NewTicker(40 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				cutsDone <- cuts
				return
			case <-tick.C:
				cuts += w.proxy.CutAll()
			}
		}
	}()
	var agentSeqs []int64
	for i := range n {
		seq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: fmt.Sprintf("agent %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		agentSeqs = append(agentSeqs, seq)
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	cuts := <-cutsDone
	if cuts == 0 {
		t.Fatal("the proxy cut nothing: the test proved nothing")
	}

	waitUntil(t, "ACCEPT and READ of every agent message at the service", 20*time.Second, func() bool {
		accept, read := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
		for _, s := range agentSeqs {
			if accept[s] == 0 || read[s] == 0 {
				return false
			}
		}
		return true
	})
	time.Sleep(300 * time.Millisecond) // room for a duplicate to show up
	accept, read := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
	for _, s := range agentSeqs {
		if accept[s] != 1 || read[s] != 1 {
			t.Errorf("sequence %d: %d ACCEPT, %d READ at the service; want exactly 1 each (1000+ means an ACCEPT after READ)", s, accept[s], read[s])
		}
	}
	for s := range accept {
		if !contains(agentSeqs, s) {
			t.Errorf("a receipt for sequence %d, which is not an agent message", s)
		}
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, s := range agentSeqs {
		if tb.agentSm[s] != 1 {
			t.Errorf("agent message %d shown %d times in the tab, want 1", s, tb.agentSm[s])
		}
	}
	t.Logf("%d cuts, %d agent messages, each with one ACCEPT and one READ", cuts, n)
}

// TestHiddenTabOnlyAccepts: a tab that inserts messages but never sees
// them gets ACCEPT published, never READ (docs/protocol.md, Receipts:
// ACCEPT, READ).
func TestHiddenTabOnlyAccepts(t *testing.T) {
	w := newWorld(t)
	rt, err := w.mgr.Attach(w.identity(t))
	if err != nil {
		t.Fatal(err)
	}
	runTab(t, rt, false)
	a, ups := w.agent(t)
	rt.Send("hi")
	conv := acceptFirstRing(t, a, ups)
	seq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "ACCEPT at the service", 10*time.Second, func() bool {
		accept, _ := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
		return accept[seq] == 1
	})
	time.Sleep(200 * time.Millisecond)
	if _, read := consumerReceipts(w.svc.DialogEvents(conv), a.PID()); read[seq] != 0 {
		t.Errorf("READ published for a message no tab saw")
	}
}

// TestSecondTabAndTicks: a second tab of the same session gets the window
// with the history, the agent's receipts move the customer's ticks in
// both, and reports from both tabs publish one receipt.
func TestSecondTabAndTicks(t *testing.T) {
	w := newWorld(t)
	id := w.identity(t)
	rt1, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	tb1 := runTab(t, rt1, true)
	a, ups := w.agent(t)
	rt1.Send("question")
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "sent", 10*time.Second, func() bool { return tb1.receipt("question") == relay.ReceiptSent })
	agentSeq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "answer"})
	if err != nil {
		t.Fatal(err)
	}

	rt2, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	tb2 := runTab(t, rt2, true)
	if w.mgr.Sessions() != 1 {
		t.Errorf("%d sessions for one identity, want 1", w.mgr.Sessions())
	}
	waitUntil(t, "both receipts of the answer", 10*time.Second, func() bool {
		accept, read := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
		return accept[agentSeq] >= 1 && read[agentSeq] >= 1
	})
	// The customer's message: find its sequence and have the agent read it.
	var mine int64 = -1
	for _, e := range w.svc.DialogEvents(conv) {
		if e.Event.Type == protocol.EventContent && e.Event.Message == "question" {
			mine = *e.Sequence
		}
	}
	if _, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusAccept, SequenceList: protocol.Seqs{mine}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "accepted ticks in both tabs", 10*time.Second, func() bool {
		return tb1.receipt("question") == relay.ReceiptAccepted && tb2.receipt("question") == relay.ReceiptAccepted
	})
	if _, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusRead, SequenceList: protocol.Seqs{mine}}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "read ticks in both tabs", 10*time.Second, func() bool {
		return tb1.receipt("question") == relay.ReceiptRead && tb2.receipt("question") == relay.ReceiptRead
	})
	time.Sleep(200 * time.Millisecond)
	accept, read := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
	if accept[agentSeq] != 1 || read[agentSeq] != 1 {
		t.Errorf("two tabs: %d ACCEPT, %d READ; want 1 each", accept[agentSeq], read[agentSeq])
	}
}

// TestRefusedReports: sequences that are unknown, the customer's own, not
// content, or of another dialog are never published (docs/protocol.md,
// Receipts: only the truth).
func TestRefusedReports(t *testing.T) {
	w := newWorld(t)
	rt, err := w.mgr.Attach(w.identity(t))
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, false)
	a, ups := w.agent(t)
	rt.Send("mine")
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "sent", 10*time.Second, func() bool { return tb.receipt("mine") == relay.ReceiptSent })
	own := int64(-1)
	for _, e := range w.svc.DialogEvents(conv) {
		if e.Event.Message == "mine" {
			own = *e.Sequence
		}
	}
	receiptSeq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusRead, SequenceList: protocol.Seqs{own}})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the agent's receipt applied", 10*time.Second, func() bool { return tb.receipt("mine") == relay.ReceiptRead })
	for _, items := range [][]receipts.Item{
		{{DialogID: conv, Seq: own}},         // the customer's own message
		{{DialogID: conv, Seq: receiptSeq}},  // a receipt, not content
		{{DialogID: conv, Seq: 999}},         // unknown
		{{DialogID: "other-dialog", Seq: 0}}, // another dialog
	} {
		rt.Report("delivered", items)
		rt.Report("seen", items)
	}
	time.Sleep(300 * time.Millisecond)
	accept, read := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
	if len(accept) != 0 || len(read) != 0 {
		t.Errorf("refused reports were published: ACCEPT %v READ %v", accept, read)
	}
}

func contains(s []int64, v int64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestOutage: while the upstream is down the banner says so, what the
// customer writes waits as pending, and goes out once (in order) when the
// connection is back.
func TestOutage(t *testing.T) {
	w := newWorld(t)
	rt, err := w.mgr.Attach(w.identity(t))
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	a, ups := w.agent(t)
	rt.Send("before")
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "open and sent", 10*time.Second, func() bool {
		return tb.connection() == "open" && tb.receipt("before") == relay.ReceiptSent
	})

	w.proxy.Pause()
	w.proxy.CutAll()
	waitUntil(t, "the banner to say reconnecting", 10*time.Second, func() bool { return tb.connection() == "reconnecting" })
	rt.Send("during 1")
	rt.Send("during 2")
	waitUntil(t, "both pending", 5*time.Second, func() bool {
		return tb.receipt("during 1") == relay.ReceiptPending && tb.receipt("during 2") == relay.ReceiptPending
	})
	time.Sleep(200 * time.Millisecond)
	if got := tb.receipt("during 1"); got != relay.ReceiptPending {
		t.Fatalf("during the outage the message became %q, want pending", got)
	}

	w.proxy.Resume()
	waitUntil(t, "back open with both sent", 15*time.Second, func() bool {
		return tb.connection() == "open" && tb.receipt("during 1") == relay.ReceiptSent && tb.receipt("during 2") == relay.ReceiptSent
	})
	var texts []string
	for _, e := range w.svc.DialogEvents(conv) {
		if e.Event.Type == protocol.EventContent && e.Originator() != a.PID() {
			texts = append(texts, e.Event.Message)
		}
	}
	if got, want := fmt.Sprint(texts), "[before during 1 during 2]"; got != want {
		t.Errorf("the service has %s, want %s (each once, in order)", got, want)
	}
}
