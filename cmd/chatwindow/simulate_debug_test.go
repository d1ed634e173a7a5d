package main

import (
	"net"
	"net/http"
	"regexp"
	"strings"
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

// TestSimulateDebugAddrTaken: a -debug-addr that cannot be listened on
// stops simulate at start with an error naming the flag.
func TestSimulateDebugAddrTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	var stdout, stderr strings.Builder
	err = run(t.Context(), []string{"simulate", "-addr", "127.0.0.1:0", "-account", "555", "-debug-addr", taken.Addr().String()},
		func(string) string { return "" }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "-debug-addr") || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Errorf("simulate with a taken -debug-addr: %v, want an error naming -debug-addr and the address", err)
	}
}
