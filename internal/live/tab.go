package live

import (
	"github.com/chatwindow/chatwindow/internal/outbox"
)

// Tab is one page's attachment to a live session: its outbox (Out, Done,
// Reason), the session's loop it passes commands to, and the page's own
// state P, owned by the loop (the console keeps the conversation a tab
// shows; the window keeps nothing).
type Tab[P any] struct {
	*outbox.Outbox
	loop *Loop[P]
	// Page is the page's state; the loop's goroutine owns it.
	Page P
}

// Do passes a command to the session's loop; it is dropped once the
// session ended or let the tab go.
func (t *Tab[P]) Do(c any) {
	select {
	case t.loop.cmds <- c:
	case <-t.loop.ended:
	case <-t.Done():
	}
}

// Detach takes the tab off its session; the session keeps its upstream
// for the grace period after its last page left.
func (t *Tab[P]) Detach() { t.Do(detachCmd[P]{t}) }

type (
	attachCmd[P any] struct{ t *Tab[P] }
	detachCmd[P any] struct{ t *Tab[P] }
)
