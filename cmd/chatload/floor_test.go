package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFloor runs a short load with -floor: the window and the floor share
// the sessions on one service. Every session must be held, every message
// shown once by its own tab and every reported receipt come back exactly
// once, through the floor as through the window, and the report prints the
// window's CPU per message against the floor's. (No speed is asserted.)
func TestFloor(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "load.json")
	var out, logs bytes.Buffer
	args := []string{
		"-bin", chatwindowBin(t), "-floor", "-sessions", "20", "-ramp", "100", "-hold", "500ms",
		"-rate", "200", "-duration", "2s", "-visible", "1", "-json", jsonPath, "-log-level", "warn",
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
	var res struct {
		Ramp struct {
			Sessions, Held, Conversations int
		} `json:"ramp"`
		Measure struct {
			Received int64 `json:"received"`
			CPU      []struct {
				Process  string
				Messages int64
			} `json:"cpu"`
		} `json:"measure"`
		Totals struct {
			Messages, Lost, Duplicated int64
			MissingAccept              int `json:"missing_accept"`
			MissingRead                int `json:"missing_read"`
		} `json:"totals"`
		ErrorTotal int64 `json:"error_total"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("json: %v", err)
	}
	if res.Ramp.Sessions != 20 || res.Ramp.Held != 20 || res.Ramp.Conversations != 20 {
		t.Errorf("ramp: %+v, want 20 sessions held with 20 conversations", res.Ramp)
	}
	relayed := map[string]int64{}
	for _, c := range res.Measure.CPU {
		relayed[c.Process] = c.Messages
	}
	if relayed["window"] == 0 || relayed[floorName] == 0 || relayed["window"]+relayed[floorName] != res.Measure.Received {
		t.Errorf("relayed by the window and the floor: %v, want both > 0 and %d together", relayed, res.Measure.Received)
	}
	tt := res.Totals
	if tt.Messages == 0 || tt.Lost != 0 || tt.Duplicated != 0 || tt.MissingAccept != 0 || tt.MissingRead != 0 {
		t.Errorf("totals: %+v, want every message relayed and receipted once", tt)
	}
	if res.ErrorTotal != 0 {
		t.Errorf("%d errors\n%s", res.ErrorTotal, logs.String())
	}
	if !strings.Contains(out.String(), "window CPU per msg vs the floor's") {
		t.Error("the report has no window against floor line")
	}
}
