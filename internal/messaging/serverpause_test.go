package messaging_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
)

// errNetwork stands for a socket lost without an answer from the service.
var errNetwork = errors.New("read tcp: connection reset by peer")

// refusingFront answers the first len(codes) socket handshakes with those
// codes (and retryAfter, when set), then hands every request to the
// service; it records when each handshake came.
type refusingFront struct {
	mu         sync.Mutex
	codes      []int
	retryAfter string
	at         []time.Time
}

func (f *refusingFront) serve(t *testing.T, e *env) messaging.Endpoints {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/messaging/consumer") {
			f.mu.Lock()
			f.at = append(f.at, time.Now())
			n := len(f.at)
			f.mu.Unlock()
			if n <= len(f.codes) {
				if f.retryAfter != "" {
					w.Header().Set("Retry-After", f.retryAfter)
				}
				http.Error(w, "refused by the test", f.codes[n-1])
				return
			}
		}
		e.svc.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ep := e.ep
	ep.AsyncMessagingEnt = strings.TrimPrefix(srv.URL, "http://")
	return ep
}

// gaps are the times between one handshake and the next.
func (f *refusingFront) gaps() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []time.Duration
	for i := 1; i < len(f.at); i++ {
		out = append(out, f.at[i].Sub(f.at[i-1]))
	}
	return out
}

// TestServerErrorPauses: a service answering the handshake with 5xx gets
// the pauses of LivePerson's Retry Policy Recommendations (here scaled
// down: 1, 2, 3 units, then the slow pause), and a 429 at least its
// Retry-After; a lost socket alone would be retried within milliseconds.
// Only lower bounds are checked: a busy machine only lengthens pauses.
func TestServerErrorPauses(t *testing.T) {
	const unit, slow = 40 * time.Millisecond, 150 * time.Millisecond
	tests := []struct {
		name       string
		codes      []int
		retryAfter string
		least      []time.Duration
	}{
		{"5xx", []int{503, 500, 502, 503}, "", []time.Duration{unit, 2 * unit, 3 * unit, slow, 0}},
		{"429 with Retry-After", []int{429}, "1", []time.Duration{time.Second, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			front := &refusingFront{codes: tt.codes, retryAfter: tt.retryAfter}
			ep := front.serve(t, e)
			c, err := messaging.NewConsumer(messaging.ConsumerConfig{
				Endpoints: ep, Token: messaging.SignupToken(e.srv.Client(), e.ep), HTTPClient: e.srv.Client(),
				SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: messaging.Backoff{
					Base: time.Millisecond, Cap: 2 * time.Millisecond, ServerPause: unit, Slow: slow, SlowCap: slow,
				}},
			})
			if err != nil {
				t.Fatal(err)
			}
			col := testenv.Collect(c.Updates())
			testenv.Start(t, c.Run)
			col.WaitFor(t, "consumer open", testenv.IsOpen)
			gaps := front.gaps()
			if len(gaps) != len(tt.least)-1 {
				t.Fatalf("%d handshakes, want %d", len(gaps)+1, len(tt.least))
			}
			for i, g := range gaps {
				if g < tt.least[i] {
					t.Errorf("pause %d after a refused handshake: %s, want at least %s", i+1, g, tt.least[i])
				}
			}
		})
	}
}

// TestBackoffNext: the pause chosen for each kind of failure, with the
// jitter's draws pinned to their lowest and highest.
func TestBackoffNext(t *testing.T) {
	status := func(code int, retryAfter time.Duration) error {
		return &messaging.StatusError{Op: "dial", StatusCode: code, RetryAfter: retryAfter}
	}
	tests := []struct {
		name                  string
		err                   error
		attempt, serverErrors int
		low, high             time.Duration
	}{
		{"network, first retry", errNetwork, 0, 0, 0, 500 * time.Millisecond},
		{"network, late retry", errNetwork, 10, 0, 0, 30 * time.Second},
		{"first 5xx", status(503, 0), 0, 1, 5 * time.Second, 6 * time.Second},
		{"second 5xx", status(500, 0), 1, 2, 10 * time.Second, 12 * time.Second},
		{"third 5xx", status(502, 0), 2, 3, 15 * time.Second, 18 * time.Second},
		{"fourth: the slow pauses", status(503, 0), 3, 4, 2 * time.Minute, 144 * time.Second},
		{"sixth", status(503, 0), 5, 6, 8 * time.Minute, 576 * time.Second},
		{"slow pauses stop doubling", status(503, 0), 40, 41, 16 * time.Minute, 1152 * time.Second},
		{"network after a 5xx keeps the server's pace", errNetwork, 1, 1, 5 * time.Second, 6 * time.Second},
		{"429", status(429, 0), 0, 0, time.Second, 1500 * time.Millisecond},
		{"429 with Retry-After", status(429, 7*time.Second), 0, 0, 7 * time.Second, 7 * time.Second},
		{"503 with a longer Retry-After", status(503, time.Minute), 0, 1, time.Minute, time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lowest := messaging.Backoff{Rand: func(int64) int64 { return 0 }}
			highest := messaging.Backoff{Rand: func(n int64) int64 { return n - 1 }}
			got := []time.Duration{lowest.Next(tt.err, tt.attempt, tt.serverErrors), highest.Next(tt.err, tt.attempt, tt.serverErrors)}
			if diff := cmp.Diff([]time.Duration{tt.low, tt.high}, got); diff != "" {
				t.Errorf("lowest and highest pause (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServerError(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&messaging.StatusError{StatusCode: 503}, true},
		{&messaging.StatusError{StatusCode: 429}, false},
		{&messaging.StatusError{StatusCode: 401}, false},
		{errNetwork, false},
		{nil, false},
	} {
		if got := messaging.ServerError(tt.err); got != tt.want {
			t.Errorf("ServerError(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}
