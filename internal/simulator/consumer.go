package simulator

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// handleConsumer answers one request of a consumer socket (docs/protocol.md,
// from Consumer socket to Receipts).
func (s *Service) handleConsumer(c *socket, f protocol.Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := protocol.Canonical(f.Type)
	if t == protocol.TypeInitConnection {
		s.initConnection(c, f)
		return
	}
	if !c.authed.Load() {
		c.fail(f, 401, "send InitConnection first")
		return
	}
	if code, expired := c.tokenExpired(); expired {
		// Our decision (docs/simulator.md), as for an agent's expired
		// session: the token expired while the socket was open and the
		// expiry check has not closed it yet, so the request is refused
		// and the socket closed with the identity's code (4401 or 4407).
		c.fail(f, 401, "token expired")
		c.closeAfterQueued(code, "token expired")
		return
	}
	switch t {
	case protocol.TypeGetClock:
		c.respond(f, 200, protocol.TypeGetClockResponse, protocol.GetClockResponse{CurrentTime: s.now()})
	case protocol.TypeKeepAlive:
		c.respond(f, 200, "", nil)
	case protocol.TypeConsumerRequestConversation:
		s.requestConversation(c, f)
	case protocol.TypeSubscribeExConversations:
		s.subscribeConversations(c, f, false)
	case protocol.TypeUnsubscribeExConversations:
		s.unsubscribeConversations(c, f, protocol.TypeUnsubscribeExConvResponse)
	case protocol.TypeSubscribeMessagingEvents:
		s.subscribeMessagingEvents(c, f)
	case protocol.TypePublishEvent:
		s.publishEvent(c, f, member{role: protocol.RoleConsumer, consumerID: c.consumerID}, protocol.TypePublishEventResponse)
	case protocol.TypeUpdateConversationField:
		s.updateConversationField(c, f, member{role: protocol.RoleConsumer, consumerID: c.consumerID}, protocol.TypeStringResponse)
	case protocol.TypeGetUserProfile:
		s.agentProfile(c, f)
	case protocol.TypeSetUserProfile:
		s.setUserProfile(c, f)
	case protocol.TypeGenerateURLForUploadFile:
		s.generateUploadURL(c, f, member{role: protocol.RoleConsumer, consumerID: c.consumerID}, protocol.TypeGenerateURLResponse)
	case protocol.TypeGenerateURLForDownloadFile:
		s.generateDownloadURL(c, f, member{role: protocol.RoleConsumer, consumerID: c.consumerID}, protocol.TypeGenerateURLResponse)
	default:
		c.fail(f, 400, fmt.Sprintf("unknown request type %q", f.Type))
	}
}

// initConnection authenticates a consumer socket by the jwt of the
// ConsumerAuthentication header; a missing or bad token gets 401 and the
// socket closes with 4401.
func (s *Service) initConnection(c *socket, f protocol.Frame) {
	var token string
	for _, h := range f.Headers {
		if h.JWT != "" {
			token = h.JWT
		}
	}
	if token == "" && c.authed.Load() {
		// Authenticated by header: the frame only brings client properties.
		c.noteClientProperties(f.Headers)
		c.respond(f, 200, protocol.TypeStringResponse, "OK")
		return
	}
	if token == "" {
		c.fail(f, 401, "no ConsumerAuthentication jwt")
		c.closeAfterQueued(statusTokenInvalid, "no token")
		return
	}
	cl, err := s.tokens.verify(token)
	if err != nil {
		// A missing, bad or expired token closes with 4401, except the
		// expired token of an unauthenticated identity: 4407, extend it
		// (Protocol Overview, Error Handling).
		code := statusTokenInvalid
		if errors.Is(err, errTokenExpired) {
			code = closeCodeOf(cl)
		}
		c.fail(f, 401, err.Error())
		c.closeAfterQueued(code, err.Error())
		return
	}
	if c.authed.Load() && cl.Sub != c.consumerID {
		c.fail(f, 400, "socket already authenticated as another consumer")
		return
	}
	c.consumerID = cl.Sub
	c.life.Store(lifeOf(cl))
	c.authed.Store(true)
	c.noteClientProperties(f.Headers)
	s.ensureConsumer(cl.Sub)
	c.respond(f, 200, protocol.TypeStringResponse, "OK")
}

