package simulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

func TestDomainAPI(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, path string
		code       int
	}{
		{"ok", "/api/account/123/service/baseURI.json?version=1.0", 200},
		{"no version", "/api/account/123/service/baseURI.json", 400},
		{"unknown account", "/api/account/999/service/baseURI.json?version=1.0", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(e.url(tt.path))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.code {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.code)
			}
			if tt.code != 200 {
				return
			}
			var b protocol.BaseURIs
			if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
				t.Fatal(err)
			}
			host := strings.TrimPrefix(e.srv.URL, "http://")
			// facadeMsg: node-agent-sdk 1.4 dials its agent socket there;
			// swift: the file storage.
			for _, svc := range []string{"asyncMessagingEnt", "facadeMsg", "idp", "agentVep", "swift"} {
				if got, ok := b.Lookup(svc); !ok || got != host {
					t.Errorf("%s = %q, want %q", svc, got, host)
				}
			}
			if len(b.BaseURIs) != 5 {
				t.Errorf("%d services listed, want 5: %+v", len(b.BaseURIs), b.BaseURIs)
			}
		})
	}
}

func TestAgentLoginAndRefresh(t *testing.T) {
	e := newEnv(t)
	var bad protocol.HTTPError
	if code := e.post("/api/account/123/login?v=1.3", protocol.LoginRequest{Username: "alice", Password: "nope"}, &bad); code != 401 || bad.Error == "" {
		t.Fatalf("wrong password: %d %+v", code, bad)
	}
	l := e.login("alice", "pw-a")
	info := e.svc.Agents()[0]
	if l.Config.UserID != info.UserID || l.Config.UserPID != info.PID || info.OldID != "123."+info.UserID || l.Bearer == "" || l.CSRF == "" {
		t.Fatalf("login %+v, agents %+v", l, info)
	}
	if code := e.post("/api/account/123/refresh?v=1.3", protocol.RefreshRequest{CSRF: l.CSRF}, nil); code != 200 {
		t.Errorf("refresh: %d", code)
	}
	if code := e.post("/api/account/123/refresh?v=1.3", protocol.RefreshRequest{CSRF: "gone"}, nil); code != 401 {
		t.Errorf("refresh unknown csrf: %d", code)
	}
	_, resp, err := e.tryDial("/ws_api/account/123/messaging/brand/not-a-bearer?v=2.1", nil)
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("bad bearer: err %v resp %v", err, resp)
	}
}

func TestConsumerHandshakeAuth(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.TokenTTL = time.Hour })
	other := newEnv(t, func(c *Config) { c.Account = "999" })
	var foreign protocol.SignupResponse
	other.post("/api/account/999/signup", nil, &foreign)
	good := e.signup()
	expired := e.signup()
	tests := []struct {
		name, header string
		advance      time.Duration
		code         int
	}{
		{"valid", "jwt " + good, 0, 101},
		{"bearer spelling", "Bearer " + good, 0, 101},
		{"garbage", "jwt abc.def.ghi", 0, 401},
		{"tampered", "jwt " + good[:len(good)-4] + "AAAA", 0, 401},
		{"other account", "jwt " + foreign.JWT, 0, 401},
		{"wrong scheme", "Basic " + good, 0, 401},
		{"expired", "jwt " + expired, 2 * time.Hour, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.clock.Advance(tt.advance)
			defer e.clock.Advance(-tt.advance)
			h := http.Header{}
			h.Set("Authorization", tt.header)
			c, resp, err := e.tryDial("/ws_api/account/123/messaging/consumer?v=3", h)
			if tt.code == 101 {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				c.ok("GetClock", nil)
				return
			}
			if err == nil || resp == nil || resp.StatusCode != tt.code {
				t.Fatalf("want HTTP %d, got err %v resp %v", tt.code, err, resp)
			}
		})
	}
}

