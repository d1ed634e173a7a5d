package messaging_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
)

// TestBrowserClientProperties: the window's client properties come from
// the customer's real browser.
func TestBrowserClientProperties(t *testing.T) {
	type props struct{ Device, OS, OSVersion, Browser, Version string }
	tests := []struct {
		ua   string
		want props
	}{
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.6478.126 Safari/537.36",
			props{"DESKTOP", "LINUX", "", "CHROME", "126.0.6478.126"}},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.51",
			props{"DESKTOP", "WINDOWS", "10.0", "EDGE", "124.0.2478.51"}},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
			props{"DESKTOP", "OSX", "10.15.7", "SAFARI", "17.4.1"}},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
			props{"MOBILE", "IOS", "17.4.1", "MOBILE_SAFARI", "17.4.1"}},
		{"Mozilla/5.0 (iPad; CPU OS 12_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1.1 Mobile/15E148 Safari/604.1",
			props{"TABLET", "IOS", "12.3.1", "MOBILE_SAFARI", "12.1.1"}},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.82 Mobile Safari/537.36",
			props{"MOBILE", "ANDROID", "14", "CHROME", "124.0.6367.82"}},
		{"Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Safari/537.36",
			props{"TABLET", "ANDROID", "13", "SAMSUNG", "24.0"}},
		{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
			props{"DESKTOP", "LINUX", "", "FIREFOX", "125.0"}},
		{"curl/8.5.0", props{"OTHER", "OTHER", "", "OTHER", ""}},
		{"", props{"DESKTOP", "LINUX", "", "", ""}}, // no user agent: the defaults
	}
	for _, tt := range tests {
		p := messaging.BrowserClientProperties(tt.ua)
		got := props{p.DeviceFamily, p.OS, p.OSVersion, p.Browser, p.BrowserVersion}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tt.ua, diff)
		}
		if p.Type != ".ams.headers.ClientProperties" || p.Integration != "WEB_SDK" || len(p.Features) == 0 {
			t.Errorf("%q: %+v", tt.ua, p)
		}
	}
	long := messaging.BrowserClientProperties("Firefox/1." + strings.Repeat("9", 100))
	if len(long.BrowserVersion) != 64 {
		t.Errorf("version of %d characters, want the schema's 64", len(long.BrowserVersion))
	}
}
