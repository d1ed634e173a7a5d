package connlimit

import (
	"net/http"
	"testing"
)

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
