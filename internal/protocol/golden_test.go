package protocol

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.want.json from the current encoder")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// noBody marks a type whose frames carry no body; a body there is an error.
var noBody = func() any { return nil }

// bodyTypes maps a canonical request or notification type to a constructor
// of its typed body. It is what a reader of the protocol does: switch on
// Canonical(f.Type) and decode the body into the struct of that type.
var bodyTypes = map[string]func() any{
	TypeInitConnection: noBody,
	TypeGetClock:       func() any { return new(struct{}) },
	TypeKeepAlive:      func() any { return new(struct{}) },

	TypeConsumerRequestConversation:     func() any { return new(ConsumerRequestConversation) },
	TypeUpdateConversationField:         func() any { return new(UpdateConversationField) },
	TypeSubscribeExConversations:        func() any { return new(SubscribeExConversations) },
	TypeAgentSubscribeExConversations:   func() any { return new(SubscribeExConversations) },
	TypeUnsubscribeExConversations:      func() any { return new(SubscriptionResponse) },
	TypeAgentUnsubscribeExConversations: func() any { return new(SubscriptionResponse) },
	TypeSubscribeMessagingEvents:        func() any { return new(SubscribeMessagingEvents) },
	TypePublishEvent:                    func() any { return new(PublishEvent) },
	TypeSetAgentState:                   func() any { return new(SetAgentState) },
	TypeSubscribeRoutingTasks:           func() any { return new(SubscribeRoutingTasks) },
	TypeUpdateRingState:                 func() any { return new(UpdateRingState) },
	TypeQueryMessages:                   func() any { return new(QueryMessages) },
	TypeGetUserProfile:                  func() any { return new(string) },
	TypeGenerateURLForUploadFile:        func() any { return new(GenerateURLForUploadFile) },
	TypeGenerateURLForDownloadFile:      func() any { return new(GenerateURLForDownloadFile) },

	TypeMessagingEventNotification: func() any { return new(MessagingEventNotification) },
	TypeExConversationChange:       func() any { return new(ExConversationChangeNotification) },
	TypeAgentExConversationChange:  func() any { return new(ExConversationChangeNotification) },
	TypeRoutingTaskNotification:    func() any { return new(RoutingTaskNotification) },
	TypeOnlineEventDistribution:    func() any { return new(MessagingEvent) },
}

// respTypes maps a canonical response type to its typed body (for code < 400).
var respTypes = map[string]func() any{
	Canonical(TypeStringResponse):           func() any { return new(string) },
	Canonical(TypeGetClockResponse):         func() any { return new(GetClockResponse) },
	TypeRequestConversationResponse:         func() any { return new(RequestConversationResponse) },
	TypeSubscribeExConvResponse:             func() any { return new(SubscriptionResponse) },
	TypeUnsubscribeExConvResponse:           func() any { return new(string) },
	Canonical(TypeGenericSubscribeResponse): noBody,
	TypePublishEventResponse:                func() any { return new(PublishEventResponse) },
	TypeUpdateConversationFieldResp:         func() any { return new(string) },
	"":                                      noBody, // a plain ack: KeepAlive's 200
	TypeGenerateURLResponse:                 func() any { return new(GenerateURLResponse) },
	"ms.BaseGenerateURLResponse":            func() any { return new(GenerateURLResponse) }, // the tutorials' spelling

	// The agent dialect: <request type>$Response.
	TypeSetAgentState + "$Response":                 func() any { return new(string) },
	TypeSubscribeRoutingTasks + "$Response":         func() any { return new(SubscriptionResponse) },
	TypeUpdateRingState + "$Response":               func() any { return new(string) },
	TypeAgentSubscribeExConversations + "$Response": func() any { return new(SubscriptionResponse) },
	TypeUpdateConversationField + "$Response":       func() any { return new(string) },
	TypePublishEvent + "$Response":                  func() any { return new(PublishEventResponse) },
	Canonical(TypeQueryMessagesResponse):            func() any { return new(List[MessagingEvent]) },
	Canonical(TypeGetUserProfileResponse):           func() any { return new(UserProfile) },
	TypeGenerateURLForUploadFile + "$Response":      func() any { return new(GenerateURLResponse) },
	TypeGenerateURLForDownloadFile + "$Response":    func() any { return new(GenerateURLResponse) },
}

