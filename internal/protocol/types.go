package protocol

import "strings"

// Request and notification type names in their canonical (short) spelling.
// On the wire they may carry a ".ams." or "." prefix; Canonical strips it so
// that code compares against these constants only.
const (
	TypeInitConnection = "InitConnection"
	TypeGetClock       = "GetClock"
	TypeKeepAlive      = "KeepAlive"

	TypeConsumerRequestConversation = "cm.ConsumerRequestConversation"
	TypeUpdateConversationField     = "cm.UpdateConversationField"
	TypeSubscribeExConversations    = "cqm.SubscribeExConversations"
	TypeUnsubscribeExConversations  = "cqm.UnsubscribeExConversations"
	TypeSubscribeMessagingEvents    = "ms.SubscribeMessagingEvents"
	TypePublishEvent                = "ms.PublishEvent"

	// The agent socket's dialect (docs/protocol.md, Agent socket).
	TypeAgentSubscribeExConversations   = "aam.SubscribeExConversations"
	TypeAgentUnsubscribeExConversations = "aam.UnsubscribeExConversations"
	TypeSetAgentState                   = "routing.SetAgentState"
	TypeSubscribeRoutingTasks           = "routing.SubscribeRoutingTasks"
	TypeUpdateRingState                 = "routing.UpdateRingState"
	TypeQueryMessages                   = "ms.QueryMessages"
	TypeGetUserProfile                  = "userprofile.GetUserProfile"

	// Notifications.
	TypeMessagingEventNotification   = "ms.MessagingEventNotification"
	TypeExConversationChange         = "cqm.ExConversationChangeNotification"
	TypeAgentExConversationChange    = "aam.ExConversationChangeNotification"
	TypeRoutingTaskNotification      = "routing.RoutingTaskNotification"
	TypeOnlineEventDistribution      = "ms.OnlineEventDistribution"
	TypeRequestConversationResponse  = "cm.RequestConversationResponse"
	TypeSubscribeExConvResponse      = "cqm.SubscribeExConversationsResponse"
	TypePublishEventResponse         = "ms.PublishEventResponse"
	TypeGenericSubscribeResponse     = ".ams.GenericSubscribeResponse"
	TypeStringResponse               = ".ReqBody$StringResp"
	TypeGetClockResponse             = ".ams.GetClock$Response"
	TypeQueryMessagesResponse        = ".ams.ms.QueryMessages$Response"
	TypeGetUserProfileResponse       = ".ams.userprofile.GetUserProfile$Response"
	TypeUpdateConversationFieldResp  = "cm.UpdateConversationFieldResponse"
	TypeUnsubscribeExConvResponse    = "cqm.UnsubscribeExConversationsResponse"
	TypeHeaderClientProperties       = "headers.ClientProperties"
	TypeHeaderConsumerAuthentication = "headers.ConsumerAuthentication"
)

// Canonical returns a type name without the fully qualified ".ams." prefix
// (or a bare leading "."), so ".ams.ms.PublishEvent" and "ms.PublishEvent"
// compare equal, as do ".GetClock" and "GetClock". It is idempotent
// (prefixes and spaces are stripped until none is left), so that a
// canonical name, encoded and decoded again, stays the same.
func Canonical(t string) string {
	for {
		c := strings.TrimSpace(t)
		if s, ok := strings.CutPrefix(c, ".ams."); ok {
			c = s
		} else {
			c = strings.TrimPrefix(c, ".")
		}
		if c == t {
			return c
		}
		t = c
	}
}

// Event type names.
const (
	EventContent      = "ContentEvent"
	EventRichContent  = "RichContentEvent"
	EventAcceptStatus = "AcceptStatusEvent"
	EventChatState    = "ChatStateEvent"
)

// Receipt statuses of an AcceptStatusEvent.
const (
	StatusAccept = "ACCEPT"
	StatusRead   = "READ"
	StatusAction = "ACTION"
	StatusAccess = "ACCESS"
	StatusNack   = "NACK"
)

// Chat states of a ChatStateEvent.
const (
	ChatActive    = "ACTIVE"
	ChatInactive  = "INACTIVE"
	ChatGone      = "GONE"
	ChatComposing = "COMPOSING"
	ChatPause     = "PAUSE"
)

// Participant roles.
const (
	RoleConsumer      = "CONSUMER"
	RoleAssignedAgent = "ASSIGNED_AGENT"
	RoleAgent         = "AGENT"
	RoleManager       = "MANAGER"
	RoleReader        = "READER"
	RoleController    = "CONTROLLER"
)

// Conversation and dialog states.
const (
	StateOpen  = "OPEN"
	StateClose = "CLOSE"

	DialogMain       = "MAIN"
	DialogPostSurvey = "POST_SURVEY"

	ChangeUpsert = "UPSERT"
	ChangeDelete = "DELETE"
)

// Conversation fields of cm.UpdateConversationField.
const (
	FieldConversationState = "ConversationStateField"
	// FieldStage closes the whole conversation, survey included (PCS,
	// Additional Notes).
	FieldStage              = "Stage"
	FieldDialogChange       = "DialogChange"
	FieldCSATRate           = "CSATRate"
	FieldParticipantsChange = "ParticipantsChange"
	FieldSkill              = "Skill"
)

// Agent availability and ring states (docs/protocol.md, Routing and agent
// state).
const (
	AgentOnline   = "ONLINE"
	AgentOccupied = "OCCUPIED"
	AgentAway     = "AWAY"

	RingWaiting   = "WAITING"
	RingAccepted  = "ACCEPTED"
	RingRejected  = "REJECTED"
	RingCancelled = "CANCELLED"
	RingExpired   = "EXPIRED"
)

// Close codes of the messaging socket (docs/protocol.md, Identity).
const (
	CloseTokenInvalid = 4401
	CloseTokenExtend  = 4407
)
