package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

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

// raiseNoFile sets chatload's open-file limit (soft and hard) to at least
// n; children inherit it. Raising the hard limit needs CAP_SYS_RESOURCE.
func raiseNoFile(n uint64) (soft, hard uint64, err error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Cur >= n {
		return lim.Cur, lim.Max, nil
	}
	want := syscall.Rlimit{Cur: n, Max: max(n, lim.Max)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		// At least the soft limit up to the hard one.
		if lim.Cur < lim.Max {
			lim.Cur = lim.Max
			_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		}
		return lim.Cur, lim.Max, fmt.Errorf("setrlimit NOFILE %d: %w", n, err)
	}
	return want.Cur, want.Max, nil
}
