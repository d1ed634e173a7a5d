package window

import (
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/web/pagesocket"
)

// Hooks for the external tests (package window_test): the browser frame
// parser, which the fuzz target drives directly.

// BrowserFrame is a decoded frame from the page.
type BrowserFrame = browserFrame

// ParseBrowserFrame is parseBrowserFrame.
func ParseBrowserFrame(b []byte) (BrowserFrame, error) { return parseBrowserFrame(b) }

// ErrFrame is pagesocket.ErrFrame: every refusal wraps it.
var ErrFrame = pagesocket.ErrFrame

// Rating is the frame's rating (csat frames).
func (f browserFrame) Rating() (relay.Rating, error) { return f.rating() }

// Action is the frame's sequence and choice index (action frames).
func (f browserFrame) Action() (seq int64, index int, err error) { return f.action() }
