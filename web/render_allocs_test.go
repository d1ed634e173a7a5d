//go:build !race

// The race detector allocates on its own account; the count below is the
// program's.

package web_test

import (
	"testing"

	"github.com/chatwindow/chatwindow/internal/relay"
)

// TestRenderMessageFragmentAllocs: the frame of one message (an agent's
// text appended, a customer's bubble updated with its ticks) is rendered
// with at most 8 allocations (the frame itself is one), the target for a
// message's fragment. Allocations are counted, not timed: the count does
// not depend on the machine.
func TestRenderMessageFragmentAllocs(t *testing.T) {
	const budget = 8
	r := testRenderer(t)
	for _, tc := range []struct {
		name   string
		change func(testing.TB) (relay.View, relay.Change)
	}{
		{"agent-text", agentTextChange},
		{"customer-ticks", customerTicksChange},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, ch := tc.change(t)
			var err error
			allocs := testing.AllocsPerRun(100, func() { _, err = r.Change(v, ch) })
			if err != nil {
				t.Fatal(err)
			}
			if allocs > budget {
				t.Errorf("%s: %v allocations per frame, want at most %d", tc.name, allocs, budget)
			}
		})
	}
}
