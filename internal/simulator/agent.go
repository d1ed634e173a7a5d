package simulator

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// handleAgent answers one request of an agent socket, in the dialect of
// LivePerson's Node.js agent SDK (docs/protocol.md, Agent socket): responses
// are typed "<request type>$Response".
func (s *Service) handleAgent(c *socket, f protocol.Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessionExpired(c) {
		// Our decision (docs/simulator.md): the request is refused and the
		// socket closed with 4401, which clients read as "log in again".
		c.fail(f, 401, "session expired: log in again")
		c.closeAfterQueued(statusTokenInvalid, "session expired")
		return
	}
	rt := f.Type + "$Response"
	me := member{agent: c.agent}
	switch protocol.Canonical(f.Type) {
	case protocol.TypeGetClock:
		c.respond(f, 200, protocol.TypeGetClockResponse, protocol.GetClockResponse{CurrentTime: s.now()})
	case protocol.TypeKeepAlive:
		c.respond(f, 200, rt, nil)
	case protocol.TypeSetAgentState:
		s.setAgentState(c, f, rt)
	case protocol.TypeSubscribeRoutingTasks:
		s.subscribeRoutingTasks(c, f, rt)
	case protocol.TypeUpdateRingState:
		s.updateRingState(c, f, rt)
	case protocol.TypeAgentSubscribeExConversations:
		s.subscribeConversations(c, f, true)
	case protocol.TypeAgentUnsubscribeExConversations:
		s.unsubscribeConversations(c, f, rt)
	case protocol.TypeUpdateConversationField:
		s.updateConversationField(c, f, me, rt)
	case protocol.TypePublishEvent:
		s.publishEvent(c, f, me, rt)
	case protocol.TypeQueryMessages:
		var b protocol.QueryMessages
		if err := f.DecodeBody(&b); err != nil {
			c.fail(f, 400, "bad body: "+err.Error())
			return
		}
		s.queryMessages(c, f, rt, b.DialogID, b.NewerThanSequence, b.MaxQuantity)
	case protocol.TypeSubscribeMessagingEvents:
		var b protocol.SubscribeMessagingEvents
		if err := f.DecodeBody(&b); err != nil {
			c.fail(f, 400, "bad body: "+err.Error())
			return
		}
		id := b.DialogID
		if id == "" {
			id = b.ConversationID
		}
		s.queryMessages(c, f, rt, id, b.FromSeq, 0)
	case protocol.TypeGetUserProfile:
		s.getUserProfile(c, f, rt)
	case protocol.TypeGenerateURLForUploadFile:
		s.generateUploadURL(c, f, me, rt)
	case protocol.TypeGenerateURLForDownloadFile:
		s.generateDownloadURL(c, f, me, rt)
	default:
		c.fail(f, 400, fmt.Sprintf("unknown request type %q", f.Type))
	}
}

func (s *Service) setAgentState(c *socket, f protocol.Frame, rt string) {
	var b protocol.SetAgentState
	if err := f.DecodeBody(&b); err != nil || b.Availability == "" {
		c.fail(f, 400, "body must name an availability")
		return
	}
	c.agent.availability = b.Availability
	c.respond(f, 200, rt, "Agent state updated successfully")
	s.offerAll()
}

// subscribeRoutingTasks subscribes the socket to rings: the agent's rings
// still waiting are sent to it, and conversations already waiting ring.
func (s *Service) subscribeRoutingTasks(c *socket, f protocol.Frame, rt string) {
	var b protocol.SubscribeRoutingTasks
	if err := f.DecodeBody(&b); err != nil {
		c.fail(f, 400, "bad body: "+err.Error())
		return
	}
	c.routingSub = s.cfg.NewID()
	c.respond(f, 200, rt, protocol.SubscriptionResponse{SubscriptionID: c.routingSub})
	for _, cv := range s.convOrder {
		if cv.task == nil {
			continue
		}
		if r := cv.task.rings[c.agent]; r != nil && r.state == protocol.RingWaiting {
			s.notifyRing(r, c)
		}
	}
	s.offerAll()
}

