package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
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
// least 1) into path (see perWindowPath), and of the service (when started
// with -debug-addr) into path's "-service" twin; the channel says when
// they are written.
func (m *meter) cpuProfile(path string, d time.Duration) <-chan error {
	done := make(chan error, 1)
	if path == "" {
		done <- nil
		return done
	}
	secs := max(1, int(d.Seconds()))
	// Who is profiled: every window, then the service.
	type target struct{ name, debugURL, file string }
	var targets []target
	for i, w := range m.p.windows {
		targets = append(targets, target{"the " + w.name, w.debugURL, perWindowPath(path, i, len(m.p.windows))})
	}
	if m.p.serviceDebug != "" {
		ext := filepath.Ext(path)
		targets = append(targets, target{"the service", m.p.serviceDebug, strings.TrimSuffix(path, ext) + "-service" + ext})
	}
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, tg := range targets {
		if tg.debugURL == "" {
			errs[i] = fmt.Errorf("%s has no -debug-addr (pprof)", tg.name)
			continue
		}
		wg.Add(1)
		// The profile takes secs seconds; this goroutine ends then (or with ctx).
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(m.ctx, d+30*time.Second)
			defer cancel()
			if err := fetch(ctx, m.long, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", tg.debugURL, secs), tg.file); err != nil {
				errs[i] = fmt.Errorf("%s: %w", tg.name, err)
			}
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

// windowErrors counts, as errors of the run, what the windows' /metrics
// say went wrong between two snapshots: refused reports, receipts the
// service refused, tabs let go, upstream sockets lost.
func windowErrors(r *loadRun, before, after snapshot) {
	for i, w := range after.windows {
		prefix := ""
		if len(after.windows) > 1 {
			prefix = w.name + ": "
		}
		countWindowErrors(r, prefix, before.windows[i].metrics, w.metrics)
	}
}

// countWindowErrors counts one window's errors; the samples start with
// prefix.
func countWindowErrors(r *loadRun, prefix string, before, after scrape) {
	for _, name := range []string{
		"chatwindow_receipts_refused_total",
		"chatwindow_receipts_dropped_total",
		"chatwindow_tabs_dropped_total",
		"chatwindow_upstream_disconnects_total",
	} {
		for _, s := range after {
			if s.Name != name {
				continue
			}
			var labels []string
			for k, v := range s.Labels {
				labels = append(labels, k, v)
			}
			prev, _ := before.Get(name, labels...)
			if n := int64(s.Value - prev); n > 0 {
				r.errs.addN("window: "+strings.TrimSuffix(strings.TrimPrefix(name, "chatwindow_"), "_total"), n, "%s%d %v", prefix, n, s.Labels)
			}
		}
	}
}

// probe measures how late a 1 ms sleep of chatload wakes up, until stop is
// called: on a machine shared with other work the latencies measured
// include such scheduling delays, and this says how large they were.
func probe() (*hist, func()) {
	h := newHist()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	// The probe ends when stop closes done.
	go func() {
		defer wg.Done()
		t := time.NewTimer(time.Millisecond)
		defer t.Stop()
		for {
			start := time.Now()
			t.Reset(time.Millisecond)
			select {
			case <-t.C:
				h.Record(time.Since(start) - time.Millisecond)
			case <-done:
				return
			}
		}
	}()
	return h, func() {
		close(done)
		wg.Wait()
	}
}

// procStat is what /proc says of a process.
type procStat struct {
	CPU     float64 // user + system seconds
	RSS     int64   // bytes
	HWM     int64   // peak RSS, bytes
	Threads int
	FDs     int
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports (sysconf would need cgo).
const clockTicks = 100

func readProc(pid int) (procStat, error) {
	var st procStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// The command name is in parentheses and may hold spaces: fields
	// start after the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return st, fmt.Errorf("/proc/%d/stat: no command", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return st, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	stt, _ := strconv.ParseFloat(f[12], 64)
	st.CPU = (ut + stt) / clockTicks
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for _, line := range strings.Split(string(s), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		switch k {
		case "VmRSS", "VmHWM":
			n, _ := strconv.ParseInt(strings.TrimSuffix(v, " kB"), 10, 64)
			if k == "VmRSS" {
				st.RSS = n << 10
			} else {
				st.HWM = n << 10
			}
		case "Threads":
			st.Threads, _ = strconv.Atoi(v)
		}
	}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		st.FDs = len(ents)
	}
	return st, nil
}

// selfCPU is chatload's own CPU seconds (user + system).
func selfCPU() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
