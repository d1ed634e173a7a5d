package simulator

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// TestFirstAcceptWins: a new conversation rings every ONLINE subscribed
// agent; the first to accept joins as ASSIGNED_AGENT and the other ring
// turns CANCELLED; the consumer sees the agent join.
func TestFirstAcceptWins(t *testing.T) {
	e := newEnv(t)
	alice, aliceLogin := e.onlineAgent("alice")
	bob, _ := e.onlineAgent("bob")
	away, _ := e.agent("bob") // a second bob socket without a routing subscription
	c := e.consumer(e.signup())
	conv := c.openConversation()
	c.ok("cqm.SubscribeExConversations", protocol.SubscribeExConversations{})
	c.notif("cqm.ExConversationChangeNotification")

	aliceRing, bobRing := alice.nextRing(), bob.nextRing()
	for _, task := range []protocol.RoutingTask{aliceRing, bobRing} {
		r := task.RingsDetails[0]
		if task.ConversationID != conv || r.RingState != "WAITING" || task.TaskCompleted || r.ConvID != conv ||
			r.RingExpirationTs != epoch.UnixMilli()+60_000 || task.ConsumerID == "" || string(task.BrandID) != testAccount {
			t.Fatalf("ring %+v", task)
		}
	}
	alice.ok(".ams.routing.UpdateRingState", protocol.UpdateRingState{RingID: aliceRing.RingsDetails[0].RingID, RingState: "ACCEPTED"})
	if got := alice.nextRing(); got.RingsDetails[0].RingState != "ACCEPTED" || !got.TaskCompleted {
		t.Errorf("winner %+v", got)
	}
	if got := bob.nextRing(); got.RingsDetails[0].RingState != "CANCELLED" || !got.TaskCompleted {
		t.Errorf("loser %+v", got)
	}
	bob.wantCode(404, ".ams.routing.UpdateRingState", protocol.UpdateRingState{RingID: bobRing.RingsDetails[0].RingID, RingState: "ACCEPTED"})
	alice.wantCode(400, ".ams.routing.UpdateRingState", protocol.UpdateRingState{RingID: "x", RingState: "MAYBE"})

	ch := decode[protocol.ExConversationChangeNotification](t, c.notif("cqm.ExConversationChangeNotification")).Changes[0]
	want := []protocol.Participant{{ID: consumerIDOf(t, e, conv), Role: "CONSUMER"}, {ID: aliceLogin.Config.UserPID, Role: "ASSIGNED_AGENT"}}
	if diff := cmp.Diff(want, ch.Result.ConversationDetails.Participants.List); diff != "" {
		t.Errorf("participants (-want +got):\n%s", diff)
	}

	// The assigned agent may publish; bob, not a participant, may not.
	alice.ok(".ams.ms.PublishEvent", text(conv, "hi, I'm alice"))
	bob.wantCode(403, ".ams.ms.PublishEvent", text(conv, "me too"))
	bob.wantCode(403, ".ams.cm.UpdateConversationField", closeConv(conv))
	// Only participants get live events; any agent may read the history.
	q := bob.ok(".ams.ms.QueryMessages", protocol.QueryMessages{DialogID: conv, NewerThanSequence: 0})
	if evs := decode[[]protocol.MessagingEvent](t, q); len(evs) != 1 {
		t.Errorf("history %s", q.Body)
	}
	away.ok(".GetClock", nil)
	for _, s := range []*client{bob, away} {
		s.mu.Lock()
		for _, f := range s.inbox {
			if f.Type == onlineEvent {
				t.Errorf("non-participant got %s", f.Body)
			}
		}
		s.mu.Unlock()
	}
}

