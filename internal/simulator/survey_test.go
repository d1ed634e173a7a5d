package simulator

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

func withSurvey(c *Config) { c.Survey = true }

// convUntil returns the conversation of the next metadata notification
// whose conversation satisfies ok (earlier ones are dropped).
func (c *client) convUntil(what string, ok func(protocol.ConversationDetails) bool) protocol.ConversationDetails {
	c.t.Helper()
	var got protocol.ConversationDetails
	c.take(what, func(f protocol.Frame) bool {
		if f.Kind != protocol.KindNotification || f.Type != protocol.TypeExConversationChange {
			return false
		}
		var n protocol.ExConversationChangeNotification
		if json.Unmarshal(f.Body, &n) != nil {
			return false
		}
		for _, ch := range n.Changes {
			if ok(ch.Result.ConversationDetails) {
				got = ch.Result.ConversationDetails
				return true
			}
		}
		return false
	})
	return got
}

func inSurvey(d protocol.ConversationDetails) bool {
	return d.State == protocol.StateClose && d.Stage == protocol.StateOpen
}

func stageClosed(d protocol.ConversationDetails) bool { return d.Stage == protocol.StateClose }

// surveyConversation opens a conversation with alice assigned and the
// consumer subscribed to its metadata; it returns the consumer, the agent
// and the conversation id.
func surveyConversation(t *testing.T, e *env) (*client, *client, string) {
	t.Helper()
	c := e.consumer(e.signup())
	conv := c.openConversation()
	a, _ := e.assign("alice")
	c.ok(protocol.TypeSubscribeExConversations, protocol.SubscribeExConversations{})
	c.convUntil("the assigned conversation", func(d protocol.ConversationDetails) bool {
		return len(d.Members()) == 2
	})
	return c, a, conv
}

// startSurvey closes MAIN as the consumer and returns the survey dialog.
func startSurvey(t *testing.T, c *client, conv string) string {
	t.Helper()
	c.ok(protocol.TypeUpdateConversationField, closeConv(conv))
	d := c.convUntil("the survey", inSurvey)
	return d.Dialogs[1].DialogID
}

// TestSurveyStarts: closing an assigned conversation, from either side and
// either way (the state or the MAIN dialog), leaves it CLOSE in its state
// and OPEN in its stage, with closeReason and MAIN's closedBy naming who
// closed it and an open POST_SURVEY dialog of the consumer, the survey bot
// (AGENT) and the agent (READER), whose replay is the bot's greeting and
// first question with its quick replies and Question metadata (PCS steps
// 9 and 10).
func TestSurveyStarts(t *testing.T) {
	tests := []struct {
		name     string
		byAgent  bool
		field    func(conv string) protocol.UpdateConversationField
		closedBy string
	}{
		{"consumer closes the conversation", false, closeConv, "CONSUMER"},
		{"consumer closes the MAIN dialog", false, func(conv string) protocol.UpdateConversationField { return closeDialog(conv, conv) }, "CONSUMER"},
		{"agent closes the conversation", true, closeConv, "AGENT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withSurvey)
			c, a, conv := surveyConversation(t, e)
			closer, typ := c, protocol.TypeUpdateConversationField
			if tt.byAgent {
				closer, typ = a, ".ams.cm.UpdateConversationField"
			}
			if r := closer.ok(typ, tt.field(conv)); r.BodyString() != "OK Conversation resolved successfully" {
				t.Errorf("close answered %s", r.Body)
			}
			d := c.convUntil("the survey", inSurvey)
			if d.CloseReason != tt.closedBy || d.EndTs != 0 || len(d.Dialogs) != 2 {
				t.Fatalf("conversation in its survey: %+v", d)
			}
			main, sd := d.Dialogs[0], d.Dialogs[1]
			if main.State != "CLOSE" || main.ClosedBy != tt.closedBy || main.EndTs == 0 {
				t.Errorf("MAIN dialog %+v", main)
			}
			if sd.DialogType != "POST_SURVEY" || sd.State != "OPEN" || sd.DialogID == conv || sd.CreationTs == 0 {
				t.Errorf("survey dialog %+v", sd)
			}
			var roles []string
			for _, p := range sd.ParticipantsDetails {
				roles = append(roles, p.Role)
			}
			if diff := cmp.Diff([]string{"CONSUMER", "READER", "AGENT"}, roles); diff != "" {
				t.Errorf("survey dialog participants (-want +got):\n%s", diff)
			}
			for _, p := range main.ParticipantsDetails {
				if p.Role == protocol.RoleAgent {
					t.Errorf("the survey bot is listed in MAIN: %+v", main.ParticipantsDetails)
				}
			}

			c.ok(protocol.TypeSubscribeMessagingEvents, protocol.SubscribeMessagingEvents{DialogID: sd.DialogID, ConversationID: conv})
			replay := decode[protocol.MessagingEventNotification](t, c.notif(protocol.TypeMessagingEventNotification)).Changes
			if len(replay) != 2 {
				t.Fatalf("survey replay has %d events, want the greeting and the first question: %+v", len(replay), replay)
			}
			for i, ev := range replay {
				if seq, _ := ev.Seq(); seq != int64(i) || ev.OriginatorMetadata == nil || ev.OriginatorMetadata.Role != protocol.RoleAgent || ev.DialogID != sd.DialogID {
					t.Errorf("survey event %d: %+v", i, ev)
				}
			}
			q := replay[1]
			if q.Event.Type != protocol.EventContent || q.Event.Message != surveyQuestions[0].text {
				t.Errorf("first question %+v", q.Event)
			}
			var qr quickReplies
			if err := json.Unmarshal(q.Event.QuickReplies, &qr); err != nil || qr.Type != "quickReplies" || len(qr.Replies) != 2 ||
				qr.Replies[0].Title != "Yes" || qr.Replies[0].Click.Actions[0] != (replyAction{Type: "publishText", Text: "Yes"}) ||
				qr.Replies[0].Click.Metadata[0] != (answerMeta{Type: "Answer", QuestionID: "fcr", ID: "fcr-1"}) {
				t.Errorf("quick replies %s (%v)", q.Event.QuickReplies, err)
			}
			if string(q.Metadata) != `[{"type":"Question","id":"fcr","surveyId":"chatwindow-survey","replies":["fcr-1","fcr-2"]}]` {
				t.Errorf("question metadata %s", q.Metadata)
			}
		})
	}
}

