package web_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/web/window"
	"github.com/coder/websocket"
)

func TestReady(t *testing.T) {
	site := newSite(t)
	if resp, body := get(t, client(t), site.URL+"/readyz"); resp.StatusCode != http.StatusOK || body != "ready" {
		t.Errorf("readyz: %s %q", resp.Status, body)
	}
}

func TestBodyLimit(t *testing.T) {
	site := newSite(t)
	resp, err := http.Post(site.URL+"/", "application/x-www-form-urlencoded", bytes.NewReader(bytes.Repeat([]byte("x"), 80<<10)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("an 80 KiB body: %s, want 413", resp.Status)
	}
}

// TestRateLimit: a client that floods gets 429 instead of service; the
// limit is per client address.
func TestRateLimit(t *testing.T) {
	site := newSite(t)
	hc := client(t)
	limited := 0
	for range 300 {
		resp, err := hc.Get(site.URL + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Error("300 requests in a burst were all served; want some 429")
	}
	if limited > 250 {
		t.Errorf("%d of 300 refused: the burst allowance is gone", limited)
	}
}

// TestSecureCookie: served over HTTPS the cookie is Secure and carries the
// __Host- prefix.
func TestSecureCookie(t *testing.T) {
	site := newSiteWithKeys(t, sessionKeys, func(c *window.Config) { c.Secure = true })
	resp := startSession(t, site, client(t))
	set := resp.Header.Get("Set-Cookie")
	if !strings.HasPrefix(set, "__Host-chatwindow=") || !strings.Contains(set, "; Secure") || !strings.Contains(set, "Path=/") || strings.Contains(set, "Domain=") {
		t.Errorf("Set-Cookie %q: want __Host-chatwindow, Secure, Path=/, no Domain", set)
	}
}

// TestKeyRotation: a site whose keys are [new, old] accepts a session made
// under [old], and so keeps its customers across a key change.
func TestKeyRotation(t *testing.T) {
	old := sessionKeys
	fresh := [][]byte{[]byte("a brand new hash key, 32 bytes.."), []byte("a brand new block key of 32 b..!")}
	before := newSiteWithKeys(t, old)
	after := newSiteWithKeys(t, append(append([][]byte{}, fresh...), old...))
	hc := client(t)
	startSession(t, before, hc)
	bu, _ := url.Parse(before.URL)
	au, _ := url.Parse(after.URL)
	hc.Jar.SetCookies(au, hc.Jar.Cookies(bu))
	if resp := startSession(t, after, hc); resp.Header.Get("Set-Cookie") != "" {
		t.Error("the rotated site did not accept a cookie made with its old keys (it set a new one)")
	}
	c, _, err := dialSocket(t, after, hc, "")
	if err != nil {
		t.Fatalf("socket with an old-key cookie: %v", err)
	}
	c.CloseNow()
}

// TestSocketFlood: a page socket that sends far more than a page does is
// closed with 1008; the session itself is untouched (a reload works).
func TestSocketFlood(t *testing.T) {
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
	for range 500 {
		if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"typing","state":"COMPOSING"}`)); err != nil {
			break // closed under us: that is the point
		}
	}
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
			t.Errorf("after a flood: %v (status %d), want close 1008", err, got)
		}
		break
	}
	again, _, err := dialSocket(t, site, hc, site.URL)
	if err != nil {
		t.Fatalf("a new socket after the flood: %v", err)
	}
	again.CloseNow()
}

// TestRateLimitBehindProxy: behind a trusted proxy the limit is per client
// the proxy names; without trust, X-Forwarded-For is ignored (anyone can
// write it).
func TestRateLimitBehindProxy(t *testing.T) {
	_, loopback, _ := net.ParseCIDR("127.0.0.0/8")
	flood := func(site string, hc *http.Client, xff string) (limited int) {
		for range 200 {
			req, _ := http.NewRequest(http.MethodGet, site+"/healthz", nil)
			req.Header.Set("X-Forwarded-For", xff)
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusTooManyRequests {
				limited++
			}
		}
		return limited
	}
	behind := newSiteWithKeys(t, sessionKeys, func(c *window.Config) { c.TrustedProxies = []*net.IPNet{loopback} })
	hc := client(t)
	if flood(behind.URL, hc, "203.0.113.1") == 0 {
		t.Fatal("the flooding client was not limited")
	}
	if n := flood(behind.URL, hc, "203.0.113.2"); n > 150 {
		t.Errorf("another client behind the same proxy was refused %d times: the limit is not per client", n)
	}
	direct := newSite(t)
	flood(direct.URL, hc, "203.0.113.1")
	if n := flood(direct.URL, hc, "203.0.113.2"); n == 0 {
		t.Error("without a trusted proxy, a forged X-Forwarded-For escaped the limit")
	}
}

// TestRequestIDs: a client's X-Request-Id (of any length) is not echoed:
// the server names the request itself; a trusted proxy's plain id is kept.
func TestRequestIDs(t *testing.T) {
	loopback := &net.IPNet{IP: net.IPv4(127, 0, 0, 0), Mask: net.CIDRMask(8, 32)}
	plain := newSite(t)
	proxied := newSiteWithKeys(t, sessionKeys, func(c *window.Config) { c.TrustedProxies = []*net.IPNet{loopback} })
	tests := []struct {
		name, sent string
		site       *httptest.Server
		kept       bool
	}{
		{"a client's", "abc-123", plain, false},
		{"a client's, 1 MB", strings.Repeat("x", 1<<20), plain, false},
		{"a proxy's", "abc-123", proxied, true},
		{"a proxy's, too long", strings.Repeat("x", 65), proxied, false},
		{"a proxy's, with spaces", "a b", proxied, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, tt.site.URL+"/healthz", nil)
			req.Header.Set("X-Request-Id", tt.sent)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := resp.Header.Get("X-Request-Id")
			if (got == tt.sent) != tt.kept || got == "" || len(got) > 64 {
				t.Errorf("X-Request-Id %.40q answered with %.40q; want it kept: %v", tt.sent, got, tt.kept)
			}
		})
	}
}
