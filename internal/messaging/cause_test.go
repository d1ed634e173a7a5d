package messaging_test

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/coder/websocket"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
)

// TestLossCause: every way a socket is lost has its name, wrapped or not.
func TestLossCause(t *testing.T) {
	closed := func(code websocket.StatusCode) error {
		return fmt.Errorf("read: %w", websocket.CloseError{Code: code, Reason: "bye"})
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, "closed"},
		{fmt.Errorf("dial: %w", messaging.ErrTokenRejected), "token_rejected"},
		{closed(protocol.CloseTokenInvalid), "token_rejected"},
		{closed(websocket.StatusPolicyViolation), "refused"},
		{closed(websocket.StatusMessageTooBig), "refused"},
		{closed(4000), "service_close"},
		{closed(websocket.StatusGoingAway), "closed_by_service"},
		{fmt.Errorf("ping: %w", messaging.ErrTimeout), "timeout"},
		{messaging.ErrSlowHandler, "slow"},
		{io.EOF, "network"},
		{errors.New("connection reset by peer"), "network"},
	} {
		if got := messaging.LossCause(tc.err); got != tc.want {
			t.Errorf("LossCause(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
