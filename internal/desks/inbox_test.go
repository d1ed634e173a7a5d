package desks

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

func routing(typ, convID string, completed bool, rings ...protocol.Ring) protocol.RoutingTaskChange {
	return protocol.RoutingTaskChange{Type: typ, Result: protocol.RoutingTask{
		RoutingTaskID: "T-" + convID, ConversationID: convID, ConsumerID: consumer, TaskCompleted: completed, RingsDetails: rings,
	}}
}

func conv(typ, convID, stage string, agents ...string) protocol.ConversationChange {
	var pid, old []protocol.Participant
	pid = append(pid, protocol.Participant{ID: consumer, Role: protocol.RoleConsumer})
	old = append(old, protocol.Participant{ID: consumer, Role: protocol.RoleConsumer})
	for _, a := range agents {
		switch a {
		case "me":
			pid = append(pid, protocol.Participant{ID: me.PID, Role: protocol.RoleAssignedAgent})
			old = append(old, protocol.Participant{ID: me.OldID, Role: protocol.RoleAssignedAgent})
		default:
			pid = append(pid, protocol.Participant{ID: "pid-" + a, Role: protocol.RoleAssignedAgent})
			old = append(old, protocol.Participant{ID: "123." + a, Role: protocol.RoleAssignedAgent})
		}
	}
	d := protocol.ConversationDetails{Stage: stage, State: stage}
	d.ParticipantsPID.List, d.Participants.List = pid, old
	d.Dialogs = protocol.List[protocol.Dialog]{{DialogID: convID, DialogType: "MAIN", State: stage}}
	return protocol.ConversationChange{Type: typ, Result: protocol.ConversationResult{ConvID: convID, ConversationDetails: d}}
}

func TestInboxRings(t *testing.T) {
	waiting := func(id, convID string) protocol.Ring {
		return protocol.Ring{RingID: id, RingState: protocol.RingWaiting, ConvID: convID, ConsumerID: consumer}
	}
	tests := []struct {
		name    string
		changes []protocol.RoutingTaskChange
		want    []string // ring ids
	}{
		{"waiting ring shown", []protocol.RoutingTaskChange{routing("UPSERT", "C1", false, waiting("R1", "C1"))}, []string{"R1"}},
		{"two conversations ring", []protocol.RoutingTaskChange{
			routing("UPSERT", "C1", false, waiting("R1", "C1")),
			routing("UPSERT", "C2", false, waiting("R2", "C2")),
		}, []string{"R1", "R2"}},
		{"accepted elsewhere: cancelled", []protocol.RoutingTaskChange{
			routing("UPSERT", "C1", false, waiting("R1", "C1")),
			routing("UPSERT", "C1", true, protocol.Ring{RingID: "R1", RingState: protocol.RingCancelled, ConvID: "C1"}),
		}, nil},
		{"expired then rung again", []protocol.RoutingTaskChange{
			routing("UPSERT", "C1", false, waiting("R1", "C1")),
			routing("UPSERT", "C1", false, protocol.Ring{RingID: "R1", RingState: protocol.RingExpired, ConvID: "C1"}, waiting("R2", "C1")),
		}, []string{"R2"}},
		{"task deleted", []protocol.RoutingTaskChange{
			routing("UPSERT", "C1", false, waiting("R1", "C1")),
			routing("DELETE", "C1", false),
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := NewInbox(me)
			for _, ch := range tt.changes {
				in.ApplyRouting(ch)
			}
			var got []string
			for _, r := range in.Rings() {
				got = append(got, r.ID)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("rings (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInboxConversations(t *testing.T) {
	type state struct {
		ID     string
		Closed bool
	}
	tests := []struct {
		name      string
		changes   []protocol.ConversationChange
		want      []state
		wantRings int
	}{
		{"waiting, not ours", []protocol.ConversationChange{conv("UPSERT", "C1", "OPEN")}, nil, 1},
		{"ours once assigned (ring gone)", []protocol.ConversationChange{conv("UPSERT", "C1", "OPEN", "me")}, []state{{ID: "C1"}}, 0},
		{"another agent's: not shown, ring gone", []protocol.ConversationChange{conv("UPSERT", "C1", "OPEN", "bot")}, nil, 0},
		{"closed stays listed as closed", []protocol.ConversationChange{
			conv("UPSERT", "C1", "OPEN", "me"), conv("UPSERT", "C1", "CLOSE", "me"),
		}, []state{{ID: "C1", Closed: true}}, 0},
		{"deleted (stopped matching OPEN) is closed", []protocol.ConversationChange{
			conv("UPSERT", "C1", "OPEN", "me"), {Type: "DELETE", Result: protocol.ConversationResult{ConvID: "C1"}},
		}, []state{{ID: "C1", Closed: true}}, 0},
		{"transferred away: gone", []protocol.ConversationChange{
			conv("UPSERT", "C1", "OPEN", "me"), conv("UPSERT", "C1", "OPEN", "bot"),
		}, nil, 0},
		{"newest first", []protocol.ConversationChange{
			conv("UPSERT", "C1", "OPEN", "me"), conv("UPSERT", "C2", "OPEN", "me"),
		}, []state{{ID: "C2"}, {ID: "C1"}}, 0},
		{"a closed conversation never ours is ignored", []protocol.ConversationChange{conv("UPSERT", "C1", "CLOSE", "me")}, nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := NewInbox(me)
			in.ApplyRouting(routing("UPSERT", "C1", false, protocol.Ring{RingID: "R1", RingState: protocol.RingWaiting, ConvID: "C1"}))
			for _, ch := range tt.changes {
				in.ApplyConversation(ch)
			}
			var got []state
			for _, th := range in.Threads() {
				got = append(got, state{th.ID, th.Closed})
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("conversations (-want +got):\n%s", diff)
			}
			if n := len(in.Rings()); n != tt.wantRings {
				t.Errorf("%d rings, want %d", n, tt.wantRings)
			}
		})
	}
}

func TestInboxNewThreadKnowsConsumer(t *testing.T) {
	in := NewInbox(me)
	r := in.ApplyConversation(conv("UPSERT", "C1", "OPEN", "me"))
	if !r.New || r.Thread == nil || r.Thread.ConsumerID != consumer {
		t.Fatalf("ApplyConversation = %+v, want a new thread with its consumer", r)
	}
	if th, ok := in.ThreadOf("C1"); !ok || th != r.Thread {
		t.Error("ThreadOf(MAIN dialog) did not find the thread")
	}
}
