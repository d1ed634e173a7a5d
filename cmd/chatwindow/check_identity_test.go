package main

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/testing/brand"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

// The tutorial's account: its sample token's aud.
const tutorialAccount = brand.TutorialAccount

// tutorialKey is the Authentication tutorial's private key, which signed
// its sample token.
func tutorialKey(*testing.T) *rsa.PrivateKey { return brand.TutorialKey() }

// publicKeyFile writes key's public key as a PEM file for -auth-key.
func publicKeyFile(t *testing.T, key *rsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "brand_public_key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// liveIDP stands for LivePerson's IDP where the embedded service cannot:
// it answers authenticate as LivePerson's does when it refuses (its
// internalErrorCode, or the code flow's {"error":{…}}), and keeps the
// requests' bodies.
type liveIDP struct {
	mu     sync.Mutex
	bodies []protocol.AuthenticateRequest
	status int
	answer string
}

func (l *liveIDP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req protocol.AuthenticateRequest
	_ = json.NewDecoder(r.Body).Decode(&req)
	l.mu.Lock()
	l.bodies = append(l.bodies, req)
	status, answer := l.status, l.answer
	l.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(answer))
}

// idpAnswer is an answer of LivePerson's IDP.
type idpAnswer struct {
	status int
	answer string
}

func (l *liveIDP) answers(a idpAnswer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.status, l.answer, l.bodies = a.status, a.answer, nil
}

func (l *liveIDP) requests() []protocol.AuthenticateRequest {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]protocol.AuthenticateRequest(nil), l.bodies...)
}

// refreshIDP is the embedded service's IDP with the refresh of an
// id_token (anonymous/authorize with a body) answered as a broken IDP
// might: refused with LivePerson's NON_AUTH_JWT_REFRESH_EXPIRED, or a new
// identity instead of the same one.
type refreshIDP struct {
	next   http.Handler
	refuse bool
}

