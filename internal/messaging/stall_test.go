package messaging_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

// TestConsumerDetectsStall: the network between the consumer and the
// service goes silent (bytes held both ways, the connection open, no error
// anywhere). The consumer's ping finds it within PingInterval +
// RequestTimeout, the session reconnects once the network flows again, and
// the events published meanwhile arrive exactly once (catch-up).
//
// With the production settings (cmd/chatwindow: PingInterval 20 s,
// RequestTimeout 10 s) the same bound is 30 s, inside the 35 s bound of
// docs/reliability.md ("Stalls and storms"); here both are 300 ms so that the
// test is short.
func TestConsumerDetectsStall(t *testing.T) {
	const (
		pingInterval   = 300 * time.Millisecond
		requestTimeout = 300 * time.Millisecond
		// bound is what the keep-alive promises; slack absorbs a loaded
		// machine (-race on 2 cores). Not a speed assertion: a consumer
		// that never pinged would wait forever.
		bound = pingInterval + requestTimeout
		slack = 2 * time.Second
	)
	e := newEnv(t)
	ep, proxy := viaProxy(t, e)
	// The conversation is requested on a second socket of the same
	// consumer with the default timeouts: RequestConversation is not
	// idempotent, so it cannot be retried if a loaded machine is late for
	// the short timeout below.
	token := e.signup()
	owner, _, _ := newConsumer(t, e, e.ep, false, messaging.StaticToken(token))
	convID, err := owner.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{})
	if err != nil {
		t.Fatal(err)
	}
	consumer, err := messaging.NewConsumer(messaging.ConsumerConfig{
		Endpoints: ep, Token: messaging.StaticToken(token),
		HTTPClient:     e.srv.Client(),
		PingInterval:   pingInterval,
		RequestTimeout: requestTimeout,
		SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
	})
	if err != nil {
		t.Fatal(err)
	}
	col := testenv.Collect(consumer.Updates())
	testenv.Start(t, consumer.Run)
	col.WaitFor(t, "consumer open", testenv.IsOpen)
	// Follow is idempotent: retried if a request misses the short timeout.
	retry(t, "follow", func() error { return consumer.Follow(t.Context(), convID, convID, 0) })
	agent, acol, _ := newAgent(t, e, e.ep)
	acceptRing(t, agent, acol, convID)
	publish := func(text string) {
		t.Helper()
		if _, err := agent.Publish(t.Context(), convID, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text}); err != nil {
			t.Fatal(err)
		}
	}
	publish("before the stall")
	col.WaitFor(t, "the first message", func(ups []messaging.Update) bool { return hasText(ups, convID, "before the stall") })
	// A few pings answered: the keep-alive works on a healthy network.
	time.Sleep(3 * pingInterval)
	if !testenv.IsOpen(col.Snapshot()) {
		t.Fatalf("socket lost on a healthy network: %s", testenv.Describe(col.Snapshot()))
	}

	before := len(col.Snapshot())
	start := time.Now()
	proxy.Stall()
	ups := col.WaitFor(t, "the stall detected", func(ups []messaging.Update) bool { return lostAfter(ups, before) != nil })
	detected := time.Since(start)
	lost := lostAfter(ups, before)
	t.Logf("stall detected after %s (bound %s = PingInterval %s + RequestTimeout %s): %v", detected.Round(time.Millisecond), bound, pingInterval, requestTimeout, lost.Err)
	if detected > bound+slack {
		t.Errorf("stall detected after %s, want within %s (+%s slack)", detected, bound, slack)
	}
	if lost.Err == nil || !strings.Contains(lost.Err.Error(), "ping") {
		t.Errorf("socket lost with %v, want the ping's failure", lost.Err)
	}

	// The agent goes on writing while the consumer's network is silent.
	const during = 5
	for i := range during {
		publish(fmt.Sprintf("during the stall %d", i))
	}
	time.Sleep(2 * requestTimeout) // a reconnect attempt or two, held too
	if got := len(testenv.Events(col.Snapshot(), convID)); got != 1 {
		t.Errorf("%d events arrived through a stalled network, want only the first", got)
	}
	proxy.Unstall()
	col.WaitFor(t, "reopened", func(ups []messaging.Update) bool { return testenv.Opens(ups) >= 2 && testenv.IsOpen(ups) })
	ups = col.WaitFor(t, "every event", func(ups []messaging.Update) bool {
		return len(testenv.Events(ups, convID)) >= 1+during
	})
	if diff := cmp.Diff(summary(e.svc.DialogEvents(convID)), summary(testenv.Events(ups, convID))); diff != "" {
		t.Errorf("consumer's events vs the store, each exactly once (-want +got):\n%s", diff)
	}
}

// lostAfter returns the first Reconnecting state change after index i.
func lostAfter(ups []messaging.Update, i int) *messaging.StateChange {
	for _, u := range ups[i:] {
		if s, ok := u.(messaging.StateChange); ok && s.State == messaging.StateReconnecting {
			return &s
		}
	}
	return nil
}

func hasText(ups []messaging.Update, dialogID, text string) bool {
	for _, ev := range testenv.Events(ups, dialogID) {
		if ev.Event.Message == text {
			return true
		}
	}
	return false
}

// retry runs f until it succeeds, for requests made with short timeouts.
func retry(t *testing.T, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
