package relay_test

// Bad input from upstream and a huge history (docs/reliability.md, "Bad
// input"). The embedded service never sends garbage, so a small WebSocket
// man-in-the-middle stands between the session and the real service: it
// passes every frame both ways and can inject frames towards the session.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/metrics"
	"github.com/chatwindow/chatwindow/internal/outbox"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/receipts"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

// mitm relays WebSocket connections to the service at target and injects
// frames towards the client on demand.
type mitm struct {
	srv    *httptest.Server
	target string // ws://host:port
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns map[*websocket.Conn]string // client side → its Authorization
	dials int
}

func newMITM(t *testing.T, target string) *mitm {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := &mitm{target: target, ctx: ctx, cancel: cancel, conns: map[*websocket.Conn]string{}}
	m.srv = httptest.NewServer(m)
	t.Cleanup(func() {
		m.cancel()
		m.wg.Wait()
		m.srv.Close()
	})
	return m
}

func (m *mitm) addr() string { return m.srv.Listener.Addr().String() }

// ServeHTTP dials the service with the client's path and credentials, then
// accepts the client and copies frames both ways until either side ends.
func (m *mitm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.wg.Add(1)
	defer m.wg.Done()
	h := http.Header{}
	for _, k := range []string{"Authorization", "Client-Properties"} {
		if v := r.Header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	// Ends when the pair ends or the mitm stops.
	ctx, cancel := context.WithCancel(m.ctx)
	defer cancel()
	up, resp, err := websocket.Dial(ctx, m.target+r.URL.RequestURI(), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		code := http.StatusBadGateway
		if resp != nil {
			code = resp.StatusCode
		}
		http.Error(w, "upstream refused", code)
		return
	}
	defer up.CloseNow()
	down, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer down.CloseNow()
	up.SetReadLimit(-1)
	down.SetReadLimit(-1)
	m.mu.Lock()
	m.conns[down] = h.Get("Authorization")
	m.dials++
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.conns, down)
		m.mu.Unlock()
	}()
	pipe := func(dst, src *websocket.Conn) {
		defer cancel()
		for {
			typ, b, err := src.Read(ctx)
			if err != nil {
				return
			}
			if err := dst.Write(ctx, typ, b); err != nil {
				return
			}
		}
	}
	done := make(chan struct{})
	// Client → service; ends with the pair (cancel).
	go func() {
		defer close(done)
		pipe(up, down)
	}()
	pipe(down, up)
	<-done
}

// inject sends a text frame to every client connection of the token.
func (m *mitm) inject(t *testing.T, token string, frame []byte) {
	t.Helper()
	m.mu.Lock()
	var to []*websocket.Conn
	for c, auth := range m.conns {
		if auth == "jwt "+token {
			to = append(to, c)
		}
	}
	m.mu.Unlock()
	if len(to) == 0 {
		t.Fatal("no connection to inject into")
	}
	for _, c := range to {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		err := c.Write(ctx, websocket.MessageText, frame)
		cancel()
		if err != nil {
			t.Fatalf("inject: %v", err)
		}
	}
}

func (m *mitm) connections() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dials
}

