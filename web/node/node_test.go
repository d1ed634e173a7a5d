package node_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/relay"
	"github.com/chatwindow/chatwindow/internal/simulator"
	"github.com/chatwindow/chatwindow/internal/testing/testenv"
	"github.com/chatwindow/chatwindow/web/node"
	"github.com/chatwindow/chatwindow/web/window"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var sessionKeys = [][]byte{[]byte("0123456789abcdef0123456789abcdef"), []byte("fedcba9876543210fedcba9876543210")}

// TestRefusedTokenSignsUpAgain: a session whose cookie holds a token the
// service refuses gets a new identity the way the first was obtained (the
// node's Signup) and connects with it. Tests that wired their own
// consumers with a fixed token never ran this path.
func TestRefusedTokenSignsUpAgain(t *testing.T) {
	lp := testenv.NewService(t, simulator.Config{Account: "1"})
	var signups atomic.Int64
	n, err := node.New(context.Background(), node.Config{
		Endpoints: lp.EP, HTTPClient: lp.Srv.Client(), Backoff: testenv.FastBackoff,
		Web: window.Config{SessionKeys: sessionKeys, Signup: func(ctx context.Context) (string, error) {
			signups.Add(1)
			return messaging.Signup(ctx, lp.Srv.Client(), lp.EP)
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Close)

	// A well-formed token, of another account: the service refuses it.
	other := testenv.NewService(t, simulator.Config{Account: "2"})
	refused, err := messaging.Signup(t.Context(), other.Srv.Client(), other.EP)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := n.Relay().Attach(relay.Identity{SessionID: "s1", Token: refused})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Detach()
	deadline := time.Now().Add(testenv.WaitLimit)
	for {
		v, _ := n.Relay().View("s1")
		if v.Connection == messaging.StateOpen {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the session is %q after %s, want open on a new identity", v.Connection, testenv.WaitLimit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	tok, _ := n.Relay().Token("s1")
	got := struct {
		Signups  int64
		NewToken bool
	}{signups.Load(), tok != refused && tok != ""}
	want := struct {
		Signups  int64
		NewToken bool
	}{1, true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after the refusal (-want +got):\n%s", diff)
	}
}
