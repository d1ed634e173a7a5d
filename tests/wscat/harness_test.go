//go:build linux

package wscat_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// feed is what a child process printed, as lines (or terminal segments),
// for a test to wait on whatever the order of arrival.
type feed struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every change
	gone    error         // set once the producer has ended
}

func newFeed() *feed { return &feed{changed: make(chan struct{})} }

func (f *feed) add(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lines = append(f.lines, s)
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *feed) end(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gone == nil {
		f.gone = err
		close(f.changed)
		f.changed = make(chan struct{})
	}
}

func (f *feed) snapshot() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.lines...)
}

// wait returns the index of the first line at or after from for which
// match says true; match's error ends the wait at once.
func (f *feed) wait(ctx context.Context, what string, from int, match func(string) (bool, error)) (int, error) {
	for {
		f.mu.Lock()
		lines, changed, gone := f.lines, f.changed, f.gone
		f.mu.Unlock()
		for i := from; i < len(lines); i++ {
			ok, err := match(lines[i])
			if err != nil {
				return 0, fmt.Errorf("waiting for %s: %w", what, err)
			}
			if ok {
				return i, nil
			}
		}
		if gone != nil {
			return 0, fmt.Errorf("waiting for %s: gone: %w", what, gone)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// lineWriter splits a process's output into a feed's lines.
type lineWriter struct {
	partial []byte
	lines   *feed
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.lines.add(string(bytes.TrimRight(w.partial[:i], "\r")))
		w.partial = w.partial[i+1:]
	}
}

// stopProcess sends SIGTERM and waits up to 10 s for done, then kills.
func stopProcess(p *os.Process, done <-chan struct{}) {
	select {
	case <-done:
		return
	default:
	}
	if err := p.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = p.Kill()
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.Kill()
		<-done
	}
}

// startLines starts a process whose stdout the test reads as lines; it is
// stopped when the test ends, and its output logged if the test failed.
func startLines(t *testing.T, name string, env []string, argv ...string) *feed {
	t.Helper()
	out := newFeed()
	var stderr bytes.Buffer
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Stdout = &lineWriter{lines: out}
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	// Ends when the process exits; the cleanup below makes sure it does.
	go func() {
		err := cmd.Wait()
		out.end(fmt.Errorf("%s exited: %v", name, err))
		close(done)
	}()
	t.Cleanup(func() {
		stopProcess(cmd.Process, done)
		if t.Failed() {
			t.Logf("%s stdout:\n%s\n%s stderr:\n%s", name, strings.Join(out.snapshot(), "\n"), name, stderr.String())
		}
	})
	return out
}

// terminal is a shell command run on a pseudo-terminal, as a person runs
// it: what it prints arrives as segments (its lines, split at carriage
// returns, without terminal escapes), and the test types lines into it.
type terminal struct {
	name   string
	master *os.File
	out    *feed
	done   chan struct{} // closed when the command has exited and its output is read
}

// csi matches the terminal control sequences readline and wscat print
// (clearing the line, moving the cursor, colours).
var csi = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-Za-z]|\x1b[=>]`)

// startTerminal runs `sh -c command` on a new pseudo-terminal with env.
func startTerminal(t *testing.T, name string, env []string, command string) *terminal {
	t.Helper()
	master, slave, err := openPTY(4000, 50)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", command)
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	// A session of its own with the pty as its controlling terminal, as
	// a shell in a terminal window has.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		master.Close()
		slave.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	slave.Close()
	term := &terminal{name: name, master: master, out: newFeed(), done: make(chan struct{})}
	exited := make(chan error, 1)
	// Ends when the command has exited (the cleanup below makes sure it
	// does).
	go func() { exited <- cmd.Wait() }()
	// Reads the terminal until it is closed or the command has gone (the
	// slave's last holder closed it: EIO).
	go func() {
		defer close(term.done)
		term.read()
		term.out.end(fmt.Errorf("%s exited: %v", name, <-exited))
	}()
	t.Cleanup(func() {
		stopProcess(cmd.Process, term.done)
		master.Close()
		if t.Failed() {
			t.Logf("%s printed:\n%s", name, strings.Join(term.out.snapshot(), "\n"))
		}
	})
	return term
}

func (term *terminal) read() {
	var partial []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := term.master.Read(buf)
		partial = append(partial, buf[:n]...)
		for {
			i := bytes.IndexAny(partial, "\r\n")
			if i < 0 {
				break
			}
			if s := csi.ReplaceAllString(string(partial[:i]), ""); strings.TrimSpace(s) != "" {
				term.out.add(s)
			}
			partial = partial[i+1:]
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrClosed) && !errors.Is(err, syscall.EIO) {
				term.out.add(fmt.Sprintf("(reading the terminal: %v)", err))
			}
			return
		}
	}
}

// typeLine types s and Enter.
func (term *terminal) typeLine(t *testing.T, s string) {
	t.Helper()
	if _, err := term.master.Write([]byte(s + "\r")); err != nil {
		t.Fatalf("type into %s: %v", term.name, err)
	}
}