// TestRingExpiry: an unanswered ring expires after RingTimeout and the
// agent is rung again; a rejected ring is followed by a new ring too.
func TestRingExpiry(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RingTimeout = 150 * time.Millisecond })
	a, _ := e.onlineAgent("alice")
	c := e.consumer(e.signup())
	conv := c.openConversation()
	first := a.nextRing().RingsDetails[0]
	if first.RingExpirationTs != epoch.UnixMilli()+150 || first.RingExpiration != 150 {
		t.Errorf("expiry %+v", first)
	}
	e.clock.Advance(time.Second)
	expired := a.nextRing().RingsDetails[0]
	if expired.RingID != first.RingID || expired.RingState != "EXPIRED" {
		t.Fatalf("expired %+v", expired)
	}
	second := a.nextRing()
	r := second.RingsDetails[0]
	if r.RingID == first.RingID || r.RingState != "WAITING" || second.ConversationID != conv || r.RingExpirationTs != epoch.Add(time.Second).UnixMilli()+150 {
		t.Fatalf("re-ring %+v", second)
	}
	a.wantCode(404, ".ams.routing.UpdateRingState", protocol.UpdateRingState{RingID: first.RingID, RingState: "ACCEPTED"})
	a.ok(".ams.routing.UpdateRingState", protocol.UpdateRingState{RingID: r.RingID, RingState: "REJECTED"})
	if got := a.nextRing().RingsDetails[0]; got.RingState != "REJECTED" {
		t.Fatalf("rejected %+v", got)
	}
	third := a.nextRing().RingsDetails[0]
	if third.RingState != "WAITING" || third.RingID == r.RingID {
		t.Fatalf("after rejection %+v", third)
	}
	a.ok(".ams.routing.UpdateRingState", protocol.UpdateRingState{RingID: third.RingID, RingState: "ACCEPTED"})
}

// TestRingWaitingConversations: going ONLINE and subscribing rings the
// conversations already waiting; an agent that is not ONLINE is not rung.
func TestRingWaitingConversations(t *testing.T) {
	e := newEnv(t)
	c := e.consumer(e.signup())
	conv := c.openConversation()
	a, _ := e.agent("alice")
	a.ok(".ams.routing.SubscribeRoutingTasks", protocol.SubscribeRoutingTasks{})
	a.ok(".ams.routing.SetAgentState", protocol.SetAgentState{Availability: "AWAY"})
	a.ok(".GetClock", nil)
	a.mu.Lock()
	for _, f := range a.inbox {
		if f.Type == ringNotif {
			t.Errorf("AWAY agent rung: %s", f.Body)
		}
	}
	a.mu.Unlock()
	a.ok(".ams.routing.SetAgentState", protocol.SetAgentState{Availability: "ONLINE"})
	if task := a.nextRing(); task.ConversationID != conv {
		t.Fatalf("ring %+v", task)
	}
	// A second subscribed socket of the same agent gets the waiting ring.
	b, _ := e.agent("alice")
	b.ok(".ams.routing.SubscribeRoutingTasks", protocol.SubscribeRoutingTasks{})
	if task := b.nextRing(); task.ConversationID != conv || task.RingsDetails[0].RingState != "WAITING" {
		t.Fatalf("second socket ring %+v", task)
	}
}