func TestInitConnection(t *testing.T) {
	const path = "/ws_api/account/123/messaging/consumer?v=3"
	init := func(jwt string) string {
		return `{"kind":"req","id":"0","type":"InitConnection","headers":[` +
			`{"type":".ams.headers.ClientProperties","deviceFamily":"DESKTOP","os":"LINUX","features":["RICH_CONTENT"]},` +
			`{"type":".ams.headers.ConsumerAuthentication","jwt":"` + jwt + `"}]}`
	}

	t.Run("ok", func(t *testing.T) {
		e := newEnv(t)
		c := e.dial(path, nil)
		c.sendRaw(init(e.signup()))
		r := c.resp("0")
		if r.Code != 200 || r.Type != ".ReqBody$StringResp" || r.BodyString() != "OK" {
			t.Fatalf("InitConnection: %+v %s", r, r.Body)
		}
		c.openConversation()
	})
	t.Run("bad token", func(t *testing.T) {
		e := newEnv(t)
		c := e.dial(path, nil)
		c.sendRaw(init("abc.def.ghi"))
		if r := c.resp("0"); r.Code != 401 {
			t.Fatalf("got %d", r.Code)
		}
		if got := c.closeStatus(); got != protocol.CloseTokenInvalid {
			t.Fatalf("close %d, want 4401", got)
		}
	})
	t.Run("request first", func(t *testing.T) {
		e := newEnv(t)
		c := e.dial(path, nil)
		c.wantCode(401, "cm.ConsumerRequestConversation", nil)
		c.sendRaw(init(e.signup()))
		if r := c.resp("0"); r.Code != 200 {
			t.Fatalf("InitConnection after refusal: %d", r.Code)
		}
		c.ok("GetClock", nil)
	})
	t.Run("too late", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.InitTimeout = 100 * time.Millisecond })
		c := e.dial(path, nil)
		if got := c.closeStatus(); got != protocol.CloseTokenInvalid {
			t.Fatalf("close %d, want 4401", got)
		}
	})
}

// TestBadFrames: malformed or refused frames get a 400 (or 413) response
// carrying the request id when one could be read, and the socket stays open.
func TestBadFrames(t *testing.T) {
	e := newEnv(t)
	c := e.consumer(e.signup())
	conv := c.openConversation()
	big := strings.Repeat("x", maxTextBytes+1)
	tests := []struct {
		name, frame, reqID string
		code               int
	}{
		{"not json", `{"kind":"req","id":"m1",`, "m1", 400},
		{"salvaged id", `{"kind":"req","id":"m2","type":"GetClock","body":}`, "m2", 400},
		{"no id to salvage", `[1,2`, "", 400},
		{"no kind", `{"id":"m3","type":"GetClock"}`, "m3", 400},
		{"no type", `{"kind":"req","id":"m4"}`, "m4", 400},
		{"no id", `{"kind":"req","type":"GetClock"}`, "", 400},
		{"unknown type", `{"kind":"req","id":"m5","type":"ms.Nonsense"}`, "m5", 400},
		{"agent type on consumer socket", `{"kind":"req","id":"m6","type":".ams.aam.SubscribeExConversations","body":{}}`, "m6", 400},
		{"bad body", `{"kind":"req","id":"m7","type":"ms.PublishEvent","body":{"dialogId":7}}`, "m7", 400},
		{"unknown event", `{"kind":"req","id":"m8","type":"ms.PublishEvent","body":{"dialogId":"` + conv + `","event":{"type":"Nope"}}}`, "m8", 400},
		{"unknown chat state", `{"kind":"req","id":"m9","type":"ms.PublishEvent","body":{"dialogId":"` + conv + `","event":{"type":"ChatStateEvent","chatState":"DANCING"}}}`, "m9", 400},
		{"text over 8 KiB", `{"kind":"req","id":"m10","type":"ms.PublishEvent","body":{"dialogId":"` + conv + `","event":{"type":"ContentEvent","message":"` + big + `"}}}`, "m10", 413},
		{"receipt of unknown sequence", `{"kind":"req","id":"m11","type":"ms.PublishEvent","body":{"dialogId":"` + conv + `","event":{"type":"AcceptStatusEvent","status":"READ","sequenceList":[5]}}}`, "m11", 400},
		{"not a request", `{"kind":"resp","reqId":"x","code":200}`, "", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.sendRaw(tt.frame)
			r := c.take("error response", func(f protocol.Frame) bool { return f.Kind == protocol.KindResp && f.Code >= 400 })
			if r.Code != tt.code || string(r.ReqID) != tt.reqID || r.BodyString() == "" {
				t.Fatalf("got %d reqId %q %s, want %d reqId %q", r.Code, r.ReqID, r.Body, tt.code, tt.reqID)
			}
			c.ok("GetClock", nil) // still open
		})
	}
	// The salvaged id: ParseFrame reads the id of a frame that is not JSON
	// only when the id itself could be read.
	c.sendRaw(`{"kind":"req","id":"m12","type":"GetClock","body":{]}`)
	r := c.take("error response", func(f protocol.Frame) bool { return f.Kind == protocol.KindResp && f.Code >= 400 })
	if r.Code != 400 {
		t.Fatalf("got %d", r.Code)
	}
}

