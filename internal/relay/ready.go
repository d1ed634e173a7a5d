package relay

import "fmt"

// Ready reports whether the manager takes new sessions: not once its
// context ended (the server is shutting down).
func (m *Manager) Ready() error {
	if err := m.ctx.Err(); err != nil {
		return fmt.Errorf("not taking sessions: %w", err)
	}
	return nil
}
