package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// config is the run's flags.
type config struct {
	bin           string
	window        string
	windows       int
	service       string
	account       string
	agentPrefix   string
	agentPassword string
	sessions      int
	ramp          float64
	hold          time.Duration
	agents        int
	workers       int
	rate          float64
	startRate     float64
	stepFactor    float64
	step          time.Duration
	maxRate       float64
	duration      time.Duration
	visible       float64
	dwell         time.Duration
	spread        bool
	jsonFile      string
	benchFile     string
	short         bool
	nofile        uint64
	logLevel      string
	readyTimeout  time.Duration
	capture       string
	pprof         bool
	windowDebug   string
	cpuProfile    string
	heapProfile   string
}

// run is the whole program: flags, the processes, the three phases, the
// report. It returns when the run is over or ctx ends (the processes it
// started are stopped either way).
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, getenv, stderr)
	if err != nil {
		return err
	}
	var l slog.Level
	if err := l.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("log level %q: %w", cfg.logLevel, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: l}))

	res := &result{Machine: machine(), Config: cfg.summary()}
	if cfg.benchFile != "" {
		f, err := os.Open(cfg.benchFile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		res.Bench, err = parseBench(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("bench %s: %w", cfg.benchFile, err)
		}
	}
	if cfg.sessions > 0 {
		if err := load(ctx, cfg, log, res); err != nil {
			return err
		}
	}
	res.buildTable()
	res.print(stdout)
	if cfg.jsonFile != "" {
		if err := res.writeJSON(cfg.jsonFile); err != nil {
			return err
		}
	}
	return nil
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("chatload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.bin, "bin", "bin/chatwindow", "the chatwindow binary to start (go build -o bin/chatwindow ./cmd/chatwindow)")
	fs.StringVar(&c.window, "window", "", "URL of a running chat window (then -service is needed too, and nothing is started)")
	fs.IntVar(&c.windows, "windows", 1, "window processes (nodes) to start on the one service; session i goes to window i mod N")
	fs.StringVar(&c.service, "service", "", "URL of a running `chatwindow simulate` with agents -agent-prefix1…K (password -agent-password)")
	fs.StringVar(&c.account, "account", envOr(getenv, "LP_ACCOUNT", "12345678"), "the service's account")
	fs.StringVar(&c.agentPrefix, "agent-prefix", "load", "agents are named PREFIX1…PREFIXK")
	fs.StringVar(&c.agentPassword, "agent-password", "", "the agents' password (generated when chatload starts the service)")
	fs.IntVar(&c.sessions, "sessions", 1000, "customer sessions (one tab each); 0: no load run (with -bench: print the benchmarks)")
	fs.Float64Var(&c.ramp, "ramp", 500, "sessions opened per second")
	fs.DurationVar(&c.hold, "hold", 5*time.Second, "how long the sessions are held idle before memory is measured")
	fs.IntVar(&c.agents, "agents", 4, "agent sockets; conversations are spread over them")
	fs.IntVar(&c.workers, "workers", 64, "publishes in flight per agent at most")
	fs.Float64Var(&c.rate, "rate", 0, "agent messages per second (all conversations) for the measure phase; 0: half the most sustained, found by stepping up")
	fs.Float64Var(&c.startRate, "start-rate", 1000, "the search's first rate (messages per second)")
	fs.Float64Var(&c.stepFactor, "step-factor", 1.5, "the search multiplies the rate by this every step")
	fs.DurationVar(&c.step, "step", 5*time.Second, "how long each step of the search lasts")
	fs.Float64Var(&c.maxRate, "max-rate", 200000, "the search stops here")
	fs.DurationVar(&c.duration, "duration", 20*time.Second, "how long the measure phase lasts")
	fs.Float64Var(&c.visible, "visible", 1.0, "fraction of tabs visible and focused (they report seen as well as delivered)")
	fs.DurationVar(&c.dwell, "dwell", 600*time.Millisecond, "chat.js's DWELL: a visible bubble counts as seen after this long")
	fs.BoolVar(&c.spread, "spread", true, "give each session its own source address 127.x.y.z (the window limits requests per address)")
	fs.StringVar(&c.jsonFile, "json", "", "write every figure to this file as JSON")
	fs.StringVar(&c.benchFile, "bench", "", "`go test -bench -benchmem` output to print in the same table")
	fs.BoolVar(&c.short, "short", false, "a short run for `make bench` (500 sessions, 2 s steps, 5 s measure) unless set otherwise")
	fs.Uint64Var(&c.nofile, "nofile", 0, "open-file limit to set for chatload and its children (0: 1000 + the most of one process: 2 per session of a window, 1 per session for chatload and the service; when above the current one); raising the hard limit needs CAP_SYS_RESOURCE")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.DurationVar(&c.readyTimeout, "ready-timeout", 30*time.Second, "after the ramp, how long to wait for conversations to open and be accepted while none progresses")
	fs.BoolVar(&c.pprof, "pprof", true, "start the window with -debug-addr, where its metrics are served: a GC is forced (/debug/pprof/heap?gc=1) before memory is measured, and profiles can be taken")
	fs.StringVar(&c.windowDebug, "window-debug", "", "with -window: the running window's -debug-addr URL (for the forced GC and profiles)")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the window during the measure phase to this file (needs -pprof)")
	fs.StringVar(&c.heapProfile, "heapprofile", "", "write a heap profile of the window with the sessions held idle to this file (needs -pprof)")
	fs.StringVar(&c.capture, "capture", "", "write the first frames the first session receives to this file, one JSON string a line (the scanner's test data)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.short {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		short := map[string]func(){
			"sessions": func() { c.sessions = 500 },
			"hold":     func() { c.hold = 2 * time.Second },
			"step":     func() { c.step = 2 * time.Second },
			"duration": func() { c.duration = 5 * time.Second },
		}
		for name, apply := range short {
			if !set[name] {
				apply()
			}
		}
	}
	switch {
	case c.sessions < 0 || c.agents < 1 || c.workers < 1 || c.windows < 1:
		return c, errors.New("-sessions ≥ 0, -agents ≥ 1, -workers ≥ 1 and -windows ≥ 1")
	case c.ramp <= 0 || c.startRate <= 0 || c.stepFactor <= 1 || c.visible < 0 || c.visible > 1:
		return c, errors.New("-ramp > 0, -start-rate > 0, -step-factor > 1, 0 ≤ -visible ≤ 1")
	case (c.window == "") != (c.service == ""):
		return c, errors.New("-window and -service go together")
	case c.service != "" && c.agentPassword == "":
		return c, errors.New("-service needs -agent-password")
	case c.window != "" && c.windows != 1:
		return c, errors.New("-window measures one running window: -windows must be 1")
	}
	return c, nil
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// procs are the processes measured: pid 0 when not started by chatload.
type procs struct {
	windows    []*node // at least one
	serviceURL string
	servicePID int
	stop       func()
}

// node is one window process: a node of a deployment, all of them on the
// one service with no shared store. Sessions i, i+N, i+2N… of N windows
// are node i's: each session stays on its node (so the nodes need no
// common CHATWINDOW_SESSION_KEYS).
type node struct {
	name     string   // "window" alone; "window 1", "window 2"… of several
	url      string   // the window's listener
	base     *url.URL // url, parsed
	debugURL string   // its -debug-addr ("": none)
	pid      int      // 0: not started by chatload
}

// nodeName is window i's name (of n) in the report, the logs and the
// errors: one window keeps the plain name it always had.
func nodeName(i, n int) string {
	if n == 1 {
		return "window"
	}
	return fmt.Sprintf("window %d", i+1)
}

func newNode(name, rawURL, debugURL string, pid int) (*node, error) {
	u := strings.TrimSuffix(rawURL, "/")
	base, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("%s URL %q: %w", name, rawURL, err)
	}
	return &node{name: name, url: u, base: base, debugURL: strings.TrimSuffix(debugURL, "/"), pid: pid}, nil
}