// requestConversation opens a conversation, unless the consumer has an open
// one (409 naming it).
func (s *Service) requestConversation(c *socket, f protocol.Frame) {
	var b protocol.ConsumerRequestConversation
	if err := f.DecodeBody(&b); err != nil {
		c.fail(f, 400, "bad body: "+err.Error())
		return
	}
	if b.BrandID != "" && string(b.BrandID) != s.cfg.Account {
		c.fail(f, 400, fmt.Sprintf("brandId %q is not this account", b.BrandID))
		return
	}
	skill, code, text := s.requestSkill(b)
	if code != 0 {
		c.fail(f, code, text)
		return
	}
	ttr, err := requestTTR(b.TTRDefName)
	if err != nil {
		c.fail(f, 400, err.Error())
		return
	}
	if open := s.openConversationOf(c.consumerID); open != nil {
		c.fail(f, 409, fmt.Sprintf("conversation %s is already open", open.id))
		return
	}
	cv := s.createConversation(c.consumerID, skill)
	cv.ttrType, cv.campaign, cv.context = ttr, b.CampaignInfo, requestContext(b, c.clientProps)
	s.log.Info("conversation opened", "conversation_id", cv.id, "consumer_id", c.consumerID, "skill", skill)
	// The implicit subscription (docs/simulator.md, Consumer socket): the
	// socket that created the conversation gets its MAIN dialog's live
	// events without subscribing. It is the same entry an explicit
	// ms.SubscribeMessagingEvents makes, so subscribing as well never
	// sends an event twice.
	s.subscribeDialog(c, s.dialogs[cv.id])
	c.respond(f, 200, protocol.TypeRequestConversationResponse, protocol.RequestConversationResponse{ConversationID: cv.id})
	s.convChanged(cv)
	s.offer(cv)
}

// subscribeConversations subscribes to conversation metadata: response,
// snapshot, then one notification per change. The consumer sees only its
// own conversations; an agent sees the account's (or those of agentIds).
func (s *Service) subscribeConversations(c *socket, f protocol.Frame, agentView bool) {
	var b protocol.SubscribeExConversations
	if err := f.DecodeBody(&b); err != nil {
		c.fail(f, 400, "bad body: "+err.Error())
		return
	}
	sub := &convSub{
		id:        s.cfg.NewID(),
		sock:      c,
		agentView: agentView,
		convState: b.ConvState,
		stage:     b.Stage,
		shown:     map[string]bool{},
	}
	typ := protocol.TypeSubscribeExConvResponse
	if agentView {
		sub.agentIDs = b.AgentIDs
		typ = f.Type + "$Response"
	}
	s.addConvSub(sub)
	c.subs[sub] = struct{}{}
	c.respond(f, 200, typ, protocol.SubscriptionResponse{SubscriptionID: sub.id})
	s.snapshot(sub, b.MinLastUpdatedTime)
}

func (s *Service) unsubscribeConversations(c *socket, f protocol.Frame, typ string) {
	var b protocol.SubscriptionResponse
	if err := f.DecodeBody(&b); err != nil || b.SubscriptionID == "" {
		c.fail(f, 400, "body must be {\"subscriptionId\":…}")
		return
	}
	for sub := range c.subs {
		if sub.id == b.SubscriptionID {
			delete(c.subs, sub)
			s.removeConvSub(sub)
			c.respond(f, 200, typ, nil)
			return
		}
	}
	c.fail(f, 404, "unknown subscription")
}

// subscribeDialog registers c for d's live events. A socket is in d.subs
// at most once, however it got there (implicitly, or by one or more
// explicit subscriptions), and distribute sends each event once per entry.
func (s *Service) subscribeDialog(c *socket, d *dialog) {
	d.subs[c] = struct{}{}
	c.dialogSubs[d] = struct{}{}
}

// subscribeMessagingEvents replays the dialog from fromSeq and registers the
// socket for live events, under the same lock: no gap, no duplicate. The
// replay is what fromSeq asks for, even where the socket already had those
// events live through its implicit subscription (Get Messages step 4 and
// PCS step 7 replay the agent's lines sent before the subscription).
func (s *Service) subscribeMessagingEvents(c *socket, f protocol.Frame) {
	var b protocol.SubscribeMessagingEvents
	if err := f.DecodeBody(&b); err != nil {
		c.fail(f, 400, "bad body: "+err.Error())
		return
	}
	d, code, text := s.lookupDialog(b.DialogID, b.ConversationID)
	if code != 0 {
		c.fail(f, code, text)
		return
	}
	if d.conv.consumerID != c.consumerID {
		c.fail(f, 403, "not a participant of the conversation")
		return
	}
	c.respond(f, 200, protocol.TypeGenericSubscribeResponse, nil)
	if events := eventsFrom(d, b.FromSeq); len(events) > 0 {
		changes := make([]protocol.MessagingEvent, 0, len(events))
		for _, e := range events {
			changes = append(changes, e.consumerView())
		}
		c.notify(protocol.TypeMessagingEventNotification, protocol.MessagingEventNotification{Changes: changes})
	}
	s.subscribeDialog(c, d)
}

