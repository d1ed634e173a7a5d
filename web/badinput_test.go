package web_test

// Bad input, row by row (docs/reliability.md "Bad input" names each test).
// Every row runs against a real site on loopback: the embedded service, the
// relay and the web server, with a real socket or a real request, and checks
// both the clear refusal and that nothing was lost.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/desks"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/richcontent"
	"github.com/chatwindow/chatwindow/internal/transcript"
	"github.com/chatwindow/chatwindow/web/console"
	"github.com/chatwindow/chatwindow/web/pagesocket"
	"github.com/chatwindow/chatwindow/web/window"
)

// openTab loads the page (which sets the cookie) and opens its socket, and
// reads the window the socket sends first.
func openTab(t *testing.T, site *httptest.Server, hc *http.Client) *websocket.Conn {
	t.Helper()
	c, _, err := dialSocket(t, site, hc, site.URL)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.CloseNow() })
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, b, err := c.Read(ctx); err != nil || !bytes.Contains(b, []byte(`id="messages"`)) {
		t.Fatalf("first frame %.100q, %v; want the window", b, err)
	}
	return c
}

// keepTab holds a tab open (reading and dropping what it is sent) until the
// test ends, so that the session outlives its 100 ms grace between the
// sockets a test opens and closes.
func keepTab(t *testing.T, site *httptest.Server, hc *http.Client) {
	t.Helper()
	c := openTab(t, site, hc)
	done := make(chan struct{})
	// Ends when the socket is closed at cleanup.
	go func() {
		defer close(done)
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		c.CloseNow()
		<-done
	})
}

// readUntil reads frames until one contains want (true), or the socket
// ends or 10 s pass (false, with the error).
func readUntil(ctx context.Context, c *websocket.Conn, want string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(want)) {
			return nil
		}
	}
}

// closeCode reads until the socket ends and returns its close status.
func closeCode(ctx context.Context, c *websocket.Conn) (websocket.StatusCode, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return -1, errors.New("socket still open after 10 s")
			}
			return websocket.CloseStatus(err), nil
		}
	}
}

