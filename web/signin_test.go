package web_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/brand"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
	"github.com/chatwindow/chatwindow/web/node"
	"github.com/chatwindow/chatwindow/web/window"
)

// tutorialAccount is the account of LivePerson's Authentication tutorial.
const tutorialAccount = brand.TutorialAccount

func readTutorial(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(brand.Tutorial(name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSpace(b)
}

// signBrand signs claims as a brand's identity provider would (RS256).
func signBrand(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	tok, err := brand.Sign(key, claims)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// authSite is the chat window of authenticated customers
// (LPJsMethodName) on a service that verifies brand tokens with the
// tutorial's key.
func authSite(t *testing.T) *httptest.Server {
	t.Helper()
	key, err := simulator.ParseBrandKey(readTutorial(t, "brand_public_key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	lp := testenv.NewService(t, simulator.Config{Account: tutorialAccount, AuthKey: key})
	site := httptest.NewServer(newNode(t, node.Config{
		Endpoints: lp.EP, HTTPClient: lp.Srv.Client(), Grace: 100 * time.Millisecond,
		Web:      window.Config{SessionKeys: sessionKeys},
		Identity: node.Identity{AuthMethod: "LPJsMethodName"},
	}))
	t.Cleanup(site.Close)
	return site
}

// postJSON posts body as contentType with the page's origin and returns
// the answer and its text.
func postJSON(t *testing.T, hc *http.Client, u, origin, contentType, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", contentType)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func signInBody(code string) string {
	b, _ := json.Marshal(map[string]string{"code": code})
	return string(b)
}

// TestSignInRefusals: the window of authenticated customers names the
// page's sign-in function and loads its script; what the page posts is
// refused, with a clear reason and nothing created (no cookie, the window
// still anonymous), when it comes from another site, is not JSON, has no
// code, or carries a brand token the IDP refuses: signed with another key,
// or expired.
func TestSignInRefusals(t *testing.T) {
	site := authSite(t)
	hc := client(t)
	_, body := get(t, hc, site.URL+"/")
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if got := doc.Find(`main[data-testid="chat"]`).AttrOr("data-auth-method", ""); got != "LPJsMethodName" {
		t.Errorf("the window's data-auth-method = %q, want LPJsMethodName", got)
	}
	if doc.Find(`script[src*="signin."]`).Length() != 1 {
		t.Error("the window does not load signin.js")
	}

	later := time.Now().Add(time.Hour).Unix()
	claims := func(exp int64) map[string]any {
		return map[string]any{"sub": "+972-3-5555-555", "iss": "https://idp.liveperson.net", "aud": "acc:" + tutorialAccount, "iat": time.Now().Add(-time.Minute).Unix(), "exp": exp}
	}
	tests := []struct {
		name, origin, contentType, body string
		code                            int
		says                            string
	}{
		{"another site", "http://evil.example", "application/json", signInBody(string(readTutorial(t, "ext_jwt.txt"))), http.StatusForbidden, "may not"},
		{"a form", site.URL, "application/x-www-form-urlencoded", "code=abc", http.StatusUnsupportedMediaType, "must be sent as JSON"},
		{"not JSON", site.URL, "application/json", "{", http.StatusBadRequest, "could not be read"},
		{"no code", site.URL, "application/json", `{"code":"  "}`, http.StatusBadRequest, "gave no sign-in"},
		{"a code too long", site.URL, "application/json", signInBody(strings.Repeat("a", 13<<10)), http.StatusBadRequest, "too long"},
		{"another key", site.URL, "application/json", signInBody(signBrand(t, testenv.Key(), claims(later))), http.StatusUnauthorized, "did not accept your sign-in"},
		{"expired", site.URL, "application/json", signInBody(signBrand(t, brand.TutorialKey(), claims(time.Now().Add(-time.Hour).Unix()))), http.StatusUnauthorized, "your sign-in has expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, text := postJSON(t, hc, site.URL+"/session", tt.origin, tt.contentType, tt.body)
			got := struct {
				Code      int
				Says      bool
				SetCookie string
			}{resp.StatusCode, strings.Contains(text, tt.says), resp.Header.Get("Set-Cookie")}
			if diff := cmp.Diff(struct {
				Code      int
				Says      bool
				SetCookie string
			}{tt.code, true, ""}, got); diff != "" {
				t.Errorf("POST /session (-want +got):\n%s\nanswer: %q", diff, text)
			}
		})
	}
	if _, body := get(t, hc, site.URL+"/"); strings.Contains(body, "ws-connect") {
		t.Error("the window has a socket after refused sign-ins")
	}
}

// TestSignIn: the tutorial's brand token signs the customer in: the cookie
// is set and the window connects as LivePerson's consumer for that brand
// customer. Posted again while the session waits for nothing, the sign-in
// is taken (the cookie renewed) with 202: the page reconnects its socket.
func TestSignIn(t *testing.T) {
	site := authSite(t)
	hc := client(t)
	code := signInBody(string(readTutorial(t, "ext_jwt.txt")))
	resp, text := postJSON(t, hc, site.URL+"/session", site.URL, "application/json", code)
	if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Set-Cookie"), "chatwindow=") {
		t.Fatalf("sign-in with the tutorial's token: %s %q, Set-Cookie %q", resp.Status, text, resp.Header.Get("Set-Cookie"))
	}
	if _, body := get(t, hc, site.URL+"/"); !strings.Contains(body, `ws-connect="/ws"`) || !strings.Contains(body, `data-auth-method="LPJsMethodName"`) {
		t.Error("the signed-in window has no socket, or cannot sign in again")
	}
	tab := openTab(t, site, hc)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := readUntil(ctx, tab, `data-state="open"`); err != nil {
		t.Fatalf("the signed-in window did not connect: %v", err)
	}
	resp, text = postJSON(t, hc, site.URL+"/session", site.URL, "application/json", code)
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(resp.Header.Get("Set-Cookie"), "chatwindow=") {
		t.Errorf("a sign-in nobody waited for: %s %q, want 202 and the cookie renewed", resp.Status, text)
	}
}

// TestConnectorStart: the window of the unauthenticated connector's
// customers makes a visitor's identity at the connector (one id_token
// exchanged for the socket's token) and connects with it; a connector the
// IDP does not know makes none (503, no cookie).
func TestConnectorStart(t *testing.T) {
	lp := testenv.NewService(t, simulator.Config{Account: "1", ConnectorID: "c1"})
	start := func(connector string) *httptest.Server {
		site := httptest.NewServer(newNode(t, node.Config{
			Endpoints: lp.EP, HTTPClient: lp.Srv.Client(), Grace: 100 * time.Millisecond,
			Web:      window.Config{SessionKeys: sessionKeys, Signup: func(context.Context) (string, error) { panic("a demo signup") }},
			Identity: node.Identity{ConnectorID: connector},
		}))
		t.Cleanup(site.Close)
		return site
	}
	site := start("c1")
	hc := client(t)
	startSession(t, site, hc)
	tab := openTab(t, site, hc)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := readUntil(ctx, tab, `data-state="open"`); err != nil {
		t.Fatalf("the connector's customer did not connect: %v", err)
	}

	wrong := start("c2")
	resp := post(t, client(t), wrong.URL+"/session", wrong.URL)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("a start at an unknown connector: %s, Set-Cookie %q; want 503 and none", resp.Status, resp.Header.Get("Set-Cookie"))
	}
}
