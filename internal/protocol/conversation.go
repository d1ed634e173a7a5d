package protocol

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
)

// ConsumerRequestConversation is the body of cm.ConsumerRequestConversation.
// Every field is optional (the tutorial sends no body); PCS step 5 and the
// Connector API's examples show them all (docs/protocol.md, Conversations).
type ConsumerRequestConversation struct {
	ChannelType string `json:"channelType,omitempty"`
	BrandID     ID     `json:"brandId,omitempty"`
	SkillID     ID     `json:"skillId,omitempty"`
	// TTRDefName asks for a time-to-respond policy: NORMAL, PRIORITIZED,
	// URGENT or CUSTOM (null or absent: NORMAL).
	TTRDefName          string               `json:"ttrDefName,omitempty"`
	CampaignInfo        *CampaignInfo        `json:"campaignInfo,omitempty"`
	ConversationContext *ConversationContext `json:"conversationContext,omitempty"`
}

// CampaignInfo names the campaign and engagement a conversation came from.
type CampaignInfo struct {
	CampaignID   ID `json:"campaignId"`
	EngagementID ID `json:"engagementId"`
}

// ConversationContext describes the consumer's visit ("SharkContext" for a
// web visitor). On the agent socket the conversation's context also
// carries the client properties of the consumer's socket.
type ConversationContext struct {
	Type                 string  `json:"type,omitempty"`
	Lang                 string  `json:"lang,omitempty"`
	VisitorID            string  `json:"visitorId,omitempty"`
	SessionID            string  `json:"sessionId,omitempty"`
	InteractionContextID string  `json:"interactionContextId,omitempty"`
	ClientProperties     *Header `json:"clientProperties,omitempty"`
}

// ContextShark is the conversationContext type of a web visitor.
const ContextShark = "SharkContext"

// RequestConversationResponse is the body of cm.RequestConversationResponse.
type RequestConversationResponse struct {
	ConversationID string `json:"conversationId"`
}

// SubscribeExConversations is the body of cqm.SubscribeExConversations (and
// the agent socket's aam form, which adds agentIds).
type SubscribeExConversations struct {
	ConvState          Strings `json:"convState,omitempty"`
	Stage              Strings `json:"stage,omitempty"`
	MinLastUpdatedTime int64   `json:"minLastUpdatedTime,omitempty"`
	AgentIDs           Strings `json:"agentIds,omitempty"`
	ConsumerID         string  `json:"consumerId,omitempty"`
	BrandID            ID      `json:"brandId,omitempty"`
}

// SubscriptionResponse is the body of a subscribe response and of an
// unsubscribe request.
type SubscriptionResponse struct {
	SubscriptionID string `json:"subscriptionId"`
}

// ExConversationChangeNotification is the body of
// cqm.ExConversationChangeNotification (and the agent socket's aam form).
type ExConversationChangeNotification struct {
	SubscriptionID string                   `json:"subscriptionId"`
	Changes        List[ConversationChange] `json:"changes"`
}

// MarshalJSON writes changes as an array, even when empty (the snapshot of
// no conversations is "changes":[]).
func (n ExConversationChangeNotification) MarshalJSON() ([]byte, error) {
	changes := []ConversationChange(n.Changes)
	if changes == nil {
		changes = []ConversationChange{}
	}
	return Marshal(struct {
		SubscriptionID string               `json:"subscriptionId"`
		Changes        []ConversationChange `json:"changes"`
	}{n.SubscriptionID, changes})
}

// ConversationChange is one UPSERT or DELETE of a conversation.
type ConversationChange struct {
	Type   string             `json:"type"`
	Result ConversationResult `json:"result"`
}

// ConversationResult is a conversation's metadata as of LastUpdateTime.
type ConversationResult struct {
	ConvID              string              `json:"convId"`
	EffectiveTTR        int64               `json:"effectiveTTR,omitempty"`
	LastUpdateTime      int64               `json:"lastUpdateTime,omitempty"`
	ConversationDetails ConversationDetails `json:"conversationDetails"`
}

// ConversationDetails is a conversation's state, participants and dialogs.
type ConversationDetails struct {
	BrandID              ID           `json:"brandId,omitempty"`
	SkillID              ID           `json:"skillId,omitempty"`
	State                string       `json:"state,omitempty"`
	Stage                string       `json:"stage,omitempty"`
	StartTs              int64        `json:"startTs,omitempty"`
	EndTs                int64        `json:"endTs,omitempty"`
	MetaDataLastUpdateTs int64        `json:"metaDataLastUpdateTs,omitempty"`
	CloseReason          string       `json:"closeReason,omitempty"`
	TTR                  *TTR         `json:"ttr,omitempty"`
	Delay                *Delay       `json:"delay,omitempty"`
	Participants         Participants `json:"participants,omitzero"`
	ParticipantsPID      Participants `json:"participantsPId,omitzero"`
	Dialogs              List[Dialog] `json:"dialogs,omitempty"`
	CSAT                 *CSAT        `json:"csat,omitempty"`
	// CampaignInfo and Context are the request's, shown on the agent
	// socket only (docs/protocol.md, Agent conversations and events).
	CampaignInfo *CampaignInfo        `json:"campaignInfo,omitempty"`
	Context      *ConversationContext `json:"context,omitempty"`
}

// Members returns the conversation's participants by their ids as the
// consumer socket knows them (PIds): participantsPId when present (older
// consumer payloads carry only that, and in the agent form participants
// holds agents' old ids), else participants.
func (d ConversationDetails) Members() []Participant {
	if len(d.ParticipantsPID.List) > 0 {
		return d.ParticipantsPID.List
	}
	return d.Participants.List
}

