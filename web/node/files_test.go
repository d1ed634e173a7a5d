package node_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/pageclient"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
	"github.com/chatwindow/chatwindow/web/node"
	"github.com/chatwindow/chatwindow/web/window"
)

// fileWorld is a window node on the embedded service, a customer's tab
// that wrote, and an agent who took the conversation.
type fileWorld struct {
	lp     *testenv.Service
	srv    *httptest.Server
	tab    *pageclient.Tab
	agent  *messaging.Agent
	convID string
}

// newFileWorld starts a node of web (its SessionKeys filled in) and has a
// customer write and an agent take the conversation.
func newFileWorld(t *testing.T, web window.Config) *fileWorld {
	t.Helper()
	lp := testenv.NewService(t, simulator.Config{Account: "1", Agents: []simulator.Agent{{Name: "alice", Password: "pw"}}})
	web.SessionKeys = sessionKeys
	n, err := node.New(context.Background(), node.Config{
		Endpoints: lp.EP, HTTPClient: lp.Srv.Client(), Backoff: testenv.FastBackoff, Web: web,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n)
	t.Cleanup(func() {
		srv.Close()
		n.Close()
	})
	ctx, cancel := context.WithTimeout(t.Context(), testenv.WaitLimit)
	defer cancel()

	tab, err := pageclient.Open(ctx, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tab.Close() })
	if err := tab.Send("I need my invoice"); err != nil {
		t.Fatal(err)
	}
	agent, err := messaging.NewAgent(messaging.AgentConfig{Endpoints: lp.EP, Username: "alice", Password: "pw", HTTPClient: lp.Srv.Client(),
		SessionOptions: messaging.SessionOptions{Backoff: testenv.FastBackoff}})
	if err != nil {
		t.Fatal(err)
	}
	if err := agent.SetAgentState(ctx, protocol.AgentOnline); err != nil {
		t.Fatal(err)
	}
	if err := agent.SubscribeRoutingTasks(ctx); err != nil {
		t.Fatal(err)
	}
	col := testenv.Collect(agent.Updates())
	testenv.Start(t, agent.Run)
	var convID, ringID string
	col.WaitFor(t, "a ring", func(ups []messaging.Update) bool {
		for _, u := range ups {
			if r, ok := u.(messaging.RoutingUpdate); ok && len(r.Change.Result.RingsDetails) > 0 {
				convID, ringID = r.Change.Result.ConversationID, r.Change.Result.RingsDetails[0].RingID
				return true
			}
		}
		return false
	})
	if err := agent.AcceptRing(ctx, ringID); err != nil {
		t.Fatal(err)
	}
	return &fileWorld{lp: lp, srv: srv, tab: tab, agent: agent, convID: convID}
}

// TestFileDownloadRoute: an agent shares a file; the customer's window
// shows it with a link to the window's /file, which answers the bytes as
// an attachment, inert, to the customer's cookie only; other paths and
// visitors without a session get 404, and the answer never names the
// storage's signed URL.
func TestFileDownloadRoute(t *testing.T) {
	w := newFileWorld(t, window.Config{})
	lp, srv, tab, agent, convID := w.lp, w.srv, w.tab, w.agent, w.convID
	ctx, cancel := context.WithTimeout(t.Context(), testenv.WaitLimit)
	defer cancel()
	var img bytes.Buffer
	if err := png.Encode(&img, image.NewGray(image.Rect(0, 0, 6, 4))); err != nil {
		t.Fatal(err)
	}
	up, err := agent.GenerateUploadURL(ctx, int64(img.Len()), "PNG")
	if err != nil {
		t.Fatal(err)
	}
	if err := messaging.Upload(ctx, lp.Srv.Client(), up, "", img.Bytes()); err != nil {
		t.Fatal(err)
	}
	seq, err := agent.Publish(ctx, convID, protocol.Event{Type: protocol.EventContent,
		File: &protocol.HostedFile{Caption: "Invoice <March>", RelativePath: up.RelativePath, FileType: "PNG"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tab.WaitFor(ctx, func(v pageclient.View) bool {
		for _, m := range v.AgentMessages() {
			if m.Seq == seq {
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("the file's bubble: %v", err)
	}

	customer := &http.Client{Jar: tab.Jar(), Timeout: testenv.WaitLimit}
	get := func(c *http.Client, u string) (*http.Response, []byte) {
		t.Helper()
		resp, err := c.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	_, page := get(customer, srv.URL+"/")
	doc, err := goquery.NewDocumentFromReader(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	bubble := doc.Find(`[data-testid="message"][data-seq="` + strconv.FormatInt(seq, 10) + `"] [data-testid="file"]`)
	link, _ := bubble.Find(`[data-testid="file-download"]`).Attr("href")
	if caption := bubble.Find(`[data-testid="file-caption"]`).Text(); caption != "Invoice <March>" || link != "/file?p="+url.QueryEscape(up.RelativePath) {
		t.Fatalf("the file's bubble: caption %q, link %q", caption, link)
	}

	resp, body := get(customer, srv.URL+link)
	if resp.StatusCode != 200 || !bytes.Equal(body, img.Bytes()) {
		t.Fatalf("download: %s, %d bytes", resp.Status, len(body))
	}
	for h, want := range map[string]string{
		"Content-Type":            "image/png",
		"Content-Disposition":     `attachment; filename=` + up.RelativePath[strings.LastIndex(up.RelativePath, "/")+1:],
		"Content-Security-Policy": "default-src 'none'; sandbox",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "private, no-store",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}

	stranger := &http.Client{Timeout: testenv.WaitLimit}
	for name, tt := range map[string]struct {
		c *http.Client
		u string
	}{
		"no session":     {stranger, srv.URL + link},
		"unknown path":   {customer, srv.URL + "/file?p=" + url.QueryEscape("/v1/AUTH_async-images/1/nope.PNG")},
		"a path upwards": {customer, srv.URL + "/file?p=" + url.QueryEscape("/v1/AUTH_async-images/1/../1/x.PNG")},
		"not a path":     {customer, srv.URL + "/file?p=" + url.QueryEscape("https://evil.example/x.png")},
		"two paths":      {customer, srv.URL + link + "&p=%2Fx"},
		"no path":        {customer, srv.URL + "/file"},
	} {
		resp, body := get(tt.c, tt.u)
		if resp.StatusCode != http.StatusNotFound || bytes.Contains(body, []byte("temp_url")) {
			t.Errorf("%s: %s %q, want 404", name, resp.Status, body)
		}
	}
}
