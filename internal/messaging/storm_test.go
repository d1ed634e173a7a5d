package messaging_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
)

// Storm sizes. 1,000 consumers (docs/reliability.md's figure) hold some 12,000
// goroutines with the proxy and the service: over the race detector's limit
// of 8,128, and heavy on 2 cores. So `go test -race` runs 200, and
// STORM_CONSUMERS=1000 (without -race) runs the full storm:
//
//	STORM_CONSUMERS=1000 go test -count=1 -run Storm -v ./internal/messaging/
const (
	defaultStorm = 200
	maxRaceStorm = 400
	// bucket is the histogram's window.
	bucket = 100 * time.Millisecond
	// stormLimit only keeps a broken reconnect from hanging the test: with
	// the production back-off (cap 30 s) everyone is back within a few
	// seconds of the outage's end.
	stormLimit = 90 * time.Second
)

func stormSize(t *testing.T) int {
	t.Helper()
	n := defaultStorm
	if s := os.Getenv("STORM_CONSUMERS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			t.Fatalf("STORM_CONSUMERS=%q: want a positive number", s)
		}
		n = v
	}
	if raceEnabled && n > maxRaceStorm {
		t.Skipf("%d consumers exceed the race detector's goroutine limit: run without -race", n)
	}
	return n
}

// draw is one back-off delay a consumer drew: when, its ceiling, the delay.
type draw struct {
	at      time.Time
	ceiling time.Duration
	delay   time.Duration
}

// recorder sees every dial attempt and back-off draw of every consumer.
type recorder struct {
	refusing atomic.Bool // the upstream is down: dials are refused

	mu       sync.Mutex
	attempts [][]time.Time
	draws    [][]draw
}

func newRecorder(n int) *recorder {
	return &recorder{attempts: make([][]time.Time, n), draws: make([][]draw, n)}
}

// client is consumer i's HTTP client: its dials are recorded, and refused
// (ECONNREFUSED, as from a host whose port is closed) while refusing.
func (r *recorder) client(i int) *http.Client {
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			r.mu.Lock()
			r.attempts[i] = append(r.attempts[i], time.Now())
			r.mu.Unlock()
			if r.refusing.Load() {
				return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
			}
			return d.DialContext(ctx, network, addr)
		},
	}}
}

// backoff is the production back-off (base 500 ms, cap 30 s) with its
// draws recorded for consumer i.
func (r *recorder) backoff(i int) messaging.Backoff {
	return messaging.Backoff{Rand: func(n int64) int64 {
		v := rand.Int64N(n)
		r.mu.Lock()
		r.draws[i] = append(r.draws[i], draw{at: time.Now(), ceiling: time.Duration(n - 1), delay: time.Duration(v)})
		r.mu.Unlock()
		return v
	}}
}

// since returns consumer i's attempts and draws from t0 on.
func (r *recorder) since(i int, t0 time.Time) ([]time.Time, []draw, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var as []time.Time
	for _, a := range r.attempts[i] {
		if !a.Before(t0) {
			as = append(as, a)
		}
	}
	var ds []draw
	before := 0
	for _, d := range r.draws[i] {
		if d.at.Before(t0) {
			before++
		} else {
			ds = append(ds, d)
		}
	}
	return as, ds, before
}

// checkBackoff asserts that consumer i waited out every draw: each attempt
// after t0 follows its own draw, no sooner than the delay drawn, and the
// ceilings are the back-off's (doubling from base, capped). This is "no
// consumer attempts more than the back-off allows", attempt by attempt.
func (r *recorder) checkBackoff(t *testing.T, i int, t0 time.Time) []time.Time {
	t.Helper()
	as, ds, before := r.since(i, t0)
	if len(ds) != len(as) {
		t.Errorf("consumer %d: %d attempts after the cut but %d back-off waits", i, len(as), len(ds))
		return as
	}
	var b messaging.Backoff
	for k := range as {
		if as[k].Sub(ds[k].at) < ds[k].delay {
			t.Errorf("consumer %d: attempt %d came %s after its draw of %s", i, k, as[k].Sub(ds[k].at), ds[k].delay)
		}
		if k > 0 && ds[k].at.Before(as[k-1]) {
			t.Errorf("consumer %d: draw %d before attempt %d", i, k, k-1)
		}
		// The counter restarts from 0 only after a socket stayed up 10 s.
		want, alt := b.Ceiling(k), b.Ceiling(before+k)
		if ds[k].ceiling != want && ds[k].ceiling != alt {
			t.Errorf("consumer %d: draw %d has ceiling %s, want %s", i, k, ds[k].ceiling, want)
		}
		if ds[k].delay > ds[k].ceiling {
			t.Errorf("consumer %d: delay %s over its ceiling %s", i, ds[k].delay, ds[k].ceiling)
		}
	}
	return as
}

