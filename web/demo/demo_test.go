package demo_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"go.uber.org/goleak"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
	"github.com/chatwindow/chatwindow/static"
	"github.com/chatwindow/chatwindow/web/demo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const windowURL = "http://localhost:8080"

// site serves the demo site of cfg (its window at windowURL) until the test
// ends.
func site(t *testing.T, cfg demo.Config) *httptest.Server {
	t.Helper()
	assets, err := static.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg.WindowURL = windowURL
	s, err := demo.New(testenv.Logger("CHATWINDOW_TEST_LOG"), cfg, assets)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv
}

// postToken asks the demo site for a demo customer's JWT as its page does,
// from origin with contentType.
func postToken(t *testing.T, srv *httptest.Server, origin, contentType, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/token", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Content-Type", contentType)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestPage: the demo site's page loads the window's embed.js, which its
// CSP lets in with the launcher's stylesheet and frame, and nothing else
// of another origin; nothing frames the page. Without a key it offers no
// sign-in, and signs nobody in.
func TestPage(t *testing.T) {
	srv := site(t, demo.Config{})
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self' " + windowURL + ";", "style-src 'self' " + windowURL + ";", "frame-src " + windowURL + ";", "frame-ancestors 'none'", "connect-src 'self';"} {
		if !strings.Contains(csp, want) {
			t.Errorf("the page's CSP %q lacks %q", csp, want)
		}
	}
	doc, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if s := doc.Find(`script[src="` + windowURL + `/embed.js"][async]`); s.Length() != 1 {
		t.Error("the page has no async embed.js of the window")
	}
	if doc.Find(`#demo-signin`).Length() != 0 || doc.Find(`script[data-auth-method]`).AttrOr("data-auth-method", "") != "" {
		t.Error("a page that signs nobody in offers a sign-in")
	}
	if code, body := postToken(t, srv, srv.URL, "application/json", `{"name":"Jane"}`); code != http.StatusNotFound {
		t.Errorf("a token without a key: %d %q, want 404", code, body)
	}
	if _, err := demo.New(nil, demo.Config{WindowURL: "localhost:8080"}, nil); err == nil {
		t.Error("a window URL without its scheme was taken")
	}
}

// TestToken: the page's demo customer gets a brand JWT that the embedded
// service, trusting the demo site's key, exchanges for a consumer token;
// another site's page, a body that is not JSON and names that are no names
// get a clear refusal and no token.
func TestToken(t *testing.T) {
	const account = "55500011"
	key := testenv.Key()
	srv := site(t, demo.Config{AuthMethod: "LPJsMethodName", Key: key, Account: account, Issuer: "http://127.0.0.1:8081"})
	_, body := func() (int, string) {
		resp, err := srv.Client().Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}()
	if !strings.Contains(body, `data-auth-method="LPJsMethodName"`) || !strings.Contains(body, `id="demo-signin"`) {
		t.Error("the page offers no sign-in")
	}

	code, answer := postToken(t, srv, srv.URL, "application/json", `{"name":" Jane Doe "}`)
	var got struct{ Token string }
	if code != http.StatusOK || json.Unmarshal([]byte(answer), &got) != nil || got.Token == "" {
		t.Fatalf("a token for Jane Doe: %d %q", code, answer)
	}
	lp := testenv.NewService(t, simulator.Config{Account: account, AuthKey: &key.PublicKey})
	tok, err := messaging.Authenticate(t.Context(), lp.Srv.Client(), lp.EP, got.Token)
	if err != nil {
		t.Fatalf("the service refuses the demo token: %v", err)
	}
	if sub, _ := messaging.Subject(tok); sub == "" {
		t.Error("the consumer token names nobody")
	}

	for _, tc := range []struct {
		name, origin, contentType, body string
		want                            int
		says                            string
	}{
		{"another site's page", "http://evil.example", "application/json", `{"name":"Jane"}`, http.StatusForbidden, "may not"},
		{"a form", srv.URL, "application/x-www-form-urlencoded", `name=Jane`, http.StatusUnsupportedMediaType, "JSON"},
		{"not JSON", srv.URL, "application/json", `{"name":`, http.StatusBadRequest, "could not be read"},
		{"no name", srv.URL, "application/json", `{"name":"  "}`, http.StatusBadRequest, "Give a name"},
		{"a long name", srv.URL, "application/json", `{"name":"` + strings.Repeat("a", 61) + `"}`, http.StatusBadRequest, "at most 60"},
		{"two lines", srv.URL, "application/json", `{"name":"Jane\nDoe"}`, http.StatusBadRequest, "one line"},
		{"a huge body", srv.URL, "application/json", `{"name":"` + strings.Repeat("a", 2000) + `"}`, http.StatusBadRequest, "could not be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := postToken(t, srv, tc.origin, tc.contentType, tc.body)
			if code != tc.want || !strings.Contains(body, tc.says) || strings.Contains(body, "token") {
				t.Errorf("%d %q, want %d saying %q", code, body, tc.want, tc.says)
			}
		})
	}
}
