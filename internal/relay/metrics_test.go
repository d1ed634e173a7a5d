package relay_test

import (
	"bufio"
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/metrics"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/receipts"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/simulator"
)

// scrape reads m as Prometheus does: "name{labels}" → value.
func scrape(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := map[string]float64{}
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// readConversation starts a conversation with a visible tab, has the agent
// write n messages gap apart, and waits until the service has the READ of
// each.
func readConversation(t *testing.T, w *world, n int, gap time.Duration) (*relay.Tab, *messaging.Agent, string) {
	t.Helper()
	rt, err := w.mgr.Attach(w.identity(t))
	if err != nil {
		t.Fatal(err)
	}
	runTab(t, rt, true)
	a, ups := w.agent(t)
	rt.Send("hi")
	conv := acceptFirstRing(t, a, ups)
	var seqs []int64
	for i := range n {
		seq, err := a.Publish(t.Context(), conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: fmt.Sprint("m", i)})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
		time.Sleep(gap)
	}
	waitUntil(t, "READ of every agent message at the service", 10*time.Second, func() bool {
		_, read := consumerReceipts(w.svc.DialogEvents(conv), a.PID())
		for _, s := range seqs {
			if read[s] == 0 {
				return false
			}
		}
		return true
	})
	return rt, a, conv
}

// TestMetrics: what the node counts agrees with what happened at the
// service: sessions, tabs, receipts published (per sequence and per
// frame), reports refused, receipt latency samples, and an upstream cut
// with its reconnect.
func TestMetrics(t *testing.T) {
	m := metrics.New()
	w := newWorld(t, func(_ *simulator.Config, c *relay.Config) {
		if c != nil {
			c.Metrics = m
		}
	})
	const n = 5
	rt, _, conv := readConversation(t, w, n, 0)
	rt.Report("seen", []receipts.Item{{DialogID: conv, Seq: 9999}})
	waitUntil(t, "the forged report counted", 5*time.Second, func() bool {
		return scrape(t, m)[`chatwindow_receipts_refused_total{reason="unknown_sequence"}`] == 1
	})
	waitUntil(t, "the answers to the publishes counted", 5*time.Second, func() bool {
		return scrape(t, m)[`chatwindow_receipts_published_total{status="READ"}`] >= n
	})
	got := scrape(t, m)
	for name, want := range map[string]float64{
		"chatwindow_sessions": 1,
		"chatwindow_tabs":     1,
		`chatwindow_receipts_published_total{status="ACCEPT"}`: n,
		`chatwindow_receipts_published_total{status="READ"}`:   n,
		"chatwindow_receipt_latency_seconds_count":             2 * n,
		`chatwindow_upstream_connects_total{kind="first"}`:     1,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
	if f := got[`chatwindow_receipt_frames_total{status="ACCEPT"}`]; f < 1 || f > n {
		t.Errorf("%v ACCEPT frames for %d sequences: want 1 to %d (batched)", f, n, n)
	}
	if !strings.Contains(fmt.Sprint(got), "chatwindow_build_info") {
		t.Error("no chatwindow_build_info")
	}

	if w.proxy.CutAll() == 0 {
		t.Fatal("nothing to cut")
	}
	waitUntil(t, "the reconnect counted", 10*time.Second, func() bool {
		return scrape(t, m)[`chatwindow_upstream_connects_total{kind="reconnect"}`] == 1
	})
	got = scrape(t, m)
	var lost float64
	for k, v := range got {
		if strings.HasPrefix(k, "chatwindow_upstream_disconnects_total{") {
			lost += v
		}
	}
	if lost != 1 {
		t.Errorf("%v disconnects counted, want 1 (%v)", lost, got)
	}
	rt.Detach()
	waitUntil(t, "the tab gone", 5*time.Second, func() bool { return scrape(t, m)["chatwindow_tabs"] == 0 })
}

// TestReceiptFrameSpacing: an agent writing every 10 ms to a visible tab
// gets its receipts batched: per dialog and status, no two
// AcceptStatusEvents of the customer's less than 100 ms apart
// (docs/protocol.md, Receipts: batched; the ≤ 1 frame per dialog per 100 ms
// of docs/performance.md).
func TestReceiptFrameSpacing(t *testing.T) {
	w := newWorld(t)
	const n = 60
	_, a, conv := readConversation(t, w, n, 10*time.Millisecond)
	first, last := map[string]int64{}, map[string]int64{}
	frames := map[string]int{}
	for _, e := range w.svc.DialogEvents(conv) {
		if e.Event.Type != protocol.EventAcceptStatus || e.Originator() == a.PID() {
			continue
		}
		st := e.Event.Status
		if frames[st] == 0 {
			first[st] = e.ServerTimestamp
		}
		frames[st]++
		last[st] = e.ServerTimestamp
	}
	// Flushes are ≥ 100 ms apart: over a span of s ms a status has at most
	// s/100 + 1 frames. Counted, not measured pair by pair: a publish
	// reaches the service a little after its flush, more or less so on a
	// busy machine, so two frames may land closer than 100 ms; the count
	// over the whole run still holds (give or take the first and the
	// last, hence the slack of 2).
	for st, n := range frames {
		if most := int((last[st]-first[st])/100) + 1 + 2; n > most {
			t.Errorf("%d %s frames over %d ms at the service, want at most %d (flushes ≥ 100 ms apart)", n, st, last[st]-first[st], most)
		}
	}
	if frames["READ"] >= n/2 {
		t.Errorf("%d READ frames for %d messages: not batched", frames["READ"], n)
	}
	t.Logf("%d messages over %d ms: %v receipt frames", n, n*10, frames)
}
