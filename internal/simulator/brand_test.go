package simulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/jws"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// The Authentication tutorial's own material (testdata/lptutorial/README.md):
// its brand key pair, its sample brand token and LivePerson's answer to it.
const tutorialAccount = "qa57221676"

var (
	tutorialPublicPEM = sync.OnceValue(func() []byte { return readTestdata("lptutorial/brand_public_key.pem") })
	tutorialKey       = sync.OnceValue(func() *rsa.PublicKey {
		k, err := ParseBrandKey(tutorialPublicPEM())
		if err != nil {
			panic(err)
		}
		return k
	})
	tutorialPrivateKey = sync.OnceValue(func() *rsa.PrivateKey {
		block, _ := pem.Decode(readTestdata("lptutorial/brand_private_key.pem"))
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			panic(err)
		}
		return k
	})
	tutorialToken  = sync.OnceValue(func() string { return strings.TrimSpace(string(readTestdata("lptutorial/ext_jwt.txt"))) })
	tutorialAnswer = sync.OnceValue(func() string { return strings.TrimSpace(string(readTestdata("lptutorial/lp_auth_jwt.txt"))) })
)

func readTestdata(name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		panic(err)
	}
	return b
}

// withBrandKey runs the service for the tutorial's account with the
// tutorial's brand key.
func withBrandKey(c *Config) {
	c.Account = tutorialAccount
	c.AuthKey = tutorialKey()
}

// brandClaims are the claims of a brand token the tests sign: the
// tutorial's "Further Testing" payload, moved to the test clock.
func brandClaims(sub string) map[string]any {
	return map[string]any{
		"sub": sub, "iss": "https://idp.liveperson.net", "aud": "acc:" + tutorialAccount,
		"iat": epoch.Add(-time.Minute).Unix(), "exp": epoch.Add(time.Hour).Unix(), "given_name": "Eitan",
	}
}

