package testclock_test

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/testing/testclock"
)

var start = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// TestAdvance: the clock stands still until moved, and Advance moves it by
// exactly its argument, either way.
func TestAdvance(t *testing.T) {
	tests := []struct {
		name    string
		advance []time.Duration
		want    time.Time
	}{
		{"not moved", nil, start},
		{"forward", []time.Duration{time.Hour, time.Second}, start.Add(time.Hour + time.Second)},
		{"back", []time.Duration{2 * time.Hour, -time.Hour}, start.Add(time.Hour)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testclock.New(start)
			for _, d := range tt.advance {
				c.Advance(d)
			}
			if diff := cmp.Diff(tt.want, c.Now()); diff != "" {
				t.Errorf("Now() (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConcurrent: readers on other goroutines and a test moving the clock
// race on nothing (run with -race), and every move counts.
func TestConcurrent(t *testing.T) {
	c := testclock.New(start)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				c.Advance(time.Millisecond)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(400*time.Millisecond); !got.Equal(want) {
		t.Errorf("Now() = %v, want %v", got, want)
	}
}
