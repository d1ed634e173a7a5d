package clientaddr_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/clientaddr"
)

func TestOf(t *testing.T) {
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
		got = append(got, tt.addr+" → "+clientaddr.Of(tt.addr).String())
		want = append(want, tt.addr+" → "+tt.want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Of (-want +got):\n%s", diff)
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "127.9.9.9:80": true, "[::1]:443": true, "::ffff:127.0.0.1": true,
		"192.0.2.7": false, "[2001:db8::1]:80": false, "localhost": false, "": false,
	} {
		if got := clientaddr.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}
