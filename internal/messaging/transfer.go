package messaging

import (
	"context"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// TransferToSkill hands the agent's conversation over to the agents of
// another skill: in one request the agent leaves as ASSIGNED_AGENT and the
// conversation's skill changes, so that it is routed again (node-agent-sdk
// README, "Transfer conversation to a new skill"; docs/protocol.md,
// Transfer).
func (a *Agent) TransferToSkill(ctx context.Context, conversationID, skillID string) error {
	return a.updateFields(ctx, conversationID,
		protocol.ConversationField{Field: protocol.FieldParticipantsChange, Type: "REMOVE", Role: protocol.RoleAssignedAgent},
		protocol.ConversationField{Field: protocol.FieldSkill, Type: "UPDATE", Skill: skillID},
	)
}

// BackToQueue puts the agent's conversation back in its skill's queue: the
// agent leaves as ASSIGNED_AGENT and the conversation is routed again.
func (a *Agent) BackToQueue(ctx context.Context, conversationID string) error {
	return a.updateFields(ctx, conversationID,
		protocol.ConversationField{Field: protocol.FieldParticipantsChange, Type: "REMOVE", Role: protocol.RoleAssignedAgent},
	)
}

func (a *Agent) updateFields(ctx context.Context, conversationID string, fields ...protocol.ConversationField) error {
	body := protocol.UpdateConversationField{ConversationID: conversationID, ConversationField: fields}
	return a.request(ctx, qualified(protocol.TypeUpdateConversationField), body, nil)
}
