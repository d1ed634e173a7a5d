package relay

import (
	"errors"
	"fmt"

	"github.com/chatwindow/chatwindow/internal/inspector"
)

// Inspect returns a watch on the frames of the session of id, starting the
// session (and its upstream) if it is not running, as a tab would: the QA
// page may open its inspector before its window. A watch is a page of the
// session like a tab: it counts against MaxTabs (ErrTooManyTabs) and keeps
// the session from ending while it is open; Close lets it go.
func (m *Manager) Inspect(id Identity) (*inspector.Watch, error) {
	m.mu.Lock()
	s, err := m.sessionLocked(id)
	m.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	if s.insp == nil {
		return nil, errors.New("inspect: the session records no frames")
	}
	reply := make(chan error, 1)
	select {
	case s.cmds <- watchCmd{reply}:
	case <-s.ended:
		return nil, errors.New("inspect: session ended")
	}
	select {
	case err := <-reply:
		if err != nil {
			return nil, fmt.Errorf("inspect: %w", err)
		}
	case <-s.ended:
		return nil, errors.New("inspect: session ended")
	}
	release := func() {
		select {
		case s.cmds <- unwatchCmd{}:
		case <-s.ended:
		}
	}
	return s.insp.Watch(s.ended, release), nil
}