// event is what a survey test compares of an event.
type event struct {
	Seq     int64
	Role    string
	Type    string // the event's type, or a receipt's status
	Text    string
	Seqs    []int64
	Replies bool
}

func summary(evs []protocol.MessagingEvent) []event {
	var out []event
	for _, ev := range evs {
		seq, _ := ev.Seq()
		s := event{Seq: seq, Role: ev.OriginatorMetadata.Role, Type: ev.Event.Type, Text: ev.Event.Message, Seqs: ev.Event.SequenceList, Replies: len(ev.Event.QuickReplies) > 0}
		if ev.Event.Type == protocol.EventAcceptStatus {
			s.Type = ev.Event.Status
		}
		out = append(out, s)
	}
	return out
}

// TestSurveyAnswers: the consumer answers in the survey dialog, and only
// there: a click (ACTION then its text, with the reply's metadata), a
// typed answer the bot does not take (it asks again), a typed one it does,
// free text. The bot reads each answer, asks the next question, thanks and
// closes the survey dialog ("Completed", by AGENT); the stage is CLOSE and
// closeReason stays the consumer's. The consumer's receipts go to the
// survey dialog and reach the agent, who reads the survey but may not
// write in it.
func TestSurveyAnswers(t *testing.T) {
	e := newEnv(t, withSurvey)
	c, a, conv := surveyConversation(t, e)
	survey := startSurvey(t, c, conv)
	in := func(msg string) protocol.PublishEvent {
		return protocol.PublishEvent{DialogID: survey, ConversationID: conv, Event: protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: msg}}
	}

	c.ok(protocol.TypePublishEvent, protocol.PublishEvent{DialogID: survey, ConversationID: conv,
		Event: protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusRead, SequenceList: protocol.Seqs{0, 1}}})
	a.take("the consumer's READ in the survey dialog", func(f protocol.Frame) bool {
		if f.Type != onlineEvent {
			return false
		}
		ev := decode[protocol.MessagingEvent](t, f)
		return ev.DialogID == survey && ev.Event.Status == protocol.StatusRead && ev.OriginatorMetadata.Role == protocol.RoleConsumer
	})

	// Only in the survey dialog: MAIN is closed, and the agent only reads.
	c.wantCode(409, protocol.TypePublishEvent, text(conv, "to MAIN"))
	a.wantCode(403, ".ams.ms.PublishEvent", in("the agent's words"))
	a.wantCode(403, ".ams.ms.PublishEvent", protocol.PublishEvent{DialogID: survey, Event: protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusRead, SequenceList: protocol.Seqs{1}}})

	// The click on "Yes": ACTION of the question, then its text, both with
	// the reply's metadata.
	click := json.RawMessage(`[{"type":"Answer","questionId":"fcr","id":"fcr-1"}]`)
	c.okWithMetadata(protocol.TypePublishEvent, protocol.PublishEvent{DialogID: survey, ConversationID: conv,
		Event: protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusAction, SequenceList: protocol.Seqs{1}}}, click)
	c.okWithMetadata(protocol.TypePublishEvent, in("Yes"), click)
	c.ok(protocol.TypePublishEvent, in("four"))
	c.ok(protocol.TypePublishEvent, in(" 4 "))
	c.ok(protocol.TypePublishEvent, in("Quick and kind, thanks."))

	d := c.convUntil("the survey's end", stageClosed)
	sd := d.Dialogs[1]
	if d.CloseReason != "CONSUMER" || d.EndTs == 0 || sd.State != "CLOSE" || sd.ClosedBy != "AGENT" || sd.ClosedCause != "Completed" || sd.EndTs != d.EndTs {
		t.Errorf("after the survey: %+v, survey dialog %+v", d, sd)
	}
	want := []event{
		{Seq: 0, Role: "AGENT", Type: "ContentEvent", Text: surveyGreeting},
		{Seq: 1, Role: "AGENT", Type: "ContentEvent", Text: surveyQuestions[0].text, Replies: true},
		{Seq: 2, Role: "CONSUMER", Type: "READ", Seqs: []int64{0, 1}},
		{Seq: 3, Role: "CONSUMER", Type: "ACTION", Seqs: []int64{1}},
		{Seq: 4, Role: "CONSUMER", Type: "ContentEvent", Text: "Yes"},
		{Seq: 5, Role: "AGENT", Type: "READ", Seqs: []int64{4}},
		{Seq: 6, Role: "AGENT", Type: "ContentEvent", Text: surveyQuestions[1].text, Replies: true},
		{Seq: 7, Role: "CONSUMER", Type: "ContentEvent", Text: "four"},
		{Seq: 8, Role: "AGENT", Type: "READ", Seqs: []int64{7}},
		{Seq: 9, Role: "AGENT", Type: "ContentEvent", Text: surveyFallback},
		{Seq: 10, Role: "AGENT", Type: "ContentEvent", Text: surveyQuestions[1].text, Replies: true},
		{Seq: 11, Role: "CONSUMER", Type: "ContentEvent", Text: " 4 "},
		{Seq: 12, Role: "AGENT", Type: "READ", Seqs: []int64{11}},
		{Seq: 13, Role: "AGENT", Type: "ContentEvent", Text: surveyQuestions[2].text},
		{Seq: 14, Role: "CONSUMER", Type: "ContentEvent", Text: "Quick and kind, thanks."},
		{Seq: 15, Role: "AGENT", Type: "READ", Seqs: []int64{14}},
		{Seq: 16, Role: "AGENT", Type: "ContentEvent", Text: surveyThanks},
	}
	if diff := cmp.Diff(want, summary(e.svc.DialogEvents(survey))); diff != "" {
		t.Errorf("the survey dialog (-want +got):\n%s", diff)
	}
	c.wantCode(409, protocol.TypePublishEvent, in("too late"))
	c.openConversation()
}

