package web_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/web/console"
	"github.com/chatwindow/chatwindow/web/node"
)

// newConsoleSite is the embedded service with the agent console in front
// of it, as run wires them: what the console's browser talks to.
func newConsoleSite(t *testing.T) *httptest.Server {
	t.Helper()
	return newConsoleSiteWith(t, siteOptions{})
}

// newConsoleSiteOn is newConsoleSite served on wrap's listener.
func newConsoleSiteOn(t *testing.T, wrap func(net.Listener) net.Listener) *httptest.Server {
	t.Helper()
	return newConsoleSiteWith(t, siteOptions{wrap: wrap})
}

// siteOptions change newConsoleSiteWith's site.
type siteOptions struct {
	// agents are the service's (default: alice, password
	// horse-battery-staple).
	agents []simulator.Agent
	// now is the clock of the service and the console (default time.Now).
	now func() time.Time
	// onLogin, when set, is called for every agent login the service
	// receives, before serving it.
	onLogin func()
	// wrap, when set, wraps the site's listener.
	wrap func(net.Listener) net.Listener
}

func newConsoleSiteWith(t *testing.T, o siteOptions) *httptest.Server {
	t.Helper()
	site, _ := serveConsole(t, o)
	return site
}

// serveConsole is newConsoleSiteWith's site and the service behind it.
func serveConsole(t *testing.T, o siteOptions) (*httptest.Server, *simulator.Service) {
	t.Helper()
	if o.agents == nil {
		o.agents = []simulator.Agent{{Name: "alice", Password: "horse-battery-staple"}}
	}
	svc, err := simulator.New(simulator.Config{Account: "1", Agents: o.agents, Logger: slog.New(slog.DiscardHandler), SigningKey: testKey(), Now: o.now})
	if err != nil {
		t.Fatal(err)
	}
	// The console's agents reach the service at the site's URL: the site
	// starts first, its handler comes once wired.
	mux := http.NewServeMux()
	site := httptest.NewUnstartedServer(mux)
	if o.wrap != nil {
		site.Listener = o.wrap(site.Listener)
	}
	site.Start()
	ctx, cancel := context.WithCancel(context.Background())
	con, err := node.NewConsole(ctx, node.ConsoleConfig{
		Service: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if o.onLogin != nil && strings.HasSuffix(r.URL.Path, "/login") {
				o.onLogin()
			}
			svc.ServeHTTP(w, r)
		}),
		ServiceURL: site.URL, Account: "1", HTTPClient: site.Client(),
		Web:   console.Config{SessionKeys: sessionKeys, Now: o.now},
		Grace: 200 * time.Millisecond, SignInTimeout: 5 * time.Second,
	})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	mux.Handle("/", con)
	t.Cleanup(func() {
		svc.Close()
		site.Close()
		cancel()
		con.Wait()
	})
	return site, svc
}

// signInForm loads the sign-in page and returns its CSRF token.
func signInForm(t *testing.T, site *httptest.Server, hc *http.Client) string {
	t.Helper()
	resp, body := get(t, hc, site.URL+"/agent/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /agent/ = %s", resp.Status)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, hook := range []string{"agent-name", "agent-password", "agent-sign-in"} {
		if doc.Find(`[data-testid="`+hook+`"]`).Length() != 1 {
			t.Errorf("the sign-in page lacks data-testid=%q", hook)
		}
	}
	csrf, _ := doc.Find(`input[name="csrf"]`).Attr("value")
	if csrf == "" {
		t.Fatal("the sign-in form has no CSRF token")
	}
	return csrf
}

