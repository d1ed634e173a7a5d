package simulator

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Routing by skill (docs/simulator.md, Routing). Every conversation has a
// skill: its engagement's, the skillId of its request, or "-1" (none). A
// conversation of no skill rings every ONLINE agent; one of a skill rings
// only the agents that have it, and waits while none is there. Agents
// transfer a conversation to another skill (and back to the queue) with
// cm.UpdateConversationField, as node-agent-sdk's README shows: a Skill
// field, after a ParticipantsChange REMOVE of the assigned agent.

// noSkill is the skill of a conversation routed to no skill in particular.
const noSkill = "-1"

// Engagement routes the conversations requested with its campaignInfo to
// its skill (LivePerson's engagements belong to a campaign and name the
// skill their visitors are routed to).
type Engagement struct {
	CampaignID, EngagementID, SkillID string
}

// ttrSeconds are the time-to-respond policies' values [ours]: LivePerson's
// are the account's settings; the Conversation Metadata tutorial shows
// PRIORITIZED at 600 s, and the service always showed NORMAL at 3600 s.
var ttrSeconds = map[string]int64{
	protocol.TTRNormal:      3600,
	protocol.TTRPrioritized: 600,
	protocol.TTRUrgent:      60,
	protocol.TTRCustom:      3600,
}

// delayTypes are the kinds of closure the metadata schema names.
var delayTypes = []string{"NIGHT", "WEEKEND", "HOLIDAY"}

// ValidSkillID reports whether id is a skill id: LivePerson's are
// positive decimal numbers.
func ValidSkillID(id string) bool {
	if id == "" || len(id) > 19 || id[0] == '0' {
		return false
	}
	for _, r := range id {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// checkRouting validates the agents' skills, the engagements and the
// closure of cfg, and defaults ClosedType.
func checkRouting(cfg *Config) error {
	for _, a := range cfg.Agents {
		for _, sk := range a.Skills {
			if !ValidSkillID(sk) {
				return fmt.Errorf("agent %q: skill %q is not a skill id (a positive number)", a.Name, sk)
			}
		}
	}
	seen := map[[2]string]bool{}
	for _, e := range cfg.Engagements {
		if !ValidSkillID(e.CampaignID) || !ValidSkillID(e.EngagementID) {
			return fmt.Errorf("engagement %s:%s: campaign and engagement ids are positive numbers", e.CampaignID, e.EngagementID)
		}
		if !ValidSkillID(e.SkillID) {
			return fmt.Errorf("engagement %s:%s: skill %q is not a skill id (a positive number)", e.CampaignID, e.EngagementID, e.SkillID)
		}
		k := [2]string{e.CampaignID, e.EngagementID}
		if seen[k] {
			return fmt.Errorf("engagement %s:%s configured twice", e.CampaignID, e.EngagementID)
		}
		seen[k] = true
	}
	if cfg.ClosedType == "" {
		cfg.ClosedType = "NIGHT"
	}
	if !slices.Contains(delayTypes, cfg.ClosedType) {
		return fmt.Errorf("closed type %q: want NIGHT, WEEKEND or HOLIDAY", cfg.ClosedType)
	}
	return nil
}

// Skills returns every skill id the service knows of, its agents' and its
// engagements', in ascending order.
func (s *Service) Skills() []string {
	var out []string
	for _, a := range s.agents {
		out = append(out, a.skills...)
	}
	for _, e := range s.cfg.Engagements {
		out = append(out, e.SkillID)
	}
	// Numerically: ids have no leading zeros.
	slices.SortFunc(out, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(a), len(b)), cmp.Compare(a, b))
	})
	return slices.Compact(out)
}

// takes reports whether the agent is rung for conversations of skill: any
// agent for no skill, else the agents that have it (LivePerson's "Routing
// logic overview": a conversation is routed exclusively to agents with its
// skill; one of no skill to any available agent).
func (a *agentAccount) takes(skill string) bool {
	return skill == noSkill || slices.Contains(a.skills, skill)
}

// requestSkill decides a new conversation's skill from its request: the
// engagement's when campaignInfo names one, else an explicit skillId,
// else none. It answers the error code and text of a request it refuses.
func (s *Service) requestSkill(b protocol.ConsumerRequestConversation) (string, int, string) {
	if ci := b.CampaignInfo; ci != nil && (ci.CampaignID != "" || ci.EngagementID != "") {
		for _, e := range s.cfg.Engagements {
			if e.CampaignID == string(ci.CampaignID) && e.EngagementID == string(ci.EngagementID) {
				// [ours] The engagement wins over a skillId in the same
				// request: the Connector API's example sends both, with
				// skillId "-1".
				return e.SkillID, 0, ""
			}
		}
		return "", http.StatusBadRequest, fmt.Sprintf("unknown engagement: campaign %q, engagement %q", ci.CampaignID, ci.EngagementID)
	}
	switch sk := string(b.SkillID); {
	case sk == "" || sk == noSkill:
		return noSkill, 0, ""
	case ValidSkillID(sk):
		return sk, 0, ""
	default:
		return "", http.StatusBadRequest, fmt.Sprintf("skillId %q is not a skill id", sk)
	}
}

