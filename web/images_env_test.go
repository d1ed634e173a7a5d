package web_test

// The image proxy tests' servers: an image host on loopback and the window
// with an agent who sends cards.

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/imageproxy"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
	"github.com/chatwindow/chatwindow/static"
	"github.com/chatwindow/chatwindow/web/node"
	"github.com/chatwindow/chatwindow/web/window"
)

// testRenderer is the window's renderer with the tests' session keys.
func testRenderer(tb testing.TB) relay.Renderer {
	tb.Helper()
	return rendererWithKeys(tb, sessionKeys)
}

func rendererWithKeys(tb testing.TB, keys [][]byte) relay.Renderer {
	tb.Helper()
	assets, err := static.Load()
	if err != nil {
		tb.Fatal(err)
	}
	return window.NewRenderer(keys, assets)
}

var testPNG = func() []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 3))); err != nil {
		panic(err)
	}
	return b.Bytes()
}()

// imageHost is an image origin on loopback (TLS) that records what it was
// asked.
type imageHost struct {
	*httptest.Server
	hits atomic.Int64
	mu   sync.Mutex
	reqs []http.Header
}

func newImageHost(t *testing.T) *imageHost {
	t.Helper()
	h := &imageHost{}
	mux := http.NewServeMux()
	mux.HandleFunc("/a.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Set-Cookie", "track=you")
		w.Write(testPNG)
	})
	mux.HandleFunc("/a.svg", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		fmt.Fprint(w, `<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	})
	mux.HandleFunc("/page.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		fmt.Fprint(w, `<!DOCTYPE html><html><body>secret remote page</body></html>`)
	})
	mux.HandleFunc("/big.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Content-Length", fmt.Sprint(len(testPNG)+imageMax))
		w.Write(testPNG)
		w.Write(make([]byte, imageMax))
	})
	mux.HandleFunc("/chunked.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(testPNG)
		for range 4 {
			w.Write(make([]byte, imageMax/2))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/slow.png", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Content-Length", fmt.Sprint(2*len(testPNG)))
		w.Write(testPNG)
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the rest never comes
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	h.Server = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.hits.Add(1)
		h.mu.Lock()
		h.reqs = append(h.reqs, r.Header.Clone())
		h.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(h.Close)
	return h
}

// imageMax is the tests' image size limit.
const imageMax = 64 << 10

func (h *imageHost) headers() []http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]http.Header(nil), h.reqs...)
}

// proxyConfig is the production guard with one exception, host's own
// address (loopback), whose certificate is trusted; small limits.
func proxyConfig(t *testing.T, host *imageHost) imageproxy.Config {
	t.Helper()
	ok, err := netip.ParseAddrPort(host.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(host.Certificate())
	return imageproxy.Config{
		AllowAddr: func(ap netip.AddrPort) bool { return ap == ok || imageproxy.PublicAddr(ap.Addr()) },
		RootCAs:   pool,
		MaxBytes:  imageMax,
		Timeout:   500 * time.Millisecond,
	}
}

// agentSite is the window on the embedded service, with an agent signed in
// there to send cards.
type agentSite struct {
	*httptest.Server
	agent *messaging.Agent
}

func newAgentSite(t *testing.T, keys [][]byte, proxy imageproxy.Config) *agentSite {
	t.Helper()
	lp := newService(t)
	n := newNode(t, node.Config{Endpoints: lp.EP, HTTPClient: lp.Srv.Client(), Grace: time.Minute,
		Web: window.Config{SessionKeys: keys, ImageProxy: proxy}})
	site := httptest.NewServer(n)
	t.Cleanup(site.Close)
	agent, err := messaging.NewAgent(messaging.AgentConfig{Endpoints: lp.EP, Username: "a", Password: "p", HTTPClient: lp.Srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Start(t, agent.Run)
	testenv.Collect(agent.Updates()).WaitFor(t, "the agent to connect", testenv.IsOpen)
	return &agentSite{Server: site, agent: agent}
}

// sendCard opens a customer's tab on hc, starts a conversation, has the
// agent join and send card; it returns the tab's fragment with the card.
func (s *agentSite) sendCard(t *testing.T, hc *http.Client, card string) *goquery.Document {
	t.Helper()
	startSession(t, s.Server, hc)
	c := openTab(t, s.Server, hc)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"send","text":"hello"}`)); err != nil {
		t.Fatal(err)
	}
	var conv string
	for conv == "" {
		doc := readFrame(ctx, t, c)
		conv, _ = doc.Find(`[data-from="consumer"][data-dialog-id]`).Attr("data-dialog-id")
	}
	if err := s.agent.Join(ctx, conv, protocol.RoleAssignedAgent); err != nil {
		t.Fatal(err)
	}
	if _, err := s.agent.Publish(ctx, conv, protocol.Event{Type: protocol.EventRichContent, Content: json.RawMessage(card)}); err != nil {
		t.Fatal(err)
	}
	for {
		if doc := readFrame(ctx, t, c); doc.Find(`[data-testid="card"]`).Length() > 0 {
			return doc
		}
	}
}

func readFrame(ctx context.Context, t *testing.T, c *websocket.Conn) *goquery.Document {
	t.Helper()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// imageSrcs maps each card image's alt to its src.
func imageSrcs(doc *goquery.Document) map[string]string {
	out := map[string]string{}
	doc.Find(`[data-testid="card"] img`).Each(func(_ int, s *goquery.Selection) {
		alt, _ := s.Attr("alt")
		out[alt], _ = s.Attr("src")
	})
	return out
}
