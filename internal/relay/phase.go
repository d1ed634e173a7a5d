package relay

import "github.com/chatwindow/chatwindow/internal/protocol"

// Where the conversation is, and the dialog the customer writes in: the
// MAIN dialog while it is open, the POST_SURVEY dialog while its survey
// runs (docs/protocol.md, Conversations).

// conversationPhase is the phase a metadata change shows (PCS: state is
// the MAIN dialog's, stage the conversation's): open; MAIN closed and a
// survey dialog open; ended after a survey; or ended without one (the
// legacy rating, kept once given). A payload without a stage ends with
// its state. It records the survey dialog and a rating.
func (c *Conversation) conversationPhase(ch protocol.ConversationChange) Phase {
	d := ch.Result.ConversationDetails
	c.survey = ""
	surveyed := c.Phase == PhaseSurvey || c.Phase == PhaseEnded
	for _, dl := range d.Dialogs {
		if dl.DialogType != protocol.DialogPostSurvey {
			continue
		}
		surveyed = true
		if dl.State == protocol.StateOpen {
			c.survey = dl.DialogID
		}
	}
	ended := ch.Type == protocol.ChangeDelete || d.Stage == protocol.StateClose ||
		(d.State == protocol.StateClose && c.survey == "")
	switch {
	case !ended && d.State == protocol.StateClose:
		return PhaseSurvey
	case !ended:
		return PhaseOpen
	case surveyed:
		c.survey = ""
		return PhaseEnded
	case d.CSAT != nil:
		c.Rating = d.CSAT.CSATRate
		return PhaseRated
	case c.Phase == PhaseRated:
		return PhaseRated
	}
	return PhaseClosed
}

// Dialog is the dialog the customer writes in: the survey's while one
// runs, else the MAIN dialog (whose id is the conversation's).
func (c *Conversation) Dialog() string {
	if c.Phase == PhaseSurvey && c.survey != "" {
		return c.survey
	}
	return c.ID
}

// Writable reports whether the customer may write (and click, and type):
// in an open conversation, and in its survey until the survey ends.
func (c *Conversation) Writable() bool {
	return c.Phase == PhaseOpen || c.Phase == PhaseSurvey
}

// target is the dialog a local message is published to: the one the
// customer writes in when it is first published, then always that one.
func (c *Conversation) target(localID string) string {
	m, ok := c.log.Local(localID)
	if !ok {
		return c.Dialog()
	}
	if m.target == "" {
		m.target = c.Dialog()
	}
	return m.target
}
