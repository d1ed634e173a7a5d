package linger

import (
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
