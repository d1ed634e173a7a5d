package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/simulator"
)

// withSurvey runs the service with its post-conversation survey.
func withSurvey(s *simulator.Config, _ *relay.Config) {
	if s != nil {
		s.Survey = true
	}
}

// fromConsumer returns the customer's events of a dialog, as the service
// stored them.
func fromConsumer(evs []protocol.MessagingEvent) []protocol.MessagingEvent {
	var out []protocol.MessagingEvent
	for _, e := range evs {
		if e.OriginatorMetadata != nil && e.OriginatorMetadata.Role == protocol.RoleConsumer {
			out = append(out, e)
		}
	}
	return out
}

// TestSurveyInSession: once the agent closes the conversation, the survey
// runs in the same window: its questions are shown, their receipts go to
// the survey dialog, a quick reply and typed answers are published there
// (MAIN's offers are over), the bot's READ ticks them, and when the survey
// ends the window says the conversation ended, with no legacy rating and
// no more sending.
func TestSurveyInSession(t *testing.T) {
	w := newWorld(t, withSurvey)
	id := w.identity(t)
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	tb := runTab(t, rt, true)
	a, ups := w.agent(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	view := func() relay.View { v, _ := w.mgr.View(id.SessionID); return v }
	phase := func(want relay.Phase) func() bool { return func() bool { return view().Phase == want } }
	// question waits for an agent message in another dialog than MAIN
	// whose text starts with prefix, and returns it.
	question := func(conv, prefix string) relay.Message {
		var q relay.Message
		waitUntil(t, "the survey's "+prefix, 10*time.Second, func() bool {
			for _, m := range view().Messages {
				if m.From == relay.FromAgent && m.DialogID != conv && strings.HasPrefix(m.Text, prefix) {
					q = m
					return true
				}
			}
			return false
		})
		return q
	}

	rt.Send("hello")
	conv := acceptFirstRing(t, a, ups)
	offer, err := a.Publish(ctx, conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "Anything else?", QuickReplies: []byte(testReplies)})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "hello sent", 10*time.Second, func() bool { return tb.receipt("hello") == relay.ReceiptSent })
	if err := a.CloseConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the survey", 10*time.Second, phase(relay.PhaseSurvey))
	fcr := question(conv, "Were you able")
	survey := fcr.DialogID
	if !fcr.RepliesOpen || len(fcr.Rich.QuickReplies()) != 2 {
		t.Fatalf("the first question offers no quick replies: %+v", fcr)
	}
	waitUntil(t, "the questions' receipts in the survey dialog", 10*time.Second, func() bool {
		accept, read := map[int64]bool{}, map[int64]bool{}
		for _, e := range fromConsumer(w.svc.DialogEvents(survey)) {
			for _, n := range e.Event.SequenceList {
				accept[n] = accept[n] || e.Event.Status == protocol.StatusAccept
				read[n] = read[n] || e.Event.Status == protocol.StatusRead
			}
		}
		return accept[0] && read[0] && accept[fcr.Seq] && read[fcr.Seq]
	})

	// MAIN's offer is over; the survey's "Yes" is published to the survey
	// dialog: ACTION, then the text. Commands run in order: once "Yes"
	// landed, the refused click would have.
	rt.Action(conv, offer, 0, "")
	rt.Action(survey, fcr.Seq, 0, "Yes")
	waitUntil(t, "Yes in the survey dialog", 10*time.Second, func() bool { return tb.receipt("Yes") == relay.ReceiptRead })
	got := fromConsumer(w.svc.DialogEvents(survey))
	var action, yes bool
	for _, e := range got {
		action = action || (e.Event.Status == protocol.StatusAction && e.Event.SequenceList[0] == fcr.Seq)
		yes = yes || (e.Event.Type == protocol.EventContent && e.Event.Message == "Yes" && strings.Contains(string(e.Metadata), `"fcr-1"`))
	}
	if !action || !yes {
		t.Errorf("the survey dialog lacks the ACTION or the answer with its metadata: %+v", got)
	}
	for _, e := range fromConsumer(w.svc.DialogEvents(conv)) {
		if e.Event.Status == protocol.StatusAction || (e.Event.Type == protocol.EventContent && e.Event.Message != "hello") {
			t.Errorf("published to the closed MAIN dialog: %+v", e)
		}
	}

	question(conv, "How would you rate")
	rt.Typing(protocol.ChatComposing)
	rt.Send("4")
	waitUntil(t, "4 read by the survey bot", 10*time.Second, func() bool { return tb.receipt("4") == relay.ReceiptRead })
	question(conv, "Is there anything else")
	rt.Send("Quick and kind.")
	waitUntil(t, "the survey's end", 10*time.Second, phase(relay.PhaseEnded))
	for _, m := range view().Messages {
		if m.From == relay.FromConsumer && m.DialogID != survey && m.Text != "hello" {
			t.Errorf("a survey answer is not in the survey dialog: %+v", m)
		}
	}

	// Ended: nothing more is sent, no rating is taken; a new conversation
	// may start.
	rt.Send("after the end")
	rt.Rate(relay.Rating{Rate: 5})
	v := view()
	for _, m := range v.Messages {
		if m.Text == "after the end" {
			t.Errorf("a message was taken after the survey ended: %+v", m)
		}
	}
	if v.Phase != relay.PhaseEnded {
		t.Errorf("phase %s after a rating of an ended survey", v.Phase)
	}
	rt.NewConversation()
	waitUntil(t, "a new window", 10*time.Second, phase(relay.PhaseNew))
}