func postForm(t *testing.T, hc *http.Client, u string, v url.Values) (*http.Response, string) {
	t.Helper()
	noRedirect := *hc
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.PostForm(u, v)
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

func signIn(t *testing.T, site *httptest.Server, hc *http.Client) {
	t.Helper()
	csrf := signInForm(t, site, hc)
	resp, _ := postForm(t, hc, site.URL+"/agent/sign-in", url.Values{"csrf": {csrf}, "name": {"alice"}, "password": {"horse-battery-staple"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/agent/" {
		t.Fatalf("sign in = %s to %q, want 303 to /agent/", resp.Status, resp.Header.Get("Location"))
	}
}

func isDesk(t *testing.T, hc *http.Client, u string) bool {
	t.Helper()
	_, body := get(t, hc, u)
	return strings.Contains(body, `data-testid="console"`)
}

func TestConsoleSignIn(t *testing.T) {
	site := newConsoleSite(t)
	tests := []struct {
		name     string
		csrf     func(real string) string
		password string
		wantCode int
		wantText string
		wantDesk bool
	}{
		{"good", func(r string) string { return r }, "horse-battery-staple", http.StatusSeeOther, "", true},
		{"wrong password", func(r string) string { return r }, "nope", http.StatusOK, "Wrong name or password.", false},
		{"no CSRF token", func(string) string { return "" }, "horse-battery-staple", http.StatusForbidden, "", false},
		{"another CSRF token", func(string) string { return "forged" }, "horse-battery-staple", http.StatusForbidden, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := client(t)
			csrf := signInForm(t, site, hc)
			resp, body := postForm(t, hc, site.URL+"/agent/sign-in", url.Values{"csrf": {tt.csrf(csrf)}, "name": {"alice"}, "password": {tt.password}})
			if resp.StatusCode != tt.wantCode {
				t.Errorf("sign in = %s, want %d", resp.Status, tt.wantCode)
			}
			if !strings.Contains(body, tt.wantText) {
				t.Errorf("the answer lacks %q", tt.wantText)
			}
			if got := isDesk(t, hc, site.URL+"/agent/"); got != tt.wantDesk {
				t.Errorf("desk shown = %v, want %v", got, tt.wantDesk)
			}
			for _, c := range hc.Jar.Cookies(mustURL(t, site.URL+"/agent/")) {
				if strings.Contains(c.Value, "horse-battery-staple") {
					t.Errorf("cookie %s holds the credentials in clear", c.Name)
				}
			}
		})
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestConsolePages(t *testing.T) {
	site := newConsoleSite(t)
	hc := client(t)
	noRedirect := *hc
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Get(site.URL + "/agent")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/agent/" {
		t.Errorf("GET /agent = %s to %q, want a redirect to /agent/", resp.Status, resp.Header.Get("Location"))
	}
	signIn(t, site, hc)
	resp, body := get(t, hc, site.URL+"/agent/")
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("the desk's CSP is %q", csp)
	}
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if doc.Find(`#messages[data-report-from="consumer"]`).Length() != 1 {
		t.Error("the desk's messages list does not say it reports the consumer's messages")
	}
	if doc.Find(`script:not([src]), [style]`).Length() != 0 {
		t.Error("the desk has inline scripts or styles")
	}
	// Its assets are served under the console's prefix.
	doc.Find(`script[src], link[rel="stylesheet"]`).Each(func(_ int, s *goquery.Selection) {
		src, ok := s.Attr("src")
		if !ok {
			src, _ = s.Attr("href")
		}
		if !strings.HasPrefix(src, "/agent/static/") {
			t.Errorf("asset %q is not under /agent/static/", src)
			return
		}
		if r, _ := get(t, hc, site.URL+src); r.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %s", src, r.Status)
		}
	})

	// Sign out (with the desk's token) ends the desk.
	csrf, _ := doc.Find(`form.signout input[name="csrf"]`).Attr("value")
	if r, _ := postForm(t, hc, site.URL+"/agent/sign-out", url.Values{"csrf": {"forged"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("sign out with a forged token = %s, want 403", r.Status)
	}
	if r, _ := postForm(t, hc, site.URL+"/agent/sign-out", url.Values{"csrf": {csrf}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("sign out = %s, want 303", r.Status)
	}
	if isDesk(t, hc, site.URL+"/agent/") {
		t.Error("the desk is still shown after signing out")
	}
}

func dialConsole(t *testing.T, site *httptest.Server, hc *http.Client, origin string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(site.URL, "http")+"/agent/ws", &websocket.DialOptions{HTTPClient: hc, HTTPHeader: h})
}

func TestConsoleSocketOrigin(t *testing.T) {
	site := newConsoleSite(t)
	hc := client(t)
	signIn(t, site, hc)
	u, _ := url.Parse(site.URL)
	tests := []struct {
		name   string
		origin string
		ok     bool
	}{
		{"same origin", site.URL, true},
		{"other host", "http://evil.example", false},
		{"other port", "http://" + u.Hostname() + ":1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, resp, err := dialConsole(t, site, hc, tt.origin)
			if !tt.ok {
				if err == nil {
					c.CloseNow()
					t.Fatal("cross-origin socket accepted")
				}
				if resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Errorf("cross-origin socket: %v, want 403", resp)
				}
				return
			}
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			defer c.CloseNow()
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			// Malformed and unknown frames are ignored.
			for _, f := range []string{`{`, `{"type":"nope"}`, `{"type":"accept"}`, `{"type":"decline"}`, `{"type":"retry","localId":""}`, `{"type":"retry","localId":"123456789012345678901"}`, `{"type":"report","status":"seen","items":[]}`} {
				if err := c.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
					t.Fatal(err)
				}
			}
			_, b, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{`id="rings"`, `id="conversations"`, `id="messages"`, `data-state="open"`} {
				if !strings.Contains(string(b), want) {
					t.Errorf("the desk frame lacks %s: %s", want, b)
				}
			}
			c.Close(websocket.StatusNormalClosure, "")
		})
	}
}

// TestConsoleSocketWithoutDesk: a page whose desk is gone is told so and
// the socket closes normally (the page does not reconnect).
func TestConsoleSocketWithoutDesk(t *testing.T) {
	site := newConsoleSite(t)
	c, _, err := dialConsole(t, site, client(t), "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(b), `data-testid="signed-out"`) {
		t.Fatalf("first frame %q, %v; want the signed-out notice", b, err)
	}
	_, _, err = c.Read(ctx)
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusNormalClosure {
		t.Errorf("then %v, want a normal closure", err)
	}
}
