package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestNil: a nil *Metrics records nothing and serves 404, so that callers
// without metrics need no checks.
func TestNil(t *testing.T) {
	var m *Metrics
	m.SessionStarted()
	m.SessionEnded()
	m.TabAttached()
	m.TabGone()
	m.TabDropped("slow")
	m.Connected(true)
	m.Disconnected("network")
	m.ReceiptsPublished("ACCEPT", 3)
	m.ReceiptsDropped("READ", 1)
	m.ReportRefused("own_message")
	m.RelayLatency(time.Millisecond)
	m.ReceiptLatency(time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Errorf("nil metrics answer %d, want 404", rec.Code)
	}
}

// TestExposition: every family the README's operations section names is
// served, with the Go runtime's and the process's.
func TestExposition(t *testing.T) {
	m := New()
	m.TabDropped("slow")
	m.Connected(false)
	m.Disconnected("network")
	m.ReceiptsPublished("ACCEPT", 3)
	m.ReceiptsDropped("READ", 1)
	m.ReportRefused("own_message")
	m.RelayLatency(time.Millisecond)
	m.ReceiptLatency(50 * time.Millisecond)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{
		"chatwindow_sessions 0",
		"chatwindow_tabs 0",
		`chatwindow_tabs_dropped_total{reason="slow"} 1`,
		`chatwindow_upstream_connects_total{kind="reconnect"} 1`,
		`chatwindow_upstream_disconnects_total{cause="network"} 1`,
		`chatwindow_receipts_published_total{status="ACCEPT"} 3`,
		`chatwindow_receipt_frames_total{status="ACCEPT"} 1`,
		`chatwindow_receipts_dropped_total{status="READ"} 1`,
		`chatwindow_receipts_refused_total{reason="own_message"} 1`,
		"chatwindow_relay_latency_seconds_count 1",
		"chatwindow_receipt_latency_seconds_count 1",
		"chatwindow_build_info{",
		"go_goroutines ",
		"go_memstats_heap_inuse_bytes ",
		"process_resident_memory_bytes ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the exposition lacks %q", want)
		}
	}
}