// startProcs starts `chatwindow simulate` and cfg.windows windows on it,
// unless a window and the service were given.
func startProcs(ctx context.Context, cfg *config, log *slog.Logger, out *result) (procs, error) {
	if cfg.window != "" {
		n, err := newNode(nodeName(0, 1), cfg.window, cfg.windowDebug, 0)
		if err != nil {
			return procs{}, err
		}
		return procs{windows: []*node{n}, serviceURL: cfg.service, stop: func() {}}, nil
	}
	if cfg.agentPassword == "" {
		cfg.agentPassword = rand.Text()[:16]
	}
	args := []string{"simulate", "-addr", "127.0.0.1:0", "-account", cfg.account, "-log-level", "warn",
		"-rate-limit", "1000000", "-rate-burst", "1000000"}
	for k := 1; k <= cfg.agents; k++ {
		args = append(args, "-agent", fmt.Sprintf("%s%d:%s", cfg.agentPrefix, k, cfg.agentPassword))
	}
	svc, urls, err := startChild(ctx, log, "service", cfg.bin, args, []*regexp.Regexp{regexp.MustCompile(`listening on (\S+)`)}, 30*time.Second)
	if err != nil {
		return procs{}, err
	}
	svcURL := urls[0]
	winArgs := []string{"-addr", "127.0.0.1:0", "-account", cfg.account, "-csds", svcURL, "-log-level", "warn"}
	if !cfg.spread {
		// Every session comes from 127.0.0.1: the window's limits per
		// client address would refuse all but the first few.
		winArgs = append(winArgs, "-conns-per-client", "0", "-sockets-per-client", "0", "-signups-per-client", "0")
	}
	res := []*regexp.Regexp{regexp.MustCompile(`chat window on (\S+)`)}
	if cfg.pprof {
		winArgs = append(winArgs, "-debug-addr", "127.0.0.1:0")
		res = append(res, regexp.MustCompile(`metrics and pprof on (\S+)`))
	}
	var (
		wins  []*child
		nodes []*node
	)
	stop := func() {
		// The windows first: they drain their sessions to the service.
		stopErrs := make([]error, len(wins))
		var wg sync.WaitGroup
		for i, w := range wins {
			wg.Add(1)
			// It ends once the window has exited.
			go func() {
				defer wg.Done()
				stopErrs[i] = w.stop(15 * time.Second)
			}()
		}
		wg.Wait()
		stopErrs = append(stopErrs, svc.stop(15*time.Second))
		for _, err := range stopErrs {
			if err != nil {
				out.addNote("%v", err)
			}
		}
		for _, c := range append(wins, svc) {
			lines, warns, errs := c.errs.counts()
			out.Logs = append(out.Logs, childLog{Process: c.name, Lines: lines, Warnings: warns, Errors: errs, Tail: c.errs.tailLines()})
		}
	}
	for i := range cfg.windows {
		name := nodeName(i, cfg.windows)
		win, urls, err := startChild(ctx, log, name, cfg.bin, winArgs, res, 30*time.Second)
		if err != nil {
			stop()
			return procs{}, err
		}
		wins = append(wins, win)
		debugURL := ""
		if cfg.pprof {
			debugURL = urls[1]
		}
		n, err := newNode(name, urls[0], debugURL, win.pid())
		if err != nil {
			stop()
			return procs{}, err
		}
		nodes = append(nodes, n)
		log.Info("started", "service", svcURL, name, n.url, "debug", n.debugURL)
	}
	return procs{windows: nodes, serviceURL: svcURL, servicePID: svc.pid(), stop: stop}, nil
}

