package main

import (
	"net/http"
	"regexp"
	"testing"
	"time"
)

// TestSimulateDebugAddr: -debug-addr serves the runtime's profiles on a
// listener of its own (a load test profiles the service there), never on
// the service's port.
func TestSimulateDebugAddr(t *testing.T) {
	out, stop := startRun(t, "simulate", "-addr", "127.0.0.1:0", "-account", "555", "-debug-addr", "127.0.0.1:0")
	base := out.wait(t, listening, 10*time.Second)
	debug := out.wait(t, regexp.MustCompile(`pprof on (\S+)/`), 10*time.Second)
	for _, tt := range []struct {
		url  string
		want int
	}{
		{debug + "/debug/pprof/", http.StatusOK},
		{debug + "/debug/pprof/heap?debug=1", http.StatusOK},
		{base + "/debug/pprof/", http.StatusNotFound},
	} {
		resp, err := http.Get(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("GET %s = %s, want %d", tt.url, resp.Status, tt.want)
		}
	}
	if err := stop(); err != nil {
		t.Errorf("simulate stopped with %v", err)
	}
}
