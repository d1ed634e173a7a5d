package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/testing/faultproxy"
	"github.com/chatwindow/chatwindow/internal/testing/pageclient"
)

// TestFaults (docs/reliability.md, "Faults"): live scripted conversations
// while a fault proxy cuts the window's upstream connections at random
// points, and the customers' tabs drop their sockets and reload. Then
// every agent message must be shown exactly once in every tab, in sequence
// order; every ACCEPT and READ due must have reached the service exactly
// once, ACCEPT not after READ; no customer message lost or sent twice.
//
// `chatwindow simulate` is the service (started through run()); the agents
// talk to it directly; the window's consumer sockets go through the proxy.
// CHATWINDOW_CUTS sets the number of cuts (`make reliability`: 1000).
func TestFaults(t *testing.T) {
	cuts := 60
	if v := os.Getenv("CHATWINDOW_CUTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CHATWINDOW_CUTS=%q: want a positive number", v)
		}
		cuts = n
	}
	const (
		sessions   = 4
		tabsEach   = 2
		agentEvery = 250 * time.Millisecond // each agent writes this often
		settleTime = 60 * time.Second       // bound on the recovery after the last fault
	)

	password := rand.Text()[:16]
	args := []string{"simulate", "-addr", "127.0.0.1:0", "-account", "12345678"}
	for i := range sessions {
		args = append(args, "-agent", fmt.Sprintf("agent%d:%s", i, password))
	}
	sim, _ := startRun(t, args...)
	base := sim.wait(t, listening, 15*time.Second)
	proxy, err := faultproxy.New(context.Background(), strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = proxy.Close() })
	logs := &lockedBuffer{}
	// The window as run() wires it, on the account through the proxy, with
	// a short reconnect back-off: with run()'s default (up to 30 s, reset
	// only after 10 s up) a thousand cuts in minutes would take an hour.
	win, _ := startRunLog(t, map[string]string{
		"LP_ACCOUNT": "12345678", "LP_CSDS": base, "LP_ASYNCMESSAGINGENT": proxy.Addr(),
		"CHATWINDOW_ADDR": "127.0.0.1:0", "CHATWINDOW_LOG_LEVEL": "info",
	}, logs, "-reconnect-base", "20ms", "-reconnect-max", "500ms")
	chatURL := win.wait(t, regexp.MustCompile(`chat window on (\S+)`), 15*time.Second)
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		t.Logf("the window's log (last lines):\n%s", logs.tail(40))
		// CHATWINDOW_FAULTS_LOG=FILE keeps the whole log of a failed run.
		if path := os.Getenv("CHATWINDOW_FAULTS_LOG"); path != "" {
			if err := os.WriteFile(path, []byte(logs.String()), 0o644); err != nil {
				t.Errorf("keep the window's log: %v", err)
			}
		}
	})

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	// The sessions: a customer with its tabs, and its own agent.
	ss := make([]*faultSession, sessions)
	for i := range ss {
		s := &faultSession{n: i, sent: map[string]bool{}, unsure: map[string]bool{}}
		ss[i] = s
		s.agent = startFaultAgent(t, ctx, &wg, base, fmt.Sprintf("agent%d", i), password)
		first, err := pageclient.Open(bounded(t), chatURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.tabs = append(s.tabs, first)
		for range tabsEach - 1 {
			tab, err := pageclient.Open(bounded(t), chatURL, first.Jar())
			if err != nil {
				t.Fatal(err)
			}
			s.tabs = append(s.tabs, tab)
		}
		t.Cleanup(func() {
			for _, tab := range s.tabs {
				tab.Close()
			}
		})
		waitTab(t, first, "the upstream open", func(v pageclient.View) bool { return v.Connection == "open" })
		text := fmt.Sprintf("s%d hello", i)
		if err := first.Send(text); err != nil {
			t.Fatal(err)
		}
		s.sent[text] = true
		v := waitTab(t, first, "the first message sent", func(v pageclient.View) bool {
			return len(v.Messages) == 1 && v.Messages[0].HasSeq
		})
		s.conv = v.Messages[0].DialogID
		s.agent.conv.Store(&s.conv)
		s.agent.acceptRing(t, s.conv)
	}

	// The agents write (and read the customers' messages); the customers
	// write now and then, drop their tabs' sockets and reload them.
	var writing atomic.Bool
	writing.Store(true)
	for _, s := range ss {
		wg.Add(2)
		// The agent's writer ends with ctx.
		go func() {
			defer wg.Done()
			s.agent.write(ctx, s.conv, &writing, agentEvery)
		}()
		// The customer ends when writing stops (or ctx ends).
		go func() {
			defer wg.Done()
			s.customer(ctx, chatURL, &writing)
		}()
	}

	// The cutter: a cut drops every live upstream connection of the window
	// at once; it counts when there was at least one.
	var cut, connsCut int
	start := time.Now()
	for cut < cuts {
		time.Sleep(time.Duration(20+mrand.IntN(280)) * time.Millisecond)
		if t.Failed() {
			return
		}
		if n := proxy.CutAll(); n > 0 {
			cut++
			connsCut += n
		}
	}
	writing.Store(false)
	faultTime := time.Since(start)

	// Settle: every tab open, visible, the window whole.
	for _, s := range ss {
		s.mu.Lock()
		for _, tab := range s.tabs {
			tab.SetVisible(true)
		}
		s.mu.Unlock()
	}
	for _, p := range settled(t, ss, settleTime) {
		t.Error(p)
	}

	var agentMsgs, customerMsgs, receipts, shown, drops, reloads, tabReconnects int
	for _, s := range ss {
		agentMsgs += len(s.agent.published())
		customerMsgs += len(s.sent)
		receipts += 2 * len(s.agent.published())
		drops += s.drops
		reloads += s.reloads
		for _, tab := range s.tabs {
			shown += len(tab.Messages())
			tabReconnects += tab.Stats().Reconnect
		}
	}
	t.Logf("faults: %d cuts (%d upstream connections cut) in %s; %d browser socket drops (%d page reconnects), %d reloads",
		cut, connsCut, faultTime.Round(time.Second), drops, tabReconnects, reloads)
	t.Logf("checked: %d sessions × %d tabs; %d agent messages, each shown once per tab in order (%d bubbles checked); %d ACCEPT/READ receipts exactly once; %d customer messages exactly once, none failed (%d sends without an answer from the page's socket, allowed at most once)",
		sessions, tabsEach, agentMsgs, shown, receipts, customerMsgs, unsureCount(ss))
}

