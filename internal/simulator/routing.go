package simulator

import (
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Routing (docs/protocol.md, Routing and agent state): a conversation without
// an assigned agent has a routing task, which rings every ONLINE agent
// subscribed to routing tasks that takes the conversation's skill
// (skills.go). The first ACCEPTED ring wins; the others turn
// CANCELLED. A ring left unanswered (or rejected) for RingTimeout ends
// (EXPIRED) and the agent is rung again while the conversation still waits.

// task is a conversation's routing task.
type task struct {
	id    string
	conv  *conversation
	rings map[*agentAccount]*ring
}

// ring offers a task to one agent.
type ring struct {
	id        string
	task      *task
	agent     *agentAccount
	state     string
	createdTs int64
	expiresTs int64
	timer     *time.Timer
}

func (r *ring) stop() {
	if r.timer != nil {
		r.timer.Stop()
	}
}

// ringable reports whether an agent is offered conversations: ONLINE and
// with at least one socket subscribed to routing tasks.
func (s *Service) ringable(a *agentAccount) bool {
	if a.availability != protocol.AgentOnline {
		return false
	}
	for c := range a.sockets {
		if c.routingSub != "" {
			return true
		}
	}
	return false
}

// offer rings every ringable agent that has no ring yet for cv, when cv
// waits for an agent.
func (s *Service) offer(cv *conversation) {
	if s.closed || !cv.needsAgent() || s.held == cv {
		return
	}
	if cv.task == nil {
		cv.task = &task{id: s.cfg.NewID(), conv: cv, rings: map[*agentAccount]*ring{}}
	}
	for _, a := range s.agents {
		if cv.task.rings[a] == nil && s.ringable(a) && a.takes(cv.skillID) {
			s.ring(cv.task, a)
		}
	}
}

// offerAll offers every waiting conversation, oldest first.
func (s *Service) offerAll() {
	for _, cv := range s.convOrder {
		s.offer(cv)
	}
}

// ring creates a WAITING ring of t for agent a and arms its expiry.
func (s *Service) ring(t *task, a *agentAccount) {
	now := s.now()
	r := &ring{
		id:        s.cfg.NewID(),
		task:      t,
		agent:     a,
		state:     protocol.RingWaiting,
		createdTs: now,
		expiresTs: now + s.cfg.RingTimeout.Milliseconds(),
	}
	// The timer's goroutine runs expire and ends; Close stops pending timers.
	r.timer = time.AfterFunc(s.cfg.RingTimeout, func() { s.expire(r) })
	t.rings[a] = r
	s.rings[r.id] = r
	s.notifyRing(r, nil)
}

// expire ends a ring that got no (or a negative) answer in time and rings
// the agent again if the conversation still waits.
func (s *Service) expire(r *ring) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.rings[r.id] != r {
		return
	}
	t := r.task
	delete(s.rings, r.id)
	delete(t.rings, r.agent)
	if r.state == protocol.RingWaiting {
		r.state = protocol.RingExpired
		s.notifyRing(r, nil)
	}
	if t.conv.task == t && t.conv.needsAgent() && s.ringable(r.agent) && r.agent.takes(t.conv.skillID) {
		s.ring(t, r.agent)
	}
}

// endTask ends cv's routing task: waiting rings turn CANCELLED (the
// winner, already ACCEPTED, is left as it is).
func (s *Service) endTask(cv *conversation) {
	t := cv.task
	if t == nil {
		return
	}
	cv.task = nil
	for _, a := range s.agents {
		r := t.rings[a]
		if r == nil {
			continue
		}
		r.stop()
		delete(s.rings, r.id)
		if r.state == protocol.RingWaiting {
			r.state = protocol.RingCancelled
			s.notifyRing(r, nil)
		}
	}
}

// notifyRing sends a ring's state to every routing subscription of its
// agent (or only to sock when given). The task is completed once the
// conversation has its agent or is gone.
func (s *Service) notifyRing(r *ring, sock *socket) {
	t := r.task
	completed := t.conv.task != t
	result := protocol.RoutingTask{
		RoutingTaskID:  t.id,
		ConversationID: t.conv.id,
		ConsumerID:     t.conv.consumerID,
		SkillID:        protocol.ID(t.conv.skillID),
		BrandID:        protocol.ID(t.conv.brandID),
		TaskCompleted:  completed,
		RingsDetails: protocol.List[protocol.Ring]{{
			RingID:           r.id,
			RingState:        r.state,
			RingExpirationTs: r.expiresTs,
			RingExpiration:   s.cfg.RingTimeout.Milliseconds(),
			Weight:           r.createdTs,
			ConvID:           t.conv.id,
			ConsumerID:       t.conv.consumerID,
			SkillID:          protocol.ID(t.conv.skillID),
			BrandID:          protocol.ID(t.conv.brandID),
		}},
	}
	for c := range r.agent.sockets {
		if c.routingSub == "" || (sock != nil && c != sock) {
			continue
		}
		c.notify(".ams."+protocol.TypeRoutingTaskNotification, protocol.RoutingTaskNotification{
			SubscriptionID: c.routingSub,
			Changes:        protocol.List[protocol.RoutingTaskChange]{{Type: protocol.ChangeUpsert, Result: result}},
		})
	}
}

// acceptRing makes the ring's agent the conversation's ASSIGNED_AGENT.
func (s *Service) acceptRing(r *ring) {
	cv := r.task.conv
	r.state = protocol.RingAccepted
	r.stop()
	delete(s.rings, r.id)
	delete(r.task.rings, r.agent)
	cv.task = nil // completed: the winner's notification says so
	s.notifyRing(r, nil)
	cv.task = r.task
	s.join(cv, r.agent, protocol.RoleAssignedAgent)
}