func (p refreshIDP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/anonymous/authorize") && r.ContentLength != 0 {
		if p.refuse {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"internalErrorCode":"2001"}`))
			return
		}
		// A request without the previous id_token: a new identity.
		_, _ = io.Copy(io.Discard, r.Body)
		r = r.Clone(r.Context())
		r.Body, r.ContentLength = http.NoBody, 0
		r.Header.Del("Content-Length")
	}
	p.next.ServeHTTP(w, r)
}

// TestCheckIdentity runs `chatwindow check` with each identity the window
// can have against `chatwindow simulate`: the unauthenticated connector
// (authorize, authenticate, and the identity extended to the same
// consumer), and a brand's JWT exchanged at authenticate (the
// Authentication tutorial's sample token and key). Broken settings fail at
// their own step with advice naming what to change, and no token or code
// is ever printed.
func TestCheckIdentity(t *testing.T) {
	// The tutorial's account with the tutorial's key (and its sample
	// token's issuer) and a connector.
	out, _ := startRun(t, "simulate", "-addr", "127.0.0.1:0", "-account", tutorialAccount,
		"-auth-key", lpTutorial+"brand_public_key.pem", "-auth-issuer", "https://idp.liveperson.net", "-connector", "c1")
	tutorial := out.wait(t, listening, 10*time.Second)
	// The same account whose connector has another key, and no
	// unauthenticated connector.
	out, _ = startRun(t, "simulate", "-addr", "127.0.0.1:0", "-account", tutorialAccount,
		"-auth-key", publicKeyFile(t, testenv.Key()))
	otherKey := out.wait(t, listening, 10*time.Second)
	// Another account's service.
	out, _ = startRun(t, "simulate", "-addr", "127.0.0.1:0", "-account", "555")
	otherAccountIDP := strings.TrimPrefix(out.wait(t, listening, 10*time.Second), "http://")
	idp := &liveIDP{}
	live := httptest.NewServer(idp)
	t.Cleanup(live.Close)
	tutorialURL, err := url.Parse(tutorial)
	if err != nil {
		t.Fatal(err)
	}
	proxied := httputil.NewSingleHostReverseProxy(tutorialURL)
	refused := httptest.NewServer(refreshIDP{next: proxied, refuse: true})
	t.Cleanup(refused.Close)
	renewed := httptest.NewServer(refreshIDP{next: proxied})
	t.Cleanup(renewed.Close)

	sample, err := os.ReadFile(lpTutorial + "ext_jwt.txt")
	if err != nil {
		t.Fatal(err)
	}
	sampleJWT := strings.TrimSpace(string(sample))
	key := tutorialKey(t)
	now := time.Now()
	brand := func(iss, aud string, exp time.Time) string {
		return rs256(t, key, map[string]any{"sub": "check-customer", "iss": iss, "aud": aud, "iat": now.Add(-time.Hour).Unix(), "exp": exp.Unix()})
	}
	const iss = "https://idp.liveperson.net"
	fresh := brand(iss, "acc:"+tutorialAccount, now.Add(time.Hour))
	expiredAt := now.Add(-2 * time.Hour)
	expired := brand(iss, "acc:"+tutorialAccount, expiredAt)
	otherAccount := brand(iss, "acc:999", now.Add(time.Hour))
	otherIssuer := brand("https://login.brand.example", "acc:"+tutorialAccount, now.Add(time.Hour))

	usual := []string{"domain API", "socket", "InitConnection", "GetClock", "conversations"}
	created := append(append([]string(nil), usual...), "open conversation", "close conversation")
	tests := []struct {
		name string
		csds string
		env  map[string]string
		args []string
		// live, when set, is what LivePerson's IDP answers (LP_IDP).
		live *idpAnswer
		// steps must all pass (fails empty), with text in the output; or
		// fails fails with advice in its advice line.
		steps         []string
		text          string
		fails, advice string
		// validUntil: the row's token is published material that expires.
		validUntil time.Time
	}{
		{name: "connector", csds: tutorial, env: map[string]string{"LP_CONNECTOR_ID": "c1"}, args: []string{"-create"},
			steps: append([]string{"connector authorize", "connector authenticate", "extend identity"}, created...), text: "the refreshed id_token keeps the same consumer"},
		{name: "tutorial's sample token", csds: tutorial, env: map[string]string{"LP_AUTH_CODE": sampleJWT}, args: []string{"-create"},
			steps: append([]string{"authenticate"}, created...), text: "authenticated as brand sub +972-3-5555-555 (brand JWT expires 2031-04-26T",
			validUntil: time.Unix(1934971930, 0)},
		{name: "brand JWT signed with the tutorial's key", csds: tutorial, args: []string{"-auth-code", fresh},
			steps: append([]string{"authenticate"}, usual...), text: "authenticated as brand sub check-customer"},
		{name: "refresh refused", csds: tutorial, env: map[string]string{"LP_CONNECTOR_ID": "c1", "LP_IDP": strings.TrimPrefix(refused.URL, "http://")},
			fails: "extend identity", advice: "the IDP refused to refresh the id_token it issued a moment ago"},
		{name: "refresh makes another consumer", csds: tutorial, env: map[string]string{"LP_CONNECTOR_ID": "c1", "LP_IDP": strings.TrimPrefix(renewed.URL, "http://")},
			fails: "extend identity", advice: "the IDP's refresh made another consumer: after a 4407 the window would lose the customer's open conversation"},
		{name: "unknown connector", csds: tutorial, env: map[string]string{"LP_CONNECTOR_ID": "c2"},
			fails: "connector authenticate", advice: "LP_CONNECTOR_ID c2 is not a connector of account " + tutorialAccount},
		{name: "unknown connector by flag", csds: tutorial, env: map[string]string{"LP_CONNECTOR_ID": "c1"}, args: []string{"-connector", "c9"},
			fails: "connector authenticate", advice: "-connector c9 is not a connector of account " + tutorialAccount},
		{name: "account without unauthenticated messaging", csds: otherKey, env: map[string]string{"LP_CONNECTOR_ID": "c1"},
			fails: "connector authorize", advice: "account " + tutorialAccount + " has no unauthenticated messaging"},
		{name: "connector of another key", csds: otherKey, env: map[string]string{"LP_AUTH_CODE": sampleJWT},
			fails: "authenticate", advice: "the account's authentication connector has another public key than the one that signed this JWT"},
		{name: "expired brand JWT", csds: tutorial, env: map[string]string{"LP_AUTH_CODE": expired},
			fails: "authenticate", advice: "the brand JWT expired at " + expiredAt.UTC().Format(time.RFC3339) + ": get a fresh one from the brand's login"},
		{name: "brand JWT of another account", csds: tutorial, env: map[string]string{"LP_AUTH_CODE": otherAccount},
			fails: "authenticate", advice: `made for another account (its aud "acc:999"): the brand's login must issue it for account ` + tutorialAccount},
		{name: "brand JWT of another issuer", csds: tutorial, env: map[string]string{"LP_AUTH_CODE": otherIssuer},
			fails: "authenticate", advice: `the brand JWT's iss "https://login.brand.example" is not the issuer the account's authentication connector names`},
		{name: "IDP of another account", csds: tutorial, env: map[string]string{"LP_AUTH_CODE": fresh, "LP_IDP": otherAccountIDP},
			fails: "authenticate", advice: "the IDP at " + otherAccountIDP + " does not know account " + tutorialAccount + ": check LP_IDP"},
		{name: "IDP of another service", csds: otherKey, env: map[string]string{"LP_AUTH_CODE": fresh, "LP_IDP": strings.TrimPrefix(tutorial, "http://")},
			fails: "InitConnection", advice: "the service refused the token the IDP at " + strings.TrimPrefix(tutorial, "http://") + " just issued"},
		{name: "not a JWT", csds: tutorial, env: map[string]string{"LP_AUTH_CODE": "not-a-jwt"},
			fails: "authenticate", advice: "the IDP cannot read LP_AUTH_CODE as a brand JWT"},
		{name: "LivePerson's CUSTOMER_JWT_NOT_VALID", csds: tutorial, env: map[string]string{"LP_AUTH_CODE": fresh},
			live:  &idpAnswer{http.StatusInternalServerError, `{"internalErrorCode":"9007"}`},
			fails: "authenticate", advice: "another public key than the one that signed this JWT"},
		{name: "LivePerson's AC_CONNECTOR_NOT_FOUND", csds: tutorial, env: map[string]string{"LP_AUTH_CODE": fresh},
			live:  &idpAnswer{http.StatusInternalServerError, `{"internalErrorCode":"1024"}`},
			fails: "authenticate", advice: "account " + tutorialAccount + " has no working authentication connector"},
		{name: "LivePerson's refused OAuth code", csds: tutorial, env: map[string]string{"LP_AUTH_CODE": "b5bb9d8014a0f9b1", "LP_AUTH_REDIRECT_URI": "https://brand.example/cb"},
			live:  &idpAnswer{http.StatusUnauthorized, `{"error":{"time":"2019-07-10T19:30:16.887-04:00","message":"Failed to validate user with customer authentication service","internalCode":10}}`},
			fails: "authenticate", advice: "could not exchange the code at the brand's token endpoint"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !tt.validUntil.IsZero() && !time.Now().Before(tt.validUntil) {
				t.Skipf("the tutorial's sample token expired at %s; the row signed with the tutorial's key covers the same path", tt.validUntil)
			}
			env := map[string]string{"LP_ACCOUNT": tutorialAccount, "LP_CSDS": tt.csds}
			for k, v := range tt.env {
				env[k] = v
			}
			if tt.live != nil {
				idp.answers(*tt.live)
				env["LP_IDP"] = strings.TrimPrefix(live.URL, "http://")
			}
			var got lines
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := run(ctx, append([]string{"check", "-step-timeout", "5s"}, tt.args...), func(k string) string { return env[k] }, &got, &lines{})
			text := got.String()
			for _, secret := range []string{sampleJWT, fresh, expired, otherAccount, otherIssuer, "b5bb9d8014a0f9b1"} {
				if strings.Contains(text, secret) || (err != nil && strings.Contains(err.Error(), secret)) {
					t.Errorf("check printed a token or code:\n%s", text)
				}
			}
			if tt.fails == "" {
				if err != nil {
					t.Fatalf("check failed: %v\n%s", err, text)
				}
				for _, step := range tt.steps {
					if !strings.Contains(text, "  ok    "+step+" ") {
						t.Errorf("no ok line for %q:\n%s", step, text)
					}
				}
				if want := "all " + strconv.Itoa(len(tt.steps)) + " steps passed"; !strings.Contains(text, want) {
					t.Errorf("want %q:\n%s", want, text)
				}
				if !strings.Contains(text, tt.text) {
					t.Errorf("want %q in the output:\n%s", tt.text, text)
				}
				return
			}
			if err == nil {
				t.Fatalf("check passed:\n%s", text)
			}
			if !strings.Contains(text, "  FAIL  "+tt.fails+" ") {
				t.Errorf("want %q to fail:\n%s", tt.fails, text)
			}
			if !strings.Contains(text, "→ ") || !strings.Contains(text, tt.advice) {
				t.Errorf("want advice %q:\n%s", tt.advice, text)
			}
			if tt.fails != "extend identity" && !strings.Contains(text, "  skip  conversations") {
				t.Errorf("the steps after the failure were not skipped:\n%s", text)
			}
			if tt.live != nil {
				want := []protocol.AuthenticateRequest{{AuthCode: env["LP_AUTH_CODE"], RedirectURI: env["LP_AUTH_REDIRECT_URI"]}}
				if diff := cmp.Diff(want, idp.requests()); diff != "" {
					t.Errorf("LivePerson's IDP was asked (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestCheckIdentitySettings: check picks the identity as the window does
// (a flag over its variable), and settings that contradict each other stop
// it before any step with an error naming both, and never the code.
func TestCheckIdentitySettings(t *testing.T) {
	const code = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want checkIdentity
		err  string
	}{
		{name: "demo signup", want: checkIdentity{connectorFrom: "LP_CONNECTOR_ID", authCodeFrom: "LP_AUTH_CODE"}},
		{name: "LP_JWT", env: map[string]string{"LP_JWT": code},
			want: checkIdentity{mode: idToken, token: code, connectorFrom: "LP_CONNECTOR_ID", authCodeFrom: "LP_AUTH_CODE"}},
		{name: "connector", env: map[string]string{"LP_CONNECTOR_ID": "c1"},
			want: checkIdentity{mode: idConnector, connector: "c1", connectorFrom: "LP_CONNECTOR_ID", authCodeFrom: "LP_AUTH_CODE"}},
		{name: "the flag wins over its variable", env: map[string]string{"LP_CONNECTOR_ID": "c1"}, args: []string{"-connector", "c2"},
			want: checkIdentity{mode: idConnector, connector: "c2", connectorFrom: "-connector", authCodeFrom: "LP_AUTH_CODE"}},
		{name: "an empty flag unsets its variable", env: map[string]string{"LP_CONNECTOR_ID": "c1", "LP_AUTH_CODE": code}, args: []string{"-connector", ""},
			want: checkIdentity{mode: idAuthenticated, authCode: code, connectorFrom: "-connector", authCodeFrom: "LP_AUTH_CODE"}},
		{name: "code flow", env: map[string]string{"LP_AUTH_CODE": "abc", "LP_AUTH_REDIRECT_URI": "https://brand.example/cb", "CHATWINDOW_IDENTITY": "authenticated"},
			want: checkIdentity{mode: idAuthenticated, authCode: "abc", redirectURI: "https://brand.example/cb", connectorFrom: "LP_CONNECTOR_ID", authCodeFrom: "LP_AUTH_CODE"}},
		{name: "LP_JWT and a connector", env: map[string]string{"LP_JWT": code, "LP_CONNECTOR_ID": "c1"},
			err: "LP_JWT and LP_CONNECTOR_ID each give the customer's identity: set only one"},
		{name: "a connector and a brand JWT", env: map[string]string{"LP_CONNECTOR_ID": "c1"}, args: []string{"-auth-code", code},
			err: "LP_CONNECTOR_ID and -auth-code each give the customer's identity"},
		{name: "all three", env: map[string]string{"LP_JWT": code, "LP_AUTH_CODE": code}, args: []string{"-connector", "c1"},
			err: "LP_JWT, -connector and LP_AUTH_CODE each give"},
		{name: "page sign-in and a connector", env: map[string]string{"CHATWINDOW_IDENTITY": "authenticated", "LP_CONNECTOR_ID": "c1"},
			err: "CHATWINDOW_IDENTITY=authenticated and LP_CONNECTOR_ID each give the window's identity"},
		{name: "page sign-in without a brand JWT", env: map[string]string{"CHATWINDOW_IDENTITY": "authenticated"},
			err: `CHATWINDOW_IDENTITY=authenticated has the page sign customers in with the brand's JWT: give check one from the brand's login in LP_AUTH_CODE`},
		{name: "the window's connector without its id", env: map[string]string{"CHATWINDOW_IDENTITY": "connector"},
			err: "CHATWINDOW_IDENTITY=connector: which connector?"},
		{name: "redirect_uri without a code", args: []string{"-redirect-uri", "https://brand.example/cb"},
			err: "-redirect-uri goes with an OAuth code: set LP_AUTH_CODE"},
		{name: "redirect_uri not a URL", env: map[string]string{"LP_AUTH_CODE": code, "LP_AUTH_REDIRECT_URI": "/cb"},
			err: `LP_AUTH_REDIRECT_URI "/cb" is not an absolute URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"LP_ACCOUNT": "555"}
			for k, v := range tt.env {
				env[k] = v
			}
			getenv := func(k string) string { return env[k] }
			if tt.err == "" {
				cfg, err := parseCheck(tt.args, getenv, &lines{})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, cfg.id, cmp.AllowUnexported(checkIdentity{})); diff != "" {
					t.Errorf("identity (-want +got):\n%s", diff)
				}
				return
			}
			var stdout lines
			err := run(t.Context(), append([]string{"check"}, tt.args...), getenv, &stdout, &lines{})
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("check = %v, want an error with %q", err, tt.err)
			}
			if err != nil && strings.Contains(err.Error(), code) {
				t.Errorf("the error shows the code: %v", err)
			}
			if stdout.String() != "" {
				t.Errorf("check ran steps:\n%s", stdout.String())
			}
		})
	}
}