func TestSequenceListLimit(t *testing.T) {
	e := newEnv(t)
	c := e.consumer(e.signup())
	conv := c.openConversation()
	c.ok("ms.PublishEvent", text(conv, "one"))
	seqs := make([]int64, maxSequenceList+1)
	c.wantCode(400, "ms.PublishEvent", receipt(conv, "READ", seqs...))
	c.ok("ms.PublishEvent", receipt(conv, "READ", seqs[:maxSequenceList]...))
}

func TestOversizedFrameCloses1009(t *testing.T) {
	e := newEnv(t)
	c := e.consumer(e.signup())
	c.sendRaw(`{"kind":"req","id":"1","type":"GetClock","body":"` + strings.Repeat("x", maxFrameBytes) + `"}`)
	if got := c.closeStatus(); got != websocket.StatusMessageTooBig {
		t.Fatalf("close %d, want 1009", got)
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RateLimit = 1; c.RateBurst = 5 })
	c := e.consumer(e.signup())
	var ids []string
	for range 10 {
		ids = append(ids, c.send("GetClock", nil))
	}
	codes := map[int]int{}
	for _, id := range ids {
		r := c.resp(id)
		codes[r.Code]++
		if r.Code == 429 && string(r.ReqID) != id {
			t.Errorf("429 for %q answered %q", id, r.ReqID)
		}
	}
	if codes[200] != 5 || codes[429] != 5 {
		t.Fatalf("codes %v, want 5×200 and 5×429", codes)
	}
	// The socket stays open: after a second the budget refills.
	time.Sleep(1100 * time.Millisecond)
	c.ok("GetClock", nil)
}

func TestGetClockAndKeepAlive(t *testing.T) {
	e := newEnv(t)
	c := e.consumer(e.signup())
	for _, typ := range []string{"GetClock", ".GetClock"} {
		r := c.ok(typ, nil)
		if r.Type != ".ams.GetClock$Response" || decode[protocol.GetClockResponse](t, r).CurrentTime != epoch.UnixMilli() {
			t.Errorf("%s: %+v %s", typ, r, r.Body)
		}
	}
	c.ok("KeepAlive", nil)
	a, _ := e.agent("alice")
	if r := a.ok(".GetClock", map[string]any{}); decode[protocol.GetClockResponse](t, r).CurrentTime != epoch.UnixMilli() {
		t.Errorf("agent GetClock: %s", r.Body)
	}
}

