package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// meter takes snapshots of the processes: the windows' /metrics, /proc of
// the processes chatload started, chatload's own CPU.
type meter struct {
	ctx  context.Context
	hc   *http.Client
	long *http.Client // the same connections, no timeout (profiles)
	r    *loadRun
	p    procs
	log  *slog.Logger
}

// gc makes every window collect its garbage (its pprof heap endpoint
// does, with gc=1) so that the heap figures that follow are the live heap;
// the profiles are written to save (one a window, see perWindowPath) when
// it is not empty. A window without pprof is left alone.
func (m *meter) gc(save string) {
	for i, w := range m.p.windows {
		if w.debugURL == "" {
			continue
		}
		ctx, cancel := context.WithTimeout(m.ctx, 60*time.Second)
		err := fetch(ctx, m.hc, w.debugURL+"/debug/pprof/heap?gc=1", perWindowPath(save, i, len(m.p.windows)))
		cancel()
		if err != nil {
			m.log.Warn("forced GC", "window", w.name, "error", err)
		}
	}
}

// perWindowPath is the file of window i's profile (of n): path itself for
// one window, else with "-window<i+1>" before its extension.
func perWindowPath(path string, i, n int) string {
	if path == "" || n == 1 {
		return path
	}
	ext := filepath.Ext(path)
	return fmt.Sprintf("%s-window%d%s", strings.TrimSuffix(path, ext), i+1, ext)
}

// cpuProfile takes a CPU profile of every window for d (whole seconds, at
// least 1) into path (see perWindowPath); the channel says when they are
// written.
func (m *meter) cpuProfile(path string, d time.Duration) <-chan error {
	done := make(chan error, 1)
	if path == "" {
		done <- nil
		return done
	}
	secs := max(1, int(d.Seconds()))
	errs := make([]error, len(m.p.windows))
	var wg sync.WaitGroup
	for i, w := range m.p.windows {
		if w.debugURL == "" {
			errs[i] = fmt.Errorf("the %s has no -debug-addr (pprof)", w.name)
			continue
		}
		wg.Add(1)
		// The profile takes secs seconds; this goroutine ends then (or with ctx).
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(m.ctx, d+30*time.Second)
			defer cancel()
			errs[i] = fetch(ctx, m.long, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", w.debugURL, secs), perWindowPath(path, i, len(m.p.windows)))
		}()
	}
	// This goroutine ends when every profile is written (or failed).
	go func() {
		wg.Wait()
		done <- errors.Join(errs...)
	}()
	return done
}

