package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// lines collects what run prints, for tests that wait for a line.
type lines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// wait returns the first submatch of re in the output, waiting up to d.
func (l *lines) wait(t *testing.T, re *regexp.Regexp, d time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		m := re.FindStringSubmatch(l.buf.String())
		l.mu.Unlock()
		if m != nil {
			return m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Fatalf("no %q in output within %s; got:\n%s", re, d, l.buf.String())
	return ""
}

// startRun runs the program with args until the test ends; it returns the
// output so far (growing) and a stop function that returns run's error.
func startRun(t *testing.T, args ...string) (*lines, func() error) {
	t.Helper()
	return startRunEnv(t, nil, args...)
}

// startRunEnv is startRun with an environment.
func startRunEnv(t *testing.T, env map[string]string, args ...string) (*lines, func() error) {
	t.Helper()
	return startRunLog(t, env, io.Discard, args...)
}

// startRunLog is startRunEnv with the program's log going to stderr.
func startRunLog(t *testing.T, env map[string]string, stderr io.Writer, args ...string) (*lines, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lines{}
	errc := make(chan error, 1)
	getenv := func(k string) string { return env[k] }
	go func() { errc <- run(ctx, args, getenv, out, stderr) }()
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(15 * time.Second):
				t.Error("run did not stop within 15 s of its context ending")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return out, stop
}

var listening = regexp.MustCompile(`listening on (\S+)`)

func TestSimulateServesAndStops(t *testing.T) {
	out, stop := startRun(t, "simulate", "-addr", "127.0.0.1:0", "-account", "555", "-agent", "alice:secret", "-agent", "bob:pw")
	base := out.wait(t, listening, 10*time.Second)
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("base URL %q is not loopback http", base)
	}
	out.wait(t, regexp.MustCompile(`(agent bob)`), time.Second)
	resp, err := http.Get(base + "/api/account/555/service/baseURI.json?version=1.0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var uris protocol.BaseURIs
	if err := json.NewDecoder(resp.Body).Decode(&uris); err != nil {
		t.Fatal(err)
	}
	host, ok := uris.Lookup(protocol.ServiceAsyncMessagingEnt)
	if !ok || "http://"+host != base {
		t.Errorf("asyncMessagingEnt = %q, want the service itself (%s)", host, base)
	}
	if err := stop(); err != nil {
		t.Errorf("run after stop: %v", err)
	}
	if _, err := http.Get(base + "/"); err == nil {
		t.Error("the service still answers after stopping")
	}
}

func TestSimulateGeneratesAgentPassword(t *testing.T) {
	out, _ := startRun(t, "simulate", "-addr", "127.0.0.1:0")
	pw := out.wait(t, regexp.MustCompile(`agent agent password (\S+)`), 10*time.Second)
	if len(pw) < 12 {
		t.Errorf("generated password %q is too short", pw)
	}
}

func TestSimulateTLS(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	out, _ := startRun(t, "simulate", "-addr", "127.0.0.1:0", "-tls-cert", cert, "-tls-key", key)
	base := out.wait(t, listening, 15*time.Second)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("base URL %q is not https", base)
	}
	pemBytes, err := os.ReadFile(cert)
	if err != nil {
		t.Fatalf("certificate not written: %v", err)
	}
	if _, err := os.Stat(key); err != nil {
		t.Fatalf("key not written: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		block, _ := pem.Decode(pemBytes)
		t.Fatalf("certificate does not parse (block %v)", block != nil)
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Post(base+"/api/account/12345678/signup", "application/json", nil)
	if err != nil {
		t.Fatalf("signup over TLS trusting the written certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("signup: %s", resp.Status)
	}
}

func TestRunRefusesBadFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"agent without password", []string{"simulate", "-agent", "alice"}, "NAME:PASSWORD"},
		{"cert without key", []string{"simulate", "-tls-cert", "x.pem"}, "go together"},
		{"stray argument", []string{"simulate", "extra"}, "unexpected arguments"},
		{"bad log level", []string{"simulate", "-log-level", "loud"}, "log level"},
		{"window stray argument", []string{"serve"}, "unexpected arguments"},
		{"bad secure", []string{"-secure", "maybe"}, "-secure"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), tt.args, func(string) string { return "" }, io.Discard, &stderr)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tt.want) {
				t.Errorf("run(%q) = %v (stderr %q), want an error mentioning %q", tt.args, err, stderr.String(), tt.want)
			}
		})
	}
}

