package simulator

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// connectorProfile is the SetUserProfile body of the Connector API's
// CONVERSATION example, with privateData as setUserProfile.json has it.
const connectorProfile = `{"authenticatedData":{"lp_sdes":[` +
	`{"type":"ctmrinfo","info":{"socialId":"1234567890","ctype":"vip"}},` +
	`{"type":"personal","personal":{"firstname":"John","lastname":"Doe","gender":"MALE"}}]},` +
	`"privateData":{"mobileNum":"+1-555-0100","mail":"john@example.com","pushNotificationData":{"serviceName":"s","certName":"c","token":"t"}}}`

// setProfile sends a SetUserProfile with a raw body; it returns the answer.
func (c *client) setProfile(body string) protocol.Frame {
	c.t.Helper()
	c.ids++
	id := fmt.Sprintf("p%d", c.ids)
	c.sendRaw(`{"kind":"req","id":"` + id + `","type":"userprofile.SetUserProfile","body":` + body + `}`)
	return c.resp(id)
}

// agentProfile is the agent socket's GetUserProfile of a consumer.
func agentProfile(t *testing.T, a *client, consumerID string) (protocol.UserProfile, string) {
	t.Helper()
	r := a.ok(".ams.userprofile.GetUserProfile", consumerID)
	return decode[protocol.UserProfile](t, r), string(r.Body)
}

// TestSetUserProfile: a consumer's SetUserProfile SDEs are stored and read
// back by agents in GetUserProfile (authenticatedData.lp_sdes), with its
// name from the personal SDE and its text privateData; a later profile
// replaces it; the service's Consumer says the same.
func TestSetUserProfile(t *testing.T) {
	e := newEnv(t)
	tok := e.signup()
	id := payload(t, tok)["sub"].(string)
	c := e.consumer(tok)
	r := c.setProfile(connectorProfile)
	if r.Code != 200 || r.Type != ".ReqBody$StringResp" || r.BodyString() != "OK User Profile set successfully" {
		t.Fatalf("SetUserProfile: %d %s %s", r.Code, r.Type, r.Body)
	}
	a, _ := e.agent("alice")
	p, raw := agentProfile(t, a, id)
	var want struct {
		AuthenticatedData protocol.AuthenticatedData `json:"authenticatedData"`
	}
	if err := json.Unmarshal([]byte(connectorProfile), &want); err != nil {
		t.Fatal(err)
	}
	if p.AuthenticatedData == nil || !cmp.Equal(compact(t, want.AuthenticatedData.LPSDEs), compact(t, p.AuthenticatedData.LPSDEs)) {
		t.Errorf("authenticatedData %s", raw)
	}
	wantPrivate := map[string]string{"mobileNum": "+1-555-0100", "mail": "john@example.com"}
	if p.FirstName != "John" || p.LastName != "Doe" || !cmp.Equal(wantPrivate, p.PrivateData) || p.Claims != nil || p.ACR != "" {
		t.Errorf("profile %s", raw)
	}

	// One SDE as the element itself (Protocol Overview, single element
	// arrays) and a name of its own; it replaces the first profile.
	c.setProfile(`{"firstName":"Jo","authenticatedData":{"lp_sdes":{"type":"ctmrinfo","info":{"ctype":"gold"}}}}`)
	p, raw = agentProfile(t, a, id)
	if p.FirstName != "Jo" || len(p.AuthenticatedData.LPSDEs) != 1 || !strings.Contains(raw, `"lp_sdes":[{`) || len(p.PrivateData) != 0 {
		t.Errorf("second profile %s", raw)
	}
	info, ok := e.svc.Consumer(id)
	if !ok || info.Authenticated || !cmp.Equal(p, info.Profile) {
		t.Errorf("Consumer(%s) = %+v, agents read %+v", id, info, p)
	}
}

// TestAuthenticatedProfile: for a brand-authenticated consumer agents also
// read the brand token's claims (lp_sdes as an array even when the brand
// sent one SDE) and acr loa1, with its name from given_name until its own
// profile names it.
func TestAuthenticatedProfile(t *testing.T) {
	e := newEnv(t, withBrandKey)
	claims := brandClaims("cust-9")
	claims["lp_sdes"] = map[string]any{"type": "ctmrinfo", "info": map[string]any{"customerId": "138766AC"}}
	tok := e.authToken(tutorialAccount, signBrand(t, tutorialPrivateKey(), claims))
	id := payload(t, tok)["sub"].(string)
	a := e.agentAt(tutorialAccount)
	p, raw := agentProfile(t, a, id)
	var got struct {
		Iss    string            `json:"iss"`
		Sub    string            `json:"sub"`
		LPSDEs []json.RawMessage `json:"lp_sdes"`
	}
	if err := json.Unmarshal(p.Claims, &got); err != nil || got.Iss != "https://idp.liveperson.net" || got.Sub != "cust-9" || len(got.LPSDEs) != 1 {
		t.Errorf("claims %s (%v)", p.Claims, err)
	}
	if p.ACR != "loa1" || p.FirstName != "Eitan" {
		t.Errorf("profile %s", raw)
	}
	e.consumerAt(tutorialAccount, tok).setProfile(connectorProfile)
	if p, raw = agentProfile(t, a, id); p.FirstName != "John" || p.Claims == nil {
		t.Errorf("profile after SetUserProfile %s", raw)
	}
}

// TestSetUserProfileRefusals: a bad profile gets 400 naming what is wrong
// and the stored profile stays as it was.
func TestSetUserProfileRefusals(t *testing.T) {
	e := newEnv(t)
	tok := e.signup()
	id := payload(t, tok)["sub"].(string)
	c := e.consumer(tok)
	c.setProfile(connectorProfile)
	before, _ := e.svc.Consumer(id)
	tests := []struct {
		name, body, reason string
	}{
		{"not an object", `"John"`, "bad body"},
		{"SDE not an object", `{"authenticatedData":{"lp_sdes":["vip"]}}`, "not an object"},
		{"SDE without type", `{"authenticatedData":{"lp_sdes":[{"info":{}}]}}`, "no type"},
		{"SDE of another type", `{"authenticatedData":{"lp_sdes":[{"type":"purchase","total":{"value":1}}]}}`, "want ctmrinfo or personal"},
		{"ctmrinfo without info", `{"authenticatedData":{"lp_sdes":[{"type":"ctmrinfo"}]}}`, `needs the object "info"`},
		{"personal not an object", `{"authenticatedData":{"lp_sdes":[{"type":"personal","personal":"John"}]}}`, `needs the object "personal"`},
		{"privateData not an object", `{"privateData":"secret"}`, "privateData must be an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.setProfile(tt.body)
			if r.Code != 400 || !strings.Contains(r.BodyString(), tt.reason) {
				t.Fatalf("%d %s, want 400 naming %q", r.Code, r.Body, tt.reason)
			}
			after, _ := e.svc.Consumer(id)
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("a refused profile changed the consumer (-before +after):\n%s", diff)
			}
		})
	}
}

// compact re-encodes raw JSON values without spaces, for comparison.
func compact(t *testing.T, in []json.RawMessage) []string {
	t.Helper()
	var out []string
	for _, r := range in {
		var v any
		if err := json.Unmarshal(r, &v); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		out = append(out, string(b))
	}
	return out
}