// newMITMWorld is newWorld with the man-in-the-middle in front of the
// service instead of the fault proxy; rate is the service's per-socket
// request rate (0: its default).
func newMITMWorld(t *testing.T, rate float64) (*world, *mitm) {
	t.Helper()
	svc, err := simulator.New(simulator.Config{
		Account: account, Agents: []simulator.Agent{{Name: "alice", Password: "pw"}},
		Logger: testLogger(), SigningKey: testKey(), RateLimit: rate, RateBurst: int(rate),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	ctx, cancel := context.WithCancel(context.Background())
	w := &world{svc: svc, srv: srv, stop: cancel}
	t.Cleanup(func() {
		cancel()
		w.mgr.Wait()
		svc.Close()
		srv.Close()
	})
	m := newMITM(t, "ws"+strings.TrimPrefix(srv.URL, "http"))
	ep, err := messaging.Discover(ctx, srv.Client(), srv.URL, account, messaging.Overrides{AsyncMessagingEnt: m.addr()})
	if err != nil {
		t.Fatal(err)
	}
	w.ep = ep
	w.mgr = relay.NewManager(ctx, relay.Config{
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
	})
	return w, m
}

// consumer connects a plain client of token straight to the service (no
// relay session), for a conversation the test needs beside the session's.
func (w *world) consumer(t *testing.T, token string) *messaging.Consumer {
	t.Helper()
	ep, err := messaging.Discover(t.Context(), w.srv.Client(), w.srv.URL, account, messaging.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := messaging.NewConsumer(messaging.ConsumerConfig{
		Endpoints: ep, Token: messaging.StaticToken(token), HTTPClient: w.srv.Client(),
		SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
	})
	if err != nil {
		t.Fatal(err)
	}
	col := testenv.Collect(c.Updates())
	testenv.Start(t, c.Run)
	col.WaitFor(t, "consumer open", testenv.IsOpen)
	return c
}

func notification(t *testing.T, typ string, body any) []byte {
	t.Helper()
	f, err := protocol.NewNotification(typ, body)
	if err != nil {
		t.Fatal(err)
	}
	b, err := protocol.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func agentText(dialogID string, seq *int64, text string) protocol.MessagingEvent {
	return protocol.MessagingEvent{
		Sequence: seq, OriginatorID: "ghost-agent", OriginatorMetadata: &protocol.OriginatorMetadata{ID: "ghost-agent", Role: protocol.RoleAssignedAgent},
		ServerTimestamp: time.Now().UnixMilli(), DialogID: dialogID, ConversationID: dialogID,
		Event: protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text},
	}
}

// TestUpstreamGarbage: frames from upstream that are not JSON, not valid
// UTF-8, of unknown kinds or types, of the wrong shape, of dialogs the
// session does not follow, or content without a sequence, are logged and
// dropped: the session keeps its one connection (no reconnect), shows none
// of them, publishes no receipt for them, and the agent's next message
// still shows once and gets its ACCEPT and READ.
func TestUpstreamGarbage(t *testing.T) {
	w, m := newMITMWorld(t, 0)
	id := w.identity(t)
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	a, ups := w.agent(t)
	rt.Send("hello")
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "the customer's message sent", 10*time.Second, func() bool { return tb.receipt("hello") == relay.ReceiptSent })
	self, err := messaging.Subject(id.Token)
	if err != nil {
		t.Fatal(err)
	}

	// Another customer's conversation with an agent message in it.
	other := w.identity(t)
	oc := w.consumer(t, other.Token)
	otherConv, err := oc.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{ChannelType: "MESSAGING"})
	if err != nil {
		t.Fatal(err)
	}
	acceptFirstRing(t, a, ups)
	otherSeq, err := a.Publish(t.Context(), otherConv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "for the other customer"})
	if err != nil {
		t.Fatal(err)
	}
	before := m.connections()

	// Control: what the man-in-the-middle injects does reach the session
	// (a chat state of the agent shows as typing).
	m.inject(t, id.Token, notification(t, protocol.TypeMessagingEventNotification, protocol.MessagingEventNotification{Changes: protocol.List[protocol.MessagingEvent]{{
		OriginatorID: a.PID(), OriginatorMetadata: &protocol.OriginatorMetadata{ID: a.PID(), Role: protocol.RoleAssignedAgent}, DialogID: conv, ConversationID: conv,
		Event: protocol.Event{Type: protocol.EventChatState, ChatState: protocol.ChatComposing}}}}))
	waitUntil(t, "the injected chat state shown", 10*time.Second, func() bool {
		v, ok := w.mgr.View(id.SessionID)
		return ok && v.Typing
	})

	ghostChange := protocol.ConversationChange{Type: protocol.ChangeUpsert, Result: protocol.ConversationResult{ConvID: "ghost-conversation",
		ConversationDetails: protocol.ConversationDetails{State: protocol.StateOpen, Stage: protocol.StateOpen, MetaDataLastUpdateTs: time.Now().UnixMilli(),
			Participants: protocol.Participants{List: []protocol.Participant{{ID: self, Role: protocol.RoleConsumer}, {ID: "ghost-agent", Role: protocol.RoleAssignedAgent}}}}}}
	tests := []struct {
		name  string
		frame []byte
	}{
		{"invalid UTF-8", []byte("\xff\xfe\xfd ghost")},
		{"invalid UTF-8 in a notification's strings", []byte("{\"kind\":\"notification\",\"type\":\"ms.MessagingEventNotification\",\"body\":{\"changes\":[{\"sequence\":1,\"dialogId\":\"ghost-\xff\",\"event\":{\"type\":\"ContentEvent\",\"message\":\"ghost \xff\xfe\"}}]}}")},
		{"not JSON", []byte("ghost, not JSON")},
		{"truncated JSON", []byte(`{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[{"sequence":1,"message":"ghost"`)},
		{"JSON array", []byte(`[{"kind":"notification"}]`)},
		{"JSON null", []byte(`null`)},
		{"empty frame", []byte(``)},
		{"no kind", []byte(`{"type":"ms.MessagingEventNotification","body":{}}`)},
		{"unknown kind", []byte(`{"kind":"push","type":"ms.MessagingEventNotification","body":{}}`)},
		{"response to no request", []byte(`{"kind":"resp","reqId":"ghost-42","code":200,"type":"ms.PublishEventResponse","body":{"sequence":99}}`)},
		{"unknown notification type", notification(t, "ms.SomethingNewNotification", map[string]any{"changes": []any{agentText(conv, protocol.Seq(9000), "ghost")}})},
		{"notification without a type", []byte(`{"kind":"notification","body":{"changes":[]}}`)},
		{"body of the wrong shape", []byte(`{"kind":"notification","type":"ms.MessagingEventNotification","body":"ghost"}`)},
		{"changes of the wrong shape", []byte(`{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":{"sequence":"ghost"}}}`)},
		{"an unknown dialog", notification(t, protocol.TypeMessagingEventNotification, protocol.MessagingEventNotification{Changes: protocol.List[protocol.MessagingEvent]{agentText("ghost-dialog", protocol.Seq(1), "ghost")}})},
		{"content without a sequence", notification(t, protocol.TypeMessagingEventNotification, protocol.MessagingEventNotification{Changes: protocol.List[protocol.MessagingEvent]{agentText(conv, nil, "ghost")}})},
		{"a sequence of another conversation", notification(t, protocol.TypeMessagingEventNotification, protocol.MessagingEventNotification{Changes: protocol.List[protocol.MessagingEvent]{agentText(otherConv, protocol.Seq(otherSeq), "ghost")}})},
		{"a receipt of another conversation", notification(t, protocol.TypeMessagingEventNotification, protocol.MessagingEventNotification{Changes: protocol.List[protocol.MessagingEvent]{{
			Sequence: protocol.Seq(otherSeq + 1), OriginatorID: "ghost-agent", DialogID: otherConv,
			Event: protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusRead, SequenceList: protocol.Seqs{0, 1, 2}}}}})},
		{"another conversation's metadata", notification(t, protocol.TypeExConversationChange, protocol.ExConversationChangeNotification{SubscriptionID: "ghost", Changes: protocol.List[protocol.ConversationChange]{ghostChange}})},
		{"metadata of the wrong shape", []byte(`{"kind":"notification","type":"cqm.ExConversationChangeNotification","body":{"changes":[{"type":"UPSERT","result":"ghost"}]}}`)},
	}
	var agentSeqs []int64
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m.inject(t, id.Token, tt.frame)
			text := fmt.Sprintf("after garbage %d", i)
			seq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text})
			if err != nil {
				t.Fatal(err)
			}
			agentSeqs = append(agentSeqs, seq)
			waitUntil(t, "the agent's next message in the tab", 10*time.Second, func() bool {
				tb.mu.Lock()
				defer tb.mu.Unlock()
				return tb.agentSm[seq] > 0
			})
		})
	}

	waitUntil(t, "ACCEPT and READ of every agent message", 10*time.Second, func() bool {
		accept, read := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
		for _, s := range agentSeqs {
			if accept[s] != 1 || read[s] != 1 {
				return false
			}
		}
		return true
	})
	time.Sleep(200 * time.Millisecond) // room for a stray receipt to show up
	accept, read := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
	for s := range accept {
		if !contains(agentSeqs, s) || accept[s] != 1 || read[s] != 1 {
			t.Errorf("sequence %d: %d ACCEPT, %d READ; want one each for the agent's messages only", s, accept[s], read[s])
		}
	}
	for _, e := range w.svc.DialogEvents(otherConv) {
		if e.Originator() == self {
			t.Errorf("the session published into another customer's conversation: %+v", e)
		}
	}
	v, ok := w.mgr.View(id.SessionID)
	if !ok {
		t.Fatal("the session is gone")
	}
	var shown []int64
	for _, msg := range v.Messages {
		if strings.Contains(msg.Text, "ghost") || msg.DialogID != conv {
			t.Errorf("garbage shown: %+v", msg)
		}
		if msg.From == relay.FromAgent {
			shown = append(shown, msg.Seq)
		}
	}
	if !slices.Equal(shown, agentSeqs) {
		t.Errorf("the window shows agent messages %v, want %v (each once, in order)", shown, agentSeqs)
	}
	tb.mu.Lock()
	for _, s := range agentSeqs {
		if tb.agentSm[s] != 1 {
			t.Errorf("agent message %d shown %d times in the tab, want 1", s, tb.agentSm[s])
		}
	}
	tb.mu.Unlock()
	if got := m.connections(); got != before {
		t.Errorf("the garbage cost %d reconnects; want the one connection kept", got-before)
	}
	if tb.connection() != "open" {
		t.Errorf("the banner says %q, want open", tb.connection())
	}
}