// okWithMetadata sends a request with top-level metadata (as a click's
// answer is sent) and fails the test unless it gets 200.
func (c *client) okWithMetadata(typ string, body any, meta json.RawMessage) {
	c.t.Helper()
	c.ids++
	id := fmt.Sprintf("r%d", c.ids)
	f, err := protocol.NewRequest(id, typ, body)
	if err != nil {
		c.t.Fatal(err)
	}
	f.Metadata = meta
	b, err := protocol.Marshal(f)
	if err != nil {
		c.t.Fatal(err)
	}
	c.sendRaw(string(b))
	if r := c.resp(id); r.Code != 200 {
		c.t.Fatalf("%s: %d %s", typ, r.Code, r.BodyString())
	}
}

// TestSurveyEnds: a survey also ends when the consumer types "skip", closes
// the conversation again or closes the survey dialog; each time the stage is
// CLOSE with the survey dialog's closedBy and closedCause saying how.
func TestSurveyEnds(t *testing.T) {
	tests := []struct {
		name          string
		end           func(c *client, conv, survey string)
		closedBy, why string
	}{
		{"typed skip", func(c *client, conv, survey string) {
			c.ok(protocol.TypePublishEvent, protocol.PublishEvent{DialogID: survey, ConversationID: conv, Event: protocol.Event{Type: protocol.EventContent, Message: "Skip"}})
		}, "AGENT", "Skipped"},
		{"conversation closed again", func(c *client, conv, _ string) {
			c.ok(protocol.TypeUpdateConversationField, closeConv(conv))
		}, "CONSUMER", "Closed by consumer"},
		{"survey dialog closed", func(c *client, conv, survey string) {
			c.ok(protocol.TypeUpdateConversationField, closeDialog(conv, survey))
		}, "CONSUMER", "Closed by consumer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withSurvey)
			c, _, conv := surveyConversation(t, e)
			survey := startSurvey(t, c, conv)
			tt.end(c, conv, survey)
			d := c.convUntil("the survey's end", stageClosed)
			if sd := d.Dialogs[1]; sd.State != "CLOSE" || sd.ClosedBy != tt.closedBy || sd.ClosedCause != tt.why || d.CloseReason != "CONSUMER" {
				t.Errorf("after the survey: %+v, survey dialog %+v", d, sd)
			}
		})
	}
}

