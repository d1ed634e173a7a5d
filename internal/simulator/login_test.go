package simulator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// from returns an HTTP client whose connections leave from ip: on Linux
// every 127/8 address is the loopback's, so a test can be many clients.
func from(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: waitLimit}
}

// loginAnswer is what a login answered.
type loginAnswer struct {
	Code       int
	RetryAfter string
	Error      string // the JSON body's error
	Bearer     string
}

func (e *env) loginFrom(hc *http.Client, name, password string) loginAnswer {
	e.t.Helper()
	b, _ := json.Marshal(protocol.LoginRequest{Username: name, Password: password})
	resp, err := hc.Post(e.url(protocol.Path(protocol.PathAgentLogin, testAccount)+"?v=1.3"), "application/json", bytes.NewReader(b))
	if err != nil {
		e.t.Fatalf("login %s: %v", name, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		protocol.LoginResponse
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		e.t.Fatalf("login %s: %d %q is not JSON: %v", name, resp.StatusCode, body, err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("login %s: Content-Type %q", name, ct)
	}
	return loginAnswer{Code: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), Error: out.Error, Bearer: out.Bearer}
}

// TestLoginLockout: failed logins lock the username out for every address,
// and the address out for every username; a lockout answers 429 with
// Retry-After even to the right password, grows with each round, and ends
// on the service clock.
func TestLoginLockout(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.LoginLimits.PerUser.Threshold = 3
		c.LoginLimits.PerAddr.Threshold = 5
		c.LoginLimits.LimitLoopback = true
	})
	type step struct {
		name        string
		advance     time.Duration
		from        string
		user, pass  string
		times       int // default 1
		wantCode    int
		wantRetryIn string
	}
	steps := []step{
		{name: "wrong passwords up to the threshold", from: "127.0.0.1", user: "alice", pass: "guess", times: 3, wantCode: 401},
		{name: "then even the right one is refused", from: "127.0.0.1", user: "alice", pass: "pw-a", wantCode: 429, wantRetryIn: "60"},
		{name: "from another address too", from: "127.0.0.2", user: "alice", pass: "pw-a", wantCode: 429, wantRetryIn: "60"},
		{name: "another username is not locked", from: "127.0.0.1", user: "bob", pass: "pw-b", wantCode: 200},
		{name: "nearly over", advance: 59 * time.Second, from: "127.0.0.1", user: "alice", pass: "pw-a", wantCode: 429, wantRetryIn: "1"},
		{name: "another round of failures", advance: time.Second, from: "127.0.0.2", user: "alice", pass: "guess", times: 3, wantCode: 401},
		{name: "locks twice as long", from: "127.0.0.2", user: "alice", pass: "pw-a", wantCode: 429, wantRetryIn: "120"},
		{name: "over: the right password works", advance: 2 * time.Minute, from: "127.0.0.2", user: "alice", pass: "pw-a", wantCode: 200},
		{name: "after a success, failures start over", from: "127.0.0.5", user: "alice", pass: "guess", times: 3, wantCode: 401},
		{name: "at the first lockout's length", from: "127.0.0.5", user: "alice", pass: "pw-a", wantCode: 429, wantRetryIn: "60"},

		{name: "spraying names from one address", from: "127.0.0.3", user: "u", pass: "guess", times: 5, wantCode: 401},
		{name: "locks the address for every name", from: "127.0.0.3", user: "bob", pass: "pw-b", wantCode: 429, wantRetryIn: "60"},
		{name: "not other addresses", from: "127.0.0.4", user: "bob", pass: "pw-b", wantCode: 200},
		{name: "and ends", advance: time.Minute, from: "127.0.0.3", user: "bob", pass: "pw-b", wantCode: 200},
	}
	clients := map[string]*http.Client{}
	for _, st := range steps {
		hc := clients[st.from]
		if hc == nil {
			hc = from(t, st.from)
			clients[st.from] = hc
		}
		e.clock.Advance(st.advance)
		for i := range max(st.times, 1) {
			user := st.user
			if user == "u" {
				user = fmt.Sprint("user-", i) // a new name each time
			}
			got := e.loginFrom(hc, user, st.pass)
			if got.Code != st.wantCode || got.RetryAfter != st.wantRetryIn {
				t.Fatalf("%s (#%d): %d Retry-After %q %q, want %d Retry-After %q",
					st.name, i+1, got.Code, got.RetryAfter, got.Error, st.wantCode, st.wantRetryIn)
			}
			if (got.Code == 200) != (got.Bearer != "") || (got.Code != 200 && got.Error == "") {
				t.Fatalf("%s: answer %+v", st.name, got)
			}
		}
	}
}

// TestLoginLockoutDefaults: by default a username locks after 10
// failures, and loopback peers (the agent console signs everyone in from
// there) are not limited per address.
func TestLoginLockoutDefaults(t *testing.T) {
	e := newEnv(t)
	hc := from(t, "127.0.0.1")
	for i := range 40 {
		if got := e.loginFrom(hc, fmt.Sprint("sprayed-", i), "guess"); got.Code != 401 {
			t.Fatalf("spray #%d from loopback: %d, want 401", i+1, got.Code)
		}
	}
	for i := range 10 {
		if got := e.loginFrom(hc, "alice", "guess"); got.Code != 401 {
			t.Fatalf("failure #%d: %d, want 401", i+1, got.Code)
		}
	}
	if got := e.loginFrom(hc, "alice", "pw-a"); got.Code != 429 || got.RetryAfter != "60" {
		t.Errorf("after 10 failures: %d Retry-After %q, want 429 and 60", got.Code, got.RetryAfter)
	}
	if got := e.loginFrom(hc, "bob", "pw-b"); got.Code != 200 {
		t.Errorf("bob from loopback: %d, want 200", got.Code)
	}
}

