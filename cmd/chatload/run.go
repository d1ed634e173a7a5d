package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

// config is the run's flags.
type config struct {
	bin           string
	window        string
	windows       int
	floor         bool
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
	fs.BoolVar(&c.floor, "floor", false, "also start the floor (`chatload floor`: the least relay doing the window's socket work per message) on the same service as one more node, and print the window's CPU per message against it")
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
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile of the window (FILE-window1…) and of the service (FILE-service) during the measure phase (needs -pprof)")
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
	case c.window != "" && c.floor:
		return c, errors.New("-floor starts the processes itself: not with -window")
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

func (c config) summary() map[string]any {
	return map[string]any{
		"sessions": c.sessions, "ramp_per_s": c.ramp, "hold_s": c.hold.Seconds(), "agents": c.agents,
		"workers_per_agent": c.workers, "rate": c.rate, "start_rate": c.startRate, "step_factor": c.stepFactor,
		"step_s": c.step.Seconds(), "max_rate": c.maxRate, "duration_s": c.duration.Seconds(), "visible": c.visible,
		"dwell_ms": c.dwell.Milliseconds(), "spread_source_addresses": c.spread, "short": c.short, "bin": c.bin, "floor": c.floor,
	}
}