// TTR is a conversation's time to respond: the contact center's answer
// SLA, Value seconds from the consumer's input.
type TTR struct {
	TTRType string `json:"ttrType,omitempty"`
	Value   int64  `json:"value"`
}

// TTR types (schema/aam/subscribeExConversationsNotification.json).
const (
	TTRNormal      = "NORMAL"
	TTRPrioritized = "PRIORITIZED"
	TTRUrgent      = "URGENT"
	TTRCustom      = "CUSTOM"
)

// Delay says that the contact center is not available (Type NIGHT,
// WEEKEND or HOLIDAY) until TillWhen (epoch milliseconds): the time to
// respond counts from then.
type Delay struct {
	Type     string `json:"type"`
	TillWhen int64  `json:"tillWhen"`
}

// CSAT is a closed conversation's satisfaction answer.
type CSAT struct {
	CSATRate                   int    `json:"csatRate"`
	CSATResolutionConfirmation bool   `json:"csatResolutionConfirmation"`
	Status                     string `json:"status,omitempty"`
}

// Dialog is one dialog of a conversation (MAIN or POST_SURVEY).
type Dialog struct {
	DialogID             string            `json:"dialogId"`
	DialogType           string            `json:"dialogType,omitempty"`
	ChannelType          string            `json:"channelType,omitempty"`
	State                string            `json:"state,omitempty"`
	CreationTs           int64             `json:"creationTs,omitempty"`
	EndTs                int64             `json:"endTs,omitempty"`
	MetaDataLastUpdateTs int64             `json:"metaDataLastUpdateTs,omitempty"`
	ClosedBy             string            `json:"closedBy,omitempty"`
	ClosedCause          string            `json:"closedCause,omitempty"`
	ParticipantsDetails  List[Participant] `json:"participantsDetails,omitempty"`
}

// Participant is one member of a conversation or dialog.
type Participant struct {
	ID    string `json:"id"`
	Role  string `json:"role"`
	State string `json:"state,omitempty"`
}

// Participants is a conversation's member list. The consumer API sends it as
// a list of {id, role}; the agent API (and older payloads) as a map of role
// to ids. Both decode; AsMap chooses the encoding.
type Participants struct {
	List  []Participant
	AsMap bool
}

// IsZero lets omitzero drop an empty list. An empty map is kept: it was
// sent (or is to be sent) as {}, and the agent SDK requires participantsPId
// to be present.
func (p Participants) IsZero() bool { return len(p.List) == 0 && !p.AsMap }

// UnmarshalJSON accepts a list of participants, a bare participant, or a
// role → ids map (ids as a list or a bare id).
func (p *Participants) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	*p = Participants{}
	if len(b) == 0 || bytes.Equal(b, []byte("null")) {
		return nil
	}
	if b[0] == '{' {
		// Either a role map or one bare participant.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("participants: %w", err)
		}
		if _, ok := m["id"]; ok {
			var one Participant
			if err := json.Unmarshal(b, &one); err != nil {
				return fmt.Errorf("participants: %w", err)
			}
			p.List = []Participant{one}
			return nil
		}
		p.AsMap = true
		roles := make([]string, 0, len(m))
		for role := range m {
			roles = append(roles, role)
		}
		sort.Strings(roles)
		for _, role := range roles {
			var ids Strings
			if err := json.Unmarshal(m[role], &ids); err != nil {
				return fmt.Errorf("participants %s: %w", role, err)
			}
			for _, id := range ids {
				p.List = append(p.List, Participant{ID: id, Role: role})
			}
		}
		return nil
	}
	var list List[Participant]
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("participants: %w", err)
	}
	p.List = list
	return nil
}

// MarshalJSON writes a list, or with AsMap a role → ids map in first-seen
// role order.
func (p Participants) MarshalJSON() ([]byte, error) {
	if !p.AsMap {
		list := p.List
		if list == nil {
			list = []Participant{}
		}
		return Marshal(list)
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	var roles []string
	ids := map[string][]string{}
	for _, m := range p.List {
		if _, ok := ids[m.Role]; !ok {
			roles = append(roles, m.Role)
		}
		ids[m.Role] = append(ids[m.Role], m.ID)
	}
	for i, role := range roles {
		if i > 0 {
			buf.WriteByte(',')
		}
		k, _ := Marshal(role)
		v, err := Marshal(ids[role])
		if err != nil {
			return nil, err
		}
		buf.Write(k)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UpdateConversationField is the body of cm.UpdateConversationField.
type UpdateConversationField struct {
	ConversationID    string                  `json:"conversationId"`
	ConversationField List[ConversationField] `json:"conversationField"`
}

// ConversationField is one change of cm.UpdateConversationField: closing
// the conversation, closing a dialog, a CSAT answer, or a participant change.
type ConversationField struct {
	Field string `json:"field"`

	// ConversationStateField.
	ConversationState string `json:"conversationState,omitempty"`

	// DialogChange ("type":"UPDATE") and ParticipantsChange ("type":"ADD"/"REMOVE").
	Type   string        `json:"type,omitempty"`
	Dialog *DialogChange `json:"dialog,omitempty"`
	Role   string        `json:"role,omitempty"`
	UserID string        `json:"userId,omitempty"`

	// Skill ("type":"UPDATE"): the skill the conversation is transferred to.
	Skill string `json:"skill,omitempty"`

	// CSATRate.
	CSATRate                   int    `json:"csatRate,omitempty"`
	CSATResolutionConfirmation *bool  `json:"csatResolutionConfirmation,omitempty"`
	Status                     string `json:"status,omitempty"`
}

// DialogChange closes (or updates) one dialog.
type DialogChange struct {
	DialogID    string `json:"dialogId"`
	State       string `json:"state,omitempty"`
	ClosedCause string `json:"closedCause,omitempty"`
}