// historyTab plays a hidden tab through a long history: it counts every
// agent message it is sent, reports each as delivered (never seen), and,
// when the session drops it for being slow, attaches again as the page
// does on 1013 (counting the drops).
type historyTab struct {
	mu    sync.Mutex
	shown map[int64]int // agent sequence → times added since the last window
	order []int64       // agent sequences in the order of the last window and changes since
	drops int
}

func runHistoryTab(t *testing.T, mgr *relay.Manager, id relay.Identity) *historyTab {
	ht := &historyTab{shown: map[int64]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	// Ends when the test ends (cancel), detaching its tab.
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			rt, err := mgr.Attach(id)
			if err != nil {
				t.Errorf("attach: %v", err)
				return
			}
			pipe := outbox.NewPipe(1)
			rt.Serve(pipe)
			ht.read(ctx, rt, pipe)
			rt.Detach()
			pipe.Close()
			rt.Stop()
			if r, _ := rt.Reason(); r != outbox.Slow {
				return
			}
			ht.mu.Lock()
			ht.drops++
			ht.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ht
}

func (ht *historyTab) read(ctx context.Context, rt *relay.Tab, pipe *outbox.Pipe) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-rt.Done():
			return
		case fr := <-pipe.C:
			var f frame
			if err := json.Unmarshal(fr.Data, &f); err != nil {
				panic(err)
			}
			var added []relay.Message
			ht.mu.Lock()
			switch {
			case f.Window != nil:
				ht.shown, ht.order = map[int64]int{}, nil
				added = f.Window.Messages
			case f.Change.Reset:
				ht.shown, ht.order = map[int64]int{}, nil
				// The messages come with the view, which a Change lacks
				// here: the session's next window has them.
			default:
				added = f.Change.Added
			}
			var items []receipts.Item
			for _, m := range added {
				if m.From == relay.FromAgent {
					ht.shown[m.Seq]++
					ht.order = append(ht.order, m.Seq)
					items = append(items, receipts.Item{DialogID: m.DialogID, Seq: m.Seq})
				}
			}
			ht.mu.Unlock()
			if len(items) > 0 {
				rt.Report("delivered", items)
			}
		}
	}
}

