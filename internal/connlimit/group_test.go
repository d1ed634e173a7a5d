package connlimit

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGroupOf(t *testing.T) {
	tests := []struct {
		addr, want string
	}{
		{"192.0.2.7", "192.0.2.7/32"},
		{"192.0.2.7:51234", "192.0.2.7/32"},
		{"::ffff:192.0.2.7", "192.0.2.7/32"},       // IPv4-mapped: the IPv4 client
		{"[::ffff:192.0.2.7]:443", "192.0.2.7/32"}, // as a dual-stack listener sees it
		{"[::ffff:c000:0207]:443", "192.0.2.7/32"}, // the same, in hex
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"[2001:db8:1:2:ffff::1]:443", "2001:db8:1:2::/64"}, // same /64: same client
		{"2001:db8:1:3::1", "2001:db8:1:3::/64"},            // the next /64: another
		{"[2001:db8::1]", "2001:db8::/64"},
		{"fe80::1%eth0", "fe80::/64"}, // the zone is the interface, not the client
		{"[fe80::2%eth1]:80", "fe80::/64"},
		{"::1", "::/64"},
		{"[::1]:8080", "::/64"},
		{"", "invalid Prefix"},
		{"example.com:80", "invalid Prefix"},
		{"192.0.2.7:port", "invalid Prefix"},
		{"unknown", "invalid Prefix"},
	}
	var got, want []string
	for _, tt := range tests {
		got = append(got, tt.addr+" → "+groupOf(tt.addr).String())
		want = append(want, tt.addr+" → "+tt.want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("groupOf (-want +got):\n%s", diff)
	}
}

func TestIsUpgrade(t *testing.T) {
	tests := []struct {
		name          string
		method        string
		contentLength int64
		header        http.Header
		want          bool
	}{
		{"plain", "GET", 0, http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}, true},
		{"any case", "GET", 0, http.Header{"Connection": {"uPgRaDe"}, "Upgrade": {"WebSocket"}}, true},
		{"a list (Firefox)", "GET", 0, http.Header{"Connection": {"keep-alive, Upgrade"}, "Upgrade": {"websocket"}}, true},
		{"two header lines", "GET", 0, http.Header{"Connection": {"keep-alive", "upgrade"}, "Upgrade": {"h2c", "websocket"}}, true},
		{"spaces in the list", "GET", 0, http.Header{"Connection": {" keep-alive ,  upgrade "}, "Upgrade": {" websocket "}}, true},
		{"no Connection", "GET", 0, http.Header{"Upgrade": {"websocket"}}, false},
		{"no Upgrade", "GET", 0, http.Header{"Connection": {"Upgrade"}}, false},
		{"keep-alive only", "GET", 0, http.Header{"Connection": {"keep-alive"}, "Upgrade": {"websocket"}}, false},
		{"a longer token", "GET", 0, http.Header{"Connection": {"upgraded"}, "Upgrade": {"websockets"}}, false},
		{"another protocol", "GET", 0, http.Header{"Connection": {"Upgrade"}, "Upgrade": {"h2c"}}, false},
		{"a POST claiming it", "POST", 0, http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}, false},
		{"with a body", "GET", 10, http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}, false},
		{"with a chunked body", "GET", -1, http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}}, false},
	}
	for _, tt := range tests {
		r := &http.Request{Method: tt.method, ContentLength: tt.contentLength, Header: tt.header}
		if got := isUpgrade(r); got != tt.want {
			t.Errorf("%s: isUpgrade = %v, want %v", tt.name, got, tt.want)
		}
	}
}
