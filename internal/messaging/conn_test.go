package messaging_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/go-cmp/cmp"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
)

func dialConsumer(t *testing.T, e *env, opts messaging.DialOptions) *messaging.Conn {
	t.Helper()
	if opts.Token == "" {
		opts.Token = e.signup()
	}
	c, err := messaging.Dial(t.Context(), e.ep.ConsumerURL(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestConnOutOfOrderResponses answers three concurrent requests in reverse
// order; each caller gets its own answer.
func TestConnOutOfOrderResponses(t *testing.T) {
	srv := scriptServer(t, func(ctx context.Context, _ *http.Request, c *websocket.Conn) {
		var reqs []protocol.Frame
		for len(reqs) < 3 {
			f, err := readReq(ctx, c)
			if err != nil {
				return
			}
			reqs = append(reqs, f)
		}
		for i := len(reqs) - 1; i >= 0; i-- {
			resp, _ := protocol.NewResponse(reqs[i].ID, 200, "Echo", map[string]string{"id": string(reqs[i].ID), "type": reqs[i].Type})
			if writeFrame(ctx, c, resp) != nil {
				return
			}
		}
		_, _, _ = c.Read(ctx) // hold the socket until the client closes it
	})
	c, err := messaging.Dial(t.Context(), wsURL(srv), messaging.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var wg sync.WaitGroup
	got := make([]string, 3)
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out struct{ Type string }
			if err := c.Request(t.Context(), fmt.Sprintf("T%d", i), nil, &out); err != nil {
				t.Errorf("request %d: %v", i, err)
			}
			got[i] = out.Type
		}()
	}
	wg.Wait()
	if diff := cmp.Diff([]string{"T0", "T1", "T2"}, got); diff != "" {
		t.Errorf("answers (-want +got):\n%s", diff)
	}
}

func TestConnTimeout(t *testing.T) {
	srv := scriptServer(t, func(ctx context.Context, _ *http.Request, c *websocket.Conn) {
		for {
			if _, err := readReq(ctx, c); err != nil { // never answers
				return
			}
		}
	})
	c, err := messaging.Dial(t.Context(), wsURL(srv), messaging.DialOptions{RequestTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.Request(t.Context(), protocol.TypeGetClock, nil, nil)
	if !errors.Is(err, messaging.ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	// The socket is still usable (and still unanswered).
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Request(ctx, protocol.TypeGetClock, nil, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v", err)
	}
}

func TestConnCloseCodes(t *testing.T) {
	tests := []struct {
		code     websocket.StatusCode
		rejected bool
	}{
		{protocol.CloseTokenInvalid, true},
		{protocol.CloseTokenExtend, true},
		{websocket.StatusNormalClosure, false},
		{websocket.StatusPolicyViolation, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.code), func(t *testing.T) {
			srv := scriptServer(t, func(ctx context.Context, _ *http.Request, c *websocket.Conn) {
				_ = c.Close(tt.code, "bye")
			})
			c, err := messaging.Dial(t.Context(), wsURL(srv), messaging.DialOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			select {
			case <-c.Done():
			case <-time.After(waitLimit):
				t.Fatal("socket not ended")
			}
			if got := websocket.CloseStatus(c.Err()); got != tt.code {
				t.Errorf("close status = %d (%v), want %d", got, c.Err(), tt.code)
			}
			if got := messaging.IsTokenRejected(c.Err()); got != tt.rejected {
				t.Errorf("IsTokenRejected = %v, want %v", got, tt.rejected)
			}
			err = c.Request(t.Context(), protocol.TypeGetClock, nil, nil)
			if !errors.Is(err, messaging.ErrClosed) {
				t.Errorf("request after close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestConnErrorCodes: responses with code >= 400 are *protocol.Error with
// the service's code and text.
func TestConnErrorCodes(t *testing.T) {
	e := newEnv(t)
	c := dialConsumer(t, e, messaging.DialOptions{})

	var conv protocol.RequestConversationResponse
	if err := c.Request(t.Context(), protocol.TypeConsumerRequestConversation, nil, &conv); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		typ  string
		body any
		code int
	}{
		{"unknown dialog", protocol.TypePublishEvent, protocol.PublishEvent{DialogID: "nope", Event: protocol.Event{Type: protocol.EventContent, Message: "x"}}, 404},
		{"second conversation", protocol.TypeConsumerRequestConversation, nil, 409},
		{"unknown type", "cm.NoSuchThing", nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Request(t.Context(), tt.typ, tt.body, nil)
			pe := asProtocolError(err)
			if pe == nil || pe.Code != tt.code || pe.Text == "" {
				t.Fatalf("err = %v, want a *protocol.Error %d with text", err, tt.code)
			}
		})
	}
	// The socket survives errors.
	if _, err := c.GetClock(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestConnAuthentication(t *testing.T) {
	e := newEnv(t)
	good := e.signup()
	tests := []struct {
		name     string
		opts     messaging.DialOptions
		rejected bool
	}{
		{"header", messaging.DialOptions{Token: good}, false},
		{"InitConnection", messaging.DialOptions{Token: good, InitConnection: true, ClientProperties: messaging.DefaultClientProperties()}, false},
		{"bad header", messaging.DialOptions{Token: "not-a-jwt"}, true},
		{"bad InitConnection", messaging.DialOptions{Token: "not-a-jwt", InitConnection: true}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := messaging.Dial(t.Context(), e.ep.ConsumerURL(), tt.opts)
			if tt.rejected {
				if err == nil {
					c.Close()
					t.Fatal("dial succeeded")
				}
				if !messaging.IsTokenRejected(err) {
					t.Fatalf("err = %v, want a token rejection", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var conv protocol.RequestConversationResponse
			// One conversation per consumer: the second subtest gets 409,
			// which proves it is authenticated as the same consumer.
			err = c.Request(t.Context(), protocol.TypeConsumerRequestConversation, nil, &conv)
			if pe := asProtocolError(err); err != nil && (pe == nil || pe.Code != 409) {
				t.Fatal(err)
			}
		})
	}

	var se *messaging.StatusError
	_, err := messaging.Dial(t.Context(), e.ep.ConsumerURL(), messaging.DialOptions{Token: "x.y.z"})
	if !errors.As(err, &se) || se.StatusCode != http.StatusUnauthorized {
		t.Errorf("handshake error = %v, want a 401 StatusError", err)
	}
}

// TestConnNotificationsInOrder publishes many events and reads their echo
// back in sequence order, through OnNotification; Tap sees every frame.
func TestConnNotificationsInOrder(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var seqs []int64
	var taps atomic.Int64
	got := make(chan struct{})
	const n = 60
	c := dialConsumer(t, e, messaging.DialOptions{
		OnNotification: func(f protocol.Frame, _ time.Time) {
			if protocol.Canonical(f.Type) != protocol.TypeMessagingEventNotification {
				return
			}
			var body protocol.MessagingEventNotification
			if err := f.DecodeBody(&body); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, ev := range body.Changes {
				s, _ := ev.Seq()
				seqs = append(seqs, s)
				if len(seqs) == n {
					close(got)
				}
			}
		},
		Tap: func(bool, []byte) { taps.Add(1) },
	})
	var conv protocol.RequestConversationResponse
	if err := c.Request(t.Context(), protocol.TypeConsumerRequestConversation, nil, &conv); err != nil {
		t.Fatal(err)
	}
	id := conv.ConversationID
	if err := c.Request(t.Context(), protocol.TypeSubscribeMessagingEvents, protocol.SubscribeMessagingEvents{DialogID: id, ConversationID: id}, nil); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: fmt.Sprint(i)}
			if err := c.Request(t.Context(), protocol.TypePublishEvent, protocol.PublishEvent{DialogID: id, ConversationID: id, Event: ev}, nil); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	select {
	case <-got:
	case <-time.After(waitLimit):
		t.Fatal("not every event arrived")
	}
	mu.Lock()
	defer mu.Unlock()
	for i, s := range seqs {
		if s != int64(i) {
			t.Fatalf("sequences out of order: %v", seqs)
		}
	}
	// 2 + n requests and responses, n notifications at least.
	if got := taps.Load(); got < 2*(2+n)+n {
		t.Errorf("tap saw %d frames", got)
	}
}

// TestConnPingKeepsAlive: with pings more frequent than the service's idle
// timeout, an idle socket stays open past it; without, it is closed.
func TestConnPingKeepsAlive(t *testing.T) {
	e := newEnv(t, func(c *simulator.Config) { c.IdleTimeout = 150 * time.Millisecond })
	quiet := dialConsumer(t, e, messaging.DialOptions{PingInterval: -1})
	pinging := dialConsumer(t, e, messaging.DialOptions{PingInterval: 20 * time.Millisecond})
	select {
	case <-quiet.Done():
	case <-time.After(waitLimit):
		t.Fatal("idle socket without pings was not closed")
	}
	if _, err := pinging.GetClock(t.Context()); err != nil {
		t.Fatalf("pinging socket: %v", err)
	}
}

// TestConnSlowHandler: a handler that does not keep up drops the socket
// (ErrSlowHandler) instead of growing without bound; responses kept
// flowing meanwhile.
func TestConnSlowHandler(t *testing.T) {
	release := make(chan struct{})
	srv := scriptServer(t, func(ctx context.Context, _ *http.Request, c *websocket.Conn) {
		f, err := readReq(ctx, c)
		if err != nil {
			return
		}
		for range 20 {
			n, _ := protocol.NewNotification("X", json.RawMessage(`{}`))
			if writeFrame(ctx, c, n) != nil {
				return
			}
		}
		resp, _ := protocol.NewResponse(f.ID, 200, "", nil)
		_ = writeFrame(ctx, c, resp)
		_, _, _ = c.Read(ctx)
	})
	var handled atomic.Int64
	c, err := messaging.Dial(t.Context(), wsURL(srv), messaging.DialOptions{
		MaxQueued: 5,
		OnNotification: func(protocol.Frame, time.Time) {
			handled.Add(1)
			<-release
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	reqErr := c.Request(t.Context(), "Go", nil, nil)
	close(release)
	select {
	case <-c.Done():
	case <-time.After(waitLimit):
		t.Fatal("socket not dropped")
	}
	if !errors.Is(c.Err(), messaging.ErrSlowHandler) {
		t.Errorf("Err = %v, want ErrSlowHandler", c.Err())
	}
	// What was queued before the drop was still delivered.
	if h := handled.Load(); h < 5 {
		t.Errorf("handled %d notifications, want at least 5", h)
	}
	_ = reqErr // answered or closed, depending on timing; either is fine
}
