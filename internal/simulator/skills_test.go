package simulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// skilled configures agents with skills and one engagement: alice and eve
// take skill 10, bob 20, dave 30, carol none; campaign 100's engagement
// 200 routes to skill 20.
func skilled(c *Config) {
	c.Agents = []Agent{
		{Name: "alice", Password: "pw-a", Skills: []string{"10"}},
		{Name: "bob", Password: "pw-b", Skills: []string{"20"}},
		{Name: "carol", Password: "pw-c"},
		{Name: "dave", Password: "pw-d", Skills: []string{"30"}},
		{Name: "eve", Password: "pw-e", Skills: []string{"10"}},
	}
	c.Engagements = []Engagement{{CampaignID: "100", EngagementID: "200", SkillID: "20"}}
}

// online opens a socket of a skilled agent that is ONLINE and subscribed
// to routing tasks.
func (e *env) online(name string) *client {
	e.t.Helper()
	l := e.login(name, "pw-"+name[:1])
	a := e.dial(protocol.Path(protocol.PathAgentSocket, testAccount, l.Bearer)+"?v=2.1", nil)
	a.ok(".ams.routing.SetAgentState", protocol.SetAgentState{Availability: "ONLINE"})
	a.ok(".ams.routing.SubscribeRoutingTasks", protocol.SubscribeRoutingTasks{})
	return a
}

// ringsBy returns the conversations the agent was rung for (WAITING) up to
// now: a GetClock's answer comes after every ring queued before it.
func (c *client) ringsBy() []string {
	c.t.Helper()
	var out []string
	for _, task := range c.waitingRings() {
		out = append(out, task.ConversationID)
	}
	return out
}

// waitingRings returns the WAITING rings the agent got up to now.
func (c *client) waitingRings() []protocol.RoutingTask {
	c.t.Helper()
	c.ok(".GetClock", nil)
	var out []protocol.RoutingTask
	for {
		c.mu.Lock()
		i := slices.IndexFunc(c.inbox, func(f protocol.Frame) bool { return f.Type == ringNotif })
		c.mu.Unlock()
		if i < 0 {
			return out
		}
		if task := c.nextRing(); task.RingsDetails[0].RingState == protocol.RingWaiting {
			out = append(out, task)
		}
	}
}

// accept accepts the agent's one waiting ring, of conv.
func (c *client) accept(conv string) {
	c.t.Helper()
	rings := c.waitingRings()
	if len(rings) != 1 || rings[0].ConversationID != conv {
		c.t.Fatalf("rings %+v, want one of %s", rings, conv)
	}
	c.ok(".ams.routing.UpdateRingState", protocol.UpdateRingState{RingID: rings[0].RingsDetails[0].RingID, RingState: "ACCEPTED"})
}

