package live_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/outbox"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/receipts"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// owner is a session's domain as the tests play it: it records what the
// loop calls, and sends every tab a frame naming the tab when it attaches.
type owner struct {
	l *live.Loop[string]

	mu       sync.Mutex
	batches  [][]messaging.Update
	ended    []live.End
	upEnded  int
	commands []any
	typing   int

	// Receipts
	tracker   *receipts.Tracker
	open      bool
	published []receipts.Batch
	refuse    error
}

func (o *owner) Updates(b []messaging.Update) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.batches = append(o.batches, append([]messaging.Update(nil), b...))
}
func (o *owner) UpstreamEnded() { o.mu.Lock(); o.upEnded++; o.mu.Unlock() }
func (o *owner) Command(c any) {
	o.mu.Lock()
	o.commands = append(o.commands, c)
	o.mu.Unlock()
	if f, ok := c.(func()); ok {
		f()
	}
}
func (o *owner) Attached(t *live.Tab[string]) {
	o.l.Deliver(t, outbox.Frame{Data: []byte("hello " + t.Page)})
}
func (o *owner) TypingDone() { o.mu.Lock(); o.typing++; o.mu.Unlock() }
func (o *owner) Ending(why live.End) {
	o.mu.Lock()
	o.ended = append(o.ended, why)
	o.mu.Unlock()
}
func (o *owner) Receipts() live.ReceiptSink {
	return live.ReceiptSink{Tracker: o.tracker, Open: o.open, Publish: func(_ context.Context, b receipts.Batch) error {
		o.mu.Lock()
		defer o.mu.Unlock()
		if o.refuse != nil {
			return o.refuse
		}
		o.published = append(o.published, b)
		return nil
	}}
}

// start runs a loop on updates until the test ends.
func start(t *testing.T, cfg live.Config, updates <-chan messaging.Update) (*owner, *live.Loop[string], context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := live.New[string](cfg, slog.New(slog.DiscardHandler), cancel)
	o := &owner{l: l, open: true}
	l.Start(ctx)
	done := make(chan struct{})
	// Runs until the session's context ends (cancel, or idle).
	go func() {
		defer close(done)
		l.Run(ctx, updates, o)
		l.Ops.Wait()
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return o, l, cancel
}

// on runs fn on the loop and waits for it.
func on(t *testing.T, l *live.Loop[string], fn func()) {
	t.Helper()
	done := make(chan struct{})
	if !l.Do(func() { fn(); close(done) }) {
		t.Fatal("the loop ended")
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the loop did not run the command")
	}
}

func read(t *testing.T, p *outbox.Pipe) string {
	t.Helper()
	select {
	case f := <-p.C:
		return string(f.Data)
	case <-time.After(5 * time.Second):
		t.Fatal("no frame")
		return ""
	}
}

func ended(t *testing.T, tab *live.Tab[string]) outbox.Reason {
	t.Helper()
	select {
	case <-tab.Done():
		r, _ := tab.Reason()
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("the tab was not let go")
		return 0
	}
}

// TestTabs: a tab gets its view when it attaches; MaxTabs bounds the
// tabs and other pages together; a detached tab is let go and its place
// taken again.
func TestTabs(t *testing.T) {
	_, l, _ := start(t, live.Config{MaxTabs: 2, Grace: time.Hour}, nil)
	a, err := l.Attach("a")
	if err != nil {
		t.Fatal(err)
	}
	pa := outbox.NewPipe(8)
	a.Serve(pa)
	defer a.Stop()
	if got := read(t, pa); got != "hello a" {
		t.Errorf("the first frame is %q", got)
	}
	var addErr error
	on(t, l, func() { addErr = l.AddPage() })
	if addErr != nil {
		t.Fatalf("an inspector within the cap: %v", addErr)
	}
	b, _ := l.Attach("b")
	if r := ended(t, b); r != outbox.TooMany {
		t.Errorf("a third page was let go as %v, want TooMany", r)
	}
	on(t, l, func() { addErr = l.AddPage() })
	if addErr != live.ErrTooManyTabs {
		t.Errorf("a third page as an inspector: %v", addErr)
	}
	on(t, l, l.DropPage)
	a.Detach()
	if r := ended(t, a); r != outbox.Detached {
		t.Errorf("a detached tab was let go as %v", r)
	}
	c, _ := l.Attach("c")
	pc := outbox.NewPipe(8)
	c.Serve(pc)
	defer c.Stop()
	if got := read(t, pc); got != "hello c" {
		t.Errorf("the tab after one left got %q", got)
	}
	var n int
	on(t, l, func() { n = l.TabCount() })
	if n != 1 {
		t.Errorf("%d tabs, want 1", n)
	}
}

// TestSlowTab: a tab whose outbox is full is let go as Slow; the others
// keep getting frames.
func TestSlowTab(t *testing.T) {
	_, l, _ := start(t, live.Config{TabBuffer: 2, Grace: time.Hour}, nil)
	slow, _ := l.Attach("slow") // never served: its outbox fills
	fast, _ := l.Attach("fast")
	pf := outbox.NewPipe(64)
	fast.Serve(pf)
	defer fast.Stop()
	read(t, pf)
	// The fast tab reads each frame before the next goes out; the slow
	// one, with its view and one frame queued, is full at the second.
	for _, want := range []string{"0", "1", "2"} {
		on(t, l, func() { l.Broadcast(outbox.Frame{Data: []byte(want)}) })
		if got := read(t, pf); got != want {
			t.Errorf("the fast tab got %q, want %q", got, want)
		}
	}
	if r := ended(t, slow); r != outbox.Slow {
		t.Errorf("the slow tab was let go as %v", r)
	}
}

// TestGrace: a session no page ever attached to, or whose last page
// left, ends after the grace period; its owner hears why.
func TestGrace(t *testing.T) {
	o, l, _ := start(t, live.Config{Grace: 20 * time.Millisecond}, nil)
	select {
	case <-l.Ended():
	case <-time.After(5 * time.Second):
		t.Fatal("an idle session did not end")
	}
	if diff := cmp.Diff([]live.End{live.Idle}, o.ended); diff != "" {
		t.Errorf("ending (-want +got):\n%s", diff)
	}
}

// TestEnd: End lets the tabs go with its reason once the loop returned.
func TestEnd(t *testing.T) {
	o, l, _ := start(t, live.Config{Grace: time.Hour}, nil)
	tab, _ := l.Attach("a")
	p := outbox.NewPipe(8)
	tab.Serve(p)
	defer tab.Stop()
	read(t, p)
	on(t, l, func() {
		l.Broadcast(outbox.Frame{Data: []byte("goodbye")})
		l.End(outbox.SignedOut)
	})
	if got := read(t, p); got != "goodbye" {
		t.Errorf("the last frame is %q", got)
	}
	if r := ended(t, tab); r != outbox.SignedOut {
		t.Errorf("the tab was let go as %v", r)
	}
	<-l.Ended()
	if diff := cmp.Diff([]live.End{live.Stopped}, o.ended); diff != "" {
		t.Errorf("ending (-want +got):\n%s", diff)
	}
	if l.Do("late") {
		t.Error("a command after the end was taken")
	}
}

// TestBatches: updates already waiting reach the owner together, in
// order; the end of the updates is told after them.
func TestBatches(t *testing.T) {
	updates := make(chan messaging.Update, 600)
	for i := range int64(600) {
		updates <- messaging.EventUpdate{Event: protocol.MessagingEvent{Sequence: &i}}
	}
	close(updates)
	o, l, _ := start(t, live.Config{Grace: time.Hour}, updates)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var got int
		on(t, l, func() { got = o.upEnded })
		if got == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the end of the updates was not told")
		}
		time.Sleep(5 * time.Millisecond)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	n := int64(0)
	for _, b := range o.batches {
		if len(b) > 257 {
			t.Errorf("a batch of %d", len(b))
		}
		for _, u := range b {
			if id := *u.(messaging.EventUpdate).Event.Sequence; id != n {
				t.Fatalf("update %d came as %d", n, id)
			}
			n++
		}
	}
	if n != 600 || len(o.batches) > 3 {
		t.Errorf("%d updates in %d batches, want 600 in at most 3", n, len(o.batches))
	}
}

