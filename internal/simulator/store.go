package simulator

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// The in-memory model. Everything here is guarded by Service.mu; methods
// named *View build wire shapes and never change state.

// agentAccount is a configured agent with its ids and routing state.
type agentAccount struct {
	name string
	// The name's and password's SHA-256, compared in constant time.
	nameHash, passwordHash [32]byte
	userID                 string // numeric, config.userId
	oldID                  string // account.userId
	pid                    string // config.userPid
	skills                 []string
	availability           string
	sockets                map[*socket]struct{}
}

// agentSession is one agent login: its bearer opens agent sockets, its csrf
// refreshes it. It lives until expires (Now clock), which the login and
// every refresh set to SessionTTL ahead.
type agentSession struct {
	bearer, csrf string
	agent        *agentAccount
	expires      time.Time
}

// consumerRec is a consumer the IDP signed up, authenticated or took from
// the unauthenticated connector.
type consumerRec struct {
	id string
	// brand is the identity of a brand-authenticated consumer, from its
	// latest token; nil for the others.
	brand *brandIdentity
	// profile is the consumer's last SetUserProfile; nil before one.
	profile *protocol.SetUserProfile
}

// member is a participant of a conversation: a consumer, an agent or the
// survey bot.
type member struct {
	role       string
	consumerID string        // when a consumer
	agent      *agentAccount // when an agent
	bot        *surveyBot    // when the survey bot (survey.go)
}

// isConsumer reports whether m is the conversation's consumer.
func (m member) isConsumer() bool { return m.agent == nil && m.bot == nil }

// pid is the id the consumer socket shows: the consumer id or the agent's
// (or bot's) PId.
func (m member) pid() string {
	switch {
	case m.agent != nil:
		return m.agent.pid
	case m.bot != nil:
		return m.bot.pid
	}
	return m.consumerID
}

// oldID is the id the agent socket shows in originatorId and participants:
// the consumer id or the agent's (or bot's) old id.
func (m member) oldID() string {
	switch {
	case m.agent != nil:
		return m.agent.oldID
	case m.bot != nil:
		return m.bot.oldID
	}
	return m.consumerID
}

// conversation is one conversation of a consumer with the brand.
type conversation struct {
	id          string
	consumerID  string
	brandID     string
	skillID     string
	stage       string // OPEN while any dialog is open
	startTs     int64
	endTs       int64
	lastUpdate  int64
	closeReason string // who closed it: set when its MAIN dialog closes
	members     []member
	dialogs     []*dialog
	csat        *protocol.CSAT
	task        *task // the routing task while the conversation waits for an agent
	// ttrType is the time-to-respond policy asked for; campaign and
	// context are the request's (context with the client properties of
	// the socket that asked).
	ttrType  string
	campaign *protocol.CampaignInfo
	context  *protocol.ConversationContext
	// delay is the contact center's closure as of the last change shown.
	delay *protocol.Delay
}

func (cv *conversation) main() *dialog { return cv.dialogs[0] }

// state is the conversation's state: its MAIN dialog's (docs/protocol.md,
// Conversation metadata).
func (cv *conversation) state() string { return cv.main().state }

func (cv *conversation) isOpen() bool { return cv.stage == protocol.StateOpen }

// assignedAgent returns the ASSIGNED_AGENT, if any.
func (cv *conversation) assignedAgent() *agentAccount {
	for _, m := range cv.members {
		if m.agent != nil && m.role == protocol.RoleAssignedAgent {
			return m.agent
		}
	}
	return nil
}

// agentMember returns the agent's membership, if any.
func (cv *conversation) agentMember(a *agentAccount) (member, bool) {
	for _, m := range cv.members {
		if m.agent == a {
			return m, true
		}
	}
	return member{}, false
}

// needsAgent reports whether the conversation should ring agents.
func (cv *conversation) needsAgent() bool {
	return cv.isOpen() && cv.main().state == protocol.StateOpen && cv.assignedAgent() == nil
}

// dialog is one dialog of a conversation, with its stored events and the
// consumer sockets subscribed to it.
type dialog struct {
	id          string
	typ         string
	conv        *conversation
	state       string
	creationTs  int64
	endTs       int64
	closedBy    string
	closedCause string
	events      []*storedEvent
	subs        map[*socket]struct{}
	survey      *survey // a POST_SURVEY dialog's survey (survey.go)
}

func (d *dialog) nextSeq() int64 { return int64(len(d.events)) }

// storedEvent is one event of a dialog. Chat states are built the same way
// but never stored (seq nil).
type storedEvent struct {
	seq      *int64
	ts       int64
	from     member
	dialog   *dialog
	event    protocol.Event
	metadata json.RawMessage
}