// TestRoutingBySkill: a conversation's skill comes from its engagement,
// else its skillId, else none; it rings only the ONLINE agents that take
// it (any agent for no skill), and waits while none does.
func TestRoutingBySkill(t *testing.T) {
	tests := []struct {
		name      string
		body      any
		wantSkill string
		wantRung  []string
	}{
		{"no body: no skill, every agent", nil, "-1", []string{"alice", "bob", "carol", "eve"}},
		{"skillId -1", protocol.ConsumerRequestConversation{SkillID: "-1"}, "-1", []string{"alice", "bob", "carol", "eve"}},
		{"explicit skillId", protocol.ConsumerRequestConversation{SkillID: "10"}, "10", []string{"alice", "eve"}},
		{"skillId as a number", map[string]any{"skillId": 20}, "20", []string{"bob"}},
		{"no agent of the skill online: it waits", protocol.ConsumerRequestConversation{SkillID: "30"}, "30", nil},
		{"engagement to skill", protocol.ConsumerRequestConversation{CampaignInfo: &protocol.CampaignInfo{CampaignID: "100", EngagementID: "200"}}, "20", []string{"bob"}},
		{"engagement over skillId", map[string]any{"skillId": "10", "campaignInfo": map[string]any{"campaignId": 100, "engagementId": 200}}, "20", []string{"bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, skilled)
			agents := map[string]*client{}
			for _, n := range []string{"alice", "bob", "carol", "eve"} {
				agents[n] = e.online(n)
			}
			c := e.consumer(e.signup())
			r := c.ok(protocol.TypeConsumerRequestConversation, tt.body)
			conv := decode[protocol.RequestConversationResponse](t, r).ConversationID
			var rung []string
			for _, n := range []string{"alice", "bob", "carol", "eve"} {
				if got := agents[n].ringsBy(); len(got) > 0 {
					if !slices.Equal(got, []string{conv}) {
						t.Errorf("%s rung for %v", n, got)
					}
					rung = append(rung, n)
				}
			}
			if diff := cmp.Diff(tt.wantRung, rung); diff != "" {
				t.Errorf("rung (-want +got):\n%s", diff)
			}
			c.ok("cqm.SubscribeExConversations", protocol.SubscribeExConversations{})
			snap := decode[protocol.ExConversationChangeNotification](t, c.notif(protocol.TypeExConversationChange))
			if got := string(snap.Changes[0].Result.ConversationDetails.SkillID); got != tt.wantSkill {
				t.Errorf("skillId %q, want %q", got, tt.wantSkill)
			}
			if tt.wantSkill == "30" {
				// It waited: the skill's agent is rung once online.
				if got := e.online("dave").ringsBy(); !slices.Equal(got, []string{conv}) {
					t.Errorf("dave rung for %v", got)
				}
			}
		})
	}
}

// TestRequestRefused: a request naming an unknown engagement, a skillId
// that is no skill id or an unknown TTR policy gets 400 and opens nothing.
func TestRequestRefused(t *testing.T) {
	e := newEnv(t, skilled)
	c := e.consumer(e.signup())
	for _, body := range []any{
		protocol.ConsumerRequestConversation{CampaignInfo: &protocol.CampaignInfo{CampaignID: "100", EngagementID: "999"}},
		protocol.ConsumerRequestConversation{SkillID: "sales"},
		protocol.ConsumerRequestConversation{SkillID: "007"},
		protocol.ConsumerRequestConversation{TTRDefName: "SOON"},
	} {
		r := c.wantCode(400, protocol.TypeConsumerRequestConversation, body)
		if r.BodyString() == "" {
			t.Errorf("%+v: no reason", body)
		}
	}
	c.openConversation() // nothing was opened before
}

// transfer is an agent's transfer of conv to skill, removing itself as
// node-agent-sdk's README does it; no skill: back to the queue.
func transfer(conv, skill string) protocol.UpdateConversationField {
	f := protocol.UpdateConversationField{ConversationID: conv, ConversationField: protocol.List[protocol.ConversationField]{
		{Field: protocol.FieldParticipantsChange, Type: "REMOVE", Role: protocol.RoleAssignedAgent}}}
	if skill != "" {
		f.ConversationField = append(f.ConversationField, protocol.ConversationField{Field: protocol.FieldSkill, Type: "UPDATE", Skill: skill})
	}
	return f
}

