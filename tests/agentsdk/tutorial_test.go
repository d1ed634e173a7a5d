package agentsdk_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The consumer of this file knows nothing of the project's code: only the
// documented HTTP calls and frames, sent as text, as LivePerson's tutorial
// does with curl and wscat.

// connectRaw does the tutorial's first steps: look the hosts up, sign up,
// open the consumer socket with the token in the Authorization header. It
// returns the socket and the consumer's id.
func connectRaw(ctx context.Context, t *testing.T, e *env) (*rawConsumer, string) {
	t.Helper()
	// Step 1: the domain API gives the hosts.
	var domains struct {
		BaseURIs []struct {
			Service string `json:"service"`
			BaseURI string `json:"baseURI"`
		} `json:"baseURIs"`
	}
	httpJSON(ctx, t, e.client, http.MethodGet, e.base+"/api/account/"+account+"/service/baseURI.json?version=1.0", nil, &domains)
	hosts := map[string]string{}
	for _, d := range domains.BaseURIs {
		hosts[d.Service] = d.BaseURI
	}
	for _, svc := range []string{"asyncMessagingEnt", "idp", "agentVep"} {
		if h := hosts[svc]; h == "" || strings.Contains(h, "/") {
			t.Fatalf("domain API: %s = %q, want a bare host:port (got %+v)", svc, h, domains)
		}
	}

	// Step 2: an unauthenticated consumer signs up.
	var signup struct {
		JWT string `json:"jwt"`
	}
	httpJSON(ctx, t, e.client, http.MethodPost, "https://"+hosts["idp"]+"/api/account/"+account+"/signup", nil, &signup)

	// Step 3: open the socket with the token in the Authorization header.
	c := dialRaw(ctx, t, e, "wss://"+hosts["asyncMessagingEnt"]+"/ws_api/account/"+account+"/messaging/consumer?v=3", signup.JWT)
	return c, jwtSub(t, signup.JWT)
}

// requestConversation is the tutorial's frame: a numeric id, no body.
func (c *rawConsumer) requestConversation(ctx context.Context, t *testing.T) string {
	t.Helper()
	resp := c.request(ctx, t, `{"kind":"req","id":1,"type":"cm.ConsumerRequestConversation"}`, "1")
	var created struct {
		ConversationID string `json:"conversationId"`
	}
	decode(t, resp.Body, &created)
	if created.ConversationID == "" {
		t.Fatalf("cm.ConsumerRequestConversation answered no conversationId: %s", resp.raw)
	}
	return created.ConversationID
}

