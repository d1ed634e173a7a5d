package simulator

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// The post-conversation survey (docs/simulator.md, Surveys). With
// Config.Survey, closing the MAIN dialog of a conversation that had an
// assigned agent, from either side, opens a POST_SURVEY dialog: the
// conversation's state is CLOSE, its stage still OPEN. A survey bot, an
// AGENT of that dialog (the assigned agent reads it), greets, asks its
// questions one at a time (quick replies, or free text), reads each
// answer, and closes the dialog when done ("Completed"), when the consumer
// types "skip" ("Skipped") or when the consumer leaves it unfinished for
// SurveyTimeout ("Timeout"); the stage is then CLOSE. So LivePerson's PCS
// tutorial (Multi-Dialog Conversation, steps 9 to 12) and Conversation
// Builder's Post-Conversation Survey Bots page describe it. The bot plays
// like an agent inside the service: what it says is stored and distributed
// as any participant's events.

// surveyCheck is how often (real time) running surveys are checked against
// their deadline on the Now clock.
const surveyCheck = time.Second

// Survey texts [ours]: the bot's words. PCS shows the shape (a greeting,
// then one ContentEvent per question, its answers as quickReplies).
const (
	surveyGreeting = "Hello, I'm the survey bot. I'd like to ask you a few questions about the conversation you just had. Type \"skip\" at any time to skip the survey."
	surveyFallback = "Sorry, I didn't get that. Please choose one of the answers."
	surveyThanks   = "Thank you for your feedback!"
	surveyID       = "chatwindow-survey"
)

// question is one survey question: with replies, a closed question offered
// as quick replies (a reply's title is also the text it publishes); without,
// an open one answered with free text.
type question struct {
	id      string
	text    string
	replies []string
}

// surveyQuestions are the survey's questions, in order: Conversation
// Builder's standard first call resolution and satisfaction questions,
// then an open-ended one.
var surveyQuestions = []question{
	{id: "fcr", text: "Were you able to resolve your inquiry today?", replies: []string{"Yes", "No"}},
	{id: "csat", text: "How would you rate your overall satisfaction with the service you received?", replies: []string{"1", "2", "3", "4", "5"}},
	{id: "comment", text: "Is there anything else you would like to tell us?"},
}

// replyID is the id of a question's reply i in the click's Answer metadata.
func (q question) replyID(i int) string { return q.id + "-" + strconv.Itoa(i+1) }

// surveyBot is the bot as a participant (role AGENT of the survey dialog).
type surveyBot struct{ pid, oldID string }

// surveyRuns is the service's running surveys and the timer that times
// them out; guarded by Service.mu.
type surveyRuns struct {
	bot     *surveyBot // made with the first survey
	running map[*dialog]struct{}
	timer   *time.Timer // armed while a survey runs
}

// stop stops the timeout timer (Service.Close).
func (r *surveyRuns) stop() {
	if r.timer != nil {
		r.timer.Stop()
	}
}

// survey is one survey dialog's progress.
type survey struct {
	next     int       // the question on offer (its index)
	deadline time.Time // on the Now clock: then it times out
	answers  []string  // one per question answered
}

// botMember is the survey bot as the member who speaks and closes.
func (s *Service) botMember() member {
	if s.surveys.bot == nil {
		s.surveys.bot = &surveyBot{pid: s.cfg.NewID(), oldID: s.cfg.Account + ".survey-bot"}
	}
	return member{role: protocol.RoleAgent, bot: s.surveys.bot}
}

// openSurvey opens cv's POST_SURVEY dialog (fresh id, sequences from 0)
// with the survey bot in it; askSurvey starts it once the change is out.
func (s *Service) openSurvey(cv *conversation, now int64) *dialog {
	bot := s.botMember()
	d := s.newDialog(cv, s.cfg.NewID(), protocol.DialogPostSurvey, now)
	d.survey = &survey{deadline: s.cfg.Now().Add(s.cfg.SurveyTimeout)}
	cv.members = append(cv.members, bot)
	if s.surveys.running == nil {
		s.surveys.running = map[*dialog]struct{}{}
	}
	s.surveys.running[d] = struct{}{}
	s.armSurveys()
	return d
}

// askSurvey has the bot greet and ask the first question.
func (s *Service) askSurvey(d *dialog) {
	s.botSays(d, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: surveyGreeting}, nil)
	s.ask(d)
}

// ask has the bot ask the question on offer: its text, its replies as
// quick replies, and the Question metadata PCS step 10 shows.
func (s *Service) ask(d *dialog) {
	q := surveyQuestions[d.survey.next]
	ev := protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: q.text}
	meta := questionMeta{Type: "Question", ID: q.id, SurveyID: surveyID}
	if len(q.replies) > 0 {
		qr := quickReplies{Type: "quickReplies", ItemsPerRow: 8}
		for i, title := range q.replies {
			meta.Replies = append(meta.Replies, q.replyID(i))
			qr.Replies = append(qr.Replies, replyButton{
				Type: "button", Title: title, Tooltip: title,
				Click: replyClick{
					Metadata: []answerMeta{{Type: "Answer", QuestionID: q.id, ID: q.replyID(i)}},
					Actions:  []replyAction{{Type: "publishText", Text: title}},
				},
			})
		}
		ev.QuickReplies = mustJSON(qr)
	}
	s.botSays(d, ev, mustJSON([]questionMeta{meta}))
}

