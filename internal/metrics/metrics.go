// Package metrics holds one node's Prometheus collectors: what an operator
// watches (README, "Operations"). Every method is safe on a nil *Metrics,
// which records nothing, so that tests and tools need not build one.
package metrics

import (
	"net/http"
	"runtime/debug"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the node's collectors, registered on their own registry (no
// global state: two nodes in one test process do not mix).
type Metrics struct {
	reg *prometheus.Registry

	sessions    prometheus.Gauge
	tabs        prometheus.Gauge
	tabsDropped *prometheus.CounterVec
	connects    *prometheus.CounterVec
	disconnects *prometheus.CounterVec
	published   *prometheus.CounterVec
	frames      *prometheus.CounterVec
	refused     *prometheus.CounterVec
	dropped     *prometheus.CounterVec
	relay       prometheus.Histogram
	receipt     prometheus.Histogram
}

// New registers the node's collectors, the Go runtime's (from
// runtime/metrics: heap, goroutines, GC, scheduler) and the process's (CPU,
// RSS, file descriptors).
func New() *Metrics {
	reg := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	m := &Metrics{
		reg: reg,
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chatwindow_sessions",
			Help: "Browser sessions live on this node (each holds one upstream consumer socket).",
		}),
		tabs: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "chatwindow_tabs",
			Help: "Tabs attached to this node's sessions.",
		}),
		tabsDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatwindow_tabs_dropped_total",
			Help: "Tabs let go by the server, by reason: slow (outbox full), too_many (a session's tab cap).",
		}, []string{"reason"}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatwindow_upstream_connects_total",
			Help: "Upstream consumer sockets opened, by kind: first (a session's first) or reconnect.",
		}, []string{"kind"}),
		disconnects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatwindow_upstream_disconnects_total",
			Help: "Upstream consumer sockets lost, by cause (the reason a reconnect follows).",
		}, []string{"cause"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatwindow_receipts_published_total",
			Help: "Receipts the service accepted, counted per sequence, by status (ACCEPT, READ).",
		}, []string{"status"}),
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatwindow_receipt_frames_total",
			Help: "AcceptStatusEvent publishes the service accepted (one sequenceList each), by status.",
		}, []string{"status"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatwindow_receipts_refused_total",
			Help: "Tab reports refused by the receipt policy and never published, by reason.",
		}, []string{"reason"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "chatwindow_receipts_dropped_total",
			Help: "Receipts the service refused for good (a 4xx other than 401, 408 and 429, such as a closed dialog), counted per sequence, by status.",
		}, []string{"status"}),
		relay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "chatwindow_relay_latency_seconds",
			Help: "From an upstream frame read to the change it caused written to a tab's socket (one sample per tab).",
			// 50 µs … 2.6 s: the target is a p99 of 2 ms.
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 16),
		}),
		receipt: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "chatwindow_receipt_latency_seconds",
			Help: "From a tab's report read to the service's answer to the receipt's publish (batch window included; one sample per sequence and status).",
			// 1 ms … 16 s: the target is a p99 of 120 ms.
			Buckets: prometheus.ExponentialBuckets(1e-3, 2, 15),
		}),
	}
	f(m.sessions)
	f(m.tabs)
	f(m.tabsDropped)
	f(m.connects)
	f(m.disconnects)
	f(m.published)
	f(m.frames)
	f(m.refused)
	f(m.dropped)
	f(m.relay)
	f(m.receipt)
	f(buildInfo())
	f(collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsGC, collectors.MetricsMemory, collectors.MetricsScheduler)))
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// buildInfo is chatwindow_build_info: 1, labelled with what was built.
func buildInfo() prometheus.Collector {
	version, revision, goVersion := "(devel)", "", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		version, goVersion = bi.Main.Version, bi.GoVersion
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "chatwindow_build_info",
		Help:        "The build: version, VCS revision and Go version (always 1).",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": goVersion},
	})
	g.Set(1)
	return g
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// SessionStarted and SessionEnded count live sessions.
func (m *Metrics) SessionStarted() {
	if m != nil {
		m.sessions.Inc()
	}
}

// SessionEnded: see SessionStarted.
func (m *Metrics) SessionEnded() {
	if m != nil {
		m.sessions.Dec()
	}
}

// TabAttached and TabGone count attached tabs.
func (m *Metrics) TabAttached() {
	if m != nil {
		m.tabs.Inc()
	}
}

// TabGone: see TabAttached.
func (m *Metrics) TabGone() {
	if m != nil {
		m.tabs.Dec()
	}
}

// TabDropped counts a tab the server let go (reason: slow, too_many).
func (m *Metrics) TabDropped(reason string) {
	if m != nil {
		m.tabsDropped.WithLabelValues(reason).Inc()
	}
}

// Connected counts an upstream socket opened (first: the session's first).
func (m *Metrics) Connected(first bool) {
	if m == nil {
		return
	}
	kind := "reconnect"
	if first {
		kind = "first"
	}
	m.connects.WithLabelValues(kind).Inc()
}

// Disconnected counts an upstream socket lost, by a cause from a small set
// (the caller classifies; labels must stay few).
func (m *Metrics) Disconnected(cause string) {
	if m != nil {
		m.disconnects.WithLabelValues(cause).Inc()
	}
}

// ReceiptsPublished counts one accepted publish of n sequences.
func (m *Metrics) ReceiptsPublished(status string, n int) {
	if m != nil {
		m.frames.WithLabelValues(status).Inc()
		m.published.WithLabelValues(status).Add(float64(n))
	}
}

// ReceiptsDropped counts n sequences the service refused for good.
func (m *Metrics) ReceiptsDropped(status string, n int) {
	if m != nil {
		m.dropped.WithLabelValues(status).Add(float64(n))
	}
}

// ReportRefused counts one reported item the policy refused.
func (m *Metrics) ReportRefused(reason string) {
	if m != nil {
		m.refused.WithLabelValues(reason).Inc()
	}
}

// RelayLatency records one frame written to a tab, since the upstream frame
// that caused it was read.
func (m *Metrics) RelayLatency(d time.Duration) {
	if m != nil {
		m.relay.Observe(d.Seconds())
	}
}

// ReceiptLatency records one receipt answered, since the report that asked
// for it was read.
func (m *Metrics) ReceiptLatency(d time.Duration) {
	if m != nil {
		m.receipt.Observe(d.Seconds())
	}
}