// lookupDialog finds a dialog by its id or, without one, by the
// conversation id (the MAIN dialog's id).
func (s *Service) lookupDialog(dialogID, conversationID string) (*dialog, int, string) {
	id := dialogID
	if id == "" {
		id = conversationID
	}
	if id == "" {
		return nil, 400, "no dialogId"
	}
	d := s.dialogs[id]
	if d == nil {
		return nil, 404, fmt.Sprintf("unknown dialog %s", id)
	}
	if conversationID != "" && conversationID != d.conv.id {
		return nil, 400, fmt.Sprintf("dialog %s is not of conversation %s", id, conversationID)
	}
	return d, 0, ""
}

// isParticipant reports whether m may publish to and change cv: the
// consumer of its own conversation, an agent while a participant.
func isParticipant(cv *conversation, m member) (member, bool) {
	if m.agent == nil {
		return m, cv.consumerID == m.consumerID
	}
	return cv.agentMember(m.agent)
}

// publishEvent stores and distributes an event; the response comes first,
// then the echo to every subscriber, the sender included.
func (s *Service) publishEvent(c *socket, f protocol.Frame, caller member, typ string) {
	var b protocol.PublishEvent
	if err := f.DecodeBody(&b); err != nil {
		c.fail(f, 400, "bad body: "+err.Error())
		return
	}
	d, code, text := s.lookupDialog(b.DialogID, b.ConversationID)
	if code != 0 {
		c.fail(f, code, text)
		return
	}
	from, ok := isParticipant(d.conv, caller)
	if !ok {
		c.fail(f, 403, "not a participant of the conversation")
		return
	}
	if d.survey != nil && !from.isConsumer() {
		// The survey is the consumer's and the bot's: the agent reads it.
		c.fail(f, 403, "only the consumer answers the survey")
		return
	}
	if code, text := validateEvent(d, &b.Event); code != 0 {
		c.fail(f, code, text)
		return
	}
	hosted := b.Event.Type == protocol.EventContent && protocol.IsHostedFile(b.Event.ContentType)
	if hosted {
		if code, text := s.checkHostedFile(b.Event, from); code != 0 {
			c.fail(f, code, text)
			return
		}
	}
	s.surveyDue(d)
	if d.state != protocol.StateOpen {
		c.fail(f, 409, fmt.Sprintf("dialog %s is closed", d.id))
		return
	}
	e := s.record(d, from, b.Event, f.Metadata)
	if hosted {
		s.files.share(b.Event.File.RelativePath, d.conv.consumerID)
	}
	var seq int64
	if e.seq != nil {
		seq = *e.seq
	}
	c.respond(f, 200, typ, protocol.PublishEventResponse{Sequence: seq})
	s.distribute(e)
	if d.survey != nil {
		s.surveyHears(d, e)
	}
}

// updateConversationField applies the fields in order and stops at the
// first refused one (the ones before it stay applied).
func (s *Service) updateConversationField(c *socket, f protocol.Frame, caller member, typ string) {
	var b protocol.UpdateConversationField
	if err := f.DecodeBody(&b); err != nil {
		c.fail(f, 400, "bad body: "+err.Error())
		return
	}
	if b.ConversationID == "" {
		c.fail(f, 400, "no conversationId")
		return
	}
	if len(b.ConversationField) == 0 {
		c.fail(f, 400, "no conversationField")
		return
	}
	cv := s.conversations[b.ConversationID]
	if cv == nil {
		c.fail(f, 404, fmt.Sprintf("unknown conversation %s", b.ConversationID))
		return
	}
	reply := "OK"
	// A transfer's caller removes itself first (node-agent-sdk's README):
	// it must have been a participant when the request came.
	_, wasParticipant := isParticipant(cv, caller)
	if transfers(b.ConversationField) {
		// Released (the change sent, the conversation routed) before the
		// answer, as every change of a request is.
		s.hold(cv)
	}
	for _, field := range b.ConversationField {
		var code int
		var text string
		switch field.Field {
		case protocol.FieldConversationState, protocol.FieldStage:
			code, text = s.fieldConversationState(cv, caller, field)
			reply = resolved
		case protocol.FieldDialogChange:
			code, text = s.fieldDialogChange(cv, caller, field)
			reply = resolved
		case protocol.FieldCSATRate:
			code, text = s.fieldCSAT(cv, caller, field)
		case protocol.FieldParticipantsChange:
			code, text, reply = s.fieldParticipants(cv, caller, field)
		case protocol.FieldSkill:
			code, text = s.fieldSkill(cv, caller, wasParticipant, field)
		default:
			code, text = 400, fmt.Sprintf("unknown field %q", field.Field)
		}
		if code != 0 {
			s.release()
			c.fail(f, code, text)
			return
		}
	}
	s.release()
	c.respond(f, 200, typ, reply)
}