// fetch GETs u and writes the body to path (discarded when path is "").
func fetch(ctx context.Context, hc *http.Client, u, path string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	w := io.Discard
	if path != "" {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// snapshot is the processes at one moment.
type snapshot struct {
	at        time.Time
	windows   []winSnap // as procs.windows
	service   procStat
	serviceOK bool
	selfCPU   float64
}

// winSnap is one window at one moment.
type winSnap struct {
	name    string
	metrics scrape // nil: no metrics
	proc    procStat
	procOK  bool
}

// merged is the windows' /metrics as one scrape: a metric is summed over
// the windows (Get sums every sample it matches) and a histogram's
// buckets are merged bound by bound (Buckets sums them; every window has
// the same bounds). nil when no window has metrics.
func merged(ws []winSnap) scrape {
	var all scrape
	for _, w := range ws {
		all = append(all, w.metrics...)
	}
	return all
}

// metrics is every window's /metrics as one scrape (see merged).
func (s snapshot) metrics() scrape { return merged(s.windows) }

func (m *meter) snap(what string) snapshot {
	// /proc and chatload's own CPU first: they cannot be late.
	s := snapshot{at: time.Now(), selfCPU: selfCPU(), windows: make([]winSnap, len(m.p.windows))}
	for i, w := range m.p.windows {
		s.windows[i].name = w.name
		s.windows[i].proc, s.windows[i].procOK = m.proc(w.pid)
	}
	s.service, s.serviceOK = m.proc(m.p.servicePID)
	for i, w := range m.p.windows {
		ws := &s.windows[i]
		ctx, cancel := context.WithTimeout(m.ctx, 20*time.Second)
		sc, err := scrapeMetrics(ctx, m.hc, w.debugURL)
		cancel()
		if err != nil {
			where := what
			if len(m.p.windows) > 1 {
				where += ", " + w.name
			}
			m.r.errs.add("metrics: scrape", "%s: %v", where, err)
		}
		ws.metrics = sc
		// Without /proc (a process chatload did not start), the window's
		// own process collector.
		if !ws.procOK && sc != nil {
			cpu, ok1 := sc.Get("process_cpu_seconds_total")
			rss, ok2 := sc.Get("process_resident_memory_bytes")
			fds, _ := sc.Get("process_open_fds")
			if ok1 && ok2 {
				ws.proc, ws.procOK = procStat{CPU: cpu, RSS: int64(rss), FDs: int(fds)}, true
			}
		}
	}
	return s
}

// proc reads /proc of a process chatload started (pid 0: not started).
func (m *meter) proc(pid int) (procStat, bool) {
	if pid == 0 {
		return procStat{}, false
	}
	st, err := readProc(pid)
	if err != nil {
		m.log.Warn("proc", "pid", pid, "error", err)
		return procStat{}, false
	}
	return st, true
}

// cpuTimes are CPU seconds used so far (NaN: unknown).
type cpuTimes struct {
	windows []float64 // as procs.windows
	service float64
	self    float64 // chatload
}

// cpu is the CPU seconds of the windows, the service and chatload so far.
func (m *meter) cpu() cpuTimes {
	t := cpuTimes{windows: make([]float64, len(m.p.windows)), service: math.NaN(), self: selfCPU()}
	for i, w := range m.p.windows {
		t.windows[i] = m.windowCPU(w)
	}
	if m.p.servicePID != 0 {
		if st, err := readProc(m.p.servicePID); err == nil {
			t.service = st.CPU
		}
	}
	return t
}

func (m *meter) windowCPU(w *node) float64 {
	if w.pid != 0 {
		if st, err := readProc(w.pid); err == nil {
			return st.CPU
		}
		return math.NaN()
	}
	// A window chatload did not start: its process collector.
	ctx, cancel := context.WithTimeout(m.ctx, 20*time.Second)
	defer cancel()
	if sc, err := scrapeMetrics(ctx, m.hc, w.debugURL); err == nil {
		if v, ok := sc.Get("process_cpu_seconds_total"); ok {
			return v
		}
	}
	return math.NaN()
}

func (s snapshot) goVersion() string {
	for _, x := range s.metrics() {
		if x.Name == "chatwindow_build_info" {
			return x.Labels["goversion"]
		}
	}
	return ""
}

// metricDelta is after − before of a metric; ok when both have it.
func metricDelta(before, after scrape, name string, labels ...string) (float64, bool) {
	a, ok1 := after.Get(name, labels...)
	b, ok2 := before.Get(name, labels...)
	if !ok1 {
		return 0, false
	}
	if !ok2 && before != nil {
		b = 0 // a counter with a label value not seen yet
	}
	return a - b, ok1 && (ok2 || before != nil)
}

// firstOf returns the first metric of names that both scrapes have.
func firstOf(before, after scrape, names ...string) (string, float64, bool) {
	for _, n := range names {
		if d, ok := metricDelta(before, after, n); ok {
			return n, d, true
		}
	}
	return "", 0, false
}

// result is everything a run found.
type result struct {
	Machine    machineInfo    `json:"machine"`
	Config     map[string]any `json:"config"`
	NoFile     noFile         `json:"nofile"`
	Window     windowInfo     `json:"window"`
	Ramp       rampResult     `json:"ramp"`
	Windows    []windowResult `json:"windows"` // each window process's share of the ramp
	Search     searchResult   `json:"search"`
	Measure    measureResult  `json:"measure"`
	Phases     []phaseSummary `json:"phases"`
	Totals     totals         `json:"totals"`
	Errors     []errorKind    `json:"errors"`
	ErrorTotal int64          `json:"error_total"`
	ErrWindow  int64          `json:"errors_window_side"`
	ErrAgents  int64          `json:"errors_agents_side"`
	Agreement  []agreement    `json:"agreement_with_metrics"`
	Logs       []childLog     `json:"process_logs,omitempty"`
	Notes      []string       `json:"notes,omitempty"`
	Bench      []benchRow     `json:"bench,omitempty"`
	Table      []row          `json:"table"`
}

func (res *result) addNote(format string, args ...any) {
	res.Notes = append(res.Notes, fmt.Sprintf(format, args...))
}

// noFile is chatload's open-file limit, which its children inherit: it is
// per process, each window's own.
type noFile struct {
	Wanted  uint64 `json:"wanted"`
	Soft    uint64 `json:"soft"`
	Hard    uint64 `json:"hard"`
	Windows int    `json:"windows"` // window processes sharing the sessions
	Error   string `json:"error,omitempty"`
}

type windowInfo struct {
	GoVersion string `json:"go_version,omitempty"`
}

type childLog struct {
	Process  string   `json:"process"`
	Lines    int      `json:"stderr_lines"`
	Warnings int      `json:"warnings"`
	Errors   int      `json:"errors"`
	Tail     []string `json:"tail"`
}

func (c config) summary() map[string]any {
	return map[string]any{
		"sessions": c.sessions, "ramp_per_s": c.ramp, "hold_s": c.hold.Seconds(), "agents": c.agents,
		"workers_per_agent": c.workers, "rate": c.rate, "start_rate": c.startRate, "step_factor": c.stepFactor,
		"step_s": c.step.Seconds(), "max_rate": c.maxRate, "duration_s": c.duration.Seconds(), "visible": c.visible,
		"dwell_ms": c.dwell.Milliseconds(), "spread_source_addresses": c.spread, "short": c.short, "bin": c.bin,
	}
}

// rampResult is phase 1: sessions held idle and what they cost the windows.
type rampResult struct {
	Sessions      int     `json:"sessions"`
	Held          int     `json:"held"`
	Conversations int     `json:"conversations"`
	Accepted      int     `json:"accepted_by_agents"`
	Errors        int64   `json:"errors"`       // the window's side: tabs, window counters
	AgentErrors   int64   `json:"agent_errors"` // the agents' side: agent sockets, the service
	Seconds       float64 `json:"ramp_s"`
	Ready         float64 `json:"ready_s"`
	// Per held session, over every window.
	footprint
	ServiceRSS int64      `json:"service_rss_bytes"`
	IdleCores  [3]float64 `json:"idle_cores"` // the windows together, service, chatload: CPU while the sessions are held idle
}

// footprint is what held sessions cost windows: the differences from
// before the ramp, summed over the windows, divided by the sessions they
// hold, from their /metrics and /proc (NaN: not available); and their
// state with the sessions held.
type footprint struct {
	HeapLiveB    float64 `json:"heap_live_bytes_per_session"`    // go_gc_heap_live_bytes: live heap at the last GC
	StacksB      float64 `json:"stack_bytes_per_session"`        // goroutine stacks
	HeapObjectsB float64 `json:"heap_objects_bytes_per_session"` // live and not yet swept
	RSSB         float64 `json:"rss_bytes_per_session"`
	Goroutines   float64 `json:"goroutines_per_session"`
	WindowRSS    int64   `json:"window_rss_bytes"`
	WindowFDs    int     `json:"window_fds"`
	WindowSess   float64 `json:"chatwindow_sessions"`
	WindowTabs   float64 `json:"chatwindow_tabs"`
	GCs          float64 `json:"window_gc_cycles_during_ramp"`
	HeapLiveName string  `json:"heap_live_metric"`
	StacksName   string  `json:"stacks_metric"`
}

// footprintOf is the footprint of the windows of before and idle (the same
// windows, in the same order) holding held sessions between them.
func footprintOf(before, idle []winSnap, held int) footprint {
	nan := math.NaN()
	f := footprint{HeapLiveB: nan, StacksB: nan, HeapObjectsB: nan, RSSB: nan, Goroutines: nan, WindowSess: nan, WindowTabs: nan, GCs: nan}
	if held == 0 {
		return f
	}
	n := float64(held)
	b, a := merged(before), merged(idle)
	if name, d, ok := firstOf(b, a, "go_gc_heap_live_bytes", "go_memstats_heap_inuse_bytes"); ok {
		f.HeapLiveB, f.HeapLiveName = d/n, name
	}
	if name, d, ok := firstOf(b, a, "go_memory_classes_heap_stacks_bytes", "go_memstats_stack_inuse_bytes"); ok {
		f.StacksB, f.StacksName = d/n, name
	}
	if _, d, ok := firstOf(b, a, "go_memory_classes_heap_objects_bytes", "go_memstats_heap_alloc_bytes"); ok {
		f.HeapObjectsB = d / n
	}
	if d, ok := metricDelta(b, a, "go_goroutines"); ok {
		f.Goroutines = d / n
	}
	if v, ok := a.Get("chatwindow_sessions"); ok {
		f.WindowSess = v
	}
	if v, ok := a.Get("chatwindow_tabs"); ok {
		f.WindowTabs = v
	}
	if _, d, ok := firstOf(b, a, "go_gc_cycles_total_gc_cycles_total", "go_gc_duration_seconds_count"); ok {
		f.GCs = d
	}
	var grew, rss int64
	fds := 0
	for i := range idle {
		if !before[i].procOK || !idle[i].procOK {
			return f
		}
		grew += idle[i].proc.RSS - before[i].proc.RSS
		rss += idle[i].proc.RSS
		fds += idle[i].proc.FDs
	}
	f.RSSB, f.WindowRSS, f.WindowFDs = float64(grew)/n, rss, fds
	return f
}

func (rr *rampResult) perSession(before, idle snapshot, held int) {
	rr.footprint = footprintOf(before.windows, idle.windows, held)
	if held > 0 && idle.serviceOK {
		rr.ServiceRSS = idle.service.RSS
	}
}

// windowResult is one window process's share of the ramp.
type windowResult struct {
	Name     string `json:"name"`
	URL      string `json:"url"`
	PID      int    `json:"pid,omitempty"`
	Sessions int    `json:"sessions"` // sent to it
	Held     int    `json:"held"`
	// Per session it holds.
	footprint
	IdleCores float64 `json:"idle_cores"`
}

// windowResults are the windows' shares: sessions (sent to each), held
// (by each), and their CPU seconds over the idle hold of secs.
func windowResults(nodes []*node, sessions, held []int, before, idle snapshot, cpu0, cpu1 cpuTimes, secs float64) []windowResult {
	out := make([]windowResult, len(nodes))
	for i, w := range nodes {
		out[i] = windowResult{
			Name: w.name, URL: w.url, PID: w.pid, Sessions: sessions[i], Held: held[i],
			footprint: footprintOf(before.windows[i:i+1], idle.windows[i:i+1], held[i]),
			IdleCores: (cpu1.windows[i] - cpu0.windows[i]) / secs,
		}
	}
	return out
}

// idleCores is the CPU the processes used between two readings secs
// apart, in cores: the windows together, the service, chatload.
func idleCores(cpu0, cpu1 cpuTimes, secs float64) [3]float64 {
	windows := 0.0
	for i := range cpu1.windows {
		windows += cpu1.windows[i] - cpu0.windows[i]
	}
	return [3]float64{windows / secs, (cpu1.service - cpu0.service) / secs, (cpu1.self - cpu0.self) / secs}
}

// step is one step of the search.
type step struct {
	Rate      float64 `json:"rate"`
	Published float64 `json:"published_per_s"`
	Received  float64 `json:"received_per_s"`
	Backlog   int64   `json:"backlog_at_end"`
	RelayP50  float64 `json:"relay_p50_ms"`
	RelayP99  float64 `json:"relay_p99_ms"`
	Errors    int64   `json:"errors"`
	Verdict   string  `json:"verdict"`
}

type searchResult struct {
	Steps        []step  `json:"steps"`
	MaxSustained float64 `json:"max_sustained_rate"`
	BestReceived float64 `json:"received_per_s_at_max"`
}

// measureResult is phase 3: half the most sustained rate for -duration.
type measureResult struct {
	Rate             float64 `json:"rate"`
	FromSearch       bool    `json:"half_the_max_sustained"` // false: -rate
	Seconds          float64 `json:"seconds"`
	Dialogs          int64   `json:"dialogs"`
	Published        int64   `json:"published"`
	Received         int64   `json:"received"`
	MsgsPerSecond    float64 `json:"relayed_per_s"`
	Relay            latency `json:"relay_latency"`   // agent publish → tab inserts
	Receipt          latency `json:"receipt_latency"` // tab report → agent receives (ACCEPT and READ)
	Accept           latency `json:"accept_latency"`
	Read             latency `json:"read_latency"`
	Publish          latency `json:"publish_round_trip"` // agent publish request → the service's answer
	Oversleep        latency `json:"timer_oversleep"`    // chatload's 1 ms sleeps woke up this late: the machine's noise
	FramesPerDialogS float64 `json:"receipt_frames_per_dialog_per_s"`
	MaxFrames100ms   int64   `json:"max_receipt_frames_per_dialog_per_100ms"`
	FramesOver1      int64   `json:"receipt_frames_beyond_1_per_100ms"`
	ReportsPerS      float64 `json:"report_frames_per_s"`
	CPU              []cpu   `json:"cpu"` // each window (and all windows, of several), service, chatload
	Errors           int64   `json:"errors"`
}

type cpu struct {
	Process    string  `json:"process"`
	Seconds    float64 `json:"seconds"` // NaN: unknown
	Cores      float64 `json:"cores"`
	Messages   int64   `json:"messages"` // those Per1000Msg is of: a window of several, the ones it relayed; else all
	Per1000Msg float64 `json:"seconds_per_1000_messages"`
}

func (mr *measureResult) fill(rate, secs float64, ph *phaseStats, start, end snapshot, dialogs, errs int64) {
	mr.Rate, mr.Seconds, mr.Dialogs, mr.Errors = rate, secs, dialogs, errs
	mr.Published, mr.Received = ph.published.Load(), ph.received.Load()
	mr.MsgsPerSecond = float64(mr.Received) / secs
	mr.Relay, mr.Receipt, mr.Accept, mr.Read = ph.relay.Summary(), ph.receipt.Summary(), ph.accept.Summary(), ph.read.Summary()
	mr.Publish = ph.publish.Summary()
	if dialogs > 0 {
		mr.FramesPerDialogS = float64(ph.frames.Load()) / float64(dialogs) / secs
	}
	mr.MaxFrames100ms, mr.FramesOver1 = ph.maxFrames.Load(), ph.framesOver1.Load()
	mr.ReportsPerS = float64(ph.reports.Load()) / secs
	mr.CPU = nil
	var windows float64
	for i, w := range start.windows {
		used := math.NaN()
		if w.procOK && end.windows[i].procOK {
			used = end.windows[i].proc.CPU - w.proc.CPU
		}
		windows += used
		relayed := mr.Received
		if len(start.windows) > 1 {
			relayed = ph.receivedBy[i].Load()
		}
		mr.addCPU(w.name, used, relayed)
	}
	if len(start.windows) > 1 {
		mr.addCPU("all windows", windows, mr.Received)
	}
	service := math.NaN()
	if start.serviceOK && end.serviceOK {
		service = end.service.CPU - start.service.CPU
	}
	mr.addCPU("service", service, mr.Received)
	mr.addCPU("chatload", end.selfCPU-start.selfCPU, mr.Received)
}

// addCPU adds a process's CPU seconds over the measure, per 1000 of msgs.
func (mr *measureResult) addCPU(process string, secs float64, msgs int64) {
	mr.CPU = append(mr.CPU, cpu{Process: process, Seconds: secs, Cores: secs / mr.Seconds, Messages: msgs, Per1000Msg: secs / (float64(msgs) / 1000)})
}

type phaseSummary struct {
	Phase       string  `json:"phase"`
	Published   int64   `json:"published"`
	PubFailed   int64   `json:"publish_failed"`
	Received    int64   `json:"received"`
	Accepts     int64   `json:"accept_sequences"`
	Reads       int64   `json:"read_sequences"`
	Frames      int64   `json:"receipt_frames"`
	Reports     int64   `json:"report_frames"`
	ReportItems int64   `json:"report_items"`
	Relay       latency `json:"relay_latency"`
	Receipt     latency `json:"receipt_latency"`
	Publish     latency `json:"publish_round_trip"`
}

func (ph *phaseStats) summary(name string) phaseSummary {
	return phaseSummary{
		Phase: name, Published: ph.published.Load(), PubFailed: ph.pubFailed.Load(), Received: ph.received.Load(),
		Accepts: ph.accepts.Load(), Reads: ph.reads.Load(), Frames: ph.frames.Load(),
		Reports: ph.reports.Load(), ReportItems: ph.reportItems.Load(),
		Relay: ph.relay.Summary(), Receipt: ph.receipt.Summary(), Publish: ph.publish.Summary(),
	}
}

type totals struct {
	Messages      int64 `json:"messages"`
	Lost          int64 `json:"lost"`
	Duplicated    int64 `json:"duplicated"`
	MissingAccept int   `json:"missing_accept"`
	MissingRead   int   `json:"missing_read"`
	TabReconnects int   `json:"tab_reconnects"`
	PacerBehind   int64 `json:"publishes_skipped_by_pacer"`
}

// agreement compares one of chatload's figures with the window's own.
type agreement struct {
	What     string  `json:"what"`
	Chatload float64 `json:"chatload"`
	Window   float64 `json:"window"` // NaN: the window does not export it
	Note     string  `json:"note"`
}

// agreement compares chatload's counts and latencies with the windows'
// (their counters summed, their histograms merged).
func (res *result) agreement(r *loadRun, before, after, mStart, mEnd snapshot) {
	var acc, rd, frames int64
	for _, ph := range r.stats {
		acc += ph.accepts.Load()
		rd += ph.reads.Load()
		frames += ph.frames.Load()
	}
	get := func(b, a scrape, name string, labels ...string) float64 {
		if d, ok := metricDelta(b, a, name, labels...); ok {
			return d
		}
		return math.NaN()
	}
	b, a := before.metrics(), after.metrics()
	res.Agreement = []agreement{
		{"ACCEPT sequences (whole run)", float64(acc), get(b, a, "chatwindow_receipts_published_total", "status", "ACCEPT"),
			"chatload: seen by the agents; window: chatwindow_receipts_published_total{status=\"ACCEPT\"}"},
		{"READ sequences (whole run)", float64(rd), get(b, a, "chatwindow_receipts_published_total", "status", "READ"),
			"chatload: seen by the agents; window: chatwindow_receipts_published_total{status=\"READ\"}"},
		{"receipt frames (whole run)", float64(frames), get(b, a, "chatwindow_receipt_frames_total"),
			"chatload: AcceptStatusEvents the agents saw; window: chatwindow_receipt_frames_total"},
	}
	ph := r.stats[phaseMeasure]
	q := func(name string, p float64) float64 {
		m0, m1 := mStart.metrics(), mEnd.metrics()
		if m0 == nil || m1 == nil {
			return math.NaN()
		}
		bs := histDelta(m1.Buckets(name), m0.Buckets(name))
		return promQuantile(p, bs) * 1000
	}
	res.Agreement = append(res.Agreement,
		agreement{"relay latency p99, ms (measure)", ms(ph.relay.Quantile(0.99)), q("chatwindow_relay_latency_seconds", 0.99),
			"chatload: agent publish called → tab read the frame (agent→service→window→tab, two hops more); window: upstream frame read → tab frame written"},
		agreement{"relay latency p50, ms (measure)", ms(ph.relay.Quantile(0.5)), q("chatwindow_relay_latency_seconds", 0.5), "as above"},
		agreement{"receipt latency p99, ms (measure)", ms(ph.receipt.Quantile(0.99)), q("chatwindow_receipt_latency_seconds", 0.99),
			"chatload: tab report written → agent received the receipt (one service→agent hop more); window: report read → the service answered the publish"},
		agreement{"receipt latency p50, ms (measure)", ms(ph.receipt.Quantile(0.5)), q("chatwindow_receipt_latency_seconds", 0.5), "as above"},
	)
}

// row is one line of the table.
type row struct {
	Metric string `json:"metric"`
	Value  string `json:"value"`
	Target string `json:"target"`
	Status string `json:"status"`
}

func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "missed"
}

func kib(b float64) string {
	if math.IsNaN(b) {
		return "n/a"
	}
	return fmt.Sprintf("%.1f KiB", b/1024)
}

func num(v float64, format string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "n/a"
	}
	return fmt.Sprintf(format, v)
}

