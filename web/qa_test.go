package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chatwindow/chatwindow/web/window"
	"github.com/coder/websocket"
)

func withConsole(u string) func(*window.Config) {
	return func(c *window.Config) { c.ConsoleURL = u }
}

// TestQAPage: /qa frames the window and the console (or says there is
// none), allows exactly those frames, and sets the session cookie the
// frame and the inspector share.
func TestQAPage(t *testing.T) {
	tests := []struct {
		name    string
		console string
		host    string // the Host the page is asked under; empty: the server's
		// wantSrc is the console frame's src (empty: the placeholder);
		// wantFrames the CSP's frame-src.
		wantSrc, wantFrames string
	}{
		{name: "no console", wantFrames: "frame-src 'self'"},
		{name: "console", console: "http://127.0.0.1:9999/agent/", wantSrc: "http://127.0.0.1:9999/agent/", wantFrames: "frame-src 'self' http://127.0.0.1:9999"},
		{name: "console framed under the page's loopback name", console: "http://127.0.0.1:9999/agent/", host: "localhost:8080",
			wantSrc: "http://localhost:9999/agent/", wantFrames: "frame-src 'self' http://localhost:9999"},
		{name: "a console elsewhere keeps its host", console: "https://console.example/agent/", host: "localhost:8080",
			wantSrc: "https://console.example/agent/", wantFrames: "frame-src 'self' https://console.example"},
		{name: "a console URL that is not http is ignored", console: "javascript:alert(1)", wantFrames: "frame-src 'self'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			site := newSiteWithKeys(t, sessionKeys, withConsole(tt.console))
			hc := client(t)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, site.URL+"/qa", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /qa = %s", resp.Status)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			if !strings.HasSuffix(csp, "; "+tt.wantFrames) || !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'self'") {
				t.Errorf("CSP %q, want the window's policy and %q", csp, tt.wantFrames)
			}
			if !strings.Contains(resp.Header.Get("Set-Cookie"), "chatwindow=") {
				t.Error("/qa set no session cookie")
			}
			doc, err := goquery.NewDocumentFromReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if src := doc.Find(`iframe[data-testid="qa-window"]`).AttrOr("src", ""); src != "/" {
				t.Errorf("window frame src %q, want /", src)
			}
			src, framed := doc.Find(`iframe[data-testid="qa-console"]`).Attr("src")
			placeholder := doc.Find(`[data-testid="qa-console-missing"]`).Length() == 1
			if src != tt.wantSrc || framed == placeholder {
				t.Errorf("console frame src %q (framed %v, placeholder %v), want %q", src, framed, placeholder, tt.wantSrc)
			}
			inspector := doc.Find(`[data-testid="inspector"]`)
			if inspector.AttrOr("ws-connect", "") != "/qa/ws" || inspector.Find(`[data-testid="qa-filter"]`).Length() != 1 || inspector.Find(`#frames`).Length() != 1 {
				t.Error("no inspector with its socket, filter and list")
			}
			if n := doc.Find("script:not([src]), style, [style]").Length(); n != 0 {
				t.Errorf("%d inline scripts or styles", n)
			}
			doc.Find("script[src], link[rel=stylesheet]").Each(func(_ int, s *goquery.Selection) {
				u := s.AttrOr("src", s.AttrOr("href", ""))
				if resp, _ := get(t, hc, site.URL+u); resp.StatusCode != http.StatusOK {
					t.Errorf("asset %s: %s", u, resp.Status)
				}
			})
		})
	}
}

func dialInspector(t *testing.T, site *httptest.Server, hc *http.Client) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(site.URL, "http")+"/qa/ws", &websocket.DialOptions{HTTPClient: hc})
}

var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+`)

// TestInspectorSocket: the inspector's socket resets the list with what
// the session kept, then appends each new frame: the customer's publish
// (sent) and its response (received), with their types, and no token.
func TestInspectorSocket(t *testing.T) {
	site := newSite(t)
	hc := client(t)
	if resp, _ := get(t, hc, site.URL+"/qa"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /qa = %s", resp.Status)
	}
	insp, _, err := dialInspector(t, site, hc)
	if err != nil {
		t.Fatal(err)
	}
	defer insp.CloseNow()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, first, err := insp.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(first), `<ol id="frames" hx-swap-oob="innerHTML">`) {
		t.Errorf("the first message does not reset the list: %.200s", first)
	}

	tab, _, err := dialSocket(t, site, hc, "")
	if err != nil {
		t.Fatal(err)
	}
	defer tab.CloseNow()
	// The tab's socket must be read, or the session drops it.
	go func() {
		for {
			if _, _, err := tab.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	if err := tab.Write(ctx, websocket.MessageText, []byte(`{"type":"send","text":"hello from the test"}`)); err != nil {
		t.Fatal(err)
	}

	var all strings.Builder
	all.Write(first)
	var sawReq, sawResp bool
	var pubID string
	for !(sawReq && sawResp) {
		_, b, err := insp.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for the publish and its response: %v\nso far: %s", err, all.String())
		}
		all.Write(b)
		doc, err := goquery.NewDocumentFromReader(strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), `<div hx-swap-oob="beforeend:#frames">`) {
			t.Errorf("a later message does not append: %.120s", b)
		}
		doc.Find(`li[data-testid="frame"]`).Each(func(_ int, s *goquery.Selection) {
			typ, dir, kind := s.AttrOr("data-type", ""), s.AttrOr("data-dir", ""), s.AttrOr("data-kind", "")
			if typ == "" || (dir != "in" && dir != "out") || s.Find("time[datetime]").Length() != 1 || s.Find("pre").Length() != 1 {
				t.Errorf("a frame without type, direction, time or JSON: %s", typ)
			}
			switch {
			case typ == "ms.PublishEvent" && dir == "out" && kind == "req" && strings.Contains(s.Find("pre").Text(), "hello from the test"):
				sawReq, pubID = true, s.AttrOr("data-id", "")
			case strings.Contains(typ, "PublishEvent") && dir == "in" && kind == "resp" && sawReq && s.AttrOr("data-id", "") == pubID:
				sawResp = true
			}
		})
	}
	if m := jwtLike.FindString(all.String()); m != "" {
		t.Errorf("the inspector shows a token: %s", m)
	}
	insp.Close(websocket.StatusNormalClosure, "")
	tab.Close(websocket.StatusNormalClosure, "")
}

func TestInspectorSocketWithoutSession(t *testing.T) {
	site := newSite(t)
	_, resp, err := dialInspector(t, site, client(t))
	if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("inspector socket without a session: %v, %v; want 401", resp, err)
	}
}
