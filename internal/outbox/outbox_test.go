package outbox

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sink records what the outbox writes; fail makes writes fail from the
// n-th on (0: never).
type sink struct {
	mu     sync.Mutex
	frames []string
	ended  []Reason
	failAt int
	wrote  chan struct{}
	endCh  chan struct{}
}

func newSink() *sink { return &sink{wrote: make(chan struct{}, 100), endCh: make(chan struct{}, 10)} }

func (s *sink) Write(f Frame) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failAt > 0 && len(s.frames)+1 >= s.failAt {
		return false
	}
	s.frames = append(s.frames, string(f.Data))
	s.wrote <- struct{}{}
	return true
}

func (s *sink) End(r Reason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ended = append(s.ended, r)
	s.endCh <- struct{}{}
}

func (s *sink) got() ([]string, []Reason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.frames...), append([]Reason(nil), s.ended...)
}

func frame(s string) Frame { return Frame{Data: []byte(s)} }

// TestOutbox: frames offered before and after Serve are written in order;
// a full queue refuses; End closes the socket with its reason.
func TestOutbox(t *testing.T) {
	for _, tc := range []struct {
		name   string
		reason Reason
		// wantTail: frames queued at End still written (SignedOut only)
		wantTail bool
	}{
		{"detached", Detached, false},
		{"slow", Slow, false},
		{"too many", TooMany, false},
		{"signed out", SignedOut, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := New(2)
			if _, ended := o.Reason(); ended {
				t.Fatal("a new outbox has ended")
			}
			if !o.Offer(frame("a")) || !o.Offer(frame("b")) {
				t.Fatal("an outbox with room refused a frame")
			}
			if o.Offer(frame("c")) {
				t.Fatal("a full outbox took a frame")
			}
			s := newSink()
			o.Serve(s)
			<-s.wrote
			<-s.wrote
			if !o.Offer(frame("d")) {
				t.Fatal("refused a frame after the queue drained")
			}
			o.End(tc.reason)
			o.End(Detached) // only the first counts
			if r, ended := o.Reason(); !ended || r != tc.reason {
				t.Errorf("Reason = %v, %v; want %v, true", r, ended, tc.reason)
			}
			select {
			case <-o.Done():
			default:
				t.Error("Done is open after End")
			}
			select {
			case <-s.endCh:
			case <-time.After(5 * time.Second):
				t.Fatal("the socket was not ended within 5 s")
			}
			o.Stop()
			frames, ended := s.got()
			want := []string{"a", "b"}
			if tc.wantTail {
				want = append(want, "d")
			}
			// "d" may have been taken by the writer before End: only a
			// reason that drops the queue may lose it.
			if !tc.wantTail && len(frames) == 3 {
				want = append(want, "d")
			}
			if diff := cmp.Diff(want, frames); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]Reason{tc.reason}, ended); diff != "" {
				t.Errorf("ends (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFailedSocket: after a failed write nothing more is written and the
// socket is not ended (it is gone).
func TestFailedSocket(t *testing.T) {
	o := New(10)
	s := newSink()
	s.failAt = 2
	o.Serve(s)
	for _, f := range []string{"a", "b", "c"} {
		o.Offer(frame(f))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		o.mu.Lock()
		writing := o.worker.Running()
		o.mu.Unlock()
		if !writing || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	o.End(Detached)
	o.Stop()
	frames, ended := s.got()
	if diff := cmp.Diff([]string{"a"}, frames); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
	if len(ended) != 0 {
		t.Errorf("a failed socket was ended: %v", ended)
	}
}

// TestIdleHasNoWriter: no goroutine runs while nothing is queued.
func TestIdleHasNoWriter(t *testing.T) {
	o := New(4)
	s := newSink()
	o.Serve(s)
	o.Offer(frame("a"))
	<-s.wrote
	o.Stop()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.worker.Running() {
		t.Error("a writer runs with nothing to write")
	}
}
