package web_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/testing/testclock"
)

// browser is a client with its cookies whose connections leave from ip:
// on Linux every 127/8 address is the loopback's, so a test can be many
// browsers at many addresses.
type browser struct {
	hc   *http.Client
	csrf string
}

func newBrowser(t *testing.T, site string, ip string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	b := &browser{hc: &http.Client{Jar: jar, Transport: tr, Timeout: 10 * time.Second}}
	resp, body := get(t, b.hc, site+"/agent/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /agent/ from %s = %s", ip, resp.Status)
	}
	const marker = `name="csrf" value="`
	i := strings.Index(body, marker)
	if i < 0 {
		t.Fatal("the sign-in form has no CSRF token")
	}
	b.csrf = body[i+len(marker):]
	b.csrf = b.csrf[:strings.IndexByte(b.csrf, '"')]
	return b
}

// TestConsoleSignInLockout: repeated wrong passwords from one browser
// address lock that name out there, and that address out for every name:
// the form comes back with 429 "Too many attempts" and the service is not
// asked. Other addresses sign in meanwhile; the lockout ends with the
// clock.
func TestConsoleSignInLockout(t *testing.T) {
	clock := testclock.New(time.Now())
	var logins atomic.Int64
	site := newConsoleSiteWith(t, siteOptions{now: clock.Now, onLogin: func() { logins.Add(1) }})
	const good, bad = "horse-battery-staple", "guess"
	tooMany := "Too many attempts. Try again in 1 minute."
	type step struct {
		name       string
		advance    time.Duration
		from       string
		agent      string // "n" is a new name each time
		password   string
		times      int // default 1
		wantCode   int
		wantText   string
		wantLogins int64 // logins at the service so far
	}
	steps := []step{
		{name: "wrong passwords below the limit", from: "127.0.0.1", agent: "alice", password: bad, times: 4, wantCode: 200, wantText: "Wrong name or password.", wantLogins: 4},
		{name: "the fifth locks", from: "127.0.0.1", agent: "alice", password: bad, wantCode: 429, wantText: tooMany, wantLogins: 5},
		{name: "locked: the right password is not even tried", from: "127.0.0.1", agent: "alice", password: good, times: 3, wantCode: 429, wantText: tooMany, wantLogins: 5},
		{name: "another address signs in", from: "127.0.0.2", agent: "alice", password: good, wantCode: 303, wantLogins: 6},
		{name: "after the lockout", advance: time.Minute, from: "127.0.0.1", agent: "alice", password: good, wantCode: 303, wantLogins: 7},

		{name: "spraying names from one address", from: "127.0.0.3", agent: "n", password: bad, times: 19, wantCode: 200, wantText: "Wrong name or password.", wantLogins: 26},
		{name: "the twentieth locks the address", from: "127.0.0.3", agent: "n", password: bad, wantCode: 429, wantText: tooMany, wantLogins: 27},
		{name: "for every name", from: "127.0.0.3", agent: "alice", password: good, wantCode: 429, wantText: tooMany, wantLogins: 27},
	}
	browsers := map[string]*browser{}
	n := 0
	for _, st := range steps {
		b := browsers[st.from]
		if b == nil {
			b = newBrowser(t, site.URL, st.from)
			browsers[st.from] = b
		}
		clock.Advance(st.advance)
		for i := range max(st.times, 1) {
			agent := st.agent
			if agent == "n" {
				n++
				agent = fmt.Sprint("agent-", n)
			}
			resp, body := postForm(t, b.hc, site.URL+"/agent/sign-in", url.Values{"csrf": {b.csrf}, "name": {agent}, "password": {st.password}})
			if resp.StatusCode != st.wantCode || !strings.Contains(body, st.wantText) {
				t.Fatalf("%s (#%d): %s, want %d with %q", st.name, i+1, resp.Status, st.wantCode, st.wantText)
			}
			if st.wantCode == 429 && resp.Header.Get("Retry-After") == "" {
				t.Errorf("%s: 429 without Retry-After", st.name)
			}
			if st.wantCode == 303 {
				browsers[st.from] = nil // signed in: a new token next time
			}
		}
		if got := logins.Load(); got != st.wantLogins {
			t.Fatalf("%s: %d logins at the service, want %d", st.name, got, st.wantLogins)
		}
	}
}

// TestConsoleServiceLockout: when the service has locked the agent's login
// out (failures from several addresses), the console says so at once, with
// 429, instead of waiting for the service.
func TestConsoleServiceLockout(t *testing.T) {
	site := newConsoleSiteWith(t, siteOptions{})
	// Five failures from each of two addresses: ten at the service, its
	// limit for one name.
	for _, ip := range []string{"127.0.0.4", "127.0.0.5"} {
		b := newBrowser(t, site.URL, ip)
		for range 5 {
			postForm(t, b.hc, site.URL+"/agent/sign-in", url.Values{"csrf": {b.csrf}, "name": {"alice"}, "password": {"guess"}})
		}
	}
	b := newBrowser(t, site.URL, "127.0.0.6")
	resp, body := postForm(t, b.hc, site.URL+"/agent/sign-in", url.Values{"csrf": {b.csrf}, "name": {"alice"}, "password": {"horse-battery-staple"}})
	if resp.StatusCode != http.StatusTooManyRequests || !strings.Contains(body, "Too many attempts. Try again in 1 minute.") {
		t.Errorf("sign-in while the service locks the name: %s, want 429 and too many attempts", resp.Status)
	}
}