// TestTransfer: an agent transfers its conversation to another skill in one
// request; the consumer sees the agent leave and the new skill in one
// change, and only agents of the new skill are rung. Back to the queue
// (the agent leaves, the skill stays) rings the skill's agents again.
func TestTransfer(t *testing.T) {
	e := newEnv(t, skilled)
	c := e.consumer(e.signup())
	conv := decode[protocol.RequestConversationResponse](t, c.ok(protocol.TypeConsumerRequestConversation,
		protocol.ConsumerRequestConversation{SkillID: "10"})).ConversationID
	alice := e.online("alice")
	task := alice.nextRing()
	alice.ok(".ams.routing.UpdateRingState", protocol.UpdateRingState{RingID: task.RingsDetails[0].RingID, RingState: "ACCEPTED"})
	bob, carol, eve := e.online("bob"), e.online("carol"), e.online("eve")
	for _, a := range []*client{bob, carol, eve} {
		if got := a.ringsBy(); len(got) != 0 {
			t.Fatalf("rung for an assigned conversation: %v", got)
		}
	}
	c.ok("cqm.SubscribeExConversations", protocol.SubscribeExConversations{})
	c.notif(protocol.TypeExConversationChange)

	r := alice.ok(".ams.cm.UpdateConversationField", transfer(conv, "20"))
	if r.BodyString() != "OK Agent removed successfully" {
		t.Errorf("answer %q", r.BodyString())
	}
	bobRings := bob.waitingRings()
	if len(bobRings) != 1 || bobRings[0].ConversationID != conv {
		t.Fatalf("bob (20) rung for %+v", bobRings)
	}
	for n, a := range map[string]*client{"alice": alice, "carol": carol, "eve": eve} {
		if got := a.ringsBy(); len(got) != 0 {
			t.Errorf("%s rung for %v after the transfer to 20", n, got)
		}
	}
	c.ok("GetClock", nil)
	changes := consumerChanges(t, c)
	if len(changes) != 1 {
		t.Fatalf("consumer saw %d changes, want one: %+v", len(changes), changes)
	}
	d := changes[0].ConversationDetails
	if string(d.SkillID) != "20" || slices.ContainsFunc(d.Members(), func(p protocol.Participant) bool { return p.Role == protocol.RoleAssignedAgent }) {
		t.Errorf("after the transfer: skill %s, participants %+v", d.SkillID, d.Members())
	}

	// bob takes it, then puts it back to the queue: the skill stays, and
	// its agents (bob himself) are rung again, nobody else.
	bob.ok(".ams.routing.UpdateRingState", protocol.UpdateRingState{RingID: bobRings[0].RingsDetails[0].RingID, RingState: "ACCEPTED"})
	c.ok("GetClock", nil) // answered after the change of bob's joining
	consumerChanges(t, c)
	r = bob.ok(".ams.cm.UpdateConversationField", transfer(conv, ""))
	if r.BodyString() != "OK Agent removed successfully" {
		t.Errorf("answer %q", r.BodyString())
	}
	if got := bob.ringsBy(); !slices.Equal(got, []string{conv}) {
		t.Errorf("bob rung for %v after back to the queue", got)
	}
	for n, a := range map[string]*client{"alice": alice, "carol": carol, "eve": eve} {
		if got := a.ringsBy(); len(got) != 0 {
			t.Errorf("%s rung for %v after back to the queue", n, got)
		}
	}
	c.ok("GetClock", nil)
	changes = consumerChanges(t, c)
	if len(changes) != 1 {
		t.Fatalf("consumer saw %d changes, want one: %+v", len(changes), changes)
	}
	if d := changes[0].ConversationDetails; string(d.SkillID) != "20" || len(d.Members()) != 1 {
		t.Errorf("back in the queue: skill %s, participants %+v", d.SkillID, d.Members())
	}
}

