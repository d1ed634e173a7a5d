package messaging_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
)

func TestBackoffCeilings(t *testing.T) {
	b := messaging.Backoff{Base: 500 * time.Millisecond, Cap: 30 * time.Second}
	var got []time.Duration
	for attempt := range 9 {
		got = append(got, b.Ceiling(attempt))
	}
	want := []time.Duration{
		500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
		8 * time.Second, 16 * time.Second, 30 * time.Second, 30 * time.Second, 30 * time.Second,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ceilings (-want +got):\n%s", diff)
	}
	// A huge attempt number neither overflows nor passes the cap.
	if c := b.Ceiling(1 << 20); c != 30*time.Second {
		t.Errorf("Ceiling(2^20) = %s", c)
	}
	// Zero values are the documented defaults.
	if c := (messaging.Backoff{}).Ceiling(0); c != 500*time.Millisecond {
		t.Errorf("default base = %s", c)
	}
	if c := (messaging.Backoff{}).Ceiling(100); c != 30*time.Second {
		t.Errorf("default cap = %s", c)
	}
}

func TestBackoffFullJitterBounds(t *testing.T) {
	tests := []struct {
		name string
		rand func(n int64) int64
		want func(ceil time.Duration) time.Duration
	}{
		{"lowest draw", func(int64) int64 { return 0 }, func(time.Duration) time.Duration { return 0 }},
		{"highest draw", func(n int64) int64 { return n - 1 }, func(c time.Duration) time.Duration { return c }},
		{"middle draw", func(n int64) int64 { return n / 2 }, func(c time.Duration) time.Duration { return time.Duration((int64(c) + 1) / 2) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := messaging.Backoff{Base: 100 * time.Millisecond, Cap: 2 * time.Second, Rand: tt.rand}
			for attempt := range 10 {
				if got, want := b.Delay(attempt), tt.want(b.Ceiling(attempt)); got != want {
					t.Errorf("Delay(%d) = %s, want %s", attempt, got, want)
				}
			}
		})
	}
	// With the real source every delay stays within [0, ceiling].
	b := messaging.Backoff{Base: 100 * time.Millisecond, Cap: 2 * time.Second}
	for attempt := range 12 {
		for range 200 {
			if d := b.Delay(attempt); d < 0 || d > b.Ceiling(attempt) {
				t.Fatalf("Delay(%d) = %s outside [0, %s]", attempt, d, b.Ceiling(attempt))
			}
		}
	}
}