// httpTypes maps a golden HTTP body's name to its typed body.
var httpTypes = map[string]func() any{
	"http_domain":       func() any { return new(BaseURIs) },
	"http_domain_one":   func() any { return new(BaseURIs) },
	"http_signup":       func() any { return new(SignupResponse) },
	"http_authenticate": func() any { return new(AuthenticateRequest) },
	"http_login":        func() any { return new(LoginRequest) },
	"http_login_resp":   func() any { return new(LoginResponse) },
	"http_refresh":      func() any { return new(RefreshRequest) },
	"http_error":        func() any { return new(HTTPError) },
}

// typedBody returns a new typed value for the frame's body, nil for a frame
// without one.
func typedBody(f Frame) (any, error) {
	var mk func() any
	switch f.Kind {
	case KindResp:
		if f.Code >= 400 {
			mk = func() any { return new(string) }
			break
		}
		mk = respTypes[Canonical(f.Type)]
	default:
		mk = bodyTypes[Canonical(f.Type)]
	}
	if mk == nil {
		return nil, fmt.Errorf("no typed body for %s %q", f.Kind, f.Type)
	}
	v := mk()
	if v == nil && len(f.Body) != 0 {
		return nil, fmt.Errorf("%s %q carries a body: %s", f.Kind, f.Type, f.Body)
	}
	return v, nil
}

// reencode decodes a frame, decodes its body into the struct of its type
// and encodes the envelope again through the package's constructors.
func reencode(in []byte) ([]byte, error) {
	f, err := ParseFrame(in)
	if err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	v, err := typedBody(f)
	if err != nil {
		return nil, err
	}
	var body any // stays a nil interface for frames without a body
	if v != nil && len(f.Body) != 0 {
		if err := f.DecodeBody(v); err != nil {
			return nil, err
		}
		body = v
	}
	var out Frame
	switch f.Kind {
	case KindReq:
		out, err = NewRequest(string(f.ID), f.Type, body)
		out.Headers, out.Metadata = f.Headers, f.Metadata
	case KindResp:
		out, err = NewResponse(f.ReqID, f.Code, f.Type, body)
	case KindNotification:
		out, err = NewNotification(f.Type, body)
	default:
		return nil, fmt.Errorf("kind %q", f.Kind)
	}
	if err != nil {
		return nil, err
	}
	return Marshal(out)
}

// reencodeHTTP does the same for an HTTP body of the golden set.
func reencodeHTTP(name string, in []byte) ([]byte, error) {
	v := httpTypes[name]()
	if err := json.Unmarshal(in, v); err != nil {
		return nil, err
	}
	return Marshal(v)
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		t.Fatalf("compact %q: %v", b, err)
	}
	return buf.String()
}

// TestGolden decodes example frames of the wire
// (testdata/golden/NAME.in.json, verbatim; NAME's prefix says what they show:
// http the HTTP services, s2 the connection, s3 errors, s4 the consumer's
// requests and notifications, s6 the agent side, s7 a malformed frame, tut
// LivePerson's tutorial, one frames whose one-element arrays came as the
// element itself, as Protocol Overview allows; see docs/protocol.md,
// Frames) and checks that the strict
// re-encoding is NAME.want.json, and that the re-encoding of NAME.want.json
// is itself.
func TestGolden(t *testing.T) {
	ins, err := filepath.Glob(filepath.Join("testdata", "golden", "*.in.json"))
	if err != nil || len(ins) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	for _, inPath := range ins {
		name := strings.TrimSuffix(filepath.Base(inPath), ".in.json")
		t.Run(name, func(t *testing.T) {
			enc := reencode
			if _, ok := httpTypes[name]; ok {
				enc = func(b []byte) ([]byte, error) { return reencodeHTTP(name, b) }
			}
			in, err := os.ReadFile(inPath)
			if err != nil {
				t.Fatal(err)
			}
			got, err := enc(in)
			if err != nil {
				t.Fatalf("re-encode %s: %v", in, err)
			}
			wantPath := filepath.Join("testdata", "golden", name+".want.json")
			if *update {
				if err := os.WriteFile(wantPath, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(wantPath)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(compact(t, want), string(got)); diff != "" {
				t.Errorf("re-encoding of %s (-want +got):\n%s", inPath, diff)
			}
			again, err := enc(want)
			if err != nil {
				t.Fatalf("re-encode want: %v", err)
			}
			if diff := cmp.Diff(compact(t, want), string(again)); diff != "" {
				t.Errorf("want is not a fixed point (-want +got):\n%s", diff)
			}
		})
	}
}
