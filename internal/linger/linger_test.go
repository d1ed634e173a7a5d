package linger

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestWait: a wake (before or during the wait) returns true at once; stop
// returns false at once; nothing returns false after For.
func TestWait(t *testing.T) {
	i := New()
	i.Wake() // kept for the next Wait
	if !i.Wait(nil) {
		t.Error("a wake before Wait was lost")
	}
	go func() {
		time.Sleep(10 * time.Millisecond)
		i.Wake()
	}()
	if !i.Wait(nil) {
		t.Error("a wake during Wait was lost")
	}
	stop := make(chan struct{})
	close(stop)
	start := time.Now()
	if i.Wait(stop) {
		t.Error("Wait with stop closed returned true")
	}
	if time.Since(start) > For/2 {
		t.Error("Wait with stop closed waited")
	}
	start = time.Now()
	if i.Wait(nil) {
		t.Error("Wait with nothing to wake for returned true")
	}
	if d := time.Since(start); d < For {
		t.Errorf("Wait gave up after %s, before %s", d, For)
	}
}

// TestWorker: work pushed while a worker runs is done by it, in order; a
// worker starts only when there is work, ends when stop closes and
// nothing is due, and calls stopped with the lock held; a Kick after that
// starts a new one.
func TestWorker(t *testing.T) {
	var mu sync.Mutex
	var queue, done []int
	w := NewWorker()
	stop := make(chan struct{})
	ended := make(chan struct{}, 4)
	starts := 0
	next := func() (func(), bool) {
		if len(queue) == 0 {
			return nil, true
		}
		n := queue[0]
		queue = queue[1:]
		return func() {
			mu.Lock()
			done = append(done, n)
			mu.Unlock()
		}, false
	}
	push := func(n int) {
		mu.Lock()
		defer mu.Unlock()
		queue = append(queue, n)
		w.Kick(true, func() {
			starts++
			go w.Loop(&mu, stop, next, func() {
				if w.Running() {
					t.Error("stopped called while the worker counts as running")
				}
				ended <- struct{}{}
			})
		})
	}
	mu.Lock()
	if w.Kick(false, func() { t.Error("started with no work") }) {
		t.Error("Kick with no work started a worker")
	}
	mu.Unlock()
	for i := range 100 {
		push(i)
	}
	close(stop)
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("the worker did not end")
	}
	mu.Lock()
	if len(done) != 100 || starts > 100 {
		t.Errorf("%d done by %d workers", len(done), starts)
	}
	for i, n := range done {
		if n != i {
			t.Fatalf("work %d done as %d", i, n)
		}
	}
	mu.Unlock()
	push(100)
	select {
	case <-ended:
	case <-time.After(5 * time.Second):
		t.Fatal("a worker kicked after the last ended did not run")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(done) != 101 || w.Running() {
		t.Errorf("after a new kick: %d done, running %v", len(done), w.Running())
	}
}

// BenchmarkWorkerHandoff: work pushed one piece at a time to a lingering
// worker, each waited for, as a session's socket hands it frames.
func BenchmarkWorkerHandoff(b *testing.B) {
	var mu sync.Mutex
	var queue int
	w := NewWorker()
	stop := make(chan struct{})
	done := make(chan struct{}, 1)
	next := func() (func(), bool) {
		if queue == 0 {
			return nil, true
		}
		queue--
		return func() { done <- struct{}{} }, false
	}
	start := func() { go w.Loop(&mu, stop, next, nil) }
	b.ReportAllocs()
	for b.Loop() {
		mu.Lock()
		queue++
		w.Kick(true, start)
		mu.Unlock()
		<-done
	}
	close(stop)
	for {
		mu.Lock()
		running := w.Running()
		mu.Unlock()
		if !running {
			return
		}
		runtime.Gosched()
	}
}

// TestWaitTimerReused: a worker's waits share one timer, which its end
// lets go, so that an idle owner keeps no timer.
func TestWaitTimerReused(t *testing.T) {
	var mu sync.Mutex
	w := NewWorker()
	stop := make(chan struct{})
	ended := make(chan struct{})
	waits := 0
	var first *time.Timer
	next := func() (func(), bool) {
		if waits < 3 {
			waits++
			if w.idle.timer != nil && first == nil {
				first = w.idle.timer
			}
			if first != nil && w.idle.timer != first {
				t.Error("a wait made a new timer")
			}
			go w.Wake() // the work that wakes the next wait
			return nil, true
		}
		if waits == 3 {
			waits++
			close(stop)
		}
		return nil, true
	}
	mu.Lock()
	w.Kick(true, func() { go w.Loop(&mu, stop, next, func() { close(ended) }) })
	mu.Unlock()
	<-ended
	mu.Lock()
	defer mu.Unlock()
	if first == nil {
		t.Error("no timer was made")
	}
	if w.idle.timer != nil {
		t.Error("the ended worker kept its timer")
	}
}