func TestIdleClose(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	quiet := e.consumer(e.signup())
	pinging := e.consumer(e.signup())
	// Pings count as activity: this socket outlives the quiet one.
	stop := time.After(time.Second)
loop:
	for {
		select {
		case <-stop:
			break loop
		case <-time.After(50 * time.Millisecond):
			ctx, cancel := contextWithTimeout()
			if err := pinging.conn.Ping(ctx); err != nil {
				cancel()
				t.Fatalf("ping: %v", err)
			}
			cancel()
		}
	}
	if got := quiet.closeStatus(); got != websocket.StatusPolicyViolation {
		t.Fatalf("idle close %d, want 1008", got)
	}
	pinging.ok("GetClock", nil)
}

func TestSecondOpenConversation(t *testing.T) {
	e := newEnv(t)
	token := e.signup()
	c := e.consumer(token)
	conv := c.openConversation()
	r := c.wantCode(409, "cm.ConsumerRequestConversation", nil)
	if !strings.Contains(r.BodyString(), conv) {
		t.Errorf("409 body %q does not name %s", r.BodyString(), conv)
	}
	// Another socket of the same consumer is the same consumer.
	e.consumer(token).wantCode(409, "cm.ConsumerRequestConversation", nil)
	// Another consumer is not.
	e.consumer(e.signup()).openConversation()
	// Once closed, a new one may open.
	c.ok("cm.UpdateConversationField", closeConv(conv))
	if c.openConversation() == conv {
		t.Error("same conversation id again")
	}
}

func TestNotFoundAndForbidden(t *testing.T) {
	e := newEnv(t)
	c := e.consumer(e.signup())
	conv := c.openConversation()
	stranger := e.consumer(e.signup())
	tests := []struct {
		name string
		c    *client
		typ  string
		body any
		code int
	}{
		{"publish unknown dialog", c, "ms.PublishEvent", text("nope", "hi"), 404},
		{"subscribe unknown dialog", c, "ms.SubscribeMessagingEvents", protocol.SubscribeMessagingEvents{DialogID: "nope"}, 404},
		{"close unknown conversation", c, "cm.UpdateConversationField", closeConv("nope"), 404},
		{"publish to another's conversation", stranger, "ms.PublishEvent", text(conv, "hi"), 403},
		{"subscribe to another's dialog", stranger, "ms.SubscribeMessagingEvents", protocol.SubscribeMessagingEvents{DialogID: conv}, 403},
		{"close another's conversation", stranger, "cm.UpdateConversationField", closeConv(conv), 403},
		{"unsubscribe unknown subscription", c, "cqm.UnsubscribeExConversations", protocol.SubscriptionResponse{SubscriptionID: "nope"}, 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.c.wantCode(tt.code, tt.typ, tt.body) })
	}
}

func TestPublishToClosedDialog(t *testing.T) {
	e := newEnv(t)
	c := e.consumer(e.signup())
	conv := c.openConversation()
	r := c.ok("cm.UpdateConversationField", closeConv(conv))
	if r.BodyString() != "OK Conversation resolved successfully" {
		t.Errorf("close answer %q", r.BodyString())
	}
	c.wantCode(409, "ms.PublishEvent", text(conv, "too late"))
	c.wantCode(409, "cm.UpdateConversationField", closeConv(conv))
}

