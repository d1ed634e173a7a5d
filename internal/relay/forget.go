package relay

import (
	"context"
	"fmt"
	"time"

	"github.com/chatwindow/chatwindow/internal/outbox"
)

// The customer's "end the conversation and forget me": the session closes
// its open conversation, tells its tabs and ends without them coming back.

// Forget ends the session of id for good, as the customer asked ("end the
// conversation and forget me"): its open conversation is closed, its tabs
// are told and let go without reconnecting, and it leaves the manager at
// once (the web layer drops the cookie). A session not running on this node
// is started for it, so that a conversation its customer opened elsewhere
// is closed too. Forget returns once the session has ended (within
// forgetWait), or with ctx's error.
func (m *Manager) Forget(ctx context.Context, id Identity) error {
	s, err := m.session(id)
	if err != nil {
		return fmt.Errorf("forget: %w", err)
	}
	m.sessions.Remove(id.SessionID, s)
	if !s.loop.Do(forgetCmd{}) {
		return nil
	}
	select {
	case <-s.loop.Ended():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("forget: %w", ctx.Err())
	}
}

// forgetWait bounds how long a forgotten session waits for its open
// conversation to be closed (the connection may be down) before it ends
// anyway.
const forgetWait = 5 * time.Second

// forget starts ending the session for good: the open conversation is
// closed (closeForgotten), or, when the session does not know of one yet,
// a Sync shows whether the service has one; then endForgotten. forgetWait
// bounds it all.
func (s *Session) forget() {
	if s.forgetting {
		return
	}
	s.forgetting = true
	s.waiting, s.creating = nil, false
	// The timer's goroutine hands the end to the loop, or gives up when
	// the session ended first.
	time.AfterFunc(forgetWait, func() {
		s.loop.Post(func() {
			if s.forgetClosing {
				s.log.Warn("forget: the conversation was not closed in time", "conversation_id", s.conv.ID)
			}
			s.endForgotten()
		})
	})
	switch {
	case s.conv.ID != "" && s.conv.Writable():
		s.closeForgotten()
	case s.conv.ID != "":
		s.endForgotten() // already closed
	default:
		s.loop.Request(s.up.Sync, func(err error) {
			if err != nil {
				s.log.Debug("forget: sync", "error", err)
			}
		})
	}
}

// closeForgotten closes the open conversation of a session being
// forgotten, once; the session ends when the service has answered.
func (s *Session) closeForgotten() {
	if s.forgetClosing {
		return
	}
	s.forgetClosing = s.closeConversation(true, func(error) { s.endForgotten() })
}

// endForgotten ends a forgotten session: its tabs are told, and let go
// without reconnecting (their cookie is gone).
func (s *Session) endForgotten() {
	if s.forgotten {
		return
	}
	s.forgotten = true
	s.notice = "This conversation has ended and this device no longer remembers you. Reload the page to start again."
	s.broadcastWindow()
	s.log.Info("session forgotten", "tabs", s.loop.TabCount())
	s.loop.End(outbox.SignedOut)
}
