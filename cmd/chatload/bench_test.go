package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

const benchOutput = `goos: linux
goarch: amd64
pkg: github.com/chatwindow/chatwindow/internal/protocol
cpu: Intel(R) Xeon(R) Processor
BenchmarkParseFrame-2          	  412345	      2873 ns/op	     896 B/op	      14 allocs/op
BenchmarkMarshal/small-2       	 1000000	      1050 ns/op
PASS
ok  	github.com/chatwindow/chatwindow/internal/protocol	3.012s
pkg: github.com/chatwindow/chatwindow/internal/relay
BenchmarkFanOut/tabs=4-2       	   50000	     24000 ns/op	      6000 ns/msg	  120.5 MB/s	    4096 B/op	      33 allocs/op
BenchmarkFanOut logs something odd
--- BENCH: BenchmarkFanOut
    bench_test.go:10: a log line
PASS
`

func TestParseBench(t *testing.T) {
	rows, err := parseBench(strings.NewReader(benchOutput))
	if err != nil {
		t.Fatal(err)
	}
	want := []benchRow{
		{Pkg: "github.com/chatwindow/chatwindow/internal/protocol", Name: "BenchmarkParseFrame-2", Iterations: 412345, NsPerOp: 2873, BytesPerOp: 896, AllocsOp: 14, HasMem: true},
		{Pkg: "github.com/chatwindow/chatwindow/internal/protocol", Name: "BenchmarkMarshal/small-2", Iterations: 1000000, NsPerOp: 1050},
		{Pkg: "github.com/chatwindow/chatwindow/internal/relay", Name: "BenchmarkFanOut/tabs=4-2", Iterations: 50000, NsPerOp: 24000, BytesPerOp: 4096, AllocsOp: 33, HasMem: true,
			Custom: map[string]float64{"ns/msg": 6000, "MB/s": 120.5}, Units: []string{"ns/msg", "MB/s"}},
	}
	if diff := cmp.Diff(want, rows, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
}

// TestBenchOnly is `chatload -sessions 0 -bench FILE`: the benchmarks in the
// report's table, no load run.
func TestBenchOnly(t *testing.T) {
	path := t.TempDir() + "/bench.txt"
	if err := os.WriteFile(path, []byte(benchOutput), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run(t.Context(), []string{"-sessions", "0", "-bench", path}, func(string) string { return "" }, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"machine:", "internal/protocol.ParseFrame-2", "2873", "896", "6000 ns/msg, 120.5 MB/s"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