// surveyHears is the bot's turn after the consumer published e in the
// survey dialog d: a text is read (READ, as PCS step 12 shows) and taken as
// the answer to the question on offer; receipts and chat states need no
// answer.
func (s *Service) surveyHears(d *dialog, e *storedEvent) {
	run := d.survey
	if d.state != protocol.StateOpen || !e.from.isConsumer() || e.seq == nil || e.event.Type != protocol.EventContent {
		return
	}
	s.botSays(d, protocol.Event{Type: protocol.EventAcceptStatus, Status: protocol.StatusRead, SequenceList: protocol.Seqs{*e.seq}}, nil)
	text := strings.TrimSpace(e.event.Message)
	if strings.EqualFold(text, "skip") {
		s.endSurvey(d, "Skipped")
		return
	}
	q := surveyQuestions[run.next]
	if len(q.replies) > 0 {
		i, ok := q.answer(text, e.metadata)
		if !ok {
			s.botSays(d, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: surveyFallback}, nil)
			s.ask(d)
			return
		}
		text = q.replies[i]
	}
	run.answers = append(run.answers, text)
	run.next++
	if run.next < len(surveyQuestions) {
		s.ask(d)
		return
	}
	s.botSays(d, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: surveyThanks}, nil)
	s.endSurvey(d, "Completed")
}

// answer finds which reply of q an answer is: by the click's Answer
// metadata, else by its text (a reply's title, in any case: Conversation
// Builder takes a typed "yes" for "Yes").
func (q question) answer(text string, metadata json.RawMessage) (int, bool) {
	var meta []answerMeta
	if json.Unmarshal(metadata, &meta) == nil {
		for _, m := range meta {
			for i := range q.replies {
				if m.Type == "Answer" && m.QuestionID == q.id && m.ID == q.replyID(i) {
					return i, true
				}
			}
		}
	}
	for i, r := range q.replies {
		if strings.EqualFold(text, r) {
			return i, true
		}
	}
	return 0, false
}

// botSays stores and distributes an event of the survey bot.
func (s *Service) botSays(d *dialog, ev protocol.Event, metadata json.RawMessage) {
	s.distribute(s.record(d, s.botMember(), ev, metadata))
}

// endSurvey has the bot close the survey dialog with cause, which closes
// the conversation.
func (s *Service) endSurvey(d *dialog, cause string) {
	delete(s.surveys.running, d)
	s.log.Info("survey ended", "conversation_id", d.conv.id, "cause", cause, "answers", d.survey.answers)
	s.closeDialog(d, s.botMember(), cause)
}

// surveyDue times the survey of d out if its deadline has passed; publish
// checks it first, so that a late answer finds the dialog closed.
func (s *Service) surveyDue(d *dialog) {
	if d.survey == nil || d.state != protocol.StateOpen || s.cfg.Now().Before(d.survey.deadline) {
		return
	}
	s.endSurvey(d, "Timeout")
}

// armSurveys arms the timeout check while surveys run.
func (s *Service) armSurveys() {
	if s.surveys.timer != nil || s.closed || len(s.surveys.running) == 0 {
		return
	}
	// The timer's goroutine runs sweepSurveys and ends; Close stops it.
	s.surveys.timer = time.AfterFunc(surveyCheck, s.sweepSurveys)
}

// sweepSurveys times out every survey past its deadline and forgets those
// that closed otherwise.
func (s *Service) sweepSurveys() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.surveys.timer = nil
	if s.closed {
		return
	}
	for d := range s.surveys.running {
		if d.state != protocol.StateOpen {
			delete(s.surveys.running, d)
			continue
		}
		s.surveyDue(d)
	}
	s.armSurveys()
}

// dialogMembers are the participants a dialog lists (PCS step 9): MAIN
// has the conversation's members but the survey bot; the survey dialog
// the consumer, the bot, and every agent as a READER.
func dialogMembers(cv *conversation, d *dialog) []member {
	out := make([]member, 0, len(cv.members))
	for _, m := range cv.members {
		switch {
		case d.survey == nil && m.bot != nil:
		case d.survey != nil && m.agent != nil:
			out = append(out, member{role: protocol.RoleReader, agent: m.agent})
		default:
			out = append(out, m)
		}
	}
	return out
}

// The survey's wire shapes (PCS step 10).
type (
	quickReplies struct {
		Type        string        `json:"type"`
		ItemsPerRow int           `json:"itemsPerRow"`
		Replies     []replyButton `json:"replies"`
	}
	replyButton struct {
		Type    string     `json:"type"`
		Title   string     `json:"title"`
		Tooltip string     `json:"tooltip"`
		Click   replyClick `json:"click"`
	}
	replyClick struct {
		Metadata []answerMeta  `json:"metadata"`
		Actions  []replyAction `json:"actions"`
	}
	replyAction struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	answerMeta struct {
		Type       string `json:"type"`
		QuestionID string `json:"questionId"`
		ID         string `json:"id"`
	}
	questionMeta struct {
		Type     string   `json:"type"`
		ID       string   `json:"id"`
		SurveyID string   `json:"surveyId"`
		Replies  []string `json:"replies,omitempty"`
	}
)

// mustJSON encodes what this file builds (plain structs: it cannot fail).
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("simulator: survey JSON: " + err.Error())
	}
	return b
}
