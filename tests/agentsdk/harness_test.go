package agentsdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// feed collects what a peer produced (output lines, frames) so that a test
// can wait for an item that matches, whatever the order of arrival.
type feed[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{} // closed and replaced on every change
	err     error         // set once the producer is gone
}

func newFeed[T any]() *feed[T] {
	return &feed[T]{changed: make(chan struct{})}
}

func (f *feed[T]) add(v T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items = append(f.items, v)
	close(f.changed)
	f.changed = make(chan struct{})
}

// close records that nothing more will come, and why.
func (f *feed[T]) close(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
		close(f.changed)
		f.changed = make(chan struct{})
	}
}

func (f *feed[T]) snapshot() []T {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]T(nil), f.items...)
}

// wait returns the first item for which match says true. It fails at once
// when match returns an error (the peer reported a failure), when the
// producer has gone without a match, or when ctx ends.
func (f *feed[T]) wait(ctx context.Context, what string, match func(T) (bool, error)) (T, error) {
	var zero T
	for {
		f.mu.Lock()
		items, changed, gone := f.items, f.changed, f.err
		f.mu.Unlock()
		for _, v := range items {
			ok, err := match(v)
			if err != nil {
				return zero, fmt.Errorf("waiting for %s: %w", what, err)
			}
			if ok {
				return v, nil
			}
		}
		if gone != nil {
			return zero, fmt.Errorf("waiting for %s: gone: %w", what, gone)
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return zero, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		}
	}
}

// lineWriter feeds a process's output into a feed, one item per line.
type lineWriter struct {
	mu      sync.Mutex
	partial []byte
	lines   *feed[string]
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
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

// lockedBuffer is a bytes.Buffer safe for a process's copying goroutine and
// the test at once.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a child process of the test: its stdout as lines, its stderr as
// text, and its exit.
type proc struct {
	name   string
	cmd    *exec.Cmd
	out    *feed[string]
	stderr lockedBuffer
	done   chan struct{} // closed when the process has exited and its output is read
	err    error         // Wait's result, valid after done
}

// startProc starts a process and registers its end with t.Cleanup: SIGTERM,
// up to 10 s to exit, then SIGKILL. With wantCleanExit, anything but exit
// status 0 after SIGTERM fails the test. Its output is logged when the test
// failed.
func startProc(t *testing.T, name, dir string, env []string, wantCleanExit bool, argv ...string) *proc {
	t.Helper()
	p := &proc{name: name, out: newFeed[string](), done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Dir = dir
	p.cmd.Env = env
	p.cmd.Stdout = &lineWriter{lines: p.out}
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	// Ends when the process exits; cleanup below makes sure it does.
	go func() {
		p.err = p.cmd.Wait()
		p.out.close(fmt.Errorf("%s exited: %v", name, p.err))
		close(p.done)
	}()
	t.Cleanup(func() {
		stopped := p.stop()
		if t.Failed() || testing.Verbose() {
			t.Logf("%s stdout:\n%s", name, strings.Join(p.out.snapshot(), "\n"))
			t.Logf("%s stderr:\n%s", name, p.stderr.String())
		}
		if wantCleanExit && stopped && p.err != nil {
			t.Errorf("%s did not exit cleanly on SIGTERM: %v\nstderr:\n%s", name, p.err, p.stderr.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits; it reports whether the process was still
// running (so that its exit status says how it handled SIGTERM).
func (p *proc) stop() bool {
	select {
	case <-p.done:
		return false
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return true
}

// botLine is one line of bot.js's log.
type botLine struct {
	Step           string  `json:"step"`
	Where          string  `json:"where"`
	Error          string  `json:"error"`
	AgentID        string  `json:"agentId"`
	SDKVersion     string  `json:"sdkVersion"`
	ConversationID string  `json:"conversationId"`
	DialogID       string  `json:"dialogId"`
	Sequence       *int64  `json:"sequence"`
	Text           string  `json:"text"`
	Status         string  `json:"status"`
	SequenceList   []int64 `json:"sequenceList"`
	OriginatorID   string  `json:"originatorId"`
	Role           string  `json:"role"`
	Code           any     `json:"code"`
}

// waitBot waits for a line of the bot's log that matches; a line saying the
// bot failed ends the wait at once.
func waitBot(ctx context.Context, bot *proc, what string, match func(botLine) bool) (botLine, error) {
	var found botLine
	_, err := bot.out.wait(ctx, what, func(s string) (bool, error) {
		var l botLine
		if json.Unmarshal([]byte(s), &l) != nil {
			return false, nil
		}
		switch l.Step {
		case "error", "closed":
			return false, fmt.Errorf("bot failed: %s", s)
		}
		if match(l) {
			found = l
			return true, nil
		}
		return false, nil
	})
	return found, err
}

// contains reports whether seqs holds n.
func contains(seqs []int64, n int64) bool {
	for _, s := range seqs {
		if s == n {
			return true
		}
	}
	return false
}