// updateRingState is the workspace's Accept (or Reject) of a ring.
func (s *Service) updateRingState(c *socket, f protocol.Frame, rt string) {
	var b protocol.UpdateRingState
	if err := f.DecodeBody(&b); err != nil {
		c.fail(f, 400, "bad body: "+err.Error())
		return
	}
	if b.RingState != protocol.RingAccepted && b.RingState != protocol.RingRejected {
		c.fail(f, 400, fmt.Sprintf("ringState %q: only ACCEPTED or REJECTED", b.RingState))
		return
	}
	r := s.rings[b.RingID]
	if r == nil {
		c.fail(f, 404, "unknown or ended ring")
		return
	}
	if r.agent != c.agent {
		c.fail(f, 403, "not this agent's ring")
		return
	}
	if r.state != protocol.RingWaiting {
		c.fail(f, 409, fmt.Sprintf("ring is %s", r.state))
		return
	}
	c.respond(f, 200, rt, "Ring state updated successfully")
	if b.RingState == protocol.RingRejected {
		// The ring stays until its expiry; then the agent is rung again.
		r.state = protocol.RingRejected
		s.notifyRing(r, nil)
		return
	}
	s.log.Info("ring accepted", "conversation_id", r.task.conv.id, "agent", c.agent.name)
	s.acceptRing(r)
}

// fieldParticipants adds or removes an agent (by old id, PId or user id;
// the caller when none), on the agent socket only. reply is the answer
// node-agent-sdk's README shows for it.
func (s *Service) fieldParticipants(cv *conversation, caller member, field protocol.ConversationField) (code int, text, reply string) {
	if caller.agent == nil {
		return 403, "consumers cannot change participants", ""
	}
	target := caller.agent
	if field.UserID != "" {
		target = s.agentByID(field.UserID)
		if target == nil {
			return 400, fmt.Sprintf("unknown agent %q", field.UserID), ""
		}
	}
	switch field.Type {
	case "ADD":
		role := field.Role
		if role == "" {
			role = protocol.RoleAssignedAgent
		}
		if !slices.Contains([]string{protocol.RoleAssignedAgent, protocol.RoleAgent, protocol.RoleManager, protocol.RoleReader, protocol.RoleController}, role) {
			return 400, fmt.Sprintf("role %q cannot be added", role), ""
		}
		if !cv.isOpen() {
			return 409, fmt.Sprintf("conversation %s is closed", cv.id), ""
		}
		if a := cv.assignedAgent(); role == protocol.RoleAssignedAgent && a != nil && a != target {
			return 409, "the conversation already has an assigned agent", ""
		}
		s.join(cv, target, role)
		return 0, "", "OK Agent added successfully"
	case "REMOVE":
		if _, ok := cv.agentMember(target); !ok {
			return 400, "the agent is not a participant", ""
		}
		s.leave(cv, target)
		return 0, "", "OK Agent removed successfully"
	default:
		return 400, fmt.Sprintf("ParticipantsChange type %q: only ADD or REMOVE", field.Type), ""
	}
}

func (s *Service) agentByID(id string) *agentAccount {
	for _, a := range s.agents {
		if id == a.oldID || id == a.pid || id == a.userID {
			return a
		}
	}
	return nil
}

// queryMessages answers a dialog's history (sequence >= from) as an array
// of events in the agent's view. Any agent of the account may read it.
func (s *Service) queryMessages(c *socket, f protocol.Frame, rt, dialogID string, from int64, max int) {
	d, code, text := s.lookupDialog(dialogID, "")
	if code != 0 {
		c.fail(f, code, text)
		return
	}
	events := eventsFrom(d, from)
	if max > 0 && len(events) > max {
		events = events[:max]
	}
	out := make([]protocol.MessagingEvent, 0, len(events))
	for _, e := range events {
		out = append(out, e.agentView())
	}
	c.respond(f, 200, rt, out)
}

// getUserProfile answers an agent's GetUserProfile of a consumer
// (docs/simulator.md, Customer data).
func (s *Service) getUserProfile(c *socket, f protocol.Frame, rt string) {
	var id string
	if err := json.Unmarshal(f.Body, &id); err != nil || id == "" {
		c.fail(f, 400, "body must be the consumer id as a string")
		return
	}
	rec := s.consumers[id]
	if rec == nil {
		c.fail(f, 404, "unknown consumer")
		return
	}
	p := rec.profileView()
	// privateData is always sent, as before the profile grew.
	c.respond(f, 200, rt, struct {
		protocol.UserProfile
		PrivateData map[string]string `json:"privateData"`
	}{p, p.PrivateData})
}
