package web_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
	"github.com/chatwindow/chatwindow/web/node"
	"github.com/chatwindow/chatwindow/web/window"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testKey is the shared fixed signing key (no RSA generation per binary).
var testKey = testenv.Key

var sessionKeys = [][]byte{[]byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")}

// newSite is the chat window on the embedded service, through real
// loopback servers: what the browser talks to, minus the browser.
func newSite(t *testing.T) *httptest.Server {
	t.Helper()
	return newSiteWithKeys(t, sessionKeys)
}

func newSiteWithKeys(t *testing.T, keys [][]byte, opts ...func(*window.Config)) *httptest.Server {
	t.Helper()
	site := httptest.NewServer(siteHandler(t, keys, opts...))
	t.Cleanup(site.Close) // first: the cleanup of siteHandler runs after it
	return site
}

// siteHandler is the chat window of newSiteWithKeys, to be served by the
// caller; the test's cleanup stops what is behind it.
func siteHandler(t *testing.T, keys [][]byte, opts ...func(*window.Config)) http.Handler {
	t.Helper()
	lp := newService(t)
	cfg := node.Config{
		Endpoints: lp.EP, HTTPClient: lp.Srv.Client(), Grace: 100 * time.Millisecond,
		Web: window.Config{
			// As run has it on the embedded service.
			QA:          true,
			SessionKeys: keys,
			// The node's own default, spelled out for opts that wrap it.
			Signup: messaging.SignupToken(lp.Srv.Client(), lp.EP),
		},
	}
	for _, o := range opts {
		o(&cfg.Web)
	}
	return newNode(t, cfg)
}

// newService is the embedded service with one agent (a, password p),
// until the test ends.
func newService(t *testing.T) *testenv.Service {
	t.Helper()
	return testenv.NewService(t, simulator.Config{Account: "1", Agents: []simulator.Agent{{Name: "a", Password: "p"}}})
}

// newNode wires the chat window node of cfg as run does; the test's
// cleanup ends its sessions and waits for them and their sockets.
func newNode(t *testing.T, cfg node.Config) *node.Node {
	t.Helper()
	n, err := node.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)
	return n
}

// startSession does what the page does before its first message: it asks
// for an identity (POST /session), which sets the session cookie. It sends
// no Origin, as a client that is not a browser (TestStart checks the
// browser's case).
func startSession(t *testing.T, site *httptest.Server, hc *http.Client) *http.Response {
	t.Helper()
	resp := post(t, hc, site.URL+"/session", "")
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /session = %s, want 204", resp.Status)
	}
	return resp
}

// post posts nothing to u with origin (if any) and returns the answer,
// its body read and closed; redirects are not followed.
func post(t *testing.T, hc *http.Client, u, origin string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	noRedirect := *hc
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func client(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func get(t *testing.T, hc *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestChatPage(t *testing.T) {
	site := newSite(t)
	hc := client(t)
	resp, body := get(t, hc, site.URL+"/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / = %s", resp.Status)
	}
	h := resp.Header
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "frame-ancestors 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("CSP allows unsafe sources: %q", csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
		t.Errorf("security headers missing: %v", h)
	}
	// A page load creates nothing: no cookie, no socket until the first
	// message (TestStart).
	if c := h.Get("Set-Cookie"); c != "" {
		t.Errorf("a page load set a cookie: %q", c)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, hook := range []string{"composer", "send", "connection", "messages"} {
		if doc.Find(`[data-testid="`+hook+`"]`).Length() != 1 {
			t.Errorf("no data-testid=%q", hook)
		}
	}
	if n := doc.Find("script:not([src])").Length(); n != 0 {
		t.Errorf("%d inline scripts", n)
	}
	if n := doc.Find("style, [style]").Length(); n != 0 {
		t.Errorf("%d inline styles", n)
	}
	// Every asset the page names is served, cacheable for good.
	doc.Find("script[src], link[rel=stylesheet]").Each(func(_ int, s *goquery.Selection) {
		u := s.AttrOr("src", s.AttrOr("href", ""))
		resp, _ := get(t, hc, site.URL+u)
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("asset %s: %s, Cache-Control %q", u, resp.Status, resp.Header.Get("Cache-Control"))
		}
	})
	if resp, _ := get(t, hc, site.URL+"/static/chat.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unhashed asset name: %s, want 404", resp.Status)
	}
	cookie := startSession(t, site, hc).Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("cookie %q lacks %s", cookie, want)
		}
	}
	// The same cookie is the same session: no new Set-Cookie.
	if resp, _ := get(t, hc, site.URL+"/"); resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("second load set a new cookie")
	}
}

