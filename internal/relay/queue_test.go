package relay

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// routed is an open conversation's metadata: its skill, its assigned
// agent (none: ""), its time to respond and its delay (0: none).
func routed(ts int64, skill, agent string, ttr int64, closedTill int64) protocol.ConversationChange {
	d := protocol.ConversationDetails{State: "OPEN", Stage: "OPEN", MetaDataLastUpdateTs: ts, SkillID: protocol.ID(skill),
		Participants: protocol.Participants{List: []protocol.Participant{{ID: me, Role: protocol.RoleConsumer}}}}
	if agent != "" {
		d.Participants.List = append(d.Participants.List, protocol.Participant{ID: agent, Role: protocol.RoleAssignedAgent})
	}
	if ttr > 0 {
		d.TTR = &protocol.TTR{TTRType: "NORMAL", Value: ttr}
	}
	if closedTill > 0 {
		d.Delay = &protocol.Delay{Type: "NIGHT", TillWhen: closedTill}
	}
	return protocol.ConversationChange{Type: protocol.ChangeUpsert, Result: protocol.ConversationResult{ConvID: conv, ConversationDetails: d}}
}

// TestQueue: what the customer waiting for an agent is told follows the
// metadata: the time to respond and the delay; an agent leaving (back to
// the queue) and, when the skill changed, a transfer, in one change or in
// two; a new agent clears it.
func TestQueue(t *testing.T) {
	opens := time.Date(2025, 1, 6, 9, 0, 0, 0, time.UTC)
	type step struct {
		change       protocol.ConversationChange
		name         string // the agent's name, once known
		want         Queue
		wantAnnounce string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"waiting, then closed for the night", []step{
			{change: routed(1, "10", "", 3600, 0), want: Queue{TTR: time.Hour}},
			{change: routed(2, "10", "", 3600, opens.UnixMilli()), want: Queue{TTR: time.Hour, ClosedUntil: opens}},
		}},
		{"transfer in one change", []step{
			{change: routed(1, "10", "", 600, 0), want: Queue{TTR: 10 * time.Minute}},
			{change: routed(2, "10", agentID, 600, 0), name: "Alice", want: Queue{TTR: 10 * time.Minute}},
			{change: routed(3, "20", "", 600, 0), want: Queue{Left: "Alice", Transferring: true, TTR: 10 * time.Minute},
				wantAnnounce: "Alice left the conversation. Transferring you to another agent."},
			{change: routed(4, "20", "agent-2", 600, 0), want: Queue{TTR: 10 * time.Minute}},
		}},
		{"transfer in two changes: the agent leaves, then the skill changes", []step{
			{change: routed(1, "10", agentID, 600, 0), want: Queue{TTR: 10 * time.Minute}},
			{change: routed(2, "10", "", 600, 0), want: Queue{Left: "Your agent", TTR: 10 * time.Minute}, wantAnnounce: "Your agent left the conversation."},
			{change: routed(3, "20", "", 600, 0), want: Queue{Left: "Your agent", Transferring: true, TTR: 10 * time.Minute},
				wantAnnounce: "Transferring you to another agent."},
		}},
		{"back to the queue", []step{
			{change: routed(1, "10", agentID, 0, 0), name: "Bob"},
			{change: routed(2, "10", "", 0, 0), want: Queue{Left: "Bob"}, wantAnnounce: "Bob left the conversation."},
			{change: routed(3, "10", agentID, 0, 0)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConversation(me)
			for i, s := range tt.steps {
				ch, ok := c.ApplyConversation(s.change)
				if !ok {
					t.Fatalf("step %d not applied", i)
				}
				if s.name != "" {
					c.SetAgentName(c.AgentID, s.name)
				}
				if diff := cmp.Diff(s.want, c.Queue()); diff != "" {
					t.Errorf("step %d queue (-want +got):\n%s", i, diff)
				}
				if ch.Announce != s.wantAnnounce {
					t.Errorf("step %d announced %q, want %q", i, ch.Announce, s.wantAnnounce)
				}
				if i > 0 && s.want != tt.steps[i-1].want && !ch.Agent {
					t.Errorf("step %d: the queue changed and the header is not re-rendered", i)
				}
			}
		})
	}
}
