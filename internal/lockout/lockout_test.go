package lockout

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/testing/testclock"
)

func newTable(p Policy) (*Table, *testclock.Clock) {
	c := testclock.New(time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC))
	return New(p, c.Now), c
}

// fail runs one failed attempt and returns what Begin and Fail answered.
func fail(t *Table, key string) (wait, lock time.Duration) {
	if wait = t.Begin(key); wait > 0 {
		return wait, 0
	}
	return 0, t.Fail(key)
}

// TestLockoutGrows: Threshold failures lock the key for Lockout; each
// further round doubles it up to MaxLockout; a success clears everything.
func TestLockoutGrows(t *testing.T) {
	tb, clk := newTable(Policy{Threshold: 3, Lockout: time.Minute, MaxLockout: 5 * time.Minute})
	var got []time.Duration
	for range 4 {
		for i := range 3 {
			wait, lock := fail(tb, "alice")
			if wait != 0 {
				t.Fatalf("attempt %d refused for %s before the threshold", i, wait)
			}
			if i < 2 && lock != 0 {
				t.Fatalf("attempt %d locked for %s before the threshold", i, lock)
			}
			if i == 2 {
				got = append(got, lock)
			}
		}
		lock := got[len(got)-1]
		if wait := tb.Begin("alice"); wait != lock {
			t.Fatalf("Begin during the lockout = %s, want %s", wait, lock)
		}
		clk.Advance(lock - time.Second)
		if wait := tb.Begin("alice"); wait != time.Second {
			t.Fatalf("Begin a second before the end = %s, want 1s", wait)
		}
		clk.Advance(time.Second)
	}
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lockouts (-want +got):\n%s", diff)
	}
	if tb.Begin("bob") != 0 {
		t.Error("another key is locked")
	}
	tb.Drop("bob")

	// A success clears the count and the doublings.
	for range 2 {
		fail(tb, "alice")
	}
	if tb.Begin("alice") != 0 {
		t.Fatal("refused below the threshold")
	}
	tb.Succeed("alice")
	for range 2 {
		fail(tb, "alice")
	}
	if _, lock := fail(tb, "alice"); lock != time.Minute {
		t.Errorf("first lockout after a success = %s, want 1m", lock)
	}
}

// TestLockoutForgets: a key not failed for Forget starts again.
func TestLockoutForgets(t *testing.T) {
	tb, clk := newTable(Policy{Threshold: 2, Lockout: time.Minute, Forget: 10 * time.Minute})
	fail(tb, "k")
	fail(tb, "k") // locked for 1 min
	clk.Advance(time.Minute + 10*time.Minute)
	if _, lock := fail(tb, "k"); lock != 0 {
		t.Fatalf("one failure after forgetting locked for %s", lock)
	}
	if _, lock := fail(tb, "k"); lock != time.Minute {
		t.Errorf("lockout after forgetting = %s, want the first one's 1m", lock)
	}
}

// TestLockoutPending: attempts under way count, so many begun together
// cannot all pass the threshold.
func TestLockoutPending(t *testing.T) {
	tb, _ := newTable(Policy{Threshold: 3})
	for i := range 3 {
		if wait := tb.Begin("k"); wait != 0 {
			t.Fatalf("attempt %d refused", i)
		}
	}
	if wait := tb.Begin("k"); wait != time.Minute {
		t.Fatalf("a fourth attempt under way: Begin = %s, want the next lockout's 1m", wait)
	}
	tb.Drop("k")
	if wait := tb.Begin("k"); wait != 0 {
		t.Fatalf("refused once an attempt ended without failing: %s", wait)
	}
}

// TestLockoutBounded: the table never holds more than MaxEntries keys,
// and a full one keeps a key that is locked out over keys with a failure
// or two.
func TestLockoutBounded(t *testing.T) {
	tb, clk := newTable(Policy{Threshold: 2, Lockout: time.Hour, Forget: time.Minute, MaxEntries: 100})
	fail(tb, "victim")
	fail(tb, "victim") // locked for an hour
	for i := range 1000 {
		fail(tb, fmt.Sprint("spray-", i))
		clk.Advance(time.Millisecond)
	}
	if n := tb.Len(); n > 100 {
		t.Errorf("the table holds %d keys, want at most 100", n)
	}
	if wait := tb.Begin("victim"); wait == 0 {
		t.Error("the locked key was pushed out by newer ones that end sooner")
	}
}
