package relay_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/testing/livetab"
)

// node is another server's relay on the same service: its sessions start
// from the service's history.
func (w *world) node(t *testing.T) *relay.Manager {
	t.Helper()
	ep, srv := w.ep, w.srv
	ctx, cancel := context.WithCancel(context.Background())
	mgr := relay.NewManager(ctx, relay.Config{
		Logger:      testLogger(),
		Renderer:    jsonRenderer{},
		Grace:       time.Second,
		FlushWindow: 20 * time.Millisecond,
		Consumer: func(token string, tap func(bool, []byte)) (relay.Upstream, error) {
			return messaging.NewConsumer(messaging.ConsumerConfig{
				Endpoints: ep, Token: messaging.StaticToken(token), HTTPClient: srv.Client(), Tap: tap,
				SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
			})
		},
	})
	t.Cleanup(func() {
		cancel()
		mgr.Wait()
	})
	return mgr
}

// pageTab keeps the messages a page shows, as the page does: a window
// replaces them, a change adds and updates some.
type pageTab struct {
	mu   sync.Mutex
	msgs []relay.Message
}

// showTab attaches a tab to id's session on mgr and keeps what it shows
// until the test ends.
func showTab(t *testing.T, mgr *relay.Manager, id relay.Identity) *pageTab {
	t.Helper()
	rt, err := mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	pt := &pageTab{}
	livetab.Follow(t, rt.Tab, pt.apply)
	return pt
}

func (pt *pageTab) apply(f frame) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if f.Window != nil {
		pt.msgs = slices.Clone(f.Window.Messages)
		return
	}
	pt.msgs = append(pt.msgs, f.Change.Added...)
	for _, m := range f.Change.Updated {
		if i := slices.IndexFunc(pt.msgs, func(x relay.Message) bool { return x.Key == m.Key }); i >= 0 {
			pt.msgs[i] = m
		}
	}
}

// message returns the stored message (dialogID, seq) as the page shows it.
func (pt *pageTab) message(dialogID string, seq int64) (relay.Message, bool) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	i := slices.IndexFunc(pt.msgs, func(m relay.Message) bool { return m.HasSeq && m.DialogID == dialogID && m.Seq == seq })
	if i < 0 {
		return relay.Message{}, false
	}
	return pt.msgs[i], true
}

// messages returns copies of what the page shows.
func (pt *pageTab) messages() []relay.Message {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return slices.Clone(pt.msgs)
}
