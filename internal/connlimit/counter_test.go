package connlimit_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/connlimit"
)

// waitLimit bounds every wait of these tests for something to happen.
const waitLimit = 10 * time.Second

// waitFor waits until cond holds, failing the test after waitLimit.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: still not %s", waitLimit, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCounterCap(t *testing.T) {
	c := connlimit.NewCounter(2)
	var releases []func()
	steps := []struct {
		addr string
		want bool
	}{
		{"192.0.2.7", true},
		{"192.0.2.7:1234", true},
		{"[::ffff:192.0.2.7]:80", false}, // the same client, mapped: over the cap
		{"192.0.2.8", true},              // another address
		{"2001:db8::1", true},
		{"[2001:db8::2]:443", true},
		{"2001:db8::ffff:3", false}, // the same /64
		{"2001:db8:0:1::1", true},   // the next /64
	}
	var got, want []bool
	for _, s := range steps {
		release, ok := c.Acquire(s.addr)
		got, want = append(got, ok), append(want, s.want)
		if ok {
			releases = append(releases, release)
		} else {
			release() // a refusal's release does nothing
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("Acquire ok, step by step (-want +got):\n%s", diff)
	}
	if c.Count("192.0.2.7") != 2 || c.Total() != 6 || c.Clients() != 4 || c.Refused() != 2 {
		t.Fatalf("Count %d, Total %d, Clients %d, Refused %d; want 2, 6, 4, 2", c.Count("192.0.2.7"), c.Total(), c.Clients(), c.Refused())
	}

	// A release, even twice, frees one place.
	releases[0]()
	releases[0]()
	if n := c.Count("192.0.2.7"); n != 1 {
		t.Fatalf("after one release (twice): Count = %d, want 1", n)
	}
	release, ok := c.Acquire("192.0.2.7")
	if !ok {
		t.Fatal("after a release: refused")
	}
	if _, ok := c.Acquire("192.0.2.7"); ok {
		t.Fatal("over the cap again: accepted")
	}
	release()
	for _, r := range releases {
		r()
	}
	if c.Total() != 0 || c.Clients() != 0 {
		t.Fatalf("all released: Total %d, Clients %d; want 0, 0 (no entry left)", c.Total(), c.Clients())
	}
}

func TestCounterNoCap(t *testing.T) {
	c := connlimit.NewCounter(0)
	for range 1000 {
		if _, ok := c.Acquire("192.0.2.7"); !ok {
			t.Fatal("no cap: refused")
		}
	}
	if n := c.Count("192.0.2.7"); n != 1000 {
		t.Fatalf("Count = %d, want 1000", n)
	}
}

// TestCounterConcurrent: many goroutines taking and giving back (each
// release called twice) never hold more than the cap for one client, and
// leave nothing behind. Run with -race.
func TestCounterConcurrent(t *testing.T) {
	const max = 8
	c := connlimit.NewCounter(max)
	addrs := []string{"192.0.2.1", "[::ffff:192.0.2.2]:1", "2001:db8::1", "[2001:db8::2]:2"}
	// 192.0.2.x are two clients; the two IPv6 addresses share a /64.
	clients := []int{0, 1, 2, 2}
	var held [3]atomic.Int32
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := range 500 {
				k := (g + i) % len(addrs)
				release, ok := c.Acquire(addrs[k])
				if !ok {
					continue
				}
				if n := held[clients[k]].Add(1); n > max {
					t.Errorf("client %d holds %d, over the cap of %d", clients[k], n, max)
				}
				held[clients[k]].Add(-1)
				release()
				release()
			}
		})
	}
	wg.Wait()
	if c.Total() != 0 || c.Clients() != 0 {
		t.Fatalf("all released: Total %d, Clients %d; want 0, 0", c.Total(), c.Clients())
	}
}
