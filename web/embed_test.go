package web_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/chatwindow/chatwindow/web/window"
)

// The window on a brand's site (docs/embedding.md): embed.js and the
// brand's files as the window serves them, and what a framed window
// (/?embed=1) does differently: frame.js, and its cookie.

// fetchRaw gets u as a browser that takes gzip would, without undoing it:
// the answer and the bytes on the wire.
func fetchRaw(t *testing.T, u string, headers ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept-Encoding", "gzip")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// gunzip undoes fetchRaw's gzip.
func gunzip(t *testing.T, b []byte) string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(plain)
}

// page parses the window's page at u.
func page(t *testing.T, u string) *goquery.Document {
	t.Helper()
	resp, b := fetchRaw(t, u)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestEmbedScript: embed.js is served from its stable URL for minutes, not
// for good (the brand's tag never changes), gzipped, with the window's
// settings in it: the title, the launcher's stylesheet (served, with the
// brand's colour and corner) and no sign-in function when customers are
// not authenticated. The window wears the brand's colour, logo and
// greeting through its own stylesheet and markup.
func TestEmbedScript(t *testing.T) {
	logo, err := os.ReadFile(filepath.Join("..", "static", "demo-card.svg"))
	if err != nil {
		t.Fatal(err)
	}
	site := newSiteWithKeys(t, sessionKeys, func(c *window.Config) {
		c.Brand = window.Brand{Title: "Acme", Greeting: "Hi! Ask us anything.", Color: "#2f5d3a", Position: "left", Logo: logo, LogoType: "image/svg+xml"}
	})
	resp, b := fetchRaw(t, site.URL+"/embed.js")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Cache-Control") != "public, max-age=300" ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("GET /embed.js: %s, %v", resp.Status, resp.Header)
	}
	js := gunzip(t, b)
	if !strings.Contains(js, `var C = {"title":"Acme","css":"/brand/embed.`) || strings.Contains(js, "/*CONFIG*/") || strings.Contains(js, `"auth"`) {
		t.Errorf("embed.js's settings: %q", js[:min(len(js), 300)])
	}
	css := js[strings.Index(js, `"css":"`)+len(`"css":"`):]
	css = css[:strings.IndexByte(css, '"')]
	resp, b = fetchRaw(t, site.URL+css)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
		t.Fatalf("GET %s: %s, %v", css, resp.Status, resp.Header)
	}
	if s := gunzip(t, b); !strings.HasPrefix(s, "#chatwindow-launcher, #chatwindow-panel { --cw-color: #2f5d3a; --cw-text: #ffffff; --cw-left: 20px; --cw-right: auto; }\n") {
		t.Errorf("the launcher's stylesheet starts %q", s[:min(len(s), 200)])
	}

	doc := page(t, site.URL+"/")
	if got := doc.Find("h1").Text(); got != "Acme" {
		t.Errorf("the window's title is %q, want Acme", got)
	}
	if got := doc.Find(`[data-testid="greeting"]`).Text(); got != "Hi! Ask us anything." {
		t.Errorf("the greeting is %q", got)
	}
	for _, sel := range []string{`link[href^="/brand/brand."]`, `img.brand-logo[src^="/brand/logo."][alt=""]`} {
		el := doc.Find(sel)
		if el.Length() != 1 {
			t.Errorf("no %s in the page", sel)
			continue
		}
		u := el.AttrOr("href", el.AttrOr("src", ""))
		resp, b := fetchRaw(t, site.URL+u)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", u, resp.Status)
		}
		if strings.HasSuffix(u, ".css") && !strings.HasPrefix(gunzip(t, b), ":root { --brand-color: #2f5d3a; --brand-text: #ffffff; }") {
			t.Errorf("the window's brand stylesheet lacks the colours")
		}
	}
	if doc.Find(`[style]`).Length() != 0 {
		t.Error("the page has inline styles")
	}
	if resp, _ := fetchRaw(t, site.URL+"/brand/nothing.css"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET an unknown brand file: %s, want 404", resp.Status)
	}
}

