package main

import (
	"fmt"
	"math"
)

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

// perSession is the footprint of the first nw nodes (the windows, not the
// floor), holding held sessions between them.
func (rr *rampResult) perSession(before, idle snapshot, nw, held int) {
	rr.footprint = footprintOf(before.windows[:nw], idle.windows[:nw], held)
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
	Relay            latency `json:"relay_latency"`       // agent publish → tab inserts (the windows' tabs)
	FloorRelay       latency `json:"floor_relay_latency"` // the same, the floor's tabs (-floor)
	Receipt          latency `json:"receipt_latency"`     // tab report → agent receives (ACCEPT and READ)
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
	mr.Publish, mr.FloorRelay = ph.publish.Summary(), ph.floor.Summary()
	if dialogs > 0 {
		mr.FramesPerDialogS = float64(ph.frames.Load()) / float64(dialogs) / secs
	}
	mr.MaxFrames100ms, mr.FramesOver1 = ph.maxFrames.Load(), ph.framesOver1.Load()
	mr.ReportsPerS = float64(ph.reports.Load()) / secs
	mr.CPU = nil
	var windows float64
	nWindows := 0
	for i, w := range start.windows {
		used := math.NaN()
		if w.procOK && end.windows[i].procOK {
			used = end.windows[i].proc.CPU - w.proc.CPU
		}
		if w.name != floorName {
			windows += used
			nWindows++
		}
		relayed := mr.Received
		if len(start.windows) > 1 {
			relayed = ph.receivedBy[i].Load()
		}
		mr.addCPU(w.name, used, relayed)
	}
	if nWindows > 1 {
		mr.addCPU("all windows", windows, mr.Received)
	}
	service := math.NaN()
	if start.serviceOK && end.serviceOK {
		service = end.service.CPU - start.service.CPU
	}
	mr.addCPU("service", service, mr.Received)
	mr.addCPU("chatload", end.selfCPU-start.selfCPU, mr.Received)
}

// floorCPU is the window's and the floor's CPU per relayed message, in µs,
// of a run with -floor and one window.
func (mr *measureResult) floorCPU() (window, floor float64, ok bool) {
	var w, f *cpu
	for i, c := range mr.CPU {
		switch c.Process {
		case "window":
			w = &mr.CPU[i]
		case floorName:
			f = &mr.CPU[i]
		}
	}
	if w == nil || f == nil {
		return 0, 0, false
	}
	return w.Per1000Msg * 1000, f.Per1000Msg * 1000, true
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
		agreement{agreeRelayP99, ms(ph.relay.Quantile(0.99)), q("chatwindow_relay_latency_seconds", 0.99),
			"chatload: agent publish called → tab read the frame (agent→service→window→tab, two hops more); window: upstream frame read → tab frame written"},
		agreement{"relay latency p50, ms (measure)", ms(ph.relay.Quantile(0.5)), q("chatwindow_relay_latency_seconds", 0.5), "as above"},
		agreement{"receipt latency p99, ms (measure)", ms(ph.receipt.Quantile(0.99)), q("chatwindow_receipt_latency_seconds", 0.99),
			"chatload: tab report written → agent received the receipt (one service→agent hop more); window: report read → the service answered the publish"},
		agreement{"receipt latency p50, ms (measure)", ms(ph.receipt.Quantile(0.5)), q("chatwindow_receipt_latency_seconds", 0.5), "as above"},
	)
}