// targetScale is the scale of the targets (docs/performance.md, Targets):
// below it, a target is shown but not judged.
const targetScale = 10000

// buildTable puts the figures against the targets of docs/performance.md.
func (res *result) buildTable() {
	var t []row
	add := func(metric, value, target, status string) { t = append(t, row{metric, value, target, status}) }
	if res.Ramp.Sessions > 0 {
		rr := res.Ramp
		full := rr.Sessions >= targetScale
		judge := func(ok bool) string {
			if !full {
				return "(" + verdict(ok) + " at " + fmt.Sprint(rr.Sessions) + ")"
			}
			return verdict(ok)
		}
		add("sessions held (idle)", fmt.Sprintf("%d of %d, %d errors (agents' side: %d)", rr.Held, rr.Sessions, rr.Errors, rr.AgentErrors), "10,000 with 0 errors",
			judge(rr.Held == rr.Sessions && rr.Errors == 0 && full))
		add("window memory/session: live heap + stacks", kib(rr.HeapLiveB+rr.StacksB), "≤ 40 KiB", judgeNaN(rr.HeapLiveB+rr.StacksB, func(v float64) bool { return v <= 40<<10 }))
		add("window memory/session: RSS", kib(rr.RSSB), "≤ 40 KiB", judgeNaN(rr.RSSB, func(v float64) bool { return v <= 40<<10 }))
		add("window memory/session: heap objects (incl. garbage)", kib(rr.HeapObjectsB), "", "")
		add("window goroutines/session", num(rr.Goroutines, "%.2f"), "≤ 3", judgeNaN(rr.Goroutines, func(v float64) bool { return math.Round(v*100)/100 <= 3 }))
		if len(res.Windows) <= 1 {
			add("window RSS, fds (idle)", fmt.Sprintf("%.0f MiB, %d fds", float64(rr.WindowRSS)/(1<<20), rr.WindowFDs), "", "")
			add("CPU while idle: window, service, chatload", fmt.Sprintf("%s, %s, %s cores", num(rr.IdleCores[0], "%.3f"), num(rr.IdleCores[1], "%.3f"), num(rr.IdleCores[2], "%.3f")), "", "")
		} else {
			// The open-file limit is each process's: each window's fds
			// against it.
			each := make([]string, len(res.Windows))
			for i, w := range res.Windows {
				add(w.Name+": held, RSS, fds (idle)", fmt.Sprintf("%d of %d sessions, %.0f MiB, %d fds (limit %d a process)", w.Held, w.Sessions, float64(w.WindowRSS)/(1<<20), w.WindowFDs, res.NoFile.Soft), "", "")
				each[i] = num(w.IdleCores, "%.3f")
			}
			add("CPU while idle: windows, service, chatload", fmt.Sprintf("%s (%s), %s, %s cores", num(rr.IdleCores[0], "%.3f"), strings.Join(each, " + "), num(rr.IdleCores[1], "%.3f"), num(rr.IdleCores[2], "%.3f")), "", "")
		}
	}
	if len(res.Search.Steps) > 0 {
		s := res.Search
		add("max sustained rate (search)", fmt.Sprintf("%.0f msgs/s (tabs received %.0f/s)", s.MaxSustained, s.BestReceived), "≥ 20,000 msgs/s",
			verdict(s.BestReceived >= 20000))
	}
	if m := res.Measure; m.Seconds > 0 {
		how := "half the max sustained"
		if !m.FromSearch {
			how = "-rate"
		}
		add("measure phase", fmt.Sprintf("%.0f msgs/s asked, %d dialogs, %.1f s", m.Rate, m.Dialogs, m.Seconds), how, "")
		add("relayed msgs/s (measure)", fmt.Sprintf("%.0f", m.MsgsPerSecond), "", "")
		add("relay latency p50/p99/p99.9", fmt.Sprintf("%.2f / %.2f / %.2f ms", m.Relay.P50, m.Relay.P99, m.Relay.P999), "p99 ≤ 2 ms", verdict(m.Relay.Count > 0 && m.Relay.P99 <= 2))
		add("receipt latency p50/p99/p99.9", fmt.Sprintf("%.1f / %.1f / %.1f ms", m.Receipt.P50, m.Receipt.P99, m.Receipt.P999), "p99 ≤ 120 ms", verdict(m.Receipt.Count > 0 && m.Receipt.P99 <= 120))
		add("agent publish round trip p50/p99", fmt.Sprintf("%.2f / %.2f ms", m.Publish.P50, m.Publish.P99), "", "")
		add("receipt frames per dialog", fmt.Sprintf("%.2f/s; at most %d in 100 ms (%d frames beyond 1)", m.FramesPerDialogS, m.MaxFrames100ms, m.FramesOver1), "≤ 1 per 100 ms", verdict(m.MaxFrames100ms <= 1))
		add("machine noise: 1 ms sleep woke late by, p99/max", fmt.Sprintf("%.2f / %.2f ms", m.Oversleep.P99, m.Oversleep.Max), "", "")
		for _, c := range m.CPU {
			of := ""
			if c.Messages != m.Received {
				// A window of several: per message it relayed.
				of = fmt.Sprintf(" (of the %d it relayed)", c.Messages)
			}
			add("CPU "+c.Process, fmt.Sprintf("%s s (%s cores), %s s per 1000 msgs%s", num(c.Seconds, "%.2f"), num(c.Cores, "%.2f"), num(c.Per1000Msg, "%.3f"), of), "", "")
		}
	}
	if res.Ramp.Sessions > 0 {
		tt := res.Totals
		add("errors", fmt.Sprintf("%d: window's side %d (lost %d, duplicated %d, receipts missing %d), agents' side %d", res.ErrorTotal, res.ErrWindow, tt.Lost, tt.Duplicated, tt.MissingAccept+tt.MissingRead, res.ErrAgents), "0", verdict(res.ErrorTotal == 0))
	}
	res.Table = t
}