// TestTransferRefused: only a participating agent transfers an open
// conversation to a skill id; fields before a refused one stay applied,
// and their change is still sent.
func TestTransferRefused(t *testing.T) {
	e := newEnv(t, skilled)
	c := e.consumer(e.signup())
	conv := decode[protocol.RequestConversationResponse](t, c.ok(protocol.TypeConsumerRequestConversation,
		protocol.ConsumerRequestConversation{SkillID: "10"})).ConversationID
	alice := e.online("alice")
	alice.accept(conv)
	eve := e.online("eve")
	skill := func(id string) protocol.UpdateConversationField {
		return protocol.UpdateConversationField{ConversationID: conv, ConversationField: protocol.List[protocol.ConversationField]{
			{Field: protocol.FieldSkill, Type: "UPDATE", Skill: id}}}
	}
	c.wantCode(http.StatusForbidden, "cm.UpdateConversationField", skill("20"))
	eve.wantCode(http.StatusForbidden, ".ams.cm.UpdateConversationField", skill("20"))
	alice.wantCode(http.StatusBadRequest, ".ams.cm.UpdateConversationField", skill("sales"))
	bad := skill("30")
	bad.ConversationField[0].Type = "SET"
	alice.wantCode(http.StatusBadRequest, ".ams.cm.UpdateConversationField", bad)

	c.ok("cqm.SubscribeExConversations", protocol.SubscribeExConversations{})
	c.notif(protocol.TypeExConversationChange)
	// The skill changes; removing eve, no participant, is refused.
	half := skill("30")
	half.ConversationField = append(half.ConversationField, protocol.ConversationField{Field: protocol.FieldParticipantsChange, Type: "REMOVE", UserID: "123." + e.svc.Agents()[4].UserID})
	alice.wantCode(http.StatusBadRequest, ".ams.cm.UpdateConversationField", half)
	d := decode[protocol.ExConversationChangeNotification](t, c.notif(protocol.TypeExConversationChange)).Changes[0].Result.ConversationDetails
	if string(d.SkillID) != "30" || len(d.Members()) != 2 {
		t.Errorf("after the half-applied request: skill %s, participants %+v", d.SkillID, d.Members())
	}
	if got := e.online("dave").ringsBy(); len(got) != 0 {
		t.Errorf("dave rung for %v: the conversation has its agent", got)
	}

	alice.ok(".ams.cm.UpdateConversationField", closeConv(conv))
	alice.wantCode(http.StatusConflict, ".ams.cm.UpdateConversationField", skill("20"))
}

// consumerChanges takes every cqm change received so far.
func consumerChanges(t *testing.T, c *client) []protocol.ConversationResult {
	t.Helper()
	var out []protocol.ConversationResult
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.inbox[:0]
	for _, f := range c.inbox {
		if f.Type != protocol.TypeExConversationChange {
			kept = append(kept, f)
			continue
		}
		var n protocol.ExConversationChangeNotification
		if err := json.Unmarshal(f.Body, &n); err != nil {
			t.Fatal(err)
		}
		for _, ch := range n.Changes {
			out = append(out, ch.Result)
		}
	}
	c.inbox = kept
	return out
}

