package main

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSourceAddr(t *testing.T) {
	seen := map[string]int{}
	for i := range 70000 {
		ip := sourceAddr(i).To4()
		if ip == nil || ip[0] != 127 || ip[3] == 0 || ip[3] == 255 {
			t.Fatalf("session %d: %v", i, ip)
		}
		if ip.String() == "127.0.0.1" {
			t.Fatalf("session %d gets the servers' address", i)
		}
		if j, dup := seen[ip.String()]; dup {
			t.Fatalf("sessions %d and %d share %v", j, i, ip)
		}
		seen[ip.String()] = i
	}
	if got := sourceAddr(0).String(); got != "127.0.0.2" {
		t.Errorf("first address %s, want 127.0.0.2", got)
	}
}

// item is a report's item as the window reads it (receipts.Item).
type item struct {
	DialogID string `json:"dialogId"`
	Seq      int64  `json:"seq"`
}

// The frames the light tab sends are chat.js's and htmx's.
func TestFrames(t *testing.T) {
	var report struct {
		Type   string `json:"type"`
		Status string `json:"status"`
		Items  []item `json:"items"`
	}
	if err := json.Unmarshal(reportFrame("seen", `d"1`, []int64{3, 5}), &report); err != nil {
		t.Fatal(err)
	}
	if report.Type != "report" || report.Status != "seen" {
		t.Errorf("report %+v", report)
	}
	if diff := cmp.Diff([]item{{`d"1`, 3}, {`d"1`, 5}}, report.Items); diff != "" {
		t.Errorf("items (-want +got):\n%s", diff)
	}
	var send map[string]any
	if err := json.Unmarshal(sendFrame("hi <there>", "http://127.0.0.1:1"), &send); err != nil {
		t.Fatal(err)
	}
	if send["type"] != "send" || send["text"] != "hi <there>" {
		t.Errorf("send %v", send)
	}
	if _, ok := send["HEADERS"].(map[string]any); !ok {
		t.Error("send frame without htmx's HEADERS")
	}
}
