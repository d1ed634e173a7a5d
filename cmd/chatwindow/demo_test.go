package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFrameAncestorsChecked: CHATWINDOW_FRAME_ANCESTORS goes into the
// window's CSP as it is, so only a source list is taken: what could add a
// directive or is no source is refused, naming it.
func TestFrameAncestorsChecked(t *testing.T) {
	tests := []struct {
		v       string
		wantErr string // "": taken
	}{
		{"'self'", ""},
		{"'none'", ""},
		{"'self' https://shop.example.com https://*.example.com:8443 http://127.0.0.1:8081", ""},
		{"https:", ""},
		{"shop.example.com/path", ""},
		{"", "empty"},
		{"'self'; script-src *", `"'self';" is not a source`},
		{"'self' https://a.example,https://b.example", "is not a source"},
		{"'unsafe-inline'", "is not a source"},
		{"'none' 'self'", "'none' goes alone"},
		{"https://exa mple.com'", "is not a source"},
	}
	for _, tt := range tests {
		err := checkFrameAncestors(tt.v)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("checkFrameAncestors(%q): %v", tt.v, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("checkFrameAncestors(%q) = %v, want an error with %q", tt.v, err, tt.wantErr)
		}
	}
}

// TestDemoAddr: the demo site is on another site than the window: by
// itself on the other loopback name (the window's port plus one when the
// window's was asked for), and one asked for on the window's host name is
// refused, as is one without the embedded service.
func TestDemoAddr(t *testing.T) {
	bound := func(s string) net.Addr { a, _ := net.ResolveTCPAddr("tcp", s); return a }
	for _, tt := range []struct{ asked, bound, want string }{
		{"localhost:8080", "127.0.0.1:8080", "127.0.0.1:8081"},
		{"127.0.0.1:8080", "127.0.0.1:8080", "localhost:8081"},
		{"127.0.0.1:0", "127.0.0.1:41234", "localhost:0"},
		{":8080", "[::]:8080", "127.0.0.1:8081"},
		{"chat.example.com:443", "10.0.0.2:443", "127.0.0.1:444"},
	} {
		if got := autoDemoAddr(tt.asked, bound(tt.bound)); got != tt.want {
			t.Errorf("autoDemoAddr(%s, %s) = %s, want %s", tt.asked, tt.bound, got, tt.want)
		}
	}
	for _, tt := range []struct {
		demo, window string
		embedded     bool
		wantErr      string
	}{
		{"auto", "localhost:8080", true, ""},
		{"off", "localhost:8080", false, ""},
		{"127.0.0.1:9000", "localhost:8080", true, ""},
		{"localhost:9000", "localhost:8080", true, "another host name"},
		{"LOCALHOST:9000", "localhost:8080", true, "another host name"},
		{"localhost:9000", ":8080", true, "another host name"},
		{":9000", "localhost:8080", true, "another host name"},
		{"9000", "localhost:8080", true, "want host:port"},
		{"127.0.0.1:9000", "localhost:8080", false, "embedded service only"},
	} {
		err := checkDemoAddr(tt.demo, tt.window, tt.embedded)
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("checkDemoAddr(%q, %q, %v) = %v, want %q", tt.demo, tt.window, tt.embedded, err, tt.wantErr)
		}
	}
}

// TestBrandSettings: the brand's settings from flags and the environment,
// and a clear error for each one that cannot be.
func TestBrandSettings(t *testing.T) {
	dir := t.TempDir()
	logo := filepath.Join(dir, "logo.svg")
	if err := os.WriteFile(logo, []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`), 0o644); err != nil {
		t.Fatal(err)
	}
	fake := filepath.Join(dir, "logo.png")
	if err := os.WriteFile(fake, []byte("not a png"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := parseWindow([]string{"-brand-title", "Acme", "-brand-logo", logo}, func(k string) string {
		return map[string]string{"CHATWINDOW_BRAND_COLOR": "#2f5d3a", "CHATWINDOW_BRAND_POSITION": "left", "CHATWINDOW_BRAND_GREETING": "Hi!"}[k]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if b := c.brand; b.Title != "Acme" || b.Color != "#2f5d3a" || b.TextColor != "#ffffff" || b.Position != "left" || b.Greeting != "Hi!" || b.LogoType != "image/svg+xml" {
		t.Errorf("brand %+v", b)
	}
	for _, tt := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-brand-color", "red"}, "brand colour"},
		{[]string{"-brand-color", "#fff", "-brand-text-color", "#eee"}, "contrast"},
		{[]string{"-brand-position", "middle"}, "right or left"},
		{[]string{"-brand-logo", filepath.Join(dir, "missing.png")}, "-brand-logo"},
		{[]string{"-brand-logo", fake}, "not image/png"},
		{[]string{"-frame-ancestors", "'self'; script-src *"}, "-frame-ancestors"},
		{[]string{"-demo-addr", "127.0.0.1:0", "-addr", "127.0.0.1:0"}, "another host name"},
	} {
		if _, err := parseWindow(tt.args, func(string) string { return "" }, io.Discard); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("parseWindow(%q) = %v, want an error with %q", tt.args, err, tt.wantErr)
		}
	}
}

// TestRunDemoSite: on the embedded service the program serves the demo
// site on the other loopback name, says so on a line of its own, and lets
// exactly that origin frame the window; -demo-addr off serves none.
func TestRunDemoSite(t *testing.T) {
	out, _ := startRun(t, "-addr", "localhost:0", "-bot-delay", "0")
	demo := out.wait(t, regexp.MustCompile(`(?m)^demo site on (http://127\.0\.0\.1:\d+) `), 15*time.Second)
	chat := out.wait(t, regexp.MustCompile(`chat window on (\S+)`), 15*time.Second)
	resp, err := http.Get(chat + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors 'self' "+demo) {
		t.Errorf("the window's CSP %q, want it to let %s frame it, and nothing else", csp, demo)
	}
	resp, err = http.Get(demo + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `<script src="`+chat+`/embed.js" async>`) {
		t.Errorf("the demo site's page does not load %s/embed.js", chat)
	}

	off, _ := startRun(t, "-addr", "localhost:0", "-bot-delay", "0", "-demo-addr", "off")
	chat = off.wait(t, regexp.MustCompile(`chat window on (\S+)`), 15*time.Second)
	if strings.Contains(off.String(), "demo site") {
		t.Errorf("-demo-addr off printed %q", off.String())
	}
	resp, err = http.Get(chat + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.HasSuffix(csp, "frame-ancestors 'self'") {
		t.Errorf("without the demo site the window's CSP is %q", csp)
	}
}