// TestLoginParallel: logins sent together cannot pass the threshold: as
// many as it allows are checked, the rest answered 429.
func TestLoginParallel(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.LoginLimits.PerUser.Threshold = 5 })
	const n = 40
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			b, _ := json.Marshal(protocol.LoginRequest{Username: "alice", Password: "guess"})
			resp, err := http.Post(e.url("/api/account/123/login?v=1.3"), "application/json", bytes.NewReader(b))
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		})
	}
	wg.Wait()
	close(codes)
	got := map[int]int{}
	for c := range codes {
		got[c]++
	}
	if diff := cmp.Diff(map[int]int{401: 5, 429: n - 5}, got); diff != "" {
		t.Errorf("answers by status (-want +got):\n%s", diff)
	}
}

// TestEqualSecret: secrets of any lengths compare correctly; and the login
// refuses a prefix or an extension of the password.
func TestEqualSecret(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"pw-a", "pw-a", true},
		{"", "", true},
		{"pw-a", "pw-", false},
		{"pw-a", "pw-a ", false},
		{"pw-a", "", false},
		{"", "pw-a", false},
		{strings.Repeat("x", 10000), strings.Repeat("x", 10000), true},
		{strings.Repeat("x", 10000), strings.Repeat("x", 9999), false},
	}
	for _, tt := range tests {
		if got := equalSecret(tt.a, tt.b); got != tt.want {
			t.Errorf("equalSecret(%.8q…%d, %.8q…%d) = %v, want %v", tt.a, len(tt.a), tt.b, len(tt.b), got, tt.want)
		}
	}
	e := newEnv(t)
	for _, pw := range []string{"pw-", "pw-aa", "", "PW-A"} {
		if got := e.loginFrom(http.DefaultClient, "alice", pw); got.Code != 401 {
			t.Errorf("password %q: %d, want 401", pw, got.Code)
		}
	}
	if got := e.loginFrom(http.DefaultClient, "alic", "pw-a"); got.Code != 401 {
		t.Errorf("a name's prefix: %d, want 401", got.Code)
	}
}

// TestSessionExpiry: a session lives SessionTTL after the login or its
// last refresh. An expired bearer opens no socket and refreshes nothing
// (401); a socket opened before is closed with 4401 at its next request
// (answered 401) or ping.
func TestSessionExpiry(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.SessionTTL = time.Hour })
	agentPath := func(l protocol.LoginResponse) string {
		return protocol.Path(protocol.PathAgentSocket, testAccount, l.Bearer) + "?v=2.1"
	}
	refresh := func(l protocol.LoginResponse) int {
		return e.post(protocol.Path(protocol.PathAgentRefresh, testAccount)+"?v=1.3", protocol.RefreshRequest{CSRF: l.CSRF}, nil)
	}
	idle := e.login("alice", "pw-a")
	kept := e.login("alice", "pw-a")
	if kept.SessionTTL != "3600000" {
		t.Errorf("sessionTTl = %q, want 3600000", kept.SessionTTL)
	}
	listener := e.dial(agentPath(idle), nil) // will only ping

	e.clock.Advance(50 * time.Minute)
	if code := refresh(kept); code != 200 {
		t.Fatalf("refresh at 50 min: %d", code)
	}
	e.clock.Advance(20 * time.Minute) // 70 min: idle expired at 60, kept lives to 110

	if _, resp, err := e.tryDial(agentPath(idle), nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("socket with the expired bearer: %v %v, want HTTP 401", err, resp)
	}
	if code := refresh(idle); code != 401 {
		t.Errorf("refresh of the expired session: %d, want 401", code)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if err := listener.conn.Ping(ctx); err != nil {
		t.Logf("ping: %v", err) // the close may beat the pong
	}
	if got := listener.closeStatus(); got != statusTokenInvalid {
		t.Errorf("socket of the expired session after a ping: close %d, want 4401", got)
	}

	c := e.dial(agentPath(kept), nil)
	c.ok(".GetClock", struct{}{})
	e.clock.Advance(30 * time.Minute) // 100 min
	if code := refresh(kept); code != 200 {
		t.Fatalf("refresh at 100 min: %d", code)
	}
	e.clock.Advance(59 * time.Minute) // 159 min: still within the hour
	c.ok(".GetClock", struct{}{})
	e.clock.Advance(time.Minute) // 160 min: expired
	c.wantCode(401, ".GetClock", struct{}{})
	if got := c.closeStatus(); got != statusTokenInvalid {
		t.Errorf("socket of the expired session after a request: close %d, want 4401", got)
	}
	if code := refresh(kept); code != 401 {
		t.Errorf("refresh after the expiry: %d, want 401", code)
	}
}
