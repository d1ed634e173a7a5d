package web_test

// Card images through the window's image proxy (docs/richcontent.md,
// "Images"): on real servers, the window on the embedded service with an
// agent, and an image host (TLS) on loopback.

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/imageproxy"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/richcontent"
	"github.com/chatwindow/chatwindow/internal/transcript"
	"github.com/chatwindow/chatwindow/static"
)

// TestCardImagesProxied: a card's images reach the customer's page as URLs
// of the window's own origin only, never the remote's (in the socket's
// fragment and in the page a reload renders); the window's own asset is
// its own path; a plain-http image of another host is its text. Through
// the proxy, an image comes back as an image with the proxy's headers and
// nothing of the customer's reaches the image host; what is not a raster
// image within the limits, or not on a public https host, is refused with
// a short text of the window's.
func TestCardImagesProxied(t *testing.T) {
	host := newImageHost(t)
	other := newImageHost(t) // on loopback too, but not allowed: the production guard's verdict
	site := newAgentSite(t, sessionKeys, proxyConfig(t, host))
	assets, err := static.Load()
	if err != nil {
		t.Fatal(err)
	}
	own := assets.Hashed("demo-card.svg")
	hostURL := host.URL
	tests := []struct {
		name string
		url  string
		// src is the page's src: "proxy" for a proxied URL, "" for no
		// image (its text instead), else the exact src.
		src  string
		code int
	}{
		{"png", hostURL + "/a.png", "proxy", http.StatusOK},
		{"own asset over plain http", "http://localhost:1/static/" + own, "/static/" + own, http.StatusOK},
		{"plain http from another host", "http://" + host.Listener.Addr().String() + "/a.png", "", 0},
		{"svg", hostURL + "/a.svg", "proxy", http.StatusBadGateway},
		{"html called png", hostURL + "/page.png", "proxy", http.StatusBadGateway},
		{"announced oversize", hostURL + "/big.png", "proxy", http.StatusBadGateway},
		{"chunked oversize", hostURL + "/chunked.png", "proxy", http.StatusBadGateway},
		{"slow body", hostURL + "/slow.png", "proxy", http.StatusGatewayTimeout},
		{"loopback host", other.URL + "/a.png", "proxy", http.StatusForbidden},
		{"redirect to loopback", hostURL + "/redirect?to=" + url.QueryEscape(other.URL+"/a.png"), "proxy", http.StatusForbidden},
		{"redirect to a private address", hostURL + "/redirect?to=" + url.QueryEscape("https://10.1.2.3/a.png"), "proxy", http.StatusForbidden},
		{"redirect to plain http", hostURL + "/redirect?to=" + url.QueryEscape("http://"+host.Listener.Addr().String()+"/a.png"), "proxy", http.StatusForbidden},
	}
	var elements []any
	for _, tt := range tests {
		elements = append(elements, map[string]any{"type": "image", "url": tt.url, "tooltip": tt.name})
	}
	card, err := json.Marshal(map[string]any{"type": "vertical", "elements": elements})
	if err != nil {
		t.Fatal(err)
	}
	hc := client(t)
	fragment := site.sendCard(t, hc, string(card))
	_, body := get(t, hc, site.URL+"/")
	page, err := goquery.NewDocumentFromReader(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	srcs := imageSrcs(fragment)
	if diff := cmp.Diff(srcs, imageSrcs(page)); diff != "" {
		t.Errorf("the page and the socket's fragment differ (-fragment +page):\n%s", diff)
	}
	for _, s := range srcs {
		if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") {
			t.Errorf("src %q is not of the window's origin", s)
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, ok := srcs[tt.name]
			switch {
			case tt.src == "":
				if ok {
					t.Fatalf("an image %q, want its text", src)
				}
				if !strings.Contains(fragment.Find(`[data-testid="card"]`).Text(), tt.name) {
					t.Errorf("its text is not shown")
				}
				return
			case !ok:
				t.Fatalf("no image; the card: %s", fragment.Find(`[data-testid="card"]`).Text())
			case tt.src == "proxy" && !strings.HasPrefix(src, "/image?"):
				t.Fatalf("src %q, want the window's image proxy", src)
			case tt.src != "proxy" && src != tt.src:
				t.Fatalf("src %q, want %q", src, tt.src)
			}
			// As the browser asks: with the session's cookie and the page as
			// referrer.
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, site.URL+src, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Referer", site.URL+"/")
			req.Header.Set("User-Agent", "Mozilla/5.0 (the customer's own browser)")
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			if resp.StatusCode != tt.code {
				t.Fatalf("GET %s = %s (%q), want %d", src, resp.Status, b.String(), tt.code)
			}
			if tt.src != "proxy" {
				return
			}
			h := resp.Header
			if got := h.Get("Content-Security-Policy"); got != "default-src 'none'; sandbox" {
				t.Errorf("CSP %q", got)
			}
			if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Set-Cookie") != "" {
				t.Errorf("headers %v", h)
			}
			if tt.code != http.StatusOK {
				if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || strings.Contains(b.String(), "secret") || strings.Contains(b.String(), "<") {
					t.Errorf("refusal %q typed %q: want a short text of the window's", b.String(), ct)
				}
				return
			}
			want := map[string]string{"Content-Type": "image/png", "Cache-Control": "public, max-age=86400", "Content-Disposition": "inline"}
			got := map[string]string{}
			for k := range want {
				got[k] = h.Get(k)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("headers (-want +got):\n%s", diff)
			}
			if !bytes.Equal(b.Bytes(), testPNG) {
				t.Errorf("body %d bytes, want the image", b.Len())
			}
		})
	}
	if n := other.hits.Load(); n != 0 {
		t.Errorf("the host not allowed was asked %d times", n)
	}
	for _, h := range host.headers() {
		if h.Get("Cookie") != "" || h.Get("Referer") != "" || h.Get("User-Agent") != imageproxy.UserAgent {
			t.Errorf("the image host was sent %v", h)
		}
	}
}

