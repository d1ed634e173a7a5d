package desks

import (
	"slices"
	"time"

	"github.com/chatwindow/chatwindow/internal/protocol"
)

// Ring is a conversation offered to the agent (docs/protocol.md, Routing and
// agent state): it waits for the agent's Accept.
type Ring struct {
	ID             string
	ConversationID string
	ConsumerID     string
	ExpiresAt      time.Time
}

// Inbox is the agent's rings and conversations, as pure data. It is not
// safe for concurrent use (the desk's loop owns it).
type Inbox struct {
	self    Self
	rings   []Ring
	threads map[string]*Thread
	order   []string // thread ids, most recent first
}

// NewInbox returns an empty inbox for the agent self.
func NewInbox(self Self) *Inbox {
	return &Inbox{self: self, threads: map[string]*Thread{}}
}

// SetSelf sets the agent's ids (known once it has logged in).
func (in *Inbox) SetSelf(self Self) {
	in.self = self
	for _, t := range in.threads {
		t.self = self
	}
}

// Self is the agent's ids.
func (in *Inbox) Self() Self { return in.self }

// Rings returns the waiting rings, oldest first.
func (in *Inbox) Rings() []Ring { return slices.Clone(in.rings) }

// Ring returns a waiting ring by id.
func (in *Inbox) Ring(id string) (Ring, bool) {
	for _, r := range in.rings {
		if r.ID == id {
			return r, true
		}
	}
	return Ring{}, false
}

// Threads returns the conversations, most recent first.
func (in *Inbox) Threads() []*Thread {
	out := make([]*Thread, 0, len(in.order))
	for _, id := range in.order {
		out = append(out, in.threads[id])
	}
	return out
}

// Thread returns a conversation by id.
func (in *Inbox) Thread(id string) (*Thread, bool) {
	t, ok := in.threads[id]
	return t, ok
}

// ThreadOf returns the conversation a dialog belongs to.
func (in *Inbox) ThreadOf(dialogID string) (*Thread, bool) {
	if t, ok := in.threads[dialogID]; ok {
		return t, true
	}
	for _, t := range in.threads {
		if t.HasDialog(dialogID) {
			return t, true
		}
	}
	return nil, false
}

// ApplyRouting takes one routing task change and reports whether the
// rings changed. A ring is shown while it is WAITING and its task is not
// completed.
func (in *Inbox) ApplyRouting(ch protocol.RoutingTaskChange) bool {
	r := ch.Result
	changed := false
	for _, d := range r.RingsDetails {
		conv := d.ConvID
		if conv == "" {
			conv = r.ConversationID
		}
		consumer := d.ConsumerID
		if consumer == "" {
			consumer = r.ConsumerID
		}
		waiting := ch.Type != protocol.ChangeDelete && !r.TaskCompleted && d.RingState == protocol.RingWaiting
		i := slices.IndexFunc(in.rings, func(x Ring) bool { return x.ID == d.RingID })
		switch {
		case waiting && i < 0:
			if _, mine := in.threads[conv]; mine {
				continue // already ours
			}
			ring := Ring{ID: d.RingID, ConversationID: conv, ConsumerID: consumer}
			if d.RingExpirationTs > 0 {
				ring.ExpiresAt = time.UnixMilli(d.RingExpirationTs)
			}
			in.rings = append(in.rings, ring)
			changed = true
		case !waiting && i >= 0:
			in.rings = slices.Delete(in.rings, i, i+1)
			changed = true
		}
	}
	if r.TaskCompleted || ch.Type == protocol.ChangeDelete {
		changed = in.dropRings(r.ConversationID) || changed
	}
	return changed
}

// DropRing takes a ring off the list (the agent declined it).
func (in *Inbox) DropRing(id string) bool {
	n := len(in.rings)
	in.rings = slices.DeleteFunc(in.rings, func(r Ring) bool { return r.ID == id })
	return len(in.rings) != n
}

// DropClosed takes the closed conversations off the list but those shown,
// and returns their ids.
func (in *Inbox) DropClosed(shown map[string]bool) []string {
	var dropped []string
	in.order = slices.DeleteFunc(in.order, func(id string) bool {
		if t := in.threads[id]; t.Closed && !shown[id] {
			delete(in.threads, id)
			dropped = append(dropped, id)
			return true
		}
		return false
	})
	return dropped
}

func (in *Inbox) dropRings(convID string) bool {
	n := len(in.rings)
	in.rings = slices.DeleteFunc(in.rings, func(r Ring) bool { return r.ConversationID == convID })
	return len(in.rings) != n
}

// ConversationResult is what ApplyConversation did.
type ConversationResult struct {
	// Thread is the conversation's thread, when it has (or had) one.
	Thread *Thread
	// New: the thread was just created (follow its dialogs).
	New bool
	// Change is what happened to an existing thread.
	Change ThreadChange
	// List and Rings say that the list of conversations or of rings changed.
	List, Rings bool
}

// ApplyConversation takes one change of a conversation's metadata (aam).
// The conversations shown are those the agent is ASSIGNED_AGENT of; a
// conversation that got an agent stops ringing.
func (in *Inbox) ApplyConversation(ch protocol.ConversationChange) ConversationResult {
	var out ConversationResult
	r := ch.Result
	d := r.ConversationDetails
	closed := ch.Type == protocol.ChangeDelete || d.Stage == protocol.StateClose || d.State == protocol.StateClose
	assigned, mine, consumer := false, false, ""
	for _, p := range d.Members() {
		switch p.Role {
		case protocol.RoleAssignedAgent:
			assigned = true
			mine = mine || p.ID == in.self.PID
		case protocol.RoleConsumer:
			consumer = p.ID
		}
	}
	for _, p := range d.Participants.List {
		if p.Role == protocol.RoleAssignedAgent && in.self.OldID != "" && p.ID == in.self.OldID {
			mine = true
		}
	}
	if assigned || closed {
		out.Rings = in.dropRings(r.ConvID)
	}
	t, known := in.threads[r.ConvID]
	switch {
	case known && closed:
		out.Thread, out.Change = t, t.Close()
		out.List = !out.Change.Empty()
	case known && !mine:
		// Transferred or left: no longer ours to show.
		delete(in.threads, r.ConvID)
		in.order = slices.DeleteFunc(in.order, func(id string) bool { return id == r.ConvID })
		out.Thread, out.List = t, true
	case !known && mine && !closed:
		t = NewThread(r.ConvID, in.self)
		t.ConsumerID = consumer
		in.threads[r.ConvID] = t
		in.order = slices.Insert(in.order, 0, r.ConvID)
		out.Thread, out.New, out.List = t, true, true
	case known:
		out.Thread = t
	}
	if t != nil && (out.New || known) {
		if t.ConsumerID == "" {
			t.ConsumerID = consumer
		}
		for _, dl := range d.Dialogs {
			if dl.DialogID != "" && !t.HasDialog(dl.DialogID) {
				t.Dialogs = append(t.Dialogs, dl.DialogID)
			}
		}
	}
	return out
}

// Touch moves a conversation to the top of the list (new activity).
func (in *Inbox) Touch(id string) bool {
	i := slices.Index(in.order, id)
	if i <= 0 {
		return false
	}
	in.order = slices.Delete(in.order, i, i+1)
	in.order = slices.Insert(in.order, 0, id)
	return true
}
