package simulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

const testConnector = "conn-1"

func withConnector(c *Config) { c.ConnectorID = testConnector }

// postRaw sends body as it is and returns the status and the decoded
// answer (nil when it is not JSON).
func (e *env) postRaw(path, body string) (int, map[string]any) {
	e.t.Helper()
	resp, err := http.Post(e.url(path), "application/json", strings.NewReader(body))
	if err != nil {
		e.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// idToken asks anonymous/authorize for an id_token: a new identity when
// old is empty, else old refreshed.
func (e *env) idToken(old string) string {
	e.t.Helper()
	body := ""
	if old != "" {
		body = `{"id_token":"` + old + `"}`
	}
	code, out := e.postRaw(protocol.Path(protocol.PathAnonymousAuthorize, testAccount), body)
	tok, _ := out["token"].(string)
	if code != 200 || tok == "" {
		e.t.Fatalf("anonymous/authorize: %d %v", code, out)
	}
	return tok
}

// connectorToken exchanges an id_token at the connector for a consumer
// token.
func (e *env) connectorToken(idToken string) string {
	e.t.Helper()
	code, out := e.postRaw(protocol.Path(protocol.PathConnectorAuthenticate, testAccount, testConnector)+"?v=3.0", `{"id_token":"`+idToken+`"}`)
	tok, _ := out["token"].(string)
	if code != 200 || tok == "" {
		e.t.Fatalf("connector authenticate: %d %v", code, out)
	}
	return tok
}

// TestConnectorFlow: Unauthenticated Messaging step by step: a new
// identity's id_token (10 min by default), exchanged for a consumer token
// (24 h) that opens a socket; once the id_token expired it is refreshed
// (the same identity) and exchanged again: the same consumer, whose
// conversation is still open.
func TestConnectorFlow(t *testing.T) {
	e := newEnv(t, withConnector)
	ext := e.idToken("")
	ec := payload(t, ext)
	if exp, iat := int64(ec["exp"].(float64)), int64(ec["iat"].(float64)); exp-iat != int64((10 * time.Minute).Seconds()) {
		t.Errorf("id_token lives %d s, want 600", exp-iat)
	}
	tok := e.connectorToken(ext)
	tc := payload(t, tok)
	if tc["sub"] != ec["sub"] || int64(tc["exp"].(float64))-int64(tc["iat"].(float64)) != int64((24*time.Hour).Seconds()) {
		t.Errorf("consumer token %v from id_token %v", tc, ec)
	}
	if _, ext := tc["lp.ext"]; ext {
		t.Error("an unauthenticated identity's token carries lp.ext")
	}
	conv := e.consumer(tok).openConversation()

	e.clock.Advance(11 * time.Minute)
	if code, out := e.postRaw(protocol.Path(protocol.PathConnectorAuthenticate, testAccount, testConnector)+"?v=3.0", `{"id_token":"`+ext+`"}`); code != 401 || !strings.Contains(out["error"].(string), "expired") {
		t.Errorf("expired id_token at the connector: %d %v, want 401 expired", code, out)
	}
	fresh := e.idToken(ext)
	if payload(t, fresh)["sub"] != ec["sub"] {
		t.Fatalf("refreshed id_token %v, want the same identity %v", payload(t, fresh)["sub"], ec["sub"])
	}
	again := e.consumer(e.connectorToken(fresh))
	if r := again.wantCode(409, "cm.ConsumerRequestConversation", nil); !strings.Contains(r.BodyString(), conv) {
		t.Errorf("the same identity does not find its open conversation: %s", r.BodyString())
	}

	for _, body := range []string{"", "{}"} {
		code, out := e.postRaw(protocol.Path(protocol.PathAnonymousAuthorize, testAccount), body)
		if tok, _ := out["token"].(string); code != 200 || payload(t, tok)["sub"] == ec["sub"] {
			t.Errorf("new identity with body %q: %d %v", body, code, out)
		}
	}
}

// TestConnectorRefusals: each refusal of the connector flow, with its
// status and a JSON error naming the reason.
func TestConnectorRefusals(t *testing.T) {
	e := newEnv(t, withConnector, func(c *Config) { c.ExtTokenRefresh = time.Hour })
	none := newEnv(t)
	other := newEnv(t, withConnector, func(c *Config) { c.Account = "999" })
	ext := e.idToken("")
	stale := e.idToken("")
	code, out := other.postRaw(protocol.Path(protocol.PathAnonymousAuthorize, "999"), "")
	if code != 200 {
		t.Fatalf("other account: %d %v", code, out)
	}
	foreign := out["token"].(string)
	consumerToken := e.signup()

	authorize := protocol.Path(protocol.PathAnonymousAuthorize, testAccount)
	exchange := protocol.Path(protocol.PathConnectorAuthenticate, testAccount, testConnector) + "?v=3.0"
	tests := []struct {
		name      string
		env       *env
		path      string
		body      string
		advance   time.Duration
		code      int
		reason    string
		socketOK  bool
		socketTok string
	}{
		{"no connector: authorize", none, authorize, "", 0, 404, "no unauthenticated connector", false, ""},
		{"no connector: authenticate", none, exchange, `{"id_token":"` + ext + `"}`, 0, 404, "no unauthenticated connector", false, ""},
		{"another connector", e, protocol.Path(protocol.PathConnectorAuthenticate, testAccount, "conn-2") + "?v=3.0", `{"id_token":"` + ext + `"}`, 0, 404, "unknown connector", false, ""},
		{"no v", e, protocol.Path(protocol.PathConnectorAuthenticate, testAccount, testConnector), `{"id_token":"` + ext + `"}`, 0, 400, "missing v", false, ""},
		{"authorize: not JSON", e, authorize, `{"id_token":`, 0, 400, "body must be", false, ""},
		{"authenticate: no id_token", e, exchange, `{}`, 0, 400, "body must be", false, ""},
		{"authorize: garbage", e, authorize, `{"id_token":"a.b.c"}`, 0, 401, "malformed", false, ""},
		{"authenticate: a consumer token", e, exchange, `{"id_token":"` + consumerToken + `"}`, 0, 401, "issuer", false, ""},
		{"authorize: a consumer token", e, authorize, `{"id_token":"` + consumerToken + `"}`, 0, 401, "issuer", false, ""},
		{"authenticate: another account's", e, exchange, `{"id_token":"` + foreign + `"}`, 0, 401, "another account", false, ""},
		{"id_token opens no socket", e, "", "", 0, 0, "", false, ext},
		// The clock moves on from here.
		{"authorize: past the refresh period", e, authorize, `{"id_token":"` + stale + `"}`, 71 * time.Minute, 401, "refresh period", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env.clock.Advance(tt.advance)
			if tt.socketTok != "" {
				h := http.Header{}
				h.Set("Authorization", "jwt "+tt.socketTok)
				if _, resp, err := tt.env.tryDial(protocol.Path(protocol.PathConsumerSocket, testAccount)+"?v=3", h); err == nil || resp == nil || resp.StatusCode != 401 {
					t.Fatalf("socket with an id_token: %v %v, want HTTP 401", err, resp)
				}
				return
			}
			code, out := tt.env.postRaw(tt.path, tt.body)
			msg, _ := out["error"].(string)
			if code != tt.code || !strings.Contains(msg, tt.reason) {
				t.Errorf("%d %q, want %d naming %q", code, msg, tt.code, tt.reason)
			}
		})
	}
}