// TestBadInputFrames: every malformed, unknown or invalid frame from the
// page is refused on its own (logged as "page frame refused", or ignored
// by the session with a log line); the socket stays open and the frame
// after it works: the customer's next message is shown.
func TestBadInputFrames(t *testing.T) {
	site := newSite(t)
	hc := client(t)
	startSession(t, site, hc)
	keepTab(t, site, hc)
	many := make([]string, pagesocket.MaxReportItems+1)
	for i := range many {
		many[i] = fmt.Sprintf(`{"dialogId":"C","seq":%d}`, i)
	}
	tests := []struct {
		name  string
		frame string
		// shown is what the frame itself shows, when it is not refused but
		// accepted for what it is (empty: nothing).
		shown string
	}{
		{name: "not JSON", frame: `not json`},
		{name: "empty", frame: ``},
		{name: "truncated", frame: `{"type":"send","text":"lost"`},
		{name: "array", frame: `[{"type":"send","text":"lost"}]`},
		{name: "null", frame: `null`},
		{name: "string", frame: `"send"`},
		{name: "number", frame: `5`},
		{name: "no type", frame: `{}`},
		{name: "unknown type", frame: `{"type":"explode"}`},
		{name: "type not a string", frame: `{"type":5}`},
		{name: "trailing data", frame: `{"type":"typing","state":"PAUSE"}{"type":"send","text":"smuggled"}`},
		{name: "invalid UTF-8 outside strings", frame: "\xff\xfe{\"type\":\"send\",\"text\":\"lost\"}"},
		{name: "send without text", frame: `{"type":"send"}`},
		{name: "send with text not a string", frame: `{"type":"send","text":{"a":1}}`},
		{name: "send of blanks", frame: `{"type":"send","text":"   \n\t "}`},
		{name: "retry without localId", frame: `{"type":"retry"}`},
		{name: "retry of an unknown message", frame: `{"type":"retry","localId":"999"}`},
		{name: "report without items", frame: `{"type":"report","status":"delivered","items":[]}`},
		{name: "report of 201 items (more than chat.js sends)", frame: `{"type":"report","status":"delivered","items":[` + strings.Join(many, ",") + `]}`},
		{name: "report with an unknown status", frame: `{"type":"report","status":"liked","items":[{"dialogId":"C","seq":1}]}`},
		{name: "report with items of the wrong shape", frame: `{"type":"report","status":"seen","items":"all"}`},
		{name: "report of unknown sequences", frame: `{"type":"report","status":"seen","items":[{"dialogId":"C","seq":424242}]}`},
		{name: "typing without state", frame: `{"type":"typing"}`},
		{name: "typing with an unknown state", frame: `{"type":"typing","state":"DANCING"}`},
		{name: "csat out of range", frame: `{"type":"csat","rate":"9"}`},
		{name: "csat not a number", frame: `{"type":"csat","rate":"five"}`},
		{name: "csat while open", frame: `{"type":"csat","rate":5}`},
		{name: "action without dialog", frame: `{"type":"action","seq":1,"index":0}`},
		{name: "action on no message", frame: `{"type":"action","dialogId":"C","seq":7,"index":0}`},
		{name: "new while open", frame: `{"type":"new"}`},
		{name: "invalid UTF-8 inside the text", frame: "{\"type\":\"send\",\"text\":\"bad \xff\xfe bytes\"}", shown: "bad \uFFFD\uFFFD bytes"},
		{name: "text over 8000 bytes", frame: `{"type":"send","text":"` + strings.Repeat("x", relay.MaxText+1) + `"}`, shown: "Your message is too long."},
		{name: "frame of exactly 32 KiB", frame: padTo(`{"type":"send","text":"`, `"}`, 32<<10), shown: "Your message is too long."},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A tab per row: the rows' frames do not add up to a flood.
			c := openTab(t, site, hc)
			ctx := t.Context()
			if err := c.Write(ctx, websocket.MessageText, []byte(tt.frame)); err != nil {
				t.Fatalf("write: %v", err)
			}
			if tt.shown != "" {
				if err := readUntil(ctx, c, tt.shown); err != nil {
					t.Fatalf("the frame's own answer %q never came: %v", tt.shown, err)
				}
			}
			next := fmt.Sprintf("next message %d", i)
			if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"send","text":"`+next+`"}`)); err != nil {
				t.Fatalf("the socket closed after the bad frame: %v", err)
			}
			if err := readUntil(ctx, c, next); err != nil {
				t.Fatalf("the next valid frame did not work (%q not shown): %v", next, err)
			}
		})
	}
	// Nothing was smuggled in or sent for a refused frame: a fresh tab's
	// window has exactly the messages sent, in order.
	c2 := openTabWindow(t, site, hc)
	var texts []string
	c2.Find(`[data-from="consumer"] .message-text`).Each(func(_ int, s *goquery.Selection) { texts = append(texts, s.Text()) })
	var want []string
	for i, tt := range tests {
		if strings.HasPrefix(tt.shown, "bad ") {
			want = append(want, tt.shown)
		}
		want = append(want, fmt.Sprintf("next message %d", i))
	}
	if !slices.Equal(texts, want) {
		t.Errorf("the window shows the customer's messages\n%q\nwant\n%q", texts, want)
	}
}

// padTo makes a JSON frame of exactly n bytes: prefix, x's, suffix.
func padTo(prefix, suffix string, n int) string {
	return prefix + strings.Repeat("x", n-len(prefix)-len(suffix)) + suffix
}

// openTabWindow opens another tab of the session and parses its window.
func openTabWindow(t *testing.T, site *httptest.Server, hc *http.Client) *goquery.Document {
	t.Helper()
	c, _, err := dialSocket(t, site, hc, site.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestBadInputSocketCloses: what a page never sends closes its socket with
// a code that says why; the session is untouched: a new socket of the same
// cookie gets the window with the messages sent before.
func TestBadInputSocketCloses(t *testing.T) {
	site := newSite(t)
	hc := client(t)
	startSession(t, site, hc)
	keepTab(t, site, hc)
	first := openTab(t, site, hc)
	if err := first.Write(t.Context(), websocket.MessageText, []byte(`{"type":"send","text":"kept"}`)); err != nil {
		t.Fatal(err)
	}
	if err := readUntil(t.Context(), first, `data-receipt="sent"`); err != nil {
		t.Fatalf("the first message was not sent: %v", err)
	}
	first.CloseNow()
	tests := []struct {
		name string
		do   func(ctx context.Context, c *websocket.Conn)
		want websocket.StatusCode
	}{
		{"frame of 32 KiB + 1", func(ctx context.Context, c *websocket.Conn) {
			_ = c.Write(ctx, websocket.MessageText, []byte(padTo(`{"type":"send","text":"`, `"}`, 32<<10+1)))
		}, websocket.StatusMessageTooBig},
		{"frame of 1 MiB", func(ctx context.Context, c *websocket.Conn) {
			_ = c.Write(ctx, websocket.MessageText, bytes.Repeat([]byte("x"), 1<<20))
		}, websocket.StatusMessageTooBig},
		{"flood of 500 frames", func(ctx context.Context, c *websocket.Conn) {
			for range 500 {
				if c.Write(ctx, websocket.MessageText, []byte(`{"type":"typing","state":"COMPOSING"}`)) != nil {
					return // closed under us: that is the point
				}
			}
		}, websocket.StatusPolicyViolation},
		{"binary frame", func(ctx context.Context, c *websocket.Conn) {
			_ = c.Write(ctx, websocket.MessageBinary, []byte(`{"type":"send","text":"binary"}`))
		}, websocket.StatusUnsupportedData},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := openTab(t, site, hc)
			tt.do(t.Context(), c)
			got, err := closeCode(t.Context(), c)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("closed with %d, want %d", got, tt.want)
			}
			doc := openTabWindow(t, site, hc)
			if got := doc.Find(`[data-from="consumer"] .message-text`).Text(); got != "kept" {
				t.Errorf("after the close a new socket shows %q, want the message sent before", got)
			}
		})
	}
}

// TestBadInputCookies: a forged, tampered or expired session cookie, or
// one made with another site's keys, reads as no session: the page answers
// 200 with a fresh cookie, the old cookie opens no socket (401), the new
// one does, and the server goes on serving.
func TestBadInputCookies(t *testing.T) {
	site := newSite(t)
	expiring := newSiteWithKeys(t, sessionKeys, func(c *window.Config) { c.SessionMaxAge = time.Second })
	other := newSiteWithKeys(t, [][]byte{[]byte("another hash key of 32 bytes....."), []byte("another block key of 32 bytes...")})
	real := func(t *testing.T, s *httptest.Server) string {
		resp := startSession(t, s, client(t))
		for _, c := range resp.Cookies() {
			if c.Name == "chatwindow" {
				return c.Value
			}
		}
		t.Fatal("no session cookie")
		return ""
	}
	tests := []struct {
		name  string
		site  *httptest.Server
		value func(t *testing.T) string
	}{
		{"garbage", site, func(*testing.T) string { return "not-a-cookie" }},
		{"empty", site, func(*testing.T) string { return "" }},
		{"base64 of nothing valid", site, func(*testing.T) string { return "MTc5NTY5NzM4MHx8fA==" }},
		{"tampered (one byte flipped)", site, func(t *testing.T) string {
			v := []byte(real(t, site))
			i := len(v) / 2
			if v[i] == 'A' {
				v[i] = 'B'
			} else {
				v[i] = 'A'
			}
			return string(v)
		}},
		{"truncated", site, func(t *testing.T) string { v := real(t, site); return v[:len(v)-4] }},
		{"another site's keys", site, func(t *testing.T) string { return real(t, other) }},
		{"expired (max age 1 s, used after 2 s)", expiring, func(t *testing.T) string {
			v := real(t, expiring)
			time.Sleep(2100 * time.Millisecond)
			return v
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := tt.value(t)
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, tt.site.URL+"/session", nil)
			req.AddCookie(&http.Cookie{Name: "chatwindow", Value: old})
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var fresh string
			for _, c := range resp.Cookies() {
				if c.Name == "chatwindow" {
					fresh = c.Value
				}
			}
			if resp.StatusCode != http.StatusNoContent || fresh == "" || fresh == old {
				t.Fatalf("POST /session = %s with a new cookie %v; want 204 and a fresh session", resp.Status, fresh != "" && fresh != old)
			}
			if code := socketStatus(t, tt.site, old); code != http.StatusUnauthorized {
				t.Errorf("the bad cookie's socket: %d, want 401", code)
			}
			if code := socketStatus(t, tt.site, fresh); code != http.StatusSwitchingProtocols {
				t.Errorf("the fresh cookie's socket: %d, want 101", code)
			}
			if r, body := get(t, client(t), tt.site.URL+"/healthz"); r.StatusCode != http.StatusOK || body != "ok" {
				t.Errorf("the server after the bad cookie: %s %q", r.Status, body)
			}
		})
	}
}

// socketStatus opens the window's socket with a cookie value and returns
// the handshake's status.
func socketStatus(t *testing.T, site *httptest.Server, cookie string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Cookie", (&http.Cookie{Name: "chatwindow", Value: cookie}).String())
	h.Set("Origin", site.URL)
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(site.URL, "http")+"/ws", &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		c.CloseNow()
		return http.StatusSwitchingProtocols
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	return resp.StatusCode
}

// crossOrigins are the Origins of pages that are not the site at u
// (http://127.0.0.1:port).
func crossOrigins(u *url.URL) []struct{ name, origin string } {
	host, port := u.Hostname(), u.Port()
	return []struct{ name, origin string }{
		{"null", "null"},
		{"other host", "http://evil.example"},
		{"look-alike host", "http://" + host + ".evil"},
		{"look-alike host with the port", "http://" + host + ".evil:" + port},
		{"look-alike suffix", "http://evil" + host + ":" + port},
		{"userinfo trick", "http://" + host + ":" + port + "@evil.example"},
		{"https for an http site", "https://" + host + ":" + port},
		{"ws scheme", "ws://" + host + ":" + port},
		{"other port", "http://" + host + ":1"},
		{"no port", "http://" + host},
		{"not a URL", "%%%"},
	}
}

// TestBadInputCrossOriginSockets: a socket opened by a page of another
// origin is refused with 403 before the upgrade, on every socket route;
// the same cookie from the site's own origin still works.
func TestBadInputCrossOriginSockets(t *testing.T) {
	site := newSite(t)
	hc := client(t)
	startSession(t, site, hc)
	cons := newConsoleSite(t)
	chc := client(t)
	signIn(t, cons, chc)
	u, _ := url.Parse(site.URL)
	cu, _ := url.Parse(cons.URL)
	routes := []struct {
		name string
		site *httptest.Server
		u    *url.URL
		hc   *http.Client
		path string
	}{
		{"window", site, u, hc, "/ws"},
		{"inspector", site, u, hc, "/qa/ws"},
		{"console", cons, cu, chc, "/agent/ws"},
	}
	for _, r := range routes {
		for _, o := range append(crossOrigins(r.u), struct{ name, origin string }{"same origin", r.site.URL}) {
			t.Run(r.name+"/"+o.name, func(t *testing.T) {
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				defer cancel()
				h := http.Header{}
				h.Set("Origin", o.origin)
				c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.site.URL, "http")+r.path, &websocket.DialOptions{HTTPClient: r.hc, HTTPHeader: h})
				if o.origin == r.site.URL {
					if err != nil {
						t.Fatalf("same-origin socket refused: %v", err)
					}
					c.CloseNow()
					return
				}
				if err == nil {
					c.CloseNow()
					t.Fatal("cross-origin socket accepted")
				}
				if resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Errorf("cross-origin socket: %v %v, want 403", resp, err)
				}
			})
		}
	}
}

// TestBadInputCSRF: the console's POSTs without the form's CSRF token, with
// a wrong one or with another browser's are refused with 403 and change
// nothing.
func TestBadInputCSRF(t *testing.T) {
	site := newConsoleSite(t)
	otherToken := signInForm(t, site, client(t))
	good := url.Values{"name": {"alice"}, "password": {"horse-battery-staple"}}
	with := func(v url.Values, csrf ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = vs
		}
		if len(csrf) > 0 {
			out["csrf"] = csrf
		}
		return out
	}
	tests := []struct {
		name   string
		path   string
		form   func(real string) url.Values
		signed bool // the browser is signed in before the POST
	}{
		{"sign-in without a token", "/agent/sign-in", func(string) url.Values { return with(good) }, false},
		{"sign-in with an empty token", "/agent/sign-in", func(string) url.Values { return with(good, "") }, false},
		{"sign-in with a wrong token", "/agent/sign-in", func(string) url.Values { return with(good, "forged") }, false},
		{"sign-in with another browser's token", "/agent/sign-in", func(string) url.Values { return with(good, otherToken) }, false},
		{"sign-in with the token twice, one wrong", "/agent/sign-in", func(r string) url.Values { return with(good, "forged", r) }, false},
		{"sign-out without a token", "/agent/sign-out", func(string) url.Values { return url.Values{} }, true},
		{"sign-out with a wrong token", "/agent/sign-out", func(string) url.Values { return with(nil, "forged") }, true},
		{"sign-out with the sign-in page's old token", "/agent/sign-out", func(r string) url.Values { return with(nil, r) }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc := client(t)
			token := signInForm(t, site, hc)
			if tt.signed {
				resp, _ := postForm(t, hc, site.URL+"/agent/sign-in", with(good, token))
				if resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("sign in: %s", resp.Status)
				}
			}
			resp, body := postForm(t, hc, site.URL+tt.path, tt.form(token))
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s = %s, want 403", tt.path, resp.Status)
			}
			if !strings.Contains(body, "Reload the page") {
				t.Errorf("the refusal says %q, want a clear message", body)
			}
			if got := isDesk(t, hc, site.URL+"/agent/"); got != tt.signed {
				t.Errorf("desk shown = %v after the refused POST, want %v (unchanged)", got, tt.signed)
			}
		})
	}
	// No cookie at all (a cross-site form): 403 too.
	resp, err := http.PostForm(site.URL+"/agent/sign-in", with(good, otherToken))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sign-in without a cookie = %s, want 403", resp.Status)
	}
}

// hostile is markup in every form a field could smuggle it: elements,
// attributes broken out of quotes, a javascript: link, htmx attributes.
const hostile = `<script>alert(1)</script><img src=x onerror=alert(1)>"' onmouseover="alert(1)" x='` +
	`<a href="javascript:alert(1)">j</a></p></li><div id="footer" hx-swap-oob="true" ws-send>x</div>` +
	`<svg onload=alert(1)><iframe srcdoc="<script>alert(1)</script>"></iframe>&lt;b&gt;`

// hostileCard is a card and quick replies whose every text is s.
func hostileCard(t *testing.T, s string) (card, replies json.RawMessage) {
	t.Helper()
	mk := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	card = mk(map[string]any{"type": "vertical", "elements": []any{
		map[string]any{"type": "text", "text": s, "tooltip": s},
		map[string]any{"type": "image", "url": "https://img.example/a.png", "tooltip": s},
		map[string]any{"type": "button", "title": s, "click": map[string]any{"actions": []any{map[string]any{"type": "link", "uri": "https://docs.example/?q=" + url.QueryEscape(s), "name": s}}}},
		map[string]any{"type": "button", "title": s, "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": s}}}},
	}})
	replies = mk([]any{map[string]any{"type": "button", "title": s, "click": map[string]any{"actions": []any{map[string]any{"type": "publishText", "text": s}}}}})
	return card, replies
}

