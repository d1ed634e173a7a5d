package protocol

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestParseFrameLiberal(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Frame
	}{
		{
			name: "numeric id",
			in:   `{"kind":"req","id":1,"type":"cm.ConsumerRequestConversation"}`,
			want: Frame{Kind: KindReq, ID: "1", Type: TypeConsumerRequestConversation},
		},
		{
			name: "string id",
			in:   `{"kind":"req","id":"1","type":"GetClock"}`,
			want: Frame{Kind: KindReq, ID: "1", Type: TypeGetClock},
		},
		{
			name: "id beyond int64 kept as written",
			in:   `{"kind":"req","id":123456789012345678901234567890,"type":"GetClock"}`,
			want: Frame{Kind: KindReq, ID: "123456789012345678901234567890", Type: TypeGetClock},
		},
		{
			name: "null id",
			in:   `{"kind":"req","id":null,"type":"GetClock"}`,
			want: Frame{Kind: KindReq, Type: TypeGetClock},
		},
		{
			name: "numeric reqId",
			in:   `{"kind":"resp","reqId":5,"code":200,"type":"ms.PublishEventResponse","body":{"sequence":1}}`,
			want: Frame{Kind: KindResp, ReqID: "5", Code: 200, Type: TypePublishEventResponse, Body: json.RawMessage(`{"sequence":1}`)},
		},
		{
			name: "ack without type or body",
			in:   `{"kind":"resp","reqId":"8","code":200}`,
			want: Frame{Kind: KindResp, ReqID: "8", Code: 200},
		},
		{
			name: "null body and metadata are absent",
			in:   `{"kind":"notification","type":"x","body":null,"metadata":null}`,
			want: Frame{Kind: KindNotification, Type: "x"},
		},
		{
			name: "unknown fields ignored",
			in:   `{"kind":"req","id":"2","type":"GetClock","traceId":"t","extra":{"a":[1,{"b":null}]}}`,
			want: Frame{Kind: KindReq, ID: "2", Type: TypeGetClock},
		},
		{
			name: "bare header and bare feature",
			in:   `{"kind":"req","id":"0","type":"InitConnection","headers":{"type":".ams.headers.ClientProperties","features":"RICH_CONTENT","unknown":1}}`,
			want: Frame{Kind: KindReq, ID: "0", Type: TypeInitConnection, Headers: List[Header]{
				{Type: ".ams.headers.ClientProperties", Features: Strings{"RICH_CONTENT"}},
			}},
		},
		{
			name: "metadata kept raw",
			in:   `{"kind":"req","id":"3","type":"ms.PublishEvent","body":{},"metadata":[{"type":"ExternalId","id":"x"}]}`,
			want: Frame{Kind: KindReq, ID: "3", Type: TypePublishEvent, Body: json.RawMessage(`{}`), Metadata: json.RawMessage(`[{"type":"ExternalId","id":"x"}]`)},
		},
		{
			name: "string body",
			in:   `{"kind":"req","id":"4","type":".ams.userprofile.GetUserProfile","body":"c1"}`,
			want: Frame{Kind: KindReq, ID: "4", Type: ".ams.userprofile.GetUserProfile", Body: json.RawMessage(`"c1"`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFrame([]byte(tt.in))
			if err != nil {
				t.Fatalf("ParseFrame: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFrameErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		wantID ID
	}{
		{name: "empty", in: ``},
		{name: "not JSON", in: `hello`},
		{name: "array", in: `[{"kind":"req","id":"1","type":"GetClock"}]`},
		{name: "string", in: `"req"`},
		{name: "null", in: `null`},
		{name: "number", in: `42`},
		{name: "empty object", in: `{}`},
		{name: "no kind", in: `{"id":"1","type":"GetClock"}`, wantID: "1"},
		{name: "empty kind", in: `{"kind":"","id":2,"type":"GetClock"}`, wantID: "2"},
		{name: "unknown kind", in: `{"kind":"event","id":"3","type":"GetClock"}`, wantID: "3"},
		{name: "no type on req", in: `{"kind":"req","id":"4"}`, wantID: "4"},
		{name: "no type on notification", in: `{"kind":"notification","body":{}}`},
		{name: "kind not a string", in: `{"kind":1,"id":"5","type":"GetClock"}`, wantID: "5"},
		{name: "type not a string", in: `{"kind":"req","id":6,"type":["GetClock"]}`, wantID: "6"},
		{name: "code not a number", in: `{"kind":"resp","id":"7","reqId":"7","code":"200"}`, wantID: "7"},
		{name: "headers not objects", in: `{"kind":"req","id":"8","type":"InitConnection","headers":"jwt"}`, wantID: "8"},
		{name: "id an object", in: `{"kind":"req","id":{"n":1},"type":"GetClock"}`},
		{name: "id a bool", in: `{"kind":"req","id":true,"type":"GetClock"}`},
		{name: "truncated after id", in: `{"kind":"req","id":"9","type":"ms.PublishEvent","body":{"dialogId":"C1",`, wantID: "9"},
		{name: "bad value after id", in: `{"kind":"req","id":10,"type":"ms.PublishEvent","body":{"event":}}`, wantID: "10"},
		{name: "trailing garbage", in: `{"kind":"req","id":"11","type":"GetClock"} {}`, wantID: "11"},
		{name: "broken before id", in: `{"kind":"req","body":{"a":[1,2},"id":"12","type":"GetClock"}`},
		{name: "truncated inside id", in: `{"kind":"req","id":"1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFrame([]byte(tt.in))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseFrame(%s) error = %v, want ErrMalformed", tt.in, err)
			}
			if got.ID != tt.wantID {
				t.Errorf("salvaged id = %q, want %q", got.ID, tt.wantID)
			}
			// The service answers it with the salvaged id, strictly encoded.
			resp, err := NewResponse(got.ID, 400, "", err.Error())
			if err != nil {
				t.Fatal(err)
			}
			b, err := Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(b), `{"kind":"resp","reqId":"`+string(tt.wantID)+`","code":400,`) {
				t.Errorf("error response %s", b)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ms.PublishEvent", TypePublishEvent},
		{".ams.ms.PublishEvent", TypePublishEvent},
		{".ams.cm.UpdateConversationField", TypeUpdateConversationField},
		{".ams.aam.SubscribeExConversations", TypeAgentSubscribeExConversations},
		{".ams.cqm.SubscribeExConversations", TypeSubscribeExConversations},
		{".GetClock", TypeGetClock},
		{"GetClock", TypeGetClock},
		{" .ams.routing.UpdateRingState ", TypeUpdateRingState},
		{".ams.GetClock$Response", "GetClock$Response"},
		{".ReqBody$StringResp", "ReqBody$StringResp"},
		{".ams.headers.ConsumerAuthentication", TypeHeaderConsumerAuthentication},
		{"", ""},
		// Garbage still canonicalises to a fixed point.
		{".ams..x", "x"},
		{"..x", "x"},
		{". x", "x"},
		{".ams. .ams.ms.PublishEvent", TypePublishEvent},
	}
	for _, tt := range tests {
		if got := Canonical(tt.in); got != tt.want {
			t.Errorf("Canonical(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := Canonical(Canonical(tt.in)); got != tt.want {
			t.Errorf("Canonical is not idempotent on %q: %q", tt.in, got)
		}
	}
}

// TestBareElements checks every list the protocol may send as its one bare
// element (docs/protocol.md, Frames).
func TestBareElements(t *testing.T) {
	tests := []struct {
		name string
		in   string
		into func() any
		want any
	}{
		{
			name: "sequenceList bare number",
			in:   `{"type":"AcceptStatusEvent","status":"ACCEPT","sequenceList":3}`,
			into: func() any { return new(Event) },
			want: &Event{Type: EventAcceptStatus, Status: StatusAccept, SequenceList: Seqs{3}},
		},
		{
			name: "sequenceList numbers as strings",
			in:   `{"type":"AcceptStatusEvent","status":"READ","sequenceList":["2","3"]}`,
			into: func() any { return new(Event) },
			want: &Event{Type: EventAcceptStatus, Status: StatusRead, SequenceList: Seqs{2, 3}},
		},
		{
			name: "sequenceList bare string",
			in:   `{"type":"AcceptStatusEvent","status":"READ","sequenceList":"7"}`,
			into: func() any { return new(Event) },
			want: &Event{Type: EventAcceptStatus, Status: StatusRead, SequenceList: Seqs{7}},
		},
		{
			name: "messaging changes bare",
			in:   `{"changes":{"sequence":1,"dialogId":"C1","event":{"type":"ContentEvent","message":"m"}}}`,
			into: func() any { return new(MessagingEventNotification) },
			want: &MessagingEventNotification{Changes: List[MessagingEvent]{{Sequence: Seq(1), DialogID: "C1", Event: Event{Type: EventContent, Message: "m"}}}},
		},
		{
			name: "conversation changes bare, dialogs bare, participants bare",
			in:   `{"subscriptionId":"S","changes":{"type":"UPSERT","result":{"convId":"C1","conversationDetails":{"participants":{"id":"p","role":"CONSUMER"},"dialogs":{"dialogId":"C1","participantsDetails":{"id":"p","role":"CONSUMER"}}}}}}`,
			into: func() any { return new(ExConversationChangeNotification) },
			want: &ExConversationChangeNotification{SubscriptionID: "S", Changes: List[ConversationChange]{{
				Type: ChangeUpsert,
				Result: ConversationResult{ConvID: "C1", ConversationDetails: ConversationDetails{
					Participants: Participants{List: []Participant{{ID: "p", Role: RoleConsumer}}},
					Dialogs:      List[Dialog]{{DialogID: "C1", ParticipantsDetails: List[Participant]{{ID: "p", Role: RoleConsumer}}}},
				}},
			}}},
		},
		{
			name: "conversationField bare",
			in:   `{"conversationId":"C1","conversationField":{"field":"ConversationStateField","conversationState":"CLOSE"}}`,
			into: func() any { return new(UpdateConversationField) },
			want: &UpdateConversationField{ConversationID: "C1", ConversationField: List[ConversationField]{{Field: FieldConversationState, ConversationState: StateClose}}},
		},
		{
			name: "convState, stage and agentIds bare",
			in:   `{"convState":"OPEN","stage":"CLOSE","agentIds":"89476943.1","brandId":89476943}`,
			into: func() any { return new(SubscribeExConversations) },
			want: &SubscribeExConversations{ConvState: Strings{"OPEN"}, Stage: Strings{"CLOSE"}, AgentIDs: Strings{"89476943.1"}, BrandID: "89476943"},
		},
		{
			name: "channels bare",
			in:   `{"availability":"ONLINE","channels":"MESSAGING"}`,
			into: func() any { return new(SetAgentState) },
			want: &SetAgentState{Availability: AgentOnline, Channels: Strings{"MESSAGING"}},
		},
		{
			name: "routing changes and rings bare",
			in:   `{"subscriptionId":"R","changes":{"type":"UPSERT","result":{"routingTaskId":"T","skillId":-1,"ringsDetails":{"ringId":"r","ringState":"WAITING"}}}}`,
			into: func() any { return new(RoutingTaskNotification) },
			want: &RoutingTaskNotification{SubscriptionID: "R", Changes: List[RoutingTaskChange]{{
				Type:   ChangeUpsert,
				Result: RoutingTask{RoutingTaskID: "T", SkillID: "-1", RingsDetails: List[Ring]{{RingID: "r", RingState: RingWaiting}}},
			}}},
		},
		{
			name: "baseURIs bare",
			in:   `{"baseURIs":{"service":"idp","account":123,"baseURI":"h"}}`,
			into: func() any { return new(BaseURIs) },
			want: &BaseURIs{BaseURIs: List[BaseURI]{{Service: ServiceIDP, Account: "123", BaseURI: "h"}}},
		},
		{
			name: "QueryMessages answer bare",
			in:   `{"sequence":1,"dialogId":"C1","event":{"type":"AcceptStatusEvent","status":"ACCEPT","sequenceList":0}}`,
			into: func() any { return new(List[MessagingEvent]) },
			want: &List[MessagingEvent]{{Sequence: Seq(1), DialogID: "C1", Event: Event{Type: EventAcceptStatus, Status: StatusAccept, SequenceList: Seqs{0}}}},
		},
		{
			name: "features bare",
			in:   `{"type":".ams.headers.ClientProperties","features":"MULTI_DIALOG"}`,
			into: func() any { return new(Header) },
			want: &Header{Type: ".ams.headers.ClientProperties", Features: Strings{"MULTI_DIALOG"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.into()
			if err := json.Unmarshal([]byte(tt.in), got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventDecode(t *testing.T) {
	card := json.RawMessage(`{"type":"vertical","elements":[]}`)
	tests := []struct {
		name string
		in   string
		want Event
		// wantOut is the strict re-encoding.
		wantOut string
	}{
		{
			name:    "text",
			in:      `{"type":"ContentEvent","message":"hi","contentType":"text/plain"}`,
			want:    Event{Type: EventContent, ContentType: "text/plain", Message: "hi"},
			wantOut: `{"type":"ContentEvent","contentType":"text/plain","message":"hi"}`,
		},
		{
			name:    "qualified type",
			in:      `{"type":".ams.ms.ContentEvent","message":"hi"}`,
			want:    Event{Type: EventContent, Message: "hi"},
			wantOut: `{"type":"ContentEvent","message":"hi"}`,
		},
		{
			name:    "ms-prefixed type",
			in:      `{"type":"ms.ChatStateEvent","chatState":"COMPOSING"}`,
			want:    Event{Type: EventChatState, ChatState: ChatComposing},
			wantOut: `{"type":"ChatStateEvent","chatState":"COMPOSING"}`,
		},
		{
			name:    "rich content under content",
			in:      `{"type":"RichContentEvent","content":{"type":"vertical","elements":[]}}`,
			want:    Event{Type: EventRichContent, Content: card},
			wantOut: `{"type":"RichContentEvent","content":{"type":"vertical","elements":[]}}`,
		},
		{
			name:    "rich content under message",
			in:      `{"type":"RichContentEvent","message":{"type":"vertical","elements":[]}}`,
			want:    Event{Type: EventRichContent, Content: card},
			wantOut: `{"type":"RichContentEvent","content":{"type":"vertical","elements":[]}}`,
		},
		{
			name:    "content wins over message",
			in:      `{"type":"RichContentEvent","content":{"type":"vertical","elements":[]},"message":{"type":"other"}}`,
			want:    Event{Type: EventRichContent, Content: card, Message: `{"type":"other"}`},
			wantOut: `{"type":"RichContentEvent","content":{"type":"vertical","elements":[]}}`,
		},
		{
			name:    "unknown fields ignored",
			in:      `{"type":"ContentEvent","message":"hi","contentType":"text/plain","lang":"en","extra":{"x":[1]}}`,
			want:    Event{Type: EventContent, ContentType: "text/plain", Message: "hi"},
			wantOut: `{"type":"ContentEvent","contentType":"text/plain","message":"hi"}`,
		},
		{
			name:    "unknown status kept",
			in:      `{"type":"AcceptStatusEvent","status":"DELIVERED","sequenceList":[1]}`,
			want:    Event{Type: EventAcceptStatus, Status: "DELIVERED", SequenceList: Seqs{1}},
			wantOut: `{"type":"AcceptStatusEvent","status":"DELIVERED","sequenceList":[1]}`,
		},
		{
			name:    "unknown chat state kept",
			in:      `{"type":"ChatStateEvent","chatState":"RECORDING"}`,
			want:    Event{Type: EventChatState, ChatState: "RECORDING"},
			wantOut: `{"type":"ChatStateEvent","chatState":"RECORDING"}`,
		},
		{
			name:    "unknown event type kept",
			in:      `{"type":"FileEvent","contentType":"image/png","message":"f.png"}`,
			want:    Event{Type: "FileEvent", ContentType: "image/png", Message: "f.png"},
			wantOut: `{"type":"FileEvent","contentType":"image/png","message":"f.png"}`,
		},
		{
			name:    "receipt with no sequenceList",
			in:      `{"type":"AcceptStatusEvent","status":"READ"}`,
			want:    Event{Type: EventAcceptStatus, Status: StatusRead},
			wantOut: `{"type":"AcceptStatusEvent","status":"READ","sequenceList":[]}`,
		},
		{
			name:    "empty text keeps message",
			in:      `{"type":"ContentEvent","contentType":"text/plain"}`,
			want:    Event{Type: EventContent, ContentType: "text/plain"},
			wantOut: `{"type":"ContentEvent","contentType":"text/plain","message":""}`,
		},
		{
			name:    "non-string text kept as its JSON",
			in:      `{"type":"ContentEvent","message":42}`,
			want:    Event{Type: EventContent, Message: "42"},
			wantOut: `{"type":"ContentEvent","message":"42"}`,
		},
		{
			name:    "quick replies kept raw",
			in:      `{"type":"ContentEvent","message":"?","quickReplies":{"type":"quickReplies","replies":[]}}`,
			want:    Event{Type: EventContent, Message: "?", QuickReplies: json.RawMessage(`{"type":"quickReplies","replies":[]}`)},
			wantOut: `{"type":"ContentEvent","message":"?","quickReplies":{"type":"quickReplies","replies":[]}}`,
		},
		{
			name:    "html travels unescaped",
			in:      `{"type":"ContentEvent","message":"\u003cb\u003ebold\u003c/b\u003e \u0026 co"}`,
			want:    Event{Type: EventContent, Message: "<b>bold</b> & co"},
			wantOut: `{"type":"ContentEvent","message":"<b>bold</b> & co"}`,
		},
		{
			// File Sharing, Step 5 (the tutorial puts message before contentType).
			name:    "hosted file",
			in:      `{"type":"ContentEvent","message":{"caption":"LivePerson logo","relativePath":"/v1/AUTH_async-images/1/a.PNG","fileType":"PNG","preview":"data:image/png;base64,AA=="},"contentType":"hosted/file"}`,
			want:    Event{Type: EventContent, ContentType: "hosted/file", File: &HostedFile{Caption: "LivePerson logo", RelativePath: "/v1/AUTH_async-images/1/a.PNG", FileType: "PNG", Preview: "data:image/png;base64,AA=="}},
			wantOut: `{"type":"ContentEvent","contentType":"hosted/file","message":{"caption":"LivePerson logo","relativePath":"/v1/AUTH_async-images/1/a.PNG","fileType":"PNG","preview":"data:image/png;base64,AA=="}}`,
		},
		{
			// node-agent-sdk's README: no preview.
			name:    "hosted file without preview, schema spelling",
			in:      `{"type":".ams.ms.ContentEvent","contentType":"HostedFile","message":{"caption":"yay!","relativePath":"/p.JPEG","fileType":"JPEG","preview":null,"extra":1}}`,
			want:    Event{Type: EventContent, ContentType: "HostedFile", File: &HostedFile{Caption: "yay!", RelativePath: "/p.JPEG", FileType: "JPEG"}},
			wantOut: `{"type":"ContentEvent","contentType":"HostedFile","message":{"caption":"yay!","relativePath":"/p.JPEG","fileType":"JPEG"}}`,
		},
		{
			name:    "hosted file of another shape kept as its JSON",
			in:      `{"type":"ContentEvent","contentType":"hosted/file","message":{"caption":"x","preview":{"w":1}}}`,
			want:    Event{Type: EventContent, ContentType: "hosted/file", Message: `{"caption":"x","preview":{"w":1}}`},
			wantOut: `{"type":"ContentEvent","contentType":"hosted/file","message":"{\"caption\":\"x\",\"preview\":{\"w\":1}}"}`,
		},
		{
			name:    "hosted file as a string stays text",
			in:      `{"type":"ContentEvent","contentType":"hosted/file","message":"a.png"}`,
			want:    Event{Type: EventContent, ContentType: "hosted/file", Message: "a.png"},
			wantOut: `{"type":"ContentEvent","contentType":"hosted/file","message":"a.png"}`,
		},
		{
			name:    "an object of text stays its JSON",
			in:      `{"type":"ContentEvent","contentType":"text/plain","message":{"caption":"x","relativePath":"/p","fileType":"PNG"}}`,
			want:    Event{Type: EventContent, ContentType: "text/plain", Message: `{"caption":"x","relativePath":"/p","fileType":"PNG"}`},
			wantOut: `{"type":"ContentEvent","contentType":"text/plain","message":"{\"caption\":\"x\",\"relativePath\":\"/p\",\"fileType\":\"PNG\"}"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got Event
			if err := json.Unmarshal([]byte(tt.in), &got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decode (-want +got):\n%s", diff)
			}
			out, err := Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantOut, string(out)); diff != "" {
				t.Errorf("encode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventKinds(t *testing.T) {
	tests := []struct {
		typ               string
		content, isStored bool
	}{
		{EventContent, true, true},
		{EventRichContent, true, true},
		{EventAcceptStatus, false, true},
		{EventChatState, false, false},
	}
	for _, tt := range tests {
		e := Event{Type: tt.typ}
		if e.IsContent() != tt.content || e.IsStored() != tt.isStored {
			t.Errorf("%s: IsContent %v IsStored %v, want %v %v", tt.typ, e.IsContent(), e.IsStored(), tt.content, tt.isStored)
		}
	}
}

func TestMembers(t *testing.T) {
	consumer := Participant{ID: "c", Role: RoleConsumer}
	tests := []struct {
		name string
		in   string
		want []Participant
		// wantOut is the conversationDetails re-encoded.
		wantOut string
	}{
		{
			name:    "list",
			in:      `{"participants":[{"id":"c","role":"CONSUMER"},{"id":"a","role":"ASSIGNED_AGENT"}]}`,
			want:    []Participant{consumer, {ID: "a", Role: RoleAssignedAgent}},
			wantOut: `{"participants":[{"id":"c","role":"CONSUMER"},{"id":"a","role":"ASSIGNED_AGENT"}]}`,
		},
		{
			name:    "bare participant",
			in:      `{"participants":{"id":"c","role":"CONSUMER"}}`,
			want:    []Participant{consumer},
			wantOut: `{"participants":[{"id":"c","role":"CONSUMER"}]}`,
		},
		{
			name:    "map",
			in:      `{"participants":{"CONSUMER":["c"],"ASSIGNED_AGENT":["a1","a2"]}}`,
			want:    []Participant{{ID: "a1", Role: RoleAssignedAgent}, {ID: "a2", Role: RoleAssignedAgent}, consumer},
			wantOut: `{"participants":{"ASSIGNED_AGENT":["a1","a2"],"CONSUMER":["c"]}}`,
		},
		{
			name:    "map with bare ids and an unknown role",
			in:      `{"participants":{"CONSUMER":"c","OBSERVER":"o"}}`,
			want:    []Participant{consumer, {ID: "o", Role: "OBSERVER"}},
			wantOut: `{"participants":{"CONSUMER":["c"],"OBSERVER":["o"]}}`,
		},
		{
			name:    "participantsPId only",
			in:      `{"participantsPId":{"CONSUMER":["c"]}}`,
			want:    []Participant{consumer},
			wantOut: `{"participantsPId":{"CONSUMER":["c"]}}`,
		},
		{
			name:    "agent form: PIds win over old ids",
			in:      `{"participants":{"CONSUMER":["c"],"ASSIGNED_AGENT":["1.2"]},"participantsPId":{"CONSUMER":["c"],"ASSIGNED_AGENT":["pid"]}}`,
			want:    []Participant{{ID: "pid", Role: RoleAssignedAgent}, consumer},
			wantOut: `{"participants":{"ASSIGNED_AGENT":["1.2"],"CONSUMER":["c"]},"participantsPId":{"ASSIGNED_AGENT":["pid"],"CONSUMER":["c"]}}`,
		},
		{
			name:    "empty map stays a map",
			in:      `{"participantsPId":{}}`,
			want:    nil,
			wantOut: `{"participantsPId":{}}`,
		},
		{
			name:    "none",
			in:      `{"participants":null}`,
			want:    nil,
			wantOut: `{}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d ConversationDetails
			if err := json.Unmarshal([]byte(tt.in), &d); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, d.Members(), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Members (-want +got):\n%s", diff)
			}
			out, err := Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantOut, string(out)); diff != "" {
				t.Errorf("encode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParticipantsErrors(t *testing.T) {
	for _, in := range []string{`{"participants":5}`, `{"participants":{"CONSUMER":{"x":1}}}`, `{"participants":["c"]}`, `{"participants":{"id":5}}`} {
		var d ConversationDetails
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("decode %s: no error, got %+v", in, d)
		}
	}
}

func TestMessagingEventSeq(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantSeq    int64
		wantOK     bool
		originator string
	}{
		{"chat state without sequence", `{"originatorId":"a","dialogId":"C1","event":{"type":"ChatStateEvent","chatState":"COMPOSING"}}`, 0, false, "a"},
		{"sequence null", `{"sequence":null,"dialogId":"C1","event":{"type":"ChatStateEvent"}}`, 0, false, ""},
		{"sequence 0", `{"sequence":0,"originatorId":"old","originatorMetadata":{"id":"pid","role":"CONSUMER"},"dialogId":"C1","event":{"type":"ContentEvent","message":"m"}}`, 0, true, "pid"},
		{"sequence 7 without conversationId", `{"sequence":7,"originatorId":"a","dialogId":"C1","event":{"type":"ContentEvent"}}`, 7, true, "a"},
		{"metadata without id", `{"sequence":1,"originatorId":"a","originatorMetadata":{"role":"ASSIGNED_AGENT"},"dialogId":"C1","event":{}}`, 1, true, "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m MessagingEvent
			if err := json.Unmarshal([]byte(tt.in), &m); err != nil {
				t.Fatal(err)
			}
			seq, ok := m.Seq()
			if seq != tt.wantSeq || ok != tt.wantOK {
				t.Errorf("Seq() = %d, %v; want %d, %v", seq, ok, tt.wantSeq, tt.wantOK)
			}
			if got := m.Originator(); got != tt.originator {
				t.Errorf("Originator() = %q, want %q", got, tt.originator)
			}
			out, err := Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			if hasSeq := strings.Contains(string(out), `"sequence"`); hasSeq != tt.wantOK {
				t.Errorf("encoding %s: sequence present %v, want %v", out, hasSeq, tt.wantOK)
			}
		})
	}
}

func TestWrongFieldTypes(t *testing.T) {
	tests := []struct {
		name string
		in   string
		into any
	}{
		{"sequenceList of text", `{"type":"AcceptStatusEvent","sequenceList":["a"]}`, new(Event)},
		{"sequenceList of fractions", `{"type":"AcceptStatusEvent","sequenceList":[1.5]}`, new(Event)},
		{"sequenceList an object", `{"type":"AcceptStatusEvent","sequenceList":{"a":1}}`, new(Event)},
		{"event type a number", `{"type":5}`, new(Event)},
		{"event an array", `[1]`, new(Event)},
		{"sequence a string", `{"sequence":"3","dialogId":"C1","event":{}}`, new(MessagingEvent)},
		{"changes of numbers", `{"changes":[1]}`, new(MessagingEventNotification)},
		{"id a bool", `{"brandId":true}`, new(ConsumerRequestConversation)},
		{"fromSeq a string", `{"dialogId":"C1","fromSeq":"0"}`, new(SubscribeMessagingEvents)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := json.Unmarshal([]byte(tt.in), tt.into); err == nil {
				t.Errorf("decode %s into %T: no error", tt.in, tt.into)
			}
		})
	}
}

func TestStrictEncoding(t *testing.T) {
	mustRequest := func(id, typ string, body any) Frame {
		f, err := NewRequest(id, typ, body)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	mustResponse := func(reqID ID, code int, typ string, body any) Frame {
		f, err := NewResponse(reqID, code, typ, body)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	mustNotification := func(typ string, body any) Frame {
		f, err := NewNotification(typ, body)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	text := PublishEvent{DialogID: "C1", Event: Event{Type: EventContent, ContentType: "text/plain", Message: "<b>hi</b> & 'bye' \u2028"}}
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"request id as string", mustRequest("12", TypeGetClock, nil), `{"kind":"req","id":"12","type":"GetClock"}`},
		{"request without body has none", mustRequest("1", TypeConsumerRequestConversation, nil), `{"kind":"req","id":"1","type":"cm.ConsumerRequestConversation"}`},
		{"request empty id still written", mustRequest("", TypeGetClock, nil), `{"kind":"req","id":"","type":"GetClock"}`},
		{"no HTML escaping", mustRequest("2", TypePublishEvent, text), `{"kind":"req","id":"2","type":"ms.PublishEvent","body":{"dialogId":"C1","event":{"type":"ContentEvent","contentType":"text/plain","message":"<b>hi</b> & 'bye' \u2028"}}}`},
		{"empty reqId on resp", mustResponse("", 400, "", "malformed frame"), `{"kind":"resp","reqId":"","code":400,"body":"malformed frame"}`},
		{"resp ack", mustResponse("3", 200, TypeGenericSubscribeResponse, nil), `{"kind":"resp","reqId":"3","code":200,"type":".ams.GenericSubscribeResponse"}`},
		{"resp string body", mustResponse("0", 200, TypeStringResponse, "OK"), `{"kind":"resp","reqId":"0","code":200,"type":".ReqBody$StringResp","body":"OK"}`},
		{"resp raw body passed through", mustResponse("4", 200, TypePublishEventResponse, json.RawMessage(`{ "sequence" : 4 }`)), `{"kind":"resp","reqId":"4","code":200,"type":"ms.PublishEventResponse","body":{"sequence":4}}`},
		{"snapshot of nothing", mustNotification(TypeExConversationChange, ExConversationChangeNotification{SubscriptionID: "S"}), `{"kind":"notification","type":"cqm.ExConversationChangeNotification","body":{"subscriptionId":"S","changes":[]}}`},
		{"messaging changes always a list", mustNotification(TypeMessagingEventNotification, MessagingEventNotification{}), `{"kind":"notification","type":"ms.MessagingEventNotification","body":{"changes":[]}}`},
		{"one change is still a list", MessagingEventNotification{Changes: List[MessagingEvent]{{DialogID: "C1", Event: Event{Type: EventChatState, ChatState: ChatPause}}}}, `{"changes":[{"dialogId":"C1","event":{"type":"ChatStateEvent","chatState":"PAUSE"}}]}`},
		{"chat state event without content fields", Event{Type: EventChatState, ChatState: ChatGone, Message: "ignored", Status: "ignored"}, `{"type":"ChatStateEvent","chatState":"GONE"}`},
		{"receipt without content fields", Event{Type: EventAcceptStatus, Status: StatusRead, SequenceList: Seqs{1, 2}, Message: "x"}, `{"type":"AcceptStatusEvent","status":"READ","sequenceList":[1,2]}`},
		{"participants map in first-seen order", Participants{AsMap: true, List: []Participant{{ID: "c", Role: RoleConsumer}, {ID: "a", Role: RoleAssignedAgent}, {ID: "c2", Role: RoleConsumer}}}, `{"CONSUMER":["c","c2"],"ASSIGNED_AGENT":["a"]}`},
		{"ids as strings", ConsumerRequestConversation{BrandID: "123", CampaignInfo: &CampaignInfo{CampaignID: "1", EngagementID: "2"}}, `{"brandId":"123","campaignInfo":{"campaignId":"1","engagementId":"2"}}`},
		{"headers in order", func() Frame {
			f := mustRequest("0", TypeInitConnection, nil)
			f.Headers = List[Header]{{Type: ".ams.headers.ConsumerAuthentication", JWT: "<t>"}}
			return f
		}(), `{"kind":"req","id":"0","type":"InitConnection","headers":[{"type":".ams.headers.ConsumerAuthentication","jwt":"<t>"}]}`},
		{"fields of another kind dropped", Frame{Kind: KindNotification, ID: "1", ReqID: "2", Code: 200, Type: "x", Headers: List[Header]{{Type: "h"}}, Metadata: json.RawMessage(`[]`)}, `{"kind":"notification","type":"x"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestMarshalUnknownKind(t *testing.T) {
	if _, err := Marshal(Frame{Kind: "event", Type: "x"}); err == nil {
		t.Error("encoding a frame of unknown kind: no error")
	}
	if _, err := NewRequest("1", "x", json.RawMessage(`{bad`)); err != nil {
		t.Fatalf("raw bodies are not checked when built: %v", err)
	}
	f, _ := NewRequest("1", "x", json.RawMessage(`{bad`))
	if _, err := Marshal(f); err == nil {
		t.Error("encoding a frame with an invalid raw body: no error")
	}
	if _, err := NewRequest("1", "x", func() {}); err == nil {
		t.Error("NewRequest with an unencodable body: no error")
	}
}

func TestResponseError(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *Error
	}{
		{"ok", `{"kind":"resp","reqId":"1","code":200,"body":"OK"}`, nil},
		{"not a response", `{"kind":"notification","type":"x","code":500}`, nil},
		{"string body", `{"kind":"resp","reqId":"1","code":409,"type":"cm.RequestConversationResponse","body":"open conversation C1"}`, &Error{Code: 409, Type: TypeRequestConversationResponse, Text: "open conversation C1"}},
		{"object body", `{"kind":"resp","reqId":"1","code":500,"body":{"msg":"x"}}`, &Error{Code: 500, Text: `{"msg":"x"}`}},
		{"no body", `{"kind":"resp","reqId":"1","code":429}`, &Error{Code: 429}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFrame([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			err = f.ResponseError()
			if tt.want == nil {
				if err != nil {
					t.Errorf("ResponseError() = %v, want nil", err)
				}
				return
			}
			var got *Error
			if !errors.As(err, &got) {
				t.Fatalf("ResponseError() = %v, want *Error", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got.Error() == "" {
				t.Error("empty error text")
			}
		})
	}
}

func TestDecodeBody(t *testing.T) {
	f, err := ParseFrame([]byte(`{"kind":"req","id":"1","type":"cm.ConsumerRequestConversation"}`))
	if err != nil {
		t.Fatal(err)
	}
	v := ConsumerRequestConversation{ChannelType: "kept"}
	if err := f.DecodeBody(&v); err != nil || v.ChannelType != "kept" {
		t.Errorf("absent body: err %v, value %+v", err, v)
	}
	f.Body = json.RawMessage(`{"brandId":{}}`)
	if err := f.DecodeBody(&v); err == nil || !strings.Contains(err.Error(), TypeConsumerRequestConversation) {
		t.Errorf("bad body: err %v, want one naming the type", err)
	}
}

func TestPath(t *testing.T) {
	if got, want := Path(PathAgentSocket, "123", "tok"), "/ws_api/account/123/messaging/brand/tok"; got != want {
		t.Errorf("Path = %q, want %q", got, want)
	}
	b := BaseURIs{BaseURIs: List[BaseURI]{{Service: ServiceAsyncMessagingEnt, BaseURI: "m"}}}
	if h, ok := b.Lookup(ServiceAsyncMessagingEnt); !ok || h != "m" {
		t.Errorf("Lookup = %q, %v", h, ok)
	}
	if _, ok := b.Lookup("AsyncMessagingEnt"); ok {
		t.Error("service names are case sensitive")
	}
}

// TestHostedFileEncode: a file built in code is written as the object
// LivePerson's tutorials send, contentType included when left empty.
func TestHostedFileEncode(t *testing.T) {
	ev := Event{Type: EventContent, File: &HostedFile{Caption: "<b>", RelativePath: "/v1/AUTH_async-images/123/x.PNG", FileType: "PNG"}}
	out, err := Marshal(PublishEvent{DialogID: "C1", Event: ev})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"dialogId":"C1","event":{"type":"ContentEvent","contentType":"hosted/file","message":{"caption":"<b>","relativePath":"/v1/AUTH_async-images/123/x.PNG","fileType":"PNG"}}}`
	if diff := cmp.Diff(want, string(out)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	var back PublishEvent
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	ev.ContentType = ContentTypeHostedFile
	if diff := cmp.Diff(ev, back.Event); diff != "" {
		t.Errorf("decoded again (-want +got):\n%s", diff)
	}
}
