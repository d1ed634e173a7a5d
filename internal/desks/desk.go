package desks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/chatwindow/chatwindow/internal/bidi"
	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/messaging"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/ratelog"
	"github.com/chatwindow/chatwindow/internal/receipts"
)

// Desk is one signed-in agent browser session. Its fields are owned by its
// loop's goroutine (it is the loop's live.Owner).
type Desk struct {
	cfg     Config
	log     *slog.Logger
	id      string
	name    string
	up      Upstream
	loop    *live.Loop[page]
	inbox   *Inbox
	tracker *receipts.Tracker // nil until the agent's ids are known
	// refusals limits the log lines of refused reports (made on the first).
	refusals *ratelog.Limiter
	ready    chan error // SignIn's answer: nil once open, or why not
	readied  bool
	cancel   context.CancelFunc

	conn     messaging.State
	wasOpen  bool
	followed map[string]bool
	// early holds events of dialogs not (yet) known as the agent's, until
	// the conversation's metadata says they are.
	early     map[string][]protocol.MessagingEvent
	typing    map[string]time.Time // conversation → when its typing indicator ends
	composed  map[string]time.Time // conversation → last COMPOSING published
	nextLocal int
}

// maxEarly bounds the events held for dialogs not yet known.
const maxEarly = 1000

// page is what the desk keeps of each tab: the conversation it shows.
type page struct{ selected string }

// Updates applies the agent connection's updates (live.Owner).
func (d *Desk) Updates(batch []messaging.Update) {
	for _, u := range batch {
		d.upstream(u)
	}
}

// UpstreamEnded: the agent's connection gave up (live.Owner).
func (d *Desk) UpstreamEnded() {
	d.setReady(ErrUnavailable)
	d.setConn(messaging.StateOffline)
}

// Attached sends a new tab the whole desk (live.Owner).
func (d *Desk) Attached(t *live.Tab[page]) { d.sendDesk(t) }

// TypingDone ends the typing indicators whose time is up (live.Owner).
func (d *Desk) TypingDone() { d.expireTyping() }

// Receipts is where the agent's receipts go (live.Owner).
func (d *Desk) Receipts() live.ReceiptSink {
	return live.ReceiptSink{
		Tracker: d.tracker,
		Open:    d.conn == messaging.StateOpen,
		Publish: func(ctx context.Context, b receipts.Batch) error {
			_, err := d.up.Publish(ctx, b.DialogID, b.Event())
			return err
		},
		Sync: d.up.Sync,
	}
}

// Ending: the desk ends (live.Owner); a SignIn still waiting is told.
func (d *Desk) Ending(why live.End) {
	if why == live.Idle {
		d.log.Info("desk ended after its grace period")
	}
	d.setReady(ErrUnavailable)
}

func (d *Desk) signOut() { d.loop.Do(signOutCmd{}) }

// setReady answers SignIn once.
func (d *Desk) setReady(err error) {
	if d.readied {
		return
	}
	d.readied = true
	d.ready <- err
}

// ensureSelf learns the agent's ids, known once it has logged in (before
// any notification is delivered).
func (d *Desk) ensureSelf() {
	if d.tracker != nil {
		return
	}
	pid := d.up.PID()
	if pid == "" {
		return
	}
	d.inbox.SetSelf(Self{PID: pid, OldID: d.up.OldID()})
	d.tracker = receipts.New(pid)
}

func (d *Desk) upstream(u messaging.Update) {
	d.ensureSelf()
	switch u := u.(type) {
	case messaging.StateChange:
		d.loop.Ops.SetOpen(u.State == messaging.StateOpen)
		switch {
		case u.State == messaging.StateOpen:
			d.setReady(nil)
			if d.wasOpen && d.tracker != nil {
				// Reconnected: hold receipts until the catch-up has shown
				// what landed. Those in flight stay in flight: the flush
				// that carries them may yet run on this socket, and settles
				// them (as the relay's sessions do).
				d.loop.HoldReceipts()
				d.loop.Ops.Push(func(ctx context.Context) func() {
					err := d.up.Sync(ctx)
					return func() {
						if err != nil {
							d.log.Debug("sync after reconnect", "error", err)
						}
					}
				})
			}
			d.wasOpen = true
		case u.State == messaging.StateOffline && u.Err != nil && !d.wasOpen:
			d.setReady(signInError(u.Err))
		case u.State == messaging.StateReconnecting && !d.wasOpen && errors.Is(signInError(u.Err), ErrLockedOut):
			// The client would retry the login until the lockout ends;
			// the person signing in is told now instead.
			d.setReady(signInError(u.Err))
		}
		d.setConn(u.State)
	case messaging.SyncUpdate:
		d.loop.ReleaseReceipts()
	case messaging.RoutingUpdate:
		if d.inbox.ApplyRouting(u.Change) {
			d.broadcast("", Change{Rings: true})
		}
	case messaging.ConversationUpdate:
		d.conversation(u.Change)
	case messaging.EventUpdate:
		d.event(u.Event)
	}
}

// RetryAfter is how long an ErrLockedOut asks to wait before the next
// attempt (0 when the service did not say).
func RetryAfter(err error) time.Duration {
	var se *messaging.StatusError
	if errors.Is(err, ErrLockedOut) && errors.As(err, &se) {
		return se.RetryAfter
	}
	return 0
}

// signInError tells the person signing in why the desk could not open: a
// refused login, a locked-out one, or a service that could not be reached.
// It answers what to say, not what to do next: messaging.Classify decided
// that already (the session gave up, or is still retrying a lockout).
func signInError(err error) error {
	var se *messaging.StatusError
	switch {
	case errors.As(err, &se) && (se.StatusCode == http.StatusUnauthorized || se.StatusCode == http.StatusForbidden):
		return ErrBadCredentials
	case errors.As(err, &se) && se.Op == "login" && se.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%w: %w", ErrLockedOut, err)
	}
	return fmt.Errorf("%w: %w", ErrUnavailable, err)
}

