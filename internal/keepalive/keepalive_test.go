package keepalive

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestPings: pings come every interval until Stop; none after it.
func TestPings(t *testing.T) {
	var n atomic.Int32
	got := make(chan struct{}, 10)
	p := Start(5*time.Millisecond, func() error {
		n.Add(1)
		got <- struct{}{}
		return nil
	}, func(err error) { t.Errorf("fail(%v) after successful pings", err) })
	for range 3 {
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("no ping within 5 s")
		}
	}
	p.Stop()
	after := n.Load()
	time.Sleep(20 * time.Millisecond)
	if n.Load() != after {
		t.Errorf("%d pings after Stop", n.Load()-after)
	}
}

// TestFail: a failed ping calls fail once, and no ping follows.
func TestFail(t *testing.T) {
	boom := errors.New("no pong")
	var pings atomic.Int32
	failed := make(chan error, 2)
	p := Start(time.Millisecond, func() error {
		pings.Add(1)
		return boom
	}, func(err error) { failed <- err })
	defer p.Stop()
	select {
	case err := <-failed:
		if !errors.Is(err, boom) {
			t.Errorf("fail(%v), want %v", err, boom)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("fail not called within 5 s")
	}
	time.Sleep(10 * time.Millisecond)
	if got := pings.Load(); got != 1 {
		t.Errorf("%d pings, want 1 (none after a failure)", got)
	}
	if len(failed) != 0 {
		t.Error("fail called twice")
	}
}

// TestStopWaits: Stop returns only once a ping in progress is done.
func TestStopWaits(t *testing.T) {
	in, release := make(chan struct{}), make(chan struct{})
	var done atomic.Bool
	p := Start(time.Millisecond, func() error {
		close(in)
		<-release
		done.Store(true)
		return nil
	}, func(error) {})
	<-in
	stopped := make(chan struct{})
	go func() { p.Stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Stop returned while a ping was in progress")
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	<-stopped
	if !done.Load() {
		t.Error("Stop returned before the ping finished")
	}
}
