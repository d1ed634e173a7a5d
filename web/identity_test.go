package web_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chatwindow/chatwindow/web/window"
	"github.com/coder/websocket"
)

// countSignups counts the identities the window asks the service for.
func countSignups(n *atomic.Int64) func(*window.Config) {
	return func(c *window.Config) {
		signup := c.Signup
		c.Signup = func(ctx context.Context) (string, error) {
			n.Add(1)
			return signup(ctx)
		}
	}
}

// TestPageLoadsCreateNoIdentity: page loads (GET and HEAD, with no cookie
// or a forged one) make no identity at the messaging service and set no
// cookie; the page has no socket, and says where to ask for an identity.
func TestPageLoadsCreateNoIdentity(t *testing.T) {
	var signups atomic.Int64
	site := newSiteWithKeys(t, sessionKeys, countSignups(&signups))
	for i := range 10 {
		method := http.MethodGet
		if i%2 == 1 {
			method = http.MethodHead
		}
		req, err := http.NewRequestWithContext(t.Context(), method, site.URL+"/", nil)
		if err != nil {
			t.Fatal(err)
		}
		if i == 9 {
			req.AddCookie(&http.Cookie{Name: "chatwindow", Value: "forged"})
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := goquery.NewDocumentFromReader(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("%s / = %s, Set-Cookie %q; want 200 and none", method, resp.Status, resp.Header.Get("Set-Cookie"))
		}
		if method == http.MethodGet {
			main := doc.Find(`main[data-testid="chat"]`)
			if _, ok := main.Attr("ws-connect"); ok || main.AttrOr("data-start", "") != "/session" || main.AttrOr("data-socket", "") != "/ws" {
				t.Errorf("the anonymous page's main: ws-connect %v, data-start %q, data-socket %q", ok, main.AttrOr("data-start", ""), main.AttrOr("data-socket", ""))
			}
			if doc.Find(`form[ws-send]`).Length() != 0 || doc.Find(`#composer-form[data-send-later]`).Length() != 1 {
				t.Error("the anonymous page's composer is not waiting for an identity")
			}
		}
	}
	if n := signups.Load(); n != 0 {
		t.Errorf("10 page loads made %d identities, want 0", n)
	}
}

// TestStart: the page's first message asks for an identity: one signup,
// the cookie set; asked again (another tab), the same identity. Another
// site's page may not ask (403), and one address asks a few times only
// (429).
func TestStart(t *testing.T) {
	var signups atomic.Int64
	site := newSiteWithKeys(t, sessionKeys, countSignups(&signups), func(c *window.Config) { c.SignupBurst = 3 })
	hc := client(t)
	if resp := post(t, hc, site.URL+"/session", "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /session from another site: %s, want 403", resp.Status)
	}
	resp := post(t, hc, site.URL+"/session", site.URL)
	if resp.StatusCode != http.StatusNoContent || !strings.Contains(resp.Header.Get("Set-Cookie"), "chatwindow=") {
		t.Fatalf("POST /session from the page: %s, Set-Cookie %q", resp.Status, resp.Header.Get("Set-Cookie"))
	}
	if resp := post(t, hc, site.URL+"/session", site.URL); resp.StatusCode != http.StatusNoContent || resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("POST /session with an identity: %s, Set-Cookie %q; want 204 and none", resp.Status, resp.Header.Get("Set-Cookie"))
	}
	if n := signups.Load(); n != 1 {
		t.Errorf("%d signups, want 1", n)
	}
	// The page now has its socket.
	_, body := get(t, hc, site.URL+"/")
	if !strings.Contains(body, `ws-connect="/ws"`) {
		t.Error("the page with an identity has no socket")
	}
	c, _, err := dialSocket(t, site, hc, site.URL)
	if err != nil {
		t.Fatalf("socket after start: %v", err)
	}
	c.CloseNow()
	// Fresh visitors from one address: the burst (3, one used), then 429.
	codes := map[int]int{}
	for range 5 {
		codes[post(t, client(t), site.URL+"/session", site.URL).StatusCode]++
	}
	if codes[http.StatusNoContent] != 2 || codes[http.StatusTooManyRequests] != 3 {
		t.Errorf("5 more visitors from one address: %v, want 2 × 204 and 3 × 429", codes)
	}
	if n := signups.Load(); n != 3 {
		t.Errorf("%d signups in all, want 3", n)
	}
}

// TestForget: "end it and forget me" closes the open conversation at the
// service, closes the session's tabs for good (1000, no reconnect) and
// expires the cookie; the next load is a fresh, anonymous window.
func TestForget(t *testing.T) {
	site := newSite(t)
	hc := client(t)
	startSession(t, site, hc)
	tab := openTab(t, site, hc)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := tab.Write(ctx, websocket.MessageText, []byte(`{"type":"send","text":"hello, then forget me"}`)); err != nil {
		t.Fatal(err)
	}
	if err := readUntil(ctx, tab, `data-testid="close-conversation"`); err != nil {
		t.Fatalf("the conversation did not open: %v", err)
	}
	if resp := post(t, hc, site.URL+"/forget", "http://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("POST /forget from another site: %s, want 403", resp.Status)
	}
	resp := post(t, hc, site.URL+"/forget", site.URL)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("POST /forget = %s to %q, want 303 to /", resp.Status, resp.Header.Get("Location"))
	}
	if set := resp.Header.Get("Set-Cookie"); !strings.Contains(set, "chatwindow=") || !strings.Contains(set, "Max-Age=0") {
		t.Errorf("POST /forget Set-Cookie %q, want the cookie expired", set)
	}
	if err := readUntil(ctx, tab, "no longer remembers you"); err != nil {
		t.Errorf("the tab was not told: %v", err)
	}
	if code, err := closeCode(ctx, tab); err != nil || code != websocket.StatusNormalClosure {
		t.Errorf("the tab's socket ended with %d (%v), want 1000 (no reconnect)", code, err)
	}
	_, body := get(t, hc, site.URL+"/")
	if !strings.Contains(body, `data-start="/session"`) {
		t.Error("the window after forget is not a fresh, anonymous one")
	}
	if _, resp, err := dialSocket(t, site, hc, site.URL); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("a socket after forget: %v, want 401", err)
	}
}