// TestConversationMetadata: the consumer's metadata shows the skill, the
// time to respond asked for and, while the contact center is closed, the
// delay; the agent's also the request's campaignInfo and its context,
// with the client properties of the socket that asked.
func TestConversationMetadata(t *testing.T) {
	opens := epoch.Add(2 * time.Hour)
	e := newEnv(t, skilled, func(c *Config) { c.ClosedUntil, c.ClosedType = opens, "WEEKEND" })
	h := http.Header{}
	h.Set("Authorization", "jwt "+e.signup())
	h.Set("Client-Properties", `{"type":".ClientProperties","deviceFamily":"MOBILE","os":"ANDROID","browser":"CHROME","browserVersion":"126.0"}`)
	c := e.dial(protocol.Path(protocol.PathConsumerSocket, testAccount)+"?v=3", h)
	// PCS step 5's request (numbers for ids, a null ttrDefName replaced).
	c.ok(protocol.TypeConsumerRequestConversation, json.RawMessage(`{"channelType":"MESSAGING","ttrDefName":"PRIORITIZED",`+
		`"campaignInfo":{"campaignId":100,"engagementId":200},"conversationContext":{"visitorId":"V1","sessionId":"S1",`+
		`"interactionContextId":"1","type":"SharkContext","lang":"de-CH"}}`))
	c.ok("cqm.SubscribeExConversations", protocol.SubscribeExConversations{})
	n := c.notif(protocol.TypeExConversationChange)
	d := decode[protocol.ExConversationChangeNotification](t, n).Changes[0].Result.ConversationDetails
	if diff := cmp.Diff(protocol.TTR{TTRType: "PRIORITIZED", Value: 600}, *d.TTR); diff != "" {
		t.Errorf("ttr (-want +got):\n%s", diff)
	}
	if d.Delay == nil || *d.Delay != (protocol.Delay{Type: "WEEKEND", TillWhen: opens.UnixMilli()}) || string(d.SkillID) != "20" {
		t.Errorf("delay %+v, skill %s", d.Delay, d.SkillID)
	}
	if strings.Contains(string(n.Body), "campaignInfo") || strings.Contains(string(n.Body), "visitorId") {
		t.Errorf("the consumer's metadata shows the request's details: %s", n.Body)
	}

	watcher, _ := e.agent("bob")
	watcher.ok(".ams.aam.SubscribeExConversations", protocol.SubscribeExConversations{})
	ad := decode[protocol.ExConversationChangeNotification](t, watcher.notif(aamNotif)).Changes[0].Result.ConversationDetails
	want := protocol.ConversationDetails{
		CampaignInfo: &protocol.CampaignInfo{CampaignID: "100", EngagementID: "200"},
		Context: &protocol.ConversationContext{Type: "SharkContext", Lang: "de-CH", VisitorID: "V1", SessionID: "S1", InteractionContextID: "1",
			ClientProperties: &protocol.Header{Type: ".ClientProperties", DeviceFamily: "MOBILE", OS: "ANDROID", Browser: "CHROME", BrowserVersion: "126.0"}},
	}
	if diff := cmp.Diff(want, protocol.ConversationDetails{CampaignInfo: ad.CampaignInfo, Context: ad.Context}); diff != "" {
		t.Errorf("agent's view (-want +got):\n%s", diff)
	}

	// Open again: the next change shows no delay.
	e.clock.Advance(3 * time.Hour)
	e.online("bob").accept(decode[protocol.ExConversationChangeNotification](t, n).Changes[0].Result.ConvID)
	if d := decode[protocol.ExConversationChangeNotification](t, c.notif(protocol.TypeExConversationChange)).Changes[0].Result.ConversationDetails; d.Delay != nil {
		t.Errorf("delay after opening time: %+v", d.Delay)
	}

	// A bad Client-Properties header is refused at the handshake.
	h.Set("Client-Properties", `{"deviceFamily":`)
	if _, resp, err := e.tryDial(protocol.Path(protocol.PathConsumerSocket, testAccount)+"?v=3", h); err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad Client-Properties: %v", err)
	}
}

// TestInitConnectionClientProperties: a socket authenticated by
// InitConnection brings its client properties there (the Client Properties
// tutorial's ".ClientProperties" type).
func TestInitConnectionClientProperties(t *testing.T) {
	e := newEnv(t, skilled)
	c := e.dial(protocol.Path(protocol.PathConsumerSocket, testAccount)+"?v=3", nil)
	c.sendRaw(`{"kind":"req","id":"0","type":"InitConnection","headers":[{"type":".ClientProperties","deviceFamily":"DESKTOP","os":"LINUX"},` +
		`{"type":".ams.headers.ConsumerAuthentication","jwt":"` + e.signup() + `"}]}`)
	if r := c.resp("0"); r.Code != 200 {
		t.Fatalf("InitConnection: %d %s", r.Code, r.BodyString())
	}
	c.openConversation()
	watcher, _ := e.agent("bob")
	watcher.ok(".ams.aam.SubscribeExConversations", protocol.SubscribeExConversations{})
	ad := decode[protocol.ExConversationChangeNotification](t, watcher.notif(aamNotif)).Changes[0].Result.ConversationDetails
	want := &protocol.ConversationContext{ClientProperties: &protocol.Header{Type: ".ClientProperties", DeviceFamily: "DESKTOP", OS: "LINUX"}}
	if diff := cmp.Diff(want, ad.Context); diff != "" {
		t.Errorf("context (-want +got):\n%s", diff)
	}
}