// tutorial runs the consumer tutorial frame by frame against the service,
// with the SDK bot as the agent.
func tutorial(ctx context.Context, t *testing.T, e *env) {
	c, consumerID := connectRaw(ctx, t, e)

	// Step 4: request a conversation.
	conv := c.requestConversation(ctx, t)

	// The agent's side: the bot is rung and accepts.
	if _, err := waitBot(ctx, e.bot, "the bot to be rung", func(l botLine) bool {
		return l.Step == "ring" && l.ConversationID == conv
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := waitBot(ctx, e.bot, "the bot to accept", func(l botLine) bool {
		return l.Step == "accepted" && l.ConversationID == conv
	}); err != nil {
		t.Fatal(err)
	}

	// Step 5: subscribe to the conversation's metadata; the agent shows up
	// as ASSIGNED_AGENT, with the id the SDK knows itself by.
	c.request(ctx, t, `{"kind":"req","id":"2","type":"cqm.SubscribeExConversations","body":{"convState":["OPEN"]}}`, "2")
	if _, err := c.frames.wait(ctx, "the agent assigned in cqm.ExConversationChangeNotification", func(f rawFrame) (bool, error) {
		if f.Type != "cqm.ExConversationChangeNotification" {
			return false, nil
		}
		var n struct {
			Changes flexList[struct {
				Type   string `json:"type"`
				Result struct {
					ConvID              string `json:"convId"`
					ConversationDetails struct {
						Participants flexList[struct {
							ID   string `json:"id"`
							Role string `json:"role"`
						}] `json:"participants"`
					} `json:"conversationDetails"`
				} `json:"result"`
			}] `json:"changes"`
		}
		if json.Unmarshal(f.Body, &n) != nil {
			return false, fmt.Errorf("undecodable notification: %s", f.raw)
		}
		for _, ch := range n.Changes {
			if ch.Type != "UPSERT" || ch.Result.ConvID != conv {
				continue
			}
			for _, p := range ch.Result.ConversationDetails.Participants {
				if p.Role == "ASSIGNED_AGENT" && p.ID == e.agentID {
					return true, nil
				}
			}
		}
		return false, nil
	}); err != nil {
		t.Fatal(err)
	}

	// Step 6: subscribe to the dialog's events from the start.
	c.request(ctx, t, fmt.Sprintf(`{"kind":"req","id":"3","type":"ms.SubscribeMessagingEvents","body":{"dialogId":%q,"conversationId":%q,"fromSeq":0}}`, conv, conv), "3")

	// Step 7: say hello.
	resp := c.request(ctx, t, fmt.Sprintf(`{"kind":"req","id":"4","type":"ms.PublishEvent","body":{"dialogId":%q,"conversationId":%q,"event":{"type":"ContentEvent","contentType":"text/plain","message":"hello"}}}`, conv, conv), "4")
	hello := publishedSeq(t, resp)
	waitBotSawMessage(ctx, t, e, conv, hello, "hello", consumerID)

	// The agent's answers arrive: its ACCEPT and READ of hello, and the echo.
	for _, status := range []string{"ACCEPT", "READ"} {
		ev := c.waitEvent(ctx, t, "the agent's "+status+" of hello", func(ev rawEvent) bool {
			return ev.Event.Type == "AcceptStatusEvent" && ev.Event.Status == status && contains(ev.Event.SequenceList, hello) && ev.OriginatorID != consumerID
		})
		checkAgentOriginator(t, e, ev)
	}
	echo := c.waitEvent(ctx, t, `the agent's "echo: hello"`, func(ev rawEvent) bool {
		return ev.Event.Type == "ContentEvent" && ev.Event.Message == "echo: hello" && ev.OriginatorID != consumerID
	})
	checkAgentOriginator(t, e, echo)
	if echo.Sequence == nil {
		t.Fatalf("the echo has no sequence: %s", echo.raw)
	}
	echoSeq := *echo.Sequence

	// Step 8: the consumer's receipts for the echo reach the bot, from the consumer.
	for i, status := range []string{"ACCEPT", "READ"} {
		id := fmt.Sprint(5 + i)
		c.request(ctx, t, fmt.Sprintf(`{"kind":"req","id":%q,"type":"ms.PublishEvent","body":{"dialogId":%q,"conversationId":%q,"event":{"type":"AcceptStatusEvent","status":%q,"sequenceList":[%d]}}}`, id, conv, conv, status, echoSeq), id)
		waitBotReceipt(ctx, t, e, conv, status, echoSeq, consumerID)
	}

	// Step 9: close the conversation; the bot sees it closed.
	c.request(ctx, t, fmt.Sprintf(`{"kind":"req","id":7,"type":"cm.UpdateConversationField","body":{"conversationId":%q,"conversationField":[{"field":"ConversationStateField","conversationState":"CLOSE"}]}}`, conv), "7")
	if _, err := waitBot(ctx, e.bot, "the bot to see the conversation closed", func(l botLine) bool {
		return l.Step == "conversation-closed" && l.ConversationID == conv
	}); err != nil {
		t.Fatal(err)
	}
}

// consumerFirst: the consumer writes before any agent is online; the bot
// that comes online afterwards is rung for the waiting conversation and
// can only learn the message from the dialog's history (QueryMessages).
func consumerFirst(ctx context.Context, t *testing.T, e *env) {
	c, consumerID := connectRaw(ctx, t, e)
	conv := c.requestConversation(ctx, t)
	c.request(ctx, t, fmt.Sprintf(`{"kind":"req","id":"2","type":"ms.SubscribeMessagingEvents","body":{"dialogId":%q,"conversationId":%q,"fromSeq":0}}`, conv, conv), "2")
	resp := c.request(ctx, t, fmt.Sprintf(`{"kind":"req","id":"3","type":"ms.PublishEvent","body":{"dialogId":%q,"conversationId":%q,"event":{"type":"ContentEvent","contentType":"text/plain","message":"anyone there?"}}}`, conv, conv), "3")
	first := publishedSeq(t, resp)

	startBot(t, e)
	if _, err := waitBot(ctx, e.bot, "the bot to accept the waiting conversation", func(l botLine) bool {
		return l.Step == "accepted" && l.ConversationID == conv
	}); err != nil {
		t.Fatal(err)
	}
	waitBotSawMessage(ctx, t, e, conv, first, "anyone there?", consumerID)
	echo := c.waitEvent(ctx, t, `the agent's "echo: anyone there?"`, func(ev rawEvent) bool {
		return ev.Event.Type == "ContentEvent" && ev.Event.Message == "echo: anyone there?"
	})
	checkAgentOriginator(t, e, echo)
}

// checkAgentOriginator checks that the consumer socket names the agent by
// its PId, the id the SDK knows itself by (docs/protocol.md, Event
// notification; Agent login).
func checkAgentOriginator(t *testing.T, e *env, ev rawEvent) {
	t.Helper()
	if ev.OriginatorID != e.agentID {
		t.Errorf("agent event originatorId = %q, want the agent's PId %q: %s", ev.OriginatorID, e.agentID, ev.raw)
	}
	if ev.OriginatorMetadata.ID != e.agentID || ev.OriginatorMetadata.Role != "ASSIGNED_AGENT" {
		t.Errorf("agent event originatorMetadata = %+v, want {%s ASSIGNED_AGENT}: %s", ev.OriginatorMetadata, e.agentID, ev.raw)
	}
}

// rawFrame is a frame as received; reqId must be a string (docs/protocol.md,
// Frames), so a number there fails to decode and the frame is reported.
type rawFrame struct {
	Kind  string          `json:"kind"`
	ReqID string          `json:"reqId"`
	Code  int             `json:"code"`
	Type  string          `json:"type"`
	Body  json.RawMessage `json:"body"`
	raw   string
}

// rawEvent is one change of an ms.MessagingEventNotification.
type rawEvent struct {
	Sequence           *int64 `json:"sequence"`
	OriginatorID       string `json:"originatorId"`
	OriginatorMetadata struct {
		ID   string `json:"id"`
		Role string `json:"role"`
	} `json:"originatorMetadata"`
	DialogID string `json:"dialogId"`
	Event    struct {
		Type         string  `json:"type"`
		Message      string  `json:"message"`
		Status       string  `json:"status"`
		SequenceList []int64 `json:"sequenceList"`
	} `json:"event"`
	raw string
}

// flexList decodes an array or, as docs/protocol.md (Frames) allows, a bare
// element.
type flexList[T any] []T

func (l *flexList[T]) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var s []T
		err := json.Unmarshal(b, &s)
		*l = s
		return err
	}
	if bytes.Equal(b, []byte("null")) {
		*l = nil
		return nil
	}
	var one T
	err := json.Unmarshal(b, &one)
	*l = flexList[T]{one}
	return err
}

