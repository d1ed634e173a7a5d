package live

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrDraining refuses a new session to a registry that is shutting down.
var ErrDraining = errors.New("shutting down")

// Registry holds one node's live sessions of one kind by id (the window's
// browser sessions, the console's desks) and counts their goroutines, so
// that Wait can tell when every one has ended.
type Registry[S any] struct {
	ctx context.Context

	mu       sync.Mutex
	byID     map[string]*S
	draining bool
	wg       sync.WaitGroup
}

// NewRegistry returns an empty registry whose sessions live until ctx
// ends.
func NewRegistry[S any](ctx context.Context) *Registry[S] {
	return &Registry[S]{ctx: ctx, byID: map[string]*S{}}
}

// Context is the registry's: every session's lives within it.
func (r *Registry[S]) Context() context.Context { return r.ctx }

// Get returns the live session of id.
func (r *Registry[S]) Get(id string) (*S, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.byID[id]
	return s, ok
}

// Ensure returns the live session of id, or starts one with start and
// keeps it: one start per id, under the registry's lock. It refuses once
// the registry's context ended or Drain began.
func (r *Registry[S]) Ensure(id string, start func() (*S, error)) (*S, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.openLocked(); err != nil {
		return nil, err
	}
	if s, ok := r.byID[id]; ok {
		return s, nil
	}
	s, err := start()
	if err != nil {
		return nil, err
	}
	r.byID[id] = s
	return s, nil
}

// Add keeps s as the session of id (one started outside Ensure, such as a
// desk once its agent signed in).
func (r *Registry[S]) Add(id string, s *S) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.openLocked(); err != nil {
		return err
	}
	r.byID[id] = s
	return nil
}

func (r *Registry[S]) openLocked() error {
	if err := r.ctx.Err(); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	if r.draining {
		return ErrDraining
	}
	return nil
}

// Remove forgets the session of id if it is still s (an ended session
// leaves; a newer one of the same id stays).
func (r *Registry[S]) Remove(id string, s *S) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[id] == s {
		delete(r.byID, id)
	}
}

// Take forgets the session of id at once and returns it: a page that
// attaches meanwhile gets none, rather than one that is ending.
func (r *Registry[S]) Take(id string) (*S, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.byID[id]
	delete(r.byID, id)
	return s, ok
}

// Len is the number of live sessions.
func (r *Registry[S]) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

// Drain stops taking sessions and returns the live ones.
func (r *Registry[S]) Drain() []*S {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.draining = true
	out := make([]*S, 0, len(r.byID))
	for _, s := range r.byID {
		out = append(out, s)
	}
	return out
}

// Ready reports whether the registry takes new sessions: not once Drain
// began or its context ended.
func (r *Registry[S]) Ready() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.openLocked()
}

// Go runs f on a goroutine that Wait waits for. Call it while starting a
// session (in Ensure's start, or before Add): sessions start only while
// the registry's context lives, so Go never races with a Wait that began
// after it ended.
func (r *Registry[S]) Go(f func()) {
	r.wg.Go(f)
}

// Wait blocks until every goroutine started with Go has returned (after
// the registry's context ended, or every session did).
func (r *Registry[S]) Wait() { r.wg.Wait() }
