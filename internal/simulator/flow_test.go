package simulator

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// TestTutorialFlow plays LivePerson's tutorial by raw frames: a consumer
// signs up, connects with the Authorization header and asks for a
// conversation; an agent logs in, goes ONLINE, is rung, accepts and writes;
// the consumer receives the message and publishes ACCEPT then READ, which
// the agent sees with the consumer's id.
func TestTutorialFlow(t *testing.T) {
	e := newEnv(t)

	// Discovery.
	resp, err := http.Get(e.url("/api/account/123/service/baseURI.json?version=1.0"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("domain API: %d", resp.StatusCode)
	}

	token := e.signup()
	h := http.Header{}
	h.Set("Authorization", "jwt "+token)
	consumer := e.dial("/ws_api/account/123/messaging/consumer?v=3", h)

	consumer.sendRaw(`{"kind":"req","id":1,"type":"cm.ConsumerRequestConversation"}`)
	r := consumer.resp("1")
	if r.Code != 200 || r.Type != "cm.RequestConversationResponse" {
		t.Fatalf("request conversation: %+v %s", r, r.Body)
	}
	convID := decode[protocol.RequestConversationResponse](t, r).ConversationID

	consumer.sendRaw(`{"kind":"req","id":"2","type":"ms.SubscribeMessagingEvents","body":{"dialogId":"` + convID + `","conversationId":"` + convID + `","fromSeq":0}}`)
	if r := consumer.resp("2"); r.Code != 200 || r.Type != ".ams.GenericSubscribeResponse" {
		t.Fatalf("subscribe: %+v", r)
	}

	// The agent side, as the SDK sends it.
	login := e.login("alice", "pw-a")
	oldID := testAccount + "." + login.Config.UserID
	agent := e.dial("/ws_api/account/123/messaging/brand/"+login.Bearer+"?v=2.1", nil)
	agent.sendRaw(`{"kind":"req","id":"a1","type":".ams.routing.SetAgentState","body":{"availability":"ONLINE","channels":["MESSAGING"],"agentUserId":"` + oldID + `"}}`)
	if r := agent.resp("a1"); r.Code != 200 || r.Type != ".ams.routing.SetAgentState$Response" || r.BodyString() != "Agent state updated successfully" {
		t.Fatalf("SetAgentState: %+v %s", r, r.Body)
	}
	agent.sendRaw(`{"kind":"req","id":"a2","type":".ams.routing.SubscribeRoutingTasks","body":{"channelType":"MESSAGING","agentId":"` + oldID + `","brandId":"123"}}`)
	if r := agent.resp("a2"); r.Code != 200 || r.Type != ".ams.routing.SubscribeRoutingTasks$Response" {
		t.Fatalf("SubscribeRoutingTasks: %+v", r)
	}
	task := agent.nextRing()
	ring := task.RingsDetails[0]
	if task.ConversationID != convID || ring.RingState != "WAITING" || task.TaskCompleted {
		t.Fatalf("ring: %+v", task)
	}
	agent.sendRaw(`{"kind":"req","id":"a3","type":".ams.routing.UpdateRingState","body":{"ringId":"` + ring.RingID + `","ringState":"ACCEPTED"}}`)
	if r := agent.resp("a3"); r.Code != 200 || r.Type != ".ams.routing.UpdateRingState$Response" {
		t.Fatalf("UpdateRingState: %+v %s", r, r.Body)
	}
	agent.sendRaw(`{"kind":"req","id":"a4","type":".ams.ms.PublishEvent","body":{"dialogId":"` + convID + `","event":{"type":"ContentEvent","contentType":"text/plain","message":"hello from the agent"}}}`)
	if r := agent.resp("a4"); r.Code != 200 || string(r.Body) != `{"sequence":0}` || r.Type != ".ams.ms.PublishEvent$Response" {
		t.Fatalf("agent publish: %+v %s", r, r.Body)
	}

	// The consumer receives it with the dialog and its sequence, from the
	// agent's PId.
	n := consumer.notif("ms.MessagingEventNotification")
	got := decode[protocol.MessagingEventNotification](t, n).Changes[0]
	if got.DialogID != convID || got.Sequence == nil || *got.Sequence != 0 ||
		got.OriginatorID != login.Config.UserPID || got.Event.Message != "hello from the agent" {
		t.Fatalf("consumer got %s", n.Body)
	}

	consumer.sendRaw(`{"kind":"req","id":"3","type":"ms.PublishEvent","body":{"dialogId":"` + convID + `","conversationId":"` + convID + `","event":{"type":"AcceptStatusEvent","status":"ACCEPT","sequenceList":[0]}}}`)
	if r := consumer.resp("3"); string(r.Body) != `{"sequence":1}` || r.Type != "ms.PublishEventResponse" {
		t.Fatalf("ACCEPT: %+v %s", r, r.Body)
	}
	consumer.sendRaw(`{"kind":"req","id":"4","type":"ms.PublishEvent","body":{"dialogId":"` + convID + `","conversationId":"` + convID + `","event":{"type":"AcceptStatusEvent","status":"READ","sequenceList":[0]}}}`)
	if r := consumer.resp("4"); string(r.Body) != `{"sequence":2}` {
		t.Fatalf("READ: %+v %s", r, r.Body)
	}

	// The agent sees its own message, then both receipts with the
	// consumer's id.
	var statuses []string
	for len(statuses) < 3 {
		ev := decode[protocol.MessagingEvent](t, agent.notif(onlineEvent))
		switch ev.Event.Type {
		case protocol.EventContent:
			if ev.OriginatorID != oldID || ev.OriginatorPID != login.Config.UserPID {
				t.Errorf("own message ids: %+v", ev)
			}
			statuses = append(statuses, "content")
		case protocol.EventAcceptStatus:
			consumerID := consumerIDOf(t, e, convID)
			if ev.OriginatorID != consumerID || ev.OriginatorPID != consumerID || ev.OriginatorMetadata.Role != "CONSUMER" {
				t.Errorf("receipt ids: %+v", ev)
			}
			statuses = append(statuses, ev.Event.Status)
		}
	}
	if diff := cmp.Diff([]string{"content", "ACCEPT", "READ"}, statuses); diff != "" {
		t.Errorf("agent saw (-want +got):\n%s", diff)
	}
	if n := len(e.svc.DialogEvents(convID)); n != 3 {
		t.Errorf("stored events: %d, want 3", n)
	}
}

func consumerIDOf(t *testing.T, e *env, convID string) string {
	t.Helper()
	e.svc.mu.Lock()
	defer e.svc.mu.Unlock()
	return e.svc.conversations[convID].consumerID
}
