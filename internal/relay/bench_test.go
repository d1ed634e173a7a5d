package relay_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/outbox"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/simulator"
)

// The benchmarks of this file measure the relay: one agent message from
// the session's upstream to the frame written to every tab's socket (here
// an outbox.Pipe, read by the benchmark). They render with keyRenderer, not
// the window's markup, so that they measure the relay and not the views:
// web's BenchmarkRenderMessageFragment measures the render of the same
// message (add the two for the whole cost). They measure and assert
// nothing about speed.

// keyRenderer renders a change as the keys of the messages it adds, so
// that a benchmark can tell the frame it waits for from others.
type keyRenderer struct{}

func (keyRenderer) Window(relay.View) ([]byte, error) { return []byte("window"), nil }

func (keyRenderer) Change(v relay.View, ch relay.Change) ([]byte, error) {
	b := make([]byte, 0, 64)
	b = append(b, "change"...)
	added := ch.Added
	if ch.Reset {
		// The list is shown anew (a message came before one already
		// shown: the agent's first answer overtook the customer's first
		// words): every message is in the frame, as the page has it.
		added = v.Messages
	}
	for _, m := range added {
		b = append(append(b, ' '), m.Key...)
	}
	return b, nil
}

// benchToken is a token the session reads its consumer id from; in the
// in-process benchmarks it never reaches a service.
func benchToken(sub string) string {
	claims := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"` + sub + `"}`))
	return "e30." + claims + ".c2ln"
}

// procUpstream is a session's upstream without a socket: the benchmark
// hands the session updates as the messaging client delivers them (decoded:
// internal/protocol's benchmarks measure the decode), and every request the
// session makes succeeds at once.
type procUpstream struct {
	token   string
	updates chan messaging.Update
}

// Run returns when the session ends.
func (u *procUpstream) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
func (u *procUpstream) Updates() <-chan messaging.Update { return u.updates }
func (u *procUpstream) Token() string                    { return u.token }
func (u *procUpstream) SubscribeConversations(context.Context, protocol.SubscribeExConversations) error {
	return nil
}
func (u *procUpstream) RequestConversation(context.Context, protocol.ConsumerRequestConversation) (string, error) {
	return "", errors.New("the benchmark makes no conversation by request")
}
func (u *procUpstream) Follow(context.Context, string, string, int64) error { return nil }
func (u *procUpstream) Publish(context.Context, string, string, protocol.Event) (int64, error) {
	return 0, nil
}
func (u *procUpstream) PublishWithMetadata(context.Context, string, string, protocol.Event, json.RawMessage) (int64, error) {
	return 0, nil
}
func (u *procUpstream) CloseConversation(context.Context, string) error           { return nil }
func (u *procUpstream) RateCSAT(context.Context, string, int, bool, string) error { return nil }
func (u *procUpstream) EndConversation(context.Context, string) error             { return nil }
func (u *procUpstream) CloseDialog(context.Context, string, string, string) error { return nil }
func (u *procUpstream) GetUserProfile(context.Context, string) (protocol.UserProfile, error) {
	return protocol.UserProfile{Nickname: "Alice"}, nil
}
func (u *procUpstream) Sync(context.Context) error { return nil }
func (u *procUpstream) GenerateDownloadURL(context.Context, string) (messaging.StorageURL, error) {
	return messaging.StorageURL{}, nil
}
func (u *procUpstream) GenerateUploadURL(context.Context, int64, string) (messaging.StorageURL, error) {
	return messaging.StorageURL{}, nil
}

// benchTab is one attached tab whose socket is a pipe.
type benchTab struct {
	rt   *relay.Tab
	pipe *outbox.Pipe
}

// next is the tab's next frame (a hang fails the benchmark).
func (t benchTab) next(b *testing.B) []byte {
	select {
	case f := <-t.pipe.C:
		return f.Data
	case <-t.rt.Done():
		b.Fatal("the session let the tab go")
	case <-time.After(10 * time.Second):
		b.Fatal("no frame within 10 s")
	}
	return nil
}

// expect reads one frame from every tab and fails unless it starts with
// prefix.
func expect(b *testing.B, tabs []benchTab, prefix string) {
	b.Helper()
	for _, t := range tabs {
		if f := t.next(b); !bytes.HasPrefix(f, []byte(prefix)) {
			b.Fatalf("tab got %q, want %s…", f, prefix)
		}
	}
}

// attachTabs attaches n tabs to the session of id, each served by a pipe;
// detach lets them go.
func attachTabs(b *testing.B, mgr *relay.Manager, id relay.Identity, n int) (tabs []benchTab, detach func()) {
	b.Helper()
	detach = func() {
		for _, t := range tabs {
			t.rt.Detach()
			t.pipe.Close()
			t.rt.Stop()
		}
	}
	for range n {
		rt, err := mgr.Attach(id)
		if err != nil {
			detach()
			b.Fatal(err)
		}
		t := benchTab{rt: rt, pipe: outbox.NewPipe(16)}
		rt.Serve(t.pipe)
		tabs = append(tabs, t)
		expect(b, tabs[len(tabs)-1:], "window")
	}
	return tabs, detach
}

// convChange is the service's conversation change: open, or closed.
func convChange(id string, open bool) messaging.Update {
	st := protocol.StateOpen
	if !open {
		st = protocol.StateClose
	}
	return messaging.ConversationUpdate{
		Change: protocol.ConversationChange{Type: protocol.ChangeUpsert, Result: protocol.ConversationResult{
			ConvID: id, ConversationDetails: protocol.ConversationDetails{State: st, Stage: st},
		}},
		Received: time.Now(),
	}
}

// BenchmarkRelayNotificationToTab measures, in process, one agent text
// message from the session's upstream (an EventUpdate, as the messaging
// client hands over each event of a MessagingEventNotification) to the
// frame written to every tab's socket: the session's loop, the
// conversation, the receipt tracker, the render (keyRenderer), each tab's
// outbox and its writer. tabs=4 is the fan-out of one message to four tabs
// of one browser session.
//
// With the timer stopped, the conversation is started anew (closed, then
// a new one opened) every 100 messages, and the session every 1,000, so an
// op sees a conversation of 0 to 99 messages and a session that has seen
// fewer than 1,000, whatever b.N.
func BenchmarkRelayNotificationToTab(b *testing.B) {
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("tabs=%d", n), func(b *testing.B) { benchInProcess(b, n) })
	}
}

// inProcess is a session on a procUpstream, with its tabs, and the
// conversation it shows.
type inProcess struct {
	cancel context.CancelFunc
	mgr    *relay.Manager
	up     *procUpstream
	tabs   []benchTab
	detach func()
	conv   string
	convs  int // conversations so far
}

const benchSelf, benchAgent = "consumer-1", "agent-1"

func startInProcess(b *testing.B, ntabs int) *inProcess {
	ctx, cancel := context.WithCancel(context.Background())
	p := &inProcess{cancel: cancel, up: &procUpstream{token: benchToken(benchSelf), updates: make(chan messaging.Update, 1)}}
	p.mgr = relay.NewManager(ctx, relay.Config{
		Logger: slog.New(slog.DiscardHandler), Renderer: keyRenderer{}, Grace: time.Minute,
		Consumer: func(string, func(bool, []byte)) (relay.Upstream, error) { return p.up, nil },
	})
	p.tabs, p.detach = attachTabs(b, p.mgr, relay.Identity{SessionID: "bench-session", Token: p.up.token}, ntabs)
	p.up.updates <- messaging.StateChange{State: messaging.StateOpen}
	expect(b, p.tabs, "change") // the banner
	p.newConversation(b)
	return p
}

// newConversation closes the conversation (if any) and opens another.
func (p *inProcess) newConversation(b *testing.B) {
	if p.conv != "" {
		p.up.updates <- convChange(p.conv, false)
		expect(b, p.tabs, "change") // the rating offered
		p.tabs[0].rt.NewConversation()
		expect(b, p.tabs, "window")
	}
	p.convs++
	p.conv = "conversation-" + strconv.Itoa(p.convs)
	p.up.updates <- convChange(p.conv, true)
	expect(b, p.tabs, "change") // the phase
}

// stop lets the tabs go and ends the session.
func (p *inProcess) stop() {
	p.detach()
	p.cancel()
	p.mgr.Wait()
}

func benchInProcess(b *testing.B, ntabs int) {
	const perConversation, perSession = 100, 10
	p := startInProcess(b, ntabs)
	b.Cleanup(func() { p.stop() })
	var seq int64
	last := make([][]byte, ntabs)
	b.ReportAllocs()
	for b.Loop() {
		if seq == perConversation {
			b.StopTimer()
			if p.convs == perSession {
				p.stop()
				p = startInProcess(b, ntabs)
			} else {
				p.newConversation(b)
			}
			seq = 0
			b.StartTimer()
		}
		p.up.updates <- messaging.EventUpdate{
			Event: protocol.MessagingEvent{
				Sequence: protocol.Seq(seq), DialogID: p.conv, ConversationID: p.conv, OriginatorID: benchAgent,
				OriginatorMetadata: &protocol.OriginatorMetadata{ID: benchAgent, Role: protocol.RoleAssignedAgent},
				ServerTimestamp:    time.Now().UnixMilli(),
				Event:              protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "Hello, how can I help you today?"},
			},
			Received: time.Now(),
		}
		for i, t := range p.tabs {
			last[i] = t.next(b)
		}
		seq++
	}
	b.StopTimer()
	want := fmt.Sprintf("change m-%s-%d", p.conv, seq-1)
	for i, f := range last {
		if string(f) != want {
			b.Fatalf("tab %d's last frame is %q, want %q", i, f, want)
		}
	}
}

// BenchmarkRelayAgentPublishToTabLoopback measures the same message end to
// end on loopback: the agent publishes it to the embedded service (request
// and response on the agent's socket), the service notifies the consumer's
// socket, the messaging client decodes it and hands it to the session, and
// the frame is written to every tab's socket (a pipe). Its ns/op includes
// the service's and the agent client's work; BenchmarkRelayNotificationToTab
// is the relay's share. The service's per-socket rate limit is lifted (the
// agent publishes as fast as it can). The conversation grows by one
// message per op.
func BenchmarkRelayAgentPublishToTabLoopback(b *testing.B) {
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("tabs=%d", n), func(b *testing.B) { benchLoopback(b, n) })
	}
}

func benchLoopback(b *testing.B, ntabs int) {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	svc, err := simulator.New(simulator.Config{
		Account: account, Agents: []simulator.Agent{{Name: "alice", Password: "pw"}},
		Logger: testLogger(), SigningKey: testKey(), RateLimit: math.MaxInt32, RateBurst: math.MaxInt32,
	})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(svc)
	b.Cleanup(func() {
		svc.Close()
		srv.Close()
	})
	ep, err := messaging.Discover(ctx, srv.Client(), srv.URL, account, messaging.Overrides{})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := messaging.Signup(ctx, srv.Client(), ep)
	if err != nil {
		b.Fatal(err)
	}
	mgr := relay.NewManager(ctx, relay.Config{
		Logger: testLogger(), Renderer: keyRenderer{}, Grace: time.Minute,
		Consumer: func(token string, tap func(bool, []byte)) (relay.Upstream, error) {
			return messaging.NewConsumer(messaging.ConsumerConfig{
				Endpoints: ep, Token: messaging.StaticToken(token), HTTPClient: srv.Client(), Tap: tap,
				SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
			})
		},
	})
	// Cleanups run last first: the agent stops, the tabs go, the sessions
	// end, then the service closes.
	b.Cleanup(func() {
		cancel()
		mgr.Wait()
	})
	tabs, detach := attachTabs(b, mgr, relay.Identity{SessionID: "bench-loopback", Token: tok}, ntabs)
	b.Cleanup(detach)

	a, err := messaging.NewAgent(messaging.AgentConfig{
		Endpoints: ep, Username: "alice", Password: "pw", HTTPClient: srv.Client(),
		SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
	})
	if err != nil {
		b.Fatal(err)
	}
	if err := a.SetAgentState(ctx, protocol.AgentOnline); err != nil {
		b.Fatal(err)
	}
	if err := a.SubscribeRoutingTasks(ctx); err != nil {
		b.Fatal(err)
	}
	agentDone := make(chan struct{})
	// The agent runs until the benchmark ends.
	go func() {
		defer close(agentDone)
		_ = a.Run(ctx)
	}()
	b.Cleanup(func() {
		cancel()
		<-agentDone
	})

	tabs[0].rt.Send("hello")
	conv := ""
	deadline := time.After(10 * time.Second)
	for conv == "" {
		select {
		case u := <-a.Updates():
			r, ok := u.(messaging.RoutingUpdate)
			if !ok {
				continue
			}
			for _, ring := range r.Change.Result.RingsDetails {
				if ring.RingState == protocol.RingWaiting {
					if err := a.AcceptRing(ctx, ring.RingID); err != nil {
						b.Fatal(err)
					}
					conv = r.Change.Result.ConversationID
				}
			}
		case <-deadline:
			b.Fatal("no ring within 10 s")
		}
	}
	drained := make(chan struct{})
	// Reads the agent's own updates (the benchmark does not look at them)
	// until the benchmark ends, so that its client never waits on them.
	go func() {
		defer close(drained)
		for {
			select {
			case <-ctx.Done():
				return
			case <-a.Updates():
			}
		}
	}()
	b.Cleanup(func() {
		cancel()
		<-drained
	})

	// waitFor reads each tab's frames until the one that adds key.
	waitFor := func(key []byte) {
		for _, t := range tabs {
			for !bytes.Contains(t.next(b), key) {
			}
		}
	}
	publish := func(i int) int64 {
		seq, err := a.Publish(ctx, conv, protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: "Hello, how can I help you today? " + strconv.Itoa(i)})
		if err != nil {
			b.Fatal(err)
		}
		return seq
	}
	// One message first, out of the timer: the session follows the
	// dialog and the tabs show it.
	waitFor([]byte(fmt.Sprintf("m-%s-%d", conv, publish(0))))

	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		waitFor([]byte("m-" + conv + "-" + strconv.FormatInt(publish(i), 10)))
	}
}