// signBrand signs claims as the brand would (RS256 with key).
func signBrand(t testing.TB, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	tok, err := jws.SignRS256(key, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// authenticate posts an authCode; it returns the status and the answer.
func (e *env) authenticate(account, authCode string) (int, map[string]any) {
	e.t.Helper()
	var out map[string]any
	code := e.post(protocol.Path(protocol.PathAuthenticate, account), protocol.AuthenticateRequest{AuthCode: authCode}, &out)
	return code, out
}

// authToken authenticates and returns the consumer token, failing the
// test unless it gets one.
func (e *env) authToken(account, authCode string) string {
	e.t.Helper()
	code, out := e.authenticate(account, authCode)
	jwt, _ := out["jwt"].(string)
	if code != 200 || jwt == "" {
		e.t.Fatalf("authenticate: %d %v", code, out)
	}
	return jwt
}

// consumerAt opens a consumer socket of account, authenticated by header.
func (e *env) consumerAt(account, token string) *client {
	e.t.Helper()
	h := http.Header{}
	h.Set("Authorization", "jwt "+token)
	return e.dial(protocol.Path(protocol.PathConsumerSocket, account)+"?v=3", h)
}

// agentAt logs alice in at account and opens her socket, ONLINE and
// subscribed to routing tasks.
func (e *env) agentAt(account string) *client {
	e.t.Helper()
	var l protocol.LoginResponse
	if code := e.post(protocol.Path(protocol.PathAgentLogin, account)+"?v=1.3", protocol.LoginRequest{Username: "alice", Password: "pw-a"}, &l); code != 200 {
		e.t.Fatalf("login: %d", code)
	}
	a := e.dial(protocol.Path(protocol.PathAgentSocket, account, l.Bearer)+"?v=2.1", nil)
	a.ok(".ams.routing.SetAgentState", protocol.SetAgentState{Availability: "ONLINE"})
	a.ok(".ams.routing.SubscribeRoutingTasks", protocol.SubscribeRoutingTasks{ChannelType: "MESSAGING", BrandID: protocol.ID(account)})
	return a
}

// payload decodes a JWT's claims, unverified.
func payload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestParseBrandKey: the brand's key is read as the connector's PEM, the
// bare base64 of its "JWT Public Key" field (the tutorial's full stop
// included) or PKCS #1; anything else is refused with a reason.
func TestParseBrandKey(t *testing.T) {
	block, _ := pem.Decode(tutorialPublicPEM())
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(tutorialKey())})
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, wantErr string
	}{
		{"tutorial PEM", string(tutorialPublicPEM()), ""},
		{"connector field, as the tutorial prints it", base64.StdEncoding.EncodeToString(block.Bytes) + ".", ""},
		{"connector field wrapped", "  " + base64.StdEncoding.EncodeToString(block.Bytes)[:40] + "\n" + base64.StdEncoding.EncodeToString(block.Bytes)[40:] + "\n", ""},
		{"PKCS #1 PEM", string(pkcs1), ""},
		{"private key PEM", string(readTestdata("lptutorial/brand_private_key.pem")), "want PUBLIC KEY"},
		{"EC key", string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})), "want an RSA key"},
		{"garbage", "not a key!", "neither PEM nor base64"},
		{"base64 of nothing useful", base64.StdEncoding.EncodeToString([]byte("hello")), "brand key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseBrandKey([]byte(tt.in))
			if tt.wantErr == "" {
				if err != nil || !k.Equal(tutorialKey()) {
					t.Fatalf("ParseBrandKey: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ParseBrandKey: %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
}

// TestAuthenticateTutorialToken: LivePerson's authentication tutorial, with
// its published key and its sample token unchanged, against the service
// for the tutorial's account. The sample token expires in 2031; the
// service runs on the test clock (2025), so the test does not depend on
// the date it runs. The answer has the claims of LivePerson's own answer
// in the tutorial, lp.ext naming the brand's sub and iss; the token opens
// a socket, and the agent reads the brand's claims in GetUserProfile.
func TestAuthenticateTutorialToken(t *testing.T) {
	e := newEnv(t, withBrandKey)
	jwt := e.authToken(tutorialAccount, tutorialToken())

	got, want := payload(t, jwt), payload(t, tutorialAnswer())
	if diff := cmp.Diff(keysOf(want), keysOf(got)); diff != "" {
		t.Errorf("claims of the answer (-LivePerson's +ours):\n%s", diff)
	}
	ext, _ := got["lp.ext"].(map[string]any)
	if diff := cmp.Diff(keysOf(want["lp.ext"].(map[string]any)), keysOf(ext)); diff != "" {
		t.Errorf("lp.ext (-LivePerson's +ours):\n%s", diff)
	}
	sub, _ := got["sub"].(string)
	if len(sub) != 64 || got["aud"] != "acc:"+tutorialAccount || ext["sub"] != "+972-3-5555-555" || ext["iss"] != "https://idp.liveperson.net" || ext["lp_sdes"] == "" {
		t.Errorf("answer claims %v", got)
	}
	if exp := int64(got["exp"].(float64)); exp != epoch.Add(24*time.Hour).Unix() {
		t.Errorf("exp %d, want the 24 h TokenTTL (the brand token's own exp is 2031)", exp)
	}

	c := e.consumerAt(tutorialAccount, jwt)
	conv := c.openConversation()
	a := e.agentAt(tutorialAccount)
	task := a.nextRing()
	a.ok(".ams.routing.UpdateRingState", protocol.UpdateRingState{RingID: task.RingsDetails[0].RingID, RingState: "ACCEPTED"})
	if task.ConsumerID != sub || task.ConversationID != conv {
		t.Errorf("ring %+v, want consumer %s", task, sub)
	}
	r := a.ok(".ams.userprofile.GetUserProfile", sub)
	p := decode[protocol.UserProfile](t, r)
	var claims map[string]any
	if err := json.Unmarshal(p.Claims, &claims); err != nil {
		t.Fatalf("claims %s: %v", p.Claims, err)
	}
	if claims["sub"] != "+972-3-5555-555" || claims["name"] != "Eitan" || p.ACR != "loa1" || p.FirstName != "Eitan" {
		t.Errorf("profile %s", r.Body)
	}
	info, ok := e.svc.Consumer(sub)
	if !ok || !info.Authenticated || info.BrandSub != "+972-3-5555-555" || info.BrandIss != "https://idp.liveperson.net" {
		t.Errorf("Consumer(%s) = %+v, %v", sub, info, ok)
	}
}

// TestAuthenticateRefusals: with the brand's key, every bad brand token is
// refused with 401 and a JSON error naming the reason, and makes no
// consumer; a bad body gets 400.
func TestAuthenticateRefusals(t *testing.T) {
	e := newEnv(t, withBrandKey, func(c *Config) { c.AuthIssuer = "https://idp.liveperson.net" })
	priv := tutorialPrivateKey()
	with := func(mod func(map[string]any)) string {
		c := brandClaims("user-1")
		mod(c)
		return signBrand(t, priv, c)
	}
	good := with(func(map[string]any) {})
	parts := strings.Split(good, ".")
	enc := base64.RawURLEncoding.EncodeToString
	tests := []struct {
		name, account, authCode string
		code                    int
		reason                  string
	}{
		{"good", tutorialAccount, good, 200, ""},
		{"audience list naming the account", tutorialAccount, with(func(c map[string]any) { c["aud"] = []string{"other", "acc:" + tutorialAccount} }), 200, ""},
		{"no audience", tutorialAccount, with(func(c map[string]any) { delete(c, "aud") }), 200, ""},
		{"another key", tutorialAccount, signBrand(t, testKey(), brandClaims("user-1")), 401, "signature"},
		{"tampered claims", tutorialAccount, parts[0] + "." + enc([]byte(`{"sub":"admin","iss":"https://idp.liveperson.net","iat":1,"exp":4102444800}`)) + "." + parts[2], 401, "signature"},
		{"alg HS256", tutorialAccount, enc([]byte(`{"alg":"HS256"}`)) + "." + parts[1] + "." + parts[2], 401, "signature invalid: alg"},
		{"alg none", tutorialAccount, enc([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".", 401, "signature invalid: alg"},
		{"expired", tutorialAccount, with(func(c map[string]any) { c["exp"] = epoch.Add(-time.Second).Unix() }), 401, "expired"},
		{"expiring now", tutorialAccount, with(func(c map[string]any) { c["exp"] = epoch.Unix() }), 401, "expired"},
		{"another audience", tutorialAccount, with(func(c map[string]any) { c["aud"] = "acc:123" }), 401, "audience"},
		{"audience list without the account", tutorialAccount, with(func(c map[string]any) { c["aud"] = []string{"a", "b"} }), 401, "audience"},
		{"another issuer", tutorialAccount, with(func(c map[string]any) { c["iss"] = "https://evil.example" }), 401, "issuer"},
		{"no issuer", tutorialAccount, with(func(c map[string]any) { delete(c, "iss") }), 401, "mandatory"},
		{"no iat", tutorialAccount, with(func(c map[string]any) { delete(c, "iat") }), 401, "mandatory"},
		{"no exp", tutorialAccount, with(func(c map[string]any) { delete(c, "exp") }), 401, "no exp"},
		{"no sub", tutorialAccount, with(func(c map[string]any) { delete(c, "sub") }), 401, "no sub"},
		{"lp_sdes not SDEs", tutorialAccount, with(func(c map[string]any) { c["lp_sdes"] = []any{"vip"} }), 401, "lp_sdes"},
		{"not a JWT", tutorialAccount, "nope", 401, "malformed"},
		{"encrypted (JWE)", tutorialAccount, "a.b.c.d.e", 401, "malformed"},
		{"unknown account", "123", good, 401, "unknown account"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := e.authenticate(tt.account, tt.authCode)
			if code != tt.code {
				t.Fatalf("status %d %v, want %d", code, out, tt.code)
			}
			if tt.code == 200 {
				return
			}
			msg, _ := out["error"].(string)
			if !strings.Contains(msg, tt.reason) {
				t.Errorf("error %q does not name %q", msg, tt.reason)
			}
			if _, ok := e.svc.Consumer(brandConsumerID(tutorialAccount, "admin")); ok {
				t.Error("a refused token made a consumer")
			}
		})
	}
	for name, body := range map[string]string{"not JSON": "{", "no authCode": `{"code":"x"}`} {
		resp, err := http.Post(e.url(protocol.Path(protocol.PathAuthenticate, tutorialAccount)), "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", name, resp.StatusCode)
		}
	}
	e.svc.mu.Lock()
	n := len(e.svc.consumers)
	e.svc.mu.Unlock()
	if n != 1 { // user-1, of the three good tokens
		t.Errorf("%d consumers, want 1", n)
	}
}

// TestAuthenticateWithoutKey: without the brand's key (the demo) the
// signature is not checked; sub and a future exp still are.
func TestAuthenticateWithoutKey(t *testing.T) {
	e := newEnv(t)
	unsigned := func(claims map[string]any) string {
		b, _ := json.Marshal(claims)
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"RS256"}`)) + "." + enc(b) + ".c2ln"
	}
	tests := []struct {
		name   string
		claims map[string]any
		code   int
	}{
		{"any signature", map[string]any{"sub": "u", "exp": epoch.Add(time.Hour).Unix()}, 200},
		{"expired", map[string]any{"sub": "u", "exp": epoch.Add(-time.Hour).Unix()}, 401},
		{"no sub", map[string]any{"exp": epoch.Add(time.Hour).Unix()}, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, out := e.authenticate(testAccount, unsigned(tt.claims)); code != tt.code {
				t.Errorf("status %d %v, want %d", code, out, tt.code)
			}
		})
	}
}

// TestSameSubSameConsumer: two devices of one brand customer (two brand
// tokens of the same sub, each exchanged for its own consumer token) are
// one consumer: the same open conversation, the same history; another
// sub is another consumer. The latest token's details are what agents
// read.
func TestSameSubSameConsumer(t *testing.T) {
	e := newEnv(t, withBrandKey)
	priv := tutorialPrivateKey()
	phone := e.authToken(tutorialAccount, signBrand(t, priv, brandClaims("cust-7")))
	e.clock.Advance(time.Minute)
	later := brandClaims("cust-7")
	later["iat"], later["given_name"] = epoch.Unix(), "Eitan B."
	laptop := e.authToken(tutorialAccount, signBrand(t, priv, later))
	if phone == laptop {
		t.Fatal("two authentications gave one token")
	}
	if a, b := payload(t, phone)["sub"], payload(t, laptop)["sub"]; a != b {
		t.Fatalf("sub %v and %v, want one consumer", a, b)
	}

	dev1 := e.consumerAt(tutorialAccount, phone)
	conv := dev1.openConversation()
	dev1.ok("ms.SubscribeMessagingEvents", protocol.SubscribeMessagingEvents{DialogID: conv})
	dev1.ok("ms.PublishEvent", text(conv, "from my phone"))

	dev2 := e.consumerAt(tutorialAccount, laptop)
	dev2.ok("cqm.SubscribeExConversations", protocol.SubscribeExConversations{Stage: protocol.Strings{"OPEN"}})
	snap := decode[protocol.ExConversationChangeNotification](t, dev2.notif("cqm.ExConversationChangeNotification"))
	if len(snap.Changes) != 1 || snap.Changes[0].Result.ConvID != conv {
		t.Fatalf("second device sees %+v, want conversation %s", snap.Changes, conv)
	}
	if r := dev2.wantCode(409, "cm.ConsumerRequestConversation", nil); !strings.Contains(r.BodyString(), conv) {
		t.Errorf("409 %q does not name %s", r.BodyString(), conv)
	}
	dev2.ok("ms.SubscribeMessagingEvents", protocol.SubscribeMessagingEvents{DialogID: conv})
	replay := decode[protocol.MessagingEventNotification](t, dev2.notif("ms.MessagingEventNotification"))
	if len(replay.Changes) != 1 || replay.Changes[0].Event.Message != "from my phone" {
		t.Fatalf("history on the second device: %+v", replay.Changes)
	}
	dev2.ok("ms.PublishEvent", text(conv, "and my laptop"))
	dev1.take("the laptop's line on the phone", func(f protocol.Frame) bool {
		return f.Type == "ms.MessagingEventNotification" && strings.Contains(string(f.Body), "and my laptop")
	})

	other := e.consumerAt(tutorialAccount, e.authToken(tutorialAccount, signBrand(t, priv, brandClaims("cust-8"))))
	if id := other.openConversation(); id == conv {
		t.Error("another sub got the same conversation")
	}
	info, _ := e.svc.Consumer(payload(t, phone)["sub"].(string))
	if info.Profile.FirstName != "Eitan B." {
		t.Errorf("agents read %q, want the latest token's given_name", info.Profile.FirstName)
	}
}
