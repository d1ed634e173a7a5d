package desks_test

import (
	"slices"
	"testing"

	"github.com/chatwindow/chatwindow/internal/desks"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/simulator"
)

// skilledDesks: alice takes skill 10, bob 20; the console offers both.
func skilledDesks(s *simulator.Config, d *desks.Config) {
	s.Agents = []simulator.Agent{{Name: "alice", Password: "pw", Skills: []string{"10"}}, {Name: "bob", Password: "pw", Skills: []string{"20"}}}
	d.Skills = []string{"10", "20"}
}

// signedIn is a signed-in desk's tab, open.
func (w *world) signedIn(t *testing.T, name string) *tab {
	t.Helper()
	id, err := w.mgr.SignIn(t.Context(), name, "pw")
	if err != nil {
		t.Fatal(err)
	}
	tb := attach(t, w.mgr, id)
	tb.waitFor(t, name+"'s desk open", func(v desks.View, _ []desks.Message) bool { return v.Connection == messaging.StateOpen })
	return tb
}

// take accepts the tab's ring of conv and waits until it shows it.
func (tb *tab) take(t *testing.T, conv string) {
	t.Helper()
	var ring string
	tb.waitFor(t, "the ring of "+conv, func(v desks.View, _ []desks.Message) bool {
		i := slices.IndexFunc(v.Rings, func(r desks.Ring) bool { return r.ConversationID == conv })
		if i >= 0 {
			ring = v.Rings[i].ID
		}
		return i >= 0
	})
	tb.Accept(ring)
	tb.waitFor(t, "the conversation shown", func(v desks.View, _ []desks.Message) bool { return v.Selected != nil && v.Selected.ID == conv })
}

// TestDeskTransfer: from the console, an agent transfers its conversation
// to another skill (it leaves the agent's list, the customer sees the agent
// leave and the new skill, that skill's agents are rung), and puts one back
// to the queue (its skill's agents are rung again). A skill the console
// does not offer is refused.
func TestDeskTransfer(t *testing.T) {
	w := newWorld(t, skilledDesks)
	alice, bob := w.signedIn(t, "alice"), w.signedIn(t, "bob")
	if got := alice.viewNow().Skills; !slices.Equal(got, []string{"10", "20"}) {
		t.Errorf("skills offered %v", got)
	}
	cu := w.customer(t)
	conv, err := cu.RequestConversation(t.Context(), protocol.ConsumerRequestConversation{SkillID: "10"})
	if err != nil {
		t.Fatal(err)
	}
	alice.take(t, conv)

	alice.Transfer(conv, "99") // not offered: nothing happens
	alice.Transfer(conv, "20")
	alice.waitFor(t, "the conversation gone from alice's list", func(v desks.View, _ []desks.Message) bool {
		return len(v.Conversations) == 0 && v.Selected == nil
	})
	cu.waitFor(t, "the agent left, skill 20", func(ups []messaging.Update) bool {
		return slices.ContainsFunc(ups, func(u messaging.Update) bool {
			c, ok := u.(messaging.ConversationUpdate)
			d := c.Change.Result.ConversationDetails
			return ok && string(d.SkillID) == "20" && len(d.Members()) == 1
		})
	})
	if n := w.skillChanges(cu); n != 1 {
		t.Errorf("%d changes of skill at the customer, want 1 (the unoffered skill 99 was refused)", n)
	}
	bob.take(t, conv)

	bob.Transfer(conv, "")
	bob.waitFor(t, "the conversation back in the queue, ringing bob again", func(v desks.View, _ []desks.Message) bool {
		return len(v.Conversations) == 0 && slices.ContainsFunc(v.Rings, func(r desks.Ring) bool { return r.ConversationID == conv })
	})
}

// skillChanges counts the distinct skills the customer's metadata showed
// after the first.
func (w *world) skillChanges(cu *customer) int {
	cu.mu.Lock()
	defer cu.mu.Unlock()
	var skills []string
	for _, u := range cu.ups {
		if c, ok := u.(messaging.ConversationUpdate); ok {
			if s := string(c.Change.Result.ConversationDetails.SkillID); len(skills) == 0 || skills[len(skills)-1] != s {
				skills = append(skills, s)
			}
		}
	}
	return len(skills) - 1
}

// viewNow is the tab's last view.
func (tb *tab) viewNow() desks.View {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return tb.view
}
