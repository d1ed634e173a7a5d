package wsconn

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// WriteLimit bounds a socket's writes with one timer for the socket, where
// a context with a timeout per write would cost a timer, a context and
// coder/websocket's registration of an AfterFunc on it for every frame. A
// write that outlasts the limit is ended by cut, which must close the
// connection (websocket.Conn.CloseNow), as a context's expiry would.
type WriteLimit struct {
	mu    sync.Mutex // one write at a time: the timer is the write's
	d     time.Duration
	t     *time.Timer
	fired atomic.Bool // the limit cut a write: the connection is gone
}

// NewWriteLimit returns a limit of d whose expiry calls cut.
func NewWriteLimit(d time.Duration, cut func()) *WriteLimit {
	l := &WriteLimit{d: d}
	l.t = time.AfterFunc(d, func() {
		l.fired.Store(true)
		cut()
	})
	l.t.Stop()
	return l
}

// Do runs write within the limit. Its error says when the limit cut it.
func (l *WriteLimit) Do(write func() error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.t.Reset(l.d)
	err := write()
	l.t.Stop()
	if err != nil && l.fired.Load() {
		return fmt.Errorf("write not done within %v: %w", l.d, err)
	}
	return err
}
