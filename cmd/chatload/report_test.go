package main

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestTableTargets: CPU per message, the window's own relay p99 and the
// fragment's render are judged against their targets (docs/performance.md,
// Targets).
func TestTableTargets(t *testing.T) {
	bench := func(agentNs, agentAllocs, customerNs, customerAllocs float64) []benchRow {
		return []benchRow{
			{Name: "BenchmarkRenderMessageFragment/agent-text-2", NsPerOp: agentNs, AllocsOp: agentAllocs, HasMem: true},
			{Name: "BenchmarkRenderMessageFragment/customer-ticks-2", NsPerOp: customerNs, AllocsOp: customerAllocs, HasMem: true},
		}
	}
	tests := []struct {
		name            string
		window, service float64 // CPU s per 1000 msgs
		ownP99          float64 // ms
		bench           []benchRow
		want            map[string]string // metric → status
	}{
		{"all met", 0.080, 0.090, 1.9, bench(900, 8, 1000, 7), map[string]string{
			"CPU window": "ok", "CPU service": "ok", "window's own relay p99": "ok", "render of one message fragment": "ok"}},
		{"all missed", 0.091, 0.2, 2.1, bench(900, 9, 1001, 7), map[string]string{
			"CPU window": "missed", "CPU service": "missed", "window's own relay p99": "missed", "render of one message fragment": "missed"}},
		{"no bench, no metrics", 0.080, 0.080, math.NaN(), nil, map[string]string{
			"CPU window": "ok", "CPU service": "ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := &result{Bench: tt.bench}
			res.Measure.Seconds, res.Measure.Received = 1, 1000
			res.Measure.CPU = []cpu{
				{Process: "window", Per1000Msg: tt.window},
				{Process: "service", Per1000Msg: tt.service},
				{Process: "chatload", Per1000Msg: 1},
			}
			res.Agreement = []agreement{{What: agreeRelayP99, Window: tt.ownP99}}
			res.buildTable()
			got := map[string]string{}
			for _, r := range res.Table {
				if _, ok := tt.want[r.Metric]; ok || r.Metric == "render of one message fragment" || r.Metric == "window's own relay p99" {
					got[r.Metric] = r.Status
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
		})
	}
}