// TestReceiptPacing: a report's receipts go out as one flush after the
// window; none while held or while the upstream is down; a retryable
// failure keeps them due, and they go once it is over.
func TestReceiptPacing(t *testing.T) {
	o, l, _ := start(t, live.Config{FlushWindow: 10 * time.Millisecond, Grace: time.Hour}, nil)
	const dialog = "d"
	seq := func(n int64) *int64 { return &n }
	on(t, l, func() {
		o.tracker = receipts.New("me")
		o.tracker.Track(dialog)
		for n := range int64(3) {
			o.tracker.Observe(protocol.MessagingEvent{DialogID: dialog, Sequence: seq(n), OriginatorID: "agent",
				Event: protocol.Event{Type: protocol.EventContent, Message: "hi"}})
		}
		o.open = false
		_ = o.tracker.Delivered(dialog, 0)
		l.ArmFlush()
	})
	published := func() []receipts.Batch {
		var out []receipts.Batch
		on(t, l, func() {
			o.mu.Lock()
			out = append(out, o.published...)
			o.mu.Unlock()
		})
		return out
	}
	// Down: nothing goes; held: nothing goes.
	time.Sleep(30 * time.Millisecond)
	if got := published(); len(got) != 0 {
		t.Fatalf("published while the upstream was down: %v", got)
	}
	on(t, l, func() {
		o.open = true
		l.Ops.SetOpen(true) // as an owner does when its upstream opens
		l.HoldReceipts()
		l.ArmFlush()
	})
	time.Sleep(30 * time.Millisecond)
	if got := published(); len(got) != 0 {
		t.Fatalf("published while held: %v", got)
	}
	on(t, l, func() {
		_ = o.tracker.Seen(dialog, 1)
		l.ReleaseReceipts()
	})
	want := []receipts.Batch{{DialogID: dialog, Status: protocol.StatusAccept, Sequences: []int64{0, 1}}, {DialogID: dialog, Status: protocol.StatusRead, Sequences: []int64{1}}}
	deadline := time.Now().Add(5 * time.Second)
	for len(published()) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if diff := cmp.Diff(want, published()); diff != "" {
		t.Errorf("published (-want +got):\n%s", diff)
	}
}

// TestAwait: Await answers what the loop replies (once, the first reply),
// gives up with the caller's context, and says ErrEnded once the loop
// ended.
func TestAwait(t *testing.T) {
	_, l, cancel := start(t, live.Config{Grace: time.Hour}, nil)
	got, err := live.Await(t.Context(), l, func(reply func(string, error)) {
		reply("first", nil)
		reply("second", nil)
	})
	if got != "first" || err != nil {
		t.Errorf("Await: %q %v, want the first reply", got, err)
	}
	ctx, stop := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer stop()
	if _, err := live.Await(ctx, l, func(func(string, error)) {}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Await without a reply: %v, want the context's deadline", err)
	}
	cancel()
	<-l.Ended()
	if _, err := live.Await(t.Context(), l, func(reply func(string, error)) { reply("late", nil) }); !errors.Is(err, live.ErrEnded) {
		t.Errorf("Await after the end: %v, want ErrEnded", err)
	}
}