// histogram counts attempts per bucket from t0 and renders it.
func histogram(attempts []time.Time, t0 time.Time) ([]int, string) {
	var h []int
	for _, a := range attempts {
		k := int(a.Sub(t0) / bucket)
		for len(h) <= k {
			h = append(h, 0)
		}
		h[k]++
	}
	top := slices.Max(append([]int{1}, h...))
	var b strings.Builder
	for k, n := range h {
		bar := strings.Repeat("#", (n*50+top-1)/top)
		fmt.Fprintf(&b, "%5.1f–%4.1f s %5d %s\n", float64(k)*bucket.Seconds(), float64(k+1)*bucket.Seconds(), n, bar)
	}
	return h, b.String()
}

// stormConsumer is one consumer of a storm, run until the test's stop.
type stormConsumer struct {
	c      *messaging.Consumer
	tokens atomic.Int64
	done   chan struct{}
	err    error
}

// startStorm signs up n consumers (with bounded parallelism) and connects
// them all through the proxy at ep, each with its own recorded client and
// back-off. mkToken gives consumer i's TokenSource from its signed-up token.
// The consumers run until the test ends.
func startStorm(t *testing.T, e *env, ep messaging.Endpoints, rec *recorder, n int, initConn bool,
	mkToken func(i int, token string) messaging.TokenSource) []*stormConsumer {
	t.Helper()
	tokens := make([]string, n)
	var (
		wg   sync.WaitGroup
		next atomic.Int64
		fail atomic.Value
	)
	for range 4 {
		wg.Add(1)
		// Ends when every token is signed up.
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				tok, err := messaging.Signup(t.Context(), e.srv.Client(), e.ep)
				if err != nil {
					fail.Store(err)
					return
				}
				tokens[i] = tok
			}
		}()
	}
	wg.Wait()
	if err, ok := fail.Load().(error); ok {
		t.Fatalf("signup: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cs := make([]*stormConsumer, n)
	for i := range n {
		sc := &stormConsumer{done: make(chan struct{})}
		src := mkToken(i, tokens[i])
		c, err := messaging.NewConsumer(messaging.ConsumerConfig{
			Endpoints: ep, InitConnection: initConn, HTTPClient: rec.client(i),
			Token: func(ctx context.Context) (string, error) {
				sc.tokens.Add(1)
				return src(ctx)
			},
			SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: rec.backoff(i)},
		})
		if err != nil {
			t.Fatal(err)
		}
		// A subscription to restore on every connection, as the relay has.
		if err := c.SubscribeConversations(ctx, protocol.SubscribeExConversations{}); err != nil {
			t.Fatal(err)
		}
		sc.c = c
		cs[i] = sc
		// Drains the updates (the storm reads State instead); ends when Run
		// closes them.
		go func() {
			for range c.Updates() {
			}
		}()
		// Ends when stop cancels ctx or Run gives up.
		go func() {
			defer close(sc.done)
			sc.err = c.Run(ctx)
		}()
	}
	stop := func() {
		cancel()
		for _, sc := range cs {
			<-sc.done
		}
	}
	t.Cleanup(stop)
	return cs
}

