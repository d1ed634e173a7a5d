package pageclient_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/pageclient"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
	"github.com/chatwindow/chatwindow/web/node"
	"github.com/chatwindow/chatwindow/web/window"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// site is the real chat window (web + relay) on the embedded service,
// on loopback, and an agent of the service.
type site struct {
	url   string
	agent *messaging.Agent
}

func newSite(t *testing.T) *site {
	t.Helper()
	lp := testenv.NewService(t, simulator.Config{Account: "1", Agents: []simulator.Agent{{Name: "a", Password: "p"}}})
	n, err := node.New(context.Background(), node.Config{
		Endpoints: lp.EP, HTTPClient: lp.Srv.Client(), Grace: time.Second, Backoff: testenv.FastBackoff,
		Web: window.Config{SessionKeys: [][]byte{[]byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	hs := httptest.NewServer(n)
	t.Cleanup(hs.Close)
	agent, err := messaging.NewAgent(messaging.AgentConfig{Endpoints: lp.EP, Username: "a", Password: "p", HTTPClient: lp.Srv.Client(),
		SessionOptions: messaging.SessionOptions{Backoff: testenv.FastBackoff}})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, agent.Run)
	testenv.Collect(agent.Updates()).WaitFor(t, "the agent to connect", testenv.IsOpen)
	return &site{url: hs.URL, agent: agent}
}

func bounded(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func open(t *testing.T, s *site, tab *pageclient.Tab) *pageclient.Tab {
	t.Helper()
	var jar http.CookieJar // nil: a new customer
	if tab != nil {
		jar = tab.Jar()
	}
	nt, err := pageclient.Open(bounded(t), s.url, jar)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nt.Close)
	return nt
}

func wait(t *testing.T, tab *pageclient.Tab, what string, cond func(pageclient.View) bool) pageclient.View {
	t.Helper()
	v, err := tab.WaitFor(bounded(t), cond)
	if err != nil {
		t.Fatalf("%s: %v; the page: %+v", what, err, v)
	}
	return v
}

// start opens a customer's tab, sends a first message and has the agent
// join: it returns the tab and the conversation's id.
func start(t *testing.T, s *site) (*pageclient.Tab, string) {
	t.Helper()
	tab := open(t, s, nil)
	wait(t, tab, "the socket and the upstream open", func(v pageclient.View) bool { return v.Socket == "open" && v.Connection == "open" })
	if err := tab.Send("Hello?"); err != nil {
		t.Fatal(err)
	}
	v := wait(t, tab, "the message sent", func(v pageclient.View) bool {
		return len(v.Messages) == 1 && v.Messages[0].HasSeq && v.Messages[0].Receipt == "sent"
	})
	conv := v.Messages[0].DialogID
	if err := s.agent.Join(bounded(t), conv, protocol.RoleAssignedAgent); err != nil {
		t.Fatal(err)
	}
	return tab, conv
}

func (s *site) say(t *testing.T, conv, text string) int64 {
	t.Helper()
	seq, err := s.agent.Publish(bounded(t), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text})
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

// receipts counts the customer's receipts of status per sequence in the
// dialog's history.
func (s *site) receipts(t *testing.T, conv, status string) map[int64]int {
	t.Helper()
	evs, err := s.agent.QueryMessages(bounded(t), conv, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := map[int64]int{}
	for _, ev := range evs {
		if ev.Event.Type != protocol.EventAcceptStatus || ev.Event.Status != status || ev.OriginatorMetadata == nil || ev.OriginatorMetadata.Role != protocol.RoleConsumer {
			continue
		}
		for _, q := range ev.Event.SequenceList {
			n[q]++
		}
	}
	return n
}

// waitReceipts polls the history until want holds for status.
func (s *site) waitReceipts(t *testing.T, conv, status string, want map[int64]int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.receipts(t, conv, status)
		if cmp.Equal(want, got) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s receipts in the history (-want +got):\n%s", status, cmp.Diff(want, got))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func agentSeqs(v pageclient.View) []int64 {
	var out []int64
	for _, m := range v.AgentMessages() {
		out = append(out, m.Seq)
	}
	return out
}

func TestTabChats(t *testing.T) {
	s := newSite(t)
	tab, conv := start(t, s)
	s1 := s.say(t, conv, "Hi, how can I help?")
	v := wait(t, tab, "the agent's message", func(v pageclient.View) bool { return len(v.AgentMessages()) == 1 })
	want := pageclient.Message{ID: v.AgentMessages()[0].ID, DialogID: conv, Seq: s1, HasSeq: true, From: "agent", Kind: "text", Text: "Hi, how can I help?"}
	if diff := cmp.Diff(want, v.AgentMessages()[0]); diff != "" {
		t.Errorf("the agent's bubble (-want +got):\n%s", diff)
	}
	s.waitReceipts(t, conv, protocol.StatusAccept, map[int64]int{s1: 1})
	s.waitReceipts(t, conv, protocol.StatusRead, map[int64]int{s1: 1})

	// The agent's READ of the customer's message shows as read ticks.
	mine := v.Messages[0].Seq
	if _, err := s.agent.Publish(bounded(t), conv, protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusRead, SequenceList: protocol.Seqs{mine}}); err != nil {
		t.Fatal(err)
	}
	wait(t, tab, "read ticks", func(v pageclient.View) bool { return v.Messages[0].Receipt == "read" })

	// The agent typing shows.
	if _, err := s.agent.Publish(bounded(t), conv, protocol.Event{Type: protocol.EventChatState, ChatState: protocol.ChatComposing}); err != nil {
		t.Fatal(err)
	}
	wait(t, tab, "the agent typing", func(v pageclient.View) bool { return v.Typing })
}

func TestHiddenTabAcceptsOnly(t *testing.T) {
	s := newSite(t)
	tab, conv := start(t, s)
	tab.SetVisible(false)
	s1 := s.say(t, conv, "Are you there?")
	wait(t, tab, "the agent's message", func(v pageclient.View) bool { return len(v.AgentMessages()) == 1 })
	s.waitReceipts(t, conv, protocol.StatusAccept, map[int64]int{s1: 1})
	time.Sleep(300 * time.Millisecond) // room for a READ that must not come
	if n := s.receipts(t, conv, protocol.StatusRead); len(n) != 0 {
		t.Fatalf("READ from a hidden tab: %v", n)
	}
	tab.SetVisible(true)
	s.waitReceipts(t, conv, protocol.StatusRead, map[int64]int{s1: 1})
}

func TestSecondTabDropAndReload(t *testing.T) {
	s := newSite(t)
	tab, conv := start(t, s)
	s1 := s.say(t, conv, "One.")
	s2 := s.say(t, conv, "Two.")
	wait(t, tab, "both messages", func(v pageclient.View) bool { return len(v.AgentMessages()) == 2 })

	second := open(t, s, tab)
	v := wait(t, second, "the history in a second tab", func(v pageclient.View) bool { return len(v.AgentMessages()) == 2 })
	if diff := cmp.Diff(tab.Messages(), v.Messages); diff != "" {
		t.Errorf("the second tab (-first +second):\n%s", diff)
	}

	// A dropped socket reconnects (the window comes anew); a message sent
	// meanwhile waits for it and goes out.
	second.Drop()
	if err := second.Send("Sent while reconnecting"); err != nil {
		t.Fatal(err)
	}
	wait(t, second, "reconnected with the message sent", func(v pageclient.View) bool {
		for _, m := range v.Messages {
			if m.Text == "Sent while reconnecting" && m.HasSeq {
				return v.Socket == "open"
			}
		}
		return false
	})
	if n := second.Stats().Reconnect; n != 1 {
		t.Errorf("%d reconnects, want 1", n)
	}

	// A reload shows the same window (once the first tab, too, shows the
	// second tab's message sent: its update may still be on its way).
	wait(t, tab, "the second tab's message sent, in the first tab", func(v pageclient.View) bool {
		for _, m := range v.Messages {
			if m.Text == "Sent while reconnecting" && m.HasSeq && m.DialogID != "" {
				return true
			}
		}
		return false
	})
	before := tab.Messages()
	if err := tab.Reopen(bounded(t)); err != nil {
		t.Fatal(err)
	}
	v = wait(t, tab, "the reloaded window", func(v pageclient.View) bool { return len(v.Messages) == len(before) && v.Socket == "open" })
	if diff := cmp.Diff(before, v.Messages); diff != "" {
		t.Errorf("after the reload (-before +after):\n%s", diff)
	}

	s3 := s.say(t, conv, "Three.")
	for _, p := range []*pageclient.Tab{tab, second} {
		v := wait(t, p, "the third message", func(v pageclient.View) bool { return len(v.AgentMessages()) == 3 })
		if diff := cmp.Diff([]int64{s1, s2, s3}, agentSeqs(v)); diff != "" {
			t.Errorf("agent messages (-want +got):\n%s", diff)
		}
	}
	want := map[int64]int{s1: 1, s2: 1, s3: 1}
	s.waitReceipts(t, conv, protocol.StatusAccept, want)
	s.waitReceipts(t, conv, protocol.StatusRead, want)

	second.Close()
	if err := second.Send("after close"); !errors.Is(err, pageclient.ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
}

// TestBrowserOneTabReports: tabs of one browser with locks report through
// one of them: a new tab, focused, takes the lock over, and the other
// reports nothing more.
func TestBrowserOneTabReports(t *testing.T) {
	s := newSite(t)
	b := pageclient.NewBrowser(nil, pageclient.BrowserOptions{Locks: true})
	first, err := b.Open(bounded(t), s.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(first.Close)
	wait(t, first, "the upstream open", func(v pageclient.View) bool { return v.Connection == "open" })
	if err := first.Send("Hello?"); err != nil {
		t.Fatal(err)
	}
	v := wait(t, first, "the message sent", func(v pageclient.View) bool { return len(v.Messages) == 1 && v.Messages[0].HasSeq })
	conv := v.Messages[0].DialogID
	if err := s.agent.Join(bounded(t), conv, protocol.RoleAssignedAgent); err != nil {
		t.Fatal(err)
	}
	s1 := s.say(t, conv, "One.")
	s.waitReceipts(t, conv, protocol.StatusRead, map[int64]int{s1: 1})
	if b.Holder() != first || !first.Reporting() {
		t.Fatal("the only tab does not report")
	}

	second, err := b.Open(bounded(t), s.url) // focused: it takes the lock
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Close)
	wait(t, second, "the window in the second tab", func(v pageclient.View) bool { return len(v.AgentMessages()) == 1 && v.Connection == "open" })
	deadline := time.Now().Add(5 * time.Second)
	for !second.Reporting() {
		if time.Now().After(deadline) {
			t.Fatal("the focused second tab did not take the lock over")
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := first.Stats()
	s2 := s.say(t, conv, "Two.")
	wait(t, first, "the second message in the first tab", func(v pageclient.View) bool { return len(v.AgentMessages()) == 2 })
	s.waitReceipts(t, conv, protocol.StatusAccept, map[int64]int{s1: 1, s2: 1})
	s.waitReceipts(t, conv, protocol.StatusRead, map[int64]int{s1: 1, s2: 1})
	if after := first.Stats(); after.Delivered != before.Delivered || after.Seen != before.Seen {
		t.Errorf("the first tab reported after losing the lock: %+v, then %+v", before, after)
	}
	if st := b.Stats(); st.Steals != 1 {
		t.Errorf("lock stats %+v, want one steal", st)
	}
}