// windowWith is the window whose every field the customer or the service
// controls is s.
func windowWith(t *testing.T, s string) (relay.View, relay.Change) {
	card, replies := hostileCard(t, s)
	at := time.UnixMilli(1700000000000)
	agentText := relay.Message{Message: transcript.Message{Key: "m-a-1", DialogID: s, Seq: 1, HasSeq: true, Text: s, At: at}, From: relay.FromAgent,
		Rich: richcontent.Parse(nil, replies), RepliesOpen: true}
	agentCard := relay.Message{Message: transcript.Message{Key: "m-a-2", DialogID: s, Seq: 2, HasSeq: true, At: at}, From: relay.FromAgent,
		Rich: richcontent.Parse(card, replies), RepliesOpen: true}
	agentCard.Text = agentCard.Rich.Text()
	mine := relay.Message{Message: transcript.Message{Key: "m-a-3", DialogID: s, Seq: 3, HasSeq: true, Own: true, Text: s, At: at, Delivery: relay.ReceiptRead, ReadAt: at}, From: relay.FromConsumer}
	failed := relay.Message{Message: transcript.Message{Key: "l-1", Own: true, Text: s, LocalID: s, Delivery: relay.ReceiptFailed}, From: relay.FromConsumer}
	ms := []relay.Message{agentText, agentCard, mine, failed}
	v := relay.View{Connection: messaging.StateOpen, Phase: relay.PhaseOpen, AgentName: s, Typing: true, Messages: ms}
	ch := relay.Change{Added: ms, Updated: ms, Agent: true, Typing: true, Phase: true, Connection: true, Announce: s + " joined the conversation."}
	return v, ch
}

