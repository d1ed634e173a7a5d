package wsconn

import (
	"errors"
	"strings"
	"sync"
	"testing"
)

// writes records each write it gets, as the connection under a batch.
type writes struct {
	mu   sync.Mutex
	got  []string
	fail error
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail != nil {
		return 0, w.fail
	}
	w.got = append(w.got, string(p))
	return len(p), nil
}

func TestBatch(t *testing.T) {
	big := strings.Repeat("b", maxBatch)
	tests := []struct {
		name string
		run  func(b *Batch)
		want []string // the writes the connection gets, in order
	}{
		{"not held: each write goes through", func(b *Batch) {
			b.Write([]byte("one"))
			b.Write([]byte("two"))
		}, []string{"one", "two"}},
		{"held: one write at release", func(b *Batch) {
			b.Hold()
			b.Write([]byte("one"))
			b.Write([]byte("two"))
			b.Write([]byte("three"))
			b.Release()
		}, []string{"onetwothree"}},
		{"release with nothing kept writes nothing", func(b *Batch) {
			b.Hold()
			b.Release()
		}, nil},
		{"after release, writes go through again", func(b *Batch) {
			b.Hold()
			b.Write([]byte("one"))
			b.Release()
			b.Write([]byte("two"))
		}, []string{"one", "two"}},
		{"up to maxBatch is kept; past it, what was kept goes first", func(b *Batch) {
			b.Hold()
			b.Write([]byte("one"))
			b.Write([]byte(big[3:]))
			b.Write([]byte("two"))
			b.Release()
		}, []string{"one" + big[3:], "two"}},
		{"a write larger than maxBatch goes through whole, in order", func(b *Batch) {
			b.Hold()
			b.Write([]byte("one"))
			b.Write([]byte(big + "!"))
			b.Write([]byte("two"))
			b.Release()
		}, []string{"one", big + "!", "two"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &writes{}
			tt.run(NewBatch(w))
			if len(w.got) != len(tt.want) {
				t.Fatalf("%d writes (%.40q), want %d", len(w.got), w.got, len(tt.want))
			}
			for i := range w.got {
				if w.got[i] != tt.want[i] {
					t.Errorf("write %d: %d bytes %.20q…, want %d bytes %.20q…", i, len(w.got[i]), w.got[i], len(tt.want[i]), tt.want[i])
				}
			}
		})
	}
}

// TestBatchWriteError: a failed release says so, and what it held is not
// written again by the next release.
func TestBatchWriteError(t *testing.T) {
	broken := errors.New("connection reset")
	w := &writes{fail: broken}
	b := NewBatch(w)
	b.Hold()
	if _, err := b.Write([]byte("kept")); err != nil {
		t.Fatalf("a held write failed: %v", err)
	}
	if err := b.Release(); !errors.Is(err, broken) {
		t.Fatalf("Release = %v, want %v", err, broken)
	}
	w.fail = nil
	b.Hold()
	b.Write([]byte("next"))
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	if len(w.got) != 1 || w.got[0] != "next" {
		t.Errorf("writes after the failure: %q, want [\"next\"]", w.got)
	}
}

// TestBatchConcurrentWrites: writes from another goroutine (a pong from the
// reader's) while the writer holds and releases are each written whole.
func TestBatchConcurrentWrites(t *testing.T) {
	w := &writes{}
	b := NewBatch(w)
	const n = 200
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range n {
			b.Write([]byte("pong;"))
		}
	}()
	for range n {
		b.Hold()
		b.Write([]byte("frame;"))
		b.Release()
	}
	wg.Wait()
	all := strings.Join(w.got, "")
	if got := strings.Count(all, "pong;"); got != n {
		t.Errorf("%d pongs written, want %d", got, n)
	}
	if got := strings.Count(all, "frame;"); got != n {
		t.Errorf("%d frames written, want %d", got, n)
	}
	if rest := strings.NewReplacer("pong;", "", "frame;", "").Replace(all); rest != "" {
		t.Errorf("writes interleaved: %.40q left over", rest)
	}
}
