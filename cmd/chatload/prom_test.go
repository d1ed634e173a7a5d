package main

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// What promhttp writes (the window's /metrics): HELP and TYPE comments,
// labels (escaped), a histogram, special values, a timestamp.
const promText = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 42
# HELP chatwindow_build_info The build.
# TYPE chatwindow_build_info gauge
chatwindow_build_info{goversion="go1.26.8",revision="",version="(devel)"} 1
# TYPE chatwindow_receipts_published_total counter
chatwindow_receipts_published_total{status="ACCEPT"} 1200
chatwindow_receipts_published_total{status="READ"} 1100
chatwindow_receipts_refused_total{reason="say \"hi\", a\\b\nc"} 3
# TYPE chatwindow_relay_latency_seconds histogram
chatwindow_relay_latency_seconds_bucket{le="0.001"} 50
chatwindow_relay_latency_seconds_bucket{le="0.002"} 90
chatwindow_relay_latency_seconds_bucket{le="0.004"} 100
chatwindow_relay_latency_seconds_bucket{le="+Inf"} 100
chatwindow_relay_latency_seconds_sum 0.1
chatwindow_relay_latency_seconds_count 100
process_resident_memory_bytes 1.2345e+07
weird_value NaN 1700000000000
`

func TestParseProm(t *testing.T) {
	sc, err := parseProm(strings.NewReader(promText))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		labels []string
		want   float64
		ok     bool
	}{
		{"go_goroutines", nil, 42, true},
		{"chatwindow_receipts_published_total", []string{"status", "ACCEPT"}, 1200, true},
		{"chatwindow_receipts_published_total", nil, 2300, true}, // summed over labels
		{"chatwindow_receipts_refused_total", []string{"reason", "say \"hi\", a\\b\nc"}, 3, true},
		{"process_resident_memory_bytes", nil, 12345000, true},
		{"chatwindow_relay_latency_seconds_count", nil, 100, true},
		{"missing", nil, 0, false},
		{"chatwindow_receipts_published_total", []string{"status", "NACK"}, 0, false},
	}
	for _, tt := range tests {
		got, ok := sc.Get(tt.name, tt.labels...)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Get(%s %v) = %v %v, want %v %v", tt.name, tt.labels, got, ok, tt.want, tt.ok)
		}
	}
	if v, ok := sc.Get("weird_value"); !ok || !math.IsNaN(v) {
		t.Errorf("NaN with a timestamp: %v %v", v, ok)
	}
	bs := sc.Buckets("chatwindow_relay_latency_seconds")
	want := []bucket{{0.001, 50}, {0.002, 90}, {0.004, 100}, {math.Inf(1), 100}}
	if diff := cmp.Diff(want, bs, cmp.AllowUnexported(bucket{})); diff != "" {
		t.Errorf("buckets (-want +got):\n%s", diff)
	}
	quantiles := []struct{ q, want float64 }{
		{0.5, 0.001},     // exactly at the first bound
		{0.25, 0.0005},   // linear within the first bucket, from 0
		{0.7, 0.0015},    // half-way through the second
		{0.99, 0.0038},   // nine tenths through the third
		{1, 0.004},       // the top of the last finite bucket
		{0.95, 0.003},    // half-way through the third
		{0.9, 0.002},     // the second's bound
		{0.999, 0.00398}, //
	}
	for _, q := range quantiles {
		if got := promQuantile(q.q, bs); math.Abs(got-q.want) > 1e-9 {
			t.Errorf("q%v = %v, want %v", q.q, got, q.want)
		}
	}
	// A delta between two scrapes: only what happened between them.
	later := []bucket{{0.001, 50}, {0.002, 190}, {0.004, 200}, {math.Inf(1), 200}}
	if got := promQuantile(0.5, histDelta(later, bs)); math.Abs(got-0.0015) > 1e-9 {
		t.Errorf("delta median %v, want 0.0015", got)
	}
	if !math.IsNaN(promQuantile(0.5, nil)) || !math.IsNaN(promQuantile(0.5, []bucket{{1, 0}})) {
		t.Error("no observations: NaN")
	}
}

func TestParsePromErrors(t *testing.T) {
	for _, bad := range []string{
		"novalue",
		`m{a="1" 2`,
		`m{a=1} 2`,
		`m{a="1} 2`,
		"m abc",
		"m 1 2 3",
	} {
		if _, err := parseProm(strings.NewReader(bad + "\n")); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestScrapeMetrics(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/a/metrics", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(promText)) })
	mux.HandleFunc("/b/metrics", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	ctx := context.Background()
	sc, err := scrapeMetrics(ctx, srv.Client(), srv.URL+"/a/")
	if err != nil || len(sc) == 0 {
		t.Fatalf("scrape: %v (%d samples)", err, len(sc))
	}
	// A window without metrics (404): no error, no samples.
	if sc, err := scrapeMetrics(ctx, srv.Client(), srv.URL+"/none"); err != nil || sc != nil {
		t.Errorf("404: %v %v", sc, err)
	}
	if _, err := scrapeMetrics(ctx, srv.Client(), srv.URL+"/b"); err == nil {
		t.Error("500: no error")
	}
}