// load is the run itself: processes, agents, the phases.
func load(ctx context.Context, cfg config, log *slog.Logger, res *result) error {
	want := cfg.nofile
	if want == 0 {
		want = noFileWanted(cfg.sessions, cfg.windows)
	}
	soft, hard, err := raiseNoFile(want)
	res.NoFile = noFile{Wanted: want, Soft: soft, Hard: hard, Windows: cfg.windows}
	if err != nil {
		res.NoFile.Error = err.Error()
		log.Warn("open-file limit not raised: each window needs about 2 per session it holds", "want", want, "soft", soft, "hard", hard, "error", err)
	}

	p, err := startProcs(ctx, &cfg, log, res)
	if err != nil {
		return err
	}
	defer p.stop()
	urls := make([]string, len(p.windows))
	for i, w := range p.windows {
		urls[i] = w.url
	}
	res.Config["window"] = strings.Join(urls, " ")
	res.Config["service"] = p.serviceURL
	// The meter's connections to the windows are opened before the ramp
	// and kept (no idle timeout): a window at its open-file limit cannot
	// accept a new one, and its figures are wanted most then.
	mtr := &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: 0, DisableCompression: true}
	defer mtr.CloseIdleConnections()
	mc := &http.Client{Transport: mtr, Timeout: 30 * time.Second}
	r := newLoadRun(log, len(p.windows))
	m := &meter{ctx: ctx, hc: mc, long: &http.Client{Transport: mtr}, r: r, p: p, log: log}

	// Everything below lives until the run ends: agents, tabs.
	actx, stopAgents := context.WithCancel(context.Background())
	var agentsWG sync.WaitGroup
	defer func() {
		stopAgents()
		agentsWG.Wait()
	}()
	sctx, stopSessions := context.WithCancel(context.Background())
	var sessWG sync.WaitGroup
	var sessions []*session
	defer func() {
		for _, s := range sessions {
			s.close()
		}
		stopSessions()
		sessWG.Wait()
	}()

	m.gc("")
	before := m.snap("before")
	res.Window.GoVersion = before.goVersion()
	agents := make([]*loadAgent, cfg.agents)
	for k := range agents {
		a, err := startAgent(actx, &agentsWG, r, log.With("component", "agent"), p.serviceURL, cfg.account,
			fmt.Sprintf("%s%d", cfg.agentPrefix, k+1), cfg.agentPassword, k, cfg.agents, cfg.workers)
		if err != nil {
			return err
		}
		agents[k] = a
	}

	// Phase 1: the ramp, then the idle hold.
	r.phase.Store(phaseRamp)
	log.Info("ramp", "sessions", cfg.sessions, "per_second", cfg.ramp)
	rampStart := time.Now()
	var endedN atomic.Int64 // sessions whose run ended (failed, or closed)
	var captured [][]byte
	if cfg.capture != "" {
		defer func() {
			if len(sessions) == 0 {
				return
			}
			if err := writeCapture(cfg.capture, sessions[0], &captured); err != nil {
				log.Warn("capture", "error", err)
			}
		}()
	}
	visibleN := int(math.Round(cfg.visible * float64(cfg.sessions)))
	progress := time.NewTicker(5 * time.Second)
	defer progress.Stop()
	for i := 0; i < cfg.sessions; i++ {
		select {
		case <-progress.C:
			log.Info("ramping", "started", i, "conversations", r.registry.len(), "accepted", r.joined.Load(), "ended", int(endedN.Load()), "errors", r.errs.total.Load())
		default:
		}
		if wait := time.Until(rampStart.Add(time.Duration(float64(i) / cfg.ramp * float64(time.Second)))); wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		// Visible tabs are spread evenly over the sessions, and the
		// sessions over the windows, round robin.
		visible := visibleN > 0 && (i*visibleN)%cfg.sessions < visibleN
		win := i % len(p.windows)
		s := newSession(r, i, win, p.windows[win].base, visible, cfg.dwell, cfg.spread)
		if i == 0 && cfg.capture != "" {
			s.capture = &captured
		}
		sessions = append(sessions, s)
		sessWG.Add(1)
		// The tab lives until the run closes it (sctx).
		go func() {
			defer sessWG.Done()
			s.run(sctx)
			endedN.Add(1)
		}()
	}
	res.Ramp.Seconds = time.Since(rampStart).Seconds()
	// Wait while it progresses: at 10,000 conversations the service
	// takes a while to assign them all.
	deadline := time.Now().Add(cfg.readyTimeout)
	lastConvs, lastJoined := -1, int64(-1)
	for time.Now().Before(deadline) {
		if r.registry.len()+int(endedN.Load()) >= cfg.sessions && int(r.joined.Load()) >= r.registry.len() {
			break
		}
		if c, j := r.registry.len(), r.joined.Load(); c != lastConvs || j != lastJoined {
			lastConvs, lastJoined = c, j
			deadline = time.Now().Add(cfg.readyTimeout)
		}
		select {
		case <-progress.C:
			log.Info("waiting for conversations", "conversations", r.registry.len(), "accepted", r.joined.Load(), "ended", int(endedN.Load()), "errors", r.errs.total.Load())
		default:
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	res.Ramp.Ready = time.Since(rampStart).Seconds()
	log.Info("sessions opened", "conversations", r.registry.len(), "accepted", r.joined.Load(), "failed", int(endedN.Load()), "errors", r.errs.total.Load())
	cpu0, t0 := m.cpu(), time.Now()
	if err := sleep(ctx, cfg.hold); err != nil {
		return err
	}
	cpu1, t1 := m.cpu(), time.Now()
	res.Ramp.IdleCores = idleCores(cpu0, cpu1, t1.Sub(t0).Seconds())
	m.gc(cfg.heapProfile)
	idle := m.snap("idle")
	held := 0
	sentTo, heldBy := make([]int, len(p.windows)), make([]int, len(p.windows))
	for _, s := range sessions {
		sentTo[s.win]++
		if s.held() {
			held++
			heldBy[s.win]++
		} else if state := s.state(); state != "" {
			// Not failed, not held: e.g. a tab the window took whose
			// upstream could not connect (the banner says so).
			r.errs.add("tab: not held after the hold", "session %d: %s", s.n, state)
		}
	}
	res.Ramp.Sessions, res.Ramp.Held = cfg.sessions, held
	res.Ramp.Errors, res.Ramp.AgentErrors = r.errs.bySide()
	res.Ramp.Conversations, res.Ramp.Accepted = r.registry.len(), int(r.joined.Load())
	res.Ramp.perSession(before, idle, held)
	res.Windows = windowResults(p.windows, sentTo, heldBy, before, idle, cpu0, cpu1, t1.Sub(t0).Seconds())
	attrs := []any{"sessions", held, "of", cfg.sessions}
	for i, w := range idle.windows {
		attrs = append(attrs, w.name, fmt.Sprintf("%d held, %d MiB, %d fds", heldBy[i], w.proc.RSS>>20, w.proc.FDs))
	}
	log.Info("held", attrs...)
	fdNotes(res, idle)
	if held == 0 {
		res.addNote("no session was held: nothing to measure")
		return nil
	}

	// Phase 2: the most sustained rate.
	measureRate := cfg.rate
	if measureRate <= 0 {
		r.phase.Store(phaseSearch)
		best := search(ctx, cfg, r, log, res)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		res.Search.MaxSustained = best
		measureRate = best / 2
		if best == 0 {
			measureRate = cfg.startRate / 2
			res.addNote("no step of the search was sustained (not even %.0f/s): measuring at %.0f/s", cfg.startRate, measureRate)
		}
		// The overload of the last step must be over before measuring:
		// messages shown, receipts back.
		drain(ctx, r, 10*time.Second)
		if !settle(ctx, sessions, 15*time.Second) {
			res.addNote("receipts of the search were still missing when the measure began")
		}
	}

	// Phase 3: the measure.
	log.Info("measure", "rate", measureRate, "duration", cfg.duration)
	r.phase.Store(phaseMeasure)
	ph := r.stats[phaseMeasure]
	errs0 := r.errs.total.Load()
	start := m.snap("measure start")
	measureStart := time.Now()
	r.setRate(measureRate)
	profiled := m.cpuProfile(cfg.cpuProfile, cfg.duration)
	noise, stopProbe := probe()
	err = sleep(ctx, cfg.duration)
	stopProbe()
	if err != nil {
		return err
	}
	r.setRate(0)
	measureSecs := time.Since(measureStart).Seconds()
	end := m.snap("measure end")
	res.Measure.Oversleep = noise.Summary()
	if err := <-profiled; err != nil {
		res.addNote("CPU profile: %v", err)
	}
	r.phase.Store(phaseDrain)
	res.Measure.fill(measureRate, measureSecs, ph, start, end, r.joined.Load(), r.errs.total.Load()-errs0)
	res.Measure.FromSearch = cfg.rate <= 0

	// Drain: what was published arrives, receipts come back.
	drain(ctx, r, 10*time.Second)
	settle(ctx, sessions, 10*time.Second)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	after := m.snap("after")

	// The tally: the window's own count of what went wrong, then ours.
	windowErrors(r, before, after)
	msgs, lost, dup := r.ledger.tally()
	if lost > 0 {
		r.errs.addN("message never shown by its tab", lost, "%d of %d messages", lost, msgs)
	}
	var missA, missR int
	for _, s := range sessions {
		a, rd := s.missing()
		missA, missR = missA+a, missR+rd
	}
	if missA+missR > 0 {
		r.errs.addN("receipt never seen by the agent", int64(missA+missR), "%d ACCEPT, %d READ reported by tabs and never received", missA, missR)
	}
	var reconnects int
	for _, s := range sessions {
		s.mu.Lock()
		reconnects += s.reconnect
		s.mu.Unlock()
	}
	res.Totals = totals{Messages: msgs, Lost: lost, Duplicated: dup, MissingAccept: missA, MissingRead: missR, TabReconnects: reconnects}
	for k := range agents {
		res.Totals.PacerBehind += agents[k].behind.Load()
	}
	for i := range nPhases {
		res.Phases = append(res.Phases, r.stats[i].summary(phaseNames[i]))
	}
	res.Errors = r.errs.list()
	res.ErrorTotal = r.errs.total.Load()
	res.ErrWindow, res.ErrAgents = r.errs.bySide()
	res.agreement(r, before, after, start, end)
	return nil
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

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// drain waits (at most max) until every message accepted by the service
// was shown by its tab, or none arrived for a second.
func drain(ctx context.Context, r *loadRun, max time.Duration) {
	deadline := time.Now().Add(max)
	last, still := r.received.Load(), 0
	for time.Now().Before(deadline) && r.received.Load() < r.published.Load() {
		if sleep(ctx, 100*time.Millisecond) != nil {
			return
		}
		if n := r.received.Load(); n == last {
			if still++; still >= 10 {
				return
			}
		} else {
			last, still = n, 0
		}
	}
	sleep(ctx, 300*time.Millisecond) // the last reports and receipts
}

// settle waits (at most max) until every report the tabs sent has its
// receipt back at the agents, the dwell's late "seen" reports included
// (two checks in a row, a dwell apart).
func settle(ctx context.Context, sessions []*session, max time.Duration) bool {
	deadline := time.Now().Add(max)
	calm := 0
	for time.Now().Before(deadline) {
		missing := 0
		for _, s := range sessions {
			a, rd := s.missing()
			missing += a + rd
		}
		if missing == 0 {
			if calm++; calm >= 2 {
				return true
			}
		} else {
			calm = 0
		}
		if sleep(ctx, 700*time.Millisecond) != nil {
			return false
		}
	}
	return false
}

// search steps the rate up until delivery falls behind: the received rate
// under 95 % of the published one, a backlog that grows, a publish rate
// under 95 % of the one asked for (the agents or the service cannot take
// it), or errors. It returns the last rate that held (0 if none).
func search(ctx context.Context, cfg config, r *loadRun, log *slog.Logger, res *result) float64 {
	best := 0.0
	for rate := cfg.startRate; rate <= cfg.maxRate; rate *= cfg.stepFactor {
		pub0, recv0, err0 := r.published.Load(), r.received.Load(), r.errs.total.Load()
		h := newHist()
		r.stepRelay.Store(h)
		r.setRate(rate)
		t0 := time.Now()
		if sleep(ctx, cfg.step) != nil {
			r.setRate(0)
			r.stepRelay.Store(nil)
			return best
		}
		secs := time.Since(t0).Seconds()
		pub, recv := r.published.Load()-pub0, r.received.Load()-recv0
		backlog0, backlog := max(pub0-recv0, 0), max(r.published.Load()-r.received.Load(), 0)
		st := step{
			Rate: rate, Published: float64(pub) / secs, Received: float64(recv) / secs,
			Backlog: backlog, Errors: r.errs.total.Load() - err0,
			RelayP50: ms(h.Quantile(0.5)), RelayP99: ms(h.Quantile(0.99)),
		}
		switch {
		case st.Errors > 0:
			st.Verdict = "errors"
		case st.Published < 0.95*rate:
			st.Verdict = "publishers fell behind"
		case st.Received < 0.95*st.Published:
			st.Verdict = "tabs fell behind"
		case float64(backlog) > float64(backlog0)+0.02*float64(pub)+10:
			st.Verdict = "backlog grew"
		case float64(backlog) > 0.1*rate+10:
			// Little's law: more than 100 ms of messages in flight is a
			// mean relay latency over 100 ms, a system that queues.
			st.Verdict = "backlog over 100 ms"
		default:
			st.Verdict = "ok"
		}
		res.Search.Steps = append(res.Search.Steps, st)
		log.Info("step", "rate", math.Round(rate), "published", math.Round(st.Published), "received", math.Round(st.Received), "backlog", backlog,
			"relay_p50_ms", st.RelayP50, "relay_p99_ms", st.RelayP99, "errors", st.Errors, "verdict", st.Verdict)
		if st.Verdict != "ok" {
			break
		}
		best = rate
		res.Search.BestReceived = st.Received
	}
	r.setRate(0)
	r.stepRelay.Store(nil)
	return best
}

// writeCapture writes the frames session s captured, one JSON string a line.
func writeCapture(path string, s *session, frames *[][]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b strings.Builder
	for _, f := range *frames {
		j, _ := json.Marshal(string(f))
		b.Write(j)
		b.WriteByte('\n')
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
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

// noFileWanted is the open-file limit a run needs: the limit is per
// process (the children inherit chatload's), and the most any one needs
// is a window's 2 per session of its share (the tab's socket and its
// upstream) or chatload's and the service's 1 per session; 1000 to spare.
func noFileWanted(sessions, windows int) uint64 {
	share := (sessions + windows - 1) / windows
	return uint64(max(2*share, sessions) + 1000)
}

// fdNotes notes the processes at (or within 64 of) their open-file limit
// with the sessions held: there, the sessions beyond are refused, and the
// limit, not the window, bounds the figures.
func fdNotes(res *result, idle snapshot) {
	limit := res.NoFile.Soft
	if limit == 0 {
		return
	}
	near := func(what string, fds int) {
		if uint64(fds)+64 >= limit {
			res.addNote("%s has %d files open with the sessions held, at its open-file limit (%d a process): sessions beyond it cannot be held", what, fds, limit)
		}
	}
	for i, w := range idle.windows {
		if w.procOK && res.Windows[i].PID != 0 {
			near("the "+w.name, w.proc.FDs)
		}
	}
	if idle.serviceOK {
		near("the service", idle.service.FDs)
	}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		near("chatload", len(ents))
	}
}