// requestTTR checks a request's ttrDefName (absent or null: NORMAL).
func requestTTR(name string) (string, error) {
	if name == "" {
		return protocol.TTRNormal, nil
	}
	if _, ok := ttrSeconds[name]; !ok {
		return "", fmt.Errorf("ttrDefName %q: want NORMAL, PRIORITIZED, URGENT or CUSTOM", name)
	}
	return name, nil
}

// ttr is the conversation's time to respond.
func (cv *conversation) ttr() *protocol.TTR {
	t := cv.ttrType
	if t == "" {
		t = protocol.TTRNormal
	}
	return &protocol.TTR{TTRType: t, Value: ttrSeconds[t]}
}

// delayNow is the contact center's closure at Now, if it is closed.
func (s *Service) delayNow() *protocol.Delay {
	if !s.cfg.Now().Before(s.cfg.ClosedUntil) {
		return nil
	}
	return &protocol.Delay{Type: s.cfg.ClosedType, TillWhen: s.cfg.ClosedUntil.UnixMilli()}
}

// requestContext is the context a new conversation keeps: the request's
// conversationContext with the client properties of the socket that asked.
func requestContext(b protocol.ConsumerRequestConversation, props *protocol.Header) *protocol.ConversationContext {
	if b.ConversationContext == nil && props == nil {
		return nil
	}
	var ctx protocol.ConversationContext
	if b.ConversationContext != nil {
		ctx = *b.ConversationContext
	}
	ctx.ClientProperties = props
	return &ctx
}

// parseClientProperties reads a Client-Properties upgrade header (absent:
// nil). The Client Properties tutorial types it ".ClientProperties", the
// schema ".ams.headers.ClientProperties": both are taken.
func parseClientProperties(h string) (*protocol.Header, error) {
	if h == "" {
		return nil, nil
	}
	var p protocol.Header
	if err := json.Unmarshal([]byte(h), &p); err != nil {
		return nil, fmt.Errorf("bad Client-Properties header: %w", err)
	}
	if p.JWT != "" {
		return nil, errors.New("bad Client-Properties header: it carries a jwt")
	}
	return &p, nil
}

// fieldSkill transfers the conversation to another skill: its routing
// task ends, and once every field of the request is applied it is routed
// again, to agents of the new skill (node-agent-sdk README, "Transfer
// conversation to a new skill": the caller must be a participant; it was,
// when the request came, if it removed itself first).
func (s *Service) fieldSkill(cv *conversation, caller member, wasParticipant bool, field protocol.ConversationField) (int, string) {
	if caller.agent == nil {
		return http.StatusForbidden, "only agents transfer conversations"
	}
	if field.Type != "" && field.Type != "UPDATE" {
		return http.StatusBadRequest, fmt.Sprintf("Skill type %q: only UPDATE", field.Type)
	}
	if field.Skill != noSkill && !ValidSkillID(field.Skill) {
		return http.StatusBadRequest, fmt.Sprintf("skill %q is not a skill id", field.Skill)
	}
	if !wasParticipant {
		return http.StatusForbidden, "not a participant of the conversation"
	}
	if !cv.isOpen() || cv.state() != protocol.StateOpen {
		return http.StatusConflict, fmt.Sprintf("conversation %s is closed", cv.id)
	}
	s.log.Info("conversation transferred", "conversation_id", cv.id, "from_skill", cv.skillID, "to_skill", field.Skill, "by", caller.agent.name)
	cv.skillID = field.Skill
	cv.lastUpdate = s.now()
	s.endTask(cv)
	s.convChanged(cv)
	s.offer(cv)
	return 0, ""
}

// A request that transfers a conversation holds its changes: the
// conversation's metadata change and its routing wait until every field
// is applied, so that the consumer sees the agent leave and the new skill
// in one change, and the old skill's agents are not rung in between.

// hold starts holding the changes of cv.
func (s *Service) hold(cv *conversation) { s.held = cv }

// holding reports whether cv's changes are held, and remembers that a
// change was (offer, which only routes, looks at s.held itself).
func (s *Service) holding(cv *conversation) bool {
	if s.held == nil || s.held != cv {
		return false
	}
	s.heldDirty = true
	return true
}

// release ends the hold: a held change is sent once, and the conversation
// is routed.
func (s *Service) release() {
	cv, dirty := s.held, s.heldDirty
	s.held, s.heldDirty = nil, false
	if cv == nil {
		return
	}
	if dirty {
		s.convChanged(cv)
	}
	s.offer(cv)
}

// transfers reports whether a request's fields transfer the conversation.
func transfers(fields []protocol.ConversationField) bool {
	return slices.ContainsFunc(fields, func(f protocol.ConversationField) bool { return f.Field == protocol.FieldSkill })
}

// noteClientProperties keeps the client properties among InitConnection's
// headers, if any.
func (c *socket) noteClientProperties(headers []protocol.Header) {
	for _, h := range headers {
		if t := protocol.Canonical(h.Type); t == protocol.TypeHeaderClientProperties || t == "ClientProperties" {
			p := h
			c.clientProps = &p
		}
	}
}
