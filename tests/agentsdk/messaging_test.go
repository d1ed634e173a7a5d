package agentsdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"testing"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// viaClient plays the consumer with the project's own messaging client
// (discovery, signup, header auth, subscriptions, publish), against the
// same service and the same SDK bot as the tutorial.
func viaClient(ctx context.Context, t *testing.T, e *env) {
	ep, err := messaging.Discover(ctx, e.client, e.base, account, messaging.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if ep.Scheme != "https" {
		t.Fatalf("discovered scheme %q, want https", ep.Scheme)
	}

	var logs lockedBuffer
	consumer, err := messaging.NewConsumer(messaging.ConsumerConfig{
		Endpoints:      ep,
		Token:          messaging.SignupToken(e.client, ep),
		HTTPClient:     e.client,
		SessionOptions: messaging.SessionOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))},
	})
	if err != nil {
		t.Fatal(err)
	}
	updates := newFeed[messaging.Update]()
	runCtx, stop := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	// Run ends when runCtx does (cleanup below).
	go func() { runDone <- consumer.Run(runCtx) }()
	drained := make(chan struct{})
	// Ends when Run has returned and closed Updates.
	go func() {
		defer close(drained)
		for u := range consumer.Updates() {
			updates.add(u)
		}
		updates.close(errors.New("consumer updates closed"))
	}()
	t.Cleanup(func() {
		stop()
		if err := <-runDone; err != nil {
			t.Errorf("consumer Run: %v", err)
		}
		<-drained
		if t.Failed() {
			for _, u := range updates.snapshot() {
				b, _ := json.Marshal(u)
				t.Logf("consumer update %T: %s", u, b)
			}
			t.Logf("consumer log:\n%s", logs.String())
		}
	})

	if _, err := updates.wait(ctx, "the consumer open", func(u messaging.Update) (bool, error) {
		s, ok := u.(messaging.StateChange)
		if ok && s.State == messaging.StateOffline {
			return false, fmt.Errorf("consumer offline: %v", s.Err)
		}
		return ok && s.State == messaging.StateOpen, nil
	}); err != nil {
		t.Fatal(err)
	}
	consumerID, err := messaging.Subject(consumer.Token())
	if err != nil {
		t.Fatal(err)
	}

	if err := consumer.SubscribeConversations(ctx, protocol.SubscribeExConversations{ConvState: protocol.Strings{protocol.StateOpen}}); err != nil {
		t.Fatal(err)
	}
	conv, err := consumer.RequestConversation(ctx, protocol.ConsumerRequestConversation{})
	if err != nil {
		t.Fatal(err)
	}
	if err := consumer.Follow(ctx, conv, conv, 0); err != nil {
		t.Fatal(err)
	}

	// The bot is rung, accepts, and the consumer sees it assigned.
	if _, err := waitBot(ctx, e.bot, "the bot to accept", func(l botLine) bool {
		return l.Step == "accepted" && l.ConversationID == conv
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := updates.wait(ctx, "the agent assigned", func(u messaging.Update) (bool, error) {
		c, ok := u.(messaging.ConversationUpdate)
		if !ok || c.Change.Result.ConvID != conv {
			return false, nil
		}
		for _, p := range c.Change.Result.ConversationDetails.Members() {
			if p.Role == protocol.RoleAssignedAgent && p.ID == e.agentID {
				return true, nil
			}
		}
		return false, nil
	}); err != nil {
		t.Fatal(err)
	}

	hello, err := consumer.Publish(ctx, conv, conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "hello"})
	if err != nil {
		t.Fatal(err)
	}
	waitBotSawMessage(ctx, t, e, conv, hello, "hello", consumerID)

	// The agent's ACCEPT and READ of hello, and its echo.
	waitEvent := func(what string, match func(protocol.MessagingEvent) bool) protocol.MessagingEvent {
		t.Helper()
		u, err := updates.wait(ctx, what, func(u messaging.Update) (bool, error) {
			ev, ok := u.(messaging.EventUpdate)
			return ok && ev.Event.DialogID == conv && ev.Event.Originator() != consumerID && match(ev.Event), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ev := u.(messaging.EventUpdate).Event
		if ev.Originator() != e.agentID {
			t.Errorf("%s came from %q, want the agent's PId %q", what, ev.Originator(), e.agentID)
		}
		return ev
	}
	for _, status := range []string{protocol.StatusAccept, protocol.StatusRead} {
		waitEvent("the agent's "+status+" of hello", func(ev protocol.MessagingEvent) bool {
			return ev.Event.Type == protocol.EventAcceptStatus && ev.Event.Status == status && contains(ev.Event.SequenceList, hello)
		})
	}
	echo := waitEvent(`the agent's "echo: hello"`, func(ev protocol.MessagingEvent) bool {
		return ev.Event.Type == protocol.EventContent && ev.Event.Message == "echo: hello"
	})
	echoSeq, ok := echo.Seq()
	if !ok {
		t.Fatalf("the echo has no sequence: %+v", echo)
	}

	// The consumer's receipts of the echo reach the bot, from the consumer.
	for _, status := range []string{protocol.StatusAccept, protocol.StatusRead} {
		if _, err := consumer.Publish(ctx, conv, conv, protocol.Event{Type: protocol.EventAcceptStatus, Status: status, SequenceList: protocol.Seqs{echoSeq}}); err != nil {
			t.Fatal(err)
		}
		waitBotReceipt(ctx, t, e, conv, status, echoSeq, consumerID)
	}

	if err := consumer.CloseConversation(ctx, conv); err != nil {
		t.Fatal(err)
	}
	if _, err := waitBot(ctx, e.bot, "the bot to see the conversation closed", func(l botLine) bool {
		return l.Step == "conversation-closed" && l.ConversationID == conv
	}); err != nil {
		t.Fatal(err)
	}
}