// TestEchoAndChatStates: every subscriber gets every event, its own
// included; chat states take no sequence, carry no sequence or timestamp,
// are not stored and never replayed.
func TestEchoAndChatStates(t *testing.T) {
	e := newEnv(t)
	token := e.signup()
	c := e.consumer(token)
	conv := c.openConversation()
	other := e.consumer(token) // a second tab of the same consumer
	for _, s := range []*client{c, other} {
		s.ok("ms.SubscribeMessagingEvents", protocol.SubscribeMessagingEvents{DialogID: conv, ConversationID: conv})
	}
	typing := protocol.PublishEvent{DialogID: conv, Event: protocol.Event{Type: protocol.EventChatState, ChatState: protocol.ChatComposing}}
	if r := c.ok(".ams.ms.PublishEvent", typing); string(r.Body) != `{"sequence":0}` {
		t.Errorf("chat state answer %s", r.Body)
	}
	if r := c.ok("ms.PublishEvent", text(conv, "hello")); string(r.Body) != `{"sequence":0}` {
		t.Errorf("first message answer %s", r.Body)
	}
	for _, s := range []*client{c, other} {
		n := s.notif("ms.MessagingEventNotification")
		if strings.Contains(string(n.Body), "sequence") || strings.Contains(string(n.Body), "serverTimestamp") {
			t.Errorf("chat state notification %s", n.Body)
		}
		ev := decode[protocol.MessagingEventNotification](t, n).Changes[0]
		if ev.Event.ChatState != "COMPOSING" || ev.OriginatorID == "" {
			t.Errorf("chat state %+v", ev)
		}
		ev = decode[protocol.MessagingEventNotification](t, s.notif("ms.MessagingEventNotification")).Changes[0]
		if seq, ok := ev.Seq(); !ok || seq != 0 || ev.Event.Message != "hello" || ev.ServerTimestamp != epoch.UnixMilli() {
			t.Errorf("echo %+v", ev)
		}
	}
	if got := e.svc.DialogEvents(conv); len(got) != 1 {
		t.Errorf("stored %d events, want 1", len(got))
	}
	late := e.consumer(token)
	late.ok("ms.SubscribeMessagingEvents", protocol.SubscribeMessagingEvents{DialogID: conv})
	ev := decode[protocol.MessagingEventNotification](t, late.notif("ms.MessagingEventNotification"))
	if len(ev.Changes) != 1 || ev.Changes[0].Event.Type != protocol.EventContent {
		t.Errorf("replay %+v", ev)
	}
}

// TestReplayFromSeq: the response, then the replay of sequence >= fromSeq
// in one notification, then live events, with no gap and no duplicate.
func TestReplayFromSeq(t *testing.T) {
	e := newEnv(t)
	token := e.signup()
	c := e.consumer(token)
	conv := c.openConversation()
	for _, m := range []string{"m0", "m1", "m2", "m3", "m4"} {
		c.ok("ms.PublishEvent", text(conv, m))
	}
	r := e.consumer(token)
	id := r.send("ms.SubscribeMessagingEvents", protocol.SubscribeMessagingEvents{DialogID: conv, ConversationID: conv, FromSeq: 2})
	if f := r.next(); f.Kind != protocol.KindResp || string(f.ReqID) != id || f.Code != 200 {
		t.Fatalf("first frame %+v", f)
	}
	f := r.next()
	var seqs []int64
	for _, ev := range decode[protocol.MessagingEventNotification](t, f).Changes {
		seqs = append(seqs, *ev.Sequence)
	}
	if diff := cmp.Diff([]int64{2, 3, 4}, seqs); diff != "" {
		t.Fatalf("replay (-want +got):\n%s", diff)
	}
	c.ok("ms.PublishEvent", text(conv, "m5"))
	ev := decode[protocol.MessagingEventNotification](t, r.notif("ms.MessagingEventNotification")).Changes[0]
	if *ev.Sequence != 5 {
		t.Fatalf("live event %d, want 5", *ev.Sequence)
	}
	// A fromSeq past the end replays nothing.
	id = r.send("ms.SubscribeMessagingEvents", protocol.SubscribeMessagingEvents{DialogID: conv, FromSeq: 6})
	r.resp(id)
	c.ok("ms.PublishEvent", text(conv, "m6"))
	ev = decode[protocol.MessagingEventNotification](t, r.next()).Changes[0]
	if *ev.Sequence != 6 {
		t.Fatalf("after empty replay: %d, want 6", *ev.Sequence)
	}
}