// TestAgentConversationShape checks the aam notification's older form the
// SDK requires: participants and participantsPId maps, dialogs with
// participantsDetails in state ACTIVE.
func TestAgentConversationShape(t *testing.T) {
	e := newEnv(t)
	c := e.consumer(e.signup())
	conv := c.openConversation()
	consumerID := consumerIDOf(t, e, conv)
	watcher, _ := e.agent("bob")
	r := watcher.ok(".ams.aam.SubscribeExConversations", map[string]any{"convState": []string{"OPEN"}})
	if r.Type != ".ams.aam.SubscribeExConversations$Response" {
		t.Errorf("response type %q", r.Type)
	}
	snap := decode[protocol.ExConversationChangeNotification](t, watcher.notif(aamNotif))
	if len(snap.Changes) != 1 || snap.Changes[0].Result.ConvID != conv {
		t.Fatalf("snapshot %+v", snap)
	}
	a, l := e.assign("alice")
	oldID := testAccount + "." + l.Config.UserID

	var raw struct {
		Changes []struct {
			Type   string `json:"type"`
			Result struct {
				ConversationDetails struct {
					Participants    map[string][]string `json:"participants"`
					ParticipantsPID map[string][]string `json:"participantsPId"`
					Dialogs         []struct {
						ChannelType         string                 `json:"channelType"`
						ParticipantsDetails []protocol.Participant `json:"participantsDetails"`
					} `json:"dialogs"`
				} `json:"conversationDetails"`
			} `json:"result"`
		} `json:"changes"`
	}
	n := watcher.take("join", func(f protocol.Frame) bool {
		return f.Type == aamNotif && strings.Contains(string(f.Body), "ASSIGNED_AGENT")
	})
	if err := json.Unmarshal(n.Body, &raw); err != nil {
		t.Fatal(err)
	}
	d := raw.Changes[0].Result.ConversationDetails
	if diff := cmp.Diff(map[string][]string{"CONSUMER": {consumerID}, "ASSIGNED_AGENT": {oldID}}, d.Participants); diff != "" {
		t.Errorf("participants (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]string{"CONSUMER": {consumerID}, "ASSIGNED_AGENT": {l.Config.UserPID}}, d.ParticipantsPID); diff != "" {
		t.Errorf("participantsPId (-want +got):\n%s", diff)
	}
	wantPD := []protocol.Participant{{ID: consumerID, Role: "CONSUMER", State: "ACTIVE"}, {ID: l.Config.UserPID, Role: "ASSIGNED_AGENT", State: "ACTIVE"}}
	if len(d.Dialogs) != 1 || d.Dialogs[0].ChannelType != "MESSAGING" {
		t.Fatalf("dialogs %+v", d.Dialogs)
	}
	if diff := cmp.Diff(wantPD, d.Dialogs[0].ParticipantsDetails); diff != "" {
		t.Errorf("participantsDetails (-want +got):\n%s", diff)
	}

	// agentIds filters by the agent's old id (or PId).
	mine := decode[protocol.SubscriptionResponse](t, a.ok(".ams.aam.SubscribeExConversations",
		protocol.SubscribeExConversations{ConvState: protocol.Strings{"OPEN"}, AgentIDs: protocol.Strings{oldID}})).SubscriptionID
	if s := decode[protocol.ExConversationChangeNotification](t, a.take("own snapshot", func(f protocol.Frame) bool {
		return f.Type == aamNotif && strings.Contains(string(f.Body), mine)
	})); len(s.Changes) != 1 {
		t.Errorf("own snapshot %+v", s)
	}
	other := decode[protocol.SubscriptionResponse](t, a.ok(".ams.aam.SubscribeExConversations",
		protocol.SubscribeExConversations{AgentIDs: protocol.Strings{"123.0"}})).SubscriptionID
	if s := decode[protocol.ExConversationChangeNotification](t, a.take("other snapshot", func(f protocol.Frame) bool {
		return f.Type == aamNotif && strings.Contains(string(f.Body), other)
	})); len(s.Changes) != 0 {
		t.Errorf("other agent's snapshot %+v", s)
	}
}

// TestAgentMessaging: QueryMessages (inclusive newerThanSequence, array
// body, agent view of ids), SubscribeMessagingEvents as history, the
// consumer's profile, and OnlineEventDistribution of chat states.
func TestAgentMessaging(t *testing.T) {
	e := newEnv(t)
	c := e.consumer(e.signup())
	conv := c.openConversation()
	consumerID := consumerIDOf(t, e, conv)
	a, l := e.assign("alice")
	oldID := testAccount + "." + l.Config.UserID
	c.ok("ms.PublishEvent", text(conv, "c0"))
	a.ok(".ams.ms.PublishEvent", text(conv, "a1"))
	c.ok("ms.PublishEvent", receipt(conv, "READ", 1))

	q := a.ok(".ams.ms.QueryMessages", protocol.QueryMessages{DialogID: conv, NewerThanSequence: 1})
	if q.Type != ".ams.ms.QueryMessages$Response" || !strings.HasPrefix(string(q.Body), "[") {
		t.Fatalf("QueryMessages %+v %s", q, q.Body)
	}
	evs := decode[[]protocol.MessagingEvent](t, q)
	if len(evs) != 2 || *evs[0].Sequence != 1 || evs[0].OriginatorID != oldID || evs[0].OriginatorPID != l.Config.UserPID ||
		evs[0].OriginatorMetadata.ID != l.Config.UserPID || evs[0].OriginatorMetadata.Role != "ASSIGNED_AGENT" ||
		evs[1].OriginatorID != consumerID || evs[1].OriginatorPID != consumerID {
		t.Fatalf("history %s", q.Body)
	}
	sub := a.ok("ms.SubscribeMessagingEvents", protocol.SubscribeMessagingEvents{DialogID: conv, FromSeq: 2})
	if evs := decode[[]protocol.MessagingEvent](t, sub); len(evs) != 1 || *evs[0].Sequence != 2 {
		t.Fatalf("subscribe as history %s", sub.Body)
	}
	a.wantCode(404, ".ams.ms.QueryMessages", protocol.QueryMessages{DialogID: "nope"})

	c.ok("ms.PublishEvent", protocol.PublishEvent{DialogID: conv, Event: protocol.Event{Type: "ChatStateEvent", ChatState: "COMPOSING"}})
	n := a.take("chat state", func(f protocol.Frame) bool {
		return f.Type == onlineEvent && strings.Contains(string(f.Body), "COMPOSING")
	})
	if strings.Contains(string(n.Body), `"sequence"`) {
		t.Errorf("chat state with a sequence: %s", n.Body)
	}
	// The consumer socket shows PIds only: in the replay (after the live
	// events of its implicit subscription, which are set aside first) and
	// in every frame.
	c.barrier()
	c.seqsOf(conv)
	c.ok("ms.SubscribeMessagingEvents", protocol.SubscribeMessagingEvents{DialogID: conv})
	replay := decode[protocol.MessagingEventNotification](t, c.notif("ms.MessagingEventNotification"))
	if got := replay.Changes[1]; got.OriginatorID != l.Config.UserPID || strings.Contains(string(c.dump()), oldID) {
		t.Errorf("consumer view %+v", got)
	}

	p := a.ok(".ams.userprofile.GetUserProfile", consumerID)
	if p.Type != ".ams.userprofile.GetUserProfile$Response" || !strings.Contains(string(p.Body), `"privateData":{}`) {
		t.Errorf("profile %+v %s", p, p.Body)
	}
	a.wantCode(404, ".ams.userprofile.GetUserProfile", "nobody")
}

// TestParticipantsChange: an agent joins without a ring and leaves; a
// conversation left without an assigned agent rings again.
func TestParticipantsChange(t *testing.T) {
	e := newEnv(t)
	c := e.consumer(e.signup())
	conv := c.openConversation()
	alice, al := e.assign("alice")
	bob, bl := e.onlineAgent("bob")
	change := func(typ, role, user string) protocol.UpdateConversationField {
		return protocol.UpdateConversationField{ConversationID: conv, ConversationField: protocol.List[protocol.ConversationField]{
			{Field: "ParticipantsChange", Type: typ, Role: role, UserID: user}}}
	}
	bob.wantCode(409, ".ams.cm.UpdateConversationField", change("ADD", "ASSIGNED_AGENT", ""))
	bob.ok(".ams.cm.UpdateConversationField", change("ADD", "MANAGER", "123."+bl.Config.UserID))
	bob.ok(".ams.ms.PublishEvent", text(conv, "manager here"))
	c.wantCode(403, "cm.UpdateConversationField", change("ADD", "MANAGER", ""))
	bob.wantCode(400, ".ams.cm.UpdateConversationField", change("ADD", "MANAGER", "nobody"))

	alice.ok(".ams.cm.UpdateConversationField", change("REMOVE", "ASSIGNED_AGENT", al.Config.UserPID))
	alice.wantCode(403, ".ams.ms.PublishEvent", text(conv, "gone"))
	if task := bob.nextRing(); task.ConversationID != conv || task.RingsDetails[0].RingState != "WAITING" {
		t.Fatalf("ring after leave %+v", task)
	}

	// The agent closes: closeReason AGENT.
	c.ok("cqm.SubscribeExConversations", protocol.SubscribeExConversations{})
	c.notif("cqm.ExConversationChangeNotification")
	r := bob.ok(".ams.cm.UpdateConversationField", closeConv(conv))
	if r.Type != ".ams.cm.UpdateConversationField$Response" {
		t.Errorf("type %q", r.Type)
	}
	if got := bob.nextRing().RingsDetails[0].RingState; got != "CANCELLED" {
		t.Errorf("ring after close %s", got)
	}
	d := decode[protocol.ExConversationChangeNotification](t, c.notif("cqm.ExConversationChangeNotification")).Changes[0].Result.ConversationDetails
	if d.CloseReason != "AGENT" || d.Dialogs[0].ClosedBy != "AGENT" || d.Stage != "CLOSE" {
		t.Errorf("closed by agent %+v", d)
	}
}