// rawConsumer is a consumer socket driven by literal frames.
type rawConsumer struct {
	conn   *websocket.Conn
	frames *feed[rawFrame]
}

func dialRaw(ctx context.Context, t *testing.T, e *env, u, token string) *rawConsumer {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient: e.client,
		HTTPHeader: http.Header{"Authorization": {"jwt " + token}},
	})
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	conn.SetReadLimit(1 << 20)
	c := &rawConsumer{conn: conn, frames: newFeed[rawFrame]()}
	readCtx, stopReading := context.WithCancel(context.Background())
	done := make(chan struct{})
	// The one reader of the socket; ends when the socket closes (cleanup).
	go func() {
		defer close(done)
		for {
			_, data, err := conn.Read(readCtx)
			if err != nil {
				c.frames.close(fmt.Errorf("consumer socket: %w", err))
				return
			}
			var f rawFrame
			if err := json.Unmarshal(data, &f); err != nil {
				f = rawFrame{Kind: "undecodable"}
			}
			f.raw = string(data)
			c.frames.add(f)
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close(websocket.StatusNormalClosure, "test over")
		stopReading()
		<-done
		if t.Failed() {
			for _, f := range c.frames.snapshot() {
				t.Logf("consumer got: %s", f.raw)
			}
		}
	})
	return c
}

// request sends a literal frame and returns the response to reqID, which
// must be a success.
func (c *rawConsumer) request(ctx context.Context, t *testing.T, frame, reqID string) rawFrame {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	err := c.conn.Write(wctx, websocket.MessageText, []byte(frame))
	cancel()
	if err != nil {
		t.Fatalf("send %s: %v", frame, err)
	}
	resp, err := c.frames.wait(ctx, "the response to "+frame, func(f rawFrame) (bool, error) {
		return f.Kind == "resp" && f.ReqID == reqID, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Code != 200 {
		t.Fatalf("%s\nanswered %s", frame, resp.raw)
	}
	return resp
}

// waitEvent waits for a messaging event that matches.
func (c *rawConsumer) waitEvent(ctx context.Context, t *testing.T, what string, match func(rawEvent) bool) rawEvent {
	t.Helper()
	var found rawEvent
	_, err := c.frames.wait(ctx, what, func(f rawFrame) (bool, error) {
		if f.Type != "ms.MessagingEventNotification" {
			return false, nil
		}
		var n struct {
			Changes flexList[json.RawMessage] `json:"changes"`
		}
		if json.Unmarshal(f.Body, &n) != nil {
			return false, fmt.Errorf("undecodable notification: %s", f.raw)
		}
		for _, raw := range n.Changes {
			var ev rawEvent
			if json.Unmarshal(raw, &ev) != nil {
				return false, fmt.Errorf("undecodable event: %s", raw)
			}
			ev.raw = string(raw)
			if match(ev) {
				found = ev
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func publishedSeq(t *testing.T, resp rawFrame) int64 {
	t.Helper()
	var p struct {
		Sequence *int64 `json:"sequence"`
	}
	decode(t, resp.Body, &p)
	if p.Sequence == nil {
		t.Fatalf("ms.PublishEvent answered no sequence: %s", resp.raw)
	}
	return *p.Sequence
}

func decode(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
}

// httpJSON makes one HTTP call and decodes a 200 JSON answer into out.
func httpJSON(ctx context.Context, t *testing.T, client *http.Client, method, u string, body io.Reader, out any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read: %v", method, u, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s: %s", method, u, resp.Status, b)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s %s: decode %s: %v", method, u, b, err)
	}
}

// decodeSegment decodes a JWT segment (base64url, padding optional).
func decodeSegment(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