// TestConversationSubscription: snapshot (changes [] when none), UPSERT on
// open, DELETE when the conversation stops matching the filter; the
// consumer sees only its own conversations.
func TestConversationSubscription(t *testing.T) {
	e := newEnv(t)
	c := e.consumer(e.signup())
	openOnly := c.ok("cqm.SubscribeExConversations", map[string]any{"convState": []string{"OPEN"}, "stage": []string{"OPEN", "CLOSE"}, "minLastUpdatedTime": 0})
	if openOnly.Type != "cqm.SubscribeExConversationsResponse" {
		t.Errorf("response type %q", openOnly.Type)
	}
	openSub := decode[protocol.SubscriptionResponse](t, openOnly).SubscriptionID
	snap := c.notif("cqm.ExConversationChangeNotification")
	if want := `{"subscriptionId":"` + openSub + `","changes":[]}`; string(snap.Body) != want {
		t.Fatalf("snapshot %s, want %s", snap.Body, want)
	}
	all := decode[protocol.SubscriptionResponse](t, c.ok(".ams.cqm.SubscribeExConversations", protocol.SubscribeExConversations{ConvState: protocol.Strings{"OPEN", "CLOSE"}})).SubscriptionID
	c.notif("cqm.ExConversationChangeNotification")

	e.consumer(e.signup()).openConversation() // someone else's
	conv := c.openConversation()
	changes := func(sub string) []protocol.ConversationChange {
		t.Helper()
		n := c.take("change of "+sub, func(f protocol.Frame) bool {
			return f.Type == "cqm.ExConversationChangeNotification" && strings.Contains(string(f.Body), `"subscriptionId":"`+sub+`"`)
		})
		return decode[protocol.ExConversationChangeNotification](t, n).Changes
	}
	for _, sub := range []string{openSub, all} {
		ch := changes(sub)
		if len(ch) != 1 || ch[0].Type != "UPSERT" || ch[0].Result.ConvID != conv || ch[0].Result.ConversationDetails.State != "OPEN" {
			t.Fatalf("open change %+v", ch)
		}
		d := ch[0].Result.ConversationDetails
		if d.Participants.AsMap || len(d.Participants.List) != 1 || d.Participants.List[0].Role != "CONSUMER" || len(d.Dialogs) != 1 || d.Dialogs[0].DialogType != "MAIN" {
			t.Errorf("details %+v", d)
		}
	}
	c.ok("cm.UpdateConversationField", closeConv(conv))
	if ch := changes(openSub); len(ch) != 1 || ch[0].Type != "DELETE" || ch[0].Result.ConvID != conv {
		t.Fatalf("close on OPEN filter %+v", ch)
	}
	ch := changes(all)
	d := ch[0].Result.ConversationDetails
	if ch[0].Type != "UPSERT" || d.State != "CLOSE" || d.Stage != "CLOSE" || d.CloseReason != "CONSUMER" || d.EndTs == 0 ||
		d.Dialogs[0].ClosedBy != "CONSUMER" || d.Dialogs[0].ClosedCause == "" || d.Dialogs[0].State != "CLOSE" {
		t.Fatalf("close on all %+v", ch)
	}
	// Unsubscribed: no more changes (checked by the next open being seen on
	// the other subscription only).
	c.ok("cqm.UnsubscribeExConversations", protocol.SubscriptionResponse{SubscriptionID: all})
	conv2 := c.openConversation()
	if ch := changes(openSub); ch[0].Result.ConvID != conv2 {
		t.Fatalf("second conversation %+v", ch)
	}
	c.ok("GetClock", nil)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.inbox {
		if strings.Contains(string(f.Body), all) {
			t.Errorf("notification after unsubscribe: %s", f.Body)
		}
	}
}

