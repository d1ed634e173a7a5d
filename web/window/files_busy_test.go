package window

import (
	"context"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
	"github.com/chatwindow/chatwindow/static"
)

// TestFileDownloadLimits: a download waits for the customer's session to
// reach the messaging service at most fileTimeout (504), and no more than
// maxDownloads run at once (503, Retry-After). The session's socket here
// can never connect: its host refuses.
func TestFileDownloadLimits(t *testing.T) {
	lp := testenv.NewService(t, simulator.Config{Account: "1"})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := lp.EP
	ep.AsyncMessagingEnt = l.Addr().String()
	l.Close()
	assets, err := static.Load()
	if err != nil {
		t.Fatal(err)
	}
	keys := [][]byte{[]byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")}
	ctx, cancel := context.WithCancel(context.Background())
	mgr := relay.NewManager(ctx, relay.Config{
		Renderer: NewRenderer(keys, assets),
		Consumer: func(token string, tap func(bool, []byte)) (relay.Upstream, error) {
			return messaging.NewConsumer(messaging.ConsumerConfig{Endpoints: ep, Token: messaging.StaticToken(token),
				SessionOptions: messaging.SessionOptions{Backoff: testenv.FastBackoff}})
		},
	})
	s, err := New(testenv.Logger("WINDOW_TEST_LOG"), Config{SessionKeys: keys, Signup: messaging.SignupToken(lp.Srv.Client(), lp.EP)}, assets, mgr)
	if err != nil {
		t.Fatal(err)
	}
	s.fileTimeout = 300 * time.Millisecond
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		srv.Close()
		cancel()
		mgr.Wait()
	})
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: testenv.WaitLimit}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+startPath, nil)
	req.Header.Set("Origin", srv.URL)
	resp, err := hc.Do(req)
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("start: %v %v", resp, err)
	}
	resp.Body.Close()
	link := srv.URL + filePath + "?p=/v1/AUTH_async-images/1/x.PNG"

	if resp, err = hc.Get(link); err != nil || resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("a session that cannot connect: %v %v, want 504", resp, err)
	}
	resp.Body.Close()

	for range maxDownloads {
		s.downloads <- struct{}{}
	}
	resp, err = hc.Get(link)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("with %d downloads under way: %v %v, want 503 with Retry-After", maxDownloads, resp, err)
	}
	resp.Body.Close()
	for range maxDownloads {
		<-s.downloads
	}
}