func TestForgedCookiesGetAFreshSession(t *testing.T) {
	site := newSite(t)
	tests := []struct{ name, value string }{
		{"garbage", "not-a-cookie"},
		{"tampered", "MTc5NTY5NzM4MHxjYU5KbFBCT1BpcmR3MTFSZUxhYjkwUEs0MUV6LXh4aF81MXpqeWZZQl8yWWtzdkJXSEJGTk5Gb2JHVmRZbUpaVURkOERJb3BIdmJ4ZGZ3SmhpQS1qUXhjRXBNWnlYWHdsWFp6WmZmZXBLeV9TaFdDZGJPdFktT1ZKNFFoUkFIU04xVGNtVlVfN1pDYnNxVmZ5VDdBWVdfZElSSVMzS2w2dDRhY1k1cGduaE43S3lyV3VTQ3ltYzU5YTJ2RE1mU1JHaVAzZk5u"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, site.URL+"/session", nil)
			req.AddCookie(&http.Cookie{Name: "chatwindow", Value: tt.value})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Set-Cookie"), "chatwindow=") {
				t.Errorf("forged cookie: %s, Set-Cookie %q; want 204 and a fresh cookie", resp.Status, resp.Header.Get("Set-Cookie"))
			}
		})
	}
	// A cookie of the same name made with other keys opens no socket.
	other := newSiteWithKeys(t, [][]byte{[]byte("another hash key of 32 bytes....."), []byte("another block key of 32 bytes...")})
	hc := client(t)
	startSession(t, other, hc)
	ou, _ := url.Parse(other.URL)
	su, _ := url.Parse(site.URL)
	hc.Jar.SetCookies(su, hc.Jar.Cookies(ou))
	if len(hc.Jar.Cookies(su)) == 0 {
		t.Fatal("no cookie to replay")
	}
	_, resp, err := dialSocket(t, site, hc, "")
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("socket with another site's cookie: %v %v, want 401", resp, err)
	}
}

func dialSocket(t *testing.T, site *httptest.Server, hc *http.Client, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(site.URL, "http")+"/ws", &websocket.DialOptions{HTTPClient: hc, HTTPHeader: h})
}

func TestSocketOrigin(t *testing.T) {
	site := newSite(t)
	hc := client(t)
	startSession(t, site, hc)
	u, _ := url.Parse(site.URL)
	tests := []struct {
		name   string
		origin string
		ok     bool
	}{
		{"same origin", site.URL, true},
		{"no origin (not a browser)", "", true},
		{"null", "null", false},
		{"other host", "http://evil.example", false},
		{"look-alike host", "http://" + u.Hostname() + ".evil.example:" + u.Port(), false},
		{"other port", "http://" + u.Hostname() + ":1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, resp, err := dialSocket(t, site, hc, tt.origin)
			if tt.ok {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				c.Close(websocket.StatusNormalClosure, "")
				return
			}
			if err == nil {
				c.CloseNow()
				t.Fatal("cross-origin socket accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("cross-origin socket: %v, want 403", resp)
			}
		})
	}
}

func TestSocketWithoutSession(t *testing.T) {
	site := newSite(t)
	_, resp, err := dialSocket(t, site, client(t), "")
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("socket without a session: %v %v, want 401", resp, err)
	}
}

// TestSocketSendsWindowAndSurvivesBadFrames: a tab's socket gets the window
// first; malformed and unknown frames are ignored, the socket stays; an
// oversized frame closes it with 1009.
func TestSocketSendsWindowAndSurvivesBadFrames(t *testing.T) {
	site := newSite(t)
	hc := client(t)
	startSession(t, site, hc)
	c, _, err := dialSocket(t, site, hc, site.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, first, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`id="messages"`, `hx-swap-oob`, `data-testid="connection"`} {
		if !strings.Contains(string(first), want) {
			t.Errorf("first frame lacks %s: %.200s", want, first)
		}
	}
	for _, bad := range []string{`not json`, `{"type":"explode"}`, `{"type":"report","status":"delivered","items":[]}`, `{"type":"csat","rate":"9"}`, `{"type":"send"}`, `[]`} {
		if err := c.Write(ctx, websocket.MessageText, []byte(bad)); err != nil {
			t.Fatalf("write %q: %v", bad, err)
		}
	}
	// Still open: a typing frame goes through without closing anything.
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"typing","state":"COMPOSING"}`)); err != nil {
		t.Fatalf("socket closed after bad frames: %v", err)
	}
	big := `{"type":"send","text":"` + strings.Repeat("x", 40<<10) + `"}`
	if err := c.Write(ctx, websocket.MessageText, []byte(big)); err != nil {
		t.Fatalf("write big: %v", err)
	}
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
			t.Errorf("after an oversized frame: %v (status %d), want close 1009", err, got)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Error("socket not closed after an oversized frame")
		}
		return
	}
}

func TestHealthz(t *testing.T) {
	site := newSite(t)
	if resp, body := get(t, client(t), site.URL+"/healthz"); resp.StatusCode != http.StatusOK || body != "ok" {
		t.Errorf("healthz: %s %q", resp.Status, body)
	}
}
