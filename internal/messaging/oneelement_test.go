package messaging_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

// goldenFrame reads a captured frame of internal/protocol's golden set.
func goldenFrame(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "protocol", "testdata", "golden", name+".in.json"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestConsumerOneElementArrays: a service that sends every one-element
// array as the element itself (Protocol Overview, "Single Element
// Arrays"): the consumer delivers the conversation and the event as if
// they had come as arrays. The frames are the service's, captured, with
// their one-element arrays collapsed (internal/protocol's golden "one_"
// frames).
func TestConsumerOneElementArrays(t *testing.T) {
	conversation := goldenFrame(t, "one_ex_conversation_change")
	event := goldenFrame(t, "one_messaging_event_notification_receipt")
	srv := scriptServer(t, func(ctx context.Context, _ *http.Request, c *websocket.Conn) {
		for {
			req, err := readReq(ctx, c)
			if err != nil {
				return
			}
			resp, _ := protocol.NewResponse(req.ID, 200, "", nil)
			if writeFrame(ctx, c, resp) != nil {
				return
			}
			var then []byte
			switch protocol.Canonical(req.Type) {
			case protocol.TypeSubscribeExConversations:
				then = conversation
			case protocol.TypeSubscribeMessagingEvents:
				then = event
			}
			if then != nil && c.Write(ctx, websocket.MessageText, then) != nil {
				return
			}
		}
	})
	ep := messaging.Endpoints{Scheme: "http", Account: account, AsyncMessagingEnt: strings.TrimPrefix(srv.URL, "http://")}
	c, err := messaging.NewConsumer(messaging.ConsumerConfig{Endpoints: ep, Token: messaging.StaticToken("t"),
		SessionOptions: messaging.SessionOptions{Backoff: fastBackoff}})
	if err != nil {
		t.Fatal(err)
	}
	col := testenv.Collect(c.Updates())
	testenv.Start(t, c.Run)
	col.WaitFor(t, "open", testenv.IsOpen)

	if err := c.SubscribeConversations(t.Context(), protocol.SubscribeExConversations{}); err != nil {
		t.Fatal(err)
	}
	ups := col.WaitFor(t, "the conversation", func(ups []messaging.Update) bool {
		for _, u := range ups {
			if _, ok := u.(messaging.ConversationUpdate); ok {
				return true
			}
		}
		return false
	})
	var details protocol.ConversationDetails
	for _, u := range ups {
		if cu, ok := u.(messaging.ConversationUpdate); ok {
			details = cu.Change.Result.ConversationDetails
		}
	}
	consumer := protocol.Participant{ID: "id-3", Role: protocol.RoleConsumer}
	if diff := cmp.Diff([]protocol.Participant{consumer}, details.Members()); diff != "" {
		t.Errorf("participants (-want +got):\n%s", diff)
	}
	consumer.State = "ACTIVE"
	if len(details.Dialogs) != 1 || details.Dialogs[0].DialogID != "id-5" ||
		!cmp.Equal(protocol.List[protocol.Participant]{consumer}, details.Dialogs[0].ParticipantsDetails) {
		t.Errorf("dialogs %+v", details.Dialogs)
	}

	if err := c.Follow(t.Context(), "id-5", "id-5", 0); err != nil {
		t.Fatal(err)
	}
	ups = col.WaitFor(t, "the receipt", func(ups []messaging.Update) bool { return len(testenv.Events(ups, "id-5")) == 1 })
	got := testenv.Events(ups, "id-5")[0]
	if got.Event.Type != protocol.EventAcceptStatus || !cmp.Equal(got.Event.SequenceList, protocol.Seqs{0}) {
		t.Errorf("event %+v", got)
	}
}