// resolved is the answer to a close, of the conversation or of a dialog
// (PCS step 9: "OK Conversation resolved successfully").
const resolved = "OK Conversation resolved successfully"

// fieldConversationState closes the conversation. ConversationStateField
// closes its state, the MAIN dialog, which starts the survey when there is
// one; once MAIN is closed it closes what is left (a survey the consumer
// leaves). The Stage field closes the whole conversation at once, with no
// survey (PCS, Additional Notes).
func (s *Service) fieldConversationState(cv *conversation, caller member, field protocol.ConversationField) (int, string) {
	if field.ConversationState != protocol.StateClose {
		return 400, fmt.Sprintf("conversationState %q: only CLOSE", field.ConversationState)
	}
	by, ok := isParticipant(cv, caller)
	if !ok {
		return 403, "not a participant of the conversation"
	}
	if !cv.isOpen() {
		return 409, fmt.Sprintf("conversation %s is already closed", cv.id)
	}
	if field.Field == protocol.FieldConversationState && cv.main().state == protocol.StateOpen {
		s.closeDialog(cv.main(), by, "")
	} else {
		s.closeConversation(cv, by, "")
	}
	s.log.Info("conversation closed", "conversation_id", cv.id, "by", by.role, "field", field.Field, "stage", cv.stage)
	return 0, ""
}

func (s *Service) fieldDialogChange(cv *conversation, caller member, field protocol.ConversationField) (int, string) {
	if field.Dialog == nil || field.Dialog.DialogID == "" {
		return 400, "DialogChange without dialog.dialogId"
	}
	if field.Type != "" && field.Type != "UPDATE" {
		return 400, fmt.Sprintf("DialogChange type %q: only UPDATE", field.Type)
	}
	if field.Dialog.State != protocol.StateClose {
		return 400, fmt.Sprintf("dialog state %q: only CLOSE", field.Dialog.State)
	}
	by, ok := isParticipant(cv, caller)
	if !ok {
		return 403, "not a participant of the conversation"
	}
	d := s.dialogs[field.Dialog.DialogID]
	if d == nil || d.conv != cv {
		return 404, fmt.Sprintf("unknown dialog %s", field.Dialog.DialogID)
	}
	if d.state != protocol.StateOpen {
		return 409, fmt.Sprintf("dialog %s is already closed", d.id)
	}
	s.closeDialog(d, by, field.Dialog.ClosedCause)
	return 0, ""
}

func (s *Service) fieldCSAT(cv *conversation, caller member, field protocol.ConversationField) (int, string) {
	if caller.agent != nil {
		return 400, "only the consumer rates a conversation"
	}
	if cv.consumerID != caller.consumerID {
		return 403, "not a participant of the conversation"
	}
	lowest := 1
	if field.Status == "SKIPPED" {
		lowest = 0
	}
	if field.CSATRate < lowest || field.CSATRate > 5 {
		return 400, "csatRate must be 1 to 5"
	}
	if cv.state() == protocol.StateOpen {
		return 409, "rate a conversation once it is closed"
	}
	status := field.Status
	if status == "" {
		status = "FILLED"
	}
	cv.csat = &protocol.CSAT{CSATRate: field.CSATRate, Status: status}
	if field.CSATResolutionConfirmation != nil {
		cv.csat.CSATResolutionConfirmation = *field.CSATResolutionConfirmation
	}
	cv.lastUpdate = s.now()
	s.convChanged(cv)
	return 0, ""
}

// agentProfile answers a consumer's userprofile.GetUserProfile for an agent
// (its PId as a string body) with the agent's name as nickname [ours]: the
// window shows who the customer is talking to.
func (s *Service) agentProfile(c *socket, f protocol.Frame) {
	var id string
	if err := json.Unmarshal(f.Body, &id); err != nil || id == "" {
		c.fail(f, 400, "body must be the agent's id as a string")
		return
	}
	for _, a := range s.agents {
		if a.pid == id || a.oldID == id {
			c.respond(f, 200, protocol.TypeGetUserProfileResponse, protocol.UserProfile{FirstName: a.name, Nickname: a.name})
			return
		}
	}
	c.fail(f, 404, "unknown agent")
}
