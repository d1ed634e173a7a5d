package simulator

import (
	"encoding/json"
	"fmt"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// The operations on conversations. Every method here runs under Service.mu
// and queues what it has to tell (responses, notifications) on the sockets'
// outboxes without blocking, so the order of queued frames is the order of
// the changes.

// createConversation opens a conversation with its MAIN dialog (whose id is
// the conversation's).
func (s *Service) createConversation(consumerID, skillID string) *conversation {
	now := s.now()
	cv := &conversation{
		id:         s.cfg.NewID(),
		consumerID: consumerID,
		brandID:    s.cfg.Account,
		skillID:    skillID,
		stage:      protocol.StateOpen,
		startTs:    now,
		lastUpdate: now,
		members:    []member{{role: protocol.RoleConsumer, consumerID: consumerID}},
	}
	s.newDialog(cv, cv.id, protocol.DialogMain, now)
	s.conversations[cv.id] = cv
	s.convOrder = append(s.convOrder, cv)
	return cv
}

func (s *Service) newDialog(cv *conversation, id, typ string, now int64) *dialog {
	d := &dialog{
		id:         id,
		typ:        typ,
		conv:       cv,
		state:      protocol.StateOpen,
		creationTs: now,
		subs:       map[*socket]struct{}{},
	}
	cv.dialogs = append(cv.dialogs, d)
	s.dialogs[id] = d
	return d
}

// openConversationOf returns the consumer's open conversation, if any.
func (s *Service) openConversationOf(consumerID string) *conversation {
	for _, cv := range s.convOrder {
		if cv.consumerID == consumerID && cv.isOpen() {
			return cv
		}
	}
	return nil
}

// convChanged tells every conversation subscription that cv changed: an
// UPSERT while it matches the filter, one DELETE when it stops matching.
func (s *Service) convChanged(cv *conversation) {
	if s.holding(cv) {
		return
	}
	cv.delay = s.delayNow()
	// Only the agents' subscriptions and the conversation's consumer's can
	// match: a change costs what it concerns, not every consumer's
	// subscription (10,000 customers in the load test).
	for _, key := range []string{"", cv.consumerID} {
		for sub := range s.convSubs[key] {
			if ch, ok := sub.change(cv); ok {
				sub.sock.notify(sub.notificationType(), protocol.ExConversationChangeNotification{
					SubscriptionID: sub.id,
					Changes:        protocol.List[protocol.ConversationChange]{ch},
				})
			}
		}
	}
}

// key is where convSubs files sub: "" for an agent's view (any
// conversation of the account), else the consumer it belongs to.
func (sub *convSub) key() string {
	if sub.agentView {
		return ""
	}
	return sub.sock.consumerID
}

func (s *Service) addConvSub(sub *convSub) {
	k := sub.key()
	if s.convSubs[k] == nil {
		s.convSubs[k] = map[*convSub]struct{}{}
	}
	s.convSubs[k][sub] = struct{}{}
}

func (s *Service) removeConvSub(sub *convSub) {
	k := sub.key()
	delete(s.convSubs[k], sub)
	if len(s.convSubs[k]) == 0 {
		delete(s.convSubs, k)
	}
}

// snapshot sends a new subscription every conversation it matches, in one
// notification ("changes":[] when none).
func (s *Service) snapshot(sub *convSub, minLastUpdated int64) {
	var changes []protocol.ConversationChange
	for _, cv := range s.convOrder {
		if cv.lastUpdate < minLastUpdated || !sub.matches(cv) {
			continue
		}
		cv.delay = s.delayNow()
		ch, _ := sub.change(cv)
		changes = append(changes, ch)
	}
	sub.sock.notify(sub.notificationType(), protocol.ExConversationChangeNotification{
		SubscriptionID: sub.id,
		Changes:        changes,
	})
}

// validateEvent checks an event before it is published and returns the
// error code and text, or 0. Content types default to text/plain.
func validateEvent(d *dialog, ev *protocol.Event) (int, string) {
	switch ev.Type {
	case protocol.EventContent:
		if len(ev.Message) > maxTextBytes {
			return 413, fmt.Sprintf("message text over %d bytes", maxTextBytes)
		}
		if ev.ContentType == "" {
			ev.ContentType = "text/plain"
		}
	case protocol.EventRichContent:
		if len(ev.Content) == 0 {
			return 400, "RichContentEvent without content"
		}
	case protocol.EventAcceptStatus:
		switch ev.Status {
		case protocol.StatusAccept, protocol.StatusRead, protocol.StatusAction, protocol.StatusAccess, protocol.StatusNack:
		default:
			return 400, fmt.Sprintf("unknown receipt status %q", ev.Status)
		}
		if len(ev.SequenceList) == 0 {
			return 400, "empty sequenceList"
		}
		if len(ev.SequenceList) > maxSequenceList {
			return 400, fmt.Sprintf("sequenceList over %d entries", maxSequenceList)
		}
		for _, seq := range ev.SequenceList {
			if seq < 0 || seq >= d.nextSeq() {
				return 400, fmt.Sprintf("sequence %d is not an event of the dialog", seq)
			}
		}
	case protocol.EventChatState:
		switch ev.ChatState {
		case protocol.ChatActive, protocol.ChatInactive, protocol.ChatGone, protocol.ChatComposing, protocol.ChatPause:
		default:
			return 400, fmt.Sprintf("unknown chat state %q", ev.ChatState)
		}
	case "":
		return 400, "event without type"
	default:
		return 400, fmt.Sprintf("unknown event type %q", ev.Type)
	}
	return 0, ""
}

// record builds an event and, unless it is a chat state, stores it with the
// dialog's next sequence.
func (s *Service) record(d *dialog, from member, ev protocol.Event, metadata json.RawMessage) *storedEvent {
	e := &storedEvent{from: from, dialog: d, event: ev, metadata: metadata}
	if ev.IsStored() {
		seq := d.nextSeq()
		e.seq = &seq
		e.ts = s.now()
		d.events = append(d.events, e)
	}
	return e
}

// distribute sends an event to every consumer socket subscribed to its
// dialog and, as OnlineEventDistribution, to every socket of every agent
// participating in the conversation, its sender included. Each view is
// encoded once, however many sockets it goes to: the agents' view is the
// same for every agent.
func (s *Service) distribute(e *storedEvent) {
	if len(e.dialog.subs) > 0 {
		data, err := encodeNotification(protocol.TypeMessagingEventNotification,
			protocol.MessagingEventNotification{Changes: protocol.List[protocol.MessagingEvent]{e.consumerView()}})
		if err != nil {
			s.log.Error("encode messaging event", "err", err)
			return
		}
		for c := range e.dialog.subs {
			c.queue(data)
		}
	}
	var agentFrame []byte
	var seen [4]*agentAccount // members are few: no allocation
	sent := seen[:0]
	for _, m := range e.dialog.conv.members {
		if m.agent == nil || len(m.agent.sockets) == 0 || containsPtr(sent, m.agent) {
			continue
		}
		sent = append(sent, m.agent)
		if agentFrame == nil {
			var err error
			if agentFrame, err = encodeNotification(".ams."+protocol.TypeOnlineEventDistribution, e.agentView()); err != nil {
				s.log.Error("encode online event", "err", err)
				return
			}
		}
		for c := range m.agent.sockets {
			c.queue(agentFrame)
		}
	}
}

// encodeNotification encodes a notification frame, as socket.send does.
func encodeNotification(typ string, body any) ([]byte, error) {
	n, err := protocol.NewNotification(typ, body)
	if err != nil {
		return nil, err
	}
	return n.MarshalJSON()
}

func containsPtr[T any](s []*T, p *T) bool {
	for _, q := range s {
		if q == p {
			return true
		}
	}
	return false
}

// eventsFrom returns the dialog's stored events with sequence >= from.
func eventsFrom(d *dialog, from int64) []*storedEvent {
	if from < 0 {
		from = 0
	}
	if from >= d.nextSeq() {
		return nil
	}
	return d.events[from:]
}

// closedByRole is the closedBy of a dialog closed by m: AGENT for agents
// and the survey bot (PCS shows the survey dialog "closedBy":"AGENT").
func closedByRole(m member) string {
	if !m.isConsumer() {
		return "AGENT"
	}
	return protocol.RoleConsumer
}

func defaultCause(m member) string {
	if !m.isConsumer() {
		return "Closed by agent"
	}
	return "Closed by consumer"
}

// closeConversation closes the conversation and every open dialog of it:
// no survey follows.
func (s *Service) closeConversation(cv *conversation, by member, cause string) {
	now := s.now()
	if cause == "" {
		cause = defaultCause(by)
	}
	for _, d := range cv.dialogs {
		if d.state == protocol.StateOpen {
			d.state, d.endTs, d.closedBy, d.closedCause = protocol.StateClose, now, closedByRole(by), cause
		}
	}
	s.endConversation(cv, by, now)
}

// endConversation closes the conversation (its stage). Its closeReason
// stays the one of its MAIN dialog's close when that came first: PCS's
// last notification has "closeReason":"CONSUMER" after the survey bot
// closed the survey.
func (s *Service) endConversation(cv *conversation, by member, now int64) {
	cv.stage = protocol.StateClose
	cv.endTs = now
	cv.lastUpdate = now
	if cv.closeReason == "" {
		cv.closeReason = closedByRole(by)
	}
	s.endTask(cv)
	s.convChanged(cv)
}

// closeDialog closes one dialog. Closing MAIN starts the post-conversation
// survey when the service has one and an agent was assigned (the
// conversation stays open, in its survey); else, as closing the last open
// dialog does, it closes the conversation.
func (s *Service) closeDialog(d *dialog, by member, cause string) {
	cv := d.conv
	now := s.now()
	if cause == "" {
		cause = defaultCause(by)
	}
	d.state, d.endTs, d.closedBy, d.closedCause = protocol.StateClose, now, closedByRole(by), cause
	if d.typ == protocol.DialogMain {
		cv.closeReason = closedByRole(by)
		if s.cfg.Survey && cv.assignedAgent() != nil {
			sd := s.openSurvey(cv, now)
			cv.lastUpdate = now
			s.endTask(cv)
			s.convChanged(cv)
			s.askSurvey(sd)
			return
		}
	}
	for _, o := range cv.dialogs {
		if o.state == protocol.StateOpen {
			cv.lastUpdate = now
			s.convChanged(cv)
			return
		}
	}
	s.endConversation(cv, by, now)
}

// join makes agent a a participant of cv with role (replacing a role it
// had). An ASSIGNED_AGENT ends the conversation's routing task.
func (s *Service) join(cv *conversation, a *agentAccount, role string) {
	s.removeMember(cv, a)
	cv.members = append(cv.members, member{role: role, agent: a})
	cv.lastUpdate = s.now()
	if role == protocol.RoleAssignedAgent {
		s.endTask(cv)
	}
	s.convChanged(cv)
}

// leave removes agent a from cv; a conversation left without an assigned
// agent rings again.
func (s *Service) leave(cv *conversation, a *agentAccount) {
	s.removeMember(cv, a)
	cv.lastUpdate = s.now()
	s.convChanged(cv)
	s.offer(cv)
}

func (s *Service) removeMember(cv *conversation, a *agentAccount) {
	kept := cv.members[:0]
	for _, m := range cv.members {
		if m.agent != a || a == nil {
			kept = append(kept, m)
		}
	}
	cv.members = kept
}