// TestFramedWindow: a window framed by a brand's page (/?embed=1) loads
// frame.js, which answers the origins that may frame it, has a close
// button, and starts with a cookie that a cross-site frame keeps
// (Partitioned, SameSite=None, Secure, HttpOnly); the window on its own
// keeps its SameSite=Lax cookie. "Forget me" from a framed page deletes
// both kinds and answers with a framed page.
func TestFramedWindow(t *testing.T) {
	const ancestors = "'self' https://shop.example"
	site := newSiteWithKeys(t, sessionKeys, func(c *window.Config) { c.FrameAncestors = ancestors })
	framed := page(t, site.URL+"/?embed=1")
	frame := framed.Find(`script[src*="/frame."]`)
	if frame.Length() != 1 || frame.AttrOr("data-origins", "") != ancestors {
		t.Errorf("the framed page's frame.js: %d, data-origins %q", frame.Length(), frame.AttrOr("data-origins", ""))
	}
	if framed.Find(`[data-testid="panel-close"]`).Length() != 1 || framed.Find("main").AttrOr("data-start", "") != "/session?embed=1" {
		t.Error("the framed page has no close button, or does not start framed")
	}
	plain := page(t, site.URL+"/")
	if plain.Find(`script[src*="/frame."], [data-testid="panel-close"]`).Length() != 0 || plain.Find("main").AttrOr("data-start", "") != "/session" {
		t.Error("the window on its own is framed")
	}

	for _, tc := range []struct {
		name, path string
		want, not  []string
	}{
		{"framed", "/session?embed=1", []string{"HttpOnly", "Secure", "SameSite=None", "Partitioned"}, []string{"SameSite=Lax"}},
		{"on its own", "/session", []string{"HttpOnly", "SameSite=Lax"}, []string{"Partitioned", "SameSite=None"}},
	} {
		resp := post(t, client(t), site.URL+tc.path, site.URL)
		_, cookie, _ := strings.Cut(resp.Header.Get("Set-Cookie"), ";") // its attributes
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("%s: POST %s = %s", tc.name, tc.path, resp.Status)
		}
		for _, w := range tc.want {
			if !strings.Contains(cookie, w) {
				t.Errorf("%s: cookie %q lacks %s", tc.name, cookie, w)
			}
		}
		for _, n := range tc.not {
			if strings.Contains(cookie, n) {
				t.Errorf("%s: cookie %q has %s", tc.name, cookie, n)
			}
		}
	}

	for _, tc := range []struct{ name, referer, want string }{
		{"framed", site.URL + "/?embed=1", "/?embed=1"},
		{"on its own", site.URL + "/", "/"},
		{"another site's framed page", "https://shop.example/?embed=1", "/"},
	} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, site.URL+"/forget", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", site.URL)
		req.Header.Set("Referer", tc.referer)
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != tc.want {
			t.Errorf("%s: forget = %s to %q, want 303 to %q", tc.name, resp.Status, resp.Header.Get("Location"), tc.want)
		}
		cookies := resp.Header.Values("Set-Cookie")
		if len(cookies) != 2 || !strings.Contains(cookies[0], "Max-Age=0") || strings.Contains(cookies[0], "Partitioned") ||
			!strings.Contains(cookies[1], "Max-Age=0") || !strings.Contains(cookies[1], "Partitioned") {
			t.Errorf("%s: forget's cookies %q, want both kinds expired", tc.name, cookies)
		}
	}
}

// TestEmbedJavaScriptBudget: the JavaScript of a brand's page with the
// window at its heaviest (framed, with the brand's sign-in) and embed.js,
// as shipped (gzipped), stays within the budget (docs/performance.md);
// embed.js and frame.js take at most 2.75 KiB of it.
func TestEmbedJavaScriptBudget(t *testing.T) {
	const embedBudget = 2816
	site := authSite(t)
	doc := page(t, site.URL+"/?embed=1")
	if doc.Find(`script[src*="/signin."]`).Length() != 1 || doc.Find(`script[src*="/frame."]`).Length() != 1 {
		t.Fatal("the framed, authenticated window does not load signin.js and frame.js")
	}
	total, embedded := 0, 0
	sizes := map[string]int{}
	srcs := append(doc.Find("script[src]").Map(func(_ int, s *goquery.Selection) string { return s.AttrOr("src", "") }), "/embed.js")
	for _, u := range srcs {
		resp, b := fetchRaw(t, site.URL+u)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("GET %s: %s, Content-Encoding %q", u, resp.Status, resp.Header.Get("Content-Encoding"))
		}
		sizes[u] = len(b)
		total += len(b)
		if u == "/embed.js" || strings.Contains(u, "/frame.") {
			embedded += len(b)
		}
	}
	t.Logf("JavaScript shipped, gzipped: %d bytes (budget %d), embed.js and frame.js %d (budget %d): %v", total, jsBudget, embedded, embedBudget, sizes)
	if total > jsBudget {
		t.Errorf("a brand's page with the window ships %d bytes of JavaScript gzipped, budget %d: %v", total, jsBudget, sizes)
	}
	if embedded > embedBudget {
		t.Errorf("embed.js and frame.js ship %d bytes gzipped, budget %d", embedded, embedBudget)
	}
}