// deskWith is the agent console's desk whose every field the customer or
// the service controls is s.
func deskWith(s string) (desks.View, desks.Change) {
	at := time.UnixMilli(1700000000000)
	theirs := desks.Message{Message: transcript.Message{Key: "m-c-1", DialogID: s, Seq: 1, HasSeq: true, Text: s, At: at}, From: desks.FromConsumer}
	mine := desks.Message{Message: transcript.Message{Key: "m-c-2", DialogID: s, Seq: 2, HasSeq: true, Own: true, Text: s, At: at, Delivery: desks.VRead, ReadAt: at}, From: desks.FromAgent}
	ms := []desks.Message{theirs, mine}
	v := desks.View{
		AgentName: s, Connection: messaging.StateOpen,
		Rings:         []desks.Ring{{ID: s, ConversationID: s, ConsumerID: s, ExpiresAt: at}},
		Conversations: []desks.Summary{{ID: s, ConsumerName: s, Last: theirs, HasLast: true, Unread: 1, Selected: true}},
		Selected: &desks.Pane{ID: s, ConsumerName: s, ConsumerTyping: true, Messages: ms, Profile: desks.ProfileLoaded, Customer: desks.Customer{
			Authenticated: true, Level: s, ID: s, Issuer: s,
			Sections: []desks.CustomerSection{
				{Type: s, Source: desks.SourceBrand, Fields: []desks.CustomerField{{Name: s, Label: s, Text: s}, {Name: s, Label: s, Date: desks.Date{Year: 2014, Month: 10, Day: 15}}}},
				{Type: s, Source: s, Fields: []desks.CustomerField{{Name: s, Label: s, Text: s}}},
			},
		}},
	}
	ch := desks.Change{Connection: true, Rings: true, List: true, Announce: s,
		Thread: desks.ThreadChange{Added: ms, Updated: ms, Typing: true, Closed: true, Customer: true}}
	return v, ch
}

