package relay

import (
	"errors"
	"fmt"

	"github.com/chatwindow/chatwindow/internal/inspector"
	"github.com/chatwindow/chatwindow/internal/live"
)

// Inspect returns a watch on the frames of the session of id, starting the
// session (and its upstream) if it is not running, as a tab would: the QA
// page may open its inspector before its window. A watch is a page of the
// session like a tab: it counts against MaxTabs (ErrTooManyTabs) and keeps
// the session from ending while it is open; Close lets it go.
func (m *Manager) Inspect(id Identity) (*inspector.Watch, error) {
	s, err := m.session(id)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	if s.insp == nil {
		return nil, errors.New("inspect: the session records no frames")
	}
	err, ok := live.Ask(s.loop, func(reply chan<- error) any { return watchCmd{reply} })
	switch {
	case !ok:
		return nil, fmt.Errorf("inspect: %w", live.ErrEnded)
	case err != nil:
		return nil, fmt.Errorf("inspect: %w", err)
	}
	release := func() { s.loop.Do(unwatchCmd{}) }
	return s.insp.Watch(s.loop.Ended(), release), nil
}
