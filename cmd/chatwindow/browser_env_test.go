package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"
)

// The browser tests drive Debian's Chromium, headless, against the real
// program: run() starts the embedded messaging service and the chat window
// on loopback once for the package, one Chromium serves every test, and
// each test gets a fresh browser context (a fresh cookie jar, so a fresh
// customer session) and tab. The brand's side is played by one agent,
// logged in once here (the embedded service has one agent), so the tests
// that need it run one after the other, each closing its conversation.

const (
	chromiumPath = "/usr/bin/chromium"
	// actionTimeout bounds every browser action and every wait, so that a
	// missing hook fails a test instead of hanging it.
	actionTimeout = 10 * time.Second
	// tabLifetime bounds a whole test's tab.
	tabLifetime = 60 * time.Second
	// quiet is how long a test watches for something that must not happen
	// (a READ of an unseen message, a repeated receipt).
	quiet = 2 * time.Second

	// readInWindow and readInConsole are the computed colours of READ
	// marks: orange, a light one on the window's blue bubble and a dark
	// one on the console's pale bubble, each at least 3:1 against its
	// bubble (WCAG 1.4.11; static/chat.css, static/console.css).
	readInWindow  = "rgb(255, 167, 38)"
	readInConsole = "rgb(194, 94, 0)"
)

// testEnv is what TestMain started for the package's tests.
type testEnv struct {
	skip    string // why the browser tests are skipped, when they are
	chatURL string
	simURL  string
	// consoleURL is the agent console's (on the embedded service's listener).
	consoleURL string
	// demoURL is the demo site's, a brand's page on another site with the
	// window's launcher (printed before the window's).
	demoURL string
	account string
	// agentPassword is the embedded service's password for agent "agent".
	agentPassword string
	browser       context.Context // a running Chromium; tabs are its children
	agent         *agentSide
	logs          *lockedBuffer // the program's log, shown when a test fails
}

var env testEnv

func TestMain(m *testing.M) {
	code := testMain(m)
	os.Exit(code)
}

func testMain(m *testing.M) int {
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("E2E_REQUIRED") == "1" {
			fmt.Fprintf(os.Stderr, "browser tests: %s is missing and E2E_REQUIRED=1: %v\n", chromiumPath, err)
			return 1
		}
		env.skip = fmt.Sprintf("%s is missing (apt-get install -y --no-install-recommends chromium); set E2E_REQUIRED=1 to fail instead", chromiumPath)
		code := m.Run()
		if err := goleak.Find(); err != nil && code == 0 {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return code
	}

	env.logs = &lockedBuffer{}
	runCtx, stopRun := context.WithCancel(context.Background())
	// No demo bot: the tests play the agent themselves (TestBrowserDemoBot
	// runs its own program with one). No survey: a closed conversation
	// offers the legacy rating (TestBrowserSurvey runs its own program
	// with one).
	runDone, err := startProgram(runCtx, &env, "-bot-delay", "0", "-survey=false")
	if err != nil {
		stopRun()
		if runDone != nil {
			<-runDone
		}
		fmt.Fprintf(os.Stderr, "browser tests: %v\n%s", err, env.logs.tail(60))
		return 1
	}

	agentCtx, stopAgent := context.WithCancel(context.Background())
	agentDone := make(chan struct{})
	env.agent, err = startAgent(agentCtx, agentDone, env.simURL, env.account, env.agentPassword)
	if err != nil {
		stopAgent()
		<-agentDone
		stopRun()
		<-runDone
		fmt.Fprintf(os.Stderr, "browser tests: agent: %v\n%s", err, env.logs.tail(60))
		return 1
	}

	allocCtx, stopAlloc := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1000, 760),
	)...)
	browserCtx, stopBrowser := chromedp.NewContext(allocCtx)
	// The first action starts Chromium and binds it to browserCtx; a
	// watchdog bounds it.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(browserCtx) }()
	select {
	case err = <-started:
	case <-time.After(30 * time.Second):
		err = errors.New("chromium did not start within 30s")
	}
	if err == nil {
		env.browser = browserCtx
	}

	code := 1
	if err != nil {
		fmt.Fprintf(os.Stderr, "browser tests: start %s: %v\n", chromiumPath, err)
	} else {
		code = m.Run()
	}

	stopBrowser()
	stopAlloc()
	stopAgent()
	<-agentDone
	stopRun()
	if err := <-runDone; err != nil {
		fmt.Fprintf(os.Stderr, "browser tests: run ended with %v\n", err)
		code = 1
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "browser tests: %v\n", err)
			code = 1
		}
	}
	return code
}

