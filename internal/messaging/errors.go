package messaging

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

var (
	// ErrTokenRejected is wrapped by errors meaning the service refused the
	// token or bearer: a handshake answered 401, any request answered 401
	// (InitConnection, or a later one once the token expired: the socket
	// then ends, see Conn.Request), or a socket closed with 4401 or 4407.
	// Test with IsTokenRejected, which also recognises the close codes.
	ErrTokenRejected = errors.New("token rejected")
	// ErrTimeout is wrapped by a request that got no response in time.
	ErrTimeout = errors.New("request timed out")
	// ErrClosed is wrapped by a request on a socket that has ended.
	ErrClosed = errors.New("socket closed")
	// ErrSlowHandler is the reason a socket is dropped when more than
	// MaxQueued notifications wait for the handler.
	ErrSlowHandler = errors.New("notification handler too slow")
	// ErrNotConnected is returned by requests made while no socket is open:
	// such a request never left.
	ErrNotConnected = errors.New("not connected")
)

// IsTokenRejected reports whether err means "get a fresh token, then
// reconnect": ErrTokenRejected, or a close with 4401 or 4407, which
// LivePerson's agent SDK documents as an authentication issue.
func IsTokenRejected(err error) bool {
	if errors.Is(err, ErrTokenRejected) {
		return true
	}
	switch websocket.CloseStatus(err) {
	case protocol.CloseTokenInvalid, protocol.CloseTokenExtend:
		return true
	}
	return false
}

// Outcome is what a failure calls for: a request's, a token source's, or
// a lost socket's. Classify decides it, and everything that must choose
// between sending again and dropping asks Classify (the session's
// reconnect loop, the receipt policy, the relay's sends, the console's
// receipts), so that one failure is handled one way everywhere
// (docs/reliability.md).
type Outcome int

// Outcomes, by what the caller does next.
const (
	// OK: there was no error.
	OK Outcome = iota
	// Retry: the failure says nothing against the request. The socket died
	// or was never up (ErrClosed, ErrNotConnected, a network error, any
	// close but 4401 and 4407), no answer came in time (ErrTimeout, 408, a
	// deadline), or the service is overloaded (429) or failing (5xx). Keep
	// it and send it again once the session is open; a request that may
	// have landed (no answer) only after the catch-up shows it did not.
	Retry
	// RefreshToken: the service refused the credentials (401, ErrTokenRejected,
	// close 4401 or 4407), not the request: with a fresh token it goes
	// through. The session is already getting one (a socket that receives
	// a 401 ends itself as refused, and Run asks its TokenSource again):
	// keep the request and send it again once the session is open, like
	// Retry. Only for a TokenSource's own failure does a 401 end Run: the
	// source is what refreshes, and it was refused.
	RefreshToken
	// GiveUp: the request was refused on its merits, by any other 4xx: a
	// closed dialog (409), an unknown one (404), a bad request (400), a
	// forbidden one (403), one too large (413). Sent again it gets the same
	// answer: drop it, and say so.
	GiveUp
	// Cancelled: the caller's context was cancelled (its session or server
	// is ending) before the answer came. That is no verdict on the request,
	// so neither Retry (nobody is left to send it again) nor GiveUp (the
	// service refused nothing: nothing is logged or counted as dropped).
	// Leave what it was about as it stands. A deadline that passed is not a
	// cancellation but a timeout: Retry.
	Cancelled
)

func (o Outcome) String() string {
	switch o {
	case OK:
		return "ok"
	case Retry:
		return "retry"
	case RefreshToken:
		return "refresh token"
	case GiveUp:
		return "give up"
	case Cancelled:
		return "cancelled"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Classify tells what err calls for, looking through wrapping. The first
// that applies wins: a cancelled context (whatever else failed with it);
// a refused token; the code of a socket answer (*protocol.Error) or of an
// HTTP answer (*StatusError: discovery, signup, login, a refused
// handshake); anything else is the network's and worth a retry.
func Classify(err error) Outcome {
	switch {
	case err == nil:
		return OK
	case errors.Is(err, context.Canceled):
		return Cancelled
	case IsTokenRejected(err):
		return RefreshToken
	}
	if code, ok := answerCode(err); ok {
		return byCode(code)
	}
	return Retry
}

// byCode classifies a socket or HTTP answer's status code.
func byCode(code int) Outcome {
	switch {
	case code == http.StatusUnauthorized:
		return RefreshToken
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return Retry
	case code >= 400 && code < 500:
		return GiveUp
	}
	// 5xx, or a code that is no refusal at all: the service's trouble.
	return Retry
}

// LossCause names, in a few words an operator can alert on, why a socket
// was lost (a StateChange's Err): token_rejected, refused (1008, 1009),
// service_close (4xxx), closed_by_service (any other close), timeout,
// slow (ErrSlowHandler), network; closed for nil.
func LossCause(err error) string {
	var ce websocket.CloseError
	switch {
	case err == nil:
		return "closed"
	case IsTokenRejected(err):
		return "token_rejected"
	case errors.As(err, &ce):
		switch {
		case ce.Code == websocket.StatusPolicyViolation || ce.Code == websocket.StatusMessageTooBig:
			return "refused"
		case ce.Code >= 4000:
			return "service_close"
		default:
			return "closed_by_service"
		}
	case errors.Is(err, ErrTimeout):
		return "timeout"
	case errors.Is(err, ErrSlowHandler):
		return "slow"
	}
	return "network"
}

// MayHaveLanded reports a request that went out and got no answer (its
// socket was lost under it, no answer came in time, the token was refused
// as the socket ended): the service may have it, and only a catch-up says.
// A request that never left (NotSent) did not land. A 5xx or 429 answer
// counts too: the caller waiting for a catch-up costs one Sync.
func MayHaveLanded(err error) bool {
	switch Classify(err) {
	case Retry, RefreshToken:
		return !NotSent(err)
	}
	return false
}

// NotSent reports a request that never left (no socket was open): nothing
// of it reached the service, so it can simply be made again.
func NotSent(err error) bool { return errors.Is(err, ErrNotConnected) }
