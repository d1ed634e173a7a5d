package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

// binDir holds the chatwindow binary the end-to-end test runs, built once
// (buildChatwindow) unless CHATLOAD_BIN names one.
var (
	binDir    string
	buildOnce sync.Once
	binPath   string
	binErr    error
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		// `chatload -floor` starts its own executable as the floor: in
		// these tests, this binary.
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		err := runFloor(ctx, os.Args[2:], os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "floor:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "chatload-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	// goleak's own check, after the tests (VerifyTestMain would exit
	// before the deferred removal).
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			return 1
		}
	}
	return code
}

// chatwindowBin builds cmd/chatwindow once (only the tests that run it pay
// for it) or returns CHATLOAD_BIN.
func chatwindowBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if binPath = os.Getenv("CHATLOAD_BIN"); binPath != "" {
			return
		}
		binPath = filepath.Join(binDir, "chatwindow")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/chatwindow/chatwindow/cmd/chatwindow")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("build chatwindow: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// TestEndToEnd runs chatload as `make bench` does, small: the service and
// the window from the built binary, 20 sessions, a short search and
// measure. The figures must be sane: every session held, every message
// shown once by its own tab, every receipt reported came back, no error,
// and the window's own counts agree. (No figure of speed is asserted.)
func TestEndToEnd(t *testing.T) {
	jsonPath := filepath.Join(t.TempDir(), "load.json")
	var out, logs bytes.Buffer
	args := []string{
		"-bin", chatwindowBin(t), "-sessions", "20", "-ramp", "100", "-hold", "500ms",
		"-start-rate", "100", "-step", "1s", "-max-rate", "250", "-duration", "2s",
		"-visible", "0.5", "-json", jsonPath, "-log-level", "warn",
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
			Accepted                      int `json:"accepted_by_agents"`
		} `json:"ramp"`
		Search struct {
			Steps []struct{ Verdict string } `json:"steps"`
		} `json:"search"`
		Measure struct {
			Received int64 `json:"received"`
			Relay    struct {
				Count uint64 `json:"count"`
			} `json:"relay_latency"`
			Receipt struct {
				Count uint64 `json:"count"`
			} `json:"receipt_latency"`
			Read struct {
				Count uint64 `json:"count"`
			} `json:"read_latency"`
		} `json:"measure"`
		Totals struct {
			Messages, Lost, Duplicated int64
			MissingAccept              int `json:"missing_accept"`
			MissingRead                int `json:"missing_read"`
		} `json:"totals"`
		ErrorTotal int64 `json:"error_total"`
		Agreement  []struct {
			What     string   `json:"what"`
			Chatload float64  `json:"chatload"`
			Window   *float64 `json:"window"`
		} `json:"agreement_with_metrics"`
		Table []struct{ Metric string } `json:"table"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("json: %v", err)
	}
	if res.Ramp.Sessions != 20 || res.Ramp.Held != 20 || res.Ramp.Conversations != 20 || res.Ramp.Accepted != 20 {
		t.Errorf("ramp: %+v, want 20 sessions held with 20 conversations accepted", res.Ramp)
	}
	if len(res.Search.Steps) == 0 {
		t.Error("no search step")
	}
	if res.Measure.Received == 0 || res.Measure.Relay.Count != uint64(res.Measure.Received) {
		t.Errorf("measure: %d received, %d relay samples", res.Measure.Received, res.Measure.Relay.Count)
	}
	if res.Measure.Receipt.Count == 0 || res.Measure.Read.Count == 0 {
		t.Errorf("measure: %d receipt samples (%d READ)", res.Measure.Receipt.Count, res.Measure.Read.Count)
	}
	tt := res.Totals
	if tt.Messages == 0 || tt.Lost != 0 || tt.Duplicated != 0 || tt.MissingAccept != 0 || tt.MissingRead != 0 {
		t.Errorf("totals: %+v", tt)
	}
	if res.ErrorTotal != 0 {
		t.Errorf("%d errors", res.ErrorTotal)
	}
	for _, a := range res.Agreement {
		if strings.Contains(a.What, "sequences") && a.Window != nil && *a.Window != a.Chatload {
			t.Errorf("%s: chatload saw %v, the window counts %v", a.What, a.Chatload, *a.Window)
		}
	}
	if len(res.Table) == 0 || !strings.Contains(out.String(), "relay latency p50/p99/p99.9") {
		t.Error("no table")
	}
}