func TestSessionKeys(t *testing.T) {
	k32 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	k64 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 64))
	k10 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{3}, 10))
	tests := []struct {
		in        string
		wantKeys  int
		generated bool
		wantErr   bool
	}{
		{"", 2, true, false},
		{k64 + "," + k32, 2, false, false},
		{k64 + "," + k32 + "," + k32 + "," + k32, 4, false, false},
		{k64, 0, false, true},
		{k64 + "," + k10, 0, false, true},
		{"not base64!," + k32, 0, false, true},
	}
	for _, tt := range tests {
		keys, generated, err := sessionKeys(tt.in)
		if (err != nil) != tt.wantErr || len(keys) != tt.wantKeys || generated != tt.generated {
			t.Errorf("sessionKeys(%.12q…) = %d keys, generated %v, err %v", tt.in, len(keys), generated, err)
		}
	}
}

// TestWindowOnAccount: with LP_ACCOUNT the window finds its hosts through
// LP_CSDS, as against LivePerson; here against `chatwindow simulate`.
// TestWindowOnAccount: on an account (here a `simulate`), the window
// signs a visitor up only when they first write (POST /session), never on
// a page load; it serves no QA view and no metrics on its port (those are
// for -debug-addr).
func TestWindowOnAccount(t *testing.T) {
	var simLog lockedBuffer
	sim, _ := startRunLog(t, nil, &simLog, "simulate", "-addr", "127.0.0.1:0", "-account", "12345678")
	base := sim.wait(t, listening, 10*time.Second)
	win, stop := startRunEnv(t, map[string]string{
		"LP_ACCOUNT": "12345678", "LP_CSDS": base, "CHATWINDOW_ADDR": "127.0.0.1:0", "CHATWINDOW_DEBUG_ADDR": "127.0.0.1:0",
	})
	page := win.wait(t, regexp.MustCompile(`chat window on (\S+)`), 10*time.Second)
	debug := win.wait(t, regexp.MustCompile(`metrics and pprof on (\S+)/`), 10*time.Second)
	if strings.Contains(win.String(), "messaging service on") {
		t.Error("started the embedded service although LP_ACCOUNT is set")
	}
	signups := func() int { return strings.Count(simLog.String(), "consumer signed up") }
	for range 10 {
		resp, err := http.Get(page + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Set-Cookie") != "" {
			t.Errorf("GET / = %s, Set-Cookie %q; want a page and no session", resp.Status, resp.Header.Get("Set-Cookie"))
		}
	}
	if n := signups(); n != 0 {
		t.Errorf("10 page loads signed up %d consumers at the service, want 0", n)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	if resp := startSessionAt(t, hc, page); !strings.Contains(resp.Header.Get("Set-Cookie"), "chatwindow=") {
		t.Errorf("POST /session set no session cookie")
	}
	waitFor(t, "the signup logged", func() bool { return signups() == 1 })
	for _, path := range []string{"/qa", "/qa/ws", "/metrics", "/debug/pprof/"} {
		resp, err := hc.Get(page + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s on the window's port = %s, want 404", path, resp.Status)
		}
	}
	resp, err := http.Get(debug + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /metrics on -debug-addr = %s", resp.Status)
	}
	if err := stop(); err != nil {
		t.Errorf("window stopped with %v", err)
	}
}

// startSessionAt does what chat.js does before a visitor's first message:
// POST /session, which sets the session cookie.
func startSessionAt(t *testing.T, hc *http.Client, page string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, page+"/session", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("POST /session = %s, want 204", resp.Status)
	}
	return resp
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 10 s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWindowUnreachableAccount: discovery failing is a clear error.
func TestWindowUnreachableAccount(t *testing.T) {
	err := run(context.Background(), []string{"-addr", "127.0.0.1:0"}, func(k string) string {
		return map[string]string{"LP_ACCOUNT": "1", "LP_CSDS": "http://127.0.0.1:1"}[k]
	}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "discover") {
		t.Errorf("run = %v, want a discovery error", err)
	}
}

// TestSimulateWithBot: `simulate -bot-delay` answers a customer nobody
// took, over TLS, trusting its own certificate.
func TestSimulateWithBot(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	out, _ := startRun(t, "simulate", "-addr", "127.0.0.1:0", "-bot-delay", "50ms", "-tls-cert", cert, "-tls-key", filepath.Join(dir, "key.pem"))
	base := out.wait(t, listening, 15*time.Second)
	pemBytes, err := os.ReadFile(cert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	ep, err := messaging.Discover(t.Context(), hc, base, "12345678", messaging.Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := messaging.NewConsumer(messaging.ConsumerConfig{Endpoints: ep, Token: messaging.SignupToken(hc, ep), HTTPClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	done := make(chan struct{})
	// The consumer runs until the test's context ends.
	go func() {
		defer close(done)
		_ = c.Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	var conv string
	for conv == "" {
		conv, err = c.RequestConversation(ctx, protocol.ConsumerRequestConversation{})
		if err != nil && ctx.Err() == nil && errors.Is(err, messaging.ErrNotConnected) {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Follow(ctx, conv, conv, 0); err != nil {
		t.Fatal(err)
	}
	for u := range c.Updates() {
		if e, ok := u.(messaging.EventUpdate); ok && e.Event.Event.Type == protocol.EventContent {
			return // the bot greeted
		}
	}
	t.Fatal("no greeting from the demo bot")
}

// TestWindowStopsCleanly: on SIGTERM (its context ending) the window stops
// taking requests, lets its tabs go with 1012 (the page reconnects, to
// another node behind a balancer) and returns within 10 s.
func TestWindowStopsCleanly(t *testing.T) {
	out, stop := startRun(t, "-addr", "127.0.0.1:0", "-sim-addr", "127.0.0.1:0", "-bot-delay", "0")
	page := out.wait(t, regexp.MustCompile(`chat window on (\S+)`), 15*time.Second)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	startSessionAt(t, hc, page)
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(page, "http")+"/ws", &websocket.DialOptions{HTTPClient: hc, HTTPHeader: http.Header{"Origin": {page}}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if _, _, err := c.Read(ctx); err != nil { // the window
		t.Fatal(err)
	}
	closed := make(chan error, 1)
	// Reads until the server closes the socket.
	go func() {
		for {
			if _, _, err := c.Read(ctx); err != nil {
				closed <- err
				return
			}
		}
	}()
	start := time.Now()
	if err := stop(); err != nil {
		t.Errorf("run: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("stopping took %s, want under 10 s", took)
	}
	select {
	case err := <-closed:
		if got := websocket.CloseStatus(err); got != websocket.StatusServiceRestart {
			t.Errorf("the tab's socket ended with %v (status %d), want 1012", err, got)
		}
	case <-time.After(5 * time.Second):
		t.Error("the tab's socket stayed open after the window stopped")
	}
}

// TestSecureBehindProxy: -secure true on a loopback address (a proxy on
// the same host terminates TLS) makes the cookie Secure and takes https
// page origins, as the browser sees them; auto on loopback does neither.
func TestSecureBehindProxy(t *testing.T) {
	for _, tc := range []struct {
		secure     string
		wantSecure bool
	}{{"true", true}, {"auto", false}} {
		t.Run(tc.secure, func(t *testing.T) {
			out, stop := startRun(t, "-addr", "127.0.0.1:0", "-bot-delay", "0", "-secure", tc.secure)
			defer stop()
			page := out.wait(t, regexp.MustCompile(`chat window on (\S+)`), 15*time.Second)
			resp := startSessionAt(t, http.DefaultClient, page)
			cookie := resp.Header.Get("Set-Cookie")
			if got := strings.Contains(cookie, "Secure"); got != tc.wantSecure {
				t.Errorf("cookie %q: Secure %v, want %v", cookie, got, tc.wantSecure)
			}
			// The socket from the page as the browser sees it.
			u, _ := url.Parse(page)
			origin := "http://" + u.Host
			if tc.wantSecure {
				origin = "https://" + u.Host
			}
			req, _ := http.NewRequest("GET", page+"/ws", nil)
			req.Header.Set("Origin", origin)
			for _, c := range resp.Cookies() {
				req.AddCookie(c)
			}
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("Sec-WebSocket-Version", "13")
			req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
			ws, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			ws.Body.Close()
			if ws.StatusCode != http.StatusSwitchingProtocols {
				t.Errorf("socket from %s: %s, want 101", origin, ws.Status)
			}
		})
	}
}

// TestConsoleFraming: the embedded agent console may be framed by the chat
// window's own origin only (its QA view), not by any page on the machine;
// `simulate` alone allows only itself unless told the window's origin.
func TestConsoleFraming(t *testing.T) {
	out, _ := startRun(t, "-addr", "localhost:0", "-bot-delay", "0")
	page := out.wait(t, regexp.MustCompile(`chat window on (\S+)`), 15*time.Second)
	console := out.wait(t, regexp.MustCompile(`agent console on (\S+)`), 15*time.Second)
	port := page[strings.LastIndex(page, ":")+1:]
	want := "frame-ancestors 'self' http://localhost:" + port + " http://127.0.0.1:" + port
	sim, _ := startRun(t, "simulate", "-addr", "127.0.0.1:0")
	simBase := sim.wait(t, listening, 10*time.Second)
	told, _ := startRun(t, "simulate", "-addr", "127.0.0.1:0", "-console-frame-ancestors", "https://chat.example")
	toldBase := told.wait(t, listening, 10*time.Second)
	for _, tc := range []struct{ name, url, want string }{
		{"embedded", console, want},
		{"simulate", simBase + "/agent/", "frame-ancestors 'self'"},
		{"simulate told the window's origin", toldBase + "/agent/", "frame-ancestors https://chat.example"},
	} {
		resp, err := http.Get(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.HasSuffix(csp, tc.want) || strings.Contains(csp, "*") {
			t.Errorf("%s: the console's CSP is %q, want it to end with %q and have no wildcard", tc.name, csp, tc.want)
		}
	}
}

// TestSlowBodiesCut: a request whose body trickles in is cut once
// -body-timeout has passed, on the window, the agent console's sign-in
// and the service's login alike (they held the connection for good).
func TestSlowBodiesCut(t *testing.T) {
	out, _ := startRun(t, "-addr", "127.0.0.1:0", "-bot-delay", "0", "-body-timeout", "300ms")
	page := out.wait(t, regexp.MustCompile(`chat window on (\S+)`), 15*time.Second)
	svc := out.wait(t, regexp.MustCompile(`messaging service on (\S+)`), 15*time.Second)
	for _, u := range []string{page + "/forget", svc + "/agent/sign-in", svc + "/api/account/12345678/login"} {
		t.Run(u, func(t *testing.T) {
			pu, err := url.Parse(u)
			if err != nil {
				t.Fatal(err)
			}
			c, err := net.Dial("tcp", pu.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nx", pu.Path, pu.Host)
			// One byte every 100 ms, for far longer than the deadline,
			// until the server lets go.
			done := make(chan error, 1)
			go func() {
				_, err := io.Copy(io.Discard, c)
				done <- err
			}()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			deadline := time.After(10 * time.Second)
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					if _, err := c.Write([]byte("x")); err != nil {
						return // the server closed the connection
					}
				case <-deadline:
					t.Fatalf("%s: a trickling body still held the connection after 10 s", u)
				}
			}
		})
	}
}

// TestConnsPerClient: one client address holds at most -conns-per-client
// connections to the window; one more is closed unanswered, while those
// it holds are served.
func TestConnsPerClient(t *testing.T) {
	out, _ := startRun(t, "-addr", "127.0.0.1:0", "-bot-delay", "0", "-conns-per-client", "2")
	page := out.wait(t, regexp.MustCompile(`chat window on (\S+)`), 15*time.Second)
	host := strings.TrimPrefix(page, "http://")
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	extra, err := net.Dial("tcp", host)
	if err == nil {
		defer extra.Close()
		extra.SetReadDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(extra, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		if b, _ := io.ReadAll(extra); len(b) > 0 {
			t.Errorf("a third connection was answered: %.60q", b)
		}
	}
	for _, c := range held {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: %s\r\n\r\n", host)
		if b := make([]byte, 15); func() bool { _, err := io.ReadFull(c, b); return err != nil }() || string(b) != "HTTP/1.1 200 OK" {
			t.Errorf("a held connection was not served: %q", b)
		}
	}
}
