package relay

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

const survey = "S1"

// metadata is a conversation change as the service sends it: state is
// MAIN's, stage the conversation's; surveyState, when set, adds a
// POST_SURVEY dialog in that state.
func metadata(ts int64, typ, state, stage, surveyState string, csat *protocol.CSAT) protocol.ConversationChange {
	d := protocol.ConversationDetails{State: state, Stage: stage, MetaDataLastUpdateTs: ts, CSAT: csat,
		Dialogs: protocol.List[protocol.Dialog]{{DialogID: conv, DialogType: protocol.DialogMain, State: state}}}
	if surveyState != "" {
		d.Dialogs = append(d.Dialogs, protocol.Dialog{DialogID: survey, DialogType: protocol.DialogPostSurvey, State: surveyState})
	}
	return protocol.ConversationChange{Type: typ, Result: protocol.ConversationResult{ConvID: conv, ConversationDetails: d}}
}

// TestConversationPhases: the phase a metadata change shows, and the
// dialog the customer then writes in (PCS: state is MAIN's, stage the
// conversation's).
func TestConversationPhases(t *testing.T) {
	const (
		up, del    = protocol.ChangeUpsert, protocol.ChangeDelete
		open, shut = protocol.StateOpen, protocol.StateClose
	)
	tests := []struct {
		name       string
		from       Phase
		change     protocol.ConversationChange
		want       Phase
		wantDialog string
		announce   string
	}{
		{"open", PhaseNew, metadata(1, up, open, open, "", nil), PhaseOpen, conv, ""},
		{"MAIN closed, survey open", PhaseOpen, metadata(1, up, shut, open, open, nil), PhaseSurvey, survey,
			"The conversation has ended. Please answer a few questions about it."},
		{"survey closed: ended", PhaseSurvey, metadata(1, up, shut, shut, shut, nil), PhaseEnded, conv, "The conversation has ended."},
		{"ended even when the change lists no survey", PhaseSurvey, metadata(1, up, shut, shut, "", nil), PhaseEnded, conv, "The conversation has ended."},
		{"closed with no survey: the legacy rating", PhaseOpen, metadata(1, up, shut, shut, "", nil), PhaseClosed, conv, "The conversation has ended."},
		{"closed by an older service (no stage)", PhaseOpen, metadata(1, up, shut, "", "", nil), PhaseClosed, conv, "The conversation has ended."},
		{"MAIN closed and no survey open", PhaseOpen, metadata(1, up, shut, open, "", nil), PhaseClosed, conv, "The conversation has ended."},
		{"deleted", PhaseOpen, metadata(1, del, open, open, "", nil), PhaseClosed, conv, "The conversation has ended."},
		{"rated", PhaseClosed, metadata(1, up, shut, shut, "", &protocol.CSAT{CSATRate: 3, Status: "FILLED"}), PhaseRated, conv, ""},
		{"rating declined", PhaseClosed, metadata(1, up, shut, shut, "", &protocol.CSAT{Status: "SKIPPED"}), PhaseRated, conv, ""},
		{"rated stays rated", PhaseRated, metadata(1, up, shut, shut, "", nil), PhaseRated, conv, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConversation(me)
			c.ID, c.Phase = conv, tt.from
			ch, ok := c.ApplyConversation(tt.change)
			if !ok {
				t.Fatal("change refused")
			}
			if c.Phase != tt.want || c.Dialog() != tt.wantDialog || ch.Phase != (tt.from != tt.want) || ch.Announce != tt.announce {
				t.Errorf("phase %s, dialog %s, change %+v; want %s, %s, %q", c.Phase, c.Dialog(), ch, tt.want, tt.wantDialog, tt.announce)
			}
			if w := c.Writable(); w != (tt.want == PhaseOpen || tt.want == PhaseSurvey) {
				t.Errorf("writable %v in %s", w, c.Phase)
			}
		})
	}
}

// TestSurveyChoice: in the survey, the survey's quick replies answer and
// MAIN's offers are over (a card's buttons too, which outlive newer
// messages); a message written goes to the dialog it was
// first published to, even once the phase moved on.
func TestSurveyChoice(t *testing.T) {
	c := NewConversation(me)
	c.ApplyConversation(metadata(1, protocol.ChangeUpsert, protocol.StateOpen, protocol.StateOpen, "", nil))
	card := text(0, agentID, "")
	card.Event = protocol.Event{Type: protocol.EventRichContent, Content: json.RawMessage(demoCard)}
	c.Apply(card)
	c.Sending("1", "written in MAIN", c.log.Messages()[0].At)
	if got := c.target("1"); got != conv {
		t.Fatalf("a message written while open goes to %s", got)
	}

	c.ApplyConversation(metadata(2, protocol.ChangeUpsert, protocol.StateClose, protocol.StateOpen, protocol.StateOpen, nil))
	q := text(1, "survey-bot", "Were you able to resolve your inquiry today?")
	q.DialogID = survey
	q.Event.QuickReplies = json.RawMessage(`{"type":"quickReplies","replies":[{"type":"button","title":"Yes","click":{"actions":[{"type":"publishText","text":"Yes"}],"metadata":[{"type":"Answer","questionId":"fcr","id":"fcr-1"}]}}]}`)
	c.Apply(q)

	if _, _, err := c.Choose(conv, 0, 0, ""); err == nil {
		t.Error("a MAIN card's button was taken during the survey")
	}
	choice, _, err := c.Choose(survey, 1, 0, "Yes")
	if err != nil || choice.Text != "Yes" || string(choice.Metadata) != `[{"id":"fcr-1","questionId":"fcr","type":"Answer"}]` {
		t.Fatalf("survey answer: %+v, %v", choice, err)
	}
	c.Sending("2", "a typed answer", c.log.Messages()[0].At)
	if got := c.target("2"); got != survey {
		t.Errorf("a message written in the survey goes to %s", got)
	}
	if got := c.target("1"); got != conv {
		t.Errorf("the message written in MAIN now goes to %s", got)
	}
	c.ApplyConversation(metadata(3, protocol.ChangeUpsert, protocol.StateClose, protocol.StateClose, protocol.StateClose, nil))
	if _, _, err := c.Choose(survey, 1, 0, ""); err == nil {
		t.Error("a choice was taken after the survey ended")
	}
}

// TestRetryableUntilTheEnd: a failed message may be sent again before the
// conversation exists, while it is open and in its survey, never after.
func TestRetryableUntilTheEnd(t *testing.T) {
	const up, open, shut = protocol.ChangeUpsert, protocol.StateOpen, protocol.StateClose
	c := NewConversation(me)
	c.Sending("l1", "hello", time.Now())
	c.Failed("l1")
	steps := []struct {
		name   string
		change *protocol.ConversationChange
		want   bool
	}{
		{"no conversation yet", nil, true},
		{"open", ptr(metadata(1, up, open, open, "", nil)), true},
		{"in the survey", ptr(metadata(2, up, shut, open, open, nil)), true},
		{"ended", ptr(metadata(3, up, shut, shut, shut, nil)), false},
	}
	for _, st := range steps {
		if st.change != nil {
			c.ApplyConversation(*st.change)
		}
		if _, ok := c.Retryable("l1"); ok != st.want {
			t.Errorf("%s (phase %s): retryable %v, want %v", st.name, c.Phase, ok, st.want)
		}
	}
	if _, ok := c.Retryable("nope"); ok {
		t.Error("an unknown message is retryable")
	}
}

func ptr[T any](v T) *T { return &v }
