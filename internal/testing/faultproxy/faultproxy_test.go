package faultproxy

import (
	"bufio"
	"context"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echoServer answers every line with the same line, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	conns := make(chan net.Conn, 16)
	// Ends when the listener is closed at cleanup.
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns <- c
			// Ends when the connection is closed (by the peer or at cleanup).
			go func() { _, _ = io.Copy(c, c) }()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		close(conns)
		for c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) error {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return err
	}
	got, err := r.ReadString('\n')
	if err != nil {
		return err
	}
	if got != line+"\n" {
		t.Fatalf("echo = %q, want %q", got, line)
	}
	return nil
}

func TestProxyForwardsAndCuts(t *testing.T) {
	target := echoServer(t)
	p, err := New(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if err := roundTrip(t, c, r, "hello"); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	if got := p.Live(); got != 1 {
		t.Fatalf("Live = %d, want 1", got)
	}
	if got := p.CutAll(); got != 1 {
		t.Fatalf("CutAll = %d, want 1", got)
	}
	// The cut connection fails; reading reports it.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("read after CutAll succeeded")
	}

	// A new connection works again.
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := roundTrip(t, c2, bufio.NewReader(c2), "again"); err != nil {
		t.Fatalf("after cut: %v", err)
	}
	if got := p.Accepted(); got != 2 {
		t.Fatalf("Accepted = %d, want 2", got)
	}
}

func TestPauseHoldsNewConnections(t *testing.T) {
	target := echoServer(t)
	p, err := New(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	p.Pause()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("held\n")); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("paused proxy forwarded data")
	}
	p.Resume()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := r.ReadString('\n')
	if err != nil || got != "held\n" {
		t.Fatalf("after Resume: %q, %v", got, err)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	target := echoServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	p, err := New(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := roundTrip(t, c, bufio.NewReader(c), "x"); err != nil {
		t.Fatal(err)
	}
	cancel()
	_ = p.Close()
	if _, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		// The port may be reused by then on a busy machine; only a hint.
		t.Log("dial after Close succeeded")
	}
}

// TestStallHoldsBytesInFlight: a stalled proxy keeps the connection open
// and holds what was written; Unstall delivers it; a cut while stalled
// drops it and the next connection works once unstalled.
func TestStallHoldsBytesInFlight(t *testing.T) {
	target := echoServer(t)
	p, err := New(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if err := roundTrip(t, c, r, "before"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		end  func() // ends the stall
		want bool   // the held line arrives
	}{
		{"unstall delivers", p.Unstall, true},
		{"cut drops", func() { p.CutAll(); p.Unstall() }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.Stall()
			if _, err := c.Write([]byte("held\n")); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for p.Held() == 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if p.Held() == 0 {
				t.Fatal("Held = 0 after a write to a stalled proxy")
			}
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if _, err := r.ReadString('\n'); err == nil {
				t.Fatal("a stalled proxy forwarded data")
			}
			if got := p.Live(); got != 1 {
				t.Fatalf("Live = %d while stalled, want the connection kept", got)
			}
			tt.end()
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			got, err := r.ReadString('\n')
			if tt.want && (err != nil || got != "held\n") {
				t.Fatalf("after the stall: %q, %v", got, err)
			}
			if !tt.want && err == nil {
				t.Fatalf("read %q from a connection cut while stalled", got)
			}
			for p.Held() != 0 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if n := p.Held(); n != 0 {
				t.Errorf("Held = %d after the stall ended", n)
			}
		})
	}

	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if err := roundTrip(t, c2, bufio.NewReader(c2), "after"); err != nil {
		t.Fatalf("a new connection after the stall: %v", err)
	}
}
