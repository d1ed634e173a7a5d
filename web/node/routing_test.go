package node_test

import (
	"context"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/pageclient"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
	"github.com/chatwindow/chatwindow/web/node"
	"github.com/chatwindow/chatwindow/web/window"
)

const firefox = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"

// TestConversationRequestCarriesVisit: the window's conversation request
// carries the configured campaignInfo and the visit's SharkContext (a
// stable visitor id, the session id, the page's language), and its socket
// the customer's browser as client properties: the service routes it to
// the engagement's skill, and shows all of it to agents.
func TestConversationRequestCarriesVisit(t *testing.T) {
	lp := testenv.NewService(t, simulator.Config{Account: "1",
		Agents:      []simulator.Agent{{Name: "a", Password: "p", Skills: []string{"7"}}},
		Engagements: []simulator.Engagement{{CampaignID: "100", EngagementID: "200", SkillID: "7"}},
	})
	n, err := node.New(t.Context(), node.Config{
		Endpoints: lp.EP, HTTPClient: lp.Srv.Client(), Backoff: testenv.FastBackoff,
		Campaign: &protocol.CampaignInfo{CampaignID: "100", EngagementID: "200"},
		Web:      window.Config{SessionKeys: sessionKeys},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n)
	t.Cleanup(func() {
		srv.Close()
		n.Close()
	})
	ups := watchConversations(t, lp)

	b := pageclient.NewBrowser(nil, pageclient.BrowserOptions{UserAgent: firefox, AcceptLanguage: "fr-CH, fr;q=0.9, en;q=0.8"})
	tab, err := b.Open(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if err := tab.Send("bonjour"); err != nil {
		t.Fatal(err)
	}
	var details protocol.ConversationDetails
	var first string
	ups.WaitFor(t, "the conversation, at the agent", func(us []messaging.Update) bool {
		for _, u := range us {
			if c, ok := u.(messaging.ConversationUpdate); ok {
				details, first = c.Change.Result.ConversationDetails, c.Change.Result.ConvID
				return true
			}
		}
		return false
	})
	if string(details.SkillID) != "7" {
		t.Errorf("skill %q, want the engagement's 7", details.SkillID)
	}
	ctx := details.Context
	if ctx == nil || ctx.ClientProperties == nil {
		t.Fatalf("context %+v", ctx)
	}
	got := struct {
		Campaign                        *protocol.CampaignInfo
		Type, Lang                      string
		VisitorLen, SessionLen          int
		Device, OS, Browser, BrowserVer string
	}{details.CampaignInfo, ctx.Type, ctx.Lang, len(ctx.VisitorID), len(ctx.SessionID),
		ctx.ClientProperties.DeviceFamily, ctx.ClientProperties.OS, ctx.ClientProperties.Browser, ctx.ClientProperties.BrowserVersion}
	want := got
	want.Campaign = &protocol.CampaignInfo{CampaignID: "100", EngagementID: "200"}
	want.Type, want.Lang, want.VisitorLen, want.SessionLen = "SharkContext", "fr-CH", 22, 22
	want.Device, want.OS, want.Browser, want.BrowserVer = "DESKTOP", "LINUX", "FIREFOX", "125.0"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("what the service got (-want +got):\n%s", diff)
	}
	if ctx.VisitorID == ctx.SessionID {
		t.Errorf("visitor %q and session %q ids are one", ctx.VisitorID, ctx.SessionID)
	}

	// Another browser is another visitor.
	other, err := pageclient.NewBrowser(nil, pageclient.BrowserOptions{}).Open(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Send("hello"); err != nil {
		t.Fatal(err)
	}
	var second *protocol.ConversationContext
	ups.WaitFor(t, "the second conversation", func(us []messaging.Update) bool {
		for _, u := range us {
			if c, ok := u.(messaging.ConversationUpdate); ok && c.Change.Result.ConvID != first {
				second = c.Change.Result.ConversationDetails.Context
				return true
			}
		}
		return false
	})
	if second == nil || second.VisitorID == ctx.VisitorID || second.Lang != "" || second.ClientProperties.Browser != "OTHER" {
		t.Errorf("the other browser's context %+v (client properties %+v)", second, second.ClientProperties)
	}
}

// watchConversations runs an agent of lp subscribed to the account's
// conversations until the test ends.
func watchConversations(t *testing.T, lp *testenv.Service) *testenv.Collector {
	t.Helper()
	_, ups := runAgent(t, lp, "a", "p", func(a *messaging.Agent) error {
		return a.SubscribeConversations(t.Context(), protocol.SubscribeExConversations{})
	})
	return ups
}

// runAgent runs an agent of lp until the test ends, once connected; setup
// (if any) subscribes it before it connects.
func runAgent(t *testing.T, lp *testenv.Service, name, password string, setup func(*messaging.Agent) error) (*messaging.Agent, *testenv.Collector) {
	t.Helper()
	a, err := messaging.NewAgent(messaging.AgentConfig{Endpoints: lp.EP, Username: name, Password: password, HTTPClient: lp.Srv.Client(),
		SessionOptions: messaging.SessionOptions{Backoff: testenv.FastBackoff}})
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		if err := setup(a); err != nil {
			t.Fatal(err)
		}
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
	ups := testenv.Collect(a.Updates())
	ups.WaitFor(t, name+" connected", func(us []messaging.Update) bool {
		return slices.ContainsFunc(us, func(u messaging.Update) bool {
			s, ok := u.(messaging.StateChange)
			return ok && s.State == messaging.StateOpen
		})
	})
	return a, ups
}

// TestWindowQueueState: the window tells the waiting customer when the
// contact center opens, that the agent left and that they are being
// transferred, from the metadata alone.
func TestWindowQueueState(t *testing.T) {
	opens := time.Now().Add(2 * time.Hour).Truncate(time.Minute)
	lp := testenv.NewService(t, simulator.Config{Account: "1", ClosedUntil: opens,
		Agents: []simulator.Agent{{Name: "ann", Password: "p", Skills: []string{"7"}}}})
	n, err := node.New(t.Context(), node.Config{Endpoints: lp.EP, HTTPClient: lp.Srv.Client(), Backoff: testenv.FastBackoff,
		Web: window.Config{SessionKeys: sessionKeys}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n)
	t.Cleanup(func() {
		srv.Close()
		n.Close()
	})
	tab, err := pageclient.Open(t.Context(), srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	if err := tab.Send("anyone?"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testenv.WaitLimit)
	defer cancel()
	closed := "We're closed now. An agent will answer after " + opens.UTC().Format("Mon 2 Jan 15:04") + " UTC."
	if v, err := tab.WaitFor(ctx, func(v pageclient.View) bool { return v.Agent == closed }); err != nil {
		t.Fatalf("the closed text: %v; header %q", err, v.Agent)
	}

	ann, _ := runAgent(t, lp, "ann", "p", nil)
	v, err := tab.WaitFor(ctx, func(v pageclient.View) bool { return len(v.Messages) == 1 && v.Messages[0].DialogID != "" })
	if err != nil {
		t.Fatalf("the message in its conversation: %v", err)
	}
	conv := v.Messages[0].DialogID
	if err := ann.Join(ctx, conv, protocol.RoleAssignedAgent); err != nil {
		t.Fatal(err)
	}
	if v, err := tab.WaitFor(ctx, func(v pageclient.View) bool { return v.Agent == "You are chatting with ann" }); err != nil {
		t.Fatalf("ann joined: %v; header %q", err, v.Agent)
	}
	if err := ann.TransferToSkill(ctx, conv, "8"); err != nil {
		t.Fatal(err)
	}
	want := "ann left the conversation. Transferring you to another agent… " + closed
	if v, err := tab.WaitFor(ctx, func(v pageclient.View) bool { return v.Agent == want }); err != nil {
		t.Fatalf("the transfer: %v; header %q, want %q", err, v.Agent, want)
	}
}
