package live_test

import (
	"context"
	"errors"
	"testing"

	"github.com/chatwindow/chatwindow/internal/live"
)

// TestRegistry: one start per id; a session leaves only as itself;
// Take forgets at once; no start once draining or once the context ended.
func TestRegistry(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := live.NewRegistry[string](ctx)
	starts := 0
	start := func() (*string, error) {
		starts++
		s := "session"
		return &s, nil
	}
	a, err := r.Ensure("a", start)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := r.Ensure("a", start); again != a || starts != 1 {
		t.Errorf("a second Ensure started %d sessions", starts)
	}
	if _, err := r.Ensure("bad", func() (*string, error) { return nil, errors.New("no") }); err == nil || r.Len() != 1 {
		t.Errorf("a failed start: %v, %d sessions", err, r.Len())
	}
	other := "other"
	r.Remove("a", &other)
	if _, ok := r.Get("a"); !ok {
		t.Error("another session of the same id removed it")
	}
	if got, ok := r.Take("a"); !ok || got != a {
		t.Error("Take did not return the session")
	}
	if _, ok := r.Get("a"); ok {
		t.Error("a taken session is still there")
	}
	if err := r.Add("b", &other); err != nil || r.Len() != 1 {
		t.Errorf("Add: %v, %d sessions", err, r.Len())
	}
	if live := r.Drain(); len(live) != 1 || r.Ready() == nil {
		t.Errorf("Drain returned %d sessions; Ready %v", len(live), r.Ready())
	}
	if _, err := r.Ensure("c", start); !errors.Is(err, live.ErrDraining) {
		t.Errorf("Ensure while draining: %v", err)
	}
	cancel()
	r2 := live.NewRegistry[string](ctx)
	if err := r2.Add("d", &other); !errors.Is(err, context.Canceled) {
		t.Errorf("Add after the context ended: %v", err)
	}
	done := make(chan struct{})
	r.Go(func() { close(done) })
	r.Wait()
	select {
	case <-done:
	default:
		t.Error("Wait returned before the goroutine ended")
	}
}
