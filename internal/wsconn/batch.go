package wsconn

import (
	"io"
	"sync"
)

// maxBatch bounds what a held Batch keeps: past it, what was kept is
// written at once, so that a socket whose queue never empties still
// writes, and its buffer stays small.
const maxBatch = 32 << 10

// Batch is the writer under a socket's buffered writer. coder/websocket
// flushes after every frame, which is a write syscall per frame; between
// Hold and Release a Batch keeps what is flushed and writes it in one
// syscall at Release. A socket's writer holds it while it drains its
// queue: the frames a request causes together (a response and its echo,
// say) cost one syscall instead of one each.
//
// Writes may come from any goroutine (coder/websocket answers pings from
// the reader's); Hold and Release from the socket's writer.
type Batch struct {
	mu   sync.Mutex
	w    io.Writer
	held bool
	buf  []byte
}

// NewBatch returns a batch that writes to w (nil: Response's Hijack sets
// it to the connection).
func NewBatch(w io.Writer) *Batch { return &Batch{w: w} }

// Write keeps p while the batch is held, and writes it through otherwise.
func (b *Batch) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.held {
		return b.w.Write(p)
	}
	if len(b.buf)+len(p) > maxBatch {
		if err := b.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) > maxBatch {
			return b.w.Write(p)
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

// Hold starts keeping what is written.
func (b *Batch) Hold() {
	b.mu.Lock()
	b.held = true
	b.mu.Unlock()
}

// Release writes what was kept, in one write, and stops keeping.
func (b *Batch) Release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.held = false
	return b.flushLocked()
}

func (b *Batch) flushLocked() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}
