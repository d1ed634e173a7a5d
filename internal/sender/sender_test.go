package sender

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestQueue: ops run in order, only while open; one whose request never
// left runs again, first, once the connection is open again.
func TestQueue(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	q := New()
	results := make(chan func(), 16)
	q.Start(ctx, results)
	defer func() { cancel(); q.Wait() }()

	var got []string
	tries := 0
	for i := range 3 {
		q.Push(func(context.Context) func() {
			if i == 1 {
				tries++
				if tries == 1 {
					return nil // not sent: the socket went down under it
				}
			}
			return func() { got = append(got, fmt.Sprint("op", i)) }
		})
	}
	// Closed: nothing runs.
	select {
	case <-results:
		t.Fatal("an op ran while closed")
	case <-time.After(20 * time.Millisecond):
	}
	q.SetOpen(true)
	next := func() {
		t.Helper()
		select {
		case f := <-results:
			f()
		case <-time.After(5 * time.Second):
			t.Fatal("no outcome")
		}
	}
	next() // op0; op1 is then not sent and the queue closes itself
	select {
	case <-results:
		t.Fatal("an op ran after one was not sent, before the queue reopened")
	case <-time.After(20 * time.Millisecond):
	}
	q.SetOpen(true)
	next()
	next()
	if diff := cmp.Diff([]string{"op0", "op1", "op2"}, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s", diff)
	}
	if tries != 2 {
		t.Errorf("op1 tried %d times, want 2", tries)
	}
	// Nothing due: no goroutine waits.
	q.Wait()
	q.mu.Lock()
	running := q.worker.Running()
	q.mu.Unlock()
	if running {
		t.Error("the runner still runs with nothing due")
	}
}
