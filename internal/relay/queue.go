package relay

import (
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Queue is what the window says while the customer waits for an agent
// (docs/protocol.md, Queue state): who left, whether the conversation is
// being transferred, how soon an agent usually answers, and until when the
// contact center is closed.
type Queue struct {
	// Left is the name of the agent who left the conversation (back to the
	// queue, or transferred), until another agent is assigned.
	Left string
	// Transferring: the agent left and the conversation's skill changed.
	Transferring bool
	// TTR is the time to respond the service announces (0: none).
	TTR time.Duration
	// ClosedUntil is when the contact center opens again (zero: open).
	ClosedUntil time.Time
}

// queueState is what the conversation keeps to tell the queue.
type queueState struct {
	Queue
	// skill is the conversation's skill; agentSkill its skill while an
	// agent was assigned.
	skill, agentSkill string
}

// applyQueue takes a metadata change's routing fields, after the assigned
// agent (AgentID) was updated from it; before and name are the agent
// assigned before and its name. It returns whether the queue changed, and
// what to announce.
func (c *Conversation) applyQueue(d protocol.ConversationDetails, before, name string) (changed bool, announce string) {
	old := c.queue.Queue
	q := &c.queue
	if d.SkillID != "" {
		q.skill = string(d.SkillID)
	}
	q.TTR, q.ClosedUntil = 0, time.Time{}
	if d.TTR != nil && d.TTR.Value > 0 {
		q.TTR = time.Duration(d.TTR.Value) * time.Second
	}
	if d.Delay != nil && d.Delay.TillWhen > 0 {
		q.ClosedUntil = time.UnixMilli(d.Delay.TillWhen).UTC()
	}
	switch {
	case c.AgentID != "":
		q.Left, q.Transferring, q.agentSkill = "", false, q.skill
	case before != "":
		if name == "" {
			name = "Your agent"
		}
		q.Left = name
		announce = name + " left the conversation."
	}
	if c.AgentID == "" && q.Left != "" {
		q.Transferring = q.skill != q.agentSkill
		if q.Transferring && !old.Transferring {
			announce += " Transferring you to another agent."
		}
	}
	if announce != "" && announce[0] == ' ' {
		announce = announce[1:]
	}
	return q.Queue != old, announce
}

// Queue is the conversation's queue state.
func (c *Conversation) Queue() Queue { return c.queue.Queue }