// TestSkipSurvey: the window's close during the survey closes the survey
// dialog (DialogChange, PCS); the conversation ends.
func TestSkipSurvey(t *testing.T) {
	w := newWorld(t, withSurvey)
	id := w.identity(t)
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	runTab(t, rt, false)
	watch, err := w.mgr.Inspect(id)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	a, ups := w.agent(t)
	view := func() relay.View { v, _ := w.mgr.View(id.SessionID); return v }
	rt.Send("hello")
	acceptFirstRing(t, a, ups)
	waitUntil(t, "open", 10*time.Second, func() bool { return view().Phase == relay.PhaseOpen })
	rt.CloseConversation()
	waitUntil(t, "the survey", 10*time.Second, func() bool { return view().Phase == relay.PhaseSurvey })
	var survey string
	waitUntil(t, "the survey's greeting", 10*time.Second, func() bool {
		for _, m := range view().Messages {
			if m.From == relay.FromAgent {
				survey = m.DialogID
				return true
			}
		}
		return false
	})
	rt.CloseConversation()
	waitUntil(t, "the end", 10*time.Second, func() bool { return view().Phase == relay.PhaseEnded })
	frames, _ := watch.Next()
	var closes []string
	for _, f := range frames {
		if f.Out && f.Type == "cm.UpdateConversationField" {
			closes = append(closes, strings.Join(strings.Fields(f.JSON), ""))
		}
	}
	if len(closes) != 2 || !strings.Contains(closes[0], `"ConversationStateField"`) ||
		!strings.Contains(closes[1], `"DialogChange"`) || !strings.Contains(closes[1], `"dialogId":"`+survey+`"`) {
		t.Errorf("the closes sent: %q; want the conversation's, then the survey dialog's", closes)
	}
}

// TestForgetSkipsSurvey: "end it and forget me" closes the whole
// conversation: no survey is left running for a customer who left.
func TestForgetSkipsSurvey(t *testing.T) {
	w := newWorld(t, withSurvey)
	id := w.identity(t)
	rt, err := w.mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	runTab(t, rt, false)
	a, ups := w.agent(t)
	rt.Send("hello, then forget me")
	conv := acceptFirstRing(t, a, ups)
	waitUntil(t, "assigned", 10*time.Second, func() bool { v, _ := w.mgr.View(id.SessionID); return v.AgentName != "" })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := w.mgr.Forget(ctx, id); err != nil {
		t.Fatal(err)
	}
	noOpenConversation(t, w, id.Token)
	if n := len(w.svc.DialogEvents(conv)); n == 0 {
		t.Fatal("no MAIN dialog")
	}
}

// TestRatingAsChosen: the legacy rating sends what the customer chose:
// the rate, whether the question was resolved (or that it was not
// answered: PARTIALLY_FILLED), or that they declined (SKIPPED); a rating
// out of range is not sent.
func TestRatingAsChosen(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name   string
		rating relay.Rating
		want   string // the CSATRate field as sent, spaces removed
		phase  relay.Phase
	}{
		{"rated and resolved", relay.Rating{Rate: 4, Resolved: &yes}, `{"field":"CSATRate","csatRate":4,"csatResolutionConfirmation":true,"status":"FILLED"}`, relay.PhaseRated},
		{"rated, not resolved", relay.Rating{Rate: 2, Resolved: &no}, `{"field":"CSATRate","csatRate":2,"csatResolutionConfirmation":false,"status":"FILLED"}`, relay.PhaseRated},
		{"rated only", relay.Rating{Rate: 5}, `{"field":"CSATRate","csatRate":5,"csatResolutionConfirmation":false,"status":"PARTIALLY_FILLED"}`, relay.PhaseRated},
		{"declined", relay.Rating{Skipped: true}, `{"field":"CSATRate","csatResolutionConfirmation":false,"status":"SKIPPED"}`, relay.PhaseRated},
		{"out of range", relay.Rating{Rate: 9}, "", relay.PhaseClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			id := w.identity(t)
			rt, err := w.mgr.Attach(id)
			if err != nil {
				t.Fatal(err)
			}
			tb := runTab(t, rt, false)
			watch, err := w.mgr.Inspect(id)
			if err != nil {
				t.Fatal(err)
			}
			defer watch.Close()
			view := func() relay.View { v, _ := w.mgr.View(id.SessionID); return v }
			rt.Send("hello")
			waitUntil(t, "sent", 10*time.Second, func() bool { return tb.receipt("hello") == relay.ReceiptSent })
			rt.CloseConversation()
			waitUntil(t, "closed", 10*time.Second, func() bool { return view().Phase == relay.PhaseClosed })
			rt.Rate(tt.rating)
			// The session answers View after Rate: a refused rating has
			// been refused by then.
			waitUntil(t, "the rating's outcome", 10*time.Second, func() bool { return view().Phase == tt.phase })
			if got := view(); got.Phase != tt.phase || (tt.want != "" && got.Rating != tt.rating.Rate) {
				t.Errorf("phase %s rating %d", got.Phase, got.Rating)
			}
			frames, _ := watch.Next()
			var sent []string
			for _, f := range frames {
				if j := strings.Join(strings.Fields(f.JSON), ""); f.Out && strings.Contains(j, `"CSATRate"`) {
					sent = append(sent, j)
				}
			}
			if tt.want == "" && len(sent) > 0 || tt.want != "" && (len(sent) != 1 || !strings.Contains(sent[0], tt.want)) {
				t.Errorf("ratings sent: %q, want %s", sent, tt.want)
			}
		})
	}
}
