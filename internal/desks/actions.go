package desks

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/chatwindow/chatwindow/internal/bidi"
	"github.com/chatwindow/chatwindow/internal/live"
	"github.com/chatwindow/chatwindow/internal/outbox"
	"github.com/chatwindow/chatwindow/internal/protocol"
	"github.com/chatwindow/chatwindow/internal/ratelog"
	"github.com/chatwindow/chatwindow/internal/receipts"
)

// Command handles a tab's command (live.Owner).
func (d *Desk) Command(c any) {
	switch c := c.(type) {
	case viewCmd:
		c.reply <- d.view("", true)
	case openCmd:
		t, ok := d.inbox.Thread(c.conv)
		if !ok || c.t.Page.selected == c.conv {
			return
		}
		c.t.Page.selected = c.conv
		if t.Profile == ProfileFailed && t.ConsumerID != "" {
			d.fetchProfile(t)
		}
		d.sendDesk(c.t)
		d.dropClosed()
	case acceptCmd:
		d.accept(c.t, c.ringID)
	case declineCmd:
		d.decline(c.ringID)
	case sendCmd:
		d.send(c.t, c.conv, c.text)
	case retryCmd:
		d.retry(c.t, c.conv, c.localID)
	case typingCmd:
		d.typingState(c.t, c.state)
	case reportCmd:
		d.report(c.status, c.items)
	case closeCmd:
		d.closeConversation(c.t, c.conv)
	case transferCmd:
		d.transfer(c.t, c.conv, c.skill)
	case signOutCmd:
		d.log.Info("signed out")
		d.signedOut()
		d.loop.End(outbox.SignedOut)
	}
}

func (d *Desk) accept(tab *live.Tab[page], ringID string) {
	ring, ok := d.inbox.Ring(ringID)
	if !ok {
		return
	}
	d.loop.Request(func(ctx context.Context) error { return d.up.AcceptRing(ctx, ringID) }, func(err error) {
		if err != nil {
			d.log.Info("accept ring", "ring_id", ringID, "error", err)
			d.broadcast("", Change{Announce: "The conversation could not be accepted: another agent may have taken it."})
			return
		}
		if d.loop.Has(tab) {
			// The tab shows the conversation as soon as it is ours
			// (now, or when its metadata arrives).
			tab.Page.selected = ring.ConversationID
			d.sendDesk(tab)
		}
	})
}

// decline rejects a ring; the routing change that follows takes it off
// the list (a ring that cannot be declined any more is gone anyway).
func (d *Desk) decline(ringID string) {
	if _, ok := d.inbox.Ring(ringID); !ok {
		return
	}
	d.loop.Request(func(ctx context.Context) error { return d.up.RejectRing(ctx, ringID) }, func(err error) {
		if err != nil {
			d.log.Info("decline ring", "ring_id", ringID, "error", err)
			return
		}
		if d.inbox.DropRing(ringID) {
			d.broadcast("", Change{Rings: true})
		}
	})
}

// dropClosed takes closed conversations no tab shows off the list.
func (d *Desk) dropClosed() {
	shown := map[string]bool{}
	for tab := range d.loop.Tabs() {
		shown[tab.Page.selected] = true
	}
	if dropped := d.inbox.DropClosed(shown); len(dropped) > 0 {
		for _, id := range dropped {
			delete(d.composed, id)
		}
		d.broadcast("", Change{List: true})
	}
}

// MaxText bounds an agent's message (the service refuses more than 8 KiB).
const MaxText = 8000

// target is the open conversation a tab acts on.
func (d *Desk) target(tab *live.Tab[page], conv string) (*Thread, bool) {
	if conv == "" {
		conv = tab.Page.selected
	}
	t, ok := d.inbox.Thread(conv)
	if !ok || t.Closed {
		return nil, false
	}
	return t, true
}

func (d *Desk) send(tab *live.Tab[page], conv, text string) {
	// What goes out is what the agent's bubble shows, without direction
	// controls (relay.Conversation.Sending says why for the customer's).
	text = strings.TrimSpace(bidi.Strip(text))
	if text == "" {
		return
	}
	t, ok := d.target(tab, conv)
	if !ok {
		return
	}
	if len(text) > MaxText {
		d.broadcast(t.ID, Change{Announce: "Your message is too long."})
		return
	}
	d.nextLocal++
	d.sendText(t, fmt.Sprint(d.nextLocal), text)
	delete(d.composed, t.ID)
}

// retry publishes again the agent's text localID, whose publish failed,
// while its conversation is open (a file is sent again from the composer).
func (d *Desk) retry(tab *live.Tab[page], conv, localID string) {
	t, ok := d.target(tab, conv)
	if !ok {
		return
	}
	m, ok := t.Local(localID)
	if !ok || m.Delivery != VFailed || m.Attachment {
		return
	}
	d.sendText(t, localID, m.Text)
}

