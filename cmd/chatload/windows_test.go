package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestEndToEndWindows runs two window processes on one service: the
// sessions go round robin to both, and every figure of the run is the
// windows' together (held, the windows' own gauges and counters), with
// each window's share in the JSON and one CPU row per window.
func TestEndToEndWindows(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "load.json")
	var out, logs bytes.Buffer
	args := []string{
		"-bin", chatwindowBin(t), "-sessions", "7", "-windows", "2", "-ramp", "100", "-hold", "500ms",
		"-rate", "70", "-duration", "1s", "-visible", "0.5", "-json", jsonPath, "-log-level", "warn",
	}
	err := run(t.Context(), args, func(string) string { return "" }, &out, &logs)
	t.Logf("report:\n%s", out.String())
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs.String())
	}
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	type share struct {
		Name       string  `json:"name"`
		URL        string  `json:"url"`
		PID        int     `json:"pid"`
		Sessions   int     `json:"sessions"`
		Held       int     `json:"held"`
		WindowSess float64 `json:"chatwindow_sessions"`
		Goroutines float64 `json:"goroutines_per_session"`
		HeapLive   float64 `json:"heap_live_bytes_per_session"`
	}
	var res struct {
		Ramp struct {
			Sessions   int     `json:"sessions"`
			Held       int     `json:"held"`
			WindowSess float64 `json:"chatwindow_sessions"`
			Goroutines float64 `json:"goroutines_per_session"`
			HeapLive   float64 `json:"heap_live_bytes_per_session"`
		} `json:"ramp"`
		Windows []share `json:"windows"`
		Measure struct {
			Received int64 `json:"received"`
			CPU      []struct {
				Process  string   `json:"process"`
				Seconds  *float64 `json:"seconds"`
				Messages int64    `json:"messages"`
			} `json:"cpu"`
		} `json:"measure"`
		ErrorTotal int64 `json:"error_total"`
		Agreement  []struct {
			What     string   `json:"what"`
			Chatload float64  `json:"chatload"`
			Window   *float64 `json:"window"`
		} `json:"agreement_with_metrics"`
		Logs []struct {
			Process string `json:"process"`
		} `json:"process_logs"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("json: %v", err)
	}
	if res.Ramp.Sessions != 7 || res.Ramp.Held != 7 || res.Ramp.WindowSess != 7 {
		t.Errorf("ramp: %+v, want 7 sessions held, 7 counted by the windows", res.Ramp)
	}
	if len(res.Windows) != 2 {
		t.Fatalf("%d windows in the JSON, want 2", len(res.Windows))
	}
	// Sessions 0, 2, 4, 6 to the first window; 1, 3, 5 to the second.
	for i, want := range []int{4, 3} {
		w := res.Windows[i]
		if w.Name != nodeName(i, 2) || w.URL == "" || w.PID == 0 {
			t.Errorf("window %d: %+v", i+1, w)
		}
		if w.Sessions != want || w.Held != want || w.WindowSess != float64(want) {
			t.Errorf("%s: sent %d, held %d, counted %v; want %d", w.Name, w.Sessions, w.Held, w.WindowSess, want)
		}
	}
	if res.Windows[0].URL == res.Windows[1].URL {
		t.Errorf("both windows at %s", res.Windows[0].URL)
	}
	// Per session over both windows is the two windows' growth over all
	// the sessions: each window's per session, weighted by its share.
	for _, f := range []struct {
		name       string
		total      float64
		per0, per1 float64
	}{
		{"goroutines", res.Ramp.Goroutines, res.Windows[0].Goroutines, res.Windows[1].Goroutines},
		{"live heap", res.Ramp.HeapLive, res.Windows[0].HeapLive, res.Windows[1].HeapLive},
	} {
		if want := (f.per0*4 + f.per1*3) / 7; math.Abs(f.total-want) > 1e-6*math.Abs(want)+1e-9 {
			t.Errorf("%s per session: %v, want (4×%v + 3×%v)/7 = %v", f.name, f.total, f.per0, f.per1, want)
		}
	}
	var procs []string
	for _, c := range res.Measure.CPU {
		procs = append(procs, c.Process)
		if c.Seconds == nil {
			t.Errorf("CPU of %s unknown", c.Process)
		}
	}
	if diff := cmp.Diff([]string{"window 1", "window 2", "all windows", "service", "chatload"}, procs); diff != "" {
		t.Errorf("CPU rows (-want +got):\n%s", diff)
	}
	if res.Measure.Received == 0 {
		t.Error("no message received in the measure")
	}
	// Each window's CPU is per message it relayed: the two add up.
	if c := res.Measure.CPU; len(c) == 5 && (c[0].Messages == 0 || c[1].Messages == 0 || c[0].Messages+c[1].Messages != res.Measure.Received || c[2].Messages != res.Measure.Received) {
		t.Errorf("messages relayed: window 1 %d, window 2 %d, all %d; %d received", c[0].Messages, c[1].Messages, c[2].Messages, res.Measure.Received)
	}
	if res.ErrorTotal != 0 {
		t.Errorf("%d errors", res.ErrorTotal)
	}
	for _, a := range res.Agreement {
		if strings.Contains(a.What, "sequences") && (a.Window == nil || *a.Window != a.Chatload) {
			t.Errorf("%s: chatload saw %v, the windows count %v", a.What, a.Chatload, a.Window)
		}
	}
	var logged []string
	for _, l := range res.Logs {
		logged = append(logged, l.Process)
	}
	if diff := cmp.Diff([]string{"window 1", "window 2", "service"}, logged); diff != "" {
		t.Errorf("process logs (-want +got):\n%s", diff)
	}
	for _, want := range []string{"window 1: held, RSS, fds (idle)", "window 2: held, RSS, fds (idle)", "CPU all windows", "agreement with the 2 windows' /metrics"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report without %q", want)
		}
	}
}

// winSnapOf is a window's snapshot from /metrics text.
func winSnapOf(t *testing.T, name, metrics string, rss int64, cpu float64) winSnap {
	t.Helper()
	sc, err := parseProm(strings.NewReader(metrics))
	if err != nil {
		t.Fatal(err)
	}
	return winSnap{name: name, metrics: sc, proc: procStat{RSS: rss, CPU: cpu, FDs: int(rss >> 10)}, procOK: true}
}

// Two windows: per session is the sum of their growth over all the
// sessions held; each window's own is its growth over its own sessions.
func TestFootprintWindows(t *testing.T) {
	before := []winSnap{
		winSnapOf(t, "window 1", "go_gc_heap_live_bytes 1000\ngo_memory_classes_heap_stacks_bytes 100\ngo_goroutines 10\nchatwindow_sessions 0\n", 10<<20, 0),
		winSnapOf(t, "window 2", "go_gc_heap_live_bytes 2000\ngo_memory_classes_heap_stacks_bytes 200\ngo_goroutines 20\nchatwindow_sessions 0\n", 20<<20, 0),
	}
	idle := []winSnap{
		winSnapOf(t, "window 1", "go_gc_heap_live_bytes 41000\ngo_memory_classes_heap_stacks_bytes 30100\ngo_goroutines 40\nchatwindow_sessions 10\n", 11<<20, 0),
		winSnapOf(t, "window 2", "go_gc_heap_live_bytes 82000\ngo_memory_classes_heap_stacks_bytes 30200\ngo_goroutines 50\nchatwindow_sessions 10\n", 22<<20, 0),
	}
	got := footprintOf(before, idle, 20)
	want := footprint{
		HeapLiveB: (40000 + 80000) / 20.0, StacksB: (30000 + 30000) / 20.0, Goroutines: 60 / 20.0,
		RSSB: float64(3<<20) / 20, WindowRSS: 33 << 20, WindowFDs: 33 << 10, WindowSess: 20,
		HeapLiveName: "go_gc_heap_live_bytes", StacksName: "go_memory_classes_heap_stacks_bytes",
		HeapObjectsB: math.NaN(), WindowTabs: math.NaN(), GCs: math.NaN(),
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(footprint{}), cmp.Comparer(func(a, b float64) bool {
		return a == b || math.IsNaN(a) && math.IsNaN(b)
	})); diff != "" {
		t.Errorf("footprint (-want +got):\n%s", diff)
	}
	second := footprintOf(before[1:], idle[1:], 10)
	if second.HeapLiveB != 8000 || second.Goroutines != 3 || second.RSSB != float64(2<<20)/10 {
		t.Errorf("window 2 alone: %+v", second)
	}
	// A window whose /proc is unknown: no RSS over the windows.
	idle[1].procOK = false
	if f := footprintOf(before, idle, 20); !math.IsNaN(f.RSSB) || f.WindowRSS != 0 {
		t.Errorf("RSS without window 2's /proc: %v, %d", f.RSSB, f.WindowRSS)
	}
}

// The windows' latency histograms are merged bucket by bucket before a
// quantile is taken: the median of 100 fast and 300 slow relays is slow,
// whatever each window's own median.
func TestMergedQuantile(t *testing.T) {
	hist := func(fast, slow int) string {
		return "chatwindow_relay_latency_seconds_bucket{le=\"0.001\"} " + strconv.Itoa(fast) + "\n" +
			"chatwindow_relay_latency_seconds_bucket{le=\"0.01\"} " + strconv.Itoa(fast+slow) + "\n" +
			"chatwindow_relay_latency_seconds_bucket{le=\"+Inf\"} " + strconv.Itoa(fast+slow) + "\n" +
			"chatwindow_receipts_published_total{status=\"ACCEPT\"} " + strconv.Itoa(fast) + "\n"
	}
	s := snapshot{windows: []winSnap{winSnapOf(t, "window 1", hist(100, 0), 0, 0), winSnapOf(t, "window 2", hist(0, 300), 0, 0)}}
	m := s.metrics()
	bs := m.Buckets("chatwindow_relay_latency_seconds")
	want := []bucket{{0.001, 100}, {0.01, 400}, {math.Inf(1), 400}}
	if diff := cmp.Diff(want, bs, cmp.AllowUnexported(bucket{})); diff != "" {
		t.Errorf("merged buckets (-want +got):\n%s", diff)
	}
	// Rank 200 of 400: 100 into the second bucket's 300, a third of the way.
	if got, want := promQuantile(0.5, bs), 0.001+0.009/3; math.Abs(got-want) > 1e-12 {
		t.Errorf("merged median %v, want %v", got, want)
	}
	if v, _ := m.Get("chatwindow_receipts_published_total", "status", "ACCEPT"); v != 100 {
		t.Errorf("summed counter %v, want 100", v)
	}
	if (snapshot{windows: make([]winSnap, 2)}).metrics() != nil {
		t.Error("windows without metrics: not nil")
	}
}

// The table of one window is the table it always was; with several, a row
// per window for its share and its CPU, and the total.
func TestTableWindows(t *testing.T) {
	base := []string{
		"sessions held (idle)",
		"window memory/session: live heap + stacks",
		"window memory/session: RSS",
		"window memory/session: heap objects (incl. garbage)",
		"window goroutines/session",
		"window RSS, fds (idle)",
		"CPU while idle: window, service, chatload",
		"measure phase",
		"relayed msgs/s (measure)",
		"relay latency p50/p99/p99.9",
		"receipt latency p50/p99/p99.9",
		"agent publish round trip p50/p99",
		"receipt frames per dialog",
		"machine noise: 1 ms sleep woke late by, p99/max",
		"CPU window",
		"CPU service",
		"CPU chatload",
		"errors",
	}
	tests := []struct {
		windows int
		want    []string
	}{
		{1, base},
		{2, append(append(append(append(append([]string{}, base[:5]...),
			"window 1: held, RSS, fds (idle)", "window 2: held, RSS, fds (idle)", "CPU while idle: windows, service, chatload"),
			base[7:14]...), "CPU window 1", "CPU window 2", "CPU all windows"), base[15:]...)},
	}
	for _, tt := range tests {
		start, end := snapshot{selfCPU: 1}, snapshot{selfCPU: 2, serviceOK: true}
		start.serviceOK = true
		res := &result{}
		for i := range tt.windows {
			name := nodeName(i, tt.windows)
			start.windows = append(start.windows, winSnap{name: name, procOK: true, proc: procStat{CPU: 1}})
			end.windows = append(end.windows, winSnap{name: name, procOK: true, proc: procStat{CPU: float64(2 + i)}})
			res.Windows = append(res.Windows, windowResult{Name: name, Sessions: 10, Held: 10})
		}
		res.Ramp.Sessions, res.Ramp.Held = 10*tt.windows, 10*tt.windows
		ph := newPhaseStats(tt.windows)
		ph.received.Store(2000)
		for i := range tt.windows {
			ph.receivedBy[i].Store(int64(2000 / tt.windows))
		}
		res.Measure.fill(100, 2, ph, start, end, 10, 0)
		res.buildTable()
		var got []string
		for _, r := range res.Table {
			got = append(got, r.Metric)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%d windows: rows (-want +got):\n%s", tt.windows, diff)
		}
		if tt.windows == 2 {
			// 1 and 2 s of CPU for 1,000 messages each; 3 s for 2,000
			// together.
			var per []float64
			for _, c := range res.Measure.CPU[:3] {
				per = append(per, c.Per1000Msg)
			}
			if diff := cmp.Diff([]float64{1, 2, 1.5}, per); diff != "" {
				t.Errorf("CPU per 1000 msgs (-want +got):\n%s", diff)
			}
		}
	}
}

func TestNoFileWanted(t *testing.T) {
	tests := []struct {
		sessions, windows int
		want              uint64
	}{
		{10000, 1, 21000}, // the window: 2 a session
		{10000, 2, 11000}, // chatload and the service: 1 a session; each window 2 × 5,000
		{10001, 2, 11002}, // the larger share
		{10000, 4, 11000},
		{0, 1, 1000},
	}
	for _, tt := range tests {
		if got := noFileWanted(tt.sessions, tt.windows); got != tt.want {
			t.Errorf("noFileWanted(%d, %d) = %d, want %d", tt.sessions, tt.windows, got, tt.want)
		}
	}
}

func TestPerWindowPath(t *testing.T) {
	tests := []struct {
		path string
		i, n int
		want string
	}{
		{"", 0, 2, ""},
		{"cpu.pprof", 0, 1, "cpu.pprof"},
		{"/tmp/cpu.pprof", 1, 2, "/tmp/cpu-window2.pprof"},
		{"heap", 0, 3, "heap-window1"},
	}
	for _, tt := range tests {
		if got := perWindowPath(tt.path, tt.i, tt.n); got != tt.want {
			t.Errorf("perWindowPath(%q, %d, %d) = %q, want %q", tt.path, tt.i, tt.n, got, tt.want)
		}
	}
}

// An embedded struct's fields are its parent's in the JSON, as
// encoding/json has them: the ramp's keys did not move into a footprint.
func TestSanitizeEmbedded(t *testing.T) {
	rr := rampResult{Held: 3, footprint: footprint{Goroutines: 3, HeapLiveB: math.NaN()}}
	got, ok := sanitize(rr).(map[string]any)
	if !ok {
		t.Fatalf("sanitize: %T", sanitize(rr))
	}
	if got["held"] != 3 || got["goroutines_per_session"] != 3.0 || got["heap_live_bytes_per_session"] != nil {
		t.Errorf("ramp: %v", got)
	}
	if _, nested := got["footprint"]; nested {
		t.Error("footprint nested")
	}
}

func TestParseFlagsWindows(t *testing.T) {
	tests := []struct {
		args []string
		want int
		bad  bool
	}{
		{nil, 1, false},
		{[]string{"-windows", "2"}, 2, false},
		{[]string{"-windows", "0"}, 0, true},
		{[]string{"-window", "http://x", "-service", "http://y", "-agent-password", "p", "-windows", "2"}, 0, true},
	}
	for _, tt := range tests {
		c, err := parseFlags(tt.args, func(string) string { return "" }, &bytes.Buffer{})
		if (err != nil) != tt.bad || !tt.bad && c.windows != tt.want {
			t.Errorf("%q: %d windows, error %v", tt.args, c.windows, err)
		}
	}
}