// TestHugeHistoryReplay: an agent wrote 3,000 messages before the
// customer's session started. The session's replay shows all of them, in
// order, once each; the hidden tab reports them, and the service receives
// exactly one ACCEPT per message, in sequenceLists of at most MaxBatch,
// and no READ (nothing was seen).
func TestHugeHistoryReplay(t *testing.T) {
	const n = 3000
	w, _ := newMITMWorld(t, 1e6) // the agent writes as fast as it can
	id := w.identity(t)
	// The conversation exists before the session: the customer opened it
	// from another node (a plain client with the same token).
	c := w.consumer(t, id.Token)
	conv, err := c.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{ChannelType: "MESSAGING"})
	if err != nil {
		t.Fatal(err)
	}
	a, ups := w.agent(t)
	acceptFirstRing(t, a, ups)
	texts := make(map[int64]string, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		// Ends after its share of the messages.
		go func() {
			defer wg.Done()
			for i := g; i < n; i += 8 {
				text := fmt.Sprintf("history %d", i)
				seq, err := a.Publish(context.Background(), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				texts[seq] = text
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for s := range texts {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)

	ht := runHistoryTab(t, w.mgr, id)
	waitUntil(t, "one ACCEPT of every message at the service", 30*time.Second, func() bool {
		accept, _ := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
		return len(accept) >= n
	})
	time.Sleep(200 * time.Millisecond) // room for a duplicate to show up

	v, ok := w.mgr.View(id.SessionID)
	if !ok {
		t.Fatal("the session is gone")
	}
	var got []int64
	for _, m := range v.Messages {
		if m.From != relay.FromAgent {
			continue
		}
		got = append(got, m.Seq)
		if texts[m.Seq] != m.Text {
			t.Errorf("message %d reads %q, want %q", m.Seq, m.Text, texts[m.Seq])
		}
	}
	if !slices.Equal(got, seqs) {
		t.Errorf("the window has %d agent messages, want all %d in sequence order", len(got), len(seqs))
	}
	ht.mu.Lock()
	if !slices.Equal(ht.order, seqs) {
		t.Errorf("the tab was shown %d agent messages (in order: %v), want all %d in order", len(ht.order), slices.IsSorted(ht.order), len(seqs))
	}
	for _, s := range seqs {
		if ht.shown[s] != 1 {
			t.Errorf("message %d shown %d times in the tab's window, want 1", s, ht.shown[s])
			break
		}
	}
	drops := ht.drops
	ht.mu.Unlock()
	if drops > 0 {
		t.Errorf("the tab was dropped %d times for being slow during the replay", drops)
	}

	accept, read := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
	for _, s := range seqs {
		if accept[s] != 1 {
			t.Errorf("message %d: %d ACCEPT, want 1", s, accept[s])
			break
		}
	}
	if len(accept) != n {
		t.Errorf("ACCEPT for %d sequences, want %d", len(accept), n)
	}
	if len(read) != 0 {
		t.Errorf("READ for %d sequences; the tab never saw them", len(read))
	}
	lists := 0
	for _, e := range w.svc.DialogEvents(conv) {
		if e.Event.Type == protocol.EventAcceptStatus && e.Originator() != a.PID() {
			lists++
			if len(e.Event.SequenceList) > receipts.MaxBatch {
				t.Errorf("a sequenceList of %d, over MaxBatch %d", len(e.Event.SequenceList), receipts.MaxBatch)
			}
		}
	}
	t.Logf("%d messages replayed; ACCEPTs in %d sequenceLists; %d drops", n, lists, drops)
}

// TestBadInputReports: a tab's reports of sequences that are unknown, the
// customer's own, not content, or of another session's conversation are
// refused (logged as "report refused") and never published; the report of
// the agent's real message, after them, is published once.
func TestBadInputReports(t *testing.T) {
	w := newWorld(t)
	id := w.identity(t)
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, false)
	a, ups := w.agent(t)
	rt.Send("mine")
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "sent", 10*time.Second, func() bool { return tb.receipt("mine") == relay.ReceiptSent })
	self, err := messaging.Subject(id.Token)
	if err != nil {
		t.Fatal(err)
	}
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
	// Another customer's session, with an agent message in it.
	other := w.identity(t)
	ort, err := w.mgr.Attach(other)
	if err != nil {
		t.Fatal(err)
	}
	otb := runTab(t, ort, false)
	ort.Send("theirs")
	otherConv := acceptFirstRing(t, a, ups)
	waitUntil(t, "the other customer's message sent", 10*time.Second, func() bool { return otb.receipt("theirs") == relay.ReceiptSent })
	otherSeq, err := a.Publish(t.Context(), otherConv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "for the other customer"})
	if err != nil {
		t.Fatal(err)
	}
	// The tab never reports on its own: the rows do. (runTab reports what
	// it is shown, so the agent's real message is written last.)
	tests := []struct {
		name string
		item receipts.Item
	}{
		{"an unknown sequence", receipts.Item{DialogID: conv, Seq: 999}},
		{"a negative sequence", receipts.Item{DialogID: conv, Seq: -1}},
		{"the customer's own message", receipts.Item{DialogID: conv, Seq: own}},
		{"a receipt, not content", receipts.Item{DialogID: conv, Seq: receiptSeq}},
		{"another session's message", receipts.Item{DialogID: otherConv, Seq: otherSeq}},
		{"a dialog that does not exist", receipts.Item{DialogID: "no-such-dialog", Seq: 0}},
		{"an empty dialog id", receipts.Item{DialogID: "", Seq: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt.Report("delivered", []receipts.Item{tt.item})
			rt.Report("seen", []receipts.Item{tt.item})
		})
	}
	agentSeq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "real"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the ACCEPT of the agent's real message", 10*time.Second, func() bool {
		accept, _ := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
		return accept[agentSeq] == 1
	})
	time.Sleep(200 * time.Millisecond) // room for a stray receipt to show up
	accept, read := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
	if len(accept) != 1 || len(read) != 0 {
		t.Errorf("in the customer's conversation: ACCEPT %v READ %v; want only the ACCEPT of %d", accept, read, agentSeq)
	}
	for _, e := range w.svc.DialogEvents(otherConv) {
		if e.Originator() == self {
			t.Errorf("the session published into another session's conversation: %+v", e.Event)
		}
	}
}

