package messaging_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// TestClassify: every kind of failure a request, a token source or a socket
// meets is classified, wrapped or not, the same way for socket answers and
// HTTP answers.
func TestClassify(t *testing.T) {
	answer := func(code int) error {
		return fmt.Errorf("%s: %w", protocol.TypePublishEvent, &protocol.Error{Code: code, Text: "no"})
	}
	httpAnswer := func(op string, code int) error {
		return &messaging.StatusError{Op: op, URL: "http://127.0.0.1/x", StatusCode: code}
	}
	closed := func(code websocket.StatusCode) error {
		return fmt.Errorf("%s: %w: %w", protocol.TypePublishEvent, messaging.ErrClosed, websocket.CloseError{Code: code, Reason: "bye"})
	}
	tests := []struct {
		name string
		err  error
		want messaging.Outcome
	}{
		{"no error", nil, messaging.OK},

		// Answers on the socket.
		{"401: the token, not the request", answer(401), messaging.RefreshToken},
		{"408: no answer in time", answer(408), messaging.Retry},
		{"429: slow down", answer(429), messaging.Retry},
		{"500", answer(500), messaging.Retry},
		{"503", answer(503), messaging.Retry},
		{"400: bad request", answer(400), messaging.GiveUp},
		{"403: not a participant", answer(403), messaging.GiveUp},
		{"404: unknown dialog", answer(404), messaging.GiveUp},
		{"409: closed dialog", answer(409), messaging.GiveUp},
		{"413: too large", answer(413), messaging.GiveUp},
		{"an answer not in the error ranges", answer(302), messaging.Retry},
		{"401 as the Conn ends the socket with it", fmt.Errorf("x: %w: %w", messaging.ErrTokenRejected, answer(401)), messaging.RefreshToken},

		// HTTP answers: discovery, signup, login, a refused handshake.
		{"login 401: wrong password", httpAnswer("login", 401), messaging.RefreshToken},
		{"handshake 401", fmt.Errorf("%w: %w", messaging.ErrTokenRejected, httpAnswer("dial", 401)), messaging.RefreshToken},
		{"signup 408", httpAnswer("signup", 408), messaging.Retry},
		{"login 429: locked out for now", httpAnswer("login", 429), messaging.Retry},
		{"discover 502", httpAnswer("discover", 502), messaging.Retry},
		{"discover 404: unknown account", httpAnswer("discover", 404), messaging.GiveUp},
		{"handshake 403", httpAnswer("dial", 403), messaging.GiveUp},
		{"wrapped HTTP answer", fmt.Errorf("get token: %w", httpAnswer("signup", 400)), messaging.GiveUp},

		// The socket and the network.
		{"no socket", fmt.Errorf("%s: %w", protocol.TypePublishEvent, messaging.ErrNotConnected), messaging.Retry},
		{"no answer", fmt.Errorf("x (id 1) after 10s: %w", messaging.ErrTimeout), messaging.Retry},
		{"socket ended under the request", fmt.Errorf("x: %w: %w", messaging.ErrClosed, io.EOF), messaging.Retry},
		{"socket dropped: slow reader", fmt.Errorf("x: %w: %w", messaging.ErrClosed, messaging.ErrSlowHandler), messaging.Retry},
		{"network", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}, messaging.Retry},
		{"anything else", errors.New("something"), messaging.Retry},

		// Close codes.
		{"close 4401", closed(protocol.CloseTokenInvalid), messaging.RefreshToken},
		{"close 4407", closed(protocol.CloseTokenExtend), messaging.RefreshToken},
		{"socket ended as refused", fmt.Errorf("x: %w: %w", messaging.ErrClosed, fmt.Errorf("publish: %w: %w", messaging.ErrTokenRejected, answer(401))), messaging.RefreshToken},
		{"close 1001: going away", closed(websocket.StatusGoingAway), messaging.Retry},
		{"close 1008: idle", closed(websocket.StatusPolicyViolation), messaging.Retry},
		{"close 1009: too big", closed(websocket.StatusMessageTooBig), messaging.Retry},
		{"close 4000", closed(4000), messaging.Retry},

		// Contexts.
		{"cancelled", fmt.Errorf("x: %w", context.Canceled), messaging.Cancelled},
		{"socket ended because its session did", fmt.Errorf("x: %w: %w", messaging.ErrClosed, context.Canceled), messaging.Cancelled},
		{"cancelled wins over the answer it cut short", fmt.Errorf("%w: %w", context.Canceled, answer(409)), messaging.Cancelled},
		{"a deadline is a timeout", fmt.Errorf("refresh: %w", context.DeadlineExceeded), messaging.Retry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := messaging.Classify(tt.err)
			if diff := cmp.Diff(tt.want.String(), got.String()); diff != "" {
				t.Errorf("Classify(%v) (-want +got):\n%s", tt.err, diff)
			}
		})
	}
}

// TestNotSent: a request made with no socket open never left, however it
// is wrapped; any other error is not that.
func TestNotSent(t *testing.T) {
	if !messaging.NotSent(fmt.Errorf("publish: %w", messaging.ErrNotConnected)) {
		t.Error("NotSent does not see a wrapped ErrNotConnected")
	}
	if messaging.NotSent(messaging.ErrTimeout) || messaging.NotSent(nil) {
		t.Error("NotSent sees a request that left")
	}
}