// sendText shows the agent's text as local message localID (new, or a
// retry) and publishes it.
func (d *Desk) sendText(t *Thread, localID, text string) {
	d.inbox.Touch(t.ID)
	d.broadcast(t.ID, Change{List: true, Thread: t.Sending(localID, text, d.cfg.Now())})
	d.publish(t.ID, localID, "text", protocol.Event{Type: protocol.EventContent, ContentType: "text/plain", Message: text})
}

// publish publishes the agent's local message as ev (what names it in
// logs) to conversation id; its outcome moves the message to sent or
// failed.
func (d *Desk) publish(id, localID, what string, ev protocol.Event) {
	live.Call(d.loop, func(ctx context.Context) (int64, error) {
		return d.up.Publish(ctx, id, ev)
	}, func(seq int64, err error) {
		t, ok := d.inbox.Thread(id)
		if !ok {
			return
		}
		if err != nil {
			d.log.Info("publish "+what+" failed", "conversation_id", id, "error", err)
			d.broadcast(id, Change{Thread: t.Failed(localID)})
			return
		}
		d.broadcast(id, Change{Thread: t.Sent(localID, id, seq, d.cfg.Now())})
	})
}

func (d *Desk) typingState(tab *live.Tab[page], state string) {
	switch state {
	case protocol.ChatComposing, protocol.ChatPause, protocol.ChatActive, protocol.ChatInactive:
	default:
		return
	}
	t, ok := d.target(tab, "")
	if !ok {
		return
	}
	now := d.cfg.Now()
	if state == protocol.ChatComposing {
		if now.Sub(d.composed[t.ID]) < 2*time.Second {
			return // throttled: the page repeats it every few seconds anyway
		}
		d.composed[t.ID] = now
	} else {
		delete(d.composed, t.ID)
	}
	id := t.ID
	d.loop.Ops.Push(func(ctx context.Context) func() {
		_, err := d.up.Publish(ctx, id, protocol.Event{Type: protocol.EventChatState, ChatState: state})
		return func() {
			if err != nil {
				d.log.Debug("publish chat state", "state", state, "error", err)
			}
		}
	})
}

func (d *Desk) closeConversation(tab *live.Tab[page], conv string) {
	t, ok := d.target(tab, conv)
	if !ok {
		return
	}
	id := t.ID
	d.loop.Request(func(ctx context.Context) error { return d.up.CloseConversation(ctx, id) }, func(err error) {
		if err != nil {
			d.log.Warn("close conversation", "conversation_id", id, "error", err)
			d.broadcast(id, Change{Announce: "The conversation could not be closed. Please try again."})
		}
	})
}

// report checks every item against the agent's conversations (only the
// consumer's messages are acknowledged) and hands it to the tracker.
func (d *Desk) report(status string, items []receipts.Item) {
	if d.tracker == nil {
		return
	}
	var refused int
	var first error
	defer func() {
		if refused > 0 {
			d.logRefused("report refused", "status", status, "refused", refused, "items", len(items), "error", first)
		}
	}()
	refuse := func(err error) {
		if refused++; first == nil {
			first = err
		}
	}
	for _, it := range items {
		t, ok := d.inbox.ThreadOf(it.DialogID)
		if !ok {
			refuse(fmt.Errorf("report %s: %w", it.DialogID, receipts.ErrUnknownDialog))
			continue
		}
		if from, known := t.Kind(it.DialogID, it.Seq); known && from != FromConsumer {
			refuse(fmt.Errorf("report %s %d: not the consumer's message", it.DialogID, it.Seq))
			continue
		}
		var err error
		switch status {
		case "delivered":
			err = d.tracker.Delivered(it.DialogID, it.Seq)
		case "seen":
			err = d.tracker.Seen(it.DialogID, it.Seq)
		default:
			err = fmt.Errorf("unknown report %q", status)
		}
		if err != nil {
			refuse(err)
			continue
		}
		if status == "seen" {
			if ch := t.MarkRead(it.DialogID, it.Seq); !ch.Empty() {
				d.broadcast(t.ID, Change{List: true, Thread: ch})
			}
		}
	}
	d.loop.ArmFlush()
}

// logRefused logs something a tab sent that was refused: one line per
// frame, and no more than refusals allows; the next line written says how
// many were not.
func (d *Desk) logRefused(msg string, args ...any) {
	if d.refusals == nil {
		d.refusals = ratelog.New(10*time.Second, 5)
	}
	if ok, skipped := d.refusals.Allow(); ok {
		d.log.Info(msg, append(args, "not_logged_before", skipped)...)
	}
}