// lineCounter is a slog handler that counts the lines of each message.
type lineCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *lineCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *lineCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[r.Message]++
	return nil
}
func (c *lineCounter) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *lineCounter) WithGroup(string) slog.Handler      { return c }

func (c *lineCounter) count(msg string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[msg]
}

// TestReportFloodLogsLittle: a page that sends report after report of
// refused items (50 frames of 200 unknown sequences) gets a few log lines,
// not one per item: one per frame at most, and a handful per session; the
// metrics still count every refusal.
func TestReportFloodLogsLittle(t *testing.T) {
	lines := &lineCounter{n: map[string]int{}}
	m := metrics.New()
	w := newWorld(t, func(_ *simulator.Config, c *relay.Config) {
		if c != nil {
			c.Logger, c.Metrics = slog.New(lines), m
		}
	})
	id := w.identity(t)
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	runTab(t, rt, false)
	items := make([]receipts.Item, 200)
	for i := range items {
		items[i] = receipts.Item{DialogID: "no-such-dialog", Seq: int64(i)}
	}
	for range 50 {
		rt.Report("seen", items)
	}
	// A barrier: the session has handled every report before the view.
	if _, ok := w.mgr.View(id.SessionID); !ok {
		t.Fatal("no session")
	}
	if n := lines.count("report refused"); n < 1 || n > 5 {
		t.Errorf("%d lines of refused reports for 50 frames of 200 items, want 1 to 5", n)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if want := `chatwindow_receipts_refused_total{reason="unknown_dialog"} 10000`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("the metrics lack %q", want)
	}
}
