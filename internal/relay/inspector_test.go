package relay_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chatwindow/chatwindow/internal/inspector"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/relay"
)

// TestInspectorOnTheService: on the embedded service, a session's
// inspector sees its frames in order with their direction and type: the
// InitConnection (its jwt redacted), the customer's publish and its
// response; the token appears in no frame.
func TestInspectorOnTheService(t *testing.T) {
	w := newWorld(t)
	ctx, cancel := context.WithCancel(context.Background())
	mgr := relay.NewManager(ctx, relay.Config{
		Logger: testLogger(), Renderer: jsonRenderer{}, Grace: time.Second,
		Consumer: func(token string, tap func(bool, []byte)) (relay.Upstream, error) {
			return messaging.NewConsumer(messaging.ConsumerConfig{
				Endpoints: w.ep, Token: messaging.StaticToken(token), HTTPClient: w.srv.Client(),
				InitConnection: true, Tap: tap,
				SessionOptions: messaging.SessionOptions{Logger: testLogger(), Backoff: fastBackoff},
			})
		},
	})
	t.Cleanup(func() {
		cancel()
		mgr.Wait()
	})
	id := w.identity(t)

	// The inspector may come first: it starts the session.
	watch, err := mgr.Inspect(id)
	if err != nil {
		t.Fatal(err)
	}
	defer watch.Close()
	rt, err := mgr.Attach(id)
	if err != nil {
		t.Fatal(err)
	}
	runTab(t, rt, false)
	rt.Send("hello inspector")

	var got []inspector.Frame
	var pubID string
	deadline := time.After(10 * time.Second)
	for done := false; !done; {
		select {
		case <-watch.Ready():
		case <-deadline:
			t.Fatalf("no publish response within 10 s; frames: %v", types(got))
		}
		fs, missed := watch.Next()
		if missed != 0 {
			t.Errorf("missed %d frames", missed)
		}
		got = append(got, fs...)
		for _, f := range fs {
			if f.Out && f.Type == "ms.PublishEvent" && strings.Contains(f.JSON, "hello inspector") {
				pubID = f.ID
			}
			if !f.Out && f.Kind == "resp" && pubID != "" && f.ID == pubID {
				if f.Code != 200 || !strings.Contains(f.Type, "PublishEvent") {
					t.Errorf("the publish's response: code %d type %q", f.Code, f.Type)
				}
				done = true
			}
		}
	}

	if len(got) == 0 || got[0].Type != "InitConnection" || !got[0].Out || got[0].Kind != "req" {
		t.Fatalf("the first frame is not the InitConnection request: %+v", got[0])
	}
	if !strings.Contains(got[0].JSON, `"jwt": "[redacted]"`) {
		t.Errorf("InitConnection's jwt is not redacted:\n%s", got[0].JSON)
	}
	if got[1].Out || got[1].Kind != "resp" || got[1].ID != got[0].ID || got[1].Code != 200 {
		t.Errorf("the second frame is not InitConnection's response: %+v", got[1])
	}
	for i, f := range got {
		if f.N != int64(i+1) {
			t.Errorf("frame %d is numbered %d", i+1, f.N)
		}
		if f.At.IsZero() {
			t.Errorf("frame %d has no time", f.N)
		}
		if strings.Contains(f.JSON, id.Token) || strings.Contains(f.JSON, id.Token[:40]) {
			t.Errorf("frame %d (%s) shows the token:\n%s", f.N, f.Type, f.JSON)
		}
	}

	// A second watcher starts from what is kept.
	w2, err := mgr.Inspect(id)
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	if fs, missed := w2.Next(); missed != 0 || len(fs) < len(got) || fs[0].N != 1 {
		t.Errorf("a new watcher got %d frames from %v (missed %d), want at least %d from 1", len(fs), types(fs), missed, len(got))
	}
}

func types(fs []inspector.Frame) []string {
	var out []string
	for _, f := range fs {
		dir := "<"
		if f.Out {
			dir = ">"
		}
		out = append(out, dir+f.Type)
	}
	return out
}
