package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// procs are the processes measured: pid 0 when not started by chatload.
type procs struct {
	windows    []*node // at least one
	serviceURL string
	servicePID int
	// serviceDebug is the service's -debug-addr URL, for its CPU profile
	// ("": none).
	serviceDebug string
	stop         func()
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

// windowURLs are the windows' URLs, space separated (the report's config).
func (p procs) windowURLs() string {
	urls := make([]string, len(p.windows))
	for i, w := range p.windows {
		urls[i] = w.url
	}
	return strings.Join(urls, " ")
}

// floorName is the floor's node name (-floor).
const floorName = "floor"

// windowNodes is how many of p.windows are windows: all but the floor,
// which is the last node when there is one.
func (p procs) windowNodes() int {
	if n := len(p.windows); n > 0 && p.windows[n-1].name == floorName {
		return n - 1
	}
	return len(p.windows)
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
	svcRes := []*regexp.Regexp{regexp.MustCompile(`listening on (\S+)`)}
	if cfg.pprof {
		args = append(args, "-debug-addr", "127.0.0.1:0")
		svcRes = append(svcRes, regexp.MustCompile(`metrics and pprof on (\S+)`))
	}
	svc, urls, err := startChild(ctx, log, "service", cfg.bin, args, svcRes, 30*time.Second)
	if err != nil {
		return procs{}, err
	}
	svcURL, svcDebug := urls[0], ""
	if cfg.pprof {
		svcDebug = strings.TrimSuffix(urls[1], "/")
	}
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
	if cfg.floor {
		// The floor is one more node: session i goes to it when i mod
		// (windows+1) is the last, so both relay under the same load at the
		// same time, and their CPU per message compares on a noisy machine.
		self, err := os.Executable()
		if err != nil {
			stop()
			return procs{}, fmt.Errorf("floor: %w", err)
		}
		fl, urls, err := startChild(ctx, log, floorName, self, []string{"floor", "-csds", svcURL, "-account", cfg.account},
			[]*regexp.Regexp{regexp.MustCompile(`floor on (\S+)`)}, 30*time.Second)
		if err != nil {
			stop()
			return procs{}, err
		}
		wins = append(wins, fl)
		n, err := newNode(floorName, urls[0], "", fl.pid())
		if err != nil {
			stop()
			return procs{}, err
		}
		nodes = append(nodes, n)
		log.Info("started", floorName, n.url)
	}
	return procs{windows: nodes, serviceURL: svcURL, servicePID: svc.pid(), serviceDebug: svcDebug, stop: stop}, nil
}

// child is a process chatload started: the service or the window.
type child struct {
	name string
	cmd  *exec.Cmd
	out  *lineWatch
	errs *lineWatch
	done chan struct{} // closed when Wait has returned
	err  error         // Wait's, once done
}

// startChild starts bin with args and waits (at most timeout) for lines
// of its stdout matching each of res; it returns their first submatches
// (URLs), in the order of res. The process dies with chatload (Pdeathsig)
// if chatload is killed.
func startChild(ctx context.Context, log *slog.Logger, name, bin string, args []string, res []*regexp.Regexp, timeout time.Duration) (*child, []string, error) {
	c := &child{
		name: name,
		cmd:  exec.Command(bin, args...),
		out:  newLineWatch(res),
		errs: newLineWatch(nil),
		done: make(chan struct{}),
	}
	c.cmd.Stdout = c.out
	c.cmd.Stderr = c.errs
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// The copying goroutines of os/exec end with the process's pipes;
	// WaitDelay bounds them if a grandchild held them open.
	c.cmd.WaitDelay = 5 * time.Second
	if err := c.cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", name, err)
	}
	log.Debug("started", "process", name, "pid", c.cmd.Process.Pid, "args", args)
	// This goroutine ends when the process has exited.
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	urls := make([]string, len(res))
	for left := len(res); left > 0; left-- {
		select {
		case m := <-c.out.match:
			urls[m.i] = m.v
		case <-c.done:
			return nil, nil, fmt.Errorf("%s exited before it was ready: %v; stderr: %s", name, c.err, c.errs.tailText())
		case <-t.C:
			c.stop(5 * time.Second)
			return nil, nil, fmt.Errorf("%s did not print its URLs within %s; stderr: %s", name, timeout, c.errs.tailText())
		case <-ctx.Done():
			c.stop(5 * time.Second)
			return nil, nil, ctx.Err()
		}
	}
	return c, urls, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop sends SIGTERM, waits up to grace, then kills; it returns once the
// process has exited.
func (c *child) stop(grace time.Duration) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		_ = c.cmd.Process.Kill()
		<-c.done
		return fmt.Errorf("%s did not stop within %s after SIGTERM: killed", c.name, grace)
	}
	var ee *exec.ExitError
	if c.err != nil && !errors.As(c.err, &ee) {
		return c.err
	}
	return nil
}

// lineWatch is a process's output: it sends the first submatch of the
// first line matching each of res on match, counts lines, warnings and
// errors, and keeps the last few.
type lineWatch struct {
	res   []*regexp.Regexp
	match chan found1

	mu       sync.Mutex
	partial  []byte
	lines    int
	warnings int
	errors   int
	tail     []string
	matched  []bool
}

// found1 is a match of the i-th expression.
type found1 struct {
	i int
	v string
}

const tailLines = 20

func newLineWatch(res []*regexp.Regexp) *lineWatch {
	return &lineWatch{res: res, match: make(chan found1, len(res)), matched: make([]bool, len(res))}
}

func (w *lineWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.line(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
	}
	if len(w.partial) > 1<<16 {
		w.line(string(w.partial))
		w.partial = w.partial[:0]
	}
	return len(p), nil
}

func (w *lineWatch) line(l string) {
	w.lines++
	switch {
	case strings.Contains(l, "level=ERROR"):
		w.errors++
	case strings.Contains(l, "level=WARN"):
		w.warnings++
	}
	if len(w.tail) == tailLines {
		w.tail = w.tail[1:]
	}
	w.tail = append(w.tail, l)
	for i, re := range w.res {
		if w.matched[i] {
			continue
		}
		if m := re.FindStringSubmatch(l); m != nil {
			w.matched[i] = true
			w.match <- found1{i, m[1]}
		}
	}
}

func (w *lineWatch) counts() (lines, warnings, errs int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lines, w.warnings, w.errors
}

func (w *lineWatch) tailText() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.tail, "\n")
}

func (w *lineWatch) tailLines() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.tail...)
}