// TestNoSurvey: a conversation nobody was assigned closes at once, and so
// does one closed with the Stage field (PCS, Additional Notes): no
// POST_SURVEY dialog.
func TestNoSurvey(t *testing.T) {
	stage := func(conv string) protocol.UpdateConversationField {
		return protocol.UpdateConversationField{ConversationID: conv, ConversationField: protocol.List[protocol.ConversationField]{
			{Field: protocol.FieldStage, ConversationState: protocol.StateClose}}}
	}
	tests := []struct {
		name     string
		assigned bool
		field    func(string) protocol.UpdateConversationField
	}{
		{"unassigned", false, closeConv},
		{"unassigned, MAIN dialog closed", false, func(conv string) protocol.UpdateConversationField { return closeDialog(conv, conv) }},
		{"Stage closed", true, stage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withSurvey)
			var c *client
			var conv string
			if tt.assigned {
				c, _, conv = surveyConversation(t, e)
			} else {
				c = e.consumer(e.signup())
				conv = c.openConversation()
				c.ok(protocol.TypeSubscribeExConversations, protocol.SubscribeExConversations{})
			}
			if r := c.ok(protocol.TypeUpdateConversationField, tt.field(conv)); r.BodyString() != "OK Conversation resolved successfully" {
				t.Errorf("close answered %s", r.Body)
			}
			d := c.convUntil("the conversation closed", func(d protocol.ConversationDetails) bool { return d.State == protocol.StateClose })
			if d.Stage != "CLOSE" || len(d.Dialogs) != 1 || d.CloseReason != "CONSUMER" {
				t.Errorf("closed conversation %+v", d)
			}
		})
	}
}

// TestSurveyTimeout: a survey left unanswered closes SurveyTimeout after it
// began, on the service's clock ("Timeout", by AGENT): an answer after the
// deadline is refused, and the metadata says the conversation ended.
func TestSurveyTimeout(t *testing.T) {
	e := newEnv(t, withSurvey)
	c, _, conv := surveyConversation(t, e)
	survey := startSurvey(t, c, conv)
	answer := protocol.PublishEvent{DialogID: survey, ConversationID: conv, Event: protocol.Event{Type: protocol.EventContent, Message: "Yes"}}
	e.clock.Advance(time.Hour - time.Second)
	c.ok(protocol.TypePublishEvent, answer)
	e.clock.Advance(time.Second)
	c.wantCode(409, protocol.TypePublishEvent, answer)
	d := c.convUntil("the survey timed out", stageClosed)
	if sd := d.Dialogs[1]; sd.ClosedBy != "AGENT" || sd.ClosedCause != "Timeout" {
		t.Errorf("survey dialog %+v", sd)
	}

	// Nobody publishes: the service's own check closes it.
	e2 := newEnv(t, withSurvey, func(c *Config) { c.SurveyTimeout = time.Minute })
	c2, _, conv2 := surveyConversation(t, e2)
	startSurvey(t, c2, conv2)
	e2.clock.Advance(time.Minute)
	d = c2.convUntil("the survey timed out", stageClosed)
	if sd := d.Dialogs[1]; sd.ClosedCause != "Timeout" {
		t.Errorf("survey dialog %+v", sd)
	}
}