// consumerView is the event as the consumer socket shows it: PIds only.
func (e *storedEvent) consumerView() protocol.MessagingEvent {
	m := protocol.MessagingEvent{
		Sequence:           e.seq,
		OriginatorID:       e.from.pid(),
		OriginatorMetadata: &protocol.OriginatorMetadata{ID: e.from.pid(), Role: e.from.role},
		DialogID:           e.dialog.id,
		ConversationID:     e.dialog.conv.id,
		Event:              e.event,
		Metadata:           e.metadata,
	}
	if e.seq != nil {
		m.ServerTimestamp = e.ts
	}
	return m
}

// agentView is the event as the agent socket shows it: originatorId is the
// old id of agents, originatorPId the PId (docs/protocol.md, Agent
// conversations and events).
func (e *storedEvent) agentView() protocol.MessagingEvent {
	m := e.consumerView()
	m.OriginatorID = e.from.oldID()
	m.OriginatorPID = e.from.pid()
	return m
}

// convSub is a conversation-metadata subscription: cqm on a consumer
// socket, aam on an agent socket.
type convSub struct {
	id        string
	sock      *socket
	agentView bool
	convState []string
	stage     []string
	agentIDs  []string
	// shown holds the conversations last sent as matching, so that one that
	// stops matching is sent as DELETE once.
	shown map[string]bool
}

// matches reports whether the subscription's filter selects cv.
func (sub *convSub) matches(cv *conversation) bool {
	if !sub.agentView && cv.consumerID != sub.sock.consumerID {
		return false
	}
	if len(sub.convState) > 0 && !slices.Contains(sub.convState, cv.state()) {
		return false
	}
	if len(sub.stage) > 0 && !slices.Contains(sub.stage, cv.stage) {
		return false
	}
	if len(sub.agentIDs) > 0 {
		found := false
		for _, m := range cv.members {
			if m.agent != nil && (slices.Contains(sub.agentIDs, m.agent.oldID) || slices.Contains(sub.agentIDs, m.agent.pid)) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// change returns the subscription's change for cv (UPSERT or DELETE), or
// false when it has nothing to say, and records what was shown.
func (sub *convSub) change(cv *conversation) (protocol.ConversationChange, bool) {
	match := sub.matches(cv)
	switch {
	case match:
		sub.shown[cv.id] = true
		return protocol.ConversationChange{Type: protocol.ChangeUpsert, Result: conversationView(cv, sub.agentView)}, true
	case sub.shown[cv.id]:
		delete(sub.shown, cv.id)
		return protocol.ConversationChange{Type: protocol.ChangeDelete, Result: conversationView(cv, sub.agentView)}, true
	}
	return protocol.ConversationChange{}, false
}

// notificationType is the type of the subscription's change notifications.
func (sub *convSub) notificationType() string {
	if sub.agentView {
		return ".ams." + protocol.TypeAgentExConversationChange
	}
	return protocol.TypeExConversationChange
}

// conversationView builds a conversation's metadata: on the consumer
// socket participants is a list of PIds; on the agent socket participants
// is a role → old ids map and participantsPId the same map of PIds, and
// every dialog lists participantsDetails (docs/protocol.md, Conversation
// metadata; Agent conversations and events).
func conversationView(cv *conversation, agentView bool) protocol.ConversationResult {
	var byPID, byOld []protocol.Participant
	for _, m := range cv.members {
		byPID = append(byPID, protocol.Participant{ID: m.pid(), Role: m.role})
		byOld = append(byOld, protocol.Participant{ID: m.oldID(), Role: m.role})
	}
	details := protocol.ConversationDetails{
		BrandID:              protocol.ID(cv.brandID),
		SkillID:              protocol.ID(cv.skillID),
		State:                cv.state(),
		Stage:                cv.stage,
		StartTs:              cv.startTs,
		EndTs:                cv.endTs,
		MetaDataLastUpdateTs: cv.lastUpdate,
		CloseReason:          cv.closeReason,
		TTR:                  cv.ttr(),
		Delay:                cv.delay,
		CSAT:                 cv.csat,
	}
	if agentView {
		details.Participants = protocol.Participants{List: byOld, AsMap: true}
		details.ParticipantsPID = protocol.Participants{List: byPID, AsMap: true}
		details.CampaignInfo, details.Context = cv.campaign, cv.context
	} else {
		details.Participants = protocol.Participants{List: byPID}
	}
	for _, d := range cv.dialogs {
		var pd []protocol.Participant
		for _, m := range dialogMembers(cv, d) {
			pd = append(pd, protocol.Participant{ID: m.pid(), Role: m.role, State: "ACTIVE"})
		}
		details.Dialogs = append(details.Dialogs, protocol.Dialog{
			DialogID:             d.id,
			DialogType:           d.typ,
			ChannelType:          "MESSAGING",
			State:                d.state,
			CreationTs:           d.creationTs,
			EndTs:                d.endTs,
			MetaDataLastUpdateTs: cv.lastUpdate,
			ClosedBy:             d.closedBy,
			ClosedCause:          d.closedCause,
			ParticipantsDetails:  pd,
		})
	}
	return protocol.ConversationResult{
		ConvID:              cv.id,
		LastUpdateTime:      cv.lastUpdate,
		ConversationDetails: details,
	}
}