var (
	serviceLine = regexp.MustCompile(`^messaging service on (http://\S+) \(account (\d+); agent "agent", password (\S+)\)$`)
	windowLine  = regexp.MustCompile(`^chat window on (http://\S+)$`)
	consoleLine = regexp.MustCompile(`^agent console on (http://\S+)$`)
	demoLine    = regexp.MustCompile(`^demo site on (http://\S+) `)
)

// startProgram starts run() as the command line would, with an empty
// environment, and reads the two URLs and the agent's password from what
// it prints. done yields run's error once it has returned (after ctx).
func startProgram(ctx context.Context, e *testEnv, extra ...string) (done <-chan error, err error) {
	pr, pw := io.Pipe()
	runDone := make(chan error, 1)
	// run serves until ctx ends; then its stdout is closed so that the
	// line reader below ends too.
	go func() {
		args := append([]string{"-addr", "127.0.0.1:0", "-sim-addr", "127.0.0.1:0", "-grace", "2s"}, extra...)
		err := run(ctx, args, func(string) string { return "" }, pw, e.logs)
		pw.Close()
		runDone <- err
	}()
	lines := make(chan string, 16)
	// The reader ends when run's stdout is closed.
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody listens any more: drain
			}
		}
		io.Copy(io.Discard, pr)
	}()
	timeout := time.After(30 * time.Second)
	for e.chatURL == "" || e.simURL == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				return runDone, errors.New("run ended before printing its URLs")
			}
			if m := serviceLine.FindStringSubmatch(l); m != nil {
				e.simURL, e.account, e.agentPassword = m[1], m[2], m[3]
			} else if m := windowLine.FindStringSubmatch(l); m != nil {
				e.chatURL = m[1]
			} else if m := consoleLine.FindStringSubmatch(l); m != nil {
				e.consoleURL = m[1]
			} else if m := demoLine.FindStringSubmatch(l); m != nil {
				e.demoURL = m[1]
			}
		case <-timeout:
			return runDone, errors.New("run printed no URLs within 30s")
		}
	}
	if e.consoleURL == "" {
		return runDone, errors.New("run printed no agent console URL before the window's")
	}
	// The window answers once it printed its URL; check that it does.
	hc := &http.Client{Timeout: actionTimeout}
	resp, err := hc.Get(e.chatURL + "/healthz")
	if err != nil {
		return runDone, fmt.Errorf("health check: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return runDone, fmt.Errorf("health check: HTTP %d", resp.StatusCode)
	}
	return runDone, nil
}

// lockedBuffer collects the program's log from its goroutines.
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

// tail returns the last n lines.
func (b *lockedBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.SplitAfter(b.buf.String(), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

// needBrowser skips the test when there is no Chromium (and E2E_REQUIRED
// is not set: then TestMain has failed already).
func needBrowser(t *testing.T) {
	t.Helper()
	if env.skip != "" {
		t.Skip(env.skip)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the program's log (last lines):\n%s", env.logs.tail(15))
		}
	})
}

// ownProgram starts a program of the test's own, with flags (the
// package's shared one is for tests that need no special service), and
// stops it when the test ends, showing its log when the test failed.
func ownProgram(t *testing.T, flags ...string) *testEnv {
	t.Helper()
	own := &testEnv{logs: &lockedBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done, err := startProgram(ctx, own, flags...)
	if err != nil {
		cancel()
		if done != nil {
			<-done
		}
		t.Fatalf("start the program: %v\n%s", err, own.logs.tail(40))
	}
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("program log:\n%s", own.logs.tail(60))
		}
	})
	return own
}

// ownAgent signs agent "agent" in on e's service until the test ends.
func ownAgent(t *testing.T, e *testEnv) *agentSide {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	agent, err := startAgent(ctx, done, e.simURL, e.account, e.agentPassword)
	t.Cleanup(func() {
		stop()
		<-done
	})
	if err != nil {
		t.Fatalf("agent: %v", err)
	}
	return agent
}