// TestImageURLsSigned: the proxy serves only the URLs a window rendered:
// any node with the same session keys (also one whose keys were rotated,
// the old ones kept), never an altered, unsigned or foreign URL.
func TestImageURLsSigned(t *testing.T) {
	host := newImageHost(t)
	newKeys := [][]byte{[]byte("abcdef0123456789abcdef0123456789"), []byte("0123456789abcdef0123456789abcdef")}
	site := newAgentSite(t, append(append([][]byte(nil), newKeys...), sessionKeys...), proxyConfig(t, host))
	src := func(keys [][]byte, u string) string {
		t.Helper()
		m := relay.Message{Message: transcript.Message{Key: "m-C-1", DialogID: "C", Seq: 1, HasSeq: true}, From: relay.FromAgent,
			Rich: richcontent.Parse(json.RawMessage(`{"type":"image","url":"`+u+`","tooltip":"x"}`), nil)}
		out, err := rendererWithKeys(t, keys).Change(relay.View{Phase: relay.PhaseOpen}, relay.Change{Added: []relay.Message{m}})
		if err != nil {
			t.Fatal(err)
		}
		doc, err := goquery.NewDocumentFromReader(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		s, ok := doc.Find("img").Attr("src")
		if !ok || !strings.HasPrefix(s, "/image?") {
			t.Fatalf("src %q, want the image proxy", s)
		}
		return s
	}
	good := src(sessionKeys, host.URL+"/a.png")
	q, err := url.ParseQuery(strings.TrimPrefix(good, "/image?"))
	if err != nil {
		t.Fatal(err)
	}
	other := [][]byte{[]byte("ffffffffffffffffffffffffffffffff"), []byte("eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee")}
	with := func(u, s string) string { return "/image?" + url.Values{"u": {u}, "s": {s}}.Encode() }
	tests := []struct {
		name string
		path string
		code int
	}{
		{"signed by another node (the old keys)", good, http.StatusOK},
		{"signed by another node (the new keys)", src(newKeys, host.URL+"/a.png"), http.StatusOK},
		{"signed with other keys", src(other, host.URL+"/a.png"), http.StatusForbidden},
		{"another URL, the signature kept", with(host.URL+"/a.png?x", q.Get("s")), http.StatusForbidden},
		{"unsigned", "/image?" + url.Values{"u": {host.URL + "/a.png"}}.Encode(), http.StatusForbidden},
		{"signature cut", with(q.Get("u"), q.Get("s")[:20]), http.StatusForbidden},
		{"signature not base64", with(q.Get("u"), strings.Repeat("*", 43)), http.StatusForbidden},
		{"the session's own hash key as the key", with(q.Get("u"), macB64(sessionKeys[0], q.Get("u"))), http.StatusForbidden},
		{"two URLs", good + "&u=" + url.QueryEscape(host.URL+"/a.svg"), http.StatusForbidden},
		{"nothing", "/image", http.StatusForbidden},
	}
	hc := client(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, hc, site.URL+tt.path)
			if resp.StatusCode != tt.code {
				t.Errorf("GET %s = %s (%q), want %d", tt.path, resp.Status, body, tt.code)
			}
		})
	}
	if n := host.hits.Load(); n != 1 {
		t.Errorf("the image host was asked %d times, want once (then the cache)", n)
	}
}

func macB64(key []byte, s string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(s))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// TestCardLinksHTTPS: a card's link is a link only when it is https; a
// plain-http one shows its title as text.
func TestCardLinksHTTPS(t *testing.T) {
	card := `{"type":"vertical","elements":[
		{"type":"button","title":"Plain","click":{"actions":[{"type":"link","uri":"http://docs.example/"}]}},
		{"type":"button","title":"Secure","click":{"actions":[{"type":"link","uri":"https://docs.example/"}]}}]}`
	m := relay.Message{Message: transcript.Message{Key: "m-C-1", DialogID: "C", Seq: 1, HasSeq: true}, From: relay.FromAgent, Rich: richcontent.Parse(json.RawMessage(card), nil)}
	out, err := testRenderer(t).Change(relay.View{Phase: relay.PhaseOpen}, relay.Change{Added: []relay.Message{m}})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	var links []string
	doc.Find(".card a").Each(func(_ int, s *goquery.Selection) {
		href, _ := s.Attr("href")
		links = append(links, s.Text()+" "+href)
	})
	if diff := cmp.Diff([]string{"Secure https://docs.example/"}, links); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
	if !strings.Contains(doc.Find(".card .card-text").Text(), "Plain") {
		t.Errorf("the plain-http link's title is not shown as text: %s", out)
	}
}

// TestWindowCSPImages: the window's page may load images of its own origin
// (and data: URLs) only; the agent console keeps its own policy.
func TestWindowCSPImages(t *testing.T) {
	site := newSite(t)
	resp, _ := get(t, client(t), site.URL+"/")
	csp := resp.Header.Get("Content-Security-Policy")
	var imgSrc string
	for d := range strings.SplitSeq(csp, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "img-src "); ok {
			imgSrc = v
		}
	}
	if imgSrc != "'self' data:" {
		t.Errorf("img-src %q in %q, want 'self' data:", imgSrc, csp)
	}
}
