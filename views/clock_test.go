package views

import (
	"testing"
	"time"
)

// TestClock: clock's texts are the two formats of the time in UTC, the
// short one cut from the long one only where that is the same text.
func TestClock(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2023, 11, 14, 22, 13, 23, 0, time.UTC),
		time.Date(2023, 11, 14, 23, 59, 59, 999_999_999, time.FixedZone("east", 5*3600+1800)),
		time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
		time.Date(999, 3, 4, 5, 6, 7, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 0, 0, time.UTC),
		time.Date(10000, 1, 1, 1, 2, 3, 0, time.UTC),
		time.Date(-5, 1, 1, 7, 8, 9, 0, time.UTC),
		time.UnixMilli(-1),
	} {
		text, iso := Clock(at)
		u := at.UTC()
		if want := u.Format("15:04"); text != want {
			t.Errorf("Clock(%v) text = %q, want %q", at, text, want)
		}
		if want := u.Format(time.RFC3339); iso != want {
			t.Errorf("Clock(%v) iso = %q, want %q", at, iso, want)
		}
	}
	if text, iso := Clock(time.Time{}); text != "" || iso != "" {
		t.Errorf("Clock(zero) = %q, %q; want none", text, iso)
	}
	if text, iso := Clock(time.UnixMilli(0)); text != "" || iso != "" {
		t.Errorf("Clock(epoch) = %q, %q; want none", text, iso)
	}
}
