// Package livetab reads a live session's tab in process, as the page's
// socket would, for the tests of the sessions built on internal/live (the
// window's relay, the agents' desks). Only _test.go files import it.
package livetab

import (
	"encoding/json"
	"testing"

	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/outbox"
)

// Follow serves tab an in-process pipe and calls apply with each frame the
// session sends, decoded as F, in order, on a goroutine of its own, until
// the session lets the tab go (the frames queued before that are applied
// too: a signed-out tab's last window, say). A frame that does not decode
// fails the test and ends the reading. When the test ends, the tab is
// detached and stopped, and the goroutine has returned.
func Follow[P, F any](t testing.TB, tab *live.Tab[P], apply func(F)) {
	t.Helper()
	pipe := outbox.NewPipe(4096)
	tab.Serve(pipe)
	done := make(chan struct{})
	go func() {
		defer close(done)
		read := func(fr outbox.Frame) bool {
			var f F
			if err := json.Unmarshal(fr.Data, &f); err != nil {
				t.Errorf("tab got %q: %v", fr.Data, err)
				return false
			}
			apply(f)
			return true
		}
		for {
			select {
			case fr := <-pipe.C:
				if !read(fr) {
					return
				}
			case <-pipe.Ended:
				for {
					select {
					case fr := <-pipe.C:
						if !read(fr) {
							return
						}
					default:
						return
					}
				}
			}
		}
	}()
	t.Cleanup(func() {
		tab.Detach()
		<-done
		pipe.Close()
		tab.Stop()
	})
}