// settled checks the sessions against the service's record until they
// pass or within has gone by, and returns what is still wrong.
func settled(t *testing.T, ss []*faultSession, within time.Duration) []string {
	deadline := time.Now().Add(within)
	var problems []string
	for {
		problems = problems[:0]
		for _, s := range ss {
			problems = append(problems, s.check(t)...)
		}
		if len(problems) == 0 || time.Now().After(deadline) {
			return problems
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func unsureCount(ss []*faultSession) int {
	n := 0
	for _, s := range ss {
		n += len(s.unsure)
	}
	return n
}

func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func waitTab(t *testing.T, tab *pageclient.Tab, what string, cond func(pageclient.View) bool) pageclient.View {
	t.Helper()
	v, err := tab.WaitFor(bounded(t), cond)
	if err != nil {
		t.Fatalf("%s: %v; the page: %+v", what, err, v)
	}
	return v
}

// faultSession is one customer (a browser session with its tabs) and its
// agent, with what each side sent.
type faultSession struct {
	n     int
	conv  string
	agent *faultAgent

	mu      sync.Mutex
	tabs    []*pageclient.Tab
	sent    map[string]bool // customer texts the page's socket took
	unsure  map[string]bool // customer texts whose frame failed to go out
	drops   int
	reloads int
}

// anyTab is one of the session's tabs, at random.
func (s *faultSession) anyTab() *pageclient.Tab {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tabs[mrand.IntN(len(s.tabs))]
}

// say sends text from tab and records whether the page's socket took it
// (sent) or its frame may not have gone out (unsure).
func (s *faultSession) say(tab *pageclient.Tab, text string) {
	err := tab.Send(text)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.sent[text] = true
	} else if !errors.Is(err, pageclient.ErrClosed) {
		s.unsure[text] = true
	}
}

// customer plays the session's tabs until writing stops: every now and
// then a message from one tab, a dropped socket or a reload.
func (s *faultSession) customer(ctx context.Context, chatURL string, writing *atomic.Bool) {
	for i := 1; writing.Load(); i++ {
		select {
		case <-time.After(time.Duration(200+mrand.IntN(800)) * time.Millisecond):
		case <-ctx.Done():
			return
		}
		tab := s.anyTab()
		switch r := mrand.IntN(10); {
		case r < 6:
			s.say(tab, fmt.Sprintf("s%d customer %d", s.n, i))
		case r < 8:
			tab.Drop()
			s.mu.Lock()
			s.drops++
			s.mu.Unlock()
		default:
			if tab.Queued() > 0 {
				continue // a reload would lose what waits for the socket
			}
			rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := tab.Reopen(rctx)
			cancel()
			for err != nil && ctx.Err() == nil {
				time.Sleep(100 * time.Millisecond)
				rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				err = tab.Reopen(rctx)
				cancel()
			}
			s.mu.Lock()
			s.reloads++
			s.mu.Unlock()
		}
	}
}

// check returns what is wrong with the session now (empty: all is well):
// the service's record (the dialog's history, read by the agent) against
// what every tab shows.
func (s *faultSession) check(t *testing.T) []string {
	var out []string
	bad := func(format string, args ...any) {
		out = append(out, fmt.Sprintf("session %d: ", s.n)+fmt.Sprintf(format, args...))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	history, err := s.agent.QueryMessages(ctx, s.conv, 0)
	if err != nil {
		return []string{fmt.Sprintf("session %d: history: %v", s.n, err)}
	}
	consumer := func(ev protocol.MessagingEvent) bool {
		return ev.OriginatorMetadata != nil && ev.OriginatorMetadata.Role == protocol.RoleConsumer
	}
	var agentSeqs []int64
	customer := map[string]int{}
	type marks struct{ accept, read []int64 } // the receipts' own sequences
	got := map[int64]*marks{}
	for _, ev := range history {
		seq, _ := ev.Seq()
		switch {
		case ev.Event.Type == protocol.EventContent && consumer(ev):
			customer[ev.Event.Message]++
		case ev.Event.Type == protocol.EventContent:
			agentSeqs = append(agentSeqs, seq)
		case ev.Event.Type == protocol.EventAcceptStatus && consumer(ev):
			for _, q := range ev.Event.SequenceList {
				if got[q] == nil {
					got[q] = &marks{}
				}
				switch ev.Event.Status {
				case protocol.StatusAccept:
					got[q].accept = append(got[q].accept, seq)
				case protocol.StatusRead:
					got[q].read = append(got[q].read, seq)
				}
			}
		}
	}
	if pub := s.agent.published(); !slices.Equal(pub, agentSeqs) {
		bad("the agent published %d messages, the history has %d agent messages", len(pub), len(agentSeqs))
	}
	for _, q := range agentSeqs {
		m := got[q]
		switch {
		case m == nil || len(m.accept) != 1 || len(m.read) != 1:
			var a, r []int64
			if m != nil {
				a, r = m.accept, m.read
			}
			bad("agent message %d: ACCEPT in events %v, READ in events %v; want exactly one of each", q, a, r)
		case m.accept[0] > m.read[0]:
			bad("agent message %d: ACCEPT (event %d) after READ (event %d)", q, m.accept[0], m.read[0])
		}
		delete(got, q)
	}
	for q := range got {
		bad("receipts of %d, which is not an agent message", q)
	}
	s.mu.Lock()
	sent := make(map[string]bool, len(s.sent))
	for k := range s.sent {
		sent[k] = true
	}
	unsure := make(map[string]bool, len(s.unsure))
	for k := range s.unsure {
		unsure[k] = true
	}
	tabs := slices.Clone(s.tabs)
	s.mu.Unlock()
	for text := range sent {
		if n := customer[text]; n != 1 {
			bad("customer message %q is in the history %d times, want 1", text, n)
		}
	}
	for text, n := range customer {
		if !sent[text] && (!unsure[text] || n > 1) {
			bad("customer message %q is in the history %d times; it was not sent (or not that often)", text, n)
		}
	}
	for i, tab := range tabs {
		v := tab.View()
		if v.Socket != "open" || v.Connection != "open" {
			bad("tab %d: socket %s (the last one ended: %s), upstream %s", i, v.Socket, v.Ended, v.Connection)
		}
		var shown []int64
		mine := map[string]int{}
		for _, m := range v.Messages {
			if m.From == "agent" {
				shown = append(shown, m.Seq)
				continue
			}
			mine[m.Text]++
			if m.Receipt != "read" && m.Receipt != "accepted" && m.Receipt != "sent" {
				bad("tab %d: customer message %q shows %q", i, m.Text, m.Receipt)
			}
		}
		if !slices.Equal(shown, agentSeqs) {
			bad("tab %d shows agent messages %s, want %s (the history's)", i, short(shown), short(agentSeqs))
		}
		for text, n := range customer {
			if mine[text] != n {
				bad("tab %d shows customer message %q %d times, the history has it %d times", i, text, mine[text], n)
			}
		}
		for text, n := range mine {
			if customer[text] == 0 {
				bad("tab %d shows customer message %q %d times, the history has it not", i, text, n)
			}
		}
	}
	return out
}

// short prints a sequence list, abbreviated when long.
func short(seqs []int64) string {
	if len(seqs) <= 12 {
		return fmt.Sprint(seqs)
	}
	return fmt.Sprintf("%v … %v (%d)", seqs[:6], seqs[len(seqs)-6:], len(seqs))
}

// faultAgent is one agent of the service, connected directly (no proxy):
// it accepts its customer's ring, writes at a steady rate, and reads (READ)
// every message of the customer.
type faultAgent struct {
	*messaging.Agent
	conv atomic.Pointer[string]

	mu     sync.Mutex
	rings  map[string]string // conversation → a waiting ring
	toRead []int64
	pub    []int64
	wake   chan struct{}
}

func startFaultAgent(t *testing.T, ctx context.Context, wg *sync.WaitGroup, base, name, password string) *faultAgent {
	t.Helper()
	hc := &http.Client{Timeout: 15 * time.Second}
	ep, err := messaging.Discover(bounded(t), hc, base, "12345678", messaging.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := messaging.NewAgent(messaging.AgentConfig{Endpoints: ep, Username: name, Password: password, HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	h := &faultAgent{Agent: a, rings: map[string]string{}, wake: make(chan struct{})}
	if err := a.SetAgentState(bounded(t), protocol.AgentOnline); err != nil {
		t.Fatal(err)
	}
	if err := a.SubscribeRoutingTasks(bounded(t)); err != nil {
		t.Fatal(err)
	}
	opened := make(chan struct{})
	wg.Add(2)
	// Run keeps the agent connected until ctx ends.
	go func() {
		defer wg.Done()
		_ = a.Run(ctx)
		hc.CloseIdleConnections()
	}()
	// The reader ends when Run closes Updates.
	go func() {
		defer wg.Done()
		var once sync.Once
		for u := range a.Updates() {
			switch u := u.(type) {
			case messaging.StateChange:
				if u.State == messaging.StateOpen {
					once.Do(func() { close(opened) })
				}
			case messaging.RoutingUpdate:
				h.mu.Lock()
				for _, r := range u.Change.Result.RingsDetails {
					if r.RingState == protocol.RingWaiting {
						h.rings[u.Change.Result.ConversationID] = r.RingID
					}
				}
				close(h.wake)
				h.wake = make(chan struct{})
				h.mu.Unlock()
			case messaging.EventUpdate:
				ev := u.Event
				conv := h.conv.Load()
				seq, ok := ev.Seq()
				if ok && conv != nil && ev.DialogID == *conv && ev.Event.Type == protocol.EventContent &&
					ev.OriginatorMetadata != nil && ev.OriginatorMetadata.Role == protocol.RoleConsumer {
					h.mu.Lock()
					h.toRead = append(h.toRead, seq)
					h.mu.Unlock()
				}
			}
		}
	}()
	select {
	case <-opened:
	case <-time.After(15 * time.Second):
		t.Fatalf("agent %s did not connect", name)
	}
	return h
}

// acceptRing accepts the conversation's ring, waiting for one.
func (h *faultAgent) acceptRing(t *testing.T, conv string) {
	t.Helper()
	ctx := bounded(t)
	for {
		h.mu.Lock()
		ring, wake := h.rings[conv], h.wake
		delete(h.rings, conv)
		h.mu.Unlock()
		if ring != "" {
			if err := h.AcceptRing(ctx, ring); err == nil {
				return
			}
		}
		select {
		case <-wake:
		case <-ctx.Done():
			t.Fatalf("no ring for %s", conv)
		}
	}
}

// write publishes a message every period while writing holds, and READs
// the customer's messages, until ctx ends.
func (h *faultAgent) write(ctx context.Context, conv string, writing *atomic.Bool, period time.Duration) {
	tick := time.NewTicker(period)
	defer tick.Stop()
	for n := 1; ; {
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
		if writing.Load() {
			seq, err := h.Publish(ctx, conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: fmt.Sprintf("agent says %d", n)})
			if err == nil {
				n++
				h.mu.Lock()
				h.pub = append(h.pub, seq)
				h.mu.Unlock()
			}
		}
		h.mu.Lock()
		read := h.toRead
		h.toRead = nil
		h.mu.Unlock()
		if len(read) > 0 {
			if _, err := h.Publish(ctx, conv, protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusRead, SequenceList: read}); err != nil {
				h.mu.Lock()
				h.toRead = append(read, h.toRead...)
				h.mu.Unlock()
			}
		}
	}
}

func (h *faultAgent) published() []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.pub)
}
