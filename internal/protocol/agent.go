package protocol

import "encoding/json"

// SetAgentState is the body of .ams.routing.SetAgentState.
type SetAgentState struct {
	Availability string  `json:"availability"`
	Channels     Strings `json:"channels,omitempty"`
	AgentUserID  string  `json:"agentUserId,omitempty"`
}

// SubscribeRoutingTasks is the body of .ams.routing.SubscribeRoutingTasks.
type SubscribeRoutingTasks struct {
	ChannelType string `json:"channelType,omitempty"`
	AgentID     string `json:"agentId,omitempty"`
	BrandID     ID     `json:"brandId,omitempty"`
}

// UpdateRingState is the body of .ams.routing.UpdateRingState: the Agent
// Workspace's "Accept" (or a rejection) of a ring.
type UpdateRingState struct {
	RingID    string `json:"ringId"`
	RingState string `json:"ringState"`
}

// RoutingTaskNotification is the body of .ams.routing.RoutingTaskNotification.
type RoutingTaskNotification struct {
	SubscriptionID string                  `json:"subscriptionId"`
	Changes        List[RoutingTaskChange] `json:"changes"`
}

// RoutingTaskChange is one UPSERT or DELETE of a routing task.
type RoutingTaskChange struct {
	Type   string      `json:"type"`
	Result RoutingTask `json:"result"`
}

// RoutingTask is a conversation waiting for an agent, with its rings.
type RoutingTask struct {
	RoutingTaskID  string     `json:"routingTaskId"`
	ConversationID string     `json:"conversationId"`
	ConsumerID     string     `json:"consumerId"`
	SkillID        ID         `json:"skillId"`
	BrandID        ID         `json:"brandId"`
	TaskCompleted  bool       `json:"taskCompleted"`
	RingsDetails   List[Ring] `json:"ringsDetails"`
}

// Ring is one offer of a routing task to one agent.
type Ring struct {
	RingID           string `json:"ringId"`
	RingState        string `json:"ringState"`
	RingExpirationTs int64  `json:"ringExpirationTs"`
	RingExpiration   int64  `json:"ringExpiration"`
	Weight           int64  `json:"weight"`
	ConvID           string `json:"convId"`
	ConsumerID       string `json:"consumerId"`
	SkillID          ID     `json:"skillId"`
	BrandID          ID     `json:"brandId"`
}

// UserProfile is the body of GetUserProfile's response: a consumer's
// profile for agents, or [ours] an agent's for consumers (nickname is what
// the window shows). For a consumer, authenticatedData holds the SDEs of
// its SetUserProfile, claims the brand identity token's claims (lp_sdes
// among them) and acr its level, as node-agent-sdk's transformer of this
// response reads them.
type UserProfile struct {
	FirstName         string             `json:"firstName"`
	LastName          string             `json:"lastName"`
	Nickname          string             `json:"nickname,omitempty"`
	PrivateData       map[string]string  `json:"privateData,omitempty"`
	AuthenticatedData *AuthenticatedData `json:"authenticatedData,omitempty"`
	Claims            json.RawMessage    `json:"claims,omitempty"`
	ACR               string             `json:"acr,omitempty"`
}
