package messaging

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Backoff paces reconnects. A lost socket (the network, a close, a
// timeout) is retried soon, with exponential back-off and full jitter: the
// n-th retry (from 0) waits a uniformly random time in [0, min(Cap,
// Base·2ⁿ)], which brings a customer's window back within a second after a
// blip and spreads many clients reconnecting after one outage. A service
// that answers with an error of its own is given what LivePerson's Retry
// Policy Recommendations ask for (docs/protocol.md, Reconnect): after a
// 5xx, pauses of 5, 10 and 15 s, then longer ones that double from 2 min;
// after a 429, at least 1 s; never less than the answer's Retry-After.
// Those pauses are minimums: their jitter only lengthens them, by up to a
// fifth.
type Backoff struct {
	Base time.Duration // 0 means 500 ms
	Cap  time.Duration // 0 means 30 s
	// ServerPause is the unit of the pauses after server errors (5, 10,
	// 15 s: 1, 2 and 3 of it); 0 means 5 s.
	ServerPause time.Duration
	// Slow is the first of the pauses once three server errors came in a
	// row; each further one doubles, up to SlowCap. 0 means 2 min and
	// 16 min.
	Slow, SlowCap time.Duration
	// Rand returns a uniform value in [0, n); nil means math/rand/v2's
	// Int64N. Tests inject their own.
	Rand func(n int64) int64
}

// serverRetries is how many retries after a server error get the short
// pauses (ServerPause·1, ·2, ·3) before the slow ones.
const serverRetries = 3

// Ceiling is the upper bound of the attempt-th delay: min(Cap, Base·2^attempt).
func (b Backoff) Ceiling(attempt int) time.Duration {
	base, cap := b.Base, b.Cap
	if base <= 0 {
		base = 500 * time.Millisecond
	}
	if cap <= 0 {
		cap = 30 * time.Second
	}
	if cap < base {
		cap = base
	}
	return doubled(base, attempt, cap)
}

// Delay is the attempt-th delay (attempt counts from 0) after a lost
// socket.
func (b Backoff) Delay(attempt int) time.Duration {
	return time.Duration(b.rand(int64(b.Ceiling(attempt)) + 1))
}

// ServerDelay is the pause before the next attempt once the service has
// answered n server errors (n ≥ 1) since the last socket that opened.
func (b Backoff) ServerDelay(n int) time.Duration {
	unit, slow, slowCap := b.ServerPause, b.Slow, b.SlowCap
	if unit <= 0 {
		unit = 5 * time.Second
	}
	if slow <= 0 {
		slow = 2 * time.Minute
	}
	if slowCap <= 0 {
		slowCap = 16 * time.Minute
	}
	slowCap = max(slowCap, slow)
	var d time.Duration
	if n <= serverRetries {
		d = unit * time.Duration(max(n, 1))
	} else {
		d = doubled(slow, n-serverRetries-1, slowCap)
	}
	return b.lengthened(d)
}

// Next is the pause before the next attempt after err, the attempt-th
// failure since a socket was last up for a while, with serverErrors of
// them server errors (5xx) since a socket last opened.
func (b Backoff) Next(err error, attempt, serverErrors int) time.Duration {
	var d time.Duration
	switch code, _ := answerCode(err); {
	case serverErrors > 0:
		d = b.ServerDelay(serverErrors)
	case code == http.StatusTooManyRequests:
		d = time.Second + b.Delay(attempt)
	default:
		d = b.Delay(attempt)
	}
	var se *StatusError
	if errors.As(err, &se) && se.RetryAfter > d {
		d = se.RetryAfter
	}
	return d
}

// lengthened adds up to a fifth of d, at random.
func (b Backoff) lengthened(d time.Duration) time.Duration {
	return d + time.Duration(b.rand(int64(d/5)+1))
}

func (b Backoff) rand(n int64) int64 {
	if b.Rand != nil {
		return b.Rand(n)
	}
	return rand.Int64N(n)
}

// doubled is d doubled n times, at most cap, without overflowing.
func doubled(d time.Duration, n int, cap time.Duration) time.Duration {
	for i := 0; i < n && d < cap; i++ {
		d *= 2
	}
	return min(d, cap)
}

// answerCode is the status code of the service's answer that err carries
// (a socket answer or an HTTP one), if any.
func answerCode(err error) (int, bool) {
	var (
		pe *protocol.Error
		se *StatusError
	)
	switch {
	case errors.As(err, &pe):
		return pe.Code, true
	case errors.As(err, &se):
		return se.StatusCode, true
	}
	return 0, false
}

// ServerError reports whether err is the service's own failure: an answer
// with a 5xx code (a request's, a handshake's, the token source's).
func ServerError(err error) bool {
	code, ok := answerCode(err)
	return ok && code >= 500 && code <= 599
}
