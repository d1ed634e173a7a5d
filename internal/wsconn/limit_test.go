package wsconn

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestWriteLimit: a write within the limit is not cut, and its timer does
// not fire later; a write that outlasts it is cut, and its error says so.
func TestWriteLimit(t *testing.T) {
	cuts := make(chan struct{}, 1)
	unblock := make(chan struct{})
	l := NewWriteLimit(50*time.Millisecond, func() {
		cuts <- struct{}{}
		close(unblock) // the connection closed: the write in progress fails
	})
	for range 3 {
		if err := l.Do(func() error { return nil }); err != nil {
			t.Fatalf("a quick write: %v", err)
		}
	}
	select {
	case <-cuts:
		t.Fatal("the limit cut after quick writes were done")
	case <-time.After(150 * time.Millisecond):
	}
	closed := errors.New("use of closed network connection")
	err := l.Do(func() error {
		<-unblock
		return closed
	})
	if !errors.Is(err, closed) || !strings.Contains(err.Error(), "not done within 50ms") {
		t.Errorf("a cut write's error: %v", err)
	}
	select {
	case <-cuts:
	default:
		t.Error("the slow write was not cut")
	}
}

// TestWriteLimitErrorsUncut: a write that fails on its own is not
// reported as cut.
func TestWriteLimitErrorsUncut(t *testing.T) {
	l := NewWriteLimit(time.Minute, func() { t.Error("cut") })
	reset := errors.New("connection reset")
	if err := l.Do(func() error { return reset }); err != reset {
		t.Errorf("Do = %v, want %v as it is", err, reset)
	}
}
