package relay

import (
	"context"
	"errors"
	"fmt"
)

// Ready reports whether the manager takes new sessions: not once Shutdown
// began or its context ended.
func (m *Manager) Ready() error {
	m.mu.Lock()
	draining := m.draining
	m.mu.Unlock()
	if draining {
		return errors.New("not taking sessions: shutting down")
	}
	if err := m.ctx.Err(); err != nil {
		return fmt.Errorf("not taking sessions: %w", err)
	}
	return nil
}

// Shutdown stops taking tabs, has every session publish what it has due
// (receipts, and requests queued before them) and end, letting its tabs go.
// It returns when all sessions ended, or with ctx's error when ctx ended
// first (sessions whose upstream is down cannot flush; the caller then
// cancels the manager's context).
func (m *Manager) Shutdown(ctx context.Context) error {
	m.mu.Lock()
	m.draining = true
	sessions := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		sessions = append(sessions, s)
	}
	m.mu.Unlock()
	for _, s := range sessions {
		select {
		case s.cmds <- drainCmd{}:
		case <-s.ended:
		case <-ctx.Done():
			return fmt.Errorf("shutdown: %w", ctx.Err())
		}
	}
	for _, s := range sessions {
		select {
		case <-s.ended:
		case <-ctx.Done():
			return fmt.Errorf("shutdown: %w", ctx.Err())
		}
	}
	return nil
}