func (d *Desk) setConn(st messaging.State) {
	if st == d.conn {
		return
	}
	d.conn = st
	d.broadcast("", Change{Connection: true})
}

func (d *Desk) conversation(ch protocol.ConversationChange) {
	r := d.inbox.ApplyConversation(ch)
	if r.Thread == nil {
		if r.Rings {
			d.broadcast("", Change{Rings: true})
		}
		return
	}
	t := r.Thread
	if r.New {
		d.fetchProfile(t)
	}
	if _, still := d.inbox.Thread(t.ID); still {
		d.follow(t)
		if r.New {
			// A tab that accepted the ring shows it now.
			for tab := range d.loop.Tabs() {
				if tab.Page.selected == t.ID {
					d.sendDesk(tab)
				}
			}
		}
	} else {
		// No longer ours: tabs showing it show nothing.
		for tab := range d.loop.Tabs() {
			if tab.Page.selected == t.ID {
				tab.Page.selected = ""
				d.sendDesk(tab)
			}
		}
	}
	if r.Change.Closed {
		delete(d.typing, t.ID)
	}
	d.broadcast(t.ID, Change{Rings: r.Rings, List: r.List, Thread: r.Change})
	if r.Change.Closed {
		// A closed conversation stays while a tab shows it.
		d.dropClosed()
	}
}

// follow follows every dialog of an assigned conversation (history, then
// live), and applies what arrived before the desk knew it was ours.
func (d *Desk) follow(t *Thread) {
	for _, id := range t.Dialogs {
		if d.followed[id] || t.Closed {
			continue
		}
		d.followed[id] = true
		if d.tracker != nil {
			d.tracker.Track(id)
		}
		for _, ev := range d.early[id] {
			d.event(ev)
		}
		delete(d.early, id)
		d.loop.Request(func(ctx context.Context) error { return d.up.Follow(ctx, id, 0) }, func(err error) {
			if err != nil {
				d.log.Warn("follow dialog", "dialog_id", id, "error", err)
			}
		})
	}
}

// fetchProfile asks for the customer's profile: its name for the list and
// the pane, and its details for the Customer panel (docs/console.md,
// Customer). It is asked once per thread, when the thread is new, and
// again only when the agent opens a thread whose last ask failed: a
// render never asks.
func (d *Desk) fetchProfile(t *Thread) {
	id, consumer := t.ID, t.ConsumerID
	if t.ConsumerName == "" {
		t.ConsumerName = "Customer"
		if len(consumer) >= 4 {
			t.ConsumerName = "Customer " + consumer[:4]
		}
	}
	if consumer == "" {
		t.Profile = ProfileFailed
		return
	}
	t.Profile = ProfileLoading
	live.Call(d.loop, func(ctx context.Context) (protocol.UserProfile, error) {
		return d.up.GetUserProfile(ctx, consumer)
	}, func(p protocol.UserProfile, err error) {
		t, ok := d.inbox.Thread(id)
		if !ok || t.ConsumerID != consumer {
			return
		}
		if err != nil {
			d.log.Debug("consumer profile", "conversation_id", id, "error", err)
			t.Profile = ProfileFailed
			d.broadcast(id, Change{Thread: ThreadChange{Customer: true}})
			return
		}
		t.Profile, t.Customer = ProfileLoaded, CustomerFrom(p)
		// The customer's profile is theirs to write: no direction
		// controls in the name the agent reads.
		list := false
		if name := strings.TrimSpace(bidi.Strip(p.FirstName + " " + p.LastName)); name != "" && name != t.ConsumerName {
			t.ConsumerName, list = name, true
		}
		d.broadcast(id, Change{List: list, Thread: ThreadChange{Customer: true}})
	})
}

func (d *Desk) event(ev protocol.MessagingEvent) {
	t, ok := d.inbox.ThreadOf(ev.DialogID)
	if !ok || !d.followed[ev.DialogID] {
		if _, stored := ev.Seq(); stored && len(d.early[ev.DialogID]) < maxEarly {
			d.early[ev.DialogID] = append(d.early[ev.DialogID], ev)
		}
		return
	}
	if d.tracker != nil {
		d.tracker.Observe(ev)
	}
	ch := t.Apply(ev)
	if ev.Event.Type == protocol.EventChatState && t.ConsumerTyping {
		d.typing[t.ID] = time.Now().Add(d.cfg.TypingTimeout)
		d.armTyping()
	} else if ch.Typing && !t.ConsumerTyping {
		delete(d.typing, t.ID)
	}
	list := ch.Summary
	if len(ch.Added) > 0 && d.inbox.Touch(t.ID) {
		list = true
	}
	d.broadcast(t.ID, Change{List: list, Thread: ch})
}

func (d *Desk) armTyping() {
	var next time.Time
	for _, until := range d.typing {
		if next.IsZero() || until.Before(next) {
			next = until
		}
	}
	if next.IsZero() {
		d.loop.StopTyping()
		return
	}
	d.loop.ArmTyping(time.Until(next))
}

func (d *Desk) expireTyping() {
	now := time.Now()
	for id, until := range d.typing {
		if until.After(now) {
			continue
		}
		delete(d.typing, id)
		if t, ok := d.inbox.Thread(id); ok {
			d.broadcast(id, Change{Thread: t.StopTyping()})
		}
	}
	d.armTyping()
}
