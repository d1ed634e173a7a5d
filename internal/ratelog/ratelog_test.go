package ratelog_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/ratelog"
)

// TestLimiter: a burst is written, the rest of a flood is counted and the
// next line written says how many were left out.
func TestLimiter(t *testing.T) {
	l := ratelog.New(time.Hour, 3)
	var got []bool
	for range 10 {
		ok, skipped := l.Allow()
		got = append(got, ok)
		if skipped != 0 {
			t.Errorf("skipped %d within the burst", skipped)
		}
	}
	want := []bool{true, true, true, false, false, false, false, false, false, false}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lines written (-want +got):\n%s", diff)
	}
	fast := ratelog.New(time.Nanosecond, 1)
	fast.Allow()
	for i := 0; ; i++ {
		ok, skipped := fast.Allow()
		if ok {
			if skipped != i {
				t.Errorf("the line after %d left out says %d", i, skipped)
			}
			break
		}
		if i > 1000 {
			t.Fatal("a limiter of one line per nanosecond never wrote again")
		}
	}
}