func TestCSAT(t *testing.T) {
	e := newEnv(t)
	c := e.consumer(e.signup())
	conv := c.openConversation()
	c.ok("cqm.SubscribeExConversations", protocol.SubscribeExConversations{})
	c.notif("cqm.ExConversationChangeNotification")
	rate := func(n int) protocol.UpdateConversationField {
		yes := true
		return protocol.UpdateConversationField{ConversationID: conv, ConversationField: protocol.List[protocol.ConversationField]{
			{Field: "CSATRate", CSATRate: n, CSATResolutionConfirmation: &yes, Status: "FILLED"}}}
	}
	c.wantCode(409, "cm.UpdateConversationField", rate(5)) // still open
	c.ok("cm.UpdateConversationField", closeConv(conv))
	c.wantCode(400, "cm.UpdateConversationField", rate(9))
	c.ok("cm.UpdateConversationField", rate(4))
	var csat *protocol.CSAT
	for csat == nil {
		ch := decode[protocol.ExConversationChangeNotification](t, c.notif("cqm.ExConversationChangeNotification")).Changes
		csat = ch[0].Result.ConversationDetails.CSAT
	}
	if diff := cmp.Diff(&protocol.CSAT{CSATRate: 4, CSATResolutionConfirmation: true, Status: "FILLED"}, csat); diff != "" {
		t.Errorf("csat (-want +got):\n%s", diff)
	}
}

// TestCloseMainDialog: without a survey, closing the MAIN dialog
// (MULTI_DIALOG's DialogChange) closes the conversation, answered as PCS
// step 9 shows; no POST_SURVEY dialog opens.
func TestCloseMainDialog(t *testing.T) {
	e := newEnv(t)
	c := e.consumer(e.signup())
	conv := c.openConversation()
	c.ok("ms.PublishEvent", text(conv, "bye"))
	c.ok("cqm.SubscribeExConversations", protocol.SubscribeExConversations{})
	c.notif("cqm.ExConversationChangeNotification")
	r := c.ok("cm.UpdateConversationField", closeDialog(conv, conv))
	if r.Type != protocol.TypeStringResponse || r.BodyString() != "OK Conversation resolved successfully" {
		t.Errorf("close answered %s %s", r.Type, r.Body)
	}
	d := decode[protocol.ExConversationChangeNotification](t, c.notif("cqm.ExConversationChangeNotification")).Changes[0].Result.ConversationDetails
	if d.State != "CLOSE" || d.Stage != "CLOSE" || d.CloseReason != "CONSUMER" || d.EndTs == 0 || len(d.Dialogs) != 1 || d.Dialogs[0].ClosedCause != "Closed by consumer" {
		t.Fatalf("after closing MAIN: %+v", d)
	}
	c.wantCode(409, "ms.PublishEvent", text(conv, "to MAIN"))
	c.wantCode(409, "cm.UpdateConversationField", closeDialog(conv, conv))
	c.openConversation()
}

func TestCloseClosesSockets(t *testing.T) {
	e := newEnv(t)
	c := e.consumer(e.signup())
	a, _ := e.agent("alice")
	e.svc.Close()
	e.svc.Close() // idempotent
	for _, s := range []*client{c, a} {
		if got := s.closeStatus(); got != websocket.StatusGoingAway {
			t.Errorf("close %d, want 1001", got)
		}
	}
}

// TestSlowSocketIsCut: a subscriber that stops reading is cut once its
// outbox overflows, and the others keep going.
func TestSlowSocketIsCut(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RateLimit = 1e6; c.RateBurst = 1e6 })
	e.svc.outbox = 8 // set before any socket opens
	conv, c := slowSubscriber(t, e)
	sockets := func() int {
		e.svc.mu.Lock()
		defer e.svc.mu.Unlock()
		return len(e.svc.sockets) + len(e.svc.dialogs[conv].subs)
	}
	// Until the creator is gone and the slow peer subscribed: c and slow,
	// and slow's subscription.
	for sockets() != 3 {
		time.Sleep(10 * time.Millisecond)
	}
	big := strings.Repeat("x", maxTextBytes)
	deadline := time.Now().Add(waitLimit)
	for sockets() == 3 {
		if time.Now().After(deadline) {
			t.Fatal("slow socket never cut")
		}
		// Fewer answers in flight than the outbox holds: the publisher,
		// which reads, is never the one cut, however slowly it reads.
		for range 4 {
			c.send("ms.PublishEvent", text(conv, big))
		}
		c.ok("GetClock", nil)
	}
	c.ok("ms.PublishEvent", text(conv, "still here"))
}