func judgeNaN(v float64, ok func(float64) bool) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return verdict(ok(v))
}

// print writes the human-readable report.
func (res *result) print(w io.Writer) {
	m := res.Machine
	fmt.Fprintf(w, "chatload — %s\n", m.Date)
	fmt.Fprintf(w, "machine: %s, %d cores, %s, kernel %s, load average %s at start", m.CPU, m.Cores, m.GoVersion, m.Kernel, m.Load)
	if res.Window.GoVersion != "" {
		fmt.Fprintf(w, " (window built with %s)", res.Window.GoVersion)
	}
	fmt.Fprintln(w)
	if nf := res.NoFile; nf.Error != "" {
		fmt.Fprintf(w, "open files: wanted %d, have %d (hard %d): %s", nf.Wanted, nf.Soft, nf.Hard, nf.Error)
		if nf.Windows > 1 {
			fmt.Fprintf(w, " (the limit is each process's: each of the %d windows holds 2 per session of its share)", nf.Windows)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	if len(res.Table) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "metric\tvalue\ttarget\tstatus")
		fmt.Fprintln(tw, "------\t-----\t------\t------")
		for _, r := range res.Table {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Metric, r.Value, r.Target, r.Status)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	if len(res.Search.Steps) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "search step\tasked/s\tpublished/s\treceived/s\tbacklog\trelay p50 ms\trelay p99 ms\terrors\t verdict\t")
		for i, s := range res.Search.Steps {
			fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f\t%d\t%.2f\t%.2f\t%d\t %s\t\n", i+1, s.Rate, s.Published, s.Received, s.Backlog, s.RelayP50, s.RelayP99, s.Errors, s.Verdict)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	if len(res.Agreement) > 0 {
		if len(res.Windows) > 1 {
			fmt.Fprintf(w, "agreement with the %d windows' /metrics (counters summed, histograms merged):\n", len(res.Windows))
		} else {
			fmt.Fprintln(w, "agreement with the window's /metrics:")
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, a := range res.Agreement {
			fmt.Fprintf(tw, "  %s\tchatload %s\twindow %s\tdiff %s\t%s\n", a.What, num(a.Chatload, "%.3f"), num(a.Window, "%.3f"), num(a.Chatload-a.Window, "%+.3f"), a.Note)
		}
		tw.Flush()
		fmt.Fprintln(w)
	}
	if len(res.Errors) > 0 {
		fmt.Fprintln(w, "errors:")
		for _, e := range res.Errors {
			fmt.Fprintf(w, "  %6d  %s: %s\n", e.Count, e.Kind, strings.Join(e.Samples, " | "))
		}
		fmt.Fprintln(w)
	}
	for _, l := range res.Logs {
		if l.Warnings+l.Errors > 0 {
			fmt.Fprintf(w, "%s log: %d warnings, %d errors; last lines:\n", l.Process, l.Warnings, l.Errors)
			for _, line := range l.Tail[max(0, len(l.Tail)-5):] {
				fmt.Fprintf(w, "  %s\n", line)
			}
		}
	}
	for _, n := range res.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if len(res.Bench) > 0 {
		if len(res.Table) > 0 {
			fmt.Fprintln(w)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "benchmark\tns/op\tB/op\tallocs/op\t other\t")
		for _, b := range res.Bench {
			var other []string
			for _, u := range b.Units {
				other = append(other, fmt.Sprintf("%.4g %s", b.Custom[u], u))
			}
			bop, aop := "", ""
			if b.HasMem {
				bop, aop = fmt.Sprintf("%.0f", b.BytesPerOp), fmt.Sprintf("%.0f", b.AllocsOp)
			}
			name := b.Name
			if b.Pkg != "" {
				name = shortPkg(b.Pkg) + "." + strings.TrimPrefix(b.Name, "Benchmark")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t %s\t\n", name, nsOp(b.NsPerOp), bop, aop, strings.Join(other, ", "))
		}
		tw.Flush()
	}
}

// nsOp prints ns/op as go test does: whole above 100, else 4 digits.
func nsOp(v float64) string {
	if v >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.4g", v)
}

// writeJSON writes every figure (NaN, which JSON lacks, as null).
func (res *result) writeJSON(path string) error {
	b, err := json.MarshalIndent(sanitize(res), "", "  ")
	if err != nil {
		return fmt.Errorf("json: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

// sanitize turns v into plain values (maps, slices, numbers, strings),
// by its json tags, with NaN and ±Inf as null: encoding/json refuses them.
func sanitize(v any) any { return plain(reflect.ValueOf(v)) }

func plain(v reflect.Value) any {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return plain(v.Elem())
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return f
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
				// An embedded struct's fields are its parent's, as
				// encoding/json has them.
				maps.Copy(out, plain(v.Field(i)).(map[string]any))
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if strings.Contains(opts, "omitempty") && fv.IsZero() {
				continue
			}
			out[name] = plain(fv)
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return []any{}
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = plain(v.Index(i))
		}
		return out
	case reflect.Map:
		out := map[string]any{}
		for _, k := range v.MapKeys() {
			out[fmt.Sprint(k.Interface())] = plain(v.MapIndex(k))
		}
		return out
	default:
		return v.Interface()
	}
}