// waitAll polls cond over every consumer until it holds, up to stormLimit.
func waitAll(t *testing.T, what string, cs []*stormConsumer, cond func(*stormConsumer) bool) {
	t.Helper()
	start := time.Now()
	for {
		left := 0
		for _, sc := range cs {
			if !cond(sc) {
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Since(start) > stormLimit {
			t.Fatalf("%s: %d of %d consumers still not there after %s", what, left, len(cs), stormLimit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isOpen(sc *stormConsumer) bool { return sc.c.State() == messaging.StateOpen }

// TestReconnectStorm: every consumer of a node loses its upstream at once
// (the proxy cuts every socket) and the upstream refuses connections for a
// second. Each consumer waits out its own full-jitter back-off before each
// attempt, so the attempts are spread over time rather than hitting the
// service together, and everyone is back once it is up.
func TestReconnectStorm(t *testing.T) {
	n := stormSize(t)
	const outage = time.Second
	e := newEnv(t)
	ep, proxy := viaProxy(t, e)
	rec := newRecorder(n)
	cs := startStorm(t, e, ep, rec, n, false, func(_ int, tok string) messaging.TokenSource { return messaging.StaticToken(tok) })
	waitAll(t, "connected", cs, isOpen)
	if got := proxy.Live(); got != n {
		t.Fatalf("%d sockets through the proxy, want %d", got, n)
	}

	t0 := time.Now()
	rec.refusing.Store(true)
	if cut := proxy.CutAll(); cut != n {
		t.Errorf("cut %d sockets, want %d", cut, n)
	}
	time.Sleep(outage)
	rec.refusing.Store(false)
	waitAll(t, "reconnected", cs, isOpen)
	t.Logf("%d consumers back %s after the cut", n, time.Since(t0).Round(time.Millisecond))

	var all []time.Time
	perConsumer := map[int]int{}
	for i := range cs {
		as := rec.checkBackoff(t, i, t0)
		all = append(all, as...)
		perConsumer[len(as)]++
	}
	h, text := histogram(all, t0)
	t.Logf("%d consumers cut at once, upstream refusing for %s; %d attempts; attempts per consumer %v; per %s:\n%s",
		n, outage, len(all), perConsumer, bucket, text)
	if top := slices.Max(h); top > len(all)/2 {
		t.Errorf("%d of %d attempts in one %s window: not spread", top, len(all), bucket)
	}
	if len(all) < n {
		t.Errorf("%d attempts for %d consumers", len(all), n)
	}
	// Nobody reconnected before the cut was noticed and its draw waited.
	for i, sc := range cs {
		if sc.tokens.Load() != 1 {
			t.Errorf("consumer %d asked for %d tokens: a cut is not a refused token", i, sc.tokens.Load())
		}
	}
}

// TestTokenRefusedStorm: every consumer's token expired (the service's
// clock moved past its lifetime) when the upstream is lost at once; the
// service refuses them on InitConnection (401, close 4401). Half of the
// consumers get a fresh token from their source (a new signup) and
// reconnect; the other half's source only has the expired token, and each
// of those gives up after MaxTokenRefresh refused tokens: a bounded number
// of attempts, each after its back-off, never a storm.
func TestTokenRefusedStorm(t *testing.T) {
	n := stormSize(t)
	e := newEnv(t, func(c *simulator.Config) {
		c.TokenTTL = time.Hour
		// The cut, not the service's own close at expiry, ends the
		// sockets: every consumer then meets its refusal on reconnecting.
		c.ExpiryCheck = time.Hour
	})
	ep, proxy := viaProxy(t, e)
	rec := newRecorder(n)
	good := func(i int) bool { return i%2 == 0 }
	cs := startStorm(t, e, ep, rec, n, true, func(i int, tok string) messaging.TokenSource {
		if good(i) {
			first := true
			var mu sync.Mutex
			return func(ctx context.Context) (string, error) {
				mu.Lock()
				f := first
				first = false
				mu.Unlock()
				if f {
					return tok, nil
				}
				return messaging.Signup(ctx, e.srv.Client(), e.ep)
			}
		}
		return messaging.StaticToken(tok)
	})
	waitAll(t, "connected", cs, isOpen)

	e.clock.Advance(2 * time.Hour) // past every token's lifetime
	t0 := time.Now()
	proxy.CutAll()
	waitAll(t, "reconnected or given up", cs, func(sc *stormConsumer) bool {
		select {
		case <-sc.done:
			return true
		default:
			return isOpen(sc) && sc.tokens.Load() > 1
		}
	})

	const maxRefresh = messaging.DefaultMaxTokenRefresh
	var all []time.Time
	for i, sc := range cs {
		as := rec.checkBackoff(t, i, t0)
		all = append(all, as...)
		calls := sc.tokens.Load() - 1 // the first was before the cut
		if good(i) {
			// The old token refused once, then the fresh one works.
			if len(as) != 2 || calls != 1 || !isOpen(sc) {
				t.Errorf("consumer %d (fresh tokens): %d attempts, %d token calls, %s; want 2, 1, open", i, len(as), calls, sc.c.State())
			}
			continue
		}
		select {
		case <-sc.done:
		default:
			t.Errorf("consumer %d (expired token only) is still running", i)
			continue
		}
		if !messaging.IsTokenRejected(sc.err) {
			t.Errorf("consumer %d: Run = %v, want a token rejection", i, sc.err)
		}
		// The old token, then MaxTokenRefresh fresh ones, all refused.
		if len(as) != maxRefresh+1 || calls != maxRefresh {
			t.Errorf("consumer %d (expired token only): %d attempts, %d token calls; want %d, %d", i, len(as), calls, maxRefresh+1, maxRefresh)
		}
	}
	h, text := histogram(all, t0)
	t.Logf("%d consumers cut at once with expired tokens (half get fresh ones, half give up after %d refusals); %d attempts; per %s:\n%s",
		n, maxRefresh, len(all), bucket, text)
	if top := slices.Max(h); top > len(all)/2 {
		t.Errorf("%d of %d attempts in one %s window: not spread", top, len(all), bucket)
	}
	if want := (n+1)/2*2 + n/2*(maxRefresh+1); len(all) != want {
		t.Errorf("%d attempts in all, want %d", len(all), want)
	}
}