// TestBadInputMarkup: markup in every field the page renders from the
// customer or the service (message texts, the agent's name, quick replies,
// card texts, link targets, dialog ids, local ids, announcements; the
// console's customer names and messages) comes out as text: the rendered
// fragments have exactly the elements and attributes they have with plain
// text, no script, no event handler, no javascript: URL, and the hostile
// text itself is shown.
func TestBadInputMarkup(t *testing.T) {
	type render func(s string) ([]byte, error)
	r := testRenderer(t)
	cr := console.NewRenderer()
	tests := []struct {
		name   string
		render render
	}{
		{"window", func(s string) ([]byte, error) { v, _ := windowWith(t, s); return r.Window(v) }},
		{"change", func(s string) ([]byte, error) { v, ch := windowWith(t, s); return r.Change(v, ch) }},
		{"reset", func(s string) ([]byte, error) {
			v, ch := windowWith(t, s)
			ch.Reset = true
			return r.Change(v, ch)
		}},
		{"closed window", func(s string) ([]byte, error) {
			v, ch := windowWith(t, s)
			v.Phase, v.Rating = relay.PhaseRated, 4
			return r.Change(v, ch)
		}},
		{"console desk", func(s string) ([]byte, error) { v, _ := deskWith(s); return cr.Desk(v) }},
		{"console change", func(s string) ([]byte, error) { v, ch := deskWith(s); return cr.Change(v, ch) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plain, err := tt.render("plain")
			if err != nil {
				t.Fatal(err)
			}
			bad, err := tt.render(hostile)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := shape(t, bad), shape(t, plain); !slices.Equal(got, want) {
				t.Errorf("hostile text changed the markup:\n%s", diffLines(want, got))
			}
			doc, err := goquery.NewDocumentFromReader(bytes.NewReader(bad))
			if err != nil {
				t.Fatal(err)
			}
			checkInert(t, doc)
			if !strings.Contains(doc.Text(), hostile) {
				t.Errorf("the hostile text is not shown as text")
			}
		})
	}
}

// TestBadInputLinks: a card's links and images keep only http(s) targets,
// whatever the spelling of the scheme; the others show as text.
func TestBadInputLinks(t *testing.T) {
	for _, uri := range []string{
		"javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
		"javascript&colon;alert(1)", "\x00javascript:alert(1)", "vbscript:msgbox(1)", "data:text/html,<script>alert(1)</script>",
		"//evil.example/", "file:///etc/passwd", "jav&#x09;ascript:alert(1)", "https:javascript:alert(1)",
	} {
		t.Run(uri, func(t *testing.T) {
			b, err := json.Marshal(map[string]any{"type": "vertical", "elements": []any{
				map[string]any{"type": "image", "url": uri, "tooltip": "an image"},
				map[string]any{"type": "button", "title": "a link", "click": map[string]any{"actions": []any{map[string]any{"type": "link", "uri": uri}}}},
			}})
			if err != nil {
				t.Fatal(err)
			}
			m := relay.Message{Message: transcript.Message{Key: "m-C-1", DialogID: "C", Seq: 1, HasSeq: true}, From: relay.FromAgent, Rich: richcontent.Parse(b, nil)}
			out, err := testRenderer(t).Change(relay.View{Phase: relay.PhaseOpen}, relay.Change{Added: []relay.Message{m}})
			if err != nil {
				t.Fatal(err)
			}
			doc, err := goquery.NewDocumentFromReader(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			checkInert(t, doc)
			if n := doc.Find("a[href], img[src]").Length(); n != 0 {
				t.Errorf("%d links or images made of %q: %s", n, uri, out)
			}
			if txt := doc.Find(".card").Text(); !strings.Contains(txt, "a link") || !strings.Contains(txt, "an image") {
				t.Errorf("the refused link's or image's text is missing: %q", txt)
			}
		})
	}
}

// checkInert fails on anything in doc that could run: a script or frame
// element, an event-handler attribute, a URL attribute that is not http(s)
// or a path of this site.
func checkInert(t *testing.T, doc *goquery.Document) {
	t.Helper()
	if n := doc.Find("script, iframe, object, embed, svg, math, base, meta, link, style").Length(); n != 0 {
		t.Errorf("%d active elements", n)
	}
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			name := strings.ToLower(a.Key)
			if strings.HasPrefix(name, "on") || name == "style" || name == "srcdoc" || name == "formaction" {
				t.Errorf("<%s %s=%q>", goquery.NodeName(s), a.Key, a.Val)
			}
			switch name {
			case "href", "src", "action", "ws-connect", "hx-get", "hx-post":
				v := strings.TrimSpace(strings.ToLower(a.Val))
				if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") && !(strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//")) {
					t.Errorf("<%s %s=%q>: not an http(s) URL or a path", goquery.NodeName(s), a.Key, a.Val)
				}
			}
		}
	})
}

// shape is the markup's elements and attribute names, in document order,
// without any text or attribute value.
func shape(t *testing.T, b []byte) []string {
	t.Helper()
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	doc.Find("*").Each(func(_ int, s *goquery.Selection) {
		n := s.Nodes[0]
		names := make([]string, 0, len(n.Attr))
		for _, a := range n.Attr {
			names = append(names, a.Key)
		}
		slices.Sort(names)
		out = append(out, fmt.Sprintf("%d <%s %s>", s.ParentsUntil("html").Length(), n.Data, strings.Join(names, " ")))
	})
	return out
}

func diffLines(want, got []string) string {
	var b strings.Builder
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		if w != g {
			fmt.Fprintf(&b, "  want %s\n  got  %s\n", w, g)
		}
	}
	return b.String()
}
